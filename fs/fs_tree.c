/*
 * fs_tree — path resolution over the directory tables, and the root
 * directory (README, version, one directory per sandbox).
 */
#include "fs/fs.h"

#include <string.h>

#include "vm/vm_sandbox.h"

static struct fs_info info;

void fs_set_info(const struct fs_info *i) { info = *i; }
const struct fs_info *fs_get_info(void) { return &info; }

static const char readme[] =
	"sandboxfs — every directory is a QEMU sandbox.\n"
	"\n"
	"  mkdir NAME                  create a sandbox (state: created)\n"
	"  rmdir NAME                  remove it (EBUSY while running or paused)\n"
	"  NAME/config                 JSON config; a write merges keys (see `cat config`)\n"
	"  NAME/cmdline                the QEMU argv the config builds, one per line\n"
	"  NAME/ctl                    write: start | stop | kill | pause | resume\n"
	"  NAME/state                  created | running | paused | stopped | crashed\n"
	"  NAME/pid  NAME/error        QEMU pid; last failure message\n"
	"  NAME/console                guest serial console (tail -f works)\n"
	"  NAME/cpus/target            wanted vCPUs (hotplug while running)\n"
	"  NAME/cpus/online|max|hotplugged\n"
	"  NAME/devices/add            write one device as JSON, e.g.\n"
	"      {\"type\":\"block\",\"id\":\"d1\",\"file\":\"/path/x.img\",\"format\":\"raw\"}\n"
	"  NAME/devices/remove         write a device id\n"
	"  NAME/devices/ID/            spec, bus, addr, state\n"
	"  NAME/bridges/ID             PCIe root port: type, bus, chassis, addr, slots\n"
	"\n"
	"A write is one command; its errno is the verdict and `error` says why.\n"
	"See sandboxfs(1) and docs/abi.md.\n";

static int show_readme(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	sbuf_add(out, readme);
	return 0;
}

static int show_version(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	sbuf_printf(out, "sandboxfs %s\nqemu %s\n", info.version ? info.version : SANDBOXFS_VERSION,
		    info.qemu_version ? info.qemu_version : "unknown");
	return 0;
}

static void list_sandboxes(struct fs_ctx *c, struct strv *out) { vm_sandbox_names(out); }

static int lookup_sandbox(struct fs_ctx *c, const char *name)
{
	c->sb = vm_sandbox_get(name);
	return c->sb ? 0 : -ENOENT;
}

static const struct fs_node sandbox_node = {"", FS_DIRMODE, .dir = &fs_sandbox_dir};

static const struct fs_node root_nodes[] = {
	{"README", FS_RO, show_readme},
	{"version", FS_RO, show_version},
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

int fs_resolve(const char *path, const struct fs_node **nodep, struct fs_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	const struct fs_node *node = &fs_root;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (!node->dir || len >= sizeof(ctx->name))
			goto enoent;
		char comp[sizeof(ctx->name)];
		memcpy(comp, p, len);
		comp[len] = '\0';
		const struct fs_dir *d = node->dir;
		const struct fs_node *next = NULL;
		for (size_t i = 0; i < d->n; i++)
			if (!strcmp(d->nodes[i].name, comp)) {
				next = &d->nodes[i];
				break;
			}
		if (!next && d->lookup && d->lookup(ctx, comp) == 0)
			next = d->child;
		if (!next)
			goto enoent;
		node = next;
		p = end;
	}
	*nodep = node;
	return 0;
enoent:
	fs_ctx_release(ctx);
	return -ENOENT;
}
