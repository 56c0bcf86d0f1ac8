/*
 * vm_reconcile — the tree made equal to what QEMU has; see reconcile.h.
 * reconcile_view.c asks QEMU, reconcile_hot.c rebuilds vCPUs and DIMMs;
 * here are the devices, the orphans and the report.
 */
#include "vm/sandbox/reconcile.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/fds.h"
#include "vm/sandbox/devices.h"
#include "vm/sandbox/reconcile_impl.h"
#include "vm/sandbox/sandbox.h"

/* Does QEMU hold what `undo` (a command undoing one part) would remove?
 * netdevs cannot be listed on QEMU 7.2: always tried. */
static bool holds(const struct vm_reconcile_view *v, const char *undo, const char *name)
{
	if (!strcmp(undo, "blockdev-del"))
		return vm_reconcile_has(&v->nodes, name);
	if (!strcmp(undo, "chardev-remove"))
		return vm_reconcile_has(&v->chardevs, name);
	if (!strcmp(undo, "object-del"))
		return vm_reconcile_has(&v->objects, name);
	if (!strcmp(undo, "device_del"))
		return vm_reconcile_has(&v->peripheral, name);
	return true;
}

/* device_del, newest first, each device function of the parts QEMU still
 * holds, waiting for the guest: 1 when one was not released in time (the
 * device is then `removing`). */
static int unplug_held(struct vm_sandbox *sb, struct qmp_client *qmp, const struct vm_reconcile_view *v,
		       struct vm_device *d, struct json_object *cmds, struct vm_reconcile_report *rep,
		       struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	int wait_ms = sb->cfg.remove_timeout_ms;
	pthread_mutex_unlock(&sb->lock);
	size_t n = json_object_array_length(cmds);
	while (n-- > 0) {
		struct json_object *c = json_object_array_get_idx(cmds, n), *a;
		if (strcmp(util_json_str(c, "execute"), "device_add") ||
		    !json_object_object_get_ex(c, "arguments", &a) ||
		    !vm_reconcile_has(&v->peripheral, util_json_str(a, "id")))
			continue;
		cleanup_err struct err *ue = NULL;
		if (vm_devices_undo(sb, qmp, c, wait_ms, &ue) == 0) {
			vm_reconcile_note(rep, "orphans_removed", util_json_str(a, "id"));
			continue;
		}
		if (ue->code == ECONNRESET || ue->code == ENOTCONN)
			return err_set(e, ue->code, "%s", ue->msg);
		pthread_mutex_lock(&sb->lock);
		d->state = VM_DEV_REMOVING;
		pthread_mutex_unlock(&sb->lock);
		vm_reconcile_note(rep, "removing", d->id);
		return 1;
	}
	return 0;
}

/* Undo, newest first, every part of a device QEMU still holds (its device
 * functions are gone already). */
static int undo_held(struct vm_sandbox *sb, struct qmp_client *qmp, const struct vm_reconcile_view *v,
		     struct json_object *cmds, struct vm_reconcile_report *rep, struct err **e)
{
	size_t n = json_object_array_length(cmds);
	int r = 0;
	while (r == 0 && n-- > 0) {
		const char *cmd = NULL, *name = NULL;
		cleanup_json struct json_object *undo =
			vm_devices_undo_cmd(json_object_array_get_idx(cmds, n), &cmd, &name);
		if (!undo || !strcmp(cmd, "device_del") || !holds(v, cmd, name))
			continue;
		struct json_object *a;
		json_object_object_get_ex(undo, "arguments", &a);
		r = vm_reconcile_exec(sb, qmp, cmd, json_object_get(a), e);
		if (r == 0 && strcmp(cmd, "netdev_del") != 0)
			vm_reconcile_note(rep, "orphans_removed", name);
	}
	return r;
}

/* Does QEMU hold every device function the add commands create? */
static bool functions_held(const struct vm_reconcile_view *v, struct json_object *cmds)
{
	size_t n = json_object_array_length(cmds);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cmds, i), *a;
		if (strcmp(util_json_str(c, "execute"), "device_add") ||
		    !json_object_object_get_ex(c, "arguments", &a))
			continue;
		if (!vm_reconcile_has(&v->peripheral, util_json_str(a, "id")))
			return false;
	}
	return true;
}

