/*
 * vm_device — device descriptions (what `devices/add` accepts).
 *
 * One model, two outputs: a parsed device expands into "parts" — the JSON
 * objects that QMP object-add / chardev-add / netdev_add / blockdev-add /
 * device_add take — and the same parts render through qmp_keyval into the
 * -object / -chardev / -netdev / -fsdev / -blockdev / -device arguments of
 * the boot command line.  The spec grammar, per "type", is written at the
 * top of vm_device.c.
 *
 * File descriptors: a spec never carries an fd number (a user writing
 * through a FUSE file cannot hand the daemon a descriptor).  A device that
 * wants QEMU to get descriptors by inheritance (govmm's appendFDs) says
 * "pass_fds": true; the daemon then opens them itself (a tap by ifname, a
 * macvtap's /dev/tapN, /dev/vhost-net, /dev/vhost-vsock) and the argv
 * references them by number — see struct vm_fdplan.
 */
#ifndef SANDBOXFS_VM_DEVICE_H
#define SANDBOXFS_VM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/cred.h"
#include "lib/err.h"

struct json_object;
struct vm_config;
struct vm_dev_env;
struct vm_dev_parts;
struct vm_throttle;

#define VM_DEVICE_ID_MAX 25

enum vm_device_state {
	VM_DEV_CONFIGURED, /* on the boot command line (added while not running) */
	VM_DEV_ATTACHED,   /* hot-added and live */
	VM_DEV_REMOVING,   /* device_del sent, DEVICE_DELETED not yet seen */
	VM_DEV_ADDING,     /* hot-add begun (written ahead), not yet confirmed */
	VM_DEV_LOST,       /* the tree has it, the running QEMU no longer does */
	VM_DEV_STATE_COUNT
};
/* The state named `name`; -1 when there is none. */
int vm_device_state_parse(const char *name);

enum vm_dev_kind {
	VM_DEVK_BLOCK,
	VM_DEVK_IMAGE,
	VM_DEVK_CONSOLE,
	VM_DEVK_SERIAL,
	VM_DEVK_9P,
	VM_DEVK_VIRTIOFS,
	VM_DEVK_VHOST_USER_NET,
	VM_DEVK_VHOST_USER_SCSI,
	VM_DEVK_VHOST_USER_BLK,
	VM_DEVK_VSOCK,
	VM_DEVK_NET,
	VM_DEVK_VFIO,
	VM_DEVK_RNG,
	VM_DEVK_IOMMU,
	VM_DEVK_BALLOON,
};

struct vm_device {
	char *id;
	char *type;       /* the spec's "type" */
	char *file;       /* host file/dir the device reads (checked readable), or NULL */
	char *format;     /* block: "raw" | "qcow2"; else NULL */
	bool readonly;
	int bridge, slot; /* placement in the topology; -1 when none */
	enum vm_device_state state;
	enum vm_dev_kind kind;
	struct json_object *spec; /* normalized spec, every default filled in */
	/* Whose rights the host paths of the spec are opened with: the writer
	 * who added it (persisted, used again at every start). */
	struct cred owner;
	/* The fdsets a running QEMU holds for it (QMP add-fd at hot-add),
	 * removed with it. */
	int64_t fdsets[16];
	size_t nfdsets;
	/* Its I/O limits (devices/<id>/throttle, vm/model/throttle.h), or
	 * NULL: none.  Persisted, applied at every start. */
	struct vm_throttle *throttle;
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

/* Whether the device can be added and removed while running: every part
 * has a QMP form (descriptors go with getfd).  False for a root image, the
 * vIOMMU and 9p (-fsdev). */
bool vm_device_hotpluggable(const struct vm_device *d);
/* Whether the device has a PCI function that takes a bridge slot. */
bool vm_device_is_pci(const struct vm_device *d);
/* Whether it is a disk QEMU serves from a block node (drive-<id>): a
 * `block`, or an `image` as virtio-blk — what has block counters, a size
 * and I/O limits. */
bool vm_device_is_block(const struct vm_device *d);
/* EINVAL when `d` may exist once per sandbox (a balloon) and one of
 * `devs` (d itself aside) is of its kind already. */
int vm_device_check_single(const struct vm_device *d, struct vm_device *const *devs, size_t n,
			   struct err **e);
/* String / int / bool member of the normalized spec ("" / 0 / false). */
const char *vm_device_str(const struct vm_device *d, const char *key);
long long vm_device_int(const struct vm_device *d, const char *key);
bool vm_device_bool(const struct vm_device *d, const char *key);
/* Rules that need the config (iothread exists, vIOMMU machine, ...). */
int vm_device_check_config(const struct vm_device *d, const struct vm_config *cfg,
			   struct err **e);

/* Expand the device into its parts for the environment `env` (its bus
 * slot, the arch); descriptors it needs are numbered into env->fds. */
int vm_device_parts(const struct vm_device *d, const struct vm_dev_env *env,
		    struct vm_dev_parts *out, struct err **e);

#endif
