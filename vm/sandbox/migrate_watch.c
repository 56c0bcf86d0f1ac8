/*
 * vm_migrate — following a migration: the watcher thread of a live
 * migration (both sides), the bounded wait of a save or restore, the
 * re-creation of hot-added vCPUs and DIMMs on a destination, and the
 * record in the state file; see migrate.h.
 *
 * The watcher holds a reference to the sandbox and to its QMP client and
 * no lock while it talks to QEMU.  It ends when the migration is over,
 * when QMP is gone (QEMU died: the monitor records that), when the
 * sandbox was removed, or when the daemon exits (the next daemon follows
 * on from the state file).
 */
#include "vm/sandbox/migrate.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/sandbox/definition.h"
#include "vm/sandbox/lifecycle.h"

struct watch {
	struct vm_sandbox *sb;
	struct qmp_client *qmp;
	bool source;
	int bw_mib, downtime_ms; /* the config's, as applied */
};

/* The config's bandwidth and downtime, when they changed (live keys). */
static void watch_tune(struct watch *w)
{
	pthread_mutex_lock(&w->sb->lock);
	int bw = w->sb->cfg.max_bandwidth_mib, dt = w->sb->cfg.downtime_limit_ms;
	pthread_mutex_unlock(&w->sb->lock);
	if (bw == w->bw_mib && dt == w->downtime_ms)
		return;
	cleanup_err struct err *e = NULL;
	if (vm_migration_tune(w->qmp, (long long)bw << 20, dt, vm_get_settings()->qmp_timeout_ms, &e) < 0)
		log_warn("%s: %s", w->sb->name, e->msg);
	w->bw_mib = bw;
	w->downtime_ms = dt;
}

/* The source's end: completed → QEMU quits, `migrated`; else it runs on. */
static void watch_source_end(struct watch *w, const struct vm_migration_progress *p)
{
	struct vm_sandbox *sb = w->sb;
	pthread_mutex_lock(&sb->lock);
	sb->mig.busy = false;
	bool done = !strcmp(p->status, "completed");
	if (done)
		sb->exit_as = VM_MIGRATED;
	cleanup_free char *uri = xstrdup(sb->mig.uri ? sb->mig.uri : "");
	pthread_mutex_unlock(&sb->lock);
	if (done) {
		cleanup_err struct err *e = NULL;
		log_info("%s: migrated to %s in %lld ms (downtime %lld ms)", sb->name, uri, p->total_ms,
			 p->downtime_ms);
		if (vm_lifecycle_stop(sb, &e) < 0)
			vm_sandbox_set_error(sb, "migrated to %s, but its QEMU did not quit: %s", uri, e->msg);
	} else if (!strcmp(p->status, "failed")) {
		vm_sandbox_set_error(sb, "migration to %s failed: %s; the sandbox runs on here", uri,
				     *p->error ? p->error : "(QEMU gave no reason)");
	} else {
		log_info("%s: migration to %s %s; it runs on here", sb->name, uri, p->status);
		vm_sandbox_commit(sb);
	}
}

/* The destination's end: completed → running or paused as the source was. */
static void watch_destination_end(struct watch *w, const struct vm_migration_progress *p)
{
	struct vm_sandbox *sb = w->sb;
	if (strcmp(p->status, "completed")) {
		/* QEMU 7.2 exits after a failed incoming migration: the monitor
		 * records that; the reason is QEMU's. */
		vm_sandbox_set_error(sb, "incoming migration %s: %s", p->status,
				     *p->error ? p->error : "(see qemu.log)");
		return;
	}
	cleanup_json struct json_object *st = NULL;
	cleanup_err struct err *e = NULL;
	bool running = true;
	if (qmp_execute(w->qmp, "query-status", NULL, vm_get_settings()->qmp_timeout_ms, &st, &e) == 0)
		running = util_json_bool(st, "running");
	pthread_mutex_lock(&sb->lock);
	if (sb->state == VM_INCOMING)
		sb->state = running ? VM_RUNNING : VM_PAUSED;
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: migration received, %s", sb->name, running ? "running" : "paused");
	/* TODO(issue 12, reconcile.c): compare what the QEMU now has with the
	 * record (vm_migrate_reconcile would be the hook). */
	vm_sandbox_commit(sb);
}

static bool watch_gone(struct vm_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	bool gone = sb->removed || sb->pid <= 0;
	pthread_mutex_unlock(&sb->lock);
	return gone || vm_exiting();
}

