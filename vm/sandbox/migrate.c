/*
 * vm_migrate — the `migration` file, the migration record, and the ctl
 * verbs incoming, migrate and cancel; see migrate.h.  The watcher thread,
 * the re-creation of hot-added vCPUs and DIMMs and the state file's side
 * are in migrate_watch.c.
 */
#include "vm/sandbox/migrate.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/probe.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/registry.h"

/* Files on which a migration to a file goes as fast as the disk goes. */
#define SAVE_BANDWIDTH (1LL << 40)

int vm_migrate_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	const struct vm_mig *m = &sb->mig;
	sbuf_printf(out, "status %s\n", m->status);
	sbuf_printf(out, "total_bytes %lld\ntransferred_bytes %lld\nremaining_bytes %lld\n",
		    m->total, m->transferred, m->remaining);
	sbuf_printf(out, "percent %d\ndirty_pages_rate %lld\ndowntime_ms %lld\ntotal_time_ms %lld\n",
		    m->percent, m->dirty_rate, m->downtime_ms, m->total_ms);
	sbuf_printf(out, "role %s\n", *m->role ? m->role : "none");
	sbuf_printf(out, "uri %s\n", m->uri ? m->uri : "-");
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

void vm_migrate_begin(struct vm_sandbox *sb, const char *role, const char *uri)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_mig *m = &sb->mig;
	snprintf(m->role, sizeof(m->role), "%s", role);
	snprintf(m->status, sizeof(m->status), "setup");
	free(m->uri);
	m->uri = xstrdup(uri);
	m->total = m->transferred = m->remaining = m->dirty_rate = m->downtime_ms = m->total_ms = 0;
	m->percent = 0;
	pthread_mutex_unlock(&sb->lock);
	vm_sandbox_commit(sb);
}

void vm_migrate_progress(struct vm_sandbox *sb, const struct vm_migration_progress *p)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_mig *m = &sb->mig;
	bool changed = strcmp(m->status, p->status) != 0;
	snprintf(m->status, sizeof(m->status), "%s", p->status);
	m->total = p->total;
	m->transferred = p->transferred;
	m->remaining = p->remaining;
	m->dirty_rate = p->dirty_rate;
	m->downtime_ms = p->downtime_ms;
	m->total_ms = p->total_ms;
	m->percent = p->percent;
	pthread_mutex_unlock(&sb->lock);
	if (changed) /* the state file keeps the status; progress only wakes pollers */
		vm_sandbox_commit(sb);
	else
		vm_sandbox_notify(sb);
}

struct vm_migration_setup vm_migrate_setup(const struct vm_config *cfg, bool save,
					   bool ignore_shared)
{
	if (save)
		return (struct vm_migration_setup){.max_bandwidth = SAVE_BANDWIDTH,
						   .ignore_shared = ignore_shared};
	return (struct vm_migration_setup){
		.return_path = true, .auto_converge = cfg->auto_converge,
		.ignore_shared = ignore_shared, .multifd_channels = cfg->multifd_channels,
		.max_bandwidth = (long long)cfg->max_bandwidth_mib << 20,
		.downtime_limit_ms = cfg->downtime_limit_ms,
	};
}

int vm_migrate_qemu_check(const struct vm_config *cfg, struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	if (!a || !a->migration_qemu_min)
		return 0;
	const char *bin = vm_config_qemu_binary(cfg);
	int maj = 0, min = 0;
	int r = vm_probe_version(bin, &maj, &min, e);
	if (r == 0 && maj * 100 + min < a->migration_qemu_min)
		r = err_set(e, EOPNOTSUPP, "%s guests are saved, restored and migrated from QEMU "
			    "%d.%d on (%s is %d.%d)", a->name, a->migration_qemu_min / 100,
			    a->migration_qemu_min % 100, bin, maj, min);
	return r;
}

int vm_migrate_source_check(struct vm_sandbox *sb, struct err **e)
{
	int r = vm_migrate_qemu_check(&sb->cfg, e);
	const struct arch_ops *a = vm_config_arch(&sb->cfg);
	pthread_mutex_lock(&sb->lock);
	size_t hot = sb->nhot_cpus;
	pthread_mutex_unlock(&sb->lock);
	if (r == 0 && a && a->migration_no_hot_cpus && hot)
		r = err_set(e, EOPNOTSUPP, "%s: a guest with hot-added vCPUs is not saved or migrated "
			    "(restored, it stalls): lower cpus/target to %d first", a->name, sb->cfg.vcpus);
	return r;
}

/* A port below 1024 is root's to listen on (or connect from, as QEMU). */
static int addr_check(const char *addr, const struct cred *who, bool listen, struct err **e)
{
	int port = 0;
	int r = vm_migration_parse_addr(addr, &port, e);
	if (r == 0 && listen && port < 1024 && !cred_is_root(who))
		r = err_set(e, EACCES, "port %d: only root may listen below 1024", port);
	return r;
}

/* No other sandbox of this daemon is the VM of `uuid` (the uuid is how a
 * QEMU is matched to its sandbox). */
