/*
 * fs_ops — the libfuse3 high-level callbacks, all driven by the directory
 * tables of fs_tree.c and friends.
 *
 * open() renders a node's content into a per-handle snapshot (direct_io, so
 * sizes need not be exact); read() serves offsets from it.  Each write() is
 * handed whole to the node's store function; its errno is the reply.
 * The console is the one stream: read in place from its log file, with its
 * real size, so `tail -f` follows it.
 */
#define FUSE_USE_VERSION 35
#include "fs/fs.h"
#include "fs/fs_handle.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/cred.h"
#include "lib/log.h"
#include "vm/sandbox/registry.h"
#include "vm/sandbox/sandbox.h"

#define FS_WRITE_MAX (64 * 1024)
#define FS_NOMINAL_SIZE 4096

static int fs_fail(struct fs_ctx *c, struct err *e);


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

/* The credentials of the process behind this request: its uid, gid and
 * supplementary groups.  Refused (EACCES), never taken for root, when they
 * cannot be read. */
static int fs_caller(struct cred *out, struct err **e)
{
	struct fuse_context *fc = fuse_get_context();
	if (!fc || !fc->fuse)
		return err_set(e, EACCES, "the caller's credentials cannot be read");
	*out = (struct cred){.uid = fc->uid, .gid = fc->gid};
	int n = fuse_getgroups(CRED_GROUPS_MAX, out->groups);
	if (n < 0 && out->uid != 0)
		return err_set(e, EACCES, "the groups of uid %u cannot be read (%s)", (unsigned)fc->uid,
			       strerror(-n));
	/* More groups than fit: the caller acts with fewer rights, never more. */
	out->ngroups = n < 0 ? 0 : n > CRED_GROUPS_MAX ? CRED_GROUPS_MAX : n;
	return 0;
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

static time_t fs_mount_time;

/* Turn an error into -errno, recording its message, which starts with the
 * file's path below the sandbox ("cpus/target: ..."), where the user
 * looks: the sandbox's `error` and the log. */
static int fs_fail(struct fs_ctx *c, struct err *e)
{
	if (c && c->sb && *c->rel)
		vm_sandbox_set_error(c->sb, "%s: %s", c->rel, e->msg);
	else if (c && c->sb)
		vm_sandbox_set_error(c->sb, "%s", e->msg);
	else
		log_err("%s", e->msg);
	return -e->code;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* `echo v > f` opens with O_TRUNC: take it with the open, saving the
	 * separate truncate round trip on every control write. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->use_ino = 0;
	cfg->hard_remove = 1;
	fs_mount_time = time(NULL);
	return NULL;
}

static void fill_stat(const struct fs_node *n, struct fs_ctx *c, struct stat *st)
{
	const struct fs_info *info = fs_get_info();
	memset(st, 0, sizeof(*st));
	st->st_mode = info->private_mode ? n->mode & ~(mode_t)0007 : n->mode;
	if (n == &fs_root && info->user_sandboxes) /* like /tmp: anyone mkdirs, owners rmdir */
		st->st_mode = S_IFDIR | 01777;
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_uid = info->uid;
	st->st_gid = info->gid;
	if (c && c->sb) { /* a sandbox's files take its owner (chown delegates) */
		pthread_mutex_lock(&c->sb->lock);
		if (c->sb->owner_uid != VM_OWNER_TREE)
			st->st_uid = c->sb->owner_uid;
		if (c->sb->owner_gid != (gid_t)VM_OWNER_TREE)
			st->st_gid = c->sb->owner_gid;
		pthread_mutex_unlock(&c->sb->lock);
	}
	st->st_atime = st->st_mtime = st->st_ctime = fs_mount_time;
	st->st_blksize = 4096;
	if (S_ISREG(n->mode)) {
		st->st_size = FS_NOMINAL_SIZE;
		if (n->flags & FS_STREAM) {
			struct stat real;
			st->st_size = stat(c->sb->console_log, &real) == 0 ? real.st_size : 0;
			if (st->st_size)
				st->st_mtim = real.st_mtim;
		}
	}
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const struct fs_node *n;
	struct fs_ctx c;
	int r = fs_resolve(path, &n, &c);
	if (r < 0)
		return r;
	fill_stat(n, &c, st);
	fs_ctx_release(&c);
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	const struct fs_node *n;
	struct fs_ctx c;
	int r = fs_resolve(path, &n, &c);
	if (r < 0)
		return r;
	if (!n->dir) {
		fs_ctx_release(&c);
		return -ENOTDIR;
	}
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	const struct fs_dir *d = n->dir;
	for (size_t i = 0; i < d->n; i++) {
		struct stat st;
		fill_stat(&d->nodes[i], &c, &st);
		fill(buf, d->nodes[i].name, &st, 0, 0);
	}
	if (d->list) {
		cleanup_strv struct strv names = {0};
		d->list(&c, &names);
		for (size_t i = 0; i < names.n; i++) {
			struct stat st;
			fill_stat(d->child, &c, &st);
			fill(buf, names.v[i], &st, 0, 0);
		}
	}
	fs_ctx_release(&c);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	const struct fs_node *n;
	struct fs_ctx c;
	int r = fs_resolve(path, &n, &c);
	if (r < 0)
		return r;
	int acc = fi->flags & O_ACCMODE;
	bool rd = acc == O_RDONLY || acc == O_RDWR, wr = acc == O_WRONLY || acc == O_RDWR;
	if (S_ISDIR(n->mode))
		r = -EISDIR;
	else if ((wr && !node_writes(n)) || (rd && !node_reads(n) && !(n->flags & (FS_STREAM | FS_EVENTS))))
		r = -EACCES;
	cleanup_err struct err *e = NULL;
	if (r == 0 && (n->flags & FS_SESSION) && fs_session_open(n, &c, acc, &e) < 0)
		r = fs_fail(&c, e);
	if (r < 0) {
		fs_ctx_release(&c);
		return r;
	}
	struct fs_handle *h = xcalloc(1, sizeof(*h));
	h->node = n;
	h->ctx = c;
	h->stream_fd = -1;
	if (rd && (n->flags & FS_STREAM)) {
		h->stream_fd = open(c.sb->console_log, O_RDONLY | O_CLOEXEC);
	} else if (rd && (n->flags & FS_EVENTS)) {
		h->ev_seq = h->gen = fs_handle_gen(h); /* a reader gets new events */
	} else if (rd && !(n->flags & FS_SESSION)) {
		r = render(h);
		if (r < 0) {
			fs_ctx_release(&h->ctx);
			sbuf_release(&h->data);
			free(h);
			return r;
		}
	} else {
		h->gen = fs_handle_gen(h);
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	if (h->node->flags & FS_EVENTS)
		return fs_events_read(h, buf, size);
	if (h->node->flags & FS_SESSION)
		return fs_session_read(h, buf, size);
	if (node_reads(h->node) && off == 0 && h->read_once) {
		int r = render(h); /* sysfs: read from 0 again after poll() */
		if (r < 0)
			return r;
	}
	h->read_once = true;
	if (h->node->flags & FS_STREAM) {
		if (h->stream_fd < 0)
			return 0;
		ssize_t n = pread(h->stream_fd, buf, size, off);
		return n < 0 ? -errno : (int)n;
	}
	if (off < 0 || (size_t)off >= h->data.len)
		return 0;
	size_t n = h->data.len - (size_t)off;
	if (n > size)
		n = size;
	memcpy(buf, h->data.s + off, n);
	return (int)n;
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

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	cleanup_err struct err *e = NULL;
	if (size > FS_WRITE_MAX) {
		err_set(&e, EINVAL, "a write of %zu bytes is larger than %d", size, FS_WRITE_MAX);
		return fs_fail(&h->ctx, e);
	}
	if (memchr(buf, '\0', size)) {
		err_set(&e, EINVAL, "a NUL byte in the written value");
		return fs_fail(&h->ctx, e);
	}
	cleanup_free char *v = NULL;
	if (h->node->flags & FS_JSON) {
		int g = json_gather(h, buf, size, &v, &e);
		if (g <= 0)
			return g < 0 ? fs_fail(&h->ctx, e) : (int)size;
	} else {
		v = xstrndup(buf, size);
		if (size && v[size - 1] == '\n')
			v[size - 1] = '\0';
	}
	struct cred who;
	int r = fs_caller(&who, &e);
	if (r == 0 && (h->node->flags & FS_SESSION))
		r = fs_session_write(h, v, &e);
	else if (r == 0)
		r = node_store(h->node, &h->ctx, v, &who, &e);
	if (r < 0)
		return fs_fail(&h->ctx, e);
	return (int)size;
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

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	return json_abandoned((struct fs_handle *)(uintptr_t)fi->fh);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	json_abandoned(h);
	fs_pollers_drop(h);
	if (h->stream_fd >= 0)
		close(h->stream_fd);
	sbuf_release(&h->data);
	fs_ctx_release(&h->ctx);
	free(h);
	return 0;
}

/* `echo x > file` opens with O_TRUNC: accept truncation of writable files. */
static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	const struct fs_node *n;
	struct fs_ctx c;
	int r = fs_resolve(path, &n, &c);
	if (r < 0)
		return r;
	r = S_ISDIR(n->mode) ? -EISDIR : node_writes(n) ? 0 : -EACCES;
	fs_ctx_release(&c);
	return r;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	const char *name = path + 1;
	if (path[0] != '/' || strchr(name, '/'))
		return -EPERM; /* only sandboxes can be created, at the top */
	cleanup_err struct err *e = NULL;
	struct cred who;
	int r = fs_caller(&who, &e);
	if (r == 0)
		r = vm_registry_create(name, &who, &e);
	if (r < 0)
		err_wrap(&e, "mkdir %s", name);
	return r < 0 ? fs_fail(NULL, e) : 0;
}

static int fs_rmdir(const char *path)
{
	const char *name = path + 1;
	if (path[0] != '/' || strchr(name, '/'))
		return -EPERM;
	cleanup_err struct err *e = NULL;
	cleanup_sandbox struct vm_sandbox *sb = vm_registry_get(name);
	if (!sb)
		return -ENOENT;
	int r = vm_registry_destroy(name, &e);
	if (r < 0) {
		struct fs_ctx c = {.sb = sb, .rel = "rmdir"};
		return fs_fail(&c, e);
	}
	return 0;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return -EACCES; /* the tree is fixed: no new files */
}

static int fs_unlink(const char *path) { return -EPERM; }

static int fs_rename(const char *from, const char *to, unsigned int flags) { return -EPERM; }

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) { return -EPERM; }

/* chown of a sandbox directory delegates it (cgroup v2 style): root only. */
static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	const char *name = path + 1;
	if (path[0] != '/' || !*name || strchr(name, '/'))
		return -EPERM; /* only a sandbox directory changes hands */
	cleanup_err struct err *e = NULL;
	struct cred who;
	int r = fs_caller(&who, &e);
	if (r == 0 && !cred_is_root(&who))
		r = err_set(&e, EPERM, "only root may hand a sandbox to another owner");
	if (r == 0)
		r = vm_registry_chown(name, uid, gid, &e);
	if (r < 0) {
		err_wrap(&e, "chown %s", name);
		return fs_fail(NULL, e);
	}
	return 0;
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	return 0; /* `touch` of a control file is harmless */
}

const struct fuse_operations fs_operations = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.truncate = fs_truncate,
	.poll = fs_handle_poll,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.create = fs_create,
	.unlink = fs_unlink,
	.rename = fs_rename,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.utimens = fs_utimens,
};
