/*
 * vm_throttle — a disk's I/O limits; see throttle.h.
 *
 * Grammar of a write to devices/<id>/throttle (merged into the current
 * setting; "" clears it):
 *
 *   text  := "" | line { "\n" line }
 *   line  := KEY " " NUMBER | "group " [NAME]
 *   KEY   := iops_total | iops_read | iops_write | bps_total | bps_read
 *          | bps_write, each also with "_max" (the burst)
 *   NUMBER:= [0-9]+, at most 10^15 (QEMU's THROTTLE_VALUE_MAX); 0 = none
 *   NAME  := [A-Za-z0-9_.-]{1,31}: disks of one group share the limits
 *
 * Rules (QEMU's own, checked first so a refusal names our key): a
 * X_total and X_read/X_write together; a X_max without X; a X_max below
 * X.
 */
#include "vm/model/throttle.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

const struct vm_throttle_keydef vm_throttle_keys[VM_THR_NKEYS] = {
	{"iops_total", "iops"}, {"iops_read", "iops_rd"}, {"iops_write", "iops_wr"},
	{"bps_total", "bps"}, {"bps_read", "bps_rd"}, {"bps_write", "bps_wr"},
	{"iops_total_max", "iops_max"}, {"iops_read_max", "iops_rd_max"},
	{"iops_write_max", "iops_wr_max"}, {"bps_total_max", "bps_max"},
	{"bps_read_max", "bps_rd_max"}, {"bps_write_max", "bps_wr_max"},
};

#define BASES 6 /* keys 0..5 are limits, 6..11 their bursts */

static int key_index(const char *name, size_t len)
{
	for (int i = 0; i < VM_THR_NKEYS; i++)
		if (strlen(vm_throttle_keys[i].name) == len && !strncmp(vm_throttle_keys[i].name, name, len))
			return i;
	return -1;
}

