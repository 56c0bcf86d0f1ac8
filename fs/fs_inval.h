/*
 * fs_inval — telling the kernel what changed behind its back (internal to
 * fs/).  The kernel caches names and attributes of the tree
 * (fs_inode_entry_timeout); a name that goes other than by rmdir (a device
 * removed, a bridge gone with a config write) or attributes that change
 * (a sandbox's owner, for every file in it) are invalidated here with
 * fuse_lowlevel_notify_inval_entry / _inode.
 *
 * Invalidations are queued, then sent by one sender at a time: by the
 * FUSE worker of a write, before its reply (so the writer's next stat or
 * lookup sees the change), and by a thread of its own for changes that
 * come from elsewhere (QMP events, QEMU exiting).  Never from mkdir or
 * rmdir: the kernel holds the root's lock while it waits for those, and
 * an invalidation of a name in the root waits for that lock.
 */
#ifndef SANDBOXFS_FS_INVAL_H
#define SANDBOXFS_FS_INVAL_H

#include <stdint.h>

struct fuse_session;

void fs_inval_start(struct fuse_session *se);
void fs_inval_stop(void);
/* Queue: the name `name` below `parent` is gone; the attributes of `ino`
 * changed. */
void fs_inval_entry(uint64_t parent, const char *name);
void fs_inval_attr(uint64_t ino);
/* Send everything queued, on this thread; returns once all of it that was
 * queued before the call has reached the kernel. */
void fs_inval_flush(void);

#endif
