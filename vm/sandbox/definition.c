/*
 * vm_definition — the `definition` file: rendering, the machine type it
 * records, installing a checked definition; see definition.h.  The checks
 * of a written definition are in definition_parse.c.
 */
#include "vm/sandbox/definition.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/probe.h"

/* ---- hot-added vCPUs and DIMMs ---- */

struct json_object *vm_definition_cpus_json(const struct vm_cpu *c, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(c[i].id));
		json_object_object_add(o, "socket", json_object_new_int(c[i].socket));
		json_object_object_add(o, "core", json_object_new_int(c[i].core));
		json_object_object_add(o, "thread", json_object_new_int(c[i].thread));
		json_object_array_add(a, o);
	}
	return a;
}

struct json_object *vm_definition_dimms_json(const struct vm_dimm *d, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(d[i].id));
		json_object_object_add(o, "size_mib", json_object_new_int(d[i].size_mib));
		json_object_array_add(a, o);
	}
	return a;
}

/* An integer member 0..max of entry `what`. */
static int hot_int(struct json_object *o, const char *key, long long max, const char *what,
		   size_t i, int *out, struct err **e)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 || json_object_get_int64(v) > max)
		return err_set(e, EINVAL, "%s[%zu]: %s must be an integer 0..%lld", what, i, key, max);
	*out = (int)json_object_get_int64(v);
	return 0;
}

/* Entry i of a hot list: an object of exactly `nkeys` members, an id
 * matching `prefix`. */
static const char *hot_entry(struct json_object *o, const char *what, size_t i, int nkeys,
			     const char *prefix, size_t idmax, struct err **e)
{
	const char *id = json_object_is_type(o, json_type_object) ? util_json_str(o, "id") : NULL;
	if (!id || json_object_object_length(o) != nkeys || strncmp(id, prefix, strlen(prefix)) ||
	    strlen(id) >= idmax || id[strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-")]) {
		err_set(e, EINVAL, "%s[%zu]: not an entry of the form %s", what, i,
			nkeys == 4 ? "{\"id\":\"cpu-S-C-T\",\"socket\":S,\"core\":C,\"thread\":T}"
				   : "{\"id\":\"dimmN\",\"size_mib\":MIB}");
		return NULL;
	}
	return id;
}

int vm_definition_cpus_parse(struct json_object *a, struct vm_cpu **out, size_t *n, struct err **e)
{
	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return err_set(e, EINVAL, "hot_cpus: not an array");
	size_t len = json_object_array_length(a);
	struct vm_cpu *v = xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		struct json_object *o = json_object_array_get_idx(a, i);
		const char *id = hot_entry(o, "hot_cpus", i, 4, "cpu-", sizeof(v[i].id), e);
		if (!id || hot_int(o, "socket", 4096, "hot_cpus", i, &v[i].socket, e) < 0 ||
		    hot_int(o, "core", 4096, "hot_cpus", i, &v[i].core, e) < 0 ||
		    hot_int(o, "thread", 4096, "hot_cpus", i, &v[i].thread, e) < 0) {
			free(v);
			return err_ret(e);
		}
		snprintf(v[i].id, sizeof(v[i].id), "%s", id);
	}
	*out = v;
	*n = len;
	return 0;
}

int vm_definition_dimms_parse(struct json_object *a, struct vm_dimm **out, size_t *n,
			      struct err **e)
{
	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return err_set(e, EINVAL, "dimms: not an array");
	size_t len = json_object_array_length(a);
	struct vm_dimm *v = xcalloc(len + 1, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		struct json_object *o = json_object_array_get_idx(a, i);
		const char *id = hot_entry(o, "dimms", i, 2, "dimm", sizeof(v[i].id), e);
		if (!id || hot_int(o, "size_mib", 4194304, "dimms", i, &v[i].size_mib, e) < 0) {
			free(v);
			return err_ret(e);
		}
		snprintf(v[i].id, sizeof(v[i].id), "%s", id);
	}
	*out = v;
	*n = len;
	return 0;
}