static int unplug_again(struct vm_sandbox *sb, struct qmp_client *qmp, const char *id,
			struct err **e)
{
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "id", json_object_new_string(id));
	return vm_reconcile_exec(sb, qmp, "device_del", a, e);
}

/* The fdsets QEMU holds for device `id` (add-fd's opaque is "ID PATH"). */
static size_t fdsets_of(const struct vm_reconcile_view *v, const char *id, int64_t *sets, size_t max)
{
	size_t n = 0, len = json_object_is_type(v->fdsets, json_type_array) ? json_object_array_length(v->fdsets) : 0;
	size_t idlen = strlen(id);
	for (size_t i = 0; i < len && n < max; i++) {
		struct json_object *s = json_object_array_get_idx(v->fdsets, i), *fds;
		int64_t set;
		if (util_json_int(s, "fdset-id", &set) < 0 || !json_object_object_get_ex(s, "fds", &fds))
			continue;
		const char *op = util_json_str(json_object_array_get_idx(fds, 0), "opaque");
		if (op && !strncmp(op, id, idlen) && op[idlen] == ' ')
			sets[n++] = set;
	}
	return n;
}

static void drop_device(struct vm_sandbox *sb, struct vm_device *d)
{
	pthread_mutex_lock(&sb->lock);
	vm_topology_free(&sb->topo, d->bridge, d->slot);
	for (size_t i = 0; i < sb->ndevs; i++)
		if (sb->devs[i] == d) {
			memmove(&sb->devs[i], &sb->devs[i + 1], (sb->ndevs - i - 1) * sizeof(*sb->devs));
			sb->ndevs--;
			break;
		}
	pthread_mutex_unlock(&sb->lock);
	vm_device_free(d);
}

/* One device of the tree against QEMU's view (see reconcile.h). */
static int device_pass(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		       const struct vm_reconcile_view *v, struct vm_reconcile_report *rep,
		       struct err **e)
{
	char main_id[64];
	cleanup_json struct json_object *cmds = NULL;
	size_t nfds = 0;
	int r = vm_devices_main_id(sb, d, main_id, sizeof(main_id), &cmds, &nfds, e);
	if (r < 0)
		return r;
	/* Present only whole: every device function the parts add (an add
	 * cut short may have placed the main one and not a port on it). */
	bool present = vm_reconcile_has(&v->peripheral, main_id) && functions_held(v, cmds);
	pthread_mutex_lock(&sb->lock);
	enum vm_device_state st = d->state;
	if (present && (st == VM_DEV_ADDING || st == VM_DEV_LOST)) {
		d->state = VM_DEV_ATTACHED;
		d->nfdsets = fdsets_of(v, d->id, d->fdsets, sizeof(d->fdsets) / sizeof(d->fdsets[0]));
	} else if (!present && (st == VM_DEV_ATTACHED || st == VM_DEV_CONFIGURED)) {
		d->state = VM_DEV_LOST;
	}
	pthread_mutex_unlock(&sb->lock);
	if (present && st == VM_DEV_ADDING)
		vm_reconcile_note(rep, "adopted", d->id);
	else if (present && st == VM_DEV_LOST)
		vm_reconcile_note(rep, "found", d->id);
	else if (!present && (st == VM_DEV_ATTACHED || st == VM_DEV_CONFIGURED))
		vm_reconcile_note(rep, "lost", d->id);
	/* Still there while `removing`: its device_del may never have reached
	 * QEMU (written ahead, then the daemon killed) — ask again; QEMU
	 * answers an error while an unplug is pending, and the DEVICE_DELETED
	 * that ends it is followed. */
	if (present && st == VM_DEV_REMOVING)
		return unplug_again(sb, qmp, main_id, e);
	if (present || (st != VM_DEV_ADDING && st != VM_DEV_REMOVING))
		return 0;
	/* Never added, or removed while nobody watched: what is left goes —
	 * its device functions first, released by the guest (a backend in use
	 * cannot go); one not released in time leaves it `removing`, finished
	 * when its DEVICE_DELETED comes. */
	r = unplug_held(sb, qmp, v, d, cmds, rep, e);
	if (r == 1)
		return 0;
	if (r == 0)
		r = undo_held(sb, qmp, v, cmds, rep, e);
	/* getfd names cannot be listed: closed blind; the fdsets go with the
	 * orphans (their opaque names a device no longer in the tree). */
	struct vm_fds_passed sets = {.names = nfds};
	if (r == 0)
		vm_fds_close_qmp(qmp, d->id, &sets, vm_get_settings()->qmp_timeout_ms);
	if (r == 0) {
		vm_reconcile_note(rep, "dropped", d->id);
		drop_device(sb, d);
	}
	return r;
}

