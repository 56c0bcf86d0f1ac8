/*
 * vm_parts — the parts of a device, rendered two ways: the QEMU command
 * line (-object, -chardev, -netdev, -fsdev, -blockdev, -device in keyval
 * form) and the QMP commands that add the same objects to a running QEMU,
 * plus the QMP command that takes each one away again.  One model, two
 * outputs: cold plug and hot plug cannot drift.
 */
#include "vm/model/parts.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "qmp/qmp_keyval.h"

static void js(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void jb(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

/* ---- descriptors ---- */

int vm_fdplan_add(struct vm_fdplan *p, enum vm_fd_source src, const char *name, bool mq)
{
	int num = VM_FD_FIRST + (int)p->n;
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n++] = (struct vm_fd){ .num = num, .src = src, .name = xstrdup(name),
				       .multi_queue = mq };
	return num;
}

void vm_fdplan_release(struct vm_fdplan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].name);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* ---- parts ---- */

void vm_dev_parts_release(struct vm_dev_parts *p)
{
	for (size_t i = 0; i < p->n; i++)
		json_object_put(p->v[i].args);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}
/* ---- the two outputs ---- */

void vm_dev_parts_argv(const struct vm_dev_parts *p, struct strv *argv)
{
	static const struct {
		const char *opt, *implied;
	} r[] = {
		[VM_PART_OBJECT] = { "-object", "qom-type" },
		[VM_PART_CHARDEV] = { "-chardev", "backend" },
		[VM_PART_NETDEV] = { "-netdev", "type" },
		[VM_PART_FSDEV] = { "-fsdev", "fsdriver" },
		[VM_PART_BLOCKDEV] = { "-blockdev", NULL },
		[VM_PART_DEVICE] = { "-device", "driver" },
	};
	for (size_t i = 0; i < p->n; i++) {
		strv_add(argv, r[p->v[i].kind].opt);
		strv_add_take(argv, qmp_keyval_from_json(p->v[i].args, r[p->v[i].kind].implied));
	}
}

/* chardev-add takes a nested ChardevBackend, not the flat -chardev form. */
static struct json_object *chardev_qmp(struct json_object *flat)
{
	const char *backend = util_json_str0(flat, "backend");
	struct json_object *data = json_object_new_object();
	if (!strcmp(backend, "socket")) {
		struct json_object *ud = json_object_new_object();
		js(ud, "path", util_json_str0(flat, "path"));
		struct json_object *addr = json_object_new_object();
		js(addr, "type", "unix");
		json_object_object_add(addr, "data", ud);
		json_object_object_add(data, "addr", addr);
		jb(data, "server", util_json_bool(flat, "server"));
		if (util_json_bool(flat, "server"))
			jb(data, "wait", false);
	} else {
		js(data, "out", util_json_str0(flat, "path"));
		jb(data, "append", util_json_bool(flat, "append"));
	}
	struct json_object *be = json_object_new_object();
	js(be, "type", backend);
	json_object_object_add(be, "data", data);
	struct json_object *o = json_object_new_object();
	js(o, "id", util_json_str0(flat, "id"));
	json_object_object_add(o, "backend", be);
	return o;
}

int vm_dev_parts_qmp(const struct vm_dev_parts *p, struct json_object **out, struct err **e)
{
	static const char *const cmd[] = {
		[VM_PART_OBJECT] = "object-add", [VM_PART_CHARDEV] = "chardev-add",
		[VM_PART_NETDEV] = "netdev_add", [VM_PART_FSDEV] = NULL,
		[VM_PART_BLOCKDEV] = "blockdev-add", [VM_PART_DEVICE] = "device_add",
	};
	cleanup_json struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < p->n; i++) {
		const struct vm_dev_part *pt = &p->v[i];
		if (!cmd[pt->kind])
			return err_set(e, EOPNOTSUPP,
				       "%s: a 9p filesystem (-fsdev) cannot be added through QMP",
				       util_json_str0(pt->args, "id"));
		struct json_object *args = NULL;
		if (pt->kind == VM_PART_CHARDEV)
			args = chardev_qmp(pt->args);
		else if (json_object_deep_copy(pt->args, &args, NULL) < 0)
			abort();
		struct json_object *c = json_object_new_object();
		js(c, "execute", cmd[pt->kind]);
		json_object_object_add(c, "arguments", args);
		json_object_array_add(a, c);
	}
	*out = move_ptr(a);
	return 0;
}

struct json_object *vm_dev_parts_undo(const char *cmd, struct json_object *args)
{
	static const struct {
		const char *add, *del, *key;
	} inverse[] = {
		{ "blockdev-add", "blockdev-del", "node-name" },
		{ "netdev_add", "netdev_del", "id" },
		{ "object-add", "object-del", "id" },
		{ "chardev-add", "chardev-remove", "id" },
		{ "device_add", "device_del", "id" },
	};
	for (size_t i = 0; cmd && i < ARRAY_SIZE(inverse); i++) {
		struct json_object *name;
		if (strcmp(cmd, inverse[i].add) != 0)
			continue;
		if (!json_object_object_get_ex(args, inverse[i].key, &name) ||
		    !json_object_is_type(name, json_type_string))
			return NULL;
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, inverse[i].key, json_object_get(name));
		struct json_object *c = json_object_new_object();
		js(c, "execute", inverse[i].del);
		json_object_object_add(c, "arguments", a);
		return c;
	}
	return NULL;
}
