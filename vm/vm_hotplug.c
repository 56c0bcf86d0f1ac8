/*
 * vm_hotplug — devices/add and devices/remove.
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
#include "vm/vm_sandbox.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "vm/vm_cmdline.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"

struct vm_device *vm_sandbox_find_device(struct vm_sandbox *sb, const char *id)
{
	for (size_t i = 0; i < sb->ndevs; i++)
		if (!strcmp(sb->devs[i]->id, id))
			return sb->devs[i];
	return NULL;
}

void vm_sandbox_device_ids(struct vm_sandbox *sb, struct strv *out)
{
	pthread_mutex_lock(&sb->lock);
	for (size_t i = 0; i < sb->ndevs; i++)
		strv_add(out, sb->devs[i]->id);
	pthread_mutex_unlock(&sb->lock);
}

/* Ids share one namespace with bridges and hot-added vCPUs in QEMU. */
static int check_id_free(struct vm_sandbox *sb, const char *id, struct err **e)
{
	if (!strcmp(id, "add") || !strcmp(id, "remove"))
		return err_set(e, EINVAL, "id: '%s' is a reserved name", id);
	if (vm_sandbox_find_device(sb, id))
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
	};
	int r = vm_device_parts(d, &env, parts, e);
	pthread_mutex_unlock(&sb->lock);
	return r;
}

/* Keys whose value names descriptors by number ("4" or "4:5"). */
static bool is_fd_key(const char *k)
{
	return !strcmp(k, "fd") || !strcmp(k, "fds") || !strcmp(k, "vhostfd") || !strcmp(k, "vhostfds");
}

/*
 * At exec the argv names inherited descriptors by number; a running QEMU
 * gets them over QMP instead: each is opened here, sent with `getfd` (SCM_RIGHTS)
 * under the name "fd-<id>-<k>", and every fd/fds/vhostfd/vhostfds value in
 * the commands is rewritten from numbers to those names.  *passed counts the
 * names QEMU holds (closefd'd on rollback).
 */
static int pass_fds(struct vm_sandbox *sb, struct qmp_client *qmp, const struct vm_device *d,
		    const struct vm_fdplan *plan, struct json_object *cmds, size_t *passed,
		    struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	*passed = 0;
	if (!plan->n)
		return 0;
	int *fds = xcalloc(plan->n, sizeof(int));
	int r = vm_cmdline_open_fds(plan, fds, e);
	if (r < 0) {
		free(fds);
		return err_wrap(e, "devices/add %s", d->id);
	}
	for (size_t i = 0; i < plan->n && r == 0; i++) {
		char name[64];
		snprintf(name, sizeof(name), "fd-%s-%zu", d->id, i);
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "fdname", json_object_new_string(name));
		r = qmp_execute_fd(qmp, "getfd", a, fds[i], tmo, NULL, e);
		if (r == 0)
			(*passed)++;
		else
			err_wrap(e, "devices/add %s: getfd", d->id);
	}
	vm_cmdline_close_fds(plan, fds); /* QEMU holds its own copies now */
	free(fds);
	if (r < 0)
		return r;
	for (size_t c = 0; c < json_object_array_length(cmds); c++) {
		struct json_object *args;
		if (!json_object_object_get_ex(json_object_array_get_idx(cmds, c), "arguments", &args))
			continue;
		json_object_object_foreach(args, key, val) {
			if (!is_fd_key(key) || !json_object_is_type(val, json_type_string))
				continue;
			struct sbuf out = {0};
			cleanup_free char *copy = xstrdup(json_object_get_string(val));
			char *save = NULL;
			for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
				int num = atoi(tok);
				for (size_t i = 0; i < plan->n; i++)
					if (plan->v[i].num == num)
						sbuf_printf(&out, "%sfd-%s-%zu", out.len ? ":" : "", d->id, i);
			}
			json_object_object_add(args, key, json_object_new_string(out.s ? out.s : ""));
			sbuf_release(&out);
		}
	}
	log_debug("%s: passed %zu descriptors for %s", sb->name, *passed, d->id);
	return 0;
}

static void close_passed(struct qmp_client *qmp, const struct vm_device *d, size_t passed)
{
	for (size_t i = 0; i < passed; i++) {
		char name[64];
		snprintf(name, sizeof(name), "fd-%s-%zu", d->id, i);
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "fdname", json_object_new_string(name));
		cleanup_err struct err *e = NULL;
		qmp_execute(qmp, "closefd", a, vm_get_settings()->qmp_timeout_ms, NULL, &e);
	}
}