static int devices_pass(struct vm_sandbox *sb, struct qmp_client *qmp, const struct vm_reconcile_view *v,
			struct vm_reconcile_report *rep, struct err **e)
{
	/* Under op_lock the list changes only here: a copy to walk. */
	pthread_mutex_lock(&sb->lock);
	size_t n = sb->ndevs;
	struct vm_device **devs = xcalloc(n + 1, sizeof(*devs));
	memcpy(devs, sb->devs, n * sizeof(*devs));
	pthread_mutex_unlock(&sb->lock);
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = device_pass(sb, qmp, devs[i], v, rep, e);
	free(devs);
	return r;
}

/* The ids of the -device options of the sandbox's argv as it stands (its
 * bridges, its devices, the fixed ones such as an IOMMU). */
static void argv_ids(struct vm_sandbox *sb, struct strv *out)
{
	cleanup_strv struct strv argv = {0};
	cleanup_err struct err *e = NULL;
	struct vm_cmdline_ctx ctx = vm_sandbox_cmdline_ctx(sb, NULL);
	pthread_mutex_lock(&sb->lock);
	int r = vm_cmdline_build(&sb->cfg, &sb->topo, sb->devs, sb->ndevs, &ctx, &argv, &e);
	pthread_mutex_unlock(&sb->lock);
	if (r < 0) {
		log_warn("%s: reconcile: no argv to compare with: %s", sb->name, e->msg);
		return;
	}
	for (size_t i = 0; i + 1 < argv.n; i++) {
		if (strcmp(argv.v[i], "-device"))
			continue;
		/* "driver,key=value,..." with ",," standing for a comma */
		for (const char *p = argv.v[i + 1]; p && *p;) {
			const char *end = p;
			while (*end && !(end[0] == ',' && end[1] != ','))
				end += end[0] == ',' ? 2 : 1;
			if (!strncmp(p, "id=", 3))
				strv_add_take(out, xstrndup(p + 3, (size_t)(end - p - 3)));
			p = *end ? end + 1 : NULL;
		}
	}
}

/* `name` is PREFIX-X for an X that owns nothing any more. */
static bool orphan_name(const char *name, const char *prefix, const struct strv *owners)
{
	size_t n = strlen(prefix);
	return !strncmp(name, prefix, n) && name[n] && !vm_reconcile_has(owners, name + n);
}

/* Removed already in this reconciliation (the view is from before)? */
static bool removed_now(const struct vm_reconcile_report *rep, const char *name)
{
	struct json_object *list;
	if (!json_object_object_get_ex(rep->data, "orphans_removed", &list))
		return false;
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(list, i)), name))
			return true;
	return false;
}

static int remove_named(struct vm_sandbox *sb, struct qmp_client *qmp, const char *cmd,
			const char *key, const char *name, struct vm_reconcile_report *rep,
			struct err **e)
{
	if (removed_now(rep, name))
		return 0;
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, key, json_object_new_string(name));
	vm_reconcile_note(rep, "orphans_removed", name);
	return vm_reconcile_exec(sb, qmp, cmd, a, e);
}

