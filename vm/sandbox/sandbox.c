/*
 * vm_sandbox — the sandbox object, its commit and observers, and its own
 * files (config, cmdline, state, pid, error); see sandbox.h.
 */
#include "vm/sandbox/sandbox.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/testfault.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/cgroup.h"
#include "vm/qemu/cmdline.h"
#include "vm/sandbox/sandbox_qemu.h"
#include "vm/qemu/fds.h"
#include "vm/sandbox/access.h"

static const char *const state_names[VM_STATE_COUNT] = {
	[VM_CREATED] = "created", [VM_RUNNING] = "running", [VM_PAUSED] = "paused",
	[VM_STOPPED] = "stopped", [VM_CRASHED] = "crashed", [VM_BROKEN] = "broken",
	[VM_INCOMING] = "incoming", [VM_SAVED] = "saved", [VM_MIGRATED] = "migrated",
};

const char *vm_state_name(enum vm_state s)
{
	return s < VM_STATE_COUNT ? state_names[s] : "unknown";
}

int vm_state_parse(const char *name)
{
	for (int s = 0; name && s < VM_STATE_COUNT; s++)
		if (!strcmp(name, state_names[s]))
			return s;
	return -1;
}

bool vm_state_is_live(enum vm_state s)
{
	return s == VM_RUNNING || s == VM_PAUSED || s == VM_INCOMING;
}

/* Unix socket paths must fit sun_path: shorten deterministically (FNV-1a of
 * the long path) into the state dir's root, then /tmp if even that is long. */
