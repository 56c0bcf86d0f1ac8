/*
 * fs_sandbox — the files of one sandbox directory: config, cmdline, ctl,
 * state, pid, error, console, and the cpus/ devices/ bridges/ subdirectories.
 */
#include "fs/fs.h"

#include <string.h>

#include "vm/vm_sandbox.h"

static int show_config(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	vm_sandbox_config_show(c->sb, out);
	return 0;
}

static int store_config(struct fs_ctx *c, const char *v, struct err **e)
{
	return vm_sandbox_config_write(c->sb, v, e);
}

static int show_cmdline(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	return vm_sandbox_cmdline_show(c->sb, out, e);
}

static int show_ctl(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	vm_ctl_verbs(c->sb, out);
	return 0;
}

static int store_ctl(struct fs_ctx *c, const char *v, struct err **e)
{
	return vm_ctl(c->sb, v, e);
}

static int show_state(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&c->sb->lock);
	sbuf_printf(out, "%s\n", vm_state_name(c->sb->state));
	pthread_mutex_unlock(&c->sb->lock);
	return 0;
}

static int show_pid(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&c->sb->lock);
	if (c->sb->pid > 0)
		sbuf_printf(out, "%d\n", (int)c->sb->pid);
	pthread_mutex_unlock(&c->sb->lock);
	return 0;
}

static int show_error(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&c->sb->lock);
	if (*c->sb->error)
		sbuf_printf(out, "%s\n", c->sb->error);
	pthread_mutex_unlock(&c->sb->lock);
	return 0;
}

const char *fs_stream_path(struct fs_ctx *c) { return c->sb->console_log; }

static const struct fs_node sandbox_nodes[] = {
	{"config", FS_RW, show_config, store_config},
	{"cmdline", FS_RO, show_cmdline},
	{"ctl", FS_RW, show_ctl, store_ctl},
	{"state", FS_RO, show_state, .flags = FS_POLL_STATE},
	{"pid", FS_RO, show_pid},
	{"error", FS_RO, show_error},
	{"console", FS_RO, .flags = FS_STREAM},
	{"events", FS_RO, .flags = FS_EVENTS},
	{"cpus", FS_DIRMODE, .dir = &fs_cpus_dir},
	{"memory", FS_DIRMODE, .dir = &fs_memory_dir},
	{"devices", FS_DIRMODE, .dir = &fs_devices_dir},
	{"bridges", FS_DIRMODE, .dir = &fs_bridges_dir},
};

const struct fs_dir fs_sandbox_dir = {FS_DIR(sandbox_nodes)};
