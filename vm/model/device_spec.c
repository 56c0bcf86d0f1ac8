/*
 * device_spec — the value grammar of device specs: typed keys, checked
 * values, defaults filled in (the per-type tables are in device.c).
 *
 *   MAC    xx:xx:xx:xx:xx:xx, unicast     BDF  [dddd:]bb:dd.f (hex)
 *   HEX16  "0x" + 1..4 hex digits         TAG  1..31 chars, no controls
 *   IFNAME [A-Za-z0-9_.-]{1,15}           PORT [A-Za-z0-9_.-]{0,63}
 *   PATH   absolute, shorter than PATH_MAX
 *   ""     means unset for an optional key (an ENUM takes its default)
 */
#include "vm/model/device_kind.h"

#include <ctype.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "qmp/qmp_keyval.h"

/* ---- value checks ---- */

static bool is_hex(char c) { return isxdigit((unsigned char)c) != 0; }

static bool check_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !is_hex(s[i]))
			return false;
	unsigned first = (unsigned)strtoul(s, NULL, 16);
	return (first & 1) == 0; /* unicast */
}

static bool check_bdf(const char *s)
{
	/* [dddd:]bb:dd.f */
	size_t n = strlen(s);
	const char *p = s;
	if (n == 12) {
		for (int i = 0; i < 4; i++)
			if (!is_hex(p[i]))
				return false;
		if (p[4] != ':')
			return false;
		p += 5;
	} else if (n != 7) {
		return false;
	}
	return is_hex(p[0]) && is_hex(p[1]) && p[2] == ':' && is_hex(p[3]) && is_hex(p[4]) &&
	       p[5] == '.' && p[6] >= '0' && p[6] <= '7';
}

static bool check_chars(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

static int spec_check_value(const struct vm_device_key *k, const char *s, struct err **e)
{
	if (!*s && !k->required && k->t != DK_ENUM)
		return 0; /* "" = unset */
	switch (k->t) {
	case DK_STR:
		return 0;
	case DK_PATH:
		if (s[0] != '/')
			return err_set(e, EINVAL, "%s: must be an absolute path", k->key);
		if (strlen(s) >= PATH_MAX)
			return err_set(e, EINVAL, "%s: path too long", k->key);
		return 0;
	case DK_ENUM:
		for (const char *const *c = k->choices; *c; c++)
			if (!strcmp(s, *c))
				return 0;
		{
			struct sbuf b = {0};
			for (const char *const *c = k->choices; *c; c++)
				sbuf_printf(&b, "%s%s", c == k->choices ? "" : " | ", *c);
			int r = err_set(e, EINVAL, "%s: unsupported value %s (%s)", k->key, s, b.s);
			sbuf_release(&b);
			return r;
		}
	case DK_ID:
		return qmp_keyval_check_id(k->key, s, 31, e);
	case DK_MAC:
		if (!check_mac(s))
			return err_set(e, EINVAL, "%s: must be a unicast MAC xx:xx:xx:xx:xx:xx", k->key);
		return 0;
	case DK_BDF:
		if (!check_bdf(s))
			return err_set(e, EINVAL, "%s: must be a PCI address [dddd:]bb:dd.f", k->key);
		return 0;
	case DK_HEX16: {
		size_t n = strlen(s);
		bool ok = n >= 3 && n <= 6 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
		for (size_t i = 2; ok && i < n; i++)
			ok = is_hex(s[i]);
		if (!ok)
			return err_set(e, EINVAL, "%s: must be a 16-bit hex id such as 0x10de", k->key);
		return 0;
	}
	case DK_TAG:
		if (strlen(s) > 31)
			return err_set(e, EINVAL, "%s: at most 31 characters", k->key);
		return 0;
	case DK_IFNAME:
		if (!check_chars(s, 1, 15))
			return err_set(e, EINVAL,
				       "%s: must be an interface name of 1..15 letters, digits, '_', '.', '-'",
				       k->key);
		return 0;
	case DK_PORT:
		if (!check_chars(s, 0, 63))
			return err_set(e, EINVAL,
				       "%s: at most 63 letters, digits, '_', '.', '-'", k->key);
		return 0;
	case DK_INT:
	case DK_BOOL:
		break;
	}
	return 0;
}

int vm_device_spec_string(struct json_object *o, const char *key, const char **out,
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
	int r = qmp_keyval_check_value(key, s, e);
	if (r < 0)
		return r;
	*out = s;
	return 0;
}

int vm_device_spec_normalize(const struct vm_device_kind *k, struct json_object *o, const char *id,
			 struct json_object *spec, struct err **e)
{
	int r;
	for (size_t i = 0; i < k->nkeys; i++) {
		const struct vm_device_key *dk = &k->keys[i];
		struct json_object *v = NULL;
		bool given = json_object_object_get_ex(o, dk->key, &v);
		if (!given && dk->required)
			return err_set(e, EINVAL, "%s: required", dk->key);
		switch (dk->t) {
		case DK_BOOL: {
			if (given && !json_object_is_type(v, json_type_boolean))
				return err_set(e, EINVAL, "%s: expected boolean", dk->key);
			bool b = given ? json_object_get_boolean(v) : dk->idef != 0;
			json_object_object_add(spec, dk->key, json_object_new_boolean(b));
			break;
		}
		case DK_INT: {
			if (given && !json_object_is_type(v, json_type_int))
				return err_set(e, EINVAL, "%s: expected integer", dk->key);
			int64_t n = given ? json_object_get_int64(v) : dk->idef;
			if (n < dk->min || n > dk->max)
				return err_set(e, EINVAL, "%s: out of range (%lld..%lld)", dk->key,
					       dk->min, dk->max);
			json_object_object_add(spec, dk->key, json_object_new_int64(n));
			break;
		}
		default: {
			const char *s;
			if ((r = vm_device_spec_string(o, dk->key, &s, e)) < 0)
				return r;
			if (!s)
				s = dk->sdef ? dk->sdef : "";
			if (dk->required && !*s && dk->t != DK_PATH)
				return err_set(e, EINVAL, "%s: must not be empty", dk->key);
			if ((r = spec_check_value(dk, s, e)) < 0)
				return r;
			json_object_object_add(spec, dk->key, json_object_new_string(s));
			break;
		}
		}
	}
	if (k->kind == VM_DEVK_NET) {
		bool macvtap = !strcmp(util_json_str0(spec, "backend"), "macvtap");
		struct json_object *pf;
		bool given = json_object_object_get_ex(o, "pass_fds", &pf);
		if (macvtap && !given)
			json_object_object_add(spec, "pass_fds", json_object_new_boolean(true));
		else if (macvtap && !json_object_get_boolean(pf))
			return err_set(e, EINVAL,
				       "pass_fds: a macvtap can only be handed to QEMU as file descriptors");
	}
	return k->fixup ? k->fixup(spec, id, e) : 0;
}