static int uuid_free(struct vm_sandbox *sb, const char *uuid, struct err **e)
{
	cleanup_strv struct strv names = {0};
	vm_registry_names(&names);
	int r = 0;
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		cleanup_sandbox struct vm_sandbox *o = vm_registry_get(names.v[i]);
		if (!o || o == sb)
			continue;
		pthread_mutex_lock(&o->lock);
		if (!strcmp(o->cfg.uuid, uuid))
			r = err_set(e, EEXIST, "sandbox %s already is the VM of uuid %s", o->name, uuid);
		pthread_mutex_unlock(&o->lock);
	}
	return r;
}

/* Under op_lock, QEMU up with -incoming defer: its hot-added parts, the
 * capabilities, then migrate-incoming and the watcher. */
static int incoming_feed(struct vm_sandbox *sb, const char *addr, struct err **e)
{
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp_owner(sb, e);
	if (!qmp)
		return err_ret(e);
	pthread_mutex_lock(&sb->lock);
	struct vm_migration_setup s = vm_migrate_setup(&sb->cfg, false, false);
	pthread_mutex_unlock(&sb->lock);
	int tmo = vm_get_settings()->qmp_timeout_ms;
	int r = vm_migrate_recreate(sb, qmp, NULL, e);
	if (r == 0)
		r = vm_migration_prepare(qmp, &s, tmo, e);
	if (r == 0)
		r = vm_migration_start(qmp, addr, true, tmo, e);
	return r;
}

int vm_migrate_incoming_locked(struct vm_sandbox *sb, const char *addr, const struct cred *who,
			       struct err **e)
{
	int r = addr_check(addr, who, true, e);
	pthread_mutex_lock(&sb->lock);
	cleanup_free char *uuid = sb->mig.origin_uuid ? xstrdup(sb->mig.origin_uuid) : NULL;
	enum vm_state was = sb->state;
	pthread_mutex_unlock(&sb->lock);
	if (r == 0 && uuid)
		r = vm_migrate_qemu_check(&sb->cfg, e);
	if (r == 0 && !uuid)
		r = err_set(e, EINVAL, "write the source's definition first (cat SRC/definition > "
			    "definition): incoming needs the VM it receives");
	if (r == 0)
		r = uuid_free(sb, uuid, e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sb->lock);
	cleanup_free char *own = move_ptr(sb->cfg.uuid);
	sb->cfg.uuid = xstrdup(uuid); /* the same VM: QEMU's -uuid is the source's */
	vm_sandbox_config_changed_locked(sb);
	sb->boot.incoming = true;
	pthread_mutex_unlock(&sb->lock);
	vm_migrate_begin(sb, "destination", addr);
	r = vm_lifecycle_start_locked(sb, e);
	if (r == 0)
		r = incoming_feed(sb, addr, e);
	pthread_mutex_lock(&sb->lock);
	sb->boot.incoming = false;
	pthread_mutex_unlock(&sb->lock);
	if (r < 0) { /* nothing half-running: as it was */
		cleanup_err struct err *ke = NULL;
		vm_lifecycle_kill_locked(sb, &ke);
		pthread_mutex_lock(&sb->lock);
		snprintf(sb->mig.status, sizeof(sb->mig.status), "failed");
		if (sb->pid <= 0) {
			sb->state = was;
			free(sb->cfg.uuid);
			sb->cfg.uuid = move_ptr(own);
			vm_sandbox_config_changed_locked(sb);
		}
		pthread_mutex_unlock(&sb->lock);
		vm_sandbox_commit(sb);
		return r;
	}
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp_owner(sb, NULL);
	if (qmp)
		vm_migrate_watch(sb, qmp);
	log_info("%s: waiting for a migration on %s", sb->name, addr);
	return 0;
}

int vm_migrate_start_locked(struct vm_sandbox *sb, const char *addr, const struct cred *who,
			    struct err **e)
{
	int r = addr_check(addr, who, false, e);
	if (r == 0)
		r = vm_migrate_source_check(sb, e);
	if (r < 0)
		return r;
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp_owner(sb, e);
	if (!qmp)
		return err_ret(e);
	pthread_mutex_lock(&sb->lock);
	bool busy = sb->mig.busy;
	struct vm_migration_setup s = vm_migrate_setup(&sb->cfg, false, false);
	pthread_mutex_unlock(&sb->lock);
	if (busy)
		return err_set(e, EBUSY, "a migration is in progress already");
	int tmo = vm_get_settings()->qmp_timeout_ms;
	r = vm_migration_prepare(qmp, &s, tmo, e);
	if (r == 0) {
		vm_migrate_begin(sb, "source", addr);
		r = vm_migration_start(qmp, addr, false, tmo, e);
	}
	pthread_mutex_lock(&sb->lock);
	if (r < 0)
		snprintf(sb->mig.status, sizeof(sb->mig.status), "failed");
	else
		sb->mig.busy = true;
	pthread_mutex_unlock(&sb->lock);
	vm_sandbox_commit(sb);
	if (r < 0)
		return r;
	vm_migrate_watch(sb, qmp);
	log_info("%s: migrating to %s", sb->name, addr);
	return 0;
}

int vm_migrate_cancel_locked(struct vm_sandbox *sb, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	bool busy = sb->mig.busy;
	pthread_mutex_unlock(&sb->lock);
	if (!busy)
		return err_set(e, EBUSY, "no migration of sandbox %s is in progress", sb->name);
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp_owner(sb, e);
	if (!qmp)
		return err_ret(e);
	return vm_migration_cancel(qmp, vm_get_settings()->qmp_timeout_ms, e);
}
