/*
 * vm_reconcile (view) — what a running QEMU reports having, in one pass of
 * queries that work on every architecture and on QEMU 7.2 (which has no
 * query-netdev); and the small helpers the passes share.
 */
#include "vm/sandbox/reconcile_impl.h"

#include <json-c/json.h>
#include <string.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/sandbox/sandbox.h"

bool vm_reconcile_has(const struct strv *sv, const char *s)
{
	for (size_t i = 0; s && i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

static bool unanswered(const struct err *e)
{
	return e->code == ETIMEDOUT || e->code == ECONNRESET || e->code == ENOTCONN ||
	       e->code == EPIPE || e->code == EDEADLK;
}

static int query(struct qmp_client *qmp, const char *cmd, struct json_object *args,
		 struct json_object **ret, struct err **e)
{
	int r = qmp_execute(qmp, cmd, args, vm_get_settings()->qmp_timeout_ms, ret, e);
	if (r < 0)
		err_wrap(e, "%s", cmd);
	return r;
}

/* The QOM children of `path` (entries typed "child<...>"). */
static int qom_children(struct qmp_client *qmp, const char *path, struct strv *out, struct err **e)
{
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "path", json_object_new_string(path));
	cleanup_json struct json_object *ret = NULL;
	int r = query(qmp, "qom-list", a, &ret, e);
	size_t n = r == 0 && json_object_is_type(ret, json_type_array) ? json_object_array_length(ret) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ret, i);
		const char *name = util_json_str(p, "name"), *type = util_json_str(p, "type");
		if (name && type && !strncmp(type, "child<", 6))
			strv_add(out, name);
	}
	return r;
}

/* The string member `key` of every element of the array QEMU returns. */
static int names_of(struct qmp_client *qmp, const char *cmd, struct json_object *args,
		    const char *key, struct strv *out, struct err **e)
{
	cleanup_json struct json_object *ret = NULL;
	int r = query(qmp, cmd, args, &ret, e);
	size_t n = r == 0 && json_object_is_type(ret, json_type_array) ? json_object_array_length(ret) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = util_json_str(json_object_array_get_idx(ret, i), key);
		if (s && *s)
			strv_add(out, s);
	}
	return r;
}

int vm_reconcile_view_load(struct qmp_client *qmp, struct vm_reconcile_view *v, struct err **e)
{
	*v = (struct vm_reconcile_view){0};
	struct json_object *flat = json_object_new_object();
	json_object_object_add(flat, "flat", json_object_new_boolean(true));
	int r = qom_children(qmp, "/machine/peripheral", &v->peripheral, e);
	if (r == 0)
		r = qom_children(qmp, "/objects", &v->objects, e);
	if (r == 0)
		r = names_of(qmp, "query-named-block-nodes", json_object_get(flat), "node-name",
			     &v->nodes, e);
	json_object_put(flat);
	if (r == 0)
		r = names_of(qmp, "query-chardev", NULL, "label", &v->chardevs, e);
	if (r == 0)
		r = query(qmp, "query-fdsets", NULL, &v->fdsets, e);
	if (r == 0)
		r = query(qmp, "query-memory-devices", NULL, &v->memory, e);
	if (r == 0 && query(qmp, "query-hotpluggable-cpus", NULL, &v->cpus, e) < 0) {
		/* Machines without vCPU hotplug (aarch64 virt on 7.2) refuse it. */
		if (!unanswered(*e)) {
			err_free(e);
			r = 0;
		} else {
			r = -1;
		}
	}
	if (r < 0) {
		vm_reconcile_view_release(v);
		return err_ret(e);
	}
	return 0;
}

void vm_reconcile_view_release(struct vm_reconcile_view *v)
{
	strv_release(&v->peripheral);
	strv_release(&v->objects);
	strv_release(&v->nodes);
	strv_release(&v->chardevs);
	json_object_put(v->fdsets);
	json_object_put(v->cpus);
	json_object_put(v->memory);
	*v = (struct vm_reconcile_view){0};
}

void vm_reconcile_note(struct vm_reconcile_report *rep, const char *key, const char *what)
{
	struct json_object *list;
	if (!json_object_object_get_ex(rep->data, key, &list)) {
		list = json_object_new_array();
		json_object_object_add(rep->data, key, list);
	}
	json_object_array_add(list, json_object_new_string(what));
	rep->changed = true;
}

int vm_reconcile_exec(struct vm_sandbox *sb, struct qmp_client *qmp, const char *cmd,
		      struct json_object *args, struct err **e)
{
	cleanup_err struct err *qe = NULL;
	cleanup_free char *shown = xstrdup(args ? json_object_to_json_string(args) : "");
	if (qmp_execute(qmp, cmd, args, vm_get_settings()->qmp_timeout_ms, NULL, &qe) == 0)
		return 0;
	if (unanswered(qe))
		return err_set(e, qe->code, "%s %s: %s", cmd, shown, qe->msg);
	log_debug("%s: reconcile: %s %s: %s", sb->name, cmd, shown, qe->msg);
	return 0;
}
