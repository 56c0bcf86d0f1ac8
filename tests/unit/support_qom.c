/* support_qom — see support_qom.h. */
#include "tests/unit/support_qom.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "tests/unit/support_qemu.h"

struct json_object *sqom_get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

struct json_object *sqom_find(struct json_object *l, const char *key, const char *val)
{
	for (size_t i = 0; l && i < json_object_array_length(l); i++)
		if (!strcmp(sqemu_jstr(json_object_array_get_idx(l, i), key), val))
			return json_object_array_get_idx(l, i);
	return NULL;
}

char *sqom_str(struct qmp_client *c, const char *path, const char *prop)
{
	cleanup_json struct json_object *v = sqemu_qom_get(c, path, prop, SQOM_TMO);
	return xstrdup(v ? json_object_get_string(v) : "");
}

long long sqom_int(struct qmp_client *c, const char *path, const char *prop)
{
	cleanup_json struct json_object *v = sqemu_qom_get(c, path, prop, SQOM_TMO);
	return v ? json_object_get_int64(v) : -1;
}

int sqom_bool(struct qmp_client *c, const char *path, const char *prop)
{
	cleanup_json struct json_object *v = sqemu_qom_get(c, path, prop, SQOM_TMO);
	return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : -1;
}

char *sqom_child(struct qmp_client *c, const char *path, const char *name)
{
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "path", json_object_new_string(path));
	cleanup_json struct json_object *l = sqemu_qmp(c, "qom-list", a, SQOM_TMO);
	for (size_t i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *p = json_object_array_get_idx(l, i);
		if (!strcmp(sqemu_jstr(p, "name"), name))
			return xstrdup(sqemu_jstr(p, "type"));
	}
	return xstrdup("");
}

char *sqom_chardev_filename(struct qmp_client *c, const char *label)
{
	cleanup_json struct json_object *l = sqemu_qmp(c, "query-chardev", NULL, SQOM_TMO);
	for (size_t i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *ch = json_object_array_get_idx(l, i);
		if (!strcmp(sqemu_jstr(ch, "label"), label))
			return xstrdup(sqemu_jstr(ch, "filename"));
	}
	return NULL;
}

bool sqom_placed_at(struct qmp_client *c, const char *id, const char *bridge, int devfn)
{
	cleanup_free char *path = xasprintf("/machine/peripheral/%s", id);
	cleanup_free char *bus = sqom_str(c, path, "parent_bus");
	cleanup_free char *want = xasprintf("/machine/peripheral/%s/%s", bridge, bridge);
	long long addr = sqom_int(c, path, "addr");
	if (!strcmp(bus, want) && addr == devfn)
		return true;
	fprintf(stderr, "\n  %s: on %s at devfn %lld, want %s at %d\n", id, bus, addr, want, devfn);
	return false;
}
