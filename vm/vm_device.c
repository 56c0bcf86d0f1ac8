/*
 * vm_device — device descriptions; see vm_device.h.
 *
 * Grammar of a device spec (one JSON object; trailing whitespace only):
 *
 *   spec     := "{" member ("," member)* "}"
 *   "type"     string, required: "block" (the only type so far)
 *   "id"       string, required: [A-Za-z][A-Za-z0-9._-]{0,24}
 *   "file"     string, required: absolute path, no control characters
 *              (',' is fine: it is escaped on the command line)
 *   "format"   string, optional: "raw" (default) | "qcow2"
 *   "readonly" bool,   optional: default false
 *
 * Anything else (unknown key, wrong JSON type, missing required key, bad
 * value) is EINVAL with a message naming the key.
 *
 * Outputs, as QEMU 7.2 takes them (checked against the real binary):
 *   backend  {"driver":FORMAT, "node-name":"drive-ID", "read-only":RO,
 *             "file":{"driver":"file", "filename":FILE, "read-only":RO}}
 *   frontend {"driver":BLK_DRIVER, "id":ID, "drive":"drive-ID",
 *             "bus":BUS, "addr":"0xADDR"}          (bus/addr only if placed)
 */
#include "vm/vm_device.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/util.h"
#include "vm/vm_config.h"
#include "vm/vm_qopts.h"

static const char *const dev_keys[] = { "type", "id", "file", "format", "readonly" };

void vm_device_free(struct vm_device *d)
{
	if (!d)
		return;
	free(d->id);
	free(d->type);
	free(d->file);
	free(d->format);
	free(d);
}

/* The string member `key` of o, or NULL when absent; EINVAL if present
 * but not a string, or if it holds an embedded NUL or a control char. */
static int dev_get_string(struct json_object *o, const char *key, const char **out,
			  struct err **e)
{
	struct json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return err_set(e, EINVAL, "%s: expected string", key);
	const char *s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return err_set(e, EINVAL, "%s: must not contain newlines or control characters", key);
	int r = vm_qopts_check_value(key, s, e);
	if (r < 0)
		return r;
	*out = s;
	return 0;
}

int vm_device_from_json(struct json_object *o, struct vm_device **out, struct err **e)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "device: not a JSON object");
	json_object_object_foreach(o, key, val) {
		(void)val;
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(dev_keys); i++)
			known = known || strcmp(key, dev_keys[i]) == 0;
		if (!known)
			return err_set(e, EINVAL, "unknown key: %s", key);
	}

	const char *type, *id, *file, *format;
	int r;
	if ((r = dev_get_string(o, "type", &type, e)) < 0 ||
	    (r = dev_get_string(o, "id", &id, e)) < 0 ||
	    (r = dev_get_string(o, "file", &file, e)) < 0 ||
	    (r = dev_get_string(o, "format", &format, e)) < 0)
		return r;
	bool readonly = false;
	struct json_object *ro;
	if (json_object_object_get_ex(o, "readonly", &ro)) {
		if (!json_object_is_type(ro, json_type_boolean))
			return err_set(e, EINVAL, "readonly: expected boolean");
		readonly = json_object_get_boolean(ro);
	}

	if (!type)
		return err_set(e, EINVAL, "type: required");
	if (strcmp(type, "block") != 0)
		return err_set(e, EINVAL, "type: unsupported device type %s", type);
	if (!id)
		return err_set(e, EINVAL, "id: required");
	if ((r = vm_qopts_check_id("id", id, VM_DEVICE_ID_MAX, e)) < 0)
		return r;
	if (!file)
		return err_set(e, EINVAL, "file: required");
	if (file[0] != '/')
		return err_set(e, EINVAL, "file: must be an absolute path");
	if (strlen(file) >= PATH_MAX)
		return err_set(e, EINVAL, "file: path too long");
	if (!format)
		format = "raw";
	if (strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0)
		return err_set(e, EINVAL, "format: unsupported format %s (raw | qcow2)", format);

	struct vm_device *d = xcalloc(1, sizeof(*d));
	d->type = xstrdup(type);
	d->id = xstrdup(id);
	d->file = xstrdup(file);
	d->format = xstrdup(format);
	d->readonly = readonly;
	d->bridge = d->slot = -1;
	d->state = VM_DEV_CONFIGURED;
	*out = d;
	return 0;
}

int vm_device_parse(const char *json, struct vm_device **out, struct err **e)
{
	cleanup_json struct json_object *o = NULL;
	int r = vm_config_parse_object("device", json, &o, e);
	if (r < 0)
		return r;
	return vm_device_from_json(o, out, e);
}

struct json_object *vm_device_spec(const struct vm_device *d)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(d->type));
	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "file", json_object_new_string(d->file));
	json_object_object_add(o, "format", json_object_new_string(d->format));
	json_object_object_add(o, "readonly", json_object_new_boolean(d->readonly));
	return o;
}

const char *vm_device_state_name(enum vm_device_state s)
{
	switch (s) {
	case VM_DEV_CONFIGURED:
		return "configured";
	case VM_DEV_ATTACHED:
		return "attached";
	case VM_DEV_REMOVING:
		return "removing";
	}
	return "unknown";
}

const char *vm_device_node_name(const struct vm_device *d, char *buf, size_t len)
{
	snprintf(buf, len, "drive-%s", d->id);
	return buf;
}

struct json_object *vm_device_backend(const struct vm_device *d)
{
	if (strcmp(d->type, "block") != 0)
		return NULL;
	char node[VM_DEVICE_ID_MAX + 8];
	struct json_object *file = json_object_new_object();
	json_object_object_add(file, "driver", json_object_new_string("file"));
	json_object_object_add(file, "filename", json_object_new_string(d->file));
	json_object_object_add(file, "read-only", json_object_new_boolean(d->readonly));
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "driver", json_object_new_string(d->format));
	json_object_object_add(o, "node-name",
			       json_object_new_string(vm_device_node_name(d, node, sizeof(node))));
	json_object_object_add(o, "read-only", json_object_new_boolean(d->readonly));
	json_object_object_add(o, "file", file);
	return o;
}

struct json_object *vm_device_frontend(const struct vm_device *d, const struct arch_ops *a,
				       const char *bus, int addr)
{
	char node[VM_DEVICE_ID_MAX + 8];
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "driver", json_object_new_string(a->blk_driver));
	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "drive",
			       json_object_new_string(vm_device_node_name(d, node, sizeof(node))));
	if (bus) {
		char hex[16];
		snprintf(hex, sizeof(hex), "0x%x", (unsigned)addr);
		json_object_object_add(o, "bus", json_object_new_string(bus));
		json_object_object_add(o, "addr", json_object_new_string(hex));
	}
	return o;
}