/* VFIO devices take longer to realize (DMA mapping of guest memory). */
static int add_timeout(const struct vm_device *d)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	return d->type && !strcmp(d->type, "vfio") ? tmo * 6 : tmo;
}

static const char *arg_str(struct json_object *args, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(args, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* Undo one executed QMP add (best effort, logged), for rollback/removal. */
static void undo_part(struct vm_sandbox *sb, struct qmp_client *qmp, const char *cmd,
		      struct json_object *args, int wait_ms)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	const char *del = NULL, *key = "id", *name = arg_str(args, "id");
	if (!strcmp(cmd, "blockdev-add"))
		del = "blockdev-del", key = "node-name", name = arg_str(args, "node-name");
	else if (!strcmp(cmd, "netdev_add"))
		del = "netdev_del";
	else if (!strcmp(cmd, "object-add"))
		del = "object-del";
	else if (!strcmp(cmd, "chardev-add"))
		del = "chardev-remove";
	else if (!strcmp(cmd, "device_add"))
		del = "device_del";
	if (!del || !name)
		return;
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, key, json_object_new_string(name));
	cleanup_err struct err *e = NULL;
	if (qmp_execute(qmp, del, a, tmo, NULL, &e) < 0) {
		log_err("%s: %s %s: %s", sb->name, del, name, e->msg);
		return;
	}
	if (!strcmp(del, "device_del") &&
	    qmp_wait_event(qmp, "DEVICE_DELETED", "device", name, wait_ms, NULL, &e) < 0)
		log_err("%s: %s %s: %s", sb->name, del, name, e->msg);
}

/*
 * Execute the parts' QMP commands in order; if one fails, undo the ones
 * already done in reverse, so no node, netdev, object or slot is left
 * half-added.
 */
static int hot_add(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		   const char *bus, int addr, struct err **e)
{
	int tmo = add_timeout(d);
	struct vm_dev_parts parts = {.main = -1};
	struct vm_fdplan plan = {0};
	int r = device_parts(sb, d, bus, addr, &parts, &plan, e);
	cleanup_json struct json_object *cmds = NULL;
	if (r == 0)
		r = vm_dev_parts_qmp(&parts, &cmds, e);
	vm_dev_parts_release(&parts);
	size_t passed = 0;
	if (r == 0)
		r = pass_fds(sb, qmp, d, &plan, cmds, &passed, e);
	vm_fdplan_release(&plan);
	if (r < 0) {
		if (qmp_client_alive(qmp))
			close_passed(qmp, d, passed);
		return err_wrap(e, "devices/add");
	}
	size_t n = json_object_array_length(cmds), done = 0;
	for (; done < n; done++) {
		struct json_object *c = json_object_array_get_idx(cmds, done), *args;
		const char *cmd = arg_str(c, "execute");
		json_object_object_get_ex(c, "arguments", &args);
		r = qmp_execute(qmp, cmd, json_object_get(args), tmo, NULL, e);
		if (r < 0) {
			err_wrap(e, "devices/add %s: %s", d->id, cmd);
			break;
		}
	}
	if (r < 0 && qmp_client_alive(qmp)) {
		pthread_mutex_lock(&sb->lock);
		int wait_ms = sb->cfg.remove_timeout_ms;
		pthread_mutex_unlock(&sb->lock);
		while (done-- > 0) {
			struct json_object *c = json_object_array_get_idx(cmds, done), *args;
			json_object_object_get_ex(c, "arguments", &args);
			undo_part(sb, qmp, arg_str(c, "execute"), args, wait_ms);
		}
		/* Names not consumed by a netdev are still QEMU's to close. */
		close_passed(qmp, d, passed);
	}
	return r;
}

