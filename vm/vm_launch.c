/*
 * vm_launch — the lifecycle verbs: start, stop, kill, pause, resume.
 *
 * start binds the QMP listening socket itself and hands it to QEMU as fd 3,
 * then connects at once: the connection waits in the backlog until QEMU
 * accepts, and if QEMU dies first the listening socket goes with it and the
 * connect/greeting fails immediately.  `start` returns only once QMP is
 * negotiated.  QEMU runs in its own session (setsid) with stdout/stderr in
 * rundir/qemu.log; nothing goes through a shell.
 */
#include "vm/vm_sandbox.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/vm_cmdline.h"

#define STOP_GRACE_MS 5000
#define KILL_WAIT_MS 5000

static int sys_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
static int sys_pidfd_send_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* The tail of QEMU's log, for error messages. */
static char *qemu_log_tail(struct vm_sandbox *sb)
{
	size_t len = 0;
	cleanup_free char *log = util_read_file(sb->qemu_log, &len);
	if (!log || !len)
		return xstrdup("(no output)");
	while (len && (log[len - 1] == '\n' || log[len - 1] == ' '))
		log[--len] = '\0';
	const char *p = len > 2000 ? log + len - 2000 : log;
	return xstrdup(p);
}

static void on_qmp_event(void *opaque, const char *name, struct json_object *ev)
{
	struct vm_sandbox *sb = opaque;
	char *line = xstrdup(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	pthread_mutex_lock(&sb->lock);
	vm_events_push_locked(sb, line);
	if (!strcmp(name, "STOP") && sb->state == VM_RUNNING)
		sb->state = VM_PAUSED;
	else if (!strcmp(name, "RESUME") && sb->state == VM_PAUSED)
		sb->state = VM_RUNNING;
	else if (!strcmp(name, "SHUTDOWN")) {
		struct json_object *data, *guest;
		if (json_object_object_get_ex(ev, "data", &data) &&
		    json_object_object_get_ex(data, "guest", &guest) && json_object_get_boolean(guest))
			sb->guest_shutdown = true;
	}
	pthread_mutex_unlock(&sb->lock);
	/* A state change persists (vm_sandbox_notify sees it); other events
	 * only wake events readers and pollers. */
	vm_sandbox_notify(sb);
}

/* QMP lost while QEMU lives on (garbage, oversize line, QEMU closing it):
 * say so in `error`; control writes fail until the sandbox is stopped (stop
 * falls back to SIGKILL).  QEMU exiting is the monitor's business, and the
 * daemon exiting is no fault. */
static void on_qmp_closed(void *opaque, const char *why)
{
	struct vm_sandbox *sb = opaque;
	log_debug("%s: QMP connection closed: %s", sb->name, why);
	if (vm_exiting())
		return;
	pthread_mutex_lock(&sb->lock);
	bool fault = vm_state_is_live(sb->state) && !sb->expect_exit && sb->pid > 0 &&
		     vm_proc_start_time(sb->pid) == sb->start_time;
	pthread_mutex_unlock(&sb->lock);
	if (fault)
		vm_sandbox_set_error(sb, "QMP connection to qemu pid %d lost (%s); "
				     "control writes fail until the sandbox is stopped", (int)sb->pid, why);
}

void vm_qmp_callbacks(struct vm_sandbox *sb, struct qmp_callbacks *cb)
{
	*cb = (struct qmp_callbacks){.event = on_qmp_event, .closed = on_qmp_closed, .opaque = sb};
}

static int listen_socket(const char *path, struct err **e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return err_set(e, ENAMETOOLONG, "QMP socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, errno, "socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return err_sys(e, errno, "bind %s", path);
	if (listen(fd, 4) < 0)
		return err_sys(e, errno, "listen %s", path);
	return move_fd(fd);
}

/* Move fd above the range the child rearranges, keeping CLOEXEC. */
static int fd_high(int fd)
{
	if (fd < 0)
		return fd;
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	return h;
}

static int check_readable(const char *what, const char *path, struct err **e)
{
	if (!path || !*path)
		return 0;
	if (access(path, R_OK) < 0)
		return err_sys(e, errno, "%s %s", what, path);
	return 0;
}

/*
 * Child side of the fd hand-over: the descriptors QEMU must see at fixed
 * numbers (stdio, QMP at 3, the plan's from 4) are first lifted above every
 * target number, so that no dup2() can clobber a source not yet placed.
 */
static void child_place_fds(int null_fd, int log_fd, int listen_fd, const struct vm_fdplan *plan,
			    const int *fds)
{
	int top = VM_QMP_FD;
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].num > top)
			top = plan->v[i].num;
	int base = top + 1 > 64 ? top + 1 : 64;
	null_fd = fcntl(null_fd, F_DUPFD, base);
	log_fd = fcntl(log_fd, F_DUPFD, base);
	listen_fd = fcntl(listen_fd, F_DUPFD, base);
	if (null_fd < 0 || log_fd < 0 || listen_fd < 0)
		_exit(126);
	int lifted[64];
	if (plan->n > 64)
		_exit(126);
	for (size_t i = 0; i < plan->n; i++)
		if ((lifted[i] = fcntl(fds[i], F_DUPFD, base)) < 0)
			_exit(126);
	if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
	    dup2(listen_fd, VM_QMP_FD) < 0)
		_exit(126);
	for (size_t i = 0; i < plan->n; i++)
		if (dup2(lifted[i], plan->v[i].num) < 0)
			_exit(126);
	syscall(SYS_close_range, (unsigned)top + 1, ~0U, 0);
}

