/*
 * fs_ops — the file operations of the tree (low-level FUSE API: open,
 * read, write, flush, release, poll), driven by the directory tables of
 * fs_tree.c and friends; the directories and the session are fs_ll.c's.
 *
 * open() renders a node's content into a per-handle snapshot (direct_io, so
 * sizes need not be exact); read() serves offsets from it.  Each write() is
 * handed whole to the node's store function; its errno is the reply.
 * The console is the one stream: read in place from its log file, with its
 * real size, so `tail -f` follows it.  Only a file that gathers JSON over
 * several writes asks the kernel for a flush at close (its verdict on an
 * unfinished value); every other open says noflush, saving that round
 * trip on every `cat` and `echo`.
 */
#include "fs/fs_ops.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "fs/fs_handle.h"
#include "fs/fs_inode.h"
#include "fs/fs_inval.h"
#include "fs/fs_work.h"
#include "lib/cred.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "vm/sandbox/sandbox.h"

#define FS_WRITE_MAX (64 * 1024)

static bool node_reads(const struct fs_node *n) { return n->show || n->sb_show || n->sb_session; }
static bool node_writes(const struct fs_node *n) { return n->store || n->sb_store || n->sb_session; }

static int node_show(const struct fs_node *n, struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	return n->sb_show ? n->sb_show(c->sb, out, e) : n->show(c, out, e);
}

static int node_store(const struct fs_node *n, struct fs_ctx *c, const char *v,
		      const struct cred *who, struct err **e)
{
	return n->sb_store ? n->sb_store(c->sb, v, who, e) : n->store(c, v, who, e);
}

int fs_caller(fuse_req_t req, struct cred *out, struct err **e)
{
	const struct fuse_ctx *fc = req ? fuse_req_ctx(req) : NULL;
	if (!fc)
		return err_set(e, EACCES, "the caller's credentials cannot be read");
	*out = (struct cred){.uid = fc->uid, .gid = fc->gid};
	/* Root opens with the daemon's full rights whatever its groups
	 * (lib/cred.h): reading them (/proc/PID/task/PID/status, tens of µs
	 * on every write) would change nothing. */
	if (cred_is_root(out))
		return 0;
	int n = fuse_req_getgroups(req, CRED_GROUPS_MAX, out->groups);
	if (n < 0 && out->uid != 0)
		return err_set(e, EACCES, "the groups of uid %u cannot be read (%s)", (unsigned)fc->uid,
			       strerror(-n));
	/* More groups than fit: the caller acts with fewer rights, never more. */
	out->ngroups = n < 0 ? 0 : n > CRED_GROUPS_MAX ? CRED_GROUPS_MAX : n;
	return 0;
}

int fs_fail(struct fs_ctx *c, struct err *e)
{
	if (c && c->sb) {
		cleanup_free char *msg = *c->rel ? xasprintf("%s: %s", c->rel, e->msg) : xstrdup(e->msg);
		vm_sandbox_write_failed(c->sb, e->code, msg);
	} else {
		log_err("%s", e->msg);
	}
	return -e->code;
}

bool fs_sandbox_gone(struct vm_sandbox *sb)
{
	if (!sb)
		return false;
	pthread_mutex_lock(&sb->lock);
	bool gone = sb->removed;
	pthread_mutex_unlock(&sb->lock);
	return gone;
}

/* Render the node's content into the handle's snapshot. */
static int render(struct fs_handle *h)
{
	cleanup_err struct err *e = NULL;
	sbuf_release(&h->data);
	h->gen = fs_handle_gen(h);
	if (node_show(h->node, &h->ctx, &h->data, &e) < 0)
		return fs_fail(&h->ctx, e);
	return 0;
}

static void handle_free(struct fs_handle *h)
{
	if (h->stream_fd >= 0)
		close(h->stream_fd);
	sbuf_release(&h->data);
	sbuf_release(&h->pending);
	fs_ctx_release(&h->ctx);
	free(h);
}

static struct fs_handle *handle_of(struct fuse_file_info *fi)
{
	return (struct fs_handle *)(uintptr_t)fi->fh;
}

