/*
 * vm_configure — the `config` file of a sandbox; see configure.h.
 */
#include "vm/sandbox/configure.h"

#include <json-c/json.h>
#include <string.h>

#include "lib/log.h"
#include "vm/qemu/cgroup.h"
#include "vm/sandbox/access.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/sandbox.h"

int vm_configure_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	if (sb->state == VM_BROKEN) {
		pthread_mutex_unlock(&sb->lock);
		return err_set(e, EIO, "sandbox %s is broken: its config could not be loaded (see "
			       "error)", sb->name);
	}
	if (!sb->cfg_text) { /* rendered once per change: reads are the common case */
		cleanup_json struct json_object *o = vm_config_to_json(&sb->cfg);
		sb->cfg_text = xasprintf("%s\n", json_object_to_json_string_ext(
			o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	sbuf_add(out, sb->cfg_text);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

/* A slot map for the devices under another config, to swap in and out. */
struct layout {
	struct vm_topology topo;
	int *bridge, *slot;
	bool set;
};

static int layout_compute(struct vm_sandbox *sb, const struct vm_config *cfg, struct layout *l,
			  struct err **e)
{
	vm_config_topology(cfg, &l->topo);
	l->bridge = xcalloc(sb->ndevs + 1, sizeof(int));
	l->slot = xcalloc(sb->ndevs + 1, sizeof(int));
	l->set = true;
	int r = 0;
	for (size_t i = 0; i < sb->ndevs && r == 0; i++) {
		l->bridge[i] = l->slot[i] = -1;
		if (vm_device_is_pci(sb->devs[i])) /* nvdimm, vIOMMU: no bridge slot */
			r = vm_topology_alloc(&l->topo, sb->devs[i]->id, &l->bridge[i], &l->slot[i], e);
	}
	if (r < 0)
		r = err_wrap(e, "the new bridges cannot hold the %zu configured devices", sb->ndevs);
	return r;
}

/* Swap the sandbox's slot map with l's (twice: back as it was). */
static void layout_swap(struct vm_sandbox *sb, struct layout *l)
{
	struct vm_topology t = sb->topo;
	sb->topo = l->topo;
	l->topo = t;
	for (size_t i = 0; i < sb->ndevs; i++) {
		int b = sb->devs[i]->bridge, sl = sb->devs[i]->slot;
		sb->devs[i]->bridge = l->bridge[i];
		sb->devs[i]->slot = l->slot[i];
		l->bridge[i] = b;
		l->slot[i] = sl;
	}
}

static void layout_release(struct layout *l)
{
	if (l->set)
		vm_topology_release(&l->topo);
	free(l->bridge);
	free(l->slot);
	*l = (struct layout){0};
}

static bool topology_changed(const struct vm_config *a, const struct vm_config *b)
{
	return a->root_ports != b->root_ports || a->pci_bridges != b->pci_bridges ||
	       a->pcie_pci_bridges != b->pcie_pci_bridges ||
	       strcmp(vm_config_machine_family(a), vm_config_machine_family(b)) ||
	       strcmp(a->arch, b->arch);
}

static bool cgroup_changed(const struct vm_config *a, const struct vm_config *b)
{
	return strcmp(a->cpu_max, b->cpu_max) || a->memory_max_mib != b->memory_max_mib ||
	       a->pids_max != b->pids_max;
}

struct vm_cgroup_limits vm_sandbox_cgroup_limits(const struct vm_config *cfg)
{
	return (struct vm_cgroup_limits){
		.cpu_max = cfg->cpu_max,
		.memory_max_bytes = (int64_t)cfg->memory_max_mib << 20,
		.pids_max = cfg->pids_max,
	};
}

/* Under sb->lock: may `next` replace the config (devices fit, slots laid
 * out in *l when the bridges change, cgroup limits taken by the kernel)? */
static int config_admit(struct vm_sandbox *sb, const struct vm_config *next, bool live,
			struct layout *l, struct err **e)
{
	int r = 0;
	/* The devices already added must still fit the new config. */
	for (size_t i = 0; r == 0 && i < sb->ndevs; i++)
		r = vm_device_check_config(sb->devs[i], next, e);
	if (r == 0 && !live && topology_changed(next, &sb->cfg))
		r = layout_compute(sb, next, l, e);
	if (r == 0 && sb->cgroup && cgroup_changed(next, &sb->cfg)) {
		/* the kernel judges the new limits; refused, nothing changed */
		struct vm_cgroup_limits lim = vm_sandbox_cgroup_limits(next);
		r = vm_cgroup_limit(sb->cgroup, &lim, e);
	} else if (r == 0 && live && cgroup_changed(next, &sb->cfg)) {
		r = err_set(e, EINVAL, "cgroup limits: this QEMU runs without a cgroup of its own "
			    "(see the log); nothing changed");
	}
	return r;
}

/* Under op_lock: install `next` (taken) with its layout, save it; a save
 * that fails puts everything back as it was (limits included). */
static int config_install(struct vm_sandbox *sb, struct vm_config *next, struct layout *l,
			  bool paths, const struct cred *who, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_config prev = sb->cfg;
	struct cred prev_owner = sb->cfg_owner;
	sb->cfg = *next;
	vm_sandbox_config_changed_locked(sb);
	if (paths)
		sb->cfg_owner = *who;
	if (l->set)
		layout_swap(sb, l);
	pthread_mutex_unlock(&sb->lock);
	int r = vm_sandbox_save(sb, e);
	pthread_mutex_lock(&sb->lock);
	if (r < 0) {
		*next = sb->cfg;
		sb->cfg = prev;
		vm_sandbox_config_changed_locked(sb);
		sb->cfg_owner = prev_owner;
		if (l->set)
			layout_swap(sb, l);
		cleanup_err struct err *le = NULL;
		struct vm_cgroup_limits lim = vm_sandbox_cgroup_limits(&sb->cfg);
		if (sb->cgroup && cgroup_changed(next, &sb->cfg) && vm_cgroup_limit(sb->cgroup, &lim, &le) < 0)
			log_err("%s: cgroup limits not put back: %s", sb->name, le->msg);
		vm_config_release(next);
	} else {
		vm_config_release(&prev);
	}
	pthread_mutex_unlock(&sb->lock);
	return r;
}

int vm_configure_store(struct vm_sandbox *sb, const char *json, const struct cred *who,
			struct err **e)
{
	int r = vm_op_begin(sb, "config", VM_OP_CHANGES, e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	struct vm_config next = {0};
	vm_config_copy(&next, &sb->cfg);
	pthread_mutex_unlock(&sb->lock);
	/* The config changes only under op_lock: read without sb->lock, which
	 * is never held while a caller's path is opened. */
	r = vm_config_merge(&next, json, live, e);
	bool paths = r == 0 && vm_config_paths_differ(&sb->cfg, &next);
	if (paths) /* what the write names on the host, as the writer */
		r = vm_access_config(&sb->cfg, &next, who, vm_get_settings()->qemu_dirs, e);
	struct layout l = {0};
	if (r == 0) {
		pthread_mutex_lock(&sb->lock);
		r = config_admit(sb, &next, live, &l, e);
		pthread_mutex_unlock(&sb->lock);
	}
	if (r == 0)
		r = config_install(sb, &next, &l, paths, who, e);
	else
		vm_config_release(&next);
	layout_release(&l);
	vm_sandbox_commit(sb);
	vm_op_end(sb);
	return r;
}

