/*
 * vm_qmp_session — one raw QMP command of a power user; see
 * qmp_session.h.  The refusal table is the one list of what the file
 * refuses (docs/abi.md copies it); a name ending in '*' refuses every
 * command it begins.
 */
#include "vm/sandbox/qmp_session.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/sandbox/sandbox.h"

static const struct {
	const char *cmd;
	const char *use;
} refused[] = {
	{"device_add", "devices/add (cpus/target for vCPUs, memory/target for DIMMs)"},
	{"device_del", "devices/remove (cpus/target, memory/target)"},
	{"blockdev-add", "devices/add"},
	{"blockdev-del", "devices/remove"},
	{"netdev_add", "devices/add"},
	{"netdev_del", "devices/remove"},
	{"object-add", "devices/add, memory/target"},
	{"object-del", "devices/remove, memory/target"},
	{"chardev-add", "devices/add"},
	{"chardev-remove", "devices/remove"},
	{"add-fd", "devices/add (the daemon passes descriptors)"},
	{"remove-fd", "devices/remove"},
	{"getfd", "devices/add (the daemon passes descriptors)"},
	{"closefd", "devices/remove"},
	{"quit", "ctl (stop)"},
	{"stop", "ctl (pause)"},
	{"cont", "ctl (resume)"},
	{"migrate*", "the daemon's migration (not through raw QMP)"},
	{"balloon", "memory/balloon"},
	{"block_set_io_throttle", "devices/<id>/throttle"},
	{"qmp_capabilities", "nothing: the session is negotiated already"},
};

void vm_qmp_session_describe(struct sbuf *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		sbuf_printf(out, "%s: %s\n", refused[i].cmd, refused[i].use);
}

static const char *refusal(const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		const char *r = refused[i].cmd;
		size_t n = strlen(r);
		if (r[n - 1] == '*' ? !strncmp(cmd, r, n - 1) : !strcmp(cmd, r))
			return refused[i].use;
	}
	return NULL;
}

/* Exactly one JSON object and blanks. */
static int parse_one(const char *text, struct json_object **out, struct err **e)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		abort();
	size_t len = strlen(text);
	struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t used = (size_t)json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || je != json_tokener_success) {
		json_object_put(o);
		return err_set(e, EINVAL, "not a JSON object: %s",
			       je == json_tokener_continue ? "incomplete" : json_tokener_error_desc(je));
	}
	if (strspn(text + used, " \t\r\n") != len - used) {
		json_object_put(o);
		return err_set(e, EINVAL, "one command per write: text follows the JSON object");
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return err_set(e, EINVAL, "a command is a JSON object {\"execute\": NAME, ...}");
	}
	*out = o;
	return 0;
}

/* {"execute": NAME, "arguments": {...}, "id": ANY} and nothing else. */
static int check_command(struct json_object *o, const char **cmd, struct json_object **args,
			 struct json_object **id, struct err **e)
{
	*cmd = NULL;
	*args = *id = NULL;
	json_object_object_foreach(o, key, val) {
		if (!strcmp(key, "execute") && json_object_is_type(val, json_type_string))
			*cmd = json_object_get_string(val);
		else if (!strcmp(key, "arguments") && json_object_is_type(val, json_type_object))
			*args = val;
		else if (!strcmp(key, "id"))
			*id = val;
		else if (!strcmp(key, "execute"))
			return err_set(e, EINVAL, "execute: must be a string");
		else if (!strcmp(key, "arguments"))
			return err_set(e, EINVAL, "arguments: must be a JSON object");
		else if (!strcmp(key, "exec-oob"))
			return err_set(e, EINVAL, "exec-oob: out-of-band commands are not offered");
		else
			return err_set(e, EINVAL, "%.40s: not a member of a command (execute, arguments, "
				       "id)", key);
	}
	if (!*cmd || !**cmd)
		return err_set(e, EINVAL, "execute: the command's name is missing");
	return 0;
}

int vm_qmp_session_execute(struct vm_sandbox *sb, const char *text, char **reply,
			   struct err **e)
{
	cleanup_json struct json_object *o = NULL;
	const char *cmd = NULL;
	struct json_object *args = NULL, *id = NULL;
	int r = parse_one(text, &o, e);
	if (r == 0)
		r = check_command(o, &cmd, &args, &id, e);
	if (r < 0)
		return r;
	const char *use = refusal(cmd);
	if (use)
		return err_set(e, EPERM, "%s: refused on the raw QMP file: it would break sandboxfs' "
			       "record of the sandbox; use %s", cmd, use);
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
	if (!qmp)
		return err_ret(e);
	cleanup_json struct json_object *res = NULL;
	r = qmp_execute_raw(qmp, cmd, args ? json_object_get(args) : NULL,
			    vm_get_settings()->qmp_timeout_ms, &res, e);
	if (r < 0)
		return err_wrap(e, "%s", cmd);
	if (id)
		json_object_object_add(res, "id", json_object_get(id));
	log_debug("%s: raw QMP %s", sb->name, cmd);
	*reply = xasprintf("%s\n", json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}