/* Open `in`: a handle, its snapshot rendered. */
static void open_node(fuse_req_t req, struct fs_inode *in, struct fuse_file_info *fi)
{
	const struct fs_node *n = in->node;
	int acc = fi->flags & O_ACCMODE;
	bool rd = acc == O_RDONLY || acc == O_RDWR, wr = acc == O_WRONLY || acc == O_RDWR;
	struct fs_handle *h = xcalloc(1, sizeof(*h));
	h->node = n;
	fs_inode_ctx(in, &h->ctx);
	h->stream_fd = -1;
	int r = fs_sandbox_gone(h->ctx.sb) ? -ENOENT : 0; /* removed since the lookup */
	int64_t t0 = util_now_us();
	cleanup_err struct err *e = NULL;
	if (r == 0 && (n->flags & FS_SESSION) && fs_session_open(req, n, &h->ctx, acc, &e) < 0)
		r = fs_fail(&h->ctx, e);
	if (r < 0)
		;
	else if (rd && (n->flags & FS_STREAM))
		h->stream_fd = open(h->ctx.sb->console_log, O_RDONLY | O_CLOEXEC);
	else if (n->flags & FS_EVENTS)
		h->ev_seq = h->gen = fs_handle_gen(h); /* a reader gets new events */
	else if (rd && !(n->flags & FS_SESSION))
		r = render(h);
	else
		h->gen = fs_handle_gen(h);
	/* The FUSE loop serves every other request meanwhile: a show that
	 * waits for QEMU must say so (FS_SLOW) and run on a worker. */
	int64_t took = util_now_us() - t0;
	if (took > 20000 && !(n->flags & FS_SLOW))
		log_warn("%s: rendering took %lld ms on the FUSE loop (a show that asks QEMU "
			 "must be FS_SLOW)", *in->rel ? in->rel : in->comp, (long long)took / 1000);
	if (r < 0) {
		handle_free(h);
		return (void)fuse_reply_err(req, -r);
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	fi->noflush = !(wr && (n->flags & FS_JSON));
	if (fuse_reply_open(req, fi) == -ENOENT) /* the caller went away */
		handle_free(h);
}

static void job_open(struct fs_job *j)
{
	struct fs_inode *in = fs_inode_get(j->ino);
	if (!in)
		return (void)fuse_reply_err(j->req, ESTALE);
	open_node(j->req, in, &j->fi);
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_inode *in = fs_inode_get(ino);
	if (!in)
		return (void)fuse_reply_err(req, ESTALE);
	const struct fs_node *n = in->node;
	int acc = fi->flags & O_ACCMODE;
	bool rd = acc == O_RDONLY || acc == O_RDWR, wr = acc == O_WRONLY || acc == O_RDWR;
	if (S_ISDIR(n->mode))
		return (void)fuse_reply_err(req, EISDIR);
	if ((wr && !node_writes(n) && !(n->flags & FS_EVENTS)) ||
	    (rd && !node_reads(n) && !(n->flags & (FS_STREAM | FS_EVENTS))))
		return (void)fuse_reply_err(req, EACCES);
	if (!(rd && (n->flags & FS_SLOW)))
		return open_node(req, in, fi);
	struct fs_job *j = fs_job_new(req, job_open);
	j->ino = ino;
	j->fi = *fi;
	fs_work_submit(in->sb, j);
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_handle *h = handle_of(fi);
	if (h->node->flags & FS_EVENTS)
		return fs_events_read(req, h, size);
	if (h->node->flags & FS_SESSION)
		return fs_session_read(req, h, size);
	if (node_reads(h->node) && off == 0 && h->read_once) {
		int r = render(h); /* sysfs: read from 0 again after poll() */
		if (r < 0)
			return (void)fuse_reply_err(req, -r);
	}
	h->read_once = true;
	if (h->node->flags & FS_STREAM) {
		if (h->stream_fd < 0)
			return (void)fuse_reply_buf(req, NULL, 0);
		char *buf = xmalloc(size ? size : 1);
		ssize_t n = pread(h->stream_fd, buf, size, off);
		if (n < 0)
			fuse_reply_err(req, errno);
		else
			fuse_reply_buf(req, buf, (size_t)n);
		free(buf);
		return;
	}
	if (off < 0 || (size_t)off >= h->data.len)
		return (void)fuse_reply_buf(req, NULL, 0);
	size_t n = h->data.len - (size_t)off;
	fuse_reply_buf(req, h->data.s + off, n < size ? n : size);
}

/* FS_JSON: is the buffered text one whole JSON value yet (or already not
 * JSON at all, which the store's strict parse then reports)? */
static bool json_complete(const struct sbuf *b)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		abort();
	json_object_put(json_tokener_parse_ex(tok, b->s, (int)b->len));
	bool done = json_tokener_get_error(tok) != json_tokener_continue;
	json_tokener_free(tok);
	return done;
}

/* A JSON value may come in several writes (bash's builtin echo writes a
 * multi-line value line by line): buffer until it is whole, then the write
 * completing it gets the verdict.  0: buffered (the write succeeds). */
static int json_gather(struct fs_handle *h, const char *buf, size_t size, char **whole,
		       struct err **e)
{
	if (h->pending.len + size > FS_WRITE_MAX) {
		sbuf_release(&h->pending);
		return err_set(e, EINVAL, "a JSON value of more than %d bytes", FS_WRITE_MAX);
	}
	sbuf_addn(&h->pending, buf, size);
	/* Only an object can span writes: blanks alone, or anything but '{'
	 * first, is no object begun, and the store refuses it now. */
	size_t lead = strspn(h->pending.s, " \t\r\n");
	bool object = lead < h->pending.len && h->pending.s[lead] == '{';
	if (object && !json_complete(&h->pending))
		return 0;
	*whole = sbuf_steal(&h->pending);
	return 1;
}

