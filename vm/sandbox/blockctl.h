/*
 * vm_blockctl — live controls of a sandbox's disks: `devices/<id>/size`
 * (QMP block_resize) and `devices/<id>/throttle` (block_set_io_throttle,
 * kept with the device, persisted and applied again at every start).
 * A disk is a device vm_device_is_block() says is one.
 */
#ifndef SANDBOXFS_VM_BLOCKCTL_H
#define SANDBOXFS_VM_BLOCKCTL_H

#include "lib/err.h"
#include "lib/util.h"

struct cred;
struct vm_sandbox;

/* The disk's size in bytes, from its image (a raw file's length, a qcow2
 * header's virtual size); empty for a device that is no disk.  ENODEV:
 * the device is gone. */
int vm_blockctl_size_show(struct vm_sandbox *sb, const char *id, struct sbuf *out,
			  struct err **e);
/* "BYTES" or "BYTES shrink": block_resize while running.  EINVAL not a
 * size, not a multiple of 512, smaller than now without "shrink";
 * EOPNOTSUPP no disk or a read-only one; EBUSY not running; QMP errors. */
int vm_blockctl_size_store(struct vm_sandbox *sb, const char *id, const char *value,
			   const struct cred *who, struct err **e);
/* The limits as "key value" lines; empty for a device that is no disk. */
int vm_blockctl_throttle_show(struct vm_sandbox *sb, const char *id, struct sbuf *out,
			      struct err **e);
/* Lines of vm/model/throttle.h's grammar, merged into the disk's limits:
 * recorded, and applied at once while running.  EINVAL naming the key, EOPNOTSUPP no
 * disk, QMP errors (nothing recorded then). */
int vm_blockctl_throttle_store(struct vm_sandbox *sb, const char *id, const char *value,
			       const struct cred *who, struct err **e);
/* Apply every disk's recorded limits to the running QEMU (after start or
 * a restore); failures are logged and go to `error`.  Caller holds op_lock. */
void vm_blockctl_apply_all(struct vm_sandbox *sb);

#endif