static char *qmp_socket_path(const char *rundir)
{
	struct sockaddr_un sun;
	char *p = xasprintf("%s/qmp.sock", rundir);
	if (strlen(p) < sizeof(sun.sun_path))
		return p;
	uint64_t h = 1469598103934665603ULL;
	for (const char *c = p; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	free(p);
	p = xasprintf("%s/q-%016llx.sock", vm_get_settings()->state_dir, (unsigned long long)h);
	if (strlen(p) < sizeof(sun.sun_path))
		return p;
	free(p);
	return xasprintf("/tmp/sandboxfs-%016llx.sock", (unsigned long long)h);
}

/* ---- observers and commit ---- */

static vm_observer_fn observers[VM_OBSERVERS_MAX];
static size_t nobservers;

void vm_sandbox_observe(vm_observer_fn fn)
{
	for (size_t i = 0; i < nobservers; i++)
		if (observers[i] == fn)
			return;
	if (nobservers < VM_OBSERVERS_MAX)
		observers[nobservers++] = fn;
}

/* ---- work for after the reply (vm_sandbox_commit_outcome) ---- */

struct later {
	struct vm_sandbox *sb;
	void (*fn)(struct vm_sandbox *sb);
};
static __thread struct {
	bool on;
	size_t n;
	struct later v[VM_LATER_MAX];
} later;

void vm_sandbox_later_begin(void)
{
	later.on = true;
}

bool vm_sandbox_later(struct vm_sandbox *sb, void (*fn)(struct vm_sandbox *sb))
{
	if (!later.on)
		return false;
	for (size_t i = 0; i < later.n; i++)
		if (later.v[i].sb == sb && later.v[i].fn == fn)
			return true;
	if (later.n == VM_LATER_MAX)
		return false;
	later.v[later.n++] = (struct later){vm_sandbox_ref(sb), fn};
	return true;
}

void vm_sandbox_later_run(void)
{
	later.on = false;
	/* The tests' exit-later hook: as if killed before the outcome was saved. */
	if (later.n && testfault_on(TESTFAULT_EXIT_LATER)) {
		log_warn("test fault exit-later: exiting before the outcome is saved");
		_exit(137);
	}
	for (size_t i = 0; i < later.n; i++) {
		later.v[i].fn(later.v[i].sb);
		vm_sandbox_put(later.v[i].sb);
	}
	later.n = 0;
}

/* {"event":"SANDBOX_STATE","data":{"state":S},"timestamp":{...}} */
static char *state_event(enum vm_state st)
{
	cleanup_json struct json_object *data = json_object_new_object();
	json_object_object_add(data, "state", json_object_new_string(vm_state_name(st)));
	return vm_sandbox_event_line("SANDBOX_STATE", data);
}

static int changed(struct vm_sandbox *sb, enum vm_change what, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	if (sb->state != sb->last_state) {
		sb->last_state = sb->state;
		sb->state_changes++;
		vm_sandbox_events_push_locked(sb, state_event(sb->state));
	}
	sb->state_gen++;
	pthread_cond_broadcast(&sb->cond);
	pthread_mutex_unlock(&sb->lock);
	int r = 0;
	for (size_t i = 0; i < nobservers; i++)
		if (observers[i](sb, what, e) < 0 && r == 0)
			r = -1;
	return r;
}

void vm_sandbox_commit(struct vm_sandbox *sb) { changed(sb, VM_CHANGE_STATE, NULL); }
void vm_sandbox_commit_outcome(struct vm_sandbox *sb) { changed(sb, VM_CHANGE_OUTCOME, NULL); }
void vm_sandbox_notify(struct vm_sandbox *sb) { changed(sb, VM_CHANGE_NOTIFY, NULL); }
void vm_sandbox_config_changed_locked(struct vm_sandbox *sb)
{
	free(sb->cfg_text);
	sb->cfg_text = NULL;
	json_object_put(sb->cfg_json);
	sb->cfg_json = NULL;
}
int vm_sandbox_save(struct vm_sandbox *sb, struct err **e)
{
	return changed(sb, VM_CHANGE_SAVE, e) < 0 ? err_ret(e) : 0;
}

/* ---- the object ---- */

struct vm_sandbox *vm_sandbox_alloc(const char *name)
{
	struct vm_sandbox *sb = xcalloc(1, sizeof(*sb));
	sb->name = xstrdup(name);
	sb->rundir = xasprintf("%s/%s", vm_get_settings()->state_dir, name);
	sb->console_log = xasprintf("%s/console.log", sb->rundir);
	sb->qemu_log = xasprintf("%s/qemu.log", sb->rundir);
	sb->qmp_path = qmp_socket_path(sb->rundir);
	pthread_mutex_init(&sb->lock, NULL);
	pthread_mutex_init(&sb->op_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sb->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&sb->persist_lock, NULL);
	sb->refs = 1;
	sb->pidfd = -1;
	sb->events_fd = -1;
	sb->owner_uid = VM_OWNER_TREE;
	sb->owner_gid = (gid_t)VM_OWNER_TREE;
	vm_config_init(&sb->cfg);
	vm_config_topology(&sb->cfg, &sb->topo);
	sb->state = VM_CREATED;
	sb->error = xstrdup("");
	vm_telemetry_init(&sb->tel);
	snprintf(sb->mig.status, sizeof(sb->mig.status), "none");
	return sb;
}

static void sandbox_free(struct vm_sandbox *sb)
{
	/* first: its reader may be inside a callback that reads the sandbox */
	if (sb->qmp)
		qmp_client_unref(sb->qmp);
	for (size_t i = 0; i < sb->ndevs; i++)
		vm_device_free(sb->devs[i]);
	free(sb->devs);
	free(sb->hot_cpus);
	json_object_put(sb->cpu_slots);
	free(sb->dimms);
	free(sb->qemu_caps);
	free(sb->mig.uri);
	free(sb->mig.saved_dir);
	free(sb->mig.origin_uuid);
	free(sb->mig.cpus);
	free(sb->mig.dimms);
	free(sb->boot.ram_template);
	vm_topology_release(&sb->topo);
	vm_config_release(&sb->cfg);
	free(sb->cfg_text);
	json_object_put(sb->cfg_json);
	vm_cgroup_free(sb->cgroup);
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	pthread_mutex_destroy(&sb->lock);
	pthread_mutex_destroy(&sb->op_lock);
	pthread_cond_destroy(&sb->cond);
	pthread_mutex_destroy(&sb->persist_lock);
	free(sb->persisted);
	free(sb->error);
	vm_telemetry_release(&sb->tel);
	for (size_t i = 0; i < VM_EVENTS_MAX; i++)
		free(sb->events[i]);
	if (sb->events_fd >= 0)
		close(sb->events_fd);
	free(sb->name);
	free(sb->rundir);
	free(sb->console_log);
	free(sb->qemu_log);
	free(sb->qmp_path);
	free(sb);
}

struct vm_sandbox *vm_sandbox_ref(struct vm_sandbox *sb)
{
	__atomic_add_fetch(&sb->refs, 1, __ATOMIC_SEQ_CST);
	return sb;
}

void vm_sandbox_put(struct vm_sandbox *sb)
{
	if (__atomic_sub_fetch(&sb->refs, 1, __ATOMIC_SEQ_CST) == 0)
		sandbox_free(sb);
}

void vm_sandbox_qemu_gone_locked(struct vm_sandbox *sb)
{
	json_object_put(sb->cfg_json); /* kept only while QEMU runs (persist.c) */
	sb->cfg_json = NULL;
	sb->nhot_cpus = 0;
	sb->ndimms = 0;
	/* An add or removal in flight stays 'adding' or 'removing': it is
	 * finished under op_lock (by its writer, the next start or remove),
	 * never here, as the writer may hold the device. */
	for (size_t i = 0; i < sb->ndevs; i++)
		if (sb->devs[i]->state != VM_DEV_REMOVING && sb->devs[i]->state != VM_DEV_ADDING)
			sb->devs[i]->state = VM_DEV_CONFIGURED;
}

void vm_sandbox_write_failed(struct vm_sandbox *sb, int code, const char *msg)
{
	bool lost = code == ECONNRESET || code == ENOTCONN || code == EPIPE;
	pthread_mutex_lock(&sb->lock);
	bool gone = sb->state == VM_CRASHED || sb->state == VM_STOPPED;
	bool broken = sb->state == VM_BROKEN;
	pthread_mutex_unlock(&sb->lock);
	/* A write that lost its QEMU says less than why QEMU went; and why a
	 * sandbox is broken stays until it is removed. */
	if ((lost && gone) || broken) {
		log_err("%s: %s (the reason QEMU went stays in error)", sb->name, msg);
		return;
	}
	vm_sandbox_set_error(sb, "%s", msg);
}

void vm_sandbox_set_error(struct vm_sandbox *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_err("%s: %s", sb->name, msg);
	pthread_mutex_lock(&sb->lock);
	free(sb->error);
	sb->error = msg;
	pthread_mutex_unlock(&sb->lock);
	vm_sandbox_commit(sb);
}

/* A new reference to the QMP client; `owner`: for the migration that
 * owns QEMU (incoming, migrating), not refused for it. */
static struct qmp_client *qmp_ref(struct vm_sandbox *sb, bool owner, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	struct qmp_client *c = NULL;
	if (!vm_state_is_live(sb->state) || sb->pid <= 0)
		err_set(e, EBUSY, "sandbox %s is %s, not running", sb->name, vm_state_name(sb->state));
	else if (!owner && sb->state == VM_INCOMING)
		err_set(e, EBUSY, "sandbox %s is receiving a migration (incoming)", sb->name);
	else if (!owner && sb->mig.busy)
		err_set(e, EBUSY, "sandbox %s is migrating (echo cancel > ctl to stop it)", sb->name);
	else if (!sb->qmp)
		err_set(e, ENOTCONN, "sandbox %s has no QMP connection", sb->name);
	else
		c = qmp_client_ref(sb->qmp);
	pthread_mutex_unlock(&sb->lock);
	return c;
}

struct qmp_client *vm_sandbox_qmp(struct vm_sandbox *sb, struct err **e) { return qmp_ref(sb, false, e); }

struct qmp_client *vm_sandbox_qmp_owner(struct vm_sandbox *sb, struct err **e)
{
	return qmp_ref(sb, true, e);
}

/* ---- its files ---- */

struct vm_cmdline_ctx vm_sandbox_cmdline_ctx(struct vm_sandbox *sb, struct vm_fdplan *plan)
{
	return (struct vm_cmdline_ctx){
		.name = sb->name, .console_log = sb->console_log, .fds = plan,
		.pass_files = vm_settings_confined(), .confine = vm_settings_confined(),
		.cfg_owner = &sb->cfg_owner, .incoming = sb->boot.incoming,
		.ram_template = sb->boot.ram_template, .ram_owner = &sb->boot.ram_owner,
	};
}

int vm_sandbox_fds_ctx(struct vm_sandbox *sb, struct vm_fds_ctx *ctx, struct err **e)
{
	*ctx = (struct vm_fds_ctx){.qemu_uid = sb->qemu_uid, .qemu_gid = sb->qemu_gid, .netns_fd = -1};
	if (!*sb->cfg.netns)
		return 0;
	int fd = vm_access_netns(&sb->cfg, &sb->cfg_owner, e);
	if (fd < 0)
		return fd;
	ctx->netns_fd = fd;
	return 0;
}

int vm_sandbox_cmdline_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	cleanup_strv struct strv argv = {0};
	struct vm_cmdline_ctx ctx = vm_sandbox_cmdline_ctx(sb, NULL);
	/* First what the binary is (vm/sandbox/sandbox_qemu), as a comment line. */
	struct vm_qemu_caps q;
	cleanup_free char *bin = NULL;
	cleanup_err struct err *pe = NULL;
	ctx.qemu = vm_sandbox_qemu_caps(sb, &q, &bin, &pe) == 0 ? &q : NULL;
	pthread_mutex_lock(&sb->lock);
	int r = vm_cmdline_build(&sb->cfg, &sb->topo, sb->devs, sb->ndevs, &ctx, &argv, e);
	pthread_mutex_unlock(&sb->lock);
	if (r < 0)
		return r;
	sbuf_add(out, "# ");
	vm_sandbox_qemu_describe(bin, ctx.qemu, out);
	for (size_t i = 0; i < argv.n; i++) {
		sbuf_add(out, argv.v[i]);
		sbuf_addc(out, '\n');
	}
	return 0;
}

int vm_sandbox_state_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	sbuf_printf(out, "%s\n", vm_state_name(sb->state));
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

int vm_sandbox_pid_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	if (sb->pid > 0)
		sbuf_printf(out, "%d\n", (int)sb->pid);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

int vm_sandbox_error_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	if (*sb->error)
		sbuf_printf(out, "%s\n", sb->error);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

int vm_sandbox_cgroup_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	if (sb->cgroup)
		vm_cgroup_show(sb->cgroup, out);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}
