/*
 * vm_lifecycle — start, stop, kill, pause, resume; QMP events and QEMU's
 * exit turned into state; see lifecycle.h.
 *
 * start binds the QMP listening socket and hands it to QEMU (vm/qemu/
 * process), then connects at once: the connection waits in the backlog
 * until QEMU accepts, and a QEMU that dies first takes the socket with it,
 * so the connect or greeting fails at once with QEMU's own words quoted.
 * `start` returns only once QMP is negotiated.
 */
#include "vm/sandbox/lifecycle.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "lib/log.h"
#include "lib/probe.h"
#include "qmp/qmp_client.h"
#include "vm/model/parts.h"
#include "vm/qemu/cgroup.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/qemu/process.h"
#include "vm/sandbox/access.h"
#include "vm/sandbox/sandbox_qemu.h"
#include "vm/sandbox/blockctl.h"
#include "vm/sandbox/monitor.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/sandbox.h"

#define STOP_GRACE_MS 5000
#define KILL_WAIT_MS 5000

static void (*lifecycle_settle)(struct vm_sandbox *sb, enum vm_settle_job job);

void vm_lifecycle_settle_hook(void (*fn)(struct vm_sandbox *sb, enum vm_settle_job job))
{
	lifecycle_settle = fn;
}

/* Under sb->lock: a DEVICE_DELETED nobody waits for (a removal whose wait
 * gave up, an unplug by the guest): the tree follows QEMU — now when the
 * sandbox is idle, else before its next operation. */
static bool deleted_unawaited(struct vm_sandbox *sb)
{
	static const char *const awaiting[] = {"devices/remove", "cpus/target", "memory/target",
					       "reconcile"};
	if (!*sb->op_what)
		return true;
	/* A removal waits for exactly this; after another operation (or a
	 * removal whose wait just gave up, which leaves the sandbox settling
	 * itself), the next operation reconciles. */
	for (size_t i = 0; i < ARRAY_SIZE(awaiting); i++)
		if (!strncmp(sb->op_what, awaiting[i], strlen(awaiting[i])))
			return false;
	sb->settling = true;
	return false;
}

