/*
 * fs_ll — the FUSE session of the tree (low-level API) and its directory
 * callbacks: lookup and forget over fs_inode.c's numbers, getattr,
 * setattr (chown of a sandbox, truncate), readdir, mkdir, rmdir; the file
 * callbacks are fs_ops.c's.
 *
 * Why the low-level API: every reply says how long the kernel may cache
 * what it returned, per inode.  The tables' names and modes never change
 * and a sandbox's owner changes only by chown, so entries and attributes
 * are cached (fs_inode.c) and invalidated when they change behind the
 * kernel's back (fs_inval.c); the console, whose size grows as the guest
 * writes, never is.  A `cat state` is then open + read + read, as on the
 * simplest libfuse filesystem, instead of a lookup and a getattr per path
 * component first.  And a reply may come from any thread, later: the loop
 * is one thread that never waits (what may wait is a job, fs_work.h), and
 * a read that has to wait for events is parked as a request, holding no
 * thread at all.
 */
#include "fs/fs_ops.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fs/fs_handle.h"
#include "fs/fs_inode.h"
#include "fs/fs_inval.h"
#include "fs/fs_work.h"
#include "lib/cred.h"
#include "vm/sandbox/registry.h"
#include "vm/sandbox/sandbox.h"

static struct fuse_session *session;
static void (*daemon_init)(void);

static void reply_entry(fuse_req_t req, struct fs_inode *in)
{
	struct fuse_entry_param e = {.ino = in->ino};
	fs_inode_stat(in, &e.attr);
	e.attr_timeout = fs_inode_attr_timeout(in);
	e.entry_timeout = fs_inode_entry_timeout(in);
	if (fuse_reply_entry(req, &e) == -ENOENT) /* the caller went away */
		fs_inode_forget(in->ino, 1);
}