static int check_group(const char *g, struct err **e)
{
	size_t n = strlen(g);
	if (n > VM_THROTTLE_GROUP_MAX)
		return err_set(e, EINVAL, "group: longer than %d characters", VM_THROTTLE_GROUP_MAX);
	if (strspn(g, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n || !n)
		return err_set(e, EINVAL, "group: '%.40s' is not 1 to %d of [A-Za-z0-9_.-]", g,
			       VM_THROTTLE_GROUP_MAX);
	return 0;
}

int vm_throttle_check(const struct vm_throttle *t, struct err **e)
{
	for (int kind = 0; kind < 2; kind++) { /* iops, bps */
		int tot = kind * 3, rd = tot + 1, wr = tot + 2;
		for (int side = rd; side <= wr; side++) {
			int ts = t->v[tot] ? tot : tot + BASES, ss = t->v[side] ? side : side + BASES;
			if (t->v[ts] && t->v[ss])
				return err_set(e, EINVAL, "%s: cannot be combined with %s (QEMU limits "
					       "either the total or reads and writes)",
					       vm_throttle_keys[ss].name, vm_throttle_keys[ts].name);
		}
	}
	for (int i = 0; i < BASES; i++) {
		int64_t base = t->v[i], max = t->v[i + BASES];
		if (max && !base)
			return err_set(e, EINVAL, "%s: a burst needs its limit %s", vm_throttle_keys[i + BASES].name,
				       vm_throttle_keys[i].name);
		if (max && max < base)
			return err_set(e, EINVAL, "%s: %lld is below %s %lld", vm_throttle_keys[i + BASES].name,
				       (long long)max, vm_throttle_keys[i].name, (long long)base);
	}
	return *t->group ? check_group(t->group, e) : 0;
}

static int parse_line(const char *l, size_t len, struct vm_throttle *t, bool *seen,
		      struct err **e)
{
	const char *sp = memchr(l, ' ', len);
	if (!sp)
		return err_set(e, EINVAL, "'%.*s': not KEY VALUE", (int)(len > 40 ? 40 : len), l);
	size_t klen = (size_t)(sp - l);
	cleanup_free char *val = xstrndup(sp + 1, len - klen - 1);
	if (klen == 5 && !strncmp(l, "group", 5)) {
		if (seen[VM_THR_NKEYS])
			return err_set(e, EINVAL, "group: given twice");
		seen[VM_THR_NKEYS] = true;
		int r = *val ? check_group(val, e) : 0;
		if (r == 0)
			snprintf(t->group, sizeof(t->group), "%s", val);
		return r;
	}
	int k = key_index(l, klen);
	if (k < 0)
		return err_set(e, EINVAL, "unknown key '%.*s' (keys: iops_total iops_read iops_write "
			       "bps_total bps_read bps_write, each also _max, and group)",
			       (int)(klen > 40 ? 40 : klen), l);
	const char *name = vm_throttle_keys[k].name;
	if (seen[k])
		return err_set(e, EINVAL, "%s: given twice", name);
	seen[k] = true;
	if (*val == '-' && val[1])
		return err_set(e, EINVAL, "%s: %.40s is negative", name, val);
	long long v;
	if (util_parse_int(val, 0, INT64_MAX, &v) < 0)
		return err_set(e, EINVAL, "%s: not a number: '%.40s'", name, val);
	if (v > VM_THROTTLE_VALUE_MAX)
		return err_set(e, EINVAL, "%s: %lld is above QEMU's ceiling %lld", name, v,
			       VM_THROTTLE_VALUE_MAX);
	t->v[k] = v;
	return 0;
}

int vm_throttle_parse(const char *text, const struct vm_throttle *base, struct vm_throttle *out,
		      struct err **e)
{
	struct vm_throttle t = {0};
	if (base && *text)
		t = *base;
	bool seen[VM_THR_NKEYS + 1] = {0};
	for (const char *l = text; *text;) {
		const char *nl = strchrnul(l, '\n');
		int r = parse_line(l, (size_t)(nl - l), &t, seen, e);
		if (r < 0)
			return r;
		if (!*nl)
			break;
		l = nl + 1;
	}
	int r = vm_throttle_check(&t, e);
	if (r == 0)
		*out = t;
	return r;
}

bool vm_throttle_is_none(const struct vm_throttle *t)
{
	for (int i = 0; t && i < VM_THR_NKEYS; i++)
		if (t->v[i])
			return false;
	return !t || !*t->group;
}

void vm_throttle_render(const struct vm_throttle *t, struct sbuf *out)
{
	for (int i = 0; i < VM_THR_NKEYS; i++)
		sbuf_printf(out, "%s %lld\n", vm_throttle_keys[i].name, t ? (long long)t->v[i] : 0LL);
	if (t && *t->group)
		sbuf_printf(out, "group %s\n", t->group);
}

struct json_object *vm_throttle_qmp_args(const struct vm_throttle *t, const char *qom)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(qom));
	for (int i = 0; i < VM_THR_NKEYS; i++) /* the six limits are required */
		if (i < BASES || t->v[i])
			json_object_object_add(o, vm_throttle_keys[i].qmp, json_object_new_int64(t->v[i]));
	if (*t->group)
		json_object_object_add(o, "group", json_object_new_string(t->group));
	return o;
}

struct json_object *vm_throttle_to_json(const struct vm_throttle *t)
{
	struct json_object *o = json_object_new_object();
	for (int i = 0; i < VM_THR_NKEYS; i++)
		if (t->v[i])
			json_object_object_add(o, vm_throttle_keys[i].name, json_object_new_int64(t->v[i]));
	if (*t->group)
		json_object_object_add(o, "group", json_object_new_string(t->group));
	return o;
}

int vm_throttle_from_json(struct json_object *o, struct vm_throttle *out, struct err **e)
{
	struct vm_throttle t = {0};
	if (!o || !json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "throttle: not a JSON object");
	json_object_object_foreach(o, key, val) {
		if (!strcmp(key, "group") && json_object_is_type(val, json_type_string)) {
			int r = check_group(json_object_get_string(val), e);
			if (r < 0)
				return r;
			snprintf(t.group, sizeof(t.group), "%s", json_object_get_string(val));
			continue;
		}
		int k = key_index(key, strlen(key));
		if (k < 0 || !json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0 ||
		    json_object_get_int64(val) > VM_THROTTLE_VALUE_MAX)
			return err_set(e, EINVAL, "throttle: bad member %s", key);
		t.v[k] = json_object_get_int64(val);
	}
	int r = vm_throttle_check(&t, e);
	if (r == 0)
		*out = t;
	return r;
}
