/*
 * vm_devices (QMP side) — what a device is in a running QEMU: its parts as
 * QMP commands placed on a bus slot, the id of its main function, and the
 * commands that undo each part.  devices.c runs them to add and remove;
 * reconcile.c compares them with what QEMU reports.
 */
#include "vm/sandbox/devices.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/model/parts.h"
#include "vm/sandbox/sandbox.h"

int vm_devices_parts(struct vm_sandbox *sb, const struct vm_device *d, const char *bus, int addr,
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

int vm_devices_main_id(struct vm_sandbox *sb, const struct vm_device *d, char *buf, size_t len,
		       struct json_object **cmdsp, size_t *nfds, struct err **e)
{
	struct vm_dev_parts parts = {.main = -1};
	struct vm_fdplan plan = {0};
	int r = vm_devices_parts(sb, d, NULL, 0, &parts, &plan, e);
	if (r == 0)
		r = vm_dev_parts_qmp(&parts, cmdsp, e);
	int main_part = parts.main;
	if (nfds)
		*nfds = plan.n;
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

struct json_object *vm_devices_undo_cmd(struct json_object *add, const char **cmd, const char **name)
{
	struct json_object *args;
	json_object_object_get_ex(add, "arguments", &args);
	struct json_object *undo = vm_dev_parts_undo(util_json_str(add, "execute"), args);
	if (!undo)
		return NULL;
	*cmd = util_json_str(undo, "execute");
	struct json_object *a;
	json_object_object_get_ex(undo, "arguments", &a);
	*name = util_json_str(a, !strcmp(*cmd, "blockdev-del") ? "node-name" : "id");
	return undo;
}

int vm_devices_undo(struct vm_sandbox *sb, struct qmp_client *qmp, struct json_object *add,
		    int wait_ms, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	const char *del = NULL, *name = NULL;
	cleanup_json struct json_object *undo = vm_devices_undo_cmd(add, &del, &name);
	if (!undo)
		return 0;
	struct json_object *a;
	json_object_object_get_ex(undo, "arguments", &a);
	int r = qmp_execute(qmp, del, json_object_get(a), tmo, NULL, e);
	if (r == 0 && !strcmp(del, "device_del"))
		r = qmp_wait_event(qmp, "DEVICE_DELETED", "device", name, wait_ms, NULL, e);
	if (r < 0)
		return err_wrap(e, "%s: %s %s", sb->name, del, name);
	return 0;
}
