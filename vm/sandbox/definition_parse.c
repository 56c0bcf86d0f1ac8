/*
 * vm_definition — a written definition checked as a whole against this
 * daemon before anything changes; see definition.h.
 *
 * In order: the top-level keys; the config, merged strictly (as a config
 * write would) into a fresh default config; for a restore, the arch must
 * be the sandbox's and its QEMU binary stays; every host path of the
 * config opened as the writer; each device parsed (as devices/add would),
 * its id free, its rules against the config, its paths opened as the
 * writer; the slots the definition names reserved, the other devices
 * placed first fit; the hot-added vCPUs and DIMMs within the config's
 * room; and finally the whole command line built, which applies every
 * cross-device rule.  The sandbox keeps its own uuid.
 */
#include "vm/sandbox/definition.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "vm/model/parts.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/sandbox/access.h"
#include "vm/sandbox/devices.h"

static const char *const def_keys[] = {
	"definition", "config", "devices", "slots", "hot_cpus", "dimms", "owner", "rights",
};

static int def_keys_check(struct json_object *o, struct err **e)
{
	json_object_object_foreach(o, k, v) {
		size_t i = 0;
		while (i < ARRAY_SIZE(def_keys) && strcmp(k, def_keys[i]))
			i++;
		if (i == ARRAY_SIZE(def_keys))
			return err_set(e, EINVAL, "unknown key '%.32s' (a definition has definition, "
				       "config, devices, slots, hot_cpus, dimms, owner, rights)", k);
		if (!strcmp(k, "definition") &&
		    (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != VM_DEFINITION_VERSION))
			return err_set(e, EINVAL, "definition: version %d is the one this daemon reads",
				       VM_DEFINITION_VERSION);
	}
	struct json_object *cfg;
	if (!json_object_object_get_ex(o, "config", &cfg) || !json_object_is_type(cfg, json_type_object))
		return err_set(e, EINVAL, "config: a definition needs its config object");
	return 0;
}

/* The config: a fresh default one with every key of the definition's. */
static int def_config(struct vm_sandbox *sb, struct json_object *o, const struct cred *who,
		      enum vm_definition_mode mode, struct vm_definition *d, struct err **e)
{
	struct json_object *cfg;
	json_object_object_get_ex(o, "config", &cfg);
	vm_config_init(&d->cfg);
	int r = vm_config_merge(&d->cfg, json_object_to_json_string(cfg), false, e);
	if (r < 0)
		return err_wrap(e, "config");
	d->uuid = xstrdup(d->cfg.uuid);
	/* The sandbox, which only QEMU binary and arch the operator gave it
	 * (the config changes only under op_lock: read without sb->lock). */
	free(d->cfg.uuid);
	d->cfg.uuid = xstrdup(sb->cfg.uuid);
	if (mode == VM_DEFINITION_RESTORE) {
		if (strcmp(d->cfg.arch, sb->cfg.arch))
			return err_set(e, EINVAL, "the save is of architecture %s, sandbox %s is %s "
				       "(write {\"arch\":\"%s\"} to its config first)", d->cfg.arch,
				       sb->name, sb->cfg.arch, d->cfg.arch);
		free(d->cfg.qemu);
		d->cfg.qemu = xstrdup(sb->cfg.qemu);
	}
	r = vm_config_validate(&d->cfg, e);
	if (r < 0)
		return err_wrap(e, "config");
	struct vm_config none;
	vm_config_init(&none);
	free(none.kernel);
	free(none.initrd);
	free(none.qemu);
	none.kernel = xstrdup("");
	none.initrd = xstrdup("");
	none.qemu = xstrdup("");
	/* every path the config names, as the writer, whose they are from now on */
	r = vm_access_config(&none, &d->cfg, who, vm_get_settings()->qemu_dirs, e);
	vm_config_release(&none);
	return r;
}