static void on_qmp_event(void *opaque, const char *name, struct json_object *ev)
{
	struct vm_sandbox *sb = opaque;
	bool settle = false;
	char *line = xstrdup(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	pthread_mutex_lock(&sb->lock);
	pid_t pid = sb->pid;
	vm_sandbox_events_push_locked(sb, line);
	if (!strcmp(name, "STOP") && sb->state == VM_RUNNING)
		sb->state = VM_PAUSED;
	else if (!strcmp(name, "RESUME") && sb->state == VM_PAUSED)
		sb->state = VM_RUNNING;
	else if (!strcmp(name, "DEVICE_DELETED"))
		settle = deleted_unawaited(sb);
	else if (!strcmp(name, "SHUTDOWN")) {
		struct json_object *data, *guest;
		if (json_object_object_get_ex(ev, "data", &data) &&
		    json_object_object_get_ex(data, "guest", &guest) && json_object_get_boolean(guest))
			sb->guest_shutdown = true;
	}
	pthread_mutex_unlock(&sb->lock);
	vm_telemetry_event(&sb->tel, pid, name, ev);
	/* Wake events readers and pollers; running and paused are not in the
	 * state file (persist.c), so there is nothing to save. */
	vm_sandbox_notify(sb);
	if (settle && lifecycle_settle)
		lifecycle_settle(sb, VM_SETTLE_RECONCILE);
}

/* QMP lost while QEMU lives on (garbage, oversize line, QEMU closing it):
 * say so in `error` and connect again in the background (vm/sandbox/
 * settle), which reconciles; until then control writes fail (stop falls
 * back to SIGKILL).  QEMU exiting is the monitor's business, and the
 * daemon exiting is no fault. */
static void on_qmp_closed(void *opaque, const char *why)
{
	struct vm_sandbox *sb = opaque;
	log_debug("%s: QMP connection closed: %s", sb->name, why);
	if (vm_exiting())
		return;
	pthread_mutex_lock(&sb->lock);
	bool fault = vm_state_is_live(sb->state) && !sb->expect_exit && sb->pid > 0 &&
		     vm_process_start_time(sb->pid) == sb->start_time;
	pthread_mutex_unlock(&sb->lock);
	if (!fault)
		return;
	vm_sandbox_set_error(sb, "QMP connection to qemu pid %d lost (%s); connecting again",
			     (int)sb->pid, why);
	if (lifecycle_settle)
		lifecycle_settle(sb, VM_SETTLE_RECONNECT);
}

void vm_lifecycle_qmp_callbacks(struct vm_sandbox *sb, struct qmp_callbacks *cb)
{
	*cb = (struct qmp_callbacks){.event = on_qmp_event, .closed = on_qmp_closed, .opaque = sb};
}


/* Under op_lock, not sb->lock: what the writers of the sandbox's paths may still use,
 * checked again as them (the files, or their rights, may have changed):
 * the QEMU binary, and — when QEMU opens paths itself (not confined) —
 * the config's files and every device's. */
static int access_start(struct vm_sandbox *sb, struct err **e)
{
	const char *const *dirs = vm_get_settings()->qemu_dirs;
	int r = *sb->cfg.qemu ? vm_access_qemu(sb->cfg.qemu, &sb->cfg_owner, dirs, e) : 0;
	if (r == 0 && !vm_settings_confined()) {
		struct vm_config none;
		vm_config_init(&none);
		free(none.kernel);
		free(none.initrd);
		none.kernel = xstrdup("");
		none.initrd = xstrdup("");
		r = vm_access_config(&none, &sb->cfg, &sb->cfg_owner, dirs, e);
		vm_config_release(&none);
	}
	struct vm_fds_ctx ctx = {.netns_fd = -1};
	if (r == 0)
		r = vm_sandbox_fds_ctx(sb, &ctx, e);
	for (size_t i = 0; r == 0 && i < sb->ndevs; i++)
		r = vm_access_device(&sb->cfg, sb->console_log, &ctx, sb->devs[i], e);
	if (ctx.netns_fd >= 0)
		close(ctx.netns_fd);
	return r;
}

/* What the config's QEMU binary is, asked of it (vm/sandbox/sandbox_qemu) once
 * the writer who named it may still use it: the argv is built by it. */
static int start_probe(struct vm_sandbox *sb, struct vm_qemu_caps *caps, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	cleanup_free char *named = xstrdup(sb->cfg.qemu);
	struct cred owner = sb->cfg_owner;
	pthread_mutex_unlock(&sb->lock);
	int r = *named ? vm_access_qemu(named, &owner, vm_get_settings()->qemu_dirs, e) : 0;
	return r == 0 ? vm_sandbox_qemu_caps(sb, caps, NULL, e) : r;
}

/* Under sb->lock: finish interrupted removals, validate, build the argv. */
static int prepare_start(struct vm_sandbox *sb, const struct vm_qemu_caps *caps,
			 struct strv *argv, struct vm_fdplan *plan, struct err **e)
{
	if (sb->removed)
		return err_set(e, ENOENT, "sandbox %s was removed", sb->name);
	if (sb->pid > 0)
		return err_set(e, EBUSY, "sandbox %s still has qemu pid %d", sb->name, (int)sb->pid);
	/* Removals interrupted by QEMU exiting are complete now; adds that
	 * never completed are void. */
	size_t keep = 0;
	for (size_t i = 0; i < sb->ndevs; i++) {
		struct vm_device *d = sb->devs[i];
		if (d->state == VM_DEV_REMOVING || d->state == VM_DEV_ADDING) {
			vm_topology_free(&sb->topo, d->bridge, d->slot);
			vm_device_free(d);
			continue;
		}
		sb->devs[keep++] = d;
	}
	sb->ndevs = keep;
	int r = vm_config_validate(&sb->cfg, e);
	struct vm_cmdline_ctx ctx = vm_sandbox_cmdline_ctx(sb, plan);
	ctx.qemu = caps;
	if (r == 0)
		r = vm_cmdline_build(&sb->cfg, &sb->topo, sb->devs, sb->ndevs, &ctx, argv, e);
	return r;
}

/* QEMU failed (or hung before QMP): make sure it is gone and report its
 * own words — exiting at once is how it refuses a command line. */
static int start_failed(struct vm_sandbox *sb, pid_t pid, int pidfd, const struct err *qe,
			struct err **e)
{
	int st = 0;
	bool exited = false;
	/* A QEMU that closed QMP on its way out is reaped within moments. */
	for (int i = 0; i < 20 && !exited; i++)
		if (!(exited = waitpid(pid, &st, WNOHANG) == pid))
			usleep(10000);
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (pidfd >= 0)
		close(pidfd);
	cleanup_free char *tail = vm_process_log_tail(sb->qemu_log);
	if (exited && WIFEXITED(st))
		return err_set(e, EIO, "qemu exited with status %d: %s", WEXITSTATUS(st), tail);
	return err_set(e, EIO, "qemu did not come up (%s): %s", qe->msg, tail);
}

/* QEMU is up and negotiated: the sandbox runs it from now on. */
static void started(struct vm_sandbox *sb, pid_t pid, int pidfd, struct qmp_client *qmp)
{
	unsigned long long start_time = vm_process_start_time(pid);
	pthread_mutex_lock(&sb->lock);
	sb->pid = pid;
	sb->start_time = start_time;
	sb->pidfd = pidfd;
	sb->child = true;
	sb->expect_exit = false;
	sb->guest_shutdown = false;
	sb->exit_as = VM_CREATED;
	sb->qmp = qmp;
	sb->nhot_cpus = 0;
	sb->ndimms = 0;
	for (size_t i = 0; i < sb->ndevs; i++)
		sb->devs[i]->state = VM_DEV_CONFIGURED;
	/* restore and incoming (vm/sandbox/save.c, migrate.c) feed it a state */
	sb->state = sb->boot.incoming ? VM_INCOMING : VM_RUNNING;
	pthread_mutex_unlock(&sb->lock);
	cleanup_err struct err *we = NULL;
	if (vm_monitor_watch(sb, &we) < 0)
		log_err("%s: cannot watch qemu: %s", sb->name, we->msg);
	vm_sandbox_commit(sb);
}

/* Bind QMP, fork/exec QEMU with its descriptors, negotiate QMP. */
static int launch(struct vm_sandbox *sb, struct strv *argv, const struct vm_fdplan *plan,
		  const int *fds, struct err **e)
{
	int r = util_mkdir_p(sb->rundir, 0700);
	if (r < 0)
		return err_sys(e, -r, "mkdir %s", sb->rundir);
	/* The console log must exist before QEMU appends to it. */
	cleanup_close int con_fd = open(sb->console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (con_fd < 0)
		return err_sys(e, errno, "open %s", sb->console_log);
	int lfd = vm_process_listen(sb->qmp_path, e);
	if (lfd < 0)
		return lfd;
	int cg_fds[4], ncg = sb->cgroup ? vm_cgroup_procs_fds(sb->cgroup, cg_fds, 4, e) : 0;
	if (ncg < 0) {
		close(lfd);
		return ncg;
	}
	struct vm_process_spawn sp = {.argv = argv->v, .listen_fd = lfd, .plan = plan, .fds = fds,
				      .log_path = sb->qemu_log, .uid = sb->qemu_uid, .gid = sb->qemu_gid,
				      .cgroup_fds = cg_fds, .ncgroup_fds = ncg};
	vm_process_groups(&sp, sb->cfg.accel);
	sp.memlock = sb->cfg.mlock || sb->cfg.realtime;
	for (size_t i = 0; i < sb->ndevs && !sp.memlock; i++)
		sp.memlock = sb->devs[i]->kind == VM_DEVK_VFIO;
	pid_t pid = -1;
	int64_t t0 = util_now_us(), tp = probe_now();
	r = vm_process_spawn(&sp, &pid, e);
	probe_add("start", "spawn", tp);
	close(lfd); /* QEMU holds the only copy now: if it dies, connects fail */
	while (ncg > 0)
		close(cg_fds[--ncg]);
	if (r < 0)
		return r;
	int pidfd = vm_process_pidfd(pid);
	struct qmp_callbacks cb;
	vm_lifecycle_qmp_callbacks(sb, &cb);
	struct qmp_client *qmp = NULL;
	cleanup_err struct err *qe = NULL;
	tp = probe_now(); /* QEMU's own start-up, until it greets */
	if (qmp_client_connect(sb->qmp_path, &cb, vm_get_settings()->start_timeout_ms, &qmp, &qe) < 0)
		return start_failed(sb, pid, pidfd, qe, e);
	probe_add("start", "qmp-connect", tp);
	log_info("%s: started qemu pid %d, QMP ready in %.1f ms", sb->name, (int)pid,
		 (util_now_us() - t0) / 1000.0);
	tp = probe_now();
	started(sb, pid, pidfd, qmp);
	probe_add("start", "watch+save", tp);
	return 0;
}

/* A limit the config asks for, or NULL. */
static const char *cgroup_limit_key(const struct vm_cgroup_limits *lim)
{
	if (lim->cpu_max && strcmp(lim->cpu_max, "max"))
		return "cpu_max";
	if (lim->memory_max_bytes)
		return "memory_max_mib";
	return lim->pids_max ? "pids_max" : NULL;
}

/* The QEMU's own cgroup, made (or taken as an earlier daemon left it)
 * with the config's limits.  Without a usable hierarchy, or with
 * --cgroup-parent= empty, QEMU stays in the daemon's cgroup, as the log
 * says — unless the config sets a limit, which then cannot hold: EINVAL. */
static int lifecycle_cgroup(struct vm_sandbox *sb, struct err **e)
{
	const char *parent = vm_get_settings()->cgroup_parent;
	if (sb->cgroup)
		return 0;
	pthread_mutex_lock(&sb->lock);
	struct vm_cgroup_limits lim = vm_sandbox_cgroup_limits(&sb->cfg);
	const char *key = cgroup_limit_key(&lim);
	pthread_mutex_unlock(&sb->lock);
	cleanup_err struct err *de = NULL;
	if (!parent || vm_cgroup_detect(&de) < 0) {
		const char *why = parent ? de->msg : "the daemon runs with --cgroup-parent= (none)";
		if (key)
			return err_set(e, EINVAL, "%s: needs a cgroup of its own: %s", key, why);
		log_warn("%s: no cgroup of its own: %s", sb->name, why);
		return 0;
	}
	pthread_mutex_lock(&sb->lock);
	lim = vm_sandbox_cgroup_limits(&sb->cfg);
	struct vm_cgroup *cg = NULL;
	int r = vm_cgroup_open(parent, sb->name, &lim, &cg, e);
	sb->cgroup = cg;
	pthread_mutex_unlock(&sb->lock);
	return r;
}

/*
 * An adopted QEMU's cgroup: the one it runs in when that is a sandbox's
 * own (PARENT/sb-NAME, whatever --cgroup-parent the daemon that started it
 * had), so that its limits, usage and removal follow the QEMU; with the
 * config's limits, or as it is when `keep` (a broken sandbox: its config
 * is unknown).  None when QEMU runs in no cgroup of its own.
 */
int vm_lifecycle_cgroup_adopt(struct vm_sandbox *sb, bool keep, struct err **e)
{
	if (sb->cgroup)
		return 0;
	pthread_mutex_lock(&sb->lock);
	pid_t pid = sb->pid;
	struct vm_cgroup_limits lim = vm_sandbox_cgroup_limits(&sb->cfg);
	pthread_mutex_unlock(&sb->lock);
	cleanup_free char *parent = vm_cgroup_parent_of(pid, sb->name);
	if (!parent) {
		const char *key = keep ? NULL : cgroup_limit_key(&lim);
		if (key)
			return err_set(e, EINVAL, "%s: qemu pid %d runs in no cgroup of its own: the "
				       "limit does not hold", key, (int)pid);
		log_warn("%s: qemu pid %d runs in no cgroup of its own", sb->name, (int)pid);
		return 0;
	}
	const char *now = vm_get_settings()->cgroup_parent;
	if (!now || strcmp(now, parent))
		log_info("%s: qemu pid %d stays in its cgroup under %s (this daemon's --cgroup-parent "
			 "is '%s')", sb->name, (int)pid, *parent ? parent : "/", now ? now : "");
	struct vm_cgroup *cg = NULL;
	int r = vm_cgroup_open(parent, sb->name, keep ? NULL : &lim, &cg, e);
	pthread_mutex_lock(&sb->lock);
	sb->cgroup = cg;
	pthread_mutex_unlock(&sb->lock);
	return r;
}

/* QEMU is gone: its cgroup goes too (after reading why it died). */
static void cgroup_release(struct vm_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_cgroup *cg = move_ptr(sb->cgroup);
	pthread_mutex_unlock(&sb->lock);
	cleanup_err struct err *e = NULL;
	if (cg && vm_cgroup_remove(cg, &e) < 0)
		log_warn("%s: %s", sb->name, e->msg);
	vm_cgroup_free(cg);
}

int vm_lifecycle_start_locked(struct vm_sandbox *sb, struct err **e)
{
	cleanup_strv struct strv argv = {0};
	struct vm_fdplan plan = {0};
	int64_t tp = probe_now(); /* the bench's breakdown (lib/probe.h) */
	struct vm_qemu_caps caps;
	int r = start_probe(sb, &caps, e);
	pthread_mutex_lock(&sb->lock);
	if (r == 0)
		r = prepare_start(sb, &caps, &argv, &plan, e);
	pthread_mutex_unlock(&sb->lock);
	const char *unbuilt = r == 0 ? vm_config_builtin_missing(&sb->cfg) : NULL;
	if (unbuilt)
		r = err_set(e, ENOENT, "the built-in %s guest is not built here (make guest-%s; "
			    "or set kernel and initrd)", unbuilt, unbuilt);
	if (r == 0) /* what the paths' writers may still use, as at the writes */
		r = access_start(sb, e);
	probe_add("start", "argv+access", tp);
	tp = probe_now();
	/* Descriptors the argv names (files as their writers, taps, vhost). */
	int *fds = xcalloc(plan.n + 1, sizeof(int));
	struct vm_fds_ctx ctx = {.netns_fd = -1};
	if (r == 0)
		r = lifecycle_cgroup(sb, e);
	probe_add("start", "cgroup", tp);
	tp = probe_now();
	if (r == 0)
		r = vm_sandbox_fds_ctx(sb, &ctx, e);
	if (r == 0)
		r = vm_fds_open(&plan, &ctx, fds, e);
	probe_add("start", "fds", tp);
	if (ctx.netns_fd >= 0)
		close(ctx.netns_fd);
	if (r == 0) {
		r = launch(sb, &argv, &plan, fds, e);
		vm_fds_close(&plan, fds); /* QEMU has its copies */
	}
	if (r == 0)
		vm_sandbox_qemu_running(sb, &caps, NULL);
	if (r == 0) /* the disks' I/O limits live in QEMU, not on its argv */
		vm_blockctl_apply_all(sb);
	if (r < 0)
		cgroup_release(sb);
	free(fds);
	vm_fdplan_release(&plan);
	return r;
}

/* Wait (sb->lock held) until the QEMU process is gone or timeout. */
static bool wait_exit_locked(struct vm_sandbox *sb, int timeout_ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (sb->pid > 0)
		if (pthread_cond_timedwait(&sb->cond, &sb->lock, &dl) == ETIMEDOUT)
			return sb->pid <= 0;
	return true;
}

/* stop (QMP quit, then SIGKILL) or kill (SIGKILL), waiting for the
 * monitor to record the exit.  A QEMU already gone is done. */
static int terminate(struct vm_sandbox *sb, bool graceful, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	if (sb->pid <= 0) {
		pthread_mutex_unlock(&sb->lock);
		return 0;
	}
	sb->expect_exit = true;
	struct qmp_client *qmp = graceful && sb->qmp ? qmp_client_ref(sb->qmp) : NULL;
	pthread_mutex_unlock(&sb->lock);

	bool gone = false;
	if (qmp) {
		cleanup_err struct err *qe = NULL;
		if (qmp_execute(qmp, "quit", NULL, vm_get_settings()->qmp_timeout_ms, NULL, &qe) < 0)
			log_warn("%s: quit: %s", sb->name, qe->msg);
		qmp_client_unref(qmp);
		int64_t tp = probe_now(); /* QEMU exiting, seen by the monitor */
		pthread_mutex_lock(&sb->lock);
		gone = wait_exit_locked(sb, STOP_GRACE_MS);
		pthread_mutex_unlock(&sb->lock);
		probe_add("wait", "exit", tp);
	}
	int r = 0;
	if (!gone) {
		pthread_mutex_lock(&sb->lock);
		if (sb->pid > 0) {
			if (sb->pidfd >= 0)
				vm_process_pidfd_kill(sb->pidfd, SIGKILL);
			else
				kill(sb->pid, SIGKILL);
		}
		if (!wait_exit_locked(sb, KILL_WAIT_MS))
			r = err_set(e, ETIMEDOUT, "qemu pid %d did not exit after SIGKILL", (int)sb->pid);
		pthread_mutex_unlock(&sb->lock);
	}
	return r;
}

int vm_lifecycle_stop_locked(struct vm_sandbox *sb, struct err **e) { return terminate(sb, true, e); }
int vm_lifecycle_kill_locked(struct vm_sandbox *sb, struct err **e) { return terminate(sb, false, e); }

int vm_lifecycle_stop(struct vm_sandbox *sb, struct err **e)
{
	int r = vm_op_begin(sb, "stop (the daemon exits)", VM_OP_QUIET, e);
	if (r == 0) {
		r = terminate(sb, true, e);
		vm_op_end(sb);
	}
	return r;
}

static int pause_resume(struct vm_sandbox *sb, bool pause, struct err **e)
{
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
	if (!qmp)
		return err_ret(e);
	int r = qmp_execute(qmp, pause ? "stop" : "cont", NULL, vm_get_settings()->qmp_timeout_ms, NULL, e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sb->lock);
	if (vm_state_is_live(sb->state))
		sb->state = pause ? VM_PAUSED : VM_RUNNING;
	pthread_mutex_unlock(&sb->lock);
	/* The state file does not hold running or paused (persist.c): the
	 * pollers hear of it, nothing is saved. */
	vm_sandbox_notify(sb);
	return 0;
}

int vm_lifecycle_pause_locked(struct vm_sandbox *sb, struct err **e) { return pause_resume(sb, true, e); }
int vm_lifecycle_resume_locked(struct vm_sandbox *sb, struct err **e) { return pause_resume(sb, false, e); }

void vm_lifecycle_exited(struct vm_sandbox *sb, int wstatus, bool have_status)
{
	cleanup_free char *why = NULL;
	if (!have_status)
		why = xstrdup("qemu exited (status unknown)");
	else if (WIFSIGNALED(wstatus))
		why = xasprintf("qemu killed by signal %d (%s)", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
	else
		why = xasprintf("qemu exited with status %d", WEXITSTATUS(wstatus));

	pthread_mutex_lock(&sb->lock);
	bool expected = sb->expect_exit;
	bool clean = have_status && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && sb->guest_shutdown;
	struct qmp_client *qmp = move_ptr(sb->qmp);
	sb->pid = 0;
	sb->start_time = 0;
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	sb->pidfd = -1;
	bool broken = sb->state == VM_BROKEN; /* a broken sandbox's QEMU, killed */
	sb->state = broken ? VM_BROKEN
		    : expected && sb->exit_as ? sb->exit_as /* saved, migrated */
		    : expected || clean ? VM_STOPPED : VM_CRASHED;
	sb->expect_exit = false;
	sb->exit_as = VM_CREATED;
	sb->settling = false;
	vm_sandbox_qemu_gone_locked(sb);
	enum vm_state st = sb->state;
	pthread_mutex_unlock(&sb->lock);

	if (qmp) {
		qmp_client_shutdown(qmp);
		qmp_client_unref(qmp);
	}
	/* The kernel killing QEMU for the memory limit is a reason of its own. */
	int64_t ooms = sb->cgroup ? vm_cgroup_oom_kills(sb->cgroup) : 0;
	cgroup_release(sb);
	/* Both paths commit: waiters (stop, kill) wake from there. */
	if (broken) {
		log_info("%s: its qemu is gone (%s); the sandbox stays broken", sb->name, why);
		vm_sandbox_commit(sb);
	} else if (st == VM_CRASHED && ooms > 0) {
		vm_sandbox_set_error(sb, "%s: the kernel killed it for the memory limit "
				     "(memory_max_mib %d; oom_kill %lld in its cgroup)", why,
				     sb->cfg.memory_max_mib, (long long)ooms);
	} else if (st == VM_CRASHED) {
		cleanup_free char *tail = vm_process_log_tail(sb->qemu_log);
		vm_sandbox_set_error(sb, "%s; qemu output: %s", why, tail);
	} else {
		log_info("%s: %s, now stopped", sb->name, why);
		vm_sandbox_commit(sb);
	}
}