/* ---- reading ---- */

/* "pc-q35-7.2-machine" (the QOM type) → "pc-q35-7.2". */
static char *machine_from_qom(const char *type)
{
	size_t n = strlen(type);
	const char *sfx = "-machine";
	if (n > strlen(sfx) && !strcmp(type + n - strlen(sfx), sfx))
		n -= strlen(sfx);
	return xstrndup(type, n);
}

char *vm_definition_machine(struct vm_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	struct qmp_client *qmp = vm_state_is_live(sb->state) && sb->qmp ? qmp_client_ref(sb->qmp) : NULL;
	char *machine = xstrdup(sb->cfg.machine);
	char *binary = xstrdup(vm_config_qemu_binary(&sb->cfg));
	const struct arch_ops *a = vm_config_arch(&sb->cfg);
	pthread_mutex_unlock(&sb->lock);
	cleanup_free char *bin = binary;
	cleanup_err struct err *e = NULL;
	if (qmp) {
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "path", json_object_new_string("/machine"));
		json_object_object_add(args, "property", json_object_new_string("type"));
		cleanup_json struct json_object *ret = NULL;
		int r = qmp_execute(qmp, "qom-get", args, vm_get_settings()->qmp_timeout_ms, &ret, &e);
		qmp_client_unref(qmp);
		if (r == 0 && json_object_is_type(ret, json_type_string)) {
			free(machine);
			return machine_from_qom(json_object_get_string(ret));
		}
		log_warn("%s: qom-get /machine type: %s", sb->name, e ? e->msg : "not a string");
		err_free(&e);
	}
	if (a && arch_machine_versioned(a, machine))
		return machine;
	char *versioned = NULL;
	if (vm_probe_machine(bin, machine, &versioned, &e) == 0) {
		free(machine);
		return versioned;
	}
	log_warn("%s: the versioned machine type of %s: %s", sb->name, machine, e->msg);
	return machine;
}

static struct json_object *ids(uid_t uid, gid_t gid)
{
	if (uid == VM_OWNER_TREE)
		return NULL; /* the tree's owner (--owner) */
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "uid", json_object_new_int64(uid));
	json_object_object_add(o, "gid", json_object_new_int64(gid));
	return o;
}

/* Whose rights open the paths: {"config": UID, "devices": {ID: UID}}. */
static struct json_object *rights(struct vm_sandbox *sb)
{
	struct json_object *o = json_object_new_object(), *d = json_object_new_object();
	json_object_object_add(o, "config", json_object_new_int64(sb->cfg_owner.uid));
	for (size_t i = 0; i < sb->ndevs; i++)
		json_object_object_add(d, sb->devs[i]->id, json_object_new_int64(sb->devs[i]->owner.uid));
	json_object_object_add(o, "devices", d);
	return o;
}

struct json_object *vm_definition_json(struct vm_sandbox *sb, const char *machine)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "definition", json_object_new_int(VM_DEFINITION_VERSION));
	pthread_mutex_lock(&sb->lock);
	struct json_object *cfg = vm_config_to_json(&sb->cfg);
	json_object_object_add(cfg, "machine", json_object_new_string(machine));
	json_object_object_add(o, "config", cfg);
	struct json_object *devs = json_object_new_array(), *slots = json_object_new_object();
	for (size_t i = 0; i < sb->ndevs; i++) {
		const struct vm_device *d = sb->devs[i];
		if (d->state == VM_DEV_REMOVING)
			continue; /* on its way out: not part of the VM */
		json_object_array_add(devs, vm_device_spec(d));
		if (d->bridge < 0 || d->bridge >= sb->topo.n)
			continue;
		struct json_object *s = json_object_new_object();
		json_object_object_add(s, "bus", json_object_new_string(sb->topo.bridges[d->bridge].id));
		json_object_object_add(s, "slot", json_object_new_int(d->slot));
		json_object_object_add(slots, d->id, s);
	}
	json_object_object_add(o, "devices", devs);
	json_object_object_add(o, "slots", slots);
	bool live = vm_state_is_live(sb->state);
	json_object_object_add(o, "hot_cpus", vm_definition_cpus_json(sb->hot_cpus, live ? sb->nhot_cpus : 0));
	json_object_object_add(o, "dimms", vm_definition_dimms_json(sb->dimms, live ? sb->ndimms : 0));
	json_object_object_add(o, "owner", ids(sb->owner_uid, sb->owner_gid));
	json_object_object_add(o, "rights", rights(sb));
	pthread_mutex_unlock(&sb->lock);
	return o;
}

