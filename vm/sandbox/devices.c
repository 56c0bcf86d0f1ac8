/*
 * vm_devices — adding and removing a sandbox's devices; see devices.h.
 *
 * Not running: the device is recorded with a slot and goes on the boot
 * command line.  Running: the careful QMP sequence — blockdev-add, then
 * device_add on the allocated bridge slot; a failure on device_add deletes
 * the node again and frees the slot, so nothing is left half-added.
 * Removal sends device_del and waits (bounded by remove_timeout_ms) for
 * DEVICE_DELETED before blockdev-del and freeing the slot; a guest that does
 * not answer in time leaves the device `removing` with its slot reserved,
 * and a later remove retries.
 */
#include "vm/sandbox/devices.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/model/parts.h"
#include "vm/qemu/fds.h"
#include "vm/sandbox/access.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/sandbox.h"

static const char *const *reserved_ids;

void vm_devices_reserve(const char *const *ids) { reserved_ids = ids; }

bool vm_devices_reserved(const char *id)
{
	for (size_t i = 0; reserved_ids && reserved_ids[i]; i++)
		if (!strcmp(id, reserved_ids[i]))
			return true;
	return false;
}

struct vm_device *vm_devices_find(struct vm_sandbox *sb, const char *id)
{
	for (size_t i = 0; i < sb->ndevs; i++)
		if (!strcmp(sb->devs[i]->id, id))
			return sb->devs[i];
	return NULL;
}

void vm_devices_ids(struct vm_sandbox *sb, struct strv *out)
{
	pthread_mutex_lock(&sb->lock);
	for (size_t i = 0; i < sb->ndevs; i++)
		strv_add(out, sb->devs[i]->id);
	pthread_mutex_unlock(&sb->lock);
}

/* Ids share one namespace with bridges and hot-added vCPUs in QEMU. */
static int check_id_free(struct vm_sandbox *sb, const char *id, struct err **e)
{
	for (size_t i = 0; reserved_ids && reserved_ids[i]; i++)
		if (!strcmp(id, reserved_ids[i]))
			return err_set(e, EINVAL, "id: '%s' is a reserved name", id);
	if (vm_devices_find(sb, id))
		return err_set(e, EEXIST, "id: a device named '%s' already exists", id);
	if (vm_topology_find(&sb->topo, id) >= 0)
		return err_set(e, EEXIST, "id: '%s' is the id of a bridge", id);
	if (!strncmp(id, "cpu-", 4) || !strcmp(id, "qmp") || !strcmp(id, "console"))
		return err_set(e, EINVAL, "id: '%s' is reserved for sandboxfs' own objects", id);
	return 0;
}

static void remove_from_list(struct vm_sandbox *sb, struct vm_device *d)
{
	for (size_t i = 0; i < sb->ndevs; i++) {
		if (sb->devs[i] != d)
			continue;
		memmove(&sb->devs[i], &sb->devs[i + 1], (sb->ndevs - i - 1) * sizeof(*sb->devs));
		sb->ndevs--;
		return;
	}
}

/* VFIO devices take longer to realize (DMA mapping of guest memory). */
static int add_timeout(const struct vm_device *d)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	return d->type && !strcmp(d->type, "vfio") ? tmo * 6 : tmo;
}

/* A QMP failure after which QEMU may still do (or have done) the command:
 * no reply in time, or the connection gone before one. */
static bool outcome_unknown(const struct err *e)
{
	return e && (e->code == ETIMEDOUT || e->code == ECONNRESET || e->code == ENOTCONN ||
		     e->code == EPIPE);
}

/* Undo the first `done` commands of `cmds`, newest first: false when one
 * could not be undone (QEMU may hold it still). */
static bool undo_done(struct vm_sandbox *sb, struct qmp_client *qmp, struct json_object *cmds,
		      size_t done)
{
	pthread_mutex_lock(&sb->lock);
	int wait_ms = sb->cfg.remove_timeout_ms;
	pthread_mutex_unlock(&sb->lock);
	bool all = true;
	while (done-- > 0) {
		cleanup_err struct err *e = NULL;
		if (vm_devices_undo(sb, qmp, json_object_array_get_idx(cmds, done), wait_ms, &e) < 0) {
			log_err("%s", e->msg);
			all = false;
		}
	}
	return all;
}

