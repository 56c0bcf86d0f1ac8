/*
 * fs — the FUSE layer: the file tree, sysfs-style.
 *
 * Every directory is one static table of nodes {name, mode, show, store}
 * (plus, for sandboxes, devices and bridges, a lister/lookup for dynamic
 * children); the same table drives getattr, readdir and open.  A read
 * renders the whole content at open and serves offsets from that snapshot.
 * A write() is one complete command, applied synchronously; its verdict is
 * the write()'s return value, and a failure's message goes to the sandbox's
 * `error` file and the log.  Only this layer turns errors into -errno.
 */
#ifndef SANDBOXFS_FS_H
#define SANDBOXFS_FS_H

#include <stdbool.h>
#include <sys/stat.h>

#include "lib/err.h"
#include "lib/util.h"

struct vm_sandbox;

/* What a path resolved to: the sandbox (a reference) and a child name. */
struct fs_ctx {
	struct vm_sandbox *sb;
	char name[80]; /* device id or bridge id */
};

typedef int (*fs_show_fn)(struct fs_ctx *c, struct sbuf *out, struct err **e);
/* `value` is the written bytes, NUL-terminated, one trailing newline removed. */
typedef int (*fs_store_fn)(struct fs_ctx *c, const char *value, struct err **e);

struct fs_dir;

enum {
	FS_STREAM = 1, /* content is a growing log read in place (console) */
	FS_EVENTS = 2, /* reads block for new event lines (events) */
	FS_POLL_STATE = 4, /* poll() wakes on state changes only (state) */
};

struct fs_node {
	const char *name;
	mode_t mode;
	fs_show_fn show;
	fs_store_fn store;
	const struct fs_dir *dir;
	unsigned flags;
};

struct fs_dir {
	const struct fs_node *nodes;
	size_t n;
	/* Dynamic children, all shaped like `child`. */
	void (*list)(struct fs_ctx *c, struct strv *out);
	int (*lookup)(struct fs_ctx *c, const char *name);
	const struct fs_node *child;
};

#define FS_DIR(tbl) .nodes = (tbl), .n = ARRAY_SIZE(tbl)
#define FS_RO  (S_IFREG | 0444)
#define FS_RW  (S_IFREG | 0644)
#define FS_WO  (S_IFREG | 0200)
#define FS_DIRMODE (S_IFDIR | 0755)

extern const struct fs_node fs_root;
extern const struct fs_dir fs_sandbox_dir;
extern const struct fs_dir fs_cpus_dir;
extern const struct fs_dir fs_memory_dir;
extern const struct fs_dir fs_devices_dir;
extern const struct fs_dir fs_bridges_dir;

/* Resolve a path; on success *node is set and ctx holds a sandbox ref
 * (release with fs_ctx_release). -ENOENT otherwise. */
int fs_resolve(const char *path, const struct fs_node **node, struct fs_ctx *ctx);
void fs_ctx_release(struct fs_ctx *c);
/* Path of a stream node's backing file (console log). */
const char *fs_stream_path(struct fs_ctx *c);

/* Daemon facts shown at the root. */
struct fs_info {
	const char *version;      /* sandboxfs version */
	const char *qemu_version; /* detected */
	uid_t uid;                /* owner of every file (--owner) */
	gid_t gid;
	bool private_mode;        /* --private: nothing world-readable */
};
const struct fs_info *fs_get_info(void);
void fs_set_info(const struct fs_info *info);

struct fuse_operations;
extern const struct fuse_operations fs_operations;
/* The vm change hook: wakes poll()ers of the sandbox's files. */
void fs_notify_change(struct vm_sandbox *sb);

#define SANDBOXFS_VERSION "0.1.0"

#endif
