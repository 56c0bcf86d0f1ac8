/*
 * fs_handle — an open file of the tree, internal to fs/: what fs_ops.c's
 * callbacks keep per open, and the change notification fs_notify.c serves
 * from it (poll(), the events stream).
 */
#ifndef SANDBOXFS_FS_HANDLE_H
#define SANDBOXFS_FS_HANDLE_H

#define FUSE_USE_VERSION 35
#include <fuse.h>
#include <stdint.h>

#include "fs/fs.h"

struct fs_handle {
	const struct fs_node *node;
	struct fs_ctx ctx;
	struct sbuf data; /* snapshot rendered at open */
	bool read_once;   /* a later read at offset 0 renders anew (sysfs) */
	uint64_t gen;     /* what the snapshot reflects, for poll() */
	int stream_fd;    /* FS_STREAM: the backing file */
	uint64_t ev_seq;  /* FS_EVENTS: next event line to hand out */
	struct fuse_pollhandle *ph; /* a poll() waiting for a change */
	struct sbuf pending; /* FS_JSON: a value begun by earlier writes */
	size_t served;       /* FS_SESSION: bytes of `data` (the replies) read */
};

/* What the handle's snapshot reflects: the state counter (`state`), the
 * events cursor (`events`), or the sandbox's generation. */
uint64_t fs_handle_gen(struct fs_handle *h);
/* Forget a pending poll() of the handle (at release). */
void fs_pollers_drop(struct fs_handle *h);
/* The libfuse poll callback. */
int fs_handle_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph,
		   unsigned *reventsp);
/* events: block until lines past the handle's cursor exist, then hand out
 * whole lines; 0 at the sandbox's removal or the daemon's exit, -EINTR on
 * an interrupt. */
int fs_events_read(struct fs_handle *h, char *buf, size_t size);

/* FS_SESSION (fs_session.c): may this caller open it so (read-write
 * only; root, or the sandbox's owner with --qmp-access=owner)?  Then each
 * write runs one command and queues its reply; reads hand the replies
 * out in order, whatever the offset, and 0 once all are read. */
int fs_session_open(const struct fs_node *n, struct fs_ctx *c, int accmode, struct err **e);
int fs_session_write(struct fs_handle *h, const char *value, struct err **e);
int fs_session_read(struct fs_handle *h, char *buf, size_t size);

#endif