static int def_device_id(const struct vm_definition *d, const char *id, struct err **e)
{
	if (vm_devices_reserved(id))
		return err_set(e, EINVAL, "id: '%s' is a reserved name", id);
	for (size_t i = 0; i < d->ndevs; i++)
		if (!strcmp(d->devs[i]->id, id))
			return err_set(e, EEXIST, "id: two devices named '%s'", id);
	if (vm_topology_find(&d->topo, id) >= 0)
		return err_set(e, EEXIST, "id: '%s' is the id of a bridge", id);
	if (!strncmp(id, "cpu-", 4) || !strcmp(id, "qmp") || !strcmp(id, "console"))
		return err_set(e, EINVAL, "id: '%s' is reserved for sandboxfs' own objects", id);
	return 0;
}

/* One device, as devices/add would take it from `who`. */
static int def_device(struct vm_sandbox *sb, struct json_object *spec, const struct cred *who,
		      const struct vm_fds_ctx *ctx, struct vm_definition *d, struct err **e)
{
	struct vm_device *dev = NULL;
	if (!json_object_is_type(spec, json_type_object))
		return err_set(e, EINVAL, "not a device spec object");
	int r = vm_device_parse(json_object_to_json_string(spec), &dev, e);
	if (r < 0)
		return r;
	dev->owner = *who;
	r = def_device_id(d, dev->id, e);
	if (r == 0)
		r = vm_device_check_config(dev, &d->cfg, e);
	if (r == 0)
		r = vm_access_device(&d->cfg, sb->console_log, ctx, dev, e);
	if (r < 0) {
		err_wrap(e, "device %s", dev->id);
		vm_device_free(dev);
		return err_ret(e);
	}
	dev->state = VM_DEV_CONFIGURED;
	d->devs = xrealloc(d->devs, (d->ndevs + 1) * sizeof(*d->devs));
	d->devs[d->ndevs++] = dev;
	return 0;
}

