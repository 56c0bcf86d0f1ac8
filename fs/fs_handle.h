/*
 * fs_handle — an open file of the tree, internal to fs/: what fs_ops.c's
 * callbacks keep per open, and the change notification fs_notify.c serves
 * from it (poll(), the events stream, parked reads).
 */
#ifndef SANDBOXFS_FS_HANDLE_H
#define SANDBOXFS_FS_HANDLE_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
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
	fuse_req_t ev_req;   /* FS_EVENTS: a read parked until lines come */
	size_t ev_size;      /* ... and how much it may take */
	struct sbuf pending; /* FS_JSON: a value begun by earlier writes */
	size_t served;       /* FS_SESSION: bytes of `data` (the replies) read */
};

/* What the handle's snapshot reflects: the state counter (`state`), the
 * events cursor (`events`), or the sandbox's generation. */
uint64_t fs_handle_gen(struct fs_handle *h);
/* Forget a pending poll() of the handle, and answer its parked read (at
 * release). */
void fs_pollers_drop(struct fs_handle *h);
/* The poll request: revents now, or a handle parked for a change. */
void fs_handle_poll(fuse_req_t req, struct fs_handle *h, struct fuse_pollhandle *ph);
/* events: whole lines past the handle's cursor, answered at once when
 * there are any; otherwise the request is parked (no thread waits) until
 * lines come, the sandbox is removed or the daemon exits (end of file), or
 * the reader is interrupted (EINTR). */
void fs_events_read(fuse_req_t req, struct fs_handle *h, size_t size);
/* A write to an events file: the line number to read on after (returns
 * the bytes taken or -errno). */
int fs_events_seek(struct fs_handle *h, const char *buf, size_t size);
/* Every parked read of sb's events gets end of file (it was removed). */
void fs_events_removed(struct vm_sandbox *sb);
/* Every parked read gets end of file (the daemon exits). */
void fs_events_shutdown(void);

/* FS_SESSION (fs_session.c): may this caller open it so (read-write
 * only; root, or the sandbox's owner with --qmp-access=owner)?  Then each
 * write runs one command and queues its reply; reads hand the replies
 * out in order, whatever the offset, and 0 once all are read. */
int fs_session_open(fuse_req_t req, const struct fs_node *n, struct fs_ctx *c, int accmode,
		    struct err **e);
int fs_session_write(struct fs_handle *h, const char *value, struct err **e);
void fs_session_read(fuse_req_t req, struct fs_handle *h, size_t size);

#endif
