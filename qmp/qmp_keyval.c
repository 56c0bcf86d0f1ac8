/*
 * qmp_keyval — QEMU option strings, built safely; see qmp_keyval.h.
 *
 * Grammar produced (QEMU keyval, util/keyval.c):
 *   opts   := [implied-value ","] pair ("," pair)*
 *   pair   := key "=" value
 *   key    := [A-Za-z0-9_.-]+            (never escaped: validated)
 *   value  := any chars, "," written as ",,"
 * JSON to keyval: string → escaped value, true/false → on/off, integer →
 * decimal, object → its members under "key.", array → "key.0", "key.1"...
 * null members are left out.
 */
#include "qmp/qmp_keyval.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

void qmp_keyval_escape(struct sbuf *b, const char *s)
{
	const char *p = s;
	for (;;) {
		const char *c = strchr(p, ',');
		if (!c) {
			sbuf_add(b, p);
			return;
		}
		sbuf_addn(b, p, (size_t)(c - p) + 1);
		sbuf_addc(b, ',');
		p = c + 1;
	}
}

void qmp_keyval_add(struct sbuf *b, const char *key, const char *value)
{
	if (b->len)
		sbuf_addc(b, ',');
	sbuf_add(b, key);
	sbuf_addc(b, '=');
	qmp_keyval_escape(b, value);
}

void qmp_keyval_addf(struct sbuf *b, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *v = xvasprintf(fmt, ap);
	va_end(ap);
	qmp_keyval_add(b, key, v);
}

static bool keyval_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool keyval_is_id_char(char c)
{
	return keyval_is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

int qmp_keyval_check_id(const char *what, const char *id, size_t max, struct err **e)
{
	if (!id || !*id)
		return err_set(e, EINVAL, "%s: must not be empty", what);
	size_t n = strlen(id);
	if (n > max)
		return err_set(e, EINVAL, "%s: too long (%zu characters, at most %zu)", what, n, max);
	if (!keyval_is_alpha(id[0]))
		return err_set(e, EINVAL, "%s: must start with a letter", what);
	for (size_t i = 1; i < n; i++)
		if (!keyval_is_id_char(id[i]))
			return err_set(e, EINVAL,
				       "%s: invalid character at position %zu (allowed: letters, digits, '-', '.', '_')",
				       what, i);
	return 0;
}

int qmp_keyval_check_value(const char *what, const char *value, struct err **e)
{
	if (!value)
		return err_set(e, EINVAL, "%s: missing value", what);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return err_set(e, EINVAL, "%s: must not contain newlines or control characters",
				       what);
	return 0;
}

static bool keyval_key_wellformed(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!keyval_is_id_char(*k))
			return false;
	return true;
}

/* Append one scalar value (no key) in keyval form; containers and null
 * render to nothing here (keyval_add_member flattens containers). */
static void keyval_add_value(struct sbuf *b, struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		qmp_keyval_escape(b, json_object_get_string(v));
		break;
	case json_type_boolean:
		sbuf_add(b, json_object_get_boolean(v) ? "on" : "off");
		break;
	case json_type_int:
		sbuf_printf(b, "%" PRId64, json_object_get_int64(v));
		break;
	case json_type_double:
		sbuf_printf(b, "%.17g", json_object_get_double(v));
		break;
	default:
		break;
	}
}

/* `started` says whether anything (even an empty implied value) is out. */
static void keyval_add_member(struct sbuf *b, bool *started, const char *prefix,
			     const char *key, struct json_object *v)
{
	if (!keyval_key_wellformed(key))
		return; /* internal objects never carry such keys */
	cleanup_free char *full = prefix ? xasprintf("%s.%s", prefix, key) : xstrdup(key);
	enum json_type t = json_object_get_type(v);
	if (t == json_type_null)
		return;
	if (t == json_type_object) {
		json_object_object_foreach(v, k, sub)
			keyval_add_member(b, started, full, k, sub);
		return;
	}
	if (t == json_type_array) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++) {
			char idx[32];
			snprintf(idx, sizeof(idx), "%zu", i);
			keyval_add_member(b, started, full, idx,
					 json_object_array_get_idx(v, i));
		}
		return;
	}
	if (*started)
		sbuf_addc(b, ',');
	*started = true;
	sbuf_add(b, full);
	sbuf_addc(b, '=');
	keyval_add_value(b, v);
}

char *qmp_keyval_from_json(struct json_object *o, const char *implied)
{
	cleanup_sbuf struct sbuf b = {0};
	struct json_object *iv = NULL;
	bool started = false;
	if (implied && json_object_object_get_ex(o, implied, &iv) && iv) {
		keyval_add_value(&b, iv);
		started = true;
	}
	json_object_object_foreach(o, k, v) {
		if (iv && strcmp(k, implied) == 0)
			continue;
		keyval_add_member(&b, &started, NULL, k, v);
	}
	return sbuf_steal(&b);
}
