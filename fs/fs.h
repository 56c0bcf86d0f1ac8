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

/* What a path resolved to: the sandbox (a reference), a child name, and
 * the path below the sandbox ("cpus/target") that error messages start
 * with. */
struct fs_ctx {
	struct vm_sandbox *sb;
	char name[80]; /* device id or bridge id */
	char rel[200]; /* the path below the sandbox's directory */
};

typedef int (*fs_show_fn)(struct fs_ctx *c, struct sbuf *out, struct err **e);
/* `value` is the written bytes, NUL-terminated, one trailing newline
 * removed; `who` the writer's credentials. */
struct cred;
typedef int (*fs_store_fn)(struct fs_ctx *c, const char *value, const struct cred *who,
			   struct err **e);
/* The same for a file of a sandbox directory served by the vm layer: the
 * handler gets the sandbox itself. */
typedef int (*fs_sb_show_fn)(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
typedef int (*fs_sb_store_fn)(struct vm_sandbox *sb, const char *value, const struct cred *who,
			      struct err **e);

struct fs_dir;

enum {
	FS_STREAM = 1, /* content is a growing log read in place (console) */
	FS_EVENTS = 2, /* reads block for new event lines (events) */
	FS_POLL_STATE = 4, /* poll() wakes on state changes only (state) */
	FS_JSON = 8,   /* a JSON value may span several writes (config, devices/add) */
	FS_SLOW = 16,  /* its show asks QEMU: the open runs on a worker, not on the
			* FUSE loop, which must never wait (fs/fs_work.h) */
	FS_SESSION = 32, /* opened read-write: each write a command, reads its replies (qmp) */
};

struct fs_node {
	const char *name;
	mode_t mode;
	fs_show_fn show;
	fs_store_fn store;
	const struct fs_dir *dir;
	unsigned flags;
	fs_sb_show_fn sb_show;   /* instead of show/store: vm's own handlers */
	fs_sb_store_fn sb_store;
	/* FS_SESSION: run one written command, *reply what reads then return. */
	int (*sb_session)(struct vm_sandbox *sb, const char *value, char **reply, struct err **e);
	const char *help;        /* one line for the README of the mount */
};

/*
 * sysfs-style attributes (as Linux's __ATTR_RO/__ATTR_RW): the file name
 * and the vm handler prefix fix the handlers, PREFIX##_show and
 * PREFIX##_store, e.g. FS_ATTR_RW(target, vm_cpus_target, "...") serves
 * "target" with vm_cpus_target_show / vm_cpus_target_store.
 */
#define FS_ATTR_RO(fname, prefix, h) \
	{ .name = #fname, .mode = FS_RO, .sb_show = prefix##_show, .help = (h) }
#define FS_ATTR_RW(fname, prefix, h) \
	{ .name = #fname, .mode = FS_RW, .sb_show = prefix##_show, .sb_store = prefix##_store, .help = (h) }
/* ... whose show may wait for QEMU (briefly): opened on a worker */
#define FS_ATTR_RO_SLOW(fname, prefix, h) \
	{ .name = #fname, .mode = FS_RO, .sb_show = prefix##_show, .flags = FS_SLOW, .help = (h) }
#define FS_ATTR_RW_SLOW(fname, prefix, h) \
	{ .name = #fname, .mode = FS_RW, .sb_show = prefix##_show, .sb_store = prefix##_store, \
	  .flags = FS_SLOW, .help = (h) }
#define FS_ATTR_WO(fname, prefix, h) \
	{ .name = #fname, .mode = FS_WO, .sb_store = prefix##_store, .help = (h) }
#define FS_SUBDIR(fname, d, h) { .name = #fname, .mode = FS_DIRMODE, .dir = &(d), .help = (h) }

struct fs_dir {
	const struct fs_node *nodes;
	size_t n;
	/* Dynamic children, all shaped like `child`. */
	void (*list)(struct fs_ctx *c, struct strv *out);
	int (*lookup)(struct fs_ctx *c, const char *name);
	const struct fs_node *child;
};

/* Every path of the tree, from the tables: fn(path, node) for each, with
 * dynamic children under the placeholders NAME (a sandbox) and ID (a
 * device or bridge), directories with a trailing '/'.  Depth-first in
 * table order. */
void fs_tree_walk(void (*fn)(const char *path, const struct fs_node *n, void *opaque),
		  void *opaque);
/* The mount's README, generated from the tables. */
void fs_readme(struct sbuf *out);
/* Tell the vm layer the names the tables take (the root's files, the
 * devices/ directory's files), so no sandbox or device can take them. */
void fs_reserve_names(void);

#define FS_DIR(tbl) .nodes = (tbl), .n = ARRAY_SIZE(tbl)
#define FS_RO  (S_IFREG | 0444)
#define FS_RW  (S_IFREG | 0644)
#define FS_RW_OWNER (S_IFREG | 0600)
#define FS_WO  (S_IFREG | 0200)
#define FS_DIRMODE (S_IFDIR | 0755)

extern const struct fs_node fs_root;
extern const struct fs_dir fs_sandbox_dir;
extern const struct fs_dir fs_cpus_dir;
extern const struct fs_dir fs_memory_dir;
extern const struct fs_dir fs_devices_dir;
extern const struct fs_dir fs_bridges_dir;

/* One name in a directory node: the table's own node of that name, else
 * the dynamic child its lookup finds (which sets c->sb for a sandbox, or
 * c->name for a device or bridge); NULL when there is none.  c holds the
 * directory's context. */
const struct fs_node *fs_dir_find(const struct fs_node *dir, struct fs_ctx *c, const char *comp);
void fs_ctx_release(struct fs_ctx *c);

/* Daemon facts shown at the root. */
struct fs_info {
	const char *version;      /* sandboxfs version */
	uid_t uid;                /* owner of every file (--owner) */
	gid_t gid;
	bool private_mode;        /* --private: nothing world-readable */
	bool user_sandboxes;      /* any user may mkdir (the root is 01777) */
	bool qmp_owner;           /* --qmp-access=owner: a sandbox's owner may open its qmp */
};
const struct fs_info *fs_get_info(void);
void fs_set_info(const struct fs_info *info);

/* The FUSE session serving the tree (low-level API, fs_ll.c), from the
 * FUSE arguments: mount options, -d.  NULL when they do not parse.
 * init() is called when the kernel connects: the daemon's own start-up. */
struct fuse_args;
struct fuse_session;
struct fuse_session *fs_session_new(struct fuse_args *args, void (*init)(void));
/* After the session loop ended, before unmounting: answer the reads still
 * parked (events readers get EOF) and stop the invalidation thread. */
void fs_session_end(void);
/* On a worker serving a write (fs/fs_work.h): did its caller give up (an
 * interrupt, ^C on the writing shell)?  The vm layer's waits end early. */
bool fs_interrupted(void);
/* The fs's observer of sandbox changes: wakes poll()ers of its files,
 * completes parked events reads, invalidates what went. */
enum vm_change;
int fs_notify_change(struct vm_sandbox *sb, enum vm_change what, struct err **e);

#define SANDBOXFS_VERSION "0.1.0"

#endif
