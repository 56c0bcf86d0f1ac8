/*
 * fs_tree — the root directory (README, version, metrics, one directory
 * per sandbox), name lookup in the directory tables, and what is
 * generated from the tables: the walk of every path, the README, the
 * names reserved from the vm layer.
 */
#include "fs/fs.h"

#include <stdio.h>
#include <string.h>

#include "vm/sandbox/ctl.h"
#include "vm/sandbox/devices.h"
#include "vm/sandbox/metrics.h"
#include "vm/sandbox/registry.h"
#include "vm/sandbox/sandbox.h"
#include "vm/sandbox/sandbox_qemu.h"

static struct fs_info info;

void fs_set_info(const struct fs_info *i) { info = *i; }
const struct fs_info *fs_get_info(void) { return &info; }

static int show_readme(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	fs_readme(out);
	return 0;
}

static int show_version(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	sbuf_printf(out, "sandboxfs %s\n", info.version ? info.version : SANDBOXFS_VERSION);
	vm_sandbox_default_qemu_describe(out);
	return 0;
}

static int show_metrics(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	char qv[64];
	vm_sandbox_default_qemu_version(qv, sizeof(qv));
	vm_metrics_show(out, info.version ? info.version : SANDBOXFS_VERSION, qv);
	return 0;
}

static void list_sandboxes(struct fs_ctx *c, struct strv *out) { vm_registry_names(out); }

static int lookup_sandbox(struct fs_ctx *c, const char *name)
{
	c->sb = vm_registry_get(name);
	return c->sb ? 0 : -ENOENT;
}

static const struct fs_node sandbox_node = {"", FS_DIRMODE, .dir = &fs_sandbox_dir,
					     .help = "a sandbox: mkdir creates it, rmdir removes it"};

static const struct fs_node root_nodes[] = {
	{"README", FS_RO, show_readme, .help = "the files, ctl verbs and states of this tree"},
	{"version", FS_RO, show_version, .flags = FS_SLOW, .help = "sandboxfs VERSION; qemu VERSION BINARY (the default QEMU)"},
	{"metrics", FS_RO, show_metrics, .flags = FS_SLOW,
	 .help = "every sandbox's state and stats, Prometheus text format"},
};

static const struct fs_dir root_dir = {
	FS_DIR(root_nodes),
	.list = list_sandboxes,
	.lookup = lookup_sandbox,
	.child = &sandbox_node,
};

const struct fs_node fs_root = {"/", FS_DIRMODE, .dir = &root_dir};

void fs_ctx_release(struct fs_ctx *c)
{
	if (c->sb)
		vm_sandbox_put(c->sb);
	c->sb = NULL;
}

const struct fs_node *fs_dir_find(const struct fs_node *dir, struct fs_ctx *c, const char *comp)
{
	const struct fs_dir *d = dir->dir;
	if (!d || strlen(comp) >= sizeof(c->name))
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->nodes[i].name, comp))
			return &d->nodes[i];
	if (d->lookup && d->lookup(c, comp) == 0)
		return d->child;
	return NULL;
}

/* ---- generated from the tables ---- */

struct walk {
	void (*fn)(const char *path, const struct fs_node *n, void *opaque);
	void *opaque;
};

static void walk_dir(const struct walk *w, const struct fs_dir *d, const char *prefix, int depth);

static void walk_node(const struct walk *w, const struct fs_node *n, const char *prefix,
		      const char *name, int depth)
{
	bool dir = S_ISDIR(n->mode);
	cleanup_free char *path = xasprintf("%s%s%s", prefix, name, dir ? "/" : "");
	w->fn(path, n, w->opaque);
	if (dir && n->dir && depth < 16)
		walk_dir(w, n->dir, path, depth + 1);
}

static void walk_dir(const struct walk *w, const struct fs_dir *d, const char *prefix, int depth)
{
	for (size_t i = 0; i < d->n; i++)
		walk_node(w, &d->nodes[i], prefix, d->nodes[i].name, depth);
	if (d->child)
		walk_node(w, d->child, prefix, depth == 0 ? "NAME" : "ID", depth);
}

void fs_tree_walk(void (*fn)(const char *path, const struct fs_node *n, void *opaque),
		  void *opaque)
{
	struct walk w = {fn, opaque};
	walk_dir(&w, &root_dir, "", 0);
}

static void readme_line(const char *path, const struct fs_node *n, void *opaque)
{
	struct sbuf *out = opaque;
	size_t col = strlen(path) + 2;
	sbuf_printf(out, "  %s%*s %s\n", path, col < 30 ? (int)(30 - col) : 0, "",
		    n->help ? n->help : "");
}

void fs_readme(struct sbuf *out)
{
	sbuf_add(out, "sandboxfs — every directory is a QEMU sandbox.\n\n"
		      "  mkdir NAME                   create a sandbox (state: created)\n"
		      "  rmdir NAME                   remove it (EBUSY while running or paused)\n");
	fs_tree_walk(readme_line, out);
	sbuf_add(out, "\nctl verbs, and the states each applies in:\n");
	cleanup_sbuf struct sbuf verbs = {0};
	vm_ctl_describe(&verbs);
	for (char *line = verbs.s, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		sbuf_printf(out, "  %.*s\n", (int)(nl - line), line);
	}
	sbuf_add(out, "\nstates:");
	for (int st = 0; st < VM_STATE_COUNT; st++)
		sbuf_printf(out, " %s", vm_state_name((enum vm_state)st));
	sbuf_add(out, "\n\nA write is one command; its errno is the verdict and `error` says why.\n"
		      "See sandboxfs(1) and docs/abi.md.\n");
}

/* The names of a table's own nodes, NULL-terminated, made once. */
static const char *const *table_names(const struct fs_dir *d)
{
	const char **v = xcalloc(d->n + 1, sizeof(*v));
	for (size_t i = 0; i < d->n; i++)
		v[i] = d->nodes[i].name;
	return v;
}

void fs_reserve_names(void)
{
	static const char *const *root_names, *const *device_names;
	if (!root_names) {
		root_names = table_names(&root_dir);
		device_names = table_names(&fs_devices_dir);
	}
	vm_registry_reserve(root_names);
	vm_devices_reserve(device_names);
}
