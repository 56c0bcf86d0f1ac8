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

#define FD_MARK '\001'

char *vm_fdplan_add(struct vm_fdplan *p, enum vm_fd_source src, enum vm_fd_ref ref,
		    const char *name, const struct vm_fd *opts)
{
	size_t k = p->n;
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	struct vm_fd f = opts ? *opts : (struct vm_fd){0};
	f.num = VM_FD_FIRST + (int)k;
	f.src = src;
	f.ref = ref;
	f.name = xstrdup(name);
	if (!opts)
		f.cred = cred_root;
	int sets = 0;
	for (size_t i = 0; i < k; i++)
		sets += p->v[i].ref == VM_FD_REF_FDSET;
	f.set = ref == VM_FD_REF_FDSET ? sets + 1 : 0;
	p->v[p->n++] = f;
	/* A descriptor by number is its number already (argv "fds=4:5"); a
	 * path to one waits for binding. */
	if (ref == VM_FD_REF_NUM)
		return xasprintf("%d", f.num);
	return xasprintf("%c%zu", FD_MARK, k);
}

void vm_fdplan_release(struct vm_fdplan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].name);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

char *vm_fdplan_exec_ref(const struct vm_fd *f, size_t k, void *opaque)
{
	switch (f->ref) {
	case VM_FD_REF_FDSET:
		return xasprintf("/dev/fdset/%d", f->set);
	case VM_FD_REF_PROC:
		return xasprintf("/proc/self/fd/%d", f->num);
	case VM_FD_REF_NUM:
		break;
	}
	return xasprintf("%d", f->num);
}

/* "\001K[:\001K...]" bound entry by entry; NULL when `s` holds no marker. */
static char *fdplan_bind_string(const char *s, const struct vm_fdplan *plan,
				char *(*bind)(const struct vm_fd *, size_t, void *), void *opaque)
{
	if (!strchr(s, FD_MARK))
		return NULL;
	struct sbuf out = {0};
	for (const char *p = s; *p;) {
		if (*p != FD_MARK) {
			sbuf_addc(&out, *p++);
			continue;
		}
		char *end;
		unsigned long k = strtoul(p + 1, &end, 10);
		if (end == p + 1 || k >= plan->n) {
			sbuf_addc(&out, *p++); /* not ours: left as it is (and refused by QEMU) */
			continue;
		}
		char *ref = bind(&plan->v[k], k, opaque);
		sbuf_add(&out, ref);
		free(ref);
		p = end;
	}
	return sbuf_steal(&out);
}

size_t vm_fdplan_bind(struct json_object *o, const struct vm_fdplan *plan,
		      char *(*bind)(const struct vm_fd *f, size_t k, void *opaque), void *opaque)
{
	size_t n = 0;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, v) {
			if (!json_object_is_type(v, json_type_string)) {
				n += vm_fdplan_bind(v, plan, bind, opaque);
				continue;
			}
			char *b = fdplan_bind_string(json_object_get_string(v), plan, bind, opaque);
			if (b) {
				json_object_object_add(o, key, json_object_new_string(b));
				free(b);
				n++;
			}
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			n += vm_fdplan_bind(json_object_array_get_idx(o, i), plan, bind, opaque);
	}
	return n;
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
		/* A socket the daemon opened (fd=) or one QEMU opens (path=). */
		const char *fd = util_json_str(flat, "fd");
		struct json_object *ud = json_object_new_object();
		js(ud, fd ? "str" : "path", fd ? fd : util_json_str0(flat, "path"));
		struct json_object *addr = json_object_new_object();
		js(addr, "type", fd ? "fd" : "unix");
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
