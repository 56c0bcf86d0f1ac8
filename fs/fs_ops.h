/*
 * fs_ops — the low-level FUSE callbacks of the tree's files (fs_ops.c)
 * and the helpers the directory callbacks (fs_ll.c) share with them;
 * internal to fs/.
 */
#ifndef SANDBOXFS_FS_OPS_H
#define SANDBOXFS_FS_OPS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "fs/fs.h"

struct cred;
/* The credentials of the process behind `req`: its uid, gid and
 * supplementary groups.  Refused (EACCES), never taken for root, when they
 * cannot be read. */
int fs_caller(fuse_req_t req, struct cred *out, struct err **e);
/* Turn an error into -errno, recording its message, which starts with the
 * file's path below the sandbox ("cpus/target: ..."), where the user
 * looks: the sandbox's `error` and the log. */
int fs_fail(struct fs_ctx *c, struct err *e);
/* Was the sandbox removed (rmdir) since the kernel looked it up? */
bool fs_sandbox_gone(struct vm_sandbox *sb);

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		struct fuse_pollhandle *ph);

#endif
