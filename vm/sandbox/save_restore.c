/*
 * vm_save — `restore DIR`; see save.h.
 *
 * In order, under op_lock: DIR opened as the writer; its manifest read
 * (not a save: EINVAL) and its definition checked as a whole against this
 * sandbox (the arch must be the sandbox's, whose QEMU binary restores it:
 * a save of QEMU 7.2 restores on QEMU 10 with the versioned machine
 * type); the stream opened as the writer; for a template's clone, QEMU
 * must map the RAM file read-only and private (rom=off: QEMU >= 8.2,
 * EOPNOTSUPP before).  Only then the definition replaces the sandbox's,
 * QEMU starts with -incoming defer, the hot-added vCPUs and DIMMs are
 * re-created on their slots, and the stream goes in over fd:NAME; a guest
 * that was running when saved is resumed.  On any failure QEMU is killed
 * and the sandbox is as it was, its definition too.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/migration.h"
#include "vm/qemu/probe.h"
#include "vm/sandbox/definition.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/migrate.h"
#include "vm/sandbox/save.h"
#include "vm/sandbox/save_impl.h"

#define RESTORE_JSON_MAX (1 << 20)

/* DIR/name read as the writer, parsed as one JSON object. */
static int restore_read(const struct cred *who, int dirfd, const char *dir, const char *name,
			struct json_object **out, struct err **e)
{
	cleanup_close int fd = cred_openat(who, dirfd, name, O_RDONLY, 0, e);
	if (fd < 0) {
		if (err_code(*e) == ENOENT) {
			err_free(e);
			return err_set(e, EINVAL, "%s is not a save of sandboxfs (no %s in it)", dir, name);
		}
		return err_ret(e);
	}
	cleanup_sbuf struct sbuf b = {0};
	char buf[8192];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0 && b.len < RESTORE_JSON_MAX)
		sbuf_addn(&b, buf, (size_t)n);
	if (n < 0)
		return err_sys(e, errno, "read %s/%s", dir, name);
	int r = vm_config_parse_object(b.s ? b.s : "", out, e);
	return r < 0 ? err_wrap(e, "%s/%s", dir, name) : 0;
}

/* The manifest: a save of this format; *template, *running. */
static int restore_manifest(struct json_object *m, const char *dir, bool *template, bool *running,
			    struct err **e)
{
	int64_t v = 0;
	if (util_json_int(m, "sandboxfs_save", &v) < 0 || v != VM_SAVE_VERSION || !util_json_str(m, "arch"))
		return err_set(e, EINVAL, "%s/manifest: not a save of this version of sandboxfs "
			       "(sandboxfs_save %d)", dir, VM_SAVE_VERSION);
	*template = util_json_bool(m, "template");
	*running = util_json_bool(m, "running");
	return 0;
}

/* A clone needs memory-backend-file rom=off (QEMU 8.2): QEMU 7.2 can map
 * a file read-only only as ROM, or open it read-write, which would let a
 * clone's QEMU write the template. */
static int restore_clone_check(const struct vm_config *cfg, struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	if (!a || !a->ignore_shared)
		return err_set(e, EOPNOTSUPP, "a template cannot be cloned on %s (no x-ignore-shared)",
			       cfg->arch);
	const char *bin = vm_config_qemu_binary(cfg);
	int maj = 0, min = 0;
	int r = vm_probe_version(bin, &maj, &min, e);
	if (r < 0)
		return r;
	if (maj < VM_SAVE_CLONE_QEMU_MAJOR || (maj == VM_SAVE_CLONE_QEMU_MAJOR && min < VM_SAVE_CLONE_QEMU_MINOR))
		return err_set(e, EOPNOTSUPP, "a clone needs QEMU %d.%d or newer (%s is %d.%d: its "
			       "memory-backend-file cannot map the template read-only and private, "
			       "so a clone could write the template); set the config's qemu",
			       VM_SAVE_CLONE_QEMU_MAJOR, VM_SAVE_CLONE_QEMU_MINOR, bin, maj, min);
	return 0;
}

/* QEMU waits (-incoming defer): hot parts, capabilities, the stream. */
static int restore_feed(struct vm_sandbox *sb, int fd, bool template, bool running, struct err **e)
{
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp_owner(sb, e);
	if (!qmp)
		return err_ret(e);
	pthread_mutex_lock(&sb->lock);
	struct vm_migration_setup s = vm_migrate_setup(&sb->cfg, true, template);
	long long mib = sb->cfg.memory_mib;
	pthread_mutex_unlock(&sb->lock);
	int tmo = vm_get_settings()->qmp_timeout_ms;
	int r = vm_migrate_recreate(sb, qmp, &mib, e);
	struct vm_migration_progress p = {0};
	if (r == 0)
		r = vm_migration_prepare(qmp, &s, tmo, e);
	if (r == 0)
		r = vm_migration_start_fd(qmp, "sbfs-restore", fd, true, tmo, e);
	if (r == 0)
		r = vm_migrate_wait(sb, qmp, vm_save_timeout_ms(mib), &p, e);
	if (r == 0 && strcmp(p.status, "completed"))
		r = err_set(e, EIO, "QEMU's incoming stream %s: %s", p.status,
			    *p.error ? p.error : "see qemu.log");
	if (r == 0 && running && qmp_execute(qmp, "cont", NULL, tmo, NULL, e) < 0)
		r = err_wrap(e, "cont");
	if (r == 0) {
		pthread_mutex_lock(&sb->lock);
		if (sb->state == VM_INCOMING)
			sb->state = running ? VM_RUNNING : VM_PAUSED;
		pthread_mutex_unlock(&sb->lock);
	}
	return r;
}

