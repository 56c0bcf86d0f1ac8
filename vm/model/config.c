/*
 * vm_config — the sandbox configuration model; see config.h.  The keys,
 * their defaults and rules are the table in config_schema.c.
 *
 * Grammar of a config write: one JSON object, merged into the current
 * config (keys replace, absent keys keep their value):
 *
 *   config  := "{" [ member ("," member)* ] "}"     trailing whitespace only
 *   member  := KEY ":" value                        KEY from the schema
 *
 * Types are strict (an int key takes a JSON integer only); every string
 * rejects newlines and control characters; an unknown key, a wrong type or
 * an out-of-range value is EINVAL naming the key; nothing changes on
 * failure.  Dynamic defaults follow the keys they depend on
 * (cfg_follow_defaults), then the whole config is validated: every row's
 * rule, the arch's rules, the bridges' room on the root bus.
 */
#include "vm/model/config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/util.h"
#include "qmp/qmp_keyval.h"
#include "vm/model/config_schema.h"
#include "vm/model/topology.h"

/* ---- string lists ---- */

size_t vm_config_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

char **vm_config_strv_dup(char *const *v)
{
	size_t n = vm_config_strv_len(v);
	char **out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

void vm_config_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

bool vm_config_strv_eq(char *const *a, char *const *b)
{
	size_t n = vm_config_strv_len(a);
	if (n != vm_config_strv_len(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/* ---- effective values ---- */

const struct arch_ops *vm_config_arch(const struct vm_config *cfg)
{
	return arch_lookup(cfg->arch);
}

const char *vm_config_default_qemu(const char *arch, const char *machine)
{
	const struct arch_ops *a = arch_lookup(arch);
	const char *bin = a ? vm_config_qemu_default(a->qemu_binary(
					   arch_machine_family(a, machine ? machine : a->default_machine)))
			    : NULL;
	return bin ? bin : "";
}

const char *vm_config_qemu_binary(const struct vm_config *cfg)
{
	if (cfg->qemu && *cfg->qemu)
		return cfg->qemu;
	return vm_config_default_qemu(cfg->arch, cfg->machine);
}

const char *vm_config_machine_family(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return a ? arch_machine_family(a, cfg->machine) : cfg->machine;
}

const char *vm_config_cpu_model(const struct vm_config *cfg)
{
	if (cfg->cpu_model && *cfg->cpu_model)
		return cfg->cpu_model;
	const struct arch_ops *a = vm_config_arch(cfg);
	struct arch_vm v = vm_config_arch_vm(cfg);
	const char *m = !a ? NULL : a->cpu_model ? a->cpu_model(&v) : a->default_cpu;
	return m ? m : "";
}

struct arch_vm vm_config_arch_vm(const struct vm_config *cfg)
{
	return (struct arch_vm){
		.machine = vm_config_machine_family(cfg), .accel = cfg->accel,
		.machine_options = cfg->machine_options,
		.threads = cfg->threads, .memory_mib = cfg->memory_mib, .maxmem_mib = cfg->maxmem_mib,
		.memory_slots = cfg->memory_slots, .npflash = (int)vm_config_strv_len(cfg->pflash),
		.root_ports = cfg->root_ports, .pci_bridges = cfg->pci_bridges,
		.pcie_pci_bridges = cfg->pcie_pci_bridges,
	};
}

struct vm_topology_want vm_config_topology_want(const struct vm_config *cfg)
{
	return (struct vm_topology_want){
		.machine = vm_config_machine_family(cfg), .root_ports = cfg->root_ports,
		.pci_bridges = cfg->pci_bridges, .pcie_pci_bridges = cfg->pcie_pci_bridges,
		.shpc = cfg->bridge_shpc,
	};
}

void vm_config_topology(const struct vm_config *cfg, struct vm_topology *t)
{
	struct vm_topology_want w = vm_config_topology_want(cfg);
	vm_topology_init_want(t, vm_config_arch(cfg), &w);
}

bool vm_config_paths_differ(const struct vm_config *a, const struct vm_config *b)
{
	return strcmp(a->qemu, b->qemu) || strcmp(a->kernel, b->kernel) ||
	       strcmp(a->initrd, b->initrd) || strcmp(a->bios, b->bios) ||
	       strcmp(a->netns, b->netns) || !vm_config_strv_eq(a->pflash, b->pflash);
}

/* ---- lifecycle ---- */

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < vm_config_schema_len; i++) {
		const struct vm_config_key *k = &vm_config_schema[i];
		switch (k->type) {
		case CFG_STRING:
			CFG_FIELD(cfg, k, char *) = k->sdef_fn ? k->sdef_fn(cfg) : xstrdup(k->sdef);
			break;
		case CFG_INT:
			CFG_FIELD(cfg, k, int) = k->idef_fn ? k->idef_fn(cfg) : (int)k->idef;
			break;
		case CFG_BOOL:
			CFG_FIELD(cfg, k, bool) = k->idef != 0;
			break;
		case CFG_STRV:
			CFG_FIELD(cfg, k, char **) = k->vdef_fn ? k->vdef_fn(cfg) : xcalloc(1, sizeof(char *));
			break;
		}
	}
}

/*
 * Defaults follow what they depend on: a key with a dynamic default that
 * the write did not name, and whose value in `old` was old's default, takes
 * new's default — so {"arch":"aarch64"} alone brings machine "virt", its
 * machine options, no -global, no driftfix; {"accel":"kvm"} brings
 * aarch64's gic-version=host.  Schema order: a key's default sees the keys
 * above it already followed.  The uuid is never re-drawn.
 */
static void cfg_follow_defaults(const struct vm_config *old, struct vm_config *cfg,
				struct json_object *given)
{
	for (size_t i = 0; i < vm_config_schema_len; i++) {
		const struct vm_config_key *k = &vm_config_schema[i];
		struct json_object *v;
		if (json_object_object_get_ex(given, k->key, &v) || k->keep)
			continue;
		if (k->type == CFG_STRING && k->sdef_fn) {
			cleanup_free char *was = k->sdef_fn(old);
			if (strcmp(was, CFG_CFIELD(cfg, k, char *)) != 0)
				continue;
			free(CFG_FIELD(cfg, k, char *));
			CFG_FIELD(cfg, k, char *) = k->sdef_fn(cfg);
		} else if (k->type == CFG_INT && k->idef_fn) {
			if (CFG_CFIELD(cfg, k, int) == k->idef_fn(old))
				CFG_FIELD(cfg, k, int) = k->idef_fn(cfg);
		} else if (k->type == CFG_STRV && k->vdef_fn) {
			char **was = k->vdef_fn(old);
			bool same = vm_config_strv_eq(was, CFG_CVFIELD(cfg, k));
			vm_config_strv_free(was);
			if (!same)
				continue;
			vm_config_strv_free(CFG_FIELD(cfg, k, char **));
			CFG_FIELD(cfg, k, char **) = k->vdef_fn(cfg);
		}
	}
}

void vm_config_release(struct vm_config *cfg)
{
	for (size_t i = 0; i < vm_config_schema_len; i++) {
		if (vm_config_schema[i].type == CFG_STRING)
			free(CFG_FIELD(cfg, &vm_config_schema[i], char *));
		else if (vm_config_schema[i].type == CFG_STRV)
			vm_config_strv_free(CFG_FIELD(cfg, &vm_config_schema[i], char **));
	}
	memset(cfg, 0, sizeof(*cfg));
}

static void cfg_releasep(struct vm_config *cfg) { vm_config_release(cfg); }
#define cleanup_cfg __attribute__((cleanup(cfg_releasep)))

void vm_config_copy(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < vm_config_schema_len; i++) {
		const struct vm_config_key *k = &vm_config_schema[i];
		if (k->type == CFG_STRING)
			CFG_FIELD(dst, k, char *) = xstrdup(CFG_CFIELD(src, k, char *));
		else if (k->type == CFG_STRV)
			CFG_FIELD(dst, k, char **) = vm_config_strv_dup(CFG_CVFIELD(src, k));
	}
}

/* ---- validation ---- */

int vm_config_validate(const struct vm_config *cfg, struct err **e)
{
	for (size_t i = 0; i < vm_config_schema_len; i++) {
		const struct vm_config_key *k = &vm_config_schema[i];
		int r;
		switch (k->type) {
		case CFG_STRING: {
			const char *v = CFG_CFIELD(cfg, k, char *);
			if (!v)
				return err_set(e, EINVAL, "%s: missing", k->key);
			if ((r = qmp_keyval_check_value(k->key, v, e)) < 0)
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
		case CFG_STRV: {
			char *const *v = CFG_CVFIELD(cfg, k);
			if (!v)
				return err_set(e, EINVAL, "%s: missing", k->key);
			if (vm_config_strv_len(v) > VM_CONFIG_STRV_MAX)
				return err_set(e, EINVAL, "%s: at most %d entries", k->key, VM_CONFIG_STRV_MAX);
			for (size_t j = 0; v[j]; j++)
				if ((r = qmp_keyval_check_value(k->key, v[j], e)) < 0)
					return r;
			break;
		}
		}
		if (k->check && (r = k->check(cfg, k, e)) < 0)
			return r;
	}
	const struct arch_ops *a = vm_config_arch(cfg);
	struct arch_vm v = vm_config_arch_vm(cfg);
	int r = a->validate ? a->validate(&v, e) : 0;
	if (r == 0) {
		struct vm_topology_want w = vm_config_topology_want(cfg);
		r = vm_topology_check_room(a, &w, e);
	}
	return r;
}

/* ---- JSON ---- */

int vm_config_parse_object(const char *text, struct json_object **out, struct err **e)
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
		return err_set(e, EINVAL, "not a JSON object (incomplete input)");
	if (jerr != json_tokener_success || !o)
		return err_set(e, EINVAL, "not a JSON object (%s at offset %zu)",
			       json_tokener_error_desc(jerr), end);
	for (size_t i = end; i < len; i++)
		if (!strchr(" \t\r\n", text[i]))
			return err_set(e, EINVAL, "not a JSON object (trailing garbage at offset %zu)", i);
	if (!json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "not a JSON object");
	*out = move_ptr(o);
	return 0;
}

/* Apply every member of `o` to cfg: key known, type exact, ints in their
 * static range, strings free of control characters.  Cross-key rules are
 * left to vm_config_validate. */
static int cfg_apply(struct vm_config *cfg, struct json_object *o, struct err **e)
{
	json_object_object_foreach(o, key, v) {
		const struct vm_config_key *k = vm_config_schema_find(key);
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
			int r = qmp_keyval_check_value(k->key, s, e);
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
		case CFG_STRV: {
			if (!json_object_is_type(v, json_type_array))
				return err_set(e, EINVAL, "%s: expected an array of strings", k->key);
			size_t n = json_object_array_length(v);
			if (n > VM_CONFIG_STRV_MAX)
				return err_set(e, EINVAL, "%s: at most %d entries", k->key, VM_CONFIG_STRV_MAX);
			for (size_t j = 0; j < n; j++) {
				struct json_object *it = json_object_array_get_idx(v, j);
				if (!json_object_is_type(it, json_type_string))
					return err_set(e, EINVAL, "%s[%zu]: expected string", k->key, j);
				const char *s = json_object_get_string(it);
				if ((size_t)json_object_get_string_len(it) != strlen(s))
					return err_set(e, EINVAL,
						       "%s[%zu]: must not contain newlines or control characters",
						       k->key, j);
				char what[64];
				snprintf(what, sizeof(what), "%s[%zu]", k->key, j);
				int r = qmp_keyval_check_value(what, s, e);
				if (r < 0)
					return r;
			}
			char **nv = xcalloc(n + 1, sizeof(*nv));
			for (size_t j = 0; j < n; j++)
				nv[j] = xstrdup(json_object_get_string(json_object_array_get_idx(v, j)));
			vm_config_strv_free(CFG_FIELD(cfg, k, char **));
			CFG_FIELD(cfg, k, char **) = nv;
			break;
		}
		}
	}
	return 0;
}

