/*
 * vm_migrate — live migration between daemons, and the `migration` file
 * that follows it (and a save or restore).
 *
 * Destination: `incoming tcp:ADDR:PORT` starts QEMU from the sandbox's
 * definition with -incoming defer, re-creates the source's hot-added
 * vCPUs and DIMMs (the definition written carried them), sets the
 * migration capabilities and `migrate-incoming`s: state `incoming`, and
 * `running` (or `paused`, as the source was) once the migration
 * completed.  The sandbox takes the uuid of the definition written (a
 * migration is the same VM), which no other sandbox of this daemon may
 * have.
 *
 * Source: `migrate tcp:HOST:PORT` sets the capabilities and parameters of
 * the config (max_bandwidth_mib, downtime_limit_ms, auto_converge,
 * multifd_channels, return-path) and starts the migration; the write
 * returns at once.  A watcher thread follows query-migrate (every
 * VM_MIGRATE_POLL_MS) into `migration`, applies bandwidth and downtime
 * changes of the config, and at the end: completed → QEMU quits, state
 * `migrated`; failed or cancelled → the source runs on, `error` says why.
 * While a migration owns QEMU, hotplug and pause are EBUSY.
 *
 * The record (struct vm_mig in sandbox.h) is kept in the state file; a
 * daemon restarted mid-migration follows it again (vm_migrate_loaded).
 */
#ifndef SANDBOXFS_VM_MIGRATE_H
#define SANDBOXFS_VM_MIGRATE_H

#include "lib/cred.h"
#include "lib/err.h"
#include "lib/util.h"
#include "vm/qemu/migration.h"
#include "vm/sandbox/sandbox.h"

struct json_object;
struct qmp_client;

#define VM_MIGRATE_POLL_MS 200

/* The `migration` file: flat "key value" lines. */
int vm_migrate_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);

/* ctl verbs, under op_lock with the state checked. */
int vm_migrate_incoming_locked(struct vm_sandbox *sb, const char *addr, const struct cred *who,
			       struct err **e);
int vm_migrate_start_locked(struct vm_sandbox *sb, const char *addr, const struct cred *who,
			    struct err **e);
int vm_migrate_cancel_locked(struct vm_sandbox *sb, struct err **e);

/* The record in the state file (under sb->lock; NULL: nothing to keep)
 * and back (before the sandbox is registered). */
struct json_object *vm_migrate_to_json(struct vm_sandbox *sb);
void vm_migrate_from_json(struct vm_sandbox *sb, struct json_object *o);
/* A sandbox loaded at daemon start (its QEMU adopted or not): follow a
 * migration that was under way. */
void vm_migrate_loaded(struct vm_sandbox *sb);

/* ---- shared with save and restore (save.c) ---- */

/* Start a migration record: role, address, status "setup". */
void vm_migrate_begin(struct vm_sandbox *sb, const char *role, const char *uri);
/* One progress answer into the record (takes sb->lock, notifies). */
void vm_migrate_progress(struct vm_sandbox *sb, const struct vm_migration_progress *p);
/* The capabilities and parameters of the config (ignore_shared: a
 * template's); `save`: to a file, as fast as the disk goes, no return path. */
struct vm_migration_setup vm_migrate_setup(const struct vm_config *cfg, bool save,
					   bool ignore_shared);
/* Re-create the hot-added vCPUs and DIMMs the migration record holds
 * (sb->mig) in a QEMU that waits for its state (-incoming defer), in their
 * order, and record them; their MiB are added to *dimm_mib (NULL: not
 * counted).  ENOSPC/EIO. */
int vm_migrate_recreate(struct vm_sandbox *sb, struct qmp_client *qmp, long long *dimm_mib,
			struct err **e);
/* The config's QEMU may save, restore or migrate its architecture's
 * guests (arch_ops.migration_qemu_min): EOPNOTSUPP naming both. */
int vm_migrate_qemu_check(const struct vm_config *cfg, struct err **e);
/* A running sandbox's state may leave its QEMU (save, migrate): the
 * architecture's rules on QEMU and on hot-added vCPUs.  Under op_lock. */
int vm_migrate_source_check(struct vm_sandbox *sb, struct err **e);
/* Follow the migration of the record's role from a thread of its own
 * (once: a second call while one follows does nothing). */
void vm_migrate_watch(struct vm_sandbox *sb, struct qmp_client *qmp);
/* Wait for the migration to end (query-migrate every VM_MIGRATE_POLL_MS,
 * progress recorded) for at most timeout_ms: the last answer in *p.
 * ETIMEDOUT. */
int vm_migrate_wait(struct vm_sandbox *sb, struct qmp_client *qmp, int timeout_ms,
		    struct vm_migration_progress *p, struct err **e);

#endif