/*
 * Execute the parts' QMP commands in order; if one fails, undo the ones
 * already done in reverse, so no node, netdev, object, fd or slot is left
 * half-added.
 */
static int hot_add(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		   const char *bus, int addr, bool *unknown, struct err **e)
{
	int tmo = add_timeout(d), qtmo = vm_get_settings()->qmp_timeout_ms;
	struct vm_dev_parts parts = {.main = -1};
	struct vm_fdplan plan = {0};
	int r = vm_devices_parts(sb, d, bus, addr, &parts, &plan, e);
	cleanup_json struct json_object *cmds = NULL;
	if (r == 0)
		r = vm_dev_parts_qmp(&parts, &cmds, e);
	vm_dev_parts_release(&parts);
	struct vm_fds_passed passed = {0};
	struct vm_fds_ctx ctx = {.netns_fd = -1};
	if (r == 0) /* under op_lock: the config holds still */
		r = vm_sandbox_fds_ctx(sb, &ctx, e);
	if (r == 0)
		r = vm_fds_pass_qmp(qmp, d->id, &plan, &ctx, cmds, &passed, qtmo, e);
	if (ctx.netns_fd >= 0)
		close(ctx.netns_fd);
	vm_fdplan_release(&plan);
	if (r < 0) {
		*unknown = outcome_unknown(*e);
		if (!*unknown && qmp_client_alive(qmp))
			vm_fds_close_qmp(qmp, d->id, &passed, qtmo);
		return err_wrap(e, "%s", d->id);
	}
	size_t n = json_object_array_length(cmds), done = 0;
	for (; done < n; done++) {
		struct json_object *c = json_object_array_get_idx(cmds, done), *args;
		const char *cmd = util_json_str(c, "execute");
		json_object_object_get_ex(c, "arguments", &args);
		r = qmp_execute(qmp, cmd, json_object_get(args), tmo, NULL, e);
		if (r < 0) {
			err_wrap(e, "%s: %s", d->id, cmd);
			break;
		}
	}
	/* Failed for sure: undo what was done.  Unknown (no reply), or an undo
	 * that failed: leave it to the reconciliation with QEMU's answer. */
	if (r < 0)
		*unknown = outcome_unknown(*e) || !qmp_client_alive(qmp);
	if (r < 0 && !*unknown) {
		*unknown = !undo_done(sb, qmp, cmds, done);
		/* Names not consumed by a netdev are still QEMU's to close. */
		vm_fds_close_qmp(qmp, d->id, &passed, qtmo);
	}
	if (r == 0) { /* the fdsets go with the device when it is removed */
		pthread_mutex_lock(&sb->lock);
		memcpy(d->fdsets, passed.sets, passed.nsets * sizeof(passed.sets[0]));
		d->nfdsets = passed.nsets;
		pthread_mutex_unlock(&sb->lock);
	}
	return r;
}

/* Under op_lock, without sb->lock: every host path of the device checked
 * as its owner, in the sandbox's network namespace. */
static int access_device(struct vm_sandbox *sb, const struct vm_device *d, struct err **e)
{
	struct vm_fds_ctx ctx;
	int r = vm_sandbox_fds_ctx(sb, &ctx, e);
	pthread_mutex_lock(&sb->lock);
	ctx.backends_later = !vm_state_is_live(sb->state);
	pthread_mutex_unlock(&sb->lock);
	if (r == 0)
		r = vm_access_device(&sb->cfg, sb->console_log, &ctx, d, e);
	if (ctx.netns_fd >= 0)
		close(ctx.netns_fd);
	return r;
}

/* Under op_lock and sb->lock: the device may join this sandbox now; its
 * slot is taken. */