int vm_sandbox_device_add(struct vm_sandbox *sb, const char *json, struct err **e)
{
	struct vm_device *d = NULL;
	int r = vm_device_parse(json, &d, e);
	if (r < 0)
		return err_wrap(e, "devices/add");
	if (d->file && access(d->file, R_OK) < 0) {
		r = err_sys(e, errno, "devices/add: file %s", d->file);
		vm_device_free(d);
		return r;
	}

	pthread_mutex_lock(&sb->op_lock);
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	r = vm_device_check_config(d, &sb->cfg, e);
	if (r == 0 && live && !vm_device_hotpluggable(d))
		r = err_set(e, EOPNOTSUPP, "a %s device can only be added while the sandbox is not "
			    "running (cold plug)", d->type);
	if (r == 0)
		r = check_id_free(sb, d->id, e);
	if (r == 0 && vm_device_is_pci(d))
		r = vm_topology_alloc(&sb->topo, d->id, &d->bridge, &d->slot, e);
	if (r < 0) {
		pthread_mutex_unlock(&sb->lock);
		pthread_mutex_unlock(&sb->op_lock);
		vm_device_free(d);
		return err_wrap(e, "devices/add");
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

	if (live) {
		cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
		r = qmp ? hot_add(sb, qmp, d, bus, addr, e) : -err_code(*e);
		if (r < 0) {
			pthread_mutex_lock(&sb->lock);
			vm_topology_free(&sb->topo, d->bridge, d->slot);
			remove_from_list(sb, d);
			pthread_mutex_unlock(&sb->lock);
			vm_device_free(d);
		} else {
			log_info("%s: hot-added %s on %s", sb->name, d->id, bus);
		}
	}
	vm_sandbox_commit(sb);
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}

/*
 * device_del of the device's main (placed) function, DEVICE_DELETED, then
 * the backends in reverse order; child devices (a scsi-hd on its
 * controller, a virtconsole on its virtio-serial) go with their parent.
 */
static int hot_remove(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		      int wait_ms, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	/* QEMU may exit while we wait; never touch d after that. */
	char id[VM_DEVICE_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", d->id);
	bool retry = d->state == VM_DEV_REMOVING;
	struct vm_dev_parts parts = {.main = -1};
	struct vm_fdplan plan = {0};
	cleanup_json struct json_object *cmds = NULL;
	int r = device_parts(sb, d, NULL, 0, &parts, &plan, e);
	if (r == 0)
		r = vm_dev_parts_qmp(&parts, &cmds, e);
	int main_part = parts.main;
	vm_dev_parts_release(&parts);
	vm_fdplan_release(&plan);
	if (r < 0)
		return err_wrap(e, "devices/remove");
	struct json_object *mc = json_object_array_get_idx(cmds, (size_t)(main_part >= 0 ? main_part : 0));
	struct json_object *margs;
	json_object_object_get_ex(mc, "arguments", &margs);
	const char *main_id = arg_str(margs, "id");
	if (!main_id)
		return err_set(e, EINVAL, "devices/remove %s: no device function to unplug", id);

	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string(main_id));
	cleanup_err struct err *de = NULL;
	r = qmp_execute(qmp, "device_del", args, tmo, NULL, &de);
	if (r < 0 && !retry)
		return err_set(e, de->code, "devices/remove %s: device_del: %s", id, de->msg);
	/* On a retry, QEMU no longer knowing the device means it is gone. */
	if (!(r < 0 && de->code == ENODEV)) {
		pthread_mutex_lock(&sb->lock);
		d->state = VM_DEV_REMOVING;
		pthread_mutex_unlock(&sb->lock);
		vm_sandbox_commit(sb);
		r = qmp_wait_event(qmp, "DEVICE_DELETED", "device", main_id, wait_ms, NULL, e);
		if (r < 0)
			return err_wrap(e, "devices/remove %s: the guest did not release the device "
					   "(it stays 'removing'; write remove again to retry)", id);
	}
	size_t n = json_object_array_length(cmds);
	while (n-- > 0) {
		struct json_object *c = json_object_array_get_idx(cmds, n), *a;
		const char *cmd = arg_str(c, "execute");
		if (!strcmp(cmd, "device_add"))
			continue; /* gone with the main function */
		json_object_object_get_ex(c, "arguments", &a);
		undo_part(sb, qmp, cmd, a, wait_ms);
	}
	return 0;
}

static int device_remove_locked(struct vm_sandbox *sb, const char *id, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_device *d = vm_sandbox_find_device(sb, id);
	bool live = vm_state_is_live(sb->state);
	int wait_ms = sb->cfg.remove_timeout_ms;
	pthread_mutex_unlock(&sb->lock);
	if (!d)
		return err_set(e, ENODEV, "devices/remove: no device '%.64s'", id);
	if (live && !vm_device_hotpluggable(d))
		return err_set(e, EOPNOTSUPP, "devices/remove: %s is a %s device, which can only be "
			       "removed while the sandbox is not running", id, d->type);
	if (live) {
		cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
		int r = qmp ? hot_remove(sb, qmp, d, wait_ms, e) : -err_code(*e);
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

int vm_sandbox_device_remove(struct vm_sandbox *sb, const char *id, struct err **e)
{
	pthread_mutex_lock(&sb->op_lock);
	int r = device_remove_locked(sb, id, e);
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}