static int spawn_qemu(struct vm_sandbox *sb, char **argv, int listen_fd,
		      const struct vm_fdplan *plan, const int *fds, pid_t *pidp, struct err **e)
{
	cleanup_close int log_fd = fd_high(open(sb->qemu_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	if (log_fd < 0)
		return err_sys(e, errno, "open %s", sb->qemu_log);
	cleanup_close int null_fd = fd_high(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (null_fd < 0)
		return err_sys(e, errno, "open /dev/null");
	/* The console log must exist before QEMU appends to it. */
	cleanup_close int con_fd = open(sb->console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (con_fd < 0)
		return err_sys(e, errno, "open %s", sb->console_log);

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		/* Child: async-signal-safe calls only. */
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		for (int s = 1; s < NSIG; s++)
			sigaction(s, &dfl, NULL);
		setsid();
		child_place_fds(null_fd, log_fd, listen_fd, plan, fds);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(argv[0], argv);
		static const char m[] = "sandboxfs: cannot execute the QEMU binary\n";
		if (write(2, m, sizeof(m) - 1) < 0) {
		}
		_exit(127);
	}
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return err_sys(e, fork_errno, "fork");
	*pidp = pid;
	return 0;
}

/* Under sb->lock: finish interrupted removals, validate, build the argv. */
static int prepare_start(struct vm_sandbox *sb, struct strv *argv, struct vm_fdplan *plan,
			 struct err **e)
{
	if (sb->removed)
		return err_set(e, ENOENT, "sandbox %s was removed", sb->name);
	if (vm_state_is_live(sb->state) || sb->pid > 0)
		return err_set(e, EBUSY, "start: sandbox %s is already %s", sb->name,
			       vm_state_name(sb->state));
	/* Removals interrupted by QEMU exiting are complete now. */
	size_t keep = 0;
	for (size_t i = 0; i < sb->ndevs; i++) {
		struct vm_device *d = sb->devs[i];
		if (d->state == VM_DEV_REMOVING) {
			vm_topology_free(&sb->topo, d->bridge, d->slot);
			vm_device_free(d);
			continue;
		}
		sb->devs[keep++] = d;
	}
	sb->ndevs = keep;
	int r = vm_config_validate(&sb->cfg, e);
	if (r == 0)
		r = check_readable("kernel", sb->cfg.kernel, e);
	if (r == 0)
		r = check_readable("initrd", sb->cfg.initrd, e);
	for (size_t i = 0; r == 0 && i < sb->ndevs; i++)
		r = check_readable("device file", sb->devs[i]->file, e);
	struct vm_cmdline_ctx ctx = {.name = sb->name, .console_log = sb->console_log, .fds = plan};
	if (r == 0)
		r = vm_cmdline_build(&sb->cfg, &sb->topo, sb->devs, sb->ndevs, &ctx, argv, e);
	return r < 0 ? err_wrap(e, "start") : 0;
}

static int launch(struct vm_sandbox *sb, struct strv *argvp, const struct vm_fdplan *plan,
		  const int *fds, struct err **e);

/* Under op_lock: launch QEMU and negotiate QMP. */
static int start_locked(struct vm_sandbox *sb, struct err **e)
{
	cleanup_strv struct strv argv = {0};
	struct vm_fdplan plan = {0};
	pthread_mutex_lock(&sb->lock);
	int r = prepare_start(sb, &argv, &plan, e);
	pthread_mutex_unlock(&sb->lock);
	if (r < 0) {
		vm_fdplan_release(&plan);
		return r;
	}
	/* Descriptors the argv names by number (taps, vhost devices). */
	int *fds = xcalloc(plan.n + 1, sizeof(int));
	r = vm_cmdline_open_fds(&plan, fds, e);
	if (r == 0) {
		r = launch(sb, &argv, &plan, fds, e);
		vm_cmdline_close_fds(&plan, fds); /* QEMU has its copies */
	} else {
		err_wrap(e, "start");
	}
	free(fds);
	vm_fdplan_release(&plan);
	return r < 0 ? r : 0;
}

/* Bind QMP, fork/exec QEMU with its descriptors, negotiate QMP. */
static int launch(struct vm_sandbox *sb, struct strv *argvp, const struct vm_fdplan *plan,
		  const int *fds, struct err **e)
{
	const struct vm_settings *set = vm_get_settings();
	struct strv argv = *argvp;
	int r;

	r = util_mkdir_p(sb->rundir, 0700);
	if (r < 0)
		return err_sys(e, -r, "start: mkdir %s", sb->rundir);
	int lfd = listen_socket(sb->qmp_path, e);
	if (lfd < 0)
		return err_wrap(e, "start");
	lfd = fd_high(lfd);
	pid_t pid = -1;
	int64_t t0 = util_now_us();
	r = spawn_qemu(sb, argv.v, lfd, plan, fds, &pid, e);
	close(lfd); /* QEMU holds the only copy now: if it dies, connects fail */
	if (r < 0)
		return err_wrap(e, "start");
	int pidfd = sys_pidfd_open(pid);

	struct qmp_callbacks cb;
	vm_qmp_callbacks(sb, &cb);
	struct qmp_client *qmp = NULL;
	cleanup_err struct err *qe = NULL;
	if (qmp_client_connect(sb->qmp_path, &cb, set->start_timeout_ms, &qmp, &qe) < 0) {
		/* QEMU failed (or hung before QMP): make sure it is gone, report its
		 * own words — exiting at once is how it refuses a command line. */
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
		cleanup_free char *tail = qemu_log_tail(sb);
		if (exited && WIFEXITED(st))
			return err_set(e, EIO, "start: qemu exited with status %d: %s", WEXITSTATUS(st), tail);
		return err_set(e, EIO, "start: qemu did not come up (%s): %s", qe->msg, tail);
	}
	log_info("%s: started qemu pid %d, QMP ready in %.1f ms", sb->name, (int)pid,
		 (util_now_us() - t0) / 1000.0);

	unsigned long long start_time = vm_proc_start_time(pid);
	pthread_mutex_lock(&sb->lock);
	sb->pid = pid;
	sb->start_time = start_time;
	sb->pidfd = pidfd;
	sb->child = true;
	sb->expect_exit = false;
	sb->guest_shutdown = false;
	sb->qmp = qmp;
	sb->nhot_cpus = 0;
	sb->ndimms = 0;
	for (size_t i = 0; i < sb->ndevs; i++)
		sb->devs[i]->state = VM_DEV_CONFIGURED;
	sb->state = VM_RUNNING;
	pthread_mutex_unlock(&sb->lock);
	cleanup_err struct err *we = NULL;
	if (vm_monitor_watch(sb, &we) < 0)
		log_err("%s: cannot watch qemu: %s", sb->name, we->msg);
	vm_sandbox_commit(sb);
	return 0;
}

unsigned long long vm_proc_start_time(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_free char *stat = util_read_file(path, NULL);
	const char *p = stat ? strrchr(stat, ')') : NULL;
	if (!p)
		return 0;
	/* Fields after the command: state is field 3, starttime field 22. */
	unsigned long long v = 0;
	int field = 2;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		v = strtoull(p, NULL, 10);
	return v;
}

/* Does /proc/<pid>/cmdline carry "-uuid <uuid>"? */
static bool proc_has_uuid(pid_t pid, const char *uuid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	size_t len = 0;
	cleanup_free char *cmd = util_read_file(path, &len);
	if (!cmd)
		return false;
	for (size_t i = 0; i < len; i += strlen(cmd + i) + 1)
		if (!strcmp(cmd + i, "-uuid") && i + 6 < len && !strcmp(cmd + i + 6, uuid))
			return true;
	return false;
}

int vm_adopt(struct vm_sandbox *sb, enum vm_state was, struct err **e)
{
	pid_t pid = sb->pid;
	if (pid <= 0)
		return err_set(e, ESRCH, "no pid recorded");
	unsigned long long st = vm_proc_start_time(pid);
	if (!st)
		return err_set(e, ESRCH, "the process is gone");
	if (st != sb->start_time || !proc_has_uuid(pid, sb->cfg.uuid))
		return err_set(e, ESRCH, "pid %d is now another process", (int)pid);
	int pidfd = sys_pidfd_open(pid);
	if (pidfd < 0)
		return err_sys(e, errno, "pidfd_open %d", (int)pid);
	struct qmp_callbacks cb;
	vm_qmp_callbacks(sb, &cb);
	struct qmp_client *qmp = NULL;
	cleanup_json struct json_object *status = NULL;
	int r = qmp_client_connect(sb->qmp_path, &cb, vm_get_settings()->qmp_timeout_ms, &qmp, e);
	if (r == 0)
		r = qmp_execute(qmp, "query-status", NULL, vm_get_settings()->qmp_timeout_ms, &status, e);
	if (r < 0) {
		/* Ours, alive, but unmanageable: do not leave it behind. */
		sys_pidfd_send_signal(pidfd, SIGKILL);
		close(pidfd);
		if (qmp)
			qmp_client_unref(qmp);
		return err_wrap(e, "qemu pid %d does not answer on QMP (killed)", (int)pid);
	}
	struct json_object *running;
	bool is_running = json_object_object_get_ex(status, "running", &running) &&
			  json_object_get_boolean(running);
	pthread_mutex_lock(&sb->lock);
	sb->pidfd = pidfd;
	sb->child = false;
	sb->qmp = qmp;
	sb->state = is_running ? VM_RUNNING : VM_PAUSED;
	pthread_mutex_unlock(&sb->lock);
	if (sb->state != was)
		log_warn("%s: was %s, QEMU says %s", sb->name, vm_state_name(was), vm_state_name(sb->state));
	cleanup_err struct err *we = NULL;
	if (vm_monitor_watch(sb, &we) < 0)
		log_err("%s: cannot watch qemu: %s", sb->name, we->msg);
	log_info("%s: re-adopted qemu pid %d", sb->name, (int)pid);
	return 0;
}

int vm_start(struct vm_sandbox *sb, struct err **e)
{
	pthread_mutex_lock(&sb->op_lock);
	int r = start_locked(sb, e);
	pthread_mutex_unlock(&sb->op_lock);
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

static int terminate(struct vm_sandbox *sb, bool graceful, struct err **e)
{
	pthread_mutex_lock(&sb->op_lock);
	pthread_mutex_lock(&sb->lock);
	if (!vm_state_is_live(sb->state) || sb->pid <= 0) {
		enum vm_state st = sb->state;
		pthread_mutex_unlock(&sb->lock);
		pthread_mutex_unlock(&sb->op_lock);
		return err_set(e, EBUSY, "%s: sandbox %s is %s, not running", graceful ? "stop" : "kill",
			       sb->name, vm_state_name(st));
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
		pthread_mutex_lock(&sb->lock);
		gone = wait_exit_locked(sb, STOP_GRACE_MS);
		pthread_mutex_unlock(&sb->lock);
	}
	int r = 0;
	if (!gone) {
		pthread_mutex_lock(&sb->lock);
		if (sb->pid > 0) {
			if (sb->pidfd >= 0)
				sys_pidfd_send_signal(sb->pidfd, SIGKILL);
			else
				kill(sb->pid, SIGKILL);
		}
		if (!wait_exit_locked(sb, KILL_WAIT_MS))
			r = err_set(e, ETIMEDOUT, "qemu pid %d did not exit after SIGKILL", (int)sb->pid);
		pthread_mutex_unlock(&sb->lock);
	}
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}

int vm_stop(struct vm_sandbox *sb, struct err **e) { return terminate(sb, true, e); }
int vm_kill(struct vm_sandbox *sb, struct err **e) { return terminate(sb, false, e); }

static int pause_resume_locked(struct vm_sandbox *sb, bool pause, struct err **e)
{
	const char *verb = pause ? "pause" : "resume";
	pthread_mutex_lock(&sb->lock);
	enum vm_state st = sb->state;
	pthread_mutex_unlock(&sb->lock);
	if (st != (pause ? VM_RUNNING : VM_PAUSED))
		return err_set(e, EBUSY, "%s: sandbox %s is %s", verb, sb->name, vm_state_name(st));
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
	if (!qmp)
		return -err_code(*e);
	int r = qmp_execute(qmp, pause ? "stop" : "cont", NULL, vm_get_settings()->qmp_timeout_ms, NULL, e);
	if (r < 0)
		return err_wrap(e, "%s", verb);
	pthread_mutex_lock(&sb->lock);
	if (vm_state_is_live(sb->state))
		sb->state = pause ? VM_PAUSED : VM_RUNNING;
	pthread_mutex_unlock(&sb->lock);
	vm_sandbox_commit(sb);
	return 0;
}

static int pause_resume(struct vm_sandbox *sb, bool pause, struct err **e)
{
	pthread_mutex_lock(&sb->op_lock);
	int r = pause_resume_locked(sb, pause, e);
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}

int vm_pause(struct vm_sandbox *sb, struct err **e) { return pause_resume(sb, true, e); }
int vm_resume(struct vm_sandbox *sb, struct err **e) { return pause_resume(sb, false, e); }

void vm_sandbox_exited(struct vm_sandbox *sb, int wstatus, bool have_status)
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
	sb->state = expected || clean ? VM_STOPPED : VM_CRASHED;
	sb->expect_exit = false;
	sb->nhot_cpus = 0;
	sb->ndimms = 0;
	/* Hot-added devices stay configured (cold-plugged at the next start).
	 * A removal in flight stays 'removing': it is finished under op_lock by
	 * the next start or remove, never here, as a remover may hold it. */
	for (size_t i = 0; i < sb->ndevs; i++)
		if (sb->devs[i]->state != VM_DEV_REMOVING)
			sb->devs[i]->state = VM_DEV_CONFIGURED;
	enum vm_state st = sb->state;
	pthread_mutex_unlock(&sb->lock);

	if (qmp) {
		qmp_client_shutdown(qmp);
		qmp_client_unref(qmp);
	}
	/* Both paths commit: waiters (stop, kill) wake from there. */
	if (st == VM_CRASHED) {
		cleanup_free char *tail = qemu_log_tail(sb);
		vm_sandbox_set_error(sb, "%s; qemu output: %s", why, tail);
	} else {
		log_info("%s: %s, now stopped", sb->name, why);
		vm_sandbox_commit(sb);
	}
}