static void *watch_thread(void *arg)
{
	struct watch *w = arg;
	struct vm_migration_progress p = {0};
	bool over = false;
	while (!over && !watch_gone(w->sb)) {
		cleanup_err struct err *e = NULL;
		if (vm_migration_query(w->qmp, vm_get_settings()->qmp_timeout_ms, &p, &e) < 0) {
			if (!qmp_client_alive(w->qmp))
				break; /* QEMU went: its exit is the monitor's */
			log_warn("%s: %s", w->sb->name, e->msg);
		} else {
			vm_migrate_progress(w->sb, &p);
			over = vm_migration_over(p.status);
		}
		if (!over && w->source)
			watch_tune(w);
		if (!over)
			usleep(VM_MIGRATE_POLL_MS * 1000);
	}
	if (over && w->source)
		watch_source_end(w, &p);
	else if (over)
		watch_destination_end(w, &p);
	/* Nobody follows it any more: it no longer owns QEMU (a daemon that
	 * exits meanwhile leaves the record to the next, which follows on). */
	pthread_mutex_lock(&w->sb->lock);
	w->sb->mig.watching = false;
	if (w->source)
		w->sb->mig.busy = false;
	pthread_mutex_unlock(&w->sb->lock);
	qmp_client_unref(w->qmp);
	vm_sandbox_put(w->sb);
	free(w);
	return NULL;
}

void vm_migrate_watch(struct vm_sandbox *sb, struct qmp_client *qmp)
{
	struct watch *w = xcalloc(1, sizeof(*w));
	pthread_mutex_lock(&sb->lock);
	if (sb->mig.watching) {
		pthread_mutex_unlock(&sb->lock);
		free(w);
		return;
	}
	sb->mig.watching = true;
	w->source = !strcmp(sb->mig.role, "source");
	w->bw_mib = sb->cfg.max_bandwidth_mib;
	w->downtime_ms = sb->cfg.downtime_limit_ms;
	pthread_mutex_unlock(&sb->lock);
	w->sb = vm_sandbox_ref(sb);
	w->qmp = qmp_client_ref(qmp);
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, watch_thread, w) != 0) {
		log_err("%s: cannot follow the migration (no thread)", sb->name);
		pthread_mutex_lock(&sb->lock);
		sb->mig.watching = false;
		sb->mig.busy = false;
		pthread_mutex_unlock(&sb->lock);
		qmp_client_unref(w->qmp);
		vm_sandbox_put(w->sb);
		free(w);
	}
	pthread_attr_destroy(&a);
}

int vm_migrate_wait(struct vm_sandbox *sb, struct qmp_client *qmp, int timeout_ms,
		    struct vm_migration_progress *p, struct err **e)
{
	int64_t deadline = util_now_ms() + timeout_ms;
	for (;;) {
		int r = vm_migration_query(qmp, vm_get_settings()->qmp_timeout_ms, p, e);
		if (r < 0)
			return r;
		vm_migrate_progress(sb, p);
		if (vm_migration_over(p->status))
			return 0;
		if (util_now_ms() > deadline)
			return err_set(e, ETIMEDOUT, "the migration stream did not end within %d s "
				       "(%d%% sent)", timeout_ms / 1000, p->percent);
		usleep(VM_MIGRATE_POLL_MS * 1000 / 2);
	}
}

/* ---- a destination's hot-added vCPUs and DIMMs ---- */

/* device_add the vCPU of slot (socket, core, thread) as QEMU lists it. */
static int recreate_cpu(struct qmp_client *qmp, struct json_object *slots, const struct vm_cpu *c,
			int tmo, struct err **e)
{
	for (size_t k = 0; k < json_object_array_length(slots); k++) {
		struct json_object *slot = json_object_array_get_idx(slots, k), *type, *props, *qom;
		if (json_object_object_get_ex(slot, "qom-path", &qom) ||
		    !json_object_object_get_ex(slot, "type", &type) ||
		    !json_object_object_get_ex(slot, "props", &props))
			continue;
		if (util_json_int0(props, "socket-id") != c->socket || util_json_int0(props, "core-id") != c->core ||
		    util_json_int0(props, "thread-id") != c->thread)
			continue;
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "driver", json_object_get(type));
		json_object_object_add(args, "id", json_object_new_string(c->id));
		json_object_object_foreach(props, key, val)
			json_object_object_add(args, key, json_object_get(val));
		int r = qmp_execute(qmp, "device_add", args, tmo, NULL, e);
		return r < 0 ? err_wrap(e, "device_add %s", c->id) : 0;
	}
	return err_set(e, ENOSPC, "%s: QEMU has no free vCPU slot %d-%d-%d", c->id, c->socket, c->core,
		       c->thread);
}