/* The inode of a request, unless its sandbox was removed meanwhile. */
static struct fs_inode *live(fuse_ino_t ino, int *err)
{
	struct fs_inode *in = fs_inode_get(ino);
	*err = !in ? ESTALE : fs_sandbox_gone(in->sb) ? ENOENT : 0;
	return *err ? NULL : in;
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err;
	struct fs_inode *p = live(parent, &err), *in;
	if (!p)
		return (void)fuse_reply_err(req, err);
	int r = fs_inode_lookup(p, name, &in);
	if (r < 0) /* not cached: a name that appears is seen at once */
		return (void)fuse_reply_err(req, -r);
	reply_entry(req, in);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_inode_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		fs_inode_forget(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void reply_attr(fuse_req_t req, struct fs_inode *in)
{
	struct stat st;
	fs_inode_stat(in, &st);
	fuse_reply_attr(req, &st, fs_inode_attr_timeout(in));
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err;
	struct fs_inode *in = live(ino, &err);
	if (!in)
		return (void)fuse_reply_err(req, err);
	reply_attr(req, in);
}

static void inval_attr(const struct fs_inode *in) { fs_inval_attr(in->ino); }

/* chown of a sandbox directory delegates it (cgroup v2 style): root only.
 * Every file in it takes the new owner: their cached attributes go. */
static int do_chown(fuse_req_t req, struct fs_inode *in, uid_t uid, gid_t gid)
{
	if (in->parent != FS_ROOT_INO || !in->sb)
		return -EPERM; /* only a sandbox directory changes hands */
	cleanup_err struct err *e = NULL;
	struct cred who;
	int r = fs_caller(req, &who, &e);
	if (r == 0 && !cred_is_root(&who))
		r = err_set(&e, EPERM, "only root may hand a sandbox to another owner");
	if (r == 0)
		r = vm_registry_chown(in->comp, uid, gid, &e);
	if (r < 0) {
		err_wrap(&e, "chown %s", in->comp);
		return fs_fail(NULL, e);
	}
	fs_inode_each(in->sb, inval_attr);
	fs_inval_flush();
	return 0;
}

static void setattr_now(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set)
{
	int r;
	struct fs_inode *in = live(ino, &r);
	if (!in)
		return (void)fuse_reply_err(req, r);
	if (to_set & FUSE_SET_ATTR_MODE)
		return (void)fuse_reply_err(req, EPERM);
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		r = do_chown(req, in, to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1,
			     to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1);
		if (r < 0)
			return (void)fuse_reply_err(req, -r);
	}
	/* `echo x > file` may truncate: fine for writable files. */
	if (to_set & FUSE_SET_ATTR_SIZE) {
		const struct fs_node *n = in->node;
		if (S_ISDIR(n->mode) || !(n->store || n->sb_store))
			return (void)fuse_reply_err(req, S_ISDIR(n->mode) ? EISDIR : EACCES);
	}
	reply_attr(req, in); /* `touch` of a control file is harmless */
}

static void job_setattr(struct fs_job *j) { setattr_now(j->req, j->ino, &j->attr, j->to_set); }

/* A chown is saved in the state file: on a worker (fs_work.h). */
static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	if (!(to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		return setattr_now(req, ino, attr, to_set);
	struct fs_job *j = fs_job_new(req, job_setattr);
	j->ino = ino;
	j->attr = *attr;
	j->to_set = to_set;
	fs_work_submit(NULL, j);
}

/* ---- directories: the listing is rendered whole at opendir ---- */

struct fs_dirbuf {
	char *p;
	size_t len;
};

static void dir_add(fuse_req_t req, struct fs_dirbuf *b, const char *name, mode_t mode)
{
	struct stat st = {.st_ino = 0xffffffff, .st_mode = mode};
	size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	b->p = xrealloc(b->p, b->len + need);
	fuse_add_direntry(req, b->p + b->len, need, name, &st, (off_t)(b->len + need));
	b->len += need;
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err;
	struct fs_inode *in = live(ino, &err);
	if (!in)
		return (void)fuse_reply_err(req, err);
	const struct fs_dir *d = in->node->dir;
	if (!d)
		return (void)fuse_reply_err(req, ENOTDIR);
	struct fs_dirbuf *b = xcalloc(1, sizeof(*b));
	dir_add(req, b, ".", S_IFDIR);
	dir_add(req, b, "..", S_IFDIR);
	for (size_t i = 0; i < d->n; i++)
		dir_add(req, b, d->nodes[i].name, d->nodes[i].mode);
	if (d->list) {
		struct fs_ctx c;
		fs_inode_ctx(in, &c);
		cleanup_strv struct strv names = {0};
		d->list(&c, &names);
		fs_ctx_release(&c);
		for (size_t i = 0; i < names.n; i++)
			dir_add(req, b, names.v[i], d->child->mode);
	}
	fi->fh = (uint64_t)(uintptr_t)b;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		free(b->p);
		free(b);
	}
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs_dirbuf *b = (struct fs_dirbuf *)(uintptr_t)fi->fh;
	if (off < 0 || (size_t)off >= b->len)
		return (void)fuse_reply_buf(req, NULL, 0);
	size_t n = b->len - (size_t)off; /* a last entry cut short is read again */
	fuse_reply_buf(req, b->p + off, n < size ? n : size);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dirbuf *b = (struct fs_dirbuf *)(uintptr_t)fi->fh;
	free(b->p);
	free(b);
	fuse_reply_err(req, 0);
}

/* ---- mkdir, rmdir: sandboxes, at the top only ---- */

static void job_mkdir(struct fs_job *j)
{
	fuse_req_t req = j->req;
	const char *name = j->data;
	cleanup_err struct err *e = NULL;
	struct cred who;
	int r = fs_caller(req, &who, &e);
	if (r == 0)
		r = vm_registry_create(name, &who, &e);
	if (r < 0) {
		err_wrap(&e, "mkdir %s", name);
		return (void)fuse_reply_err(req, -fs_fail(NULL, e));
	}
	struct fs_inode *in;
	r = fs_inode_lookup(fs_inode_root(), name, &in);
	if (r < 0) /* removed again already */
		return (void)fuse_reply_err(req, -r);
	reply_entry(req, in);
}

static void job_rmdir(struct fs_job *j)
{
	fuse_req_t req = j->req;
	const char *name = j->data;
	cleanup_err struct err *e = NULL;
	cleanup_sandbox struct vm_sandbox *sb = vm_registry_get(name);
	if (!sb)
		return (void)fuse_reply_err(req, ENOENT);
	if (vm_registry_destroy(name, &e) < 0) {
		struct fs_ctx c = {.sb = sb, .rel = "rmdir"};
		return (void)fuse_reply_err(req, -fs_fail(&c, e));
	}
	fs_events_removed(sb);
	fuse_reply_err(req, 0);
}

/* mkdir and rmdir make and remove a state directory: on a worker. */
static void dir_job(fuse_req_t req, fuse_ino_t parent, const char *name,
		    void (*fn)(struct fs_job *))
{
	if (parent != FS_ROOT_INO)
		return (void)fuse_reply_err(req, EPERM);
	struct fs_job *j = fs_job_new(req, fn);
	j->data = xstrdup(name);
	if (j->t_recv)
		snprintf(j->op, sizeof(j->op), "%s", fn == job_mkdir ? "mkdir" : "rmdir");
	fs_work_submit(NULL, j);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	dir_job(req, parent, name, job_mkdir);
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	dir_job(req, parent, name, job_rmdir);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	fuse_reply_err(req, EACCES); /* the tree is fixed: no new files */
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EPERM);
}

static void ll_init(void *userdata, struct fuse_conn_info *conn)
{
	/* `echo v > f` opens with O_TRUNC: take it with the open, saving the
	 * separate truncate round trip on every control write. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	fs_inval_start(session);
	if (daemon_init)
		daemon_init();
}

static const struct fuse_lowlevel_ops ll_ops = {
	.init = ll_init,
	.lookup = ll_lookup,
	.forget = ll_forget,
	.forget_multi = ll_forget_multi,
	.getattr = ll_getattr,
	.setattr = ll_setattr,
	.mkdir = ll_mkdir,
	.rmdir = ll_rmdir,
	.unlink = ll_unlink,
	.rename = ll_rename,
	.create = ll_create,
	.open = fs_op_open,
	.read = fs_op_read,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.release = fs_op_release,
	.poll = fs_op_poll,
	.opendir = ll_opendir,
	.readdir = ll_readdir,
	.releasedir = ll_releasedir,
};

struct fuse_session *fs_session_new(struct fuse_args *args, void (*init)(void))
{
	daemon_init = init;
	session = fuse_session_new(args, &ll_ops, sizeof(ll_ops), NULL);
	return session;
}

void fs_session_end(void)
{
	fs_events_shutdown();
	fs_work_stop();
	fs_inval_stop();
}
