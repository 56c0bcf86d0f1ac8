/*
 * vm_config — the sandbox configuration model; see vm_config.h.
 *
 * Grammar of a config write (one JSON object, merged into the current
 * config; keys replace, absent keys keep their value):
 *
 *   config  := "{" [ member ("," member)* ] "}"     trailing whitespace only
 *   member  := KEY ":" value                        KEY from the table below
 *
 *   key                type    default                       limits / rule    live
 *   arch               string  host arch                     known arch        no
 *   qemu               string  "" = arch binary for machine  "" or abs path    no
 *   machine            string  arch default machine          known to arch     no
 *   accel              string  defaults.accel|tcg,thread=multi  enum          no
 *   cpu_model          string  "" = arch default             [A-Za-z0-9._-]*   no
 *   vcpus              int     1                             1..maxvcpus       no
 *   maxvcpus           int     4                             1..arch max       no
 *   memory_mib         int     256                           64..1048576       no
 *   kernel             string  defaults.guest_kernel         abs path          no
 *   initrd             string  defaults.guest_initrd         "" or abs path    no
 *   kernel_params      string  ""                            -                 no
 *   debug              bool    false                         -                 no
 *   root_ports         int     4                             0..32 (+arch)     no
 *   uuid               string  random v4 at creation         canonical, lower  no
 *   remove_timeout_ms  int     10000                         100..600000       yes
 *
 * Every string rejects newlines and control characters.  Types are strict:
 * an int key takes a JSON integer only (not true, 2.5 or "2").  While the
 * sandbox runs, a non-live key may only be "changed" to its current
 * (effective) value, so a read-modify-write of the whole object works.
 * Read-back shows effective values: "qemu" is the resolved binary.
 */
#include "vm/vm_config.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "arch/arch.h"
#include "lib/util.h"
#include "vm/vm_qopts.h"

/* Sanity bound on vCPU counts before the arch's own limit applies. */
#define CFG_VCPUS_LIMIT 4096

enum cfg_type { CFG_STRING, CFG_INT, CFG_BOOL };

struct cfg_key {
	const char *key;
	enum cfg_type type;
	size_t off;
	long long min, max;     /* CFG_INT static range */
	bool live;              /* may change while running */
	long long idef;         /* CFG_INT / CFG_BOOL default */
	const char *sdef;       /* CFG_STRING static default */
	/* CFG_STRING dynamic default (heap string); sees the keys above it. */
	char *(*sdef_fn)(const struct vm_config *cfg);
	/* Extra rule on the complete config; sees every key. */
	int (*check)(const struct vm_config *cfg, const struct cfg_key *k, struct err **e);
	/* Effective value of a string key ("" resolved); NULL: stored value. */
	const char *(*effective)(const struct vm_config *cfg);
};

#define CFG_FIELD(cfg, k, T) (*(T *)((char *)(cfg) + (k)->off))
#define CFG_CFIELD(cfg, k, T) (*(const T *)((const char *)(cfg) + (k)->off))

/* ---- daemon-wide defaults ---- */

static struct {
	char *guest_kernel, *guest_initrd, *accel;
} cfg_defaults;

void vm_config_set_defaults(const struct vm_defaults *d)
{
	free(cfg_defaults.guest_kernel);
	free(cfg_defaults.guest_initrd);
	free(cfg_defaults.accel);
	cfg_defaults.guest_kernel = d && d->guest_kernel ? xstrdup(d->guest_kernel) : NULL;
	cfg_defaults.guest_initrd = d && d->guest_initrd ? xstrdup(d->guest_initrd) : NULL;
	cfg_defaults.accel = d && d->accel ? xstrdup(d->accel) : NULL;
}

/* ---- effective values ---- */

const struct arch_ops *vm_config_arch(const struct vm_config *cfg)
{
	return arch_lookup(cfg->arch);
}

const char *vm_config_qemu_binary(const struct vm_config *cfg)
{
	if (cfg->qemu && *cfg->qemu)
		return cfg->qemu;
	const struct arch_ops *a = vm_config_arch(cfg);
	const char *bin = a ? a->qemu_binary(cfg->machine) : NULL;
	return bin ? bin : "";
}

const char *vm_config_cpu_model(const struct vm_config *cfg)
{
	if (cfg->cpu_model && *cfg->cpu_model)
		return cfg->cpu_model;
	const struct arch_ops *a = vm_config_arch(cfg);
	return a && a->default_cpu ? a->default_cpu : "";
}

/* ---- dynamic defaults ---- */