char *vm_definition_text(struct json_object *def)
{
	return xasprintf("%s\n", json_object_to_json_string_ext(def, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_SPACED |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
}

int vm_definition_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	cleanup_free char *machine = vm_definition_machine(sb);
	cleanup_json struct json_object *o = vm_definition_json(sb, machine);
	cleanup_free char *text = vm_definition_text(o);
	sbuf_add(out, text);
	return 0;
}

/* ---- writing ---- */

void vm_definition_release(struct vm_definition *d)
{
	vm_config_release(&d->cfg);
	vm_topology_release(&d->topo);
	for (size_t i = 0; i < d->ndevs; i++)
		vm_device_free(d->devs[i]);
	free(d->devs);
	free(d->cpus);
	free(d->dimms);
	free(d->uuid);
	*d = (struct vm_definition){0};
}

void vm_definition_swap(struct vm_sandbox *sb, struct vm_definition *d)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_definition old = {.cfg = sb->cfg, .topo = sb->topo, .devs = sb->devs,
				    .ndevs = sb->ndevs, .cpus = sb->mig.cpus, .ncpus = sb->mig.ncpus,
				    .dimms = sb->mig.dimms, .ndimms = sb->mig.ndimms,
				    .uuid = sb->mig.origin_uuid, .owner = sb->cfg_owner};
	sb->cfg = d->cfg;
	vm_sandbox_config_changed_locked(sb);
	sb->topo = d->topo;
	sb->devs = d->devs;
	sb->ndevs = d->ndevs;
	sb->cfg_owner = d->owner;
	sb->mig.cpus = d->cpus;
	sb->mig.ncpus = d->ncpus;
	sb->mig.dimms = d->dimms;
	sb->mig.ndimms = d->ndimms;
	sb->mig.origin_uuid = d->uuid;
	pthread_mutex_unlock(&sb->lock);
	*d = old;
}

void vm_definition_install(struct vm_sandbox *sb, struct vm_definition *d, const struct cred *who)
{
	d->owner = *who;
	vm_definition_swap(sb, d);
	vm_definition_release(d);
	log_info("%s: definition replaced", sb->name);
	vm_sandbox_commit(sb);
}

int vm_definition_store(struct vm_sandbox *sb, const char *json, const struct cred *who,
			struct err **e)
{
	cleanup_json struct json_object *o = NULL;
	int r = vm_config_parse_object(json, &o, e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sb->op_lock);
	pthread_mutex_lock(&sb->lock);
	enum vm_state st = sb->state;
	bool busy = vm_state_is_live(st) || sb->pid > 0, removed = sb->removed;
	pthread_mutex_unlock(&sb->lock);
	struct vm_definition d = {0};
	if (removed)
		r = err_set(e, ENOENT, "sandbox %s was removed", sb->name);
	else if (busy)
		r = err_set(e, EBUSY, "sandbox %s is %s: a definition replaces the config and devices "
			    "only while it is not running", sb->name, vm_state_name(st));
	else
		r = vm_definition_prepare(sb, o, who, VM_DEFINITION_COPY, &d, e);
	if (r == 0)
		vm_definition_install(sb, &d, who);
	vm_definition_release(&d);
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}
