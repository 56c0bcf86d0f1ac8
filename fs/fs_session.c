/*
 * fs_session — files opened as a session rather than a snapshot (the
 * FS_SESSION nodes: <name>/qmp): open read-write, write one command,
 * read its reply.  Each open file is a session of its own: its replies
 * queue in the handle in the order of its writes and reads hand them
 * out, whatever the file offset (a shell's `exec 3<>qmp` moves it with
 * every write), ending with 0 once everything is read.  Who may open one
 * is decided here: root, and the sandbox's owner only when the daemon
 * runs with --qmp-access=owner (raw QMP can read guest memory).
 */
#define FUSE_USE_VERSION 35
#include "fs/fs.h"
#include "fs/fs_handle.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>

#include "vm/sandbox/sandbox.h"

/* A session's replies: appended by its writes (in the sandbox's lane),
 * handed out by its reads (on the FUSE loop); held only to copy. */
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;

int fs_session_open(fuse_req_t req, const struct fs_node *n, struct fs_ctx *c, int accmode,
		    struct err **e)
{
	if (accmode != O_RDWR)
		return err_set(e, EACCES, "%s is a session: open it read-write (exec 3<>%s)", n->name,
			       n->name);
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	if (!fc)
		return err_set(e, EACCES, "the caller's credentials cannot be read");
	if (fc->uid == 0)
		return 0;
	const struct fs_info *info = fs_get_info();
	pthread_mutex_lock(&c->sb->lock);
	uid_t owner = c->sb->owner_uid == VM_OWNER_TREE ? info->uid : c->sb->owner_uid;
	pthread_mutex_unlock(&c->sb->lock);
	if (!info->qmp_owner)
		return err_set(e, EACCES, "%s: raw QMP is root's (the daemon's --qmp-access=owner "
			       "opens it to a sandbox's owner)", n->name);
	if (fc->uid != owner)
		return err_set(e, EACCES, "%s: raw QMP is root's and the sandbox's owner's", n->name);
	return 0;
}

int fs_session_write(struct fs_handle *h, const char *value, struct err **e)
{
	char *reply = NULL;
	int r = h->node->sb_session(h->ctx.sb, value, &reply, e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&session_lock);
	if (h->served == h->data.len) { /* everything read: start afresh */
		sbuf_release(&h->data);
		h->served = 0;
	}
	sbuf_add(&h->data, reply);
	pthread_mutex_unlock(&session_lock);
	free(reply);
	return 0;
}

void fs_session_read(fuse_req_t req, struct fs_handle *h, size_t size)
{
	pthread_mutex_lock(&session_lock);
	size_t n = h->data.len - h->served;
	if (n > size)
		n = size;
	cleanup_free char *buf = xmalloc(n + 1);
	if (n)
		memcpy(buf, h->data.s + h->served, n);
	h->served += n;
	pthread_mutex_unlock(&session_lock);
	fuse_reply_buf(req, buf, n);
}
