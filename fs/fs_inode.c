/*
 * fs_inode — the kernel's inode numbers over the directory tables; see
 * fs_inode.h.  Two hash tables under one mutex: by number (every request)
 * and by (parent, name) (lookups).  Dynamic children (devices/ID,
 * bridges/ID) are also on a list, swept on each commit of their sandbox so
 * that one that went is invalidated in the kernel.
 */
#include "fs/fs_inode.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vm/sandbox/sandbox.h"

/* Names and attributes that only change through this daemon, which then
 * invalidates them: the kernel may keep them this long. */
#define FS_CACHE_SECONDS 86400.0

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_inode **by_ino, **by_name;
static size_t nbuckets, count;
static uint64_t next_ino = FS_ROOT_INO + 1;
static struct fs_inode *dyn_list;
static struct fs_inode root = {.ino = FS_ROOT_INO, .nlookup = 1, .comp = "", .node = &fs_root,
			       .rel = ""};
static time_t mount_time;

static size_t hash_ino(uint64_t ino) { return (size_t)(ino * 0x9E3779B97F4A7C15ULL >> 20) % nbuckets; }

static size_t hash_name(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent;
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	return (size_t)(h % nbuckets);
}

/* Under table_lock. */
static void insert(struct fs_inode *in)
{
	size_t a = hash_ino(in->ino), b = hash_name(in->parent, in->comp);
	in->next_ino = by_ino[a];
	by_ino[a] = in;
	in->next_name = by_name[b];
	by_name[b] = in;
	count++;
}

/* Under table_lock: twice the buckets when the chains grow long. */
static void grow(void)
{
	if (count < nbuckets * 2 && nbuckets)
		return;
	struct fs_inode **oi = by_ino;
	size_t on = nbuckets;
	nbuckets = nbuckets ? nbuckets * 4 : 1024;
	by_ino = xcalloc(nbuckets, sizeof(*by_ino));
	free(by_name);
	by_name = xcalloc(nbuckets, sizeof(*by_name));
	count = 0;
	for (size_t i = 0; i < on; i++)
		for (struct fs_inode *in = oi[i], *next; in; in = next) {
			next = in->next_ino;
			insert(in);
		}
	free(oi);
}

static void unlink_from(struct fs_inode **head, struct fs_inode *in, size_t off)
{
	for (struct fs_inode **pp = head; *pp; pp = (struct fs_inode **)((char *)*pp + off))
		if (*pp == in) {
			*pp = *(struct fs_inode **)((char *)in + off);
			return;
		}
}

/* Under table_lock. */
static struct fs_inode *find_locked(uint64_t ino)
{
	struct fs_inode *in = nbuckets ? by_ino[hash_ino(ino)] : NULL;
	while (in && in->ino != ino)
		in = in->next_ino;
	return in;
}

struct fs_inode *fs_inode_root(void) { return &root; }

struct fs_inode *fs_inode_get(uint64_t ino)
{
	if (ino == FS_ROOT_INO)
		return &root;
	pthread_mutex_lock(&table_lock);
	struct fs_inode *in = find_locked(ino);
	pthread_mutex_unlock(&table_lock);
	return in;
}

/* The same name, node, sandbox and id: the kernel may keep its dentry. */
static bool same(const struct fs_inode *in, uint64_t parent, const char *name,
		 const struct fs_node *node, const struct fs_ctx *c)
{
	return in->parent == parent && !in->gone && in->node == node && in->sb == c->sb &&
	       !strcmp(in->comp, name) && !strcmp(in->id ? in->id : "", c->name);
}

static struct fs_inode *make(struct fs_inode *parent, const char *name, const struct fs_node *node,
			     struct fs_ctx *c)
{
	struct fs_inode *in = xcalloc(1, sizeof(*in));
	in->parent = parent->ino;
	in->comp = xstrdup(name);
	in->node = node;
	in->sb = move_ptr(c->sb);
	in->id = *c->name ? xstrdup(c->name) : NULL;
	/* Below a sandbox, the path from it ("cpus/target"). */
	if (parent->sb)
		in->rel = *parent->rel ? xasprintf("%s/%s", parent->rel, name) : xstrdup(name);
	else
		in->rel = xstrdup("");
	in->dyn_root = *c->name && (!parent->id || strcmp(parent->id, c->name));
	return in;
}

int fs_inode_lookup(struct fs_inode *parent, const char *name, struct fs_inode **out)
{
	if (!parent->node->dir)
		return -ENOTDIR;
	struct fs_ctx c;
	fs_inode_ctx(parent, &c);
	const struct fs_node *node = fs_dir_find(parent->node, &c, name);
	if (!node) {
		fs_ctx_release(&c);
		return -ENOENT;
	}
	pthread_mutex_lock(&table_lock);
	grow();
	struct fs_inode *in = by_name[hash_name(parent->ino, name)];
	while (in && !same(in, parent->ino, name, node, &c))
		in = in->next_name;
	if (in) {
		in->nlookup++;
		pthread_mutex_unlock(&table_lock);
		fs_ctx_release(&c);
		*out = in;
		return 0;
	}
	in = make(parent, name, node, &c);
	in->ino = next_ino++;
	in->nlookup = 1;
	insert(in);
	if (in->dyn_root) {
		in->next_dyn = dyn_list;
		dyn_list = in;
	}
	pthread_mutex_unlock(&table_lock);
	fs_ctx_release(&c);
	*out = in;
	return 0;
}