static int admit(struct vm_sandbox *sb, struct vm_device *d, bool live, struct err **e)
{
	int r = vm_device_check_config(d, &sb->cfg, e);
	if (r == 0 && live && !vm_device_hotpluggable(d))
		r = err_set(e, EOPNOTSUPP, "a %s device can only be added while the sandbox is not "
			    "running (cold plug)", d->type);
	/* A vhost netdev by ifname makes QEMU open /dev/vhost-net itself, and
	 * QEMU 7.2 aborts when it cannot (net_client_init1: Assertion `nc'
	 * failed), killing the guest: refuse it here instead.  (With pass_fds
	 * the daemon opens it and fails cleanly before QMP.) */
	if (r == 0 && live && d->kind == VM_DEVK_NET && vm_device_bool(d, "vhost") &&
	    !vm_device_bool(d, "pass_fds") && access("/dev/vhost-net", R_OK | W_OK) < 0)
		r = err_set(e, ENODEV, "vhost: /dev/vhost-net: %s (this host has no vhost-net)",
			    strerror(errno));
	if (r == 0)
		r = check_id_free(sb, d->id, e);
	if (r == 0)
		r = vm_device_check_single(d, sb->devs, sb->ndevs, e);
	if (r == 0 && vm_device_is_pci(d))
		r = vm_topology_alloc(&sb->topo, d->id, &d->bridge, &d->slot, e);
	return r;
}

/* Under op_lock: take a listed device out again (its add failed). */
static void unlist(struct vm_sandbox *sb, struct vm_device *d)
{
	pthread_mutex_lock(&sb->lock);
	vm_topology_free(&sb->topo, d->bridge, d->slot);
	remove_from_list(sb, d);
	pthread_mutex_unlock(&sb->lock);
	vm_device_free(d);
}

/* Under op_lock: the QMP side of an add (the device is listed, `adding`,
 * and on disk already). */
static int add_live(struct vm_sandbox *sb, struct vm_device *d, const char *bus, int addr,
		    struct err **e)
{
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
	bool unknown = false;
	int r = qmp ? hot_add(sb, qmp, d, bus, addr, &unknown, e) : err_ret(e);
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	if (r < 0 && unknown && live) /* the next operation asks QEMU first */
		sb->settling = true;
	pthread_mutex_unlock(&sb->lock);
	if (r < 0 && unknown && live)
		return err_wrap(e, "outcome unknown; it stays 'adding', and the next operation on "
				   "the sandbox reconciles with QEMU (writing the same device again "
				   "completes or redoes it)");
	if (r < 0) {
		unlist(sb, d);
		return r;
	}
	pthread_mutex_lock(&sb->lock);
	d->state = VM_DEV_ATTACHED;
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: hot-added %s on %s", sb->name, d->id, bus);
	return 0;
}

/* Under op_lock and sb->lock: the same device (same spec) is there and
 * done already — a retry of an add whose outcome was unknown. */
static bool added_already(struct vm_sandbox *sb, const struct vm_device *d, bool live)
{
	struct vm_device *o = vm_devices_find(sb, d->id);
	if (!o || o->state != (live ? VM_DEV_ATTACHED : VM_DEV_CONFIGURED))
		return false;
	cleanup_json struct json_object *a = vm_device_spec(o), *b = vm_device_spec(d);
	return json_object_equal(a, b);
}