/* Start QEMU on the definition in place and feed it; on failure kill it. */
static int restore_run(struct vm_sandbox *sb, const char *dir, int fd, bool template,
		       bool running, const struct cred *who, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	enum vm_state was = sb->state;
	sb->boot.incoming = true;
	free(sb->boot.ram_template);
	sb->boot.ram_template = template ? xasprintf("%s/memory", dir) : NULL;
	sb->boot.ram_owner = *who;
	pthread_mutex_unlock(&sb->lock);
	vm_migrate_begin(sb, "restore", dir);
	int r = vm_lifecycle_start_locked(sb, e);
	if (r == 0)
		r = restore_feed(sb, fd, template, running, e);
	pthread_mutex_lock(&sb->lock);
	sb->boot.incoming = false;
	free(sb->boot.ram_template);
	sb->boot.ram_template = NULL;
	if (r < 0)
		snprintf(sb->mig.status, sizeof(sb->mig.status), "failed");
	pthread_mutex_unlock(&sb->lock);
	if (r < 0) {
		cleanup_err struct err *ke = NULL;
		vm_lifecycle_kill_locked(sb, &ke);
		pthread_mutex_lock(&sb->lock);
		if (sb->pid <= 0)
			sb->state = was;
		pthread_mutex_unlock(&sb->lock);
	}
	return r;
}

int vm_restore_locked(struct vm_sandbox *sb, const char *arg, const struct cred *who,
		      struct err **e)
{
	char dir[PATH_MAX];
	int r = vm_save_dir_arg(arg, dir, sizeof(dir), NULL, e);
	if (r < 0)
		return r;
	cleanup_close int dirfd = cred_open(who, dir, O_RDONLY | O_DIRECTORY, e);
	if (dirfd < 0)
		return dirfd;
	cleanup_json struct json_object *man = NULL, *def = NULL;
	bool template = false, running = false;
	r = restore_read(who, dirfd, dir, "manifest", &man, e);
	if (r == 0)
		r = restore_manifest(man, dir, &template, &running, e);
	if (r == 0)
		r = restore_read(who, dirfd, dir, "definition", &def, e);
	struct vm_definition d = {0};
	if (r == 0 && (r = vm_definition_prepare(sb, def, who, VM_DEFINITION_RESTORE, &d, e)) < 0)
		err_wrap(e, "%s/definition", dir);
	if (r == 0)
		r = vm_migrate_qemu_check(&d.cfg, e);
	if (r == 0 && template)
		r = restore_clone_check(&d.cfg, e);
	if (r == 0 && template) { /* opened again (by path) when QEMU starts */
		int m = cred_openat(who, dirfd, "memory", O_RDONLY, 0, e);
		r = m < 0 ? m : close(m);
	}
	cleanup_close int fd = r == 0 ? cred_openat(who, dirfd, "state", O_RDONLY, 0, e) : -1;
	if (r == 0 && fd < 0)
		r = fd;
	if (r < 0) {
		vm_definition_release(&d);
		return r;
	}
	d.owner = *who;
	vm_definition_swap(sb, &d); /* d holds the sandbox's own until it succeeded */
	r = restore_run(sb, dir, fd, template, running, who, e);
	if (r < 0)
		vm_definition_swap(sb, &d);
	pthread_mutex_lock(&sb->lock);
	if (r == 0 && sb->mig.saved_dir && !strcmp(sb->mig.saved_dir, dir)) {
		free(sb->mig.saved_dir);
		sb->mig.saved_dir = NULL;
	}
	if (r == 0) { /* re-created: nothing is pending any more */
		free(sb->mig.cpus);
		free(sb->mig.dimms);
		sb->mig.cpus = NULL;
		sb->mig.dimms = NULL;
		sb->mig.ncpus = sb->mig.ndimms = 0;
	}
	pthread_mutex_unlock(&sb->lock);
	vm_definition_release(&d);
	vm_sandbox_commit(sb);
	if (r == 0)
		log_info("%s: restored from %s%s", sb->name, dir, template ? " (a clone)" : "");
	return r;
}
