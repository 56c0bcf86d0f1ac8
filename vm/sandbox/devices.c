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

/* The QMP parts of a device placed on bus/addr (one model, two outputs);
 * the descriptors they name by number are listed in *plan. */
static int device_parts(struct vm_sandbox *sb, const struct vm_device *d, const char *bus, int addr,
			struct vm_dev_parts *parts, struct vm_fdplan *plan, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_dev_env env = {
		.arch = vm_config_arch(&sb->cfg),
		.bus = bus && *bus ? bus : NULL,
		.addr = addr,
		.disable_modern = sb->cfg.disable_modern,
		.console_log = sb->console_log,
		.fds = plan,
		.pass_files = vm_settings_confined(),
		.owner = &d->owner,
	};
	int r = vm_device_parts(d, &env, parts, e);
	pthread_mutex_unlock(&sb->lock);
	return r;
}

/* VFIO devices take longer to realize (DMA mapping of guest memory). */
static int add_timeout(const struct vm_device *d)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	return d->type && !strcmp(d->type, "vfio") ? tmo * 6 : tmo;
}

/* Undo one executed QMP add (best effort, logged), for rollback/removal;
 * a device_del waits (wait_ms) for its DEVICE_DELETED. */
static void undo_part(struct vm_sandbox *sb, struct qmp_client *qmp, const char *cmd,
		      struct json_object *args, int wait_ms)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	cleanup_json struct json_object *undo = vm_dev_parts_undo(cmd, args);
	if (!undo)
		return;
	const char *del = util_json_str(undo, "execute");
	struct json_object *a;
	json_object_object_get_ex(undo, "arguments", &a);
	const char *name = util_json_str(a, !strcmp(del, "blockdev-del") ? "node-name" : "id");
	cleanup_err struct err *e = NULL;
	if (qmp_execute(qmp, del, json_object_get(a), tmo, NULL, &e) < 0) {
		log_err("%s: %s %s: %s", sb->name, del, name, e->msg);
		return;
	}
	if (!strcmp(del, "device_del") &&
	    qmp_wait_event(qmp, "DEVICE_DELETED", "device", name, wait_ms, NULL, &e) < 0)
		log_err("%s: %s %s: %s", sb->name, del, name, e->msg);
}

/* Undo the first `done` commands of `cmds`, newest first. */
static void undo_done(struct vm_sandbox *sb, struct qmp_client *qmp, struct json_object *cmds,
		      size_t done)
{
	pthread_mutex_lock(&sb->lock);
	int wait_ms = sb->cfg.remove_timeout_ms;
	pthread_mutex_unlock(&sb->lock);
	while (done-- > 0) {
		struct json_object *c = json_object_array_get_idx(cmds, done), *args;
		json_object_object_get_ex(c, "arguments", &args);
		undo_part(sb, qmp, util_json_str(c, "execute"), args, wait_ms);
	}
}

/*
 * Execute the parts' QMP commands in order; if one fails, undo the ones
 * already done in reverse, so no node, netdev, object, fd or slot is left
 * half-added.
 */