int vm_devices_add_store(struct vm_sandbox *sb, const char *json, const struct cred *who,
			struct err **e)
{
	struct vm_device *d = NULL;
	int r = vm_device_parse(json, &d, e);
	if (r < 0)
		return r;
	d->owner = *who;
	char what[64];
	snprintf(what, sizeof(what), "devices/add %s", d->id);
	if ((r = vm_op_begin(sb, what, VM_OP_CHANGES, e)) < 0) {
		vm_device_free(d);
		return r;
	}
	/* What it names on the host, as the writer (a cold device too).  The
	 * config only changes under op_lock: read here without sb->lock, which
	 * is never held while a caller's path is opened (the path may be in
	 * this very tree, whose handlers take sb->lock). */
	r = vm_device_check_config(d, &sb->cfg, e);
	if (r == 0)
		r = access_device(sb, d, e);
	if (r < 0) {
		vm_op_end(sb);
		vm_device_free(d);
		return r;
	}
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	if (added_already(sb, d, live)) {
		pthread_mutex_unlock(&sb->lock);
		vm_op_end(sb);
		log_info("%s: %s was added already (a retry)", sb->name, d->id);
		vm_device_free(d);
		return 0;
	}
	r = admit(sb, d, live, e);
	if (r < 0) {
		pthread_mutex_unlock(&sb->lock);
		vm_op_end(sb);
		vm_device_free(d);
		return r;
	}
	char bus[sizeof(sb->topo.bridges[0].id)] = "";
	int addr = 0;
	if (d->bridge >= 0) {
		memcpy(bus, sb->topo.bridges[d->bridge].id, sizeof(bus));
		addr = vm_topology_slot_addr(&sb->topo, d->bridge, d->slot);
	}
	d->state = live ? VM_DEV_ADDING : VM_DEV_CONFIGURED;
	/* Listed now so the id stays taken while QMP runs without the lock,
	 * and on disk before QEMU hears of it (write-ahead): whatever happens
	 * next, the state file knows what QEMU may hold. */
	sb->devs = xrealloc(sb->devs, (sb->ndevs + 1) * sizeof(*sb->devs));
	sb->devs[sb->ndevs++] = d;
	pthread_mutex_unlock(&sb->lock);
	r = vm_sandbox_save(sb, e);
	if (r < 0)
		unlist(sb, d);
	else if (live)
		r = add_live(sb, d, bus, addr, e);
	vm_sandbox_commit_outcome(sb); /* `adding` on disk: QEMU tells the rest */
	vm_op_end(sb);
	return r;
}

/* After its main function is gone: the backends in reverse order (child
 * devices — a scsi-hd on its controller — went with their parent), then
 * its descriptors. */
static void backends_undo(struct vm_sandbox *sb, struct qmp_client *qmp, const char *id,
			  struct json_object *cmds, const struct vm_fds_passed *sets, int wait_ms)
{
	size_t n = json_object_array_length(cmds);
	while (n-- > 0) {
		struct json_object *c = json_object_array_get_idx(cmds, n);
		if (!strcmp(util_json_str(c, "execute"), "device_add"))
			continue;
		cleanup_err struct err *e = NULL;
		if (vm_devices_undo(sb, qmp, c, wait_ms, &e) < 0)
			log_err("%s", e->msg);
	}
	vm_fds_close_qmp(qmp, id, sets, vm_get_settings()->qmp_timeout_ms);
}

/* device_del of the main function, on disk as `removing` first; false in
 * *gone when the guest has not released it yet. */
static int unplug(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		  const char *main_id, int wait_ms, struct err **e)
{
	char id[VM_DEVICE_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", d->id);
	pthread_mutex_lock(&sb->lock);
	enum vm_device_state prev = d->state;
	d->state = VM_DEV_REMOVING;
	pthread_mutex_unlock(&sb->lock);
	int r = vm_sandbox_save(sb, e);
	if (r < 0) {
		pthread_mutex_lock(&sb->lock);
		d->state = prev;
		pthread_mutex_unlock(&sb->lock);
		return r;
	}
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string(main_id));
	cleanup_err struct err *de = NULL;
	r = qmp_execute(qmp, "device_del", args, vm_get_settings()->qmp_timeout_ms, NULL, &de);
	if (r < 0 && de->code == ENODEV)
		return 0; /* QEMU no longer knows it: gone */
	if (r < 0 && outcome_unknown(de)) {
		pthread_mutex_lock(&sb->lock);
		sb->settling = true;
		pthread_mutex_unlock(&sb->lock);
		return err_set(e, de->code, "%s: device_del: %s (outcome unknown: it stays 'removing'; "
			       "the next operation reconciles with QEMU)", id, de->msg);
	}
	/* Refused, unless an unplug is in flight already (a retry): wait for it. */
	if (r < 0 && !(prev == VM_DEV_REMOVING && de->code == EIO)) {
		pthread_mutex_lock(&sb->lock);
		d->state = prev;
		pthread_mutex_unlock(&sb->lock);
		return err_set(e, de->code, "%s: device_del: %s", id, de->msg);
	}
	r = qmp_wait_event(qmp, "DEVICE_DELETED", "device", main_id, wait_ms, NULL, e);
	if (r < 0) {
		pthread_mutex_lock(&sb->lock);
		sb->settling = true; /* followed when the guest releases it */
		pthread_mutex_unlock(&sb->lock);
		return err_wrap(e, "%s: the guest did not release the device (it stays 'removing'; "
				   "it goes when the guest does, or write remove again)", id);
	}
	return 0;
}

