/* fs_memory — the memory/ directory: target, slots, hotplugged. */
#include "fs/fs.h"

#include "vm/vm_sandbox.h"

static int show_target(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	vm_memory_show_target(c->sb, out);
	return 0;
}

static int store_target(struct fs_ctx *c, const char *v, struct err **e)
{
	return vm_memory_set_target(c->sb, v, e);
}

static int show_max(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&c->sb->lock);
	int max = c->sb->cfg.maxmem_mib ? c->sb->cfg.maxmem_mib : c->sb->cfg.memory_mib;
	pthread_mutex_unlock(&c->sb->lock);
	sbuf_printf(out, "%d\n", max);
	return 0;
}

static int show_slots(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	vm_memory_show_slots(c->sb, out);
	return 0;
}

static int show_hotplugged(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	vm_memory_show_hotplugged(c->sb, out);
	return 0;
}

static const struct fs_node memory_nodes[] = {
	{"target", FS_RW, show_target, store_target},
	{"max", FS_RO, show_max},
	{"slots", FS_RO, show_slots},
	{"hotplugged", FS_RO, show_hotplugged},
};

const struct fs_dir fs_memory_dir = {FS_DIR(memory_nodes)};