static int recreate_dimm(struct qmp_client *qmp, const struct vm_dimm *d, int tmo, struct err **e)
{
	char mem[40];
	snprintf(mem, sizeof(mem), "mem-%s", d->id);
	struct json_object *obj = json_object_new_object();
	json_object_object_add(obj, "qom-type", json_object_new_string("memory-backend-ram"));
	json_object_object_add(obj, "id", json_object_new_string(mem));
	json_object_object_add(obj, "size", json_object_new_int64((int64_t)d->size_mib << 20));
	if (qmp_execute(qmp, "object-add", obj, tmo, NULL, e) < 0)
		return err_wrap(e, "object-add %s", mem);
	struct json_object *dev = json_object_new_object();
	json_object_object_add(dev, "driver", json_object_new_string("pc-dimm"));
	json_object_object_add(dev, "id", json_object_new_string(d->id));
	json_object_object_add(dev, "memdev", json_object_new_string(mem));
	return qmp_execute(qmp, "device_add", dev, tmo, NULL, e) < 0 ? err_wrap(e, "device_add %s", d->id)
								       : 0;
}

/* The hot parts the record holds, copied under sb->lock. */
static void pending_parts(struct vm_sandbox *sb, struct vm_cpu **cpus, size_t *ncpus,
			  struct vm_dimm **dimms, size_t *ndimms)
{
	pthread_mutex_lock(&sb->lock);
	*ncpus = sb->mig.ncpus;
	*ndimms = sb->mig.ndimms;
	*cpus = *ncpus ? xcalloc(*ncpus, sizeof(**cpus)) : NULL;
	*dimms = *ndimms ? xcalloc(*ndimms, sizeof(**dimms)) : NULL;
	if (*ncpus)
		memcpy(*cpus, sb->mig.cpus, *ncpus * sizeof(**cpus));
	if (*ndimms)
		memcpy(*dimms, sb->mig.dimms, *ndimms * sizeof(**dimms));
	pthread_mutex_unlock(&sb->lock);
}

static int recreate_parts(struct vm_sandbox *sb, struct qmp_client *qmp, const struct vm_cpu *cpus,
			  size_t ncpus, const struct vm_dimm *dimms, size_t ndimms, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	cleanup_json struct json_object *slots = NULL;
	if (ncpus && qmp_execute(qmp, "query-hotpluggable-cpus", NULL, tmo, &slots, e) < 0)
		return err_wrap(e, "query-hotpluggable-cpus");
	for (size_t i = 0; i < ncpus; i++) {
		int r = json_object_is_type(slots, json_type_array) ? recreate_cpu(qmp, slots, &cpus[i], tmo, e)
				: err_set(e, EIO, "query-hotpluggable-cpus returned no list");
		if (r < 0)
			return r;
		pthread_mutex_lock(&sb->lock);
		sb->hot_cpus = xrealloc(sb->hot_cpus, (sb->nhot_cpus + 1) * sizeof(*sb->hot_cpus));
		sb->hot_cpus[sb->nhot_cpus++] = cpus[i];
		pthread_mutex_unlock(&sb->lock);
	}
	for (size_t i = 0; i < ndimms; i++) {
		int r = recreate_dimm(qmp, &dimms[i], tmo, e);
		if (r < 0)
			return r;
		pthread_mutex_lock(&sb->lock);
		sb->dimms = xrealloc(sb->dimms, (sb->ndimms + 1) * sizeof(*sb->dimms));
		sb->dimms[sb->ndimms] = dimms[i];
		sb->dimms[sb->ndimms++].removing = false;
		pthread_mutex_unlock(&sb->lock);
	}
	if (ncpus || ndimms)
		vm_sandbox_commit(sb);
	return 0;
}

int vm_migrate_recreate(struct vm_sandbox *sb, struct qmp_client *qmp, long long *dimm_mib,
			struct err **e)
{
	struct vm_cpu *cpus;
	struct vm_dimm *dimms;
	size_t nc, nd;
	pending_parts(sb, &cpus, &nc, &dimms, &nd);
	int r = recreate_parts(sb, qmp, cpus, nc, dimms, nd, e);
	for (size_t i = 0; dimm_mib && i < nd; i++)
		*dimm_mib += dimms[i].size_mib;
	free(cpus);
	free(dimms);
	return r;
}