/*
 * Unplug the device's main (placed) function and wait for DEVICE_DELETED,
 * then undo its backends.  A `lost` device (QEMU has no such function any
 * more) only has its backends undone.
 */
static int hot_remove(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		      int wait_ms, struct err **e)
{
	/* QEMU may exit while we wait; never touch d after that. */
	char id[VM_DEVICE_ID_MAX + 1], main_id[64];
	snprintf(id, sizeof(id), "%s", d->id);
	struct vm_fds_passed sets = {.nsets = d->nfdsets};
	memcpy(sets.sets, d->fdsets, d->nfdsets * sizeof(d->fdsets[0]));
	cleanup_json struct json_object *cmds = NULL;
	int r = vm_devices_main_id(sb, d, main_id, sizeof(main_id), &cmds, NULL, e);
	if (r == 0 && d->state != VM_DEV_LOST)
		r = unplug(sb, qmp, d, main_id, wait_ms, e);
	if (r == 0)
		backends_undo(sb, qmp, id, cmds, &sets, wait_ms);
	return r;
}

static int device_remove_locked(struct vm_sandbox *sb, const char *id, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_device *d = vm_devices_find(sb, id);
	bool live = vm_state_is_live(sb->state);
	int wait_ms = sb->cfg.remove_timeout_ms;
	pthread_mutex_unlock(&sb->lock);
	if (!d)
		return err_set(e, ENODEV, "no device '%.64s'", id);
	if (live && !vm_device_hotpluggable(d))
		return err_set(e, EOPNOTSUPP, "%s is a %s device, which can only be "
			       "removed while the sandbox is not running", id, d->type);
	if (live) {
		cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
		int r = qmp ? hot_remove(sb, qmp, d, wait_ms, e) : err_ret(e);
		if (r < 0)
			return r;
	}
	pthread_mutex_lock(&sb->lock);
	size_t at = 0;
	while (at < sb->ndevs && sb->devs[at] != d)
		at++;
	remove_from_list(sb, d);
	pthread_mutex_unlock(&sb->lock);
	/* Not running, the removal is the change itself: on disk, or undone.
	 * Live, it is gone from QEMU: `removing` on disk reconciles to gone,
	 * and the caller's commit saves the outcome. */
	if (!live && vm_sandbox_save(sb, e) < 0) {
		pthread_mutex_lock(&sb->lock);
		sb->devs = xrealloc(sb->devs, (sb->ndevs + 1) * sizeof(*sb->devs));
		memmove(&sb->devs[at + 1], &sb->devs[at], (sb->ndevs - at) * sizeof(*sb->devs));
		sb->devs[at] = d;
		sb->ndevs++;
		pthread_mutex_unlock(&sb->lock);
		return err_ret(e);
	}
	pthread_mutex_lock(&sb->lock);
	vm_topology_free(&sb->topo, d->bridge, d->slot);
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: removed device %s", sb->name, id);
	vm_device_free(d);
	return 0;
}

int vm_devices_remove_store(struct vm_sandbox *sb, const char *id, const struct cred *who,
			struct err **e)
{
	char what[96];
	snprintf(what, sizeof(what), "devices/remove %.64s", id);
	int r = vm_op_begin(sb, what, VM_OP_CHANGES, e);
	if (r < 0)
		return r;
	r = device_remove_locked(sb, id, e);
	vm_sandbox_commit_outcome(sb);
	vm_op_end(sb);
	return r;
}