static int def_devices(struct vm_sandbox *sb, struct json_object *o, const struct cred *who,
		       struct vm_definition *d, struct err **e)
{
	struct json_object *a = NULL;
	if (!json_object_object_get_ex(o, "devices", &a) || !a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return err_set(e, EINVAL, "devices: not an array of device specs");
	struct vm_fds_ctx ctx = {.qemu_uid = sb->qemu_uid, .qemu_gid = sb->qemu_gid, .netns_fd = -1,
				 .backends_later = true};
	int r = 0;
	if (*d->cfg.netns && (ctx.netns_fd = vm_access_netns(&d->cfg, who, e)) < 0)
		return ctx.netns_fd;
	for (size_t i = 0; r == 0 && i < json_object_array_length(a); i++)
		if ((r = def_device(sb, json_object_array_get_idx(a, i), who, &ctx, d, e)) < 0)
			err_wrap(e, "devices[%zu]", i);
	if (ctx.netns_fd >= 0)
		close(ctx.netns_fd);
	return r;
}

/* The slots the definition names, then first fit for the others. */
static int def_place(struct json_object *o, struct vm_definition *d, struct err **e)
{
	struct json_object *slots = NULL, *s, *v;
	json_object_object_get_ex(o, "slots", &slots);
	if (slots && !json_object_is_type(slots, json_type_object))
		return err_set(e, EINVAL, "slots: not an object {ID: {\"bus\":B,\"slot\":N}}");
	for (size_t i = 0; slots && i < d->ndevs; i++) {
		struct vm_device *dev = d->devs[i];
		if (!json_object_object_get_ex(slots, dev->id, &s))
			continue;
		const char *bus = util_json_str(s, "bus");
		int b = bus ? vm_topology_find(&d->topo, bus) : -1;
		if (!vm_device_is_pci(dev) || b < 0 || !json_object_object_get_ex(s, "slot", &v) ||
		    !json_object_is_type(v, json_type_int))
			return err_set(e, EINVAL, "slots: %s: no bridge slot {\"bus\":B,\"slot\":N} "
				       "of this config for it", dev->id);
		int slot = (int)json_object_get_int64(v);
		int r = vm_topology_reserve(&d->topo, b, slot, dev->id, e);
		if (r < 0 && err_code(*e) == EBUSY) {
			err_free(e); /* a conflict in the definition itself */
			return err_set(e, EEXIST, "slots: %s: slot %d of %s is another device's", dev->id,
				       slot, bus);
		}
		if (r < 0)
			return err_wrap(e, "slots: %s", dev->id);
		dev->bridge = b;
		dev->slot = slot;
	}
	json_object_object_foreach(slots, id, sv) {
		(void)sv;
		size_t i = 0;
		while (i < d->ndevs && strcmp(d->devs[i]->id, id))
			i++;
		if (i == d->ndevs)
			return err_set(e, EINVAL, "slots: no device %.32s", id);
	}
	for (size_t i = 0; i < d->ndevs; i++) {
		struct vm_device *dev = d->devs[i];
		if (vm_device_is_pci(dev) && dev->bridge < 0 &&
		    vm_topology_alloc(&d->topo, dev->id, &dev->bridge, &dev->slot, e) < 0)
			return err_wrap(e, "devices: %s", dev->id);
	}
	return 0;
}

/* The hot-added vCPUs and DIMMs fit the config. */
static int def_hot(struct json_object *o, struct vm_definition *d, struct err **e)
{
	struct json_object *a = NULL;
	json_object_object_get_ex(o, "hot_cpus", &a);
	int r = vm_definition_cpus_parse(a, &d->cpus, &d->ncpus, e);
	a = NULL;
	json_object_object_get_ex(o, "dimms", &a);
	if (r == 0)
		r = vm_definition_dimms_parse(a, &d->dimms, &d->ndimms, e);
	if (r < 0)
		return r;
	if (d->cfg.vcpus + (int)d->ncpus > d->cfg.maxvcpus)
		return err_set(e, ERANGE, "hot_cpus: %d boot and %zu hot-added vCPUs exceed maxvcpus %d",
			       d->cfg.vcpus, d->ncpus, d->cfg.maxvcpus);
	long long mib = d->cfg.memory_mib;
	for (size_t i = 0; i < d->ndimms; i++)
		mib += d->dimms[i].size_mib;
	if ((int)d->ndimms > d->cfg.memory_slots || (d->ndimms && mib > d->cfg.maxmem_mib))
		return err_set(e, ERANGE, "dimms: %zu DIMMs (%lld MiB in all) do not fit memory_slots %d "
			       "and maxmem_mib %d", d->ndimms, mib, d->cfg.memory_slots, d->cfg.maxmem_mib);
	return 0;
}

/* The command line, as `cmdline` would build it: every cross-device rule. */
static int def_cmdline(struct vm_sandbox *sb, struct vm_definition *d, struct err **e)
{
	cleanup_strv struct strv argv = {0};
	struct vm_cmdline_ctx ctx = {.name = sb->name, .console_log = sb->console_log,
				     .pass_files = vm_settings_confined(),
				     .confine = vm_settings_confined(), .cfg_owner = &cred_root};
	return vm_cmdline_build(&d->cfg, &d->topo, d->devs, d->ndevs, &ctx, &argv, e);
}

int vm_definition_prepare(struct vm_sandbox *sb, struct json_object *o, const struct cred *who,
			  enum vm_definition_mode mode, struct vm_definition *out, struct err **e)
{
	struct vm_definition d = {0};
	int r = def_keys_check(o, e);
	if (r == 0)
		r = def_config(sb, o, who, mode, &d, e);
	if (r == 0) {
		vm_config_topology(&d.cfg, &d.topo);
		r = def_devices(sb, o, who, &d, e);
	}
	if (r == 0)
		r = def_place(o, &d, e);
	if (r == 0)
		r = def_hot(o, &d, e);
	if (r == 0)
		r = def_cmdline(sb, &d, e);
	if (r < 0) {
		vm_definition_release(&d);
		return r;
	}
	*out = d;
	return 0;
}
