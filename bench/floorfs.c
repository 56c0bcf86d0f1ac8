/*
 * floorfs — the floor the bench measures sandboxfs against: libfuse's own
 * minimal high-level example, /usr/share/doc/libfuse3-dev/examples/hello.c,
 * compiled as it ships (it is #included below, not copied), with two
 * changes made from outside it:
 *
 *   FLOORFS_DIRECT_IO  its init's `kernel_cache = 1` replaced by
 *                      `direct_io = 1`: every read goes to the daemon, as
 *                      sandboxfs's reads do (the fair floor for a direct_io
 *                      file).  Without it: the example as shipped (page-
 *                      cache hits after the first read), reported too.
 *   FLOORFS_WRITE      the file also opens for writing and a write()
 *                      returns its size: the floor of a FUSE
 *                      open + write + close (the control writes' floor).
 *
 * Run as hello is: floorfs --name=NAME --contents=TEXT [fuse options] MNT.
 * Built by `make bench` (build/bench/floorfs-*), never installed.
 */
#define FUSE_USE_VERSION 31
#include <fuse.h>

/* hello.c's main() ends in fuse_main(..., &hello_oper, ...): take the
 * operations there and change them as the header says. */
static int floorfs_main(int argc, char *argv[], const struct fuse_operations *op);
#undef fuse_main
#define fuse_main(argc, argv, op, data) floorfs_main(argc, argv, op)

#include "hello.c"

static void *(*hello_init_fn)(struct fuse_conn_info *, struct fuse_config *);

static void *floorfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	void *r = hello_init_fn(conn, cfg);
#ifdef FLOORFS_DIRECT_IO
	cfg->kernel_cache = 0;
	cfg->direct_io = 1;
#endif
	return r;
}

#ifdef FLOORFS_WRITE
static int floorfs_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path + 1, options.filename) != 0)
		return -ENOENT;
	return 0;
}

static int floorfs_write(const char *path, const char *buf, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	(void)buf, (void)off, (void)fi;
	return strcmp(path + 1, options.filename) ? -ENOENT : (int)size;
}

/* `echo v > f` opens with O_TRUNC. */
static int floorfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)size, (void)fi;
	return strcmp(path + 1, options.filename) ? -ENOENT : 0;
}

static int floorfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int r = hello_getattr(path, st, fi);
	if (r == 0 && S_ISREG(st->st_mode))
		st->st_mode = S_IFREG | 0644;
	return r;
}
#endif

static int floorfs_main(int argc, char *argv[], const struct fuse_operations *op)
{
	static struct fuse_operations ops;
	ops = *op;
	hello_init_fn = op->init;
	ops.init = floorfs_init;
#ifdef FLOORFS_WRITE
	ops.open = floorfs_open;
	ops.write = floorfs_write;
	ops.truncate = floorfs_truncate;
	ops.getattr = floorfs_getattr;
#endif
	return fuse_main_real(argc, argv, &ops, sizeof(ops), NULL);
}
