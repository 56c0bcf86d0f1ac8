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

#endif