static void cfg_random_bytes(unsigned char *buf, size_t n)
{
	size_t got = 0;
	cleanup_close int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	while (got < n) { /* /dev/urandom unavailable (chroot): the syscall */
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			abort(); /* no randomness at all: like OOM, not recoverable */
		got += (size_t)r;
	}
}

static char *cfg_def_uuid(const struct vm_config *cfg)
{
	unsigned char b[16];
	cfg_random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			 "%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
			 b[10], b[11], b[12], b[13], b[14], b[15]);
}

static char *cfg_def_arch(const struct vm_config *cfg) { return xstrdup(arch_host()); }

static char *cfg_def_machine(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return xstrdup(a ? a->default_machine : "");
}

static char *cfg_def_accel(const struct vm_config *cfg)
{
	return xstrdup(cfg_defaults.accel ? cfg_defaults.accel : "tcg,thread=multi");
}

static char *cfg_def_kernel(const struct vm_config *cfg)
{
	return xstrdup(cfg_defaults.guest_kernel ? cfg_defaults.guest_kernel : "");
}

static char *cfg_def_initrd(const struct vm_config *cfg)
{
	return xstrdup(cfg_defaults.guest_initrd ? cfg_defaults.guest_initrd : "");
}

/* ---- rules ---- */

static int cfg_check_path(const char *key, const char *v, bool may_be_empty, struct err **e)
{
	if (!*v && may_be_empty)
		return 0;
	if (v[0] != '/')
		return err_set(e, EINVAL, "%s: must be an absolute path", key);
	if (strlen(v) >= PATH_MAX)
		return err_set(e, EINVAL, "%s: path too long", key);
	return 0;
}

static int cfg_check_abs_path(const struct vm_config *cfg, const struct cfg_key *k,
			      struct err **e)
{
	return cfg_check_path(k->key, CFG_CFIELD(cfg, k, char *), false, e);
}

static int cfg_check_opt_path(const struct vm_config *cfg, const struct cfg_key *k,
			      struct err **e)
{
	return cfg_check_path(k->key, CFG_CFIELD(cfg, k, char *), true, e);
}

static int cfg_check_arch(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	if (!arch_lookup(cfg->arch))
		return err_set(e, EINVAL, "arch: unknown architecture: %s", cfg->arch);
	return 0;
}

static int cfg_check_machine(const struct vm_config *cfg, const struct cfg_key *k,
			     struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	if (!a || !a->qemu_binary(cfg->machine))
		return err_set(e, EINVAL, "unknown machine type: %s", cfg->machine);
	return 0;
}

static const char *const cfg_accels[] = { "tcg,thread=multi", "tcg,thread=single", "tcg", "kvm" };

static int cfg_check_accel(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_accels); i++)
		if (strcmp(cfg->accel, cfg_accels[i]) == 0)
			return 0;
	return err_set(e, EINVAL,
		       "accel: unsupported accelerator: %s (one of: tcg,thread=multi | "
		       "tcg,thread=single | tcg | kvm)", cfg->accel);
}

static int cfg_check_cpu_model(const struct vm_config *cfg, const struct cfg_key *k,
			       struct err **e)
{
	for (const char *p = cfg->cpu_model; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return err_set(e, EINVAL,
				       "cpu_model: invalid character (allowed: letters, digits, '.', '_', '-')");
	}
	return 0;
}

static int cfg_check_vcpus(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	if (cfg->vcpus > cfg->maxvcpus)
		return err_set(e, EINVAL, "vcpus: %d exceeds maxvcpus (%d)", cfg->vcpus,
			       cfg->maxvcpus);
	return 0;
}

static int cfg_check_maxvcpus(const struct vm_config *cfg, const struct cfg_key *k,
			      struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	int max = a ? a->max_vcpus(cfg) : 1;
	if (cfg->maxvcpus > max)
		return err_set(e, EINVAL, "maxvcpus: out of range (%lld..%d)", k->min, max);
	return 0;
}