/* EBUSY for the first non-live key whose effective value differs. */
static int cfg_check_running(const struct vm_config *old, const struct vm_config *new,
			     struct err **e)
{
	for (size_t i = 0; i < vm_config_schema_len; i++) {
		const struct vm_config_key *k = &vm_config_schema[i];
		if (k->live)
			continue;
		bool same = true;
		switch (k->type) {
		case CFG_STRING:
			same = strcmp(vm_config_schema_effective(old, k), vm_config_schema_effective(new, k)) == 0;
			break;
		case CFG_INT:
			same = CFG_CFIELD(old, k, int) == CFG_CFIELD(new, k, int);
			break;
		case CFG_BOOL:
			same = CFG_CFIELD(old, k, bool) == CFG_CFIELD(new, k, bool);
			break;
		case CFG_STRV:
			same = vm_config_strv_eq(CFG_CVFIELD(old, k), CFG_CVFIELD(new, k));
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
	int r = vm_config_parse_object(json, &o, e);
	if (r < 0)
		return r;
	cleanup_cfg struct vm_config tmp;
	vm_config_copy(&tmp, cfg);
	if ((r = cfg_apply(&tmp, o, e)) < 0)
		return r;
	cfg_follow_defaults(cfg, &tmp, o);
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
	for (size_t i = 0; i < vm_config_schema_len; i++) {
		const struct vm_config_key *k = &vm_config_schema[i];
		struct json_object *v = NULL;
		switch (k->type) {
		case CFG_STRING:
			v = json_object_new_string(vm_config_schema_effective(cfg, k));
			break;
		case CFG_INT:
			v = json_object_new_int(CFG_CFIELD(cfg, k, int));
			break;
		case CFG_BOOL:
			v = json_object_new_boolean(CFG_CFIELD(cfg, k, bool));
			break;
		case CFG_STRV: {
			v = json_object_new_array();
			char *const *sv = CFG_CVFIELD(cfg, k);
			for (size_t j = 0; sv && sv[j]; j++)
				json_object_array_add(v, json_object_new_string(sv[j]));
			break;
		}
		}
		json_object_object_add(o, k->key, v);
	}
	return o;
}

int vm_config_from_json(struct vm_config *cfg, struct json_object *o, struct err **e)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "config: not a JSON object");
	cleanup_cfg struct vm_config tmp, init;
	vm_config_init(&tmp);
	vm_config_copy(&init, &tmp);
	int r = cfg_apply(&tmp, o, e);
	if (r < 0)
		return r;
	cfg_follow_defaults(&init, &tmp, o);
	if ((r = vm_config_validate(&tmp, e)) < 0)
		return r;
	struct vm_config old = *cfg;
	*cfg = tmp;
	tmp = old;
	return 0;
}

