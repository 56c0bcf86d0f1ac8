/* fs_cpus — the cpus/ directory: target, online, max, hotplugged. */
#include "fs/fs.h"

#include "vm/vm_sandbox.h"

static int show_target(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	vm_cpus_show_target(c->sb, out);
	return 0;
}

static int store_target(struct fs_ctx *c, const char *v, struct err **e)
{
	return vm_cpus_set_target(c->sb, v, e);
}

static int show_online(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	return vm_cpus_show_online(c->sb, out, e);
}

static int show_max(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&c->sb->lock);
	sbuf_printf(out, "%d\n", c->sb->cfg.maxvcpus);
	pthread_mutex_unlock(&c->sb->lock);
	return 0;
}

static int show_hotplugged(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	vm_cpus_show_hotplugged(c->sb, out);
	return 0;
}

static const struct fs_node cpus_nodes[] = {
	{"target", FS_RW, show_target, store_target},
	{"online", FS_RO, show_online},
	{"max", FS_RO, show_max},
	{"hotplugged", FS_RO, show_hotplugged},
};

const struct fs_dir fs_cpus_dir = {FS_DIR(cpus_nodes)};