/* What a store gets is text: strict UTF-8, and in JSON no lone surrogate
 * escape (json-c would take either and the state file, `config` and the
 * log would stop being valid JSON or UTF-8). */
static int value_text(const char *v, bool json, struct err **e)
{
	size_t bad;
	if (!utf8_valid(v, strlen(v), &bad))
		return err_set(e, EINVAL, "not valid UTF-8 (byte %zu, 0x%02x)", bad,
			       (unsigned)(unsigned char)v[bad]);
	if (json && utf8_json_lone_surrogate(v, strlen(v), &bad))
		return err_set(e, EINVAL, "a lone UTF-16 surrogate escape at byte %zu ('%.6s'): "
			       "not a character", bad, v + bad);
	return 0;
}

/* One write, one command: 0 or -errno (the message is in `error`). */
static int do_write(fuse_req_t req, struct fs_handle *h, const char *buf, size_t size)
{
	cleanup_err struct err *e = NULL;
	if (size > FS_WRITE_MAX) {
		err_set(&e, EINVAL, "a write of %zu bytes is larger than %d", size, FS_WRITE_MAX);
		return fs_fail(&h->ctx, e);
	}
	if (memchr(buf, '\0', size)) {
		err_set(&e, EINVAL, "a NUL byte in the written value");
		return fs_fail(&h->ctx, e);
	}
	if (h->node->flags & FS_EVENTS) {
		int r = fs_events_seek(h, buf, size);
		return r < 0 ? r : 0;
	}
	cleanup_free char *v = NULL;
	if (h->node->flags & FS_JSON) {
		int g = json_gather(h, buf, size, &v, &e);
		if (g <= 0)
			return g < 0 ? fs_fail(&h->ctx, e) : 0;
	} else {
		v = xstrndup(buf, size);
		if (size && v[size - 1] == '\n')
			v[size - 1] = '\0';
	}
	struct cred who;
	int r = value_text(v, h->node->flags & FS_JSON, &e);
	if (r == 0)
		r = fs_caller(req, &who, &e);
	if (r == 0 && (h->node->flags & FS_SESSION))
		r = fs_session_write(h, v, &e);
	else if (r == 0)
		r = node_store(h->node, &h->ctx, v, &who, &e);
	return r < 0 ? fs_fail(&h->ctx, e) : 0;
}

static void job_write(struct fs_job *j)
{
	int r = do_write(j->req, handle_of(&j->fi), j->data, j->size);
	/* What the write changed is what its caller looks at next: the
	 * kernel's caches hear of it before the write returns. */
	fs_inval_flush();
	if (r < 0)
		fuse_reply_err(j->req, -r);
	else
		fuse_reply_write(j->req, j->size);
}

/* A write is a command: it runs in its sandbox's lane (fs_work.h). */
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct fs_job *j = fs_job_new(req, job_write);
	j->fi = *fi;
	j->data = xmalloc(size + 1);
	memcpy(j->data, buf, size);
	j->data[size] = '\0';
	j->size = size;
	struct fs_handle *h = handle_of(fi);
	bool json = h->node->flags & FS_JSON;
	if (j->t_recv) /* probing: "ctl pause", "cpus/target 3", "devices/add" */
		snprintf(j->op, sizeof(j->op), "%s%s%.*s", h->ctx.rel, json ? "" : " ",
			 json ? 0 : (int)strcspn(j->data, " \n"), j->data);
	fs_work_submit(h->ctx.sb, j);
}

/* A JSON value left incomplete at close: nothing was applied; the error
 * goes to `error`, and close() fails for the programs that look. */
static int json_abandoned(struct fs_handle *h)
{
	if (!h->pending.len)
		return 0;
	cleanup_err struct err *e = NULL;
	err_set(&e, EINVAL, "not a JSON object (incomplete input: %zu bytes, closed before the "
		"value ended); nothing changed", h->pending.len);
	sbuf_release(&h->pending);
	return fs_fail(&h->ctx, e);
}

static void job_flush(struct fs_job *j)
{
	fuse_reply_err(j->req, -json_abandoned(handle_of(&j->fi)));
}

static void job_release(struct fs_job *j)
{
	struct fs_handle *h = handle_of(&j->fi);
	json_abandoned(h);
	fs_pollers_drop(h);
	handle_free(h);
	fuse_reply_err(j->req, 0);
}

/* Only a JSON value left unfinished has work to do at close (its error
 * is recorded and saved): on a worker, as a write's would be. */
static void at_close(fuse_req_t req, struct fuse_file_info *fi, void (*fn)(struct fs_job *))
{
	struct fs_handle *h = handle_of(fi);
	struct fs_job *j = fs_job_new(req, fn);
	j->fi = *fi;
	if (h->pending.len)
		fs_work_submit(h->ctx.sb, j);
	else {
		fn(j);
		free(j);
	}
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	at_close(req, fi, job_flush);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	at_close(req, fi, job_release);
}

void fs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		struct fuse_pollhandle *ph)
{
	fs_handle_poll(req, handle_of(fi), ph);
}