static int cfg_check_uuid(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	const char *u = cfg->uuid;
	bool ok = strlen(u) == 36;
	for (size_t i = 0; ok && i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ok = u[i] == '-';
		else
			ok = (u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f');
	}
	if (!ok)
		return err_set(e, EINVAL,
			       "uuid: must be a lowercase UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
	return 0;
}

/* ---- the schema ---- */

#define S(name) CFG_STRING, offsetof(struct vm_config, name), 0, 0
#define I(name, lo, hi) CFG_INT, offsetof(struct vm_config, name), (lo), (hi)
#define B(name) CFG_BOOL, offsetof(struct vm_config, name), 0, 1

static const struct cfg_key cfg_schema[] = {
	{ "arch", S(arch), .sdef_fn = cfg_def_arch, .check = cfg_check_arch },
	{ "qemu", S(qemu), .sdef = "", .check = cfg_check_opt_path,
	  .effective = vm_config_qemu_binary },
	{ "machine", S(machine), .sdef_fn = cfg_def_machine, .check = cfg_check_machine },
	{ "accel", S(accel), .sdef_fn = cfg_def_accel, .check = cfg_check_accel },
	{ "cpu_model", S(cpu_model), .sdef = "", .check = cfg_check_cpu_model,
	  .effective = vm_config_cpu_model },
	{ "vcpus", I(vcpus, 1, CFG_VCPUS_LIMIT), .idef = 1, .check = cfg_check_vcpus },
	{ "maxvcpus", I(maxvcpus, 1, CFG_VCPUS_LIMIT), .idef = 4, .check = cfg_check_maxvcpus },
	{ "memory_mib", I(memory_mib, 64, 1048576), .idef = 256 },
	{ "kernel", S(kernel), .sdef_fn = cfg_def_kernel, .check = cfg_check_abs_path },
	{ "initrd", S(initrd), .sdef_fn = cfg_def_initrd, .check = cfg_check_opt_path },
	{ "kernel_params", S(kernel_params), .sdef = "" },
	{ "debug", B(debug), .idef = 0 },
	{ "root_ports", I(root_ports, 0, 32), .idef = 4 },
	{ "uuid", S(uuid), .sdef_fn = cfg_def_uuid, .check = cfg_check_uuid },
	{ "remove_timeout_ms", I(remove_timeout_ms, 100, 600000), .live = true, .idef = 10000 },
};

#undef S
#undef I
#undef B

static const struct cfg_key *cfg_find(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++)
		if (strcmp(cfg_schema[i].key, key) == 0)
			return &cfg_schema[i];
	return NULL;
}

static const char *cfg_effective(const struct vm_config *cfg, const struct cfg_key *k)
{
	if (k->effective)
		return k->effective(cfg);
	const char *v = CFG_CFIELD(cfg, k, char *);
	return v ? v : "";
}

/* ---- lifecycle ---- */

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		switch (k->type) {
		case CFG_STRING:
			CFG_FIELD(cfg, k, char *) = k->sdef_fn ? k->sdef_fn(cfg) : xstrdup(k->sdef);
			break;
		case CFG_INT:
			CFG_FIELD(cfg, k, int) = (int)k->idef;
			break;
		case CFG_BOOL:
			CFG_FIELD(cfg, k, bool) = k->idef != 0;
			break;
		}
	}
}

void vm_config_release(struct vm_config *cfg)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++)
		if (cfg_schema[i].type == CFG_STRING)
			free(CFG_FIELD(cfg, &cfg_schema[i], char *));
	memset(cfg, 0, sizeof(*cfg));
}

static void cfg_releasep(struct vm_config *cfg) { vm_config_release(cfg); }
#define cleanup_cfg __attribute__((cleanup(cfg_releasep)))

void vm_config_copy(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		if (k->type == CFG_STRING)
			CFG_FIELD(dst, k, char *) = xstrdup(CFG_CFIELD(src, k, char *));
	}
}

/* ---- validation ---- */

int vm_config_validate(const struct vm_config *cfg, struct err **e)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		int r;
		switch (k->type) {
		case CFG_STRING: {
			const char *v = CFG_CFIELD(cfg, k, char *);
			if (!v)
				return err_set(e, EINVAL, "%s: missing", k->key);
			if ((r = vm_qopts_check_value(k->key, v, e)) < 0)
				return r;
			break;
		}
		case CFG_INT: {
			int v = CFG_CFIELD(cfg, k, int);
			if (v < k->min || v > k->max)
				return err_set(e, EINVAL, "%s: out of range (%lld..%lld)", k->key,
					       k->min, k->max);
			break;
		}
		case CFG_BOOL:
			break;
		}
		if (k->check && (r = k->check(cfg, k, e)) < 0)
			return r;
	}
	const struct arch_ops *a = vm_config_arch(cfg);
	return a->validate ? a->validate(cfg, e) : 0;
}

/* ---- JSON ---- */

