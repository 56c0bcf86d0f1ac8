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

#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "vm/vm_sandbox.h"

#define FS_WRITE_MAX (64 * 1024)
#define FS_NOMINAL_SIZE 4096

struct fs_handle {
	const struct fs_node *node;
	struct fs_ctx ctx;
	struct sbuf data; /* snapshot rendered at open */
	int stream_fd;    /* FS_STREAM: the backing file */
};

static time_t fs_mount_time;

/* Turn an error into -errno, recording its message where the user looks. */
static int fs_fail(struct fs_ctx *c, struct err *e)
{
	if (c && c->sb)
		vm_sandbox_set_error(c->sb, "%s", e->msg);
	else
		log_err("%s", e->msg);
	return -e->code;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
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
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_uid = info->uid;
	st->st_gid = info->gid;
	st->st_atime = st->st_mtime = st->st_ctime = fs_mount_time;
	st->st_blksize = 4096;
	if (S_ISREG(n->mode)) {
		st->st_size = FS_NOMINAL_SIZE;
		if (n->flags & FS_STREAM) {
			struct stat real;
			st->st_size = stat(fs_stream_path(c), &real) == 0 ? real.st_size : 0;
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
	else if ((wr && !n->store) || (rd && !n->show && !(n->flags & FS_STREAM)))
		r = -EACCES;
	if (r < 0) {
		fs_ctx_release(&c);
		return r;
	}
	struct fs_handle *h = xcalloc(1, sizeof(*h));
	h->node = n;
	h->ctx = c;
	h->stream_fd = -1;
	if (rd && (n->flags & FS_STREAM)) {
		h->stream_fd = open(fs_stream_path(&c), O_RDONLY | O_CLOEXEC);
	} else if (rd) {
		cleanup_err struct err *e = NULL;
		r = n->show(&h->ctx, &h->data, &e);
		if (r < 0) {
			r = fs_fail(&h->ctx, e);
			fs_ctx_release(&h->ctx);
			sbuf_release(&h->data);
			free(h);
			return r;
		}
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->nonseekable = 0;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
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

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	cleanup_err struct err *e = NULL;
	if (size > FS_WRITE_MAX) {
		err_set(&e, EINVAL, "%s: write of %zu bytes is larger than %d", h->node->name, size,
			FS_WRITE_MAX);
		return fs_fail(&h->ctx, e);
	}
	if (memchr(buf, '\0', size)) {
		err_set(&e, EINVAL, "%s: a NUL byte in the written value", h->node->name);
		return fs_fail(&h->ctx, e);
	}
	cleanup_free char *v = xstrndup(buf, size);
	if (size && v[size - 1] == '\n')
		v[size - 1] = '\0';
	int r = h->node->store(&h->ctx, v, &e);
	if (r < 0)
		return fs_fail(&h->ctx, e);
	return (int)size;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
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
	r = S_ISDIR(n->mode) ? -EISDIR : n->store ? 0 : -EACCES;
	fs_ctx_release(&c);
	return r;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	const char *name = path + 1;
	if (path[0] != '/' || strchr(name, '/'))
		return -EPERM; /* only sandboxes can be created, at the top */
	cleanup_err struct err *e = NULL;
	int r = vm_sandbox_create(name, &e);
	return r < 0 ? fs_fail(NULL, e) : 0;
}

static int fs_rmdir(const char *path)
{
	const char *name = path + 1;
	if (path[0] != '/' || strchr(name, '/'))
		return -EPERM;
	cleanup_err struct err *e = NULL;
	cleanup_sandbox struct vm_sandbox *sb = vm_sandbox_get(name);
	if (!sb)
		return -ENOENT;
	int r = vm_sandbox_destroy(name, &e);
	if (r < 0) {
		struct fs_ctx c = {.sb = sb};
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
	.release = fs_release,
	.truncate = fs_truncate,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.create = fs_create,
	.unlink = fs_unlink,
	.rename = fs_rename,
	.chmod = fs_chmod,
	.utimens = fs_utimens,
};