static int hot_add(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		   const char *bus, int addr, struct err **e)
{
	int tmo = add_timeout(d), qtmo = vm_get_settings()->qmp_timeout_ms;
	struct vm_dev_parts parts = {.main = -1};
	struct vm_fdplan plan = {0};
	int r = device_parts(sb, d, bus, addr, &parts, &plan, e);
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
		if (qmp_client_alive(qmp))
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
	if (r < 0 && qmp_client_alive(qmp)) {
		undo_done(sb, qmp, cmds, done);
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
	if (r == 0 && vm_device_is_pci(d))
		r = vm_topology_alloc(&sb->topo, d->id, &d->bridge, &d->slot, e);
	return r;
}

/* Under op_lock: the QMP side of an add (the device is listed already). */
static int add_live(struct vm_sandbox *sb, struct vm_device *d, const char *bus, int addr,
		    struct err **e)
{
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
	int r = qmp ? hot_add(sb, qmp, d, bus, addr, e) : err_ret(e);
	if (r < 0) {
		pthread_mutex_lock(&sb->lock);
		vm_topology_free(&sb->topo, d->bridge, d->slot);
		remove_from_list(sb, d);
		pthread_mutex_unlock(&sb->lock);
		vm_device_free(d);
	} else {
		log_info("%s: hot-added %s on %s", sb->name, d->id, bus);
	}
	return r;
}

int vm_devices_add_store(struct vm_sandbox *sb, const char *json, const struct cred *who,
			struct err **e)
{
	struct vm_device *d = NULL;
	int r = vm_device_parse(json, &d, e);
	if (r < 0)
		return r;
	d->owner = *who;
	pthread_mutex_lock(&sb->op_lock);
	/* What it names on the host, as the writer (a cold device too).  The
	 * config only changes under op_lock: read here without sb->lock, which
	 * is never held while a caller's path is opened (the path may be in
	 * this very tree, whose handlers take sb->lock). */
	r = vm_device_check_config(d, &sb->cfg, e);
	if (r == 0)
		r = access_device(sb, d, e);
	if (r < 0) {
		pthread_mutex_unlock(&sb->op_lock);
		vm_device_free(d);
		return r;
	}
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	r = admit(sb, d, live, e);
	if (r < 0) {
		pthread_mutex_unlock(&sb->lock);
		pthread_mutex_unlock(&sb->op_lock);
		vm_device_free(d);
		return r;
	}
	char bus[sizeof(sb->topo.bridges[0].id)] = "";
	int addr = 0;
	if (d->bridge >= 0) {
		memcpy(bus, sb->topo.bridges[d->bridge].id, sizeof(bus));
		addr = vm_topology_slot_addr(&sb->topo, d->bridge, d->slot);
	}
	d->state = live ? VM_DEV_ATTACHED : VM_DEV_CONFIGURED;
	/* Listed now so the id stays taken while QMP runs without the lock. */
	sb->devs = xrealloc(sb->devs, (sb->ndevs + 1) * sizeof(*sb->devs));
	sb->devs[sb->ndevs++] = d;
	pthread_mutex_unlock(&sb->lock);
	if (live)
		r = add_live(sb, d, bus, addr, e);
	vm_sandbox_commit(sb);
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}

/* The QEMU id of the device's main (placed) function, from its parts. */
static int main_function(struct vm_sandbox *sb, const struct vm_device *d, char *buf, size_t len,
			 struct json_object **cmdsp, struct err **e)
{
	struct vm_dev_parts parts = {.main = -1};
	struct vm_fdplan plan = {0};
	int r = device_parts(sb, d, NULL, 0, &parts, &plan, e);
	if (r == 0)
		r = vm_dev_parts_qmp(&parts, cmdsp, e);
	int main_part = parts.main;
	vm_dev_parts_release(&parts);
	vm_fdplan_release(&plan);
	if (r < 0)
		return r;
	struct json_object *mc = json_object_array_get_idx(*cmdsp, (size_t)(main_part >= 0 ? main_part : 0));
	struct json_object *margs;
	json_object_object_get_ex(mc, "arguments", &margs);
	const char *main_id = util_json_str(margs, "id");
	if (!main_id)
		return err_set(e, EINVAL, "%s: no device function to unplug", d->id);
	snprintf(buf, len, "%s", main_id);
	return 0;
}

/*
 * device_del of the device's main (placed) function, DEVICE_DELETED, then
 * the backends in reverse order; child devices (a scsi-hd on its
 * controller, a virtconsole on its virtio-serial) go with their parent.
 */
static int hot_remove(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		      int wait_ms, struct err **e)
{
	/* QEMU may exit while we wait; never touch d after that. */
	char id[VM_DEVICE_ID_MAX + 1], main_id[64];
	snprintf(id, sizeof(id), "%s", d->id);
	bool retry = d->state == VM_DEV_REMOVING;
	struct vm_fds_passed sets = {.nsets = d->nfdsets};
	memcpy(sets.sets, d->fdsets, d->nfdsets * sizeof(d->fdsets[0]));
	cleanup_json struct json_object *cmds = NULL;
	int r = main_function(sb, d, main_id, sizeof(main_id), &cmds, e);
	if (r < 0)
		return r;
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string(main_id));
	cleanup_err struct err *de = NULL;
	r = qmp_execute(qmp, "device_del", args, vm_get_settings()->qmp_timeout_ms, NULL, &de);
	if (r < 0 && !retry)
		return err_set(e, de->code, "%s: device_del: %s", id, de->msg);
	/* On a retry, QEMU no longer knowing the device means it is gone. */
	if (!(r < 0 && de->code == ENODEV)) {
		pthread_mutex_lock(&sb->lock);
		d->state = VM_DEV_REMOVING;
		pthread_mutex_unlock(&sb->lock);
		vm_sandbox_commit(sb);
		r = qmp_wait_event(qmp, "DEVICE_DELETED", "device", main_id, wait_ms, NULL, e);
		if (r < 0)
			return err_wrap(e, "%s: the guest did not release the device "
					   "(it stays 'removing'; write remove again to retry)", id);
	}
	size_t n = json_object_array_length(cmds);
	while (n-- > 0) {
		struct json_object *c = json_object_array_get_idx(cmds, n), *a;
		const char *cmd = util_json_str(c, "execute");
		if (!strcmp(cmd, "device_add"))
			continue; /* gone with the main function */
		json_object_object_get_ex(c, "arguments", &a);
		undo_part(sb, qmp, cmd, a, wait_ms);
	}
	vm_fds_close_qmp(qmp, id, &sets, vm_get_settings()->qmp_timeout_ms);
	return 0;
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
	vm_topology_free(&sb->topo, d->bridge, d->slot);
	remove_from_list(sb, d);
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: removed device %s", sb->name, id);
	vm_device_free(d);
	vm_sandbox_commit(sb);
	return 0;
}

int vm_devices_remove_store(struct vm_sandbox *sb, const char *id, const struct cred *who,
			struct err **e)
{
	pthread_mutex_lock(&sb->op_lock);
	int r = device_remove_locked(sb, id, e);
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}
