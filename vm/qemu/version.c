/*
 * vm_qemu_version — a QEMU binary's facts from its QMP replies, and what
 * they allow; see version.h.  Asking the binary (the probe, the cache) is
 * version_probe.c.
 */
#include "vm/qemu/version.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* ---- the facts from QMP replies ---- */

static void parse_machines(struct vm_qemu_caps *q, struct json_object *machines)
{
	q->machines_all = json_object_is_type(machines, json_type_array);
	size_t n = q->machines_all ? json_object_array_length(machines) : 0, used = 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(machines, i);
		const char *name = util_json_str(m, "name"), *alias = util_json_str(m, "alias");
		if (!name)
			continue;
		for (int k = 0; k < 2; k++) {
			const char *s = k ? alias : name;
			size_t len = s ? strlen(s) : 0;
			if (!len)
				continue;
			if (used + len + 2 > sizeof(q->machines)) {
				q->machines_all = false;
				continue;
			}
			memcpy(q->machines + used, s, len);
			q->machines[used + len] = ' ';
			used += len + 1;
		}
		if (alias && q->naliases < VM_QEMU_ALIASES_MAX) {
			struct vm_qemu_alias *a = &q->aliases[q->naliases++];
			copy_str(a->alias, sizeof(a->alias), alias);
			copy_str(a->name, sizeof(a->name), name);
		}
	}
	q->machines[used] = '\0';
}

int vm_qemu_caps_parse(const char *binary, struct json_object *version, struct json_object *target,
		       struct json_object *machines, struct vm_qemu_caps *out, struct err **e)
{
	struct vm_qemu_caps q = {0};
	copy_str(q.binary, sizeof(q.binary), binary);
	struct json_object *qv = NULL;
	int64_t v[3];
	if (!json_object_object_get_ex(version, "qemu", &qv) || util_json_int(qv, "major", &v[0]) < 0 ||
	    util_json_int(qv, "minor", &v[1]) < 0 || util_json_int(qv, "micro", &v[2]) < 0)
		return err_set(e, EIO, "%s: query-version has no qemu major/minor/micro", binary);
	q.major = (int)v[0];
	q.minor = (int)v[1];
	q.micro = (int)v[2];
	copy_str(q.package, sizeof(q.package), util_json_str(version, "package"));
	copy_str(q.target, sizeof(q.target), target ? util_json_str(target, "arch") : NULL);
	parse_machines(&q, machines);
	*out = q;
	return 0;
}

bool vm_qemu_at_least(const struct vm_qemu_caps *q, int major, int minor)
{
	return q->major > major || (q->major == major && q->minor >= minor);
}

const char *vm_qemu_version_str(const struct vm_qemu_caps *q, char *buf, size_t size)
{
	snprintf(buf, size, "%d.%d.%d", q->major, q->minor, q->micro);
	return buf;
}

const char *vm_qemu_machine_type(const struct vm_qemu_caps *q, const char *machine)
{
	for (size_t i = 0; i < q->naliases; i++)
		if (!strcmp(q->aliases[i].alias, machine))
			return q->aliases[i].name;
	size_t len = strlen(machine);
	for (const char *p = q->machines; len && (p = strstr(p, machine)); p += len)
		if ((p == q->machines || p[-1] == ' ') && p[len] == ' ')
			return machine;
	return NULL;
}

const char *vm_qemu_target_of(const char *binary)
{
	const char *base = binary ? strrchr(binary, '/') : NULL;
	base = base ? base + 1 : binary;
	static const char prefix[] = "qemu-system-";
	if (!base || strncmp(base, prefix, sizeof(prefix) - 1) || !base[sizeof(prefix) - 1])
		return NULL;
	return base + sizeof(prefix) - 1;
}

int vm_qemu_caps_check(const struct vm_qemu_caps *q, const char *want_target, const char *machine,
		       struct err **e)
{
	char v[32];
	vm_qemu_version_str(q, v, sizeof(v));
	if (want_target && *q->target && strcmp(q->target, want_target))
		return err_set(e, EINVAL, "qemu: %s is QEMU %s for %s guests, not %s (the config's "
			       "arch wants qemu-system-%s)", q->binary, v, q->target, want_target,
			       want_target);
	if (machine && q->machines_all && !vm_qemu_machine_type(q, machine))
		return err_set(e, EINVAL, "machine: %s (QEMU %s) has no machine type %s", q->binary, v,
			       machine);
	return 0;
}
