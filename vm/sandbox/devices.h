/*
 * vm_devices — a sandbox's devices: add and remove, cold (recorded, on the
 * next boot's command line) or hot (the QMP sequence of the device's
 * parts, undone in reverse on failure; removal waits for DEVICE_DELETED).
 */
#ifndef SANDBOXFS_VM_DEVICES_H
#define SANDBOXFS_VM_DEVICES_H

#include "lib/err.h"
#include "lib/util.h"

struct cred;
struct vm_sandbox;
struct vm_device;

/* Ids no device may take beyond QEMU's own rules: the names of the
 * devices/ directory's files (a NULL-terminated list that stays valid). */
void vm_devices_reserve(const char *const *ids);
/* Whether `id` is one of those names (a definition's devices obey them too). */
bool vm_devices_reserved(const char *id);
/* One device spec (JSON): EINVAL bad spec, EEXIST id taken, ENOSPC no
 * slot, EOPNOTSUPP cold-plug-only kind while running, QMP failures. */
int vm_devices_add_store(struct vm_sandbox *sb, const char *json, const struct cred *who,
			struct err **e);
/* A device id: ENODEV unknown, ETIMEDOUT the guest did not release it. */
int vm_devices_remove_store(struct vm_sandbox *sb, const char *id, const struct cred *who,
			struct err **e);
/* The device named `id`; caller holds sb->lock. */
struct vm_device *vm_devices_find(struct vm_sandbox *sb, const char *id);
/* Every device id, in order. */
void vm_devices_ids(struct vm_sandbox *sb, struct strv *out);

/* ---- the QMP side, for the sandbox's own modules (devices_qmp.c) ---- */

struct json_object;
struct qmp_client;
struct vm_dev_parts;
struct vm_fdplan;
/* The device's parts placed on bus/addr (NULL, 0: unplaced), descriptors
 * listed in *plan. */
int vm_devices_parts(struct vm_sandbox *sb, const struct vm_device *d, const char *bus, int addr,
		     struct vm_dev_parts *parts, struct vm_fdplan *plan, struct err **e);
/* The QEMU id of its main (placed) function, its add commands (*cmdsp, a
 * JSON array of {"execute","arguments"}) and how many descriptors they
 * name (*nfds, may be NULL). */
int vm_devices_main_id(struct vm_sandbox *sb, const struct vm_device *d, char *buf, size_t len,
		       struct json_object **cmdsp, size_t *nfds, struct err **e);
/* The command undoing one add command, its name and the name of what it
 * removes (both inside the returned object); NULL when none. */
struct json_object *vm_devices_undo_cmd(struct json_object *add, const char **cmd, const char **name);
/* Run it (a device_del waits wait_ms for its DEVICE_DELETED). */
int vm_devices_undo(struct vm_sandbox *sb, struct qmp_client *qmp, struct json_object *add,
		    int wait_ms, struct err **e);

#endif
