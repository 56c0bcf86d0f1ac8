/*
 * fs_inode — the inode numbers the kernel knows, internal to fs/.
 *
 * The low-level FUSE API names files by number.  An inode is made the first
 * time the kernel looks a name up (LOOKUP, MKDIR) and lives until the
 * kernel forgets it (FORGET brings its lookup count to 0); one name below
 * one parent has one live inode, so a cached dentry and a fresh lookup
 * agree.  What an inode is never changes once made: its node of the
 * directory tables, its sandbox (a reference, NULL above the sandboxes),
 * the id of the dynamic child it is or sits below (device, bridge), and
 * its path below the sandbox ("cpus/target"), which error messages start
 * with.  A request may use the inode of its own number without a lock: the
 * kernel does not forget an inode a request is using.
 *
 * The kernel caches entries and attributes (fs_inode_entry_timeout,
 * fs_inode_attr_timeout); what can change behind its back is invalidated
 * explicitly (fs_inval.c): a dynamic child that goes, a sandbox's owner.
 */
#ifndef SANDBOXFS_FS_INODE_H
#define SANDBOXFS_FS_INODE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/fs.h"

struct fs_inode {
	uint64_t ino;
	uint64_t nlookup;          /* the kernel's references */
	uint64_t parent;           /* the parent's number; 0 for the root */
	char *comp;                /* its name in the parent ("" for the root) */
	const struct fs_node *node;
	struct vm_sandbox *sb;     /* a reference; NULL above the sandboxes */
	char *id;                  /* the device or bridge id (NULL: none) */
	char *rel;                 /* the path below the sandbox ("" at or above it) */
	bool dyn_root;             /* a dynamic child itself (devices/ID, bridges/ID) */
	bool gone;                 /* invalidated: its name no longer resolves */
	struct fs_inode *next_ino; /* hash chains */
	struct fs_inode *next_name;
	struct fs_inode *next_dyn; /* the list of dynamic children */
};

#define FS_ROOT_INO 1

/* The root, and the inode the kernel knows as `ino` (NULL: unknown). */
struct fs_inode *fs_inode_root(void);
struct fs_inode *fs_inode_get(uint64_t ino);

/* Look `name` up below `parent`: its inode, with one more kernel
 * reference, or -ENOENT / -ENOTDIR. */
int fs_inode_lookup(struct fs_inode *parent, const char *name, struct fs_inode **out);
/* The kernel dropped n references. */
void fs_inode_forget(uint64_t ino, uint64_t n);

/* The handlers' view of an inode: a new sandbox reference (release with
 * fs_ctx_release), the id, the path below the sandbox. */
void fs_inode_ctx(const struct fs_inode *in, struct fs_ctx *c);

/* How long the kernel may keep a name or attributes (seconds). */
double fs_inode_entry_timeout(const struct fs_inode *in);
double fs_inode_attr_timeout(const struct fs_inode *in);
/* Its attributes, from its table node and its sandbox. */
void fs_inode_stat(const struct fs_inode *in, struct stat *st);

/* Each dynamic child of `sb` whose name no longer resolves: fn(it),
 * once (it is marked gone). */
void fs_inode_sweep_gone(struct vm_sandbox *sb, void (*fn)(const struct fs_inode *in));
/* fn(inode) for every inode of `sb`. */
void fs_inode_each(struct vm_sandbox *sb, void (*fn)(const struct fs_inode *in));
/* How many inodes are live (for tests and the bench). */
size_t fs_inode_count(void);

#endif