/* What QEMU holds under the daemon's names that nothing in the tree owns. */
static int orphans_pass(struct vm_sandbox *sb, struct qmp_client *qmp, const struct vm_reconcile_view *v,
			struct vm_reconcile_report *rep, struct err **e)
{
	cleanup_strv struct strv owners = {0}, known = {0};
	vm_devices_ids(sb, &owners);
	argv_ids(sb, &known);
	pthread_mutex_lock(&sb->lock);
	for (size_t i = 0; i < sb->ndimms; i++) {
		strv_add(&owners, sb->dimms[i].id);
		strv_add(&known, sb->dimms[i].id);
	}
	for (size_t i = 0; i < sb->nhot_cpus; i++)
		strv_add(&known, sb->hot_cpus[i].id);
	pthread_mutex_unlock(&sb->lock);
	int r = 0;
	for (size_t i = 0; r == 0 && i < v->nodes.n; i++)
		if (orphan_name(v->nodes.v[i], "drive-", &owners))
			r = remove_named(sb, qmp, "blockdev-del", "node-name", v->nodes.v[i], rep, e);
	for (size_t i = 0; r == 0 && i < v->chardevs.n; i++)
		if (orphan_name(v->chardevs.v[i], "char-", &owners))
			r = remove_named(sb, qmp, "chardev-remove", "id", v->chardevs.v[i], rep, e);
	for (size_t i = 0; r == 0 && i < v->peripheral.n; i++)
		if (known.n && !vm_reconcile_has(&known, v->peripheral.v[i]))
			r = remove_named(sb, qmp, "device_del", "id", v->peripheral.v[i], rep, e);
	for (size_t i = 0; r == 0 && i < v->objects.n; i++)
		if (orphan_name(v->objects.v[i], "mem-", &owners) ||
		    orphan_name(v->objects.v[i], "rng-", &owners))
			r = remove_named(sb, qmp, "object-del", "id", v->objects.v[i], rep, e);
	size_t nsets = json_object_is_type(v->fdsets, json_type_array) ? json_object_array_length(v->fdsets) : 0;
	for (size_t i = 0; r == 0 && i < nsets; i++) {
		struct json_object *s = json_object_array_get_idx(v->fdsets, i), *fds;
		int64_t set;
		const char *op = json_object_object_get_ex(s, "fds", &fds) ?
				 util_json_str(json_object_array_get_idx(fds, 0), "opaque") : NULL;
		if (!op || util_json_int(s, "fdset-id", &set) < 0 || !strchr(op, ' '))
			continue;
		cleanup_free char *owner = xstrndup(op, (size_t)(strchr(op, ' ') - op));
		if (vm_reconcile_has(&owners, owner) || removed_now(rep, op))
			continue;
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "fdset-id", json_object_new_int64(set));
		vm_reconcile_note(rep, "orphans_removed", op);
		r = vm_reconcile_exec(sb, qmp, "remove-fd", a, e);
	}
	return r;
}

static void report(struct vm_sandbox *sb, struct vm_reconcile_report *rep)
{
	const char *text = json_object_to_json_string_ext(rep->data, JSON_C_TO_STRING_PLAIN);
	if (rep->changed)
		log_info("%s: reconciled with QEMU: %s", sb->name, text);
	else
		log_debug("%s: reconciled with QEMU: nothing differed", sb->name);
	pthread_mutex_lock(&sb->lock);
	sb->settling = false;
	vm_sandbox_events_push_locked(sb, vm_sandbox_event_line("RECONCILED", rep->data));
	pthread_mutex_unlock(&sb->lock);
}

int vm_reconcile(struct vm_sandbox *sb, const char *why, struct err **e)
{
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
	if (!qmp)
		return err_wrap(e, "reconcile");
	struct vm_reconcile_view v;
	int r = vm_reconcile_view_load(qmp, &v, e);
	if (r < 0)
		return err_wrap(e, "reconcile: QEMU did not say what it has");
	cleanup_json struct json_object *data = json_object_new_object();
	json_object_object_add(data, "why", json_object_new_string(why));
	struct vm_reconcile_report rep = {.data = data};
	r = devices_pass(sb, qmp, &v, &rep, e);
	if (r == 0)
		r = vm_reconcile_cpus(sb, qmp, &v, &rep, e);
	if (r == 0)
		r = vm_reconcile_dimms(sb, qmp, &v, &rep, e);
	if (r == 0)
		r = orphans_pass(sb, qmp, &v, &rep, e);
	vm_reconcile_view_release(&v);
	if (r < 0)
		return err_wrap(e, "reconcile");
	report(sb, &rep);
	vm_sandbox_commit(sb);
	return 0;
}
