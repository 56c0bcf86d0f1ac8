/*
 * vm_reconcile (vCPUs, DIMMs) — the hot-added vCPUs and DIMMs rebuilt from
 * QEMU's own lists: what QEMU has is kept in the tree's order, what it
 * gained while nobody watched is adopted, what it lost goes.
 */
#include "vm/sandbox/reconcile_impl.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "vm/sandbox/sandbox.h"

#define PERIPHERAL "/machine/peripheral/"

static bool cpu_listed(const struct vm_cpu *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return true;
	return false;
}

/* The hot-plugged vCPUs QEMU lists: slots whose qom-path is a peripheral
 * (boot vCPUs live under /machine/unattached). */
static size_t qemu_cpus(const struct vm_reconcile_view *v, struct vm_cpu *out, size_t max)
{
	size_t n = 0, len = json_object_array_length(v->cpus);
	for (size_t k = len; k-- > 0 && n < max;) {
		struct json_object *slot = json_object_array_get_idx(v->cpus, k), *props;
		const char *qom = util_json_str(slot, "qom-path");
		if (!qom || strncmp(qom, PERIPHERAL, strlen(PERIPHERAL)))
			continue;
		struct vm_cpu *c = &out[n++];
		snprintf(c->id, sizeof(c->id), "%s", qom + strlen(PERIPHERAL));
		if (json_object_object_get_ex(slot, "props", &props)) {
			c->socket = util_json_int0(props, "socket-id");
			c->core = util_json_int0(props, "core-id");
			c->thread = util_json_int0(props, "thread-id");
		}
	}
	return n;
}

/* device_del again each vCPU or DIMM still `removing` (its unplug may
 * never have reached QEMU); errors (an unplug pending) are fine. */
static int unplug_again(struct vm_sandbox *sb, struct qmp_client *qmp, const struct strv *ids,
			struct err **e)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < ids->n; i++) {
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "id", json_object_new_string(ids->v[i]));
		r = vm_reconcile_exec(sb, qmp, "device_del", a, e);
	}
	return r;
}

int vm_reconcile_cpus(struct vm_sandbox *sb, struct qmp_client *qmp,
		      const struct vm_reconcile_view *v, struct vm_reconcile_report *rep,
		      struct err **e)
{
	if (!v->cpus || !json_object_is_type(v->cpus, json_type_array))
		return 0;
	size_t max = json_object_array_length(v->cpus);
	struct vm_cpu *q = xcalloc(max + 1, sizeof(*q));
	size_t nq = qemu_cpus(v, q, max);
	pthread_mutex_lock(&sb->lock);
	struct vm_cpu *next = xcalloc(nq + 1, sizeof(*next));
	size_t n = 0;
	for (size_t i = 0; i < sb->nhot_cpus; i++) { /* kept, in the tree's order */
		if (cpu_listed(q, nq, sb->hot_cpus[i].id))
			next[n++] = sb->hot_cpus[i];
		else
			vm_reconcile_note(rep, "vcpus_gone", sb->hot_cpus[i].id);
	}
	for (size_t i = 0; i < nq; i++) { /* plugged while nobody watched */
		if (cpu_listed(next, n, q[i].id))
			continue;
		next[n++] = q[i];
		vm_reconcile_note(rep, "vcpus_adopted", q[i].id);
	}
	free(sb->hot_cpus);
	sb->hot_cpus = next;
	sb->nhot_cpus = n;
	cleanup_strv struct strv again = {0};
	for (size_t i = 0; i < n; i++)
		if (next[i].removing)
			strv_add(&again, next[i].id);
	pthread_mutex_unlock(&sb->lock);
	free(q);
	return unplug_again(sb, qmp, &again, e);
}

/* The pc-dimm `id` in query-memory-devices, its size in MiB (0: none). */
static int qemu_dimm(const struct vm_reconcile_view *v, const char *id)
{
	size_t n = json_object_is_type(v->memory, json_type_array) ? json_object_array_length(v->memory) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(v->memory, i), *data;
		const char *type = util_json_str(m, "type");
		int64_t size = 0;
		if (!type || strcmp(type, "dimm") || !json_object_object_get_ex(m, "data", &data))
			continue;
		const char *mid = util_json_str(data, "id");
		if (mid && !strcmp(mid, id) && util_json_int(data, "size", &size) == 0)
			return (int)(size >> 20) > 0 ? (int)(size >> 20) : 1;
	}
	return 0;
}

static bool dimm_listed(const struct vm_dimm *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return true;
	return false;
}

/* DIMMs QEMU holds that the tree lacks (hot-added while nobody watched). */
static void dimms_adopt(struct vm_sandbox *sb, const struct vm_reconcile_view *v,
			struct vm_dimm **next, size_t *n, struct vm_reconcile_report *rep)
{
	size_t len = json_object_is_type(v->memory, json_type_array) ? json_object_array_length(v->memory) : 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *m = json_object_array_get_idx(v->memory, i), *data;
		const char *type = util_json_str(m, "type");
		if (!type || strcmp(type, "dimm") || !json_object_object_get_ex(m, "data", &data))
			continue;
		const char *id = util_json_str(data, "id");
		if (!id || strncmp(id, "dimm", 4) || dimm_listed(*next, *n, id))
			continue;
		*next = xrealloc(*next, (*n + 1) * sizeof(**next));
		struct vm_dimm *d = &(*next)[(*n)++];
		*d = (struct vm_dimm){.size_mib = qemu_dimm(v, id)};
		snprintf(d->id, sizeof(d->id), "%s", id);
		vm_reconcile_note(rep, "dimms_adopted", id);
	}
	(void)sb;
}

int vm_reconcile_dimms(struct vm_sandbox *sb, struct qmp_client *qmp,
		       const struct vm_reconcile_view *v, struct vm_reconcile_report *rep,
		       struct err **e)
{
	struct strv gone = {0};
	pthread_mutex_lock(&sb->lock);
	struct vm_dimm *next = xcalloc(sb->ndimms + 1, sizeof(*next));
	size_t n = 0;
	for (size_t i = 0; i < sb->ndimms; i++) {
		if (qemu_dimm(v, sb->dimms[i].id))
			next[n++] = sb->dimms[i];
		else
			strv_add(&gone, sb->dimms[i].id);
	}
	dimms_adopt(sb, v, &next, &n, rep);
	free(sb->dimms);
	sb->dimms = next;
	sb->ndimms = n;
	cleanup_strv struct strv again = {0};
	for (size_t i = 0; i < n; i++)
		if (next[i].removing)
			strv_add(&again, next[i].id);
	pthread_mutex_unlock(&sb->lock);
	int r = unplug_again(sb, qmp, &again, e);
	/* A DIMM gone leaves its backend behind: that goes too. */
	for (size_t i = 0; r == 0 && i < gone.n; i++) {
		vm_reconcile_note(rep, "dimms_gone", gone.v[i]);
		cleanup_free char *mem = xasprintf("mem-%s", gone.v[i]);
		if (!vm_reconcile_has(&v->objects, mem))
			continue;
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "id", json_object_new_string(mem));
		r = vm_reconcile_exec(sb, qmp, "object-del", a, e);
	}
	strv_release(&gone);
	return r;
}
