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
#include <string.h>

#include "arch/arch.h"
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

static int hot_add(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		   const char *bus, int addr, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	const struct arch_ops *a = arch_lookup(sb->cfg.arch);
	struct json_object *backend = vm_device_backend(d);
	char node[64];
	vm_device_node_name(d, node, sizeof(node));
	if (backend && qmp_execute(qmp, "blockdev-add", backend, tmo, NULL, e) < 0)
		return err_wrap(e, "devices/add %s: blockdev-add", d->id);
	int r = qmp_execute(qmp, "device_add", vm_device_frontend(d, a, bus, addr), tmo, NULL, e);
	if (r < 0) {
		err_wrap(e, "devices/add %s: device_add", d->id);
		if (backend) {
			struct json_object *args = json_object_new_object();
			json_object_object_add(args, "node-name", json_object_new_string(node));
			cleanup_err struct err *re = NULL;
			if (qmp_execute(qmp, "blockdev-del", args, tmo, NULL, &re) < 0)
				log_err("%s: rollback blockdev-del %s: %s", sb->name, node, re->msg);
		}
		return r;
	}
	return 0;
}

int vm_sandbox_device_add(struct vm_sandbox *sb, const char *json, struct err **e)
{
	struct vm_device *d = NULL;
	int r = vm_device_parse(json, &d, e);
	if (r < 0)
		return err_wrap(e, "devices/add");
	pthread_mutex_lock(&sb->lock);
	bool running = vm_state_is_live(sb->state);
	r = vm_device_check_config(d, &sb->cfg, e);
	pthread_mutex_unlock(&sb->lock);
	if (r == 0 && running && !vm_device_hotpluggable(d))
		r = err_set(e, EOPNOTSUPP, "a %s device can only be added while the sandbox is not "
			    "running (cold plug)", d->type);
	if (r < 0) {
		vm_device_free(d);
		return err_wrap(e, "devices/add");
	}
	if (d->file && access(d->file, R_OK) < 0) {
		r = err_sys(e, errno, "devices/add: file %s", d->file);
		vm_device_free(d);
		return r;
	}

	pthread_mutex_lock(&sb->op_lock);
	pthread_mutex_lock(&sb->lock);
	r = check_id_free(sb, d->id, e);
	if (r == 0 && vm_device_is_pci(d))
		r = vm_topology_alloc(&sb->topo, d->id, &d->bridge, &d->slot, e);
	if (r < 0) {
		pthread_mutex_unlock(&sb->lock);
		pthread_mutex_unlock(&sb->op_lock);
		vm_device_free(d);
		return err_wrap(e, "devices/add");
	}
	bool live = vm_state_is_live(sb->state);
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

static int hot_remove(struct vm_sandbox *sb, struct qmp_client *qmp, struct vm_device *d,
		      int wait_ms, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	/* QEMU may exit while we wait; never touch d after that. */
	char node[64], id[VM_DEVICE_ID_MAX + 1];
	vm_device_node_name(d, node, sizeof(node));
	snprintf(id, sizeof(id), "%s", d->id);
	bool retry = d->state == VM_DEV_REMOVING;
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string(id));
	cleanup_err struct err *de = NULL;
	int r = qmp_execute(qmp, "device_del", args, tmo, NULL, &de);
	if (r < 0 && !retry)
		return err_set(e, de->code, "devices/remove %s: device_del: %s", id, de->msg);
	/* On a retry, QEMU no longer knowing the device means it is gone. */
	if (!(r < 0 && de->code == ENODEV)) {
		pthread_mutex_lock(&sb->lock);
		d->state = VM_DEV_REMOVING;
		pthread_mutex_unlock(&sb->lock);
		vm_sandbox_commit(sb);
		r = qmp_wait_event(qmp, "DEVICE_DELETED", "device", id, wait_ms, NULL, e);
		if (r < 0)
			return err_wrap(e, "devices/remove %s: the guest did not release the device "
					   "(it stays 'removing'; write remove again to retry)", id);
	}
	struct json_object *bargs = json_object_new_object();
	json_object_object_add(bargs, "node-name", json_object_new_string(node));
	cleanup_err struct err *be = NULL;
	if (qmp_execute(qmp, "blockdev-del", bargs, tmo, NULL, &be) < 0 && be->code != ENODEV)
		log_err("%s: blockdev-del %s: %s", sb->name, node, be->msg);
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
