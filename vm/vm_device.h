/*
 * vm_device — device descriptions (what `devices/add` accepts).
 *
 * One model, two outputs: a parsed device yields the JSON objects that QMP
 * blockdev-add / device_add take, and the same objects render through
 * vm_qopts into -blockdev / -device arguments for cold plug.
 *
 * Grammar of a device spec (one JSON object per write):
 *   {"type":"block", "id":ID, "file":ABS_PATH, "format":"raw"|"qcow2",
 *    "readonly":BOOL}
 *   ID: [A-Za-z][A-Za-z0-9._-]{0,24}   (node name is "drive-" ID)
 * Unknown keys, wrong types, missing required keys → EINVAL naming the key.
 */
#ifndef SANDBOXFS_VM_DEVICE_H
#define SANDBOXFS_VM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct json_object;
struct arch_ops;

#define VM_DEVICE_ID_MAX 25

enum vm_device_state {
	VM_DEV_CONFIGURED, /* on the boot command line (added while not running) */
	VM_DEV_ATTACHED,   /* hot-added and live */
	VM_DEV_REMOVING,   /* device_del sent, DEVICE_DELETED not yet seen */
};

struct vm_device {
	char *id;
	char *type;       /* "block" */
	char *file;
	char *format;
	bool readonly;
	int bridge, slot; /* placement in the topology; -1 when none */
	enum vm_device_state state;
};

int vm_device_parse(const char *json, struct vm_device **out, struct err **e);
/* Parse from an already-parsed object (persisted state). */
int vm_device_from_json(struct json_object *o, struct vm_device **out, struct err **e);
void vm_device_free(struct vm_device *d);
/* The normalized spec with every default filled in (new reference). */
struct json_object *vm_device_spec(const struct vm_device *d);
const char *vm_device_state_name(enum vm_device_state s);
/* Backend node name ("drive-<id>") into buf; returns buf. */
const char *vm_device_node_name(const struct vm_device *d, char *buf, size_t len);

/* blockdev-add arguments (new reference), NULL if the type has no backend. */
struct json_object *vm_device_backend(const struct vm_device *d);
/* device_add arguments for a device placed on bus `bus` at PCI `addr`. */
struct json_object *vm_device_frontend(const struct vm_device *d, const struct arch_ops *a,
				       const char *bus, int addr);

#endif