int vm_config_parse_object(const char *what, const char *text, struct json_object **out,
			   struct err **e)
{
	size_t len = text ? strlen(text) : 0;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	cleanup_json struct json_object *o = json_tokener_parse_ex(tok, text ? text : "", (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue)
		return err_set(e, EINVAL, "%s: not a JSON object (incomplete input)", what);
	if (jerr != json_tokener_success || !o)
		return err_set(e, EINVAL, "%s: not a JSON object (%s at offset %zu)", what,
			       json_tokener_error_desc(jerr), end);
	for (size_t i = end; i < len; i++)
		if (!strchr(" \t\r\n", text[i]))
			return err_set(e, EINVAL, "%s: not a JSON object (trailing garbage at offset %zu)",
				       what, i);
	if (!json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "%s: not a JSON object", what);
	*out = move_ptr(o);
	return 0;
}

/* Apply every member of `o` to cfg: key known, type exact, ints in their
 * static range, strings free of control characters.  Cross-key rules are
 * left to vm_config_validate. */
static int cfg_apply(struct vm_config *cfg, struct json_object *o, struct err **e)
{
	json_object_object_foreach(o, key, v) {
		const struct cfg_key *k = cfg_find(key);
		if (!k)
			return err_set(e, EINVAL, "unknown key: %s", key);
		switch (k->type) {
		case CFG_STRING: {
			if (!json_object_is_type(v, json_type_string))
				return err_set(e, EINVAL, "%s: expected string", k->key);
			const char *s = json_object_get_string(v);
			if ((size_t)json_object_get_string_len(v) != strlen(s))
				return err_set(e, EINVAL,
					       "%s: must not contain newlines or control characters",
					       k->key);
			int r = vm_qopts_check_value(k->key, s, e);
			if (r < 0)
				return r;
			free(CFG_FIELD(cfg, k, char *));
			CFG_FIELD(cfg, k, char *) = xstrdup(s);
			break;
		}
		case CFG_INT: {
			if (!json_object_is_type(v, json_type_int))
				return err_set(e, EINVAL, "%s: expected integer", k->key);
			int64_t n = json_object_get_int64(v);
			if (n < k->min || n > k->max)
				return err_set(e, EINVAL, "%s: out of range (%lld..%lld)", k->key,
					       k->min, k->max);
			CFG_FIELD(cfg, k, int) = (int)n;
			break;
		}
		case CFG_BOOL:
			if (!json_object_is_type(v, json_type_boolean))
				return err_set(e, EINVAL, "%s: expected boolean", k->key);
			CFG_FIELD(cfg, k, bool) = json_object_get_boolean(v);
			break;
		}
	}
	return 0;
}

/* EBUSY for the first non-live key whose effective value differs. */
static int cfg_check_running(const struct vm_config *old, const struct vm_config *new,
			     struct err **e)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		if (k->live)
			continue;
		bool same = true;
		switch (k->type) {
		case CFG_STRING:
			same = strcmp(cfg_effective(old, k), cfg_effective(new, k)) == 0;
			break;
		case CFG_INT:
			same = CFG_CFIELD(old, k, int) == CFG_CFIELD(new, k, int);
			break;
		case CFG_BOOL:
			same = CFG_CFIELD(old, k, bool) == CFG_CFIELD(new, k, bool);
			break;
		}
		if (!same)
			return err_set(e, EBUSY, "%s: cannot change while running", k->key);
	}
	return 0;
}

int vm_config_merge(struct vm_config *cfg, const char *json, bool running, struct err **e)
{
	cleanup_json struct json_object *o = NULL;
	int r = vm_config_parse_object("config", json, &o, e);
	if (r < 0)
		return r;
	cleanup_cfg struct vm_config tmp;
	vm_config_copy(&tmp, cfg);
	if ((r = cfg_apply(&tmp, o, e)) < 0)
		return r;
	if (running && (r = cfg_check_running(cfg, &tmp, e)) < 0)
		return r;
	if ((r = vm_config_validate(&tmp, e)) < 0)
		return r;
	struct vm_config old = *cfg;
	*cfg = tmp;
	tmp = old; /* released by the cleanup */
	return 0;
}

struct json_object *vm_config_to_json(const struct vm_config *cfg)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		struct json_object *v = NULL;
		switch (k->type) {
		case CFG_STRING:
			v = json_object_new_string(cfg_effective(cfg, k));
			break;
		case CFG_INT:
			v = json_object_new_int(CFG_CFIELD(cfg, k, int));
			break;
		case CFG_BOOL:
			v = json_object_new_boolean(CFG_CFIELD(cfg, k, bool));
			break;
		}
		json_object_object_add(o, k->key, v);
	}
	return o;
}

int vm_config_from_json(struct vm_config *cfg, struct json_object *o, struct err **e)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "config: not a JSON object");
	cleanup_cfg struct vm_config tmp;
	vm_config_init(&tmp);
	int r = cfg_apply(&tmp, o, e);
	if (r < 0)
		return r;
	if ((r = vm_config_validate(&tmp, e)) < 0)
		return r;
	struct vm_config old = *cfg;
	*cfg = tmp;
	tmp = old;
	return 0;
}
