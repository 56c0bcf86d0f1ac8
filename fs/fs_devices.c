/*
 * fs_devices — devices/ (add, remove, one directory per device with spec,
 * bus, addr, state, and a disk's size and throttle) and bridges/ (one
 * file per bridge).
 */
#include "fs/fs.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "vm/sandbox/blockctl.h"
#include "vm/sandbox/devices.h"
#include "vm/sandbox/sandbox.h"

/* Run `fn` on the device named by the path, under the sandbox lock. */
static int with_device(struct fs_ctx *c, struct sbuf *out,
		       void (*fn)(struct vm_sandbox *, struct vm_device *, struct sbuf *), struct err **e)
{
	pthread_mutex_lock(&c->sb->lock);
	struct vm_device *d = vm_devices_find(c->sb, c->name);
	if (d)
		fn(c->sb, d, out);
	pthread_mutex_unlock(&c->sb->lock);
	return d ? 0 : err_set(e, ENODEV, "device %s is gone", c->name);
}

static void dev_spec(struct vm_sandbox *sb, struct vm_device *d, struct sbuf *out)
{
	cleanup_json struct json_object *o = vm_device_spec(d);
	sbuf_add(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	sbuf_addc(out, '\n');
}

static void dev_bus(struct vm_sandbox *sb, struct vm_device *d, struct sbuf *out)
{
	if (d->bridge >= 0 && d->bridge < sb->topo.n)
		sbuf_printf(out, "%s\n", sb->topo.bridges[d->bridge].id);
}

static void dev_addr(struct vm_sandbox *sb, struct vm_device *d, struct sbuf *out)
{
	if (d->bridge < 0)
		return;
	vm_topology_guest_addr(&sb->topo, d->bridge, d->slot, out);
	sbuf_addc(out, '\n');
}

static void dev_state(struct vm_sandbox *sb, struct vm_device *d, struct sbuf *out)
{
	sbuf_printf(out, "%s\n", vm_device_state_name(d->state));
}

static int show_spec(struct fs_ctx *c, struct sbuf *o, struct err **e) { return with_device(c, o, dev_spec, e); }
static int show_bus(struct fs_ctx *c, struct sbuf *o, struct err **e) { return with_device(c, o, dev_bus, e); }
static int show_addr(struct fs_ctx *c, struct sbuf *o, struct err **e) { return with_device(c, o, dev_addr, e); }
static int show_dstate(struct fs_ctx *c, struct sbuf *o, struct err **e) { return with_device(c, o, dev_state, e); }

static int show_size(struct fs_ctx *c, struct sbuf *o, struct err **e)
{
	return vm_blockctl_size_show(c->sb, c->name, o, e);
}
static int store_size(struct fs_ctx *c, const char *v, const struct cred *who, struct err **e)
{
	return vm_blockctl_size_store(c->sb, c->name, v, who, e);
}
static int show_throttle(struct fs_ctx *c, struct sbuf *o, struct err **e)
{
	return vm_blockctl_throttle_show(c->sb, c->name, o, e);
}
static int store_throttle(struct fs_ctx *c, const char *v, const struct cred *who, struct err **e)
{
	return vm_blockctl_throttle_store(c->sb, c->name, v, who, e);
}

static const struct fs_node device_nodes[] = {
	{"spec", FS_RO, show_spec, .help = "the device as JSON, every default filled in"},
	{"bus", FS_RO, show_bus, .help = "the bridge it sits on"},
	{"addr", FS_RO, show_addr, .help = "its guest address (bridge/slot, or a CCW devno)"},
	{"state", FS_RO, show_dstate, .help = "configured | attached | adding | removing | lost"},
	{"size", FS_RW, show_size, store_size,
	 .help = "a disk's size in bytes; write a larger one to grow it (block_resize)"},
	{"throttle", FS_RW, show_throttle, store_throttle,
	 .help = "a disk's I/O limits: iops_*/bps_* [_max] and group lines"},
};

static const struct fs_dir device_dir = {FS_DIR(device_nodes)};
static const struct fs_node device_node = {"", FS_DIRMODE, .dir = &device_dir,
					    .help = "one device"};

static void list_devices(struct fs_ctx *c, struct strv *out) { vm_devices_ids(c->sb, out); }

static int lookup_device(struct fs_ctx *c, const char *name)
{
	pthread_mutex_lock(&c->sb->lock);
	bool found = vm_devices_find(c->sb, name) != NULL;
	pthread_mutex_unlock(&c->sb->lock);
	if (!found)
		return -ENOENT;
	snprintf(c->name, sizeof(c->name), "%s", name);
	return 0;
}

static const struct fs_node devices_nodes[] = {
	{ "add", FS_WO, .sb_store = vm_devices_add_store, .flags = FS_JSON,
	  .help = "write one device as JSON, e.g. "
		  "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/path/x.img\"}" },
	FS_ATTR_WO(remove, vm_devices_remove, "write a device id"),
};

const struct fs_dir fs_devices_dir = {
	FS_DIR(devices_nodes),
	.list = list_devices,
	.lookup = lookup_device,
	.child = &device_node,
};

/* ---- bridges/ ---------------------------------------------------------- */

static int show_bridge(struct fs_ctx *c, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&c->sb->lock);
	int i = vm_topology_find(&c->sb->topo, c->name);
	if (i >= 0)
		vm_topology_show(&c->sb->topo.bridges[i], out);
	pthread_mutex_unlock(&c->sb->lock);
	return i >= 0 ? 0 : err_set(e, ENODEV, "bridge %s is gone", c->name);
}

static void list_bridges(struct fs_ctx *c, struct strv *out)
{
	pthread_mutex_lock(&c->sb->lock);
	for (int i = 0; i < c->sb->topo.n; i++)
		strv_add(out, c->sb->topo.bridges[i].id);
	pthread_mutex_unlock(&c->sb->lock);
}

static int lookup_bridge(struct fs_ctx *c, const char *name)
{
	pthread_mutex_lock(&c->sb->lock);
	int i = vm_topology_find(&c->sb->topo, name);
	pthread_mutex_unlock(&c->sb->lock);
	if (i < 0)
		return -ENOENT;
	snprintf(c->name, sizeof(c->name), "%s", name);
	return 0;
}

static const struct fs_node bridge_node = {"", FS_RO, show_bridge,
					    .help = "a bridge: type, bus, chassis, addr, slots"};

const struct fs_dir fs_bridges_dir = {
	.list = list_bridges,
	.lookup = lookup_bridge,
	.child = &bridge_node,
};
