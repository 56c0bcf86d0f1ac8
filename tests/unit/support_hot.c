/* support_hot — see support_hot.h. */
#include "tests/unit/support_hot.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/support_qemu.h"
#include "tests/unit/support_qom.h"
#include "vm/qemu/fds.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

bool shot_parts(struct sqemu_sb *s, const char *spec, const char *console, struct shot *h)
{
	cleanup_err struct err *e = NULL;
	memset(h, 0, sizeof(*h));
	if (vm_device_parse(spec, &h->d, &e) < 0 ||
	    (vm_device_is_pci(h->d) && vm_topology_alloc(&s->t, h->d->id, &h->d->bridge, &h->d->slot, &e) < 0)) {
		fprintf(stderr, "\n  %s: %s\n", spec, e->msg);
		return false;
	}
	struct vm_fdplan plan = {0};
	struct vm_dev_env env = {
		.arch = vm_config_arch(&s->cfg),
		.bus = h->d->bridge >= 0 ? s->t.bridges[h->d->bridge].id : NULL,
		.addr = h->d->bridge >= 0 ? vm_topology_slot_addr(&s->t, h->d->bridge, h->d->slot) : 0,
		.disable_modern = s->cfg.disable_modern,
		.console_log = console,
		.fds = &plan,
	};
	struct vm_dev_parts p = { .main = -1 };
	struct vm_fds_passed passed = {0};
	int r = vm_device_parts(h->d, &env, &p, &e);
	if (r == 0)
		r = vm_dev_parts_qmp(&p, &h->cmds, &e);
	if (r == 0)
		r = vm_fds_pass_qmp(s->c, h->d->id, &plan, NULL, h->cmds, &passed, SQOM_TMO, &e);
	vm_dev_parts_release(&p);
	vm_fdplan_release(&plan);
	if (r < 0)
		fprintf(stderr, "\n  %s: %s\n", spec, e->msg);
	return r == 0;
}

bool shot_send(struct sqemu_sb *s, struct shot *h, size_t n)
{
	size_t all = json_object_array_length(h->cmds);
	for (; h->sent < all && h->sent < n; h->sent++) {
		struct json_object *c = json_object_array_get_idx(h->cmds, h->sent);
		struct json_object *args = json_object_get(sqom_get(c, "arguments"));
		cleanup_json struct json_object *ret =
			sqemu_qmp(s->c, sqemu_jstr(c, "execute"), args, SQOM_TMO);
		if (!ret)
			return false;
	}
	return true;
}

bool shot_undo(struct sqemu_sb *s, struct shot *h)
{
	bool ok = true;
	while (ok && h->sent > 0) {
		struct json_object *c = json_object_array_get_idx(h->cmds, --h->sent);
		cleanup_json struct json_object *undo =
			vm_dev_parts_undo(sqemu_jstr(c, "execute"), sqom_get(c, "arguments"));
		if (!undo) {
			fprintf(stderr, "\n  no undo form for %s\n", sqemu_jstr(c, "execute"));
			return false;
		}
		const char *del = sqemu_jstr(undo, "execute");
		cleanup_json struct json_object *ret =
			sqemu_qmp(s->c, del, json_object_get(sqom_get(undo, "arguments")), SQOM_TMO);
		ok = ret != NULL;
		if (ok && !strcmp(del, "device_del")) {
			const char *id = sqemu_jstr(sqom_get(undo, "arguments"), "id");
			cleanup_json struct json_object *rs = sqemu_qmp(s->c, "system_reset", NULL, SQOM_TMO);
			cleanup_err struct err *e = NULL;
			ok = rs && qmp_wait_event(s->c, "DEVICE_DELETED", "device", id, SQOM_TMO, NULL, &e) == 0;
			if (!ok)
				fprintf(stderr, "\n  device_del %s: no DEVICE_DELETED (%s)\n", id, e ? e->msg : "");
		}
	}
	return ok;
}

void shot_release(struct shot *h)
{
	vm_device_free(h->d);
	json_object_put(h->cmds);
	memset(h, 0, sizeof(*h));
}
