/*
 * vm_access — who may make a sandbox use which host path.  Every path a
 * write names is checked with the writer's credentials (lib/cred): the
 * config's kernel, initrd, bios and pflash, a device's files and sockets,
 * its tap; the QEMU binary is the operator's choice (a non-root writer may
 * only pick a root-owned binary under the daemon's --qemu-dir).  At start
 * the same paths are opened again with the same, persisted credentials
 * (vm/qemu/fds) and QEMU gets those descriptors.
 */
#ifndef SANDBOXFS_VM_ACCESS_H
#define SANDBOXFS_VM_ACCESS_H

#include "lib/cred.h"
#include "lib/err.h"

struct vm_config;
struct vm_device;

/* The config's host paths that `next` changes against `cur`, opened as
 * `who` with the mode each needs (kernel, initrd, bios, pflash code:
 * read; pflash vars: read-write); and `qemu` under the operator's rule.
 * EACCES (or the open's errno) naming the path. */
int vm_access_config(const struct vm_config *cur, const struct vm_config *next,
		     const struct cred *who, const char *const *qemu_dirs, struct err **e);
/* Every host path the device names, as its owner (d->owner) would use it
 * in a sandbox of config `cfg` whose console log is `console_log`.  EPERM
 * for what only root may attach (a VFIO device, a tap QEMU opens itself). */
struct vm_fds_ctx;
int vm_access_device(const struct vm_config *cfg, const char *console_log,
		     const struct vm_fds_ctx *ctx, const struct vm_device *d, struct err **e);
/* The config's network namespace opened as `who` (-1 when there is none);
 * EINVAL when the file is not a network namespace. */
int vm_access_netns(const struct vm_config *cfg, const struct cred *who, struct err **e);
/* The QEMU binary rule: root may name any; anyone else a binary under one
 * of the --qemu-dir directories, owned by root and writable by nobody
 * else.  EPERM saying which directories are allowed. */
int vm_access_qemu(const char *path, const struct cred *who, const char *const *qemu_dirs,
		   struct err **e);

#endif
