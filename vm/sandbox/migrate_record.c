/*
 * vm_migrate — the migration record in the state file, and a migration
 * followed again after a daemon restart; see migrate.h.
 *
 *   "migration": {"status","role","uri","total","transferred","remaining",
 *                 "percent","dirty_rate","downtime_ms","total_ms","busy",
 *                 "saved_dir","origin_uuid","hot_cpus","dimms"}
 */
#include "vm/sandbox/migrate.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/sandbox/definition.h"

static void put_str(struct json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

struct json_object *vm_migrate_to_json(struct vm_sandbox *sb)
{
	const struct vm_mig *m = &sb->mig;
	if (!*m->role && !m->origin_uuid && !m->saved_dir && !m->ncpus && !m->ndimms)
		return NULL;
	struct json_object *o = json_object_new_object();
	put_str(o, "status", m->status);
	put_str(o, "role", m->role);
	put_str(o, "uri", m->uri);
	const long long v[] = {m->total, m->transferred, m->remaining, m->percent, m->dirty_rate,
			       m->downtime_ms, m->total_ms};
	static const char *const k[] = {"total", "transferred", "remaining", "percent",
					"dirty_rate", "downtime_ms", "total_ms"};
	for (size_t i = 0; i < ARRAY_SIZE(k); i++)
		json_object_object_add(o, k[i], json_object_new_int64(v[i]));
	json_object_object_add(o, "busy", json_object_new_boolean(m->busy));
	put_str(o, "saved_dir", m->saved_dir);
	put_str(o, "origin_uuid", m->origin_uuid);
	json_object_object_add(o, "hot_cpus", vm_definition_cpus_json(m->cpus, m->ncpus));
	json_object_object_add(o, "dimms", vm_definition_dimms_json(m->dimms, m->ndimms));
	return o;
}

static char *get_str(struct json_object *o, const char *k)
{
	const char *s = util_json_str(o, k);
	return s ? xstrdup(s) : NULL;
}

void vm_migrate_from_json(struct vm_sandbox *sb, struct json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return;
	struct vm_mig *m = &sb->mig;
	snprintf(m->status, sizeof(m->status), "%s", util_json_str(o, "status") ?: "none");
	snprintf(m->role, sizeof(m->role), "%s", util_json_str0(o, "role"));
	m->uri = get_str(o, "uri");
	m->total = util_json_int0(o, "total");
	m->transferred = util_json_int0(o, "transferred");
	m->remaining = util_json_int0(o, "remaining");
	m->percent = (int)util_json_int0(o, "percent");
	m->dirty_rate = util_json_int0(o, "dirty_rate");
	m->downtime_ms = util_json_int0(o, "downtime_ms");
	m->total_ms = util_json_int0(o, "total_ms");
	m->busy = util_json_bool(o, "busy");
	m->saved_dir = get_str(o, "saved_dir");
	m->origin_uuid = get_str(o, "origin_uuid");
	struct json_object *a = NULL;
	cleanup_err struct err *e = NULL;
	if (json_object_object_get_ex(o, "hot_cpus", &a) &&
	    vm_definition_cpus_parse(a, &m->cpus, &m->ncpus, &e) < 0)
		log_warn("%s: migration record: %s", sb->name, e->msg);
	err_free(&e);
	if (json_object_object_get_ex(o, "dimms", &a) &&
	    vm_definition_dimms_parse(a, &m->dimms, &m->ndimms, &e) < 0)
		log_warn("%s: migration record: %s", sb->name, e->msg);
}

void vm_migrate_loaded(struct vm_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state) && sb->pid > 0;
	bool source = !strcmp(sb->mig.role, "source"), dest = !strcmp(sb->mig.role, "destination");
	bool following = (source || dest) && !vm_migration_over(sb->mig.status) &&
			 strcmp(sb->mig.status, "none");
	if (!live && following) /* its QEMU is gone: the migration with it */
		snprintf(sb->mig.status, sizeof(sb->mig.status), "failed");
	if (!live)
		sb->mig.busy = false;
	pthread_mutex_unlock(&sb->lock);
	if (!live || !following)
		return;
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp_owner(sb, NULL);
	if (!qmp)
		return;
	if (dest) { /* adoption said running or paused: still receiving? */
		cleanup_json struct json_object *st = NULL;
		cleanup_err struct err *e = NULL;
		if (qmp_execute(qmp, "query-status", NULL, vm_get_settings()->qmp_timeout_ms, &st, &e) == 0 &&
		    !strcmp(util_json_str0(st, "status"), "inmigrate")) {
			pthread_mutex_lock(&sb->lock);
			sb->state = VM_INCOMING;
			pthread_mutex_unlock(&sb->lock);
		}
	}
	pthread_mutex_lock(&sb->lock);
	sb->mig.busy = source;
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: following its migration (%s, %s) again", sb->name, sb->mig.role, sb->mig.status);
	vm_migrate_watch(sb, qmp);
	vm_sandbox_commit(sb);
}