void fs_inode_forget(uint64_t ino, uint64_t n)
{
	if (ino == FS_ROOT_INO)
		return;
	pthread_mutex_lock(&table_lock);
	struct fs_inode *in = find_locked(ino);
	if (in)
		in->nlookup = n < in->nlookup ? in->nlookup - n : 0;
	if (!in || in->nlookup > 0) {
		pthread_mutex_unlock(&table_lock);
		return;
	}
	unlink_from(&by_ino[hash_ino(ino)], in, offsetof(struct fs_inode, next_ino));
	unlink_from(&by_name[hash_name(in->parent, in->comp)], in, offsetof(struct fs_inode, next_name));
	if (in->dyn_root)
		unlink_from(&dyn_list, in, offsetof(struct fs_inode, next_dyn));
	count--;
	pthread_mutex_unlock(&table_lock);
	if (in->sb)
		vm_sandbox_put(in->sb);
	free(in->comp);
	free(in->id);
	free(in->rel);
	free(in);
}

void fs_inode_ctx(const struct fs_inode *in, struct fs_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->sb = in->sb ? vm_sandbox_ref(in->sb) : NULL;
	if (in->id)
		snprintf(c->name, sizeof(c->name), "%s", in->id);
	snprintf(c->rel, sizeof(c->rel), "%s", in->rel);
}

double fs_inode_entry_timeout(const struct fs_inode *in) { return FS_CACHE_SECONDS; }

/* The console's size grows as the guest writes: never cached. */
double fs_inode_attr_timeout(const struct fs_inode *in)
{
	return in->node->flags & FS_STREAM ? 0 : FS_CACHE_SECONDS;
}

void fs_inode_stat(const struct fs_inode *in, struct stat *st)
{
	const struct fs_info *info = fs_get_info();
	const struct fs_node *n = in->node;
	if (!mount_time)
		mount_time = time(NULL);
	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	st->st_mode = info->private_mode ? n->mode & ~(mode_t)0007 : n->mode;
	if (n == &fs_root && info->user_sandboxes) /* like /tmp: anyone mkdirs, owners rmdir */
		st->st_mode = S_IFDIR | 01777;
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_uid = info->uid;
	st->st_gid = info->gid;
	if (in->sb) { /* a sandbox's files take its owner (chown delegates) */
		pthread_mutex_lock(&in->sb->lock);
		if (in->sb->owner_uid != VM_OWNER_TREE)
			st->st_uid = in->sb->owner_uid;
		if (in->sb->owner_gid != (gid_t)VM_OWNER_TREE)
			st->st_gid = in->sb->owner_gid;
		pthread_mutex_unlock(&in->sb->lock);
	}
	st->st_atime = st->st_mtime = st->st_ctime = mount_time;
	st->st_blksize = 4096;
	if (S_ISREG(n->mode)) {
		st->st_size = 4096; /* nominal: contents are rendered at open */
		if (n->flags & FS_STREAM) {
			struct stat real;
			st->st_size = stat(in->sb->console_log, &real) == 0 ? real.st_size : 0;
			if (st->st_size)
				st->st_mtim = real.st_mtim;
		}
	}
}

void fs_inode_sweep_gone(struct vm_sandbox *sb, void (*fn)(const struct fs_inode *in))
{
	/* The candidates are held (one more reference each) while their names
	 * are looked up without the table lock: lookups take the sandbox's. */
	struct fs_inode **cand = NULL, **par = NULL;
	size_t n = 0;
	pthread_mutex_lock(&table_lock);
	for (struct fs_inode *in = dyn_list; in; in = in->next_dyn) {
		struct fs_inode *parent = in->sb == sb && !in->gone ? find_locked(in->parent) : NULL;
		if (!parent)
			continue;
		cand = xrealloc(cand, (n + 1) * sizeof(*cand));
		par = xrealloc(par, (n + 1) * sizeof(*par));
		cand[n] = in;
		par[n++] = parent;
		in->nlookup++;
		parent->nlookup++;
	}
	pthread_mutex_unlock(&table_lock);
	for (size_t i = 0; i < n; i++) {
		struct fs_ctx c;
		fs_inode_ctx(par[i], &c);
		bool found = fs_dir_find(par[i]->node, &c, cand[i]->comp) != NULL;
		fs_ctx_release(&c);
		pthread_mutex_lock(&table_lock);
		bool now_gone = !found && !cand[i]->gone;
		if (now_gone)
			cand[i]->gone = true;
		pthread_mutex_unlock(&table_lock);
		if (now_gone)
			fn(cand[i]);
		fs_inode_forget(cand[i]->ino, 1);
		fs_inode_forget(par[i]->ino, 1);
	}
	free(cand);
	free(par);
}

void fs_inode_each(struct vm_sandbox *sb, void (*fn)(const struct fs_inode *in))
{
	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < nbuckets; i++)
		for (struct fs_inode *in = by_ino[i]; in; in = in->next_ino)
			if (in->sb == sb)
				fn(in);
	pthread_mutex_unlock(&table_lock);
}

size_t fs_inode_count(void)
{
	pthread_mutex_lock(&table_lock);
	size_t n = count;
	pthread_mutex_unlock(&table_lock);
	return n;
}
