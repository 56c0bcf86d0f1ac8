/*
 * vm_adopt — re-attach to a QEMU an earlier daemon left running; see
 * adopt.h.  An adopted QEMU is not the daemon's child, so its exit status
 * is unknown, and any exit not asked for counts as a crash.
 */
#include "vm/sandbox/adopt.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <unistd.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/process.h"
#include "vm/sandbox/sandbox_qemu.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/monitor.h"
#include "vm/sandbox/reconcile.h"

#define ADOPT_TRIES 5       /* connections refused or dropped before QEMU greets */
#define ADOPT_RETRY_MS 200

/* QMP to the QEMU, answering query-status.  QEMU's monitor serves one
 * client: one connection made while it still winds up the last daemon's
 * (killed) may be dropped before the greeting, so a dropped or refused one
 * is tried again, a few times; a QEMU that does not answer in time is not. */
static int adopt_connect(struct vm_sandbox *sb, struct qmp_client **qmp, struct json_object **status,
			 struct err **e)
{
	struct qmp_callbacks cb;
	vm_lifecycle_qmp_callbacks(sb, &cb);
	int tmo = vm_get_settings()->qmp_timeout_ms, r = 0;
	for (int i = 0; i < ADOPT_TRIES; i++) {
		if (i) {
			log_info("%s: QMP again (%s)", sb->name, (*e)->msg);
			err_free(e);
			usleep(ADOPT_RETRY_MS * 1000);
		}
		r = qmp_client_connect(sb->qmp_path, &cb, tmo, qmp, e);
		if (r == 0 && (r = qmp_execute(*qmp, "query-status", NULL, tmo, status, e)) < 0) {
			qmp_client_unref(*qmp);
			*qmp = NULL;
		}
		if (r != -ECONNRESET && r != -ECONNREFUSED && r != -EPIPE && r != -ENOTCONN)
			break;
	}
	return r;
}

int vm_adopt_qemu(struct vm_sandbox *sb, enum vm_state was, struct err **e)
{
	pid_t pid = sb->pid;
	if (pid <= 0)
		return err_set(e, ESRCH, "no pid recorded");
	unsigned long long st = vm_process_start_time(pid);
	if (!st)
		return err_set(e, ESRCH, "the process is gone");
	if (st != sb->start_time || !vm_process_has_uuid(pid, sb->cfg.uuid))
		return err_set(e, ESRCH, "pid %d is now another process", (int)pid);
	int pidfd = vm_process_pidfd(pid);
	if (pidfd < 0)
		return err_sys(e, errno, "pidfd_open %d", (int)pid);
	struct qmp_client *qmp = NULL;
	cleanup_json struct json_object *status = NULL;
	if (adopt_connect(sb, &qmp, &status, e) < 0) {
		/* Ours, alive, but unmanageable: do not leave it behind. */
		vm_process_pidfd_kill(pidfd, SIGKILL);
		close(pidfd);
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
	vm_sandbox_qemu_running(sb, NULL, qmp); /* the version its greeting names */
	if (sb->state != was && was != VM_RUNNING) /* "running": paused too (persist.c) */
		log_warn("%s: was %s, QEMU says %s", sb->name, vm_state_name(was), vm_state_name(sb->state));
	cleanup_err struct err *we = NULL;
	if (vm_lifecycle_cgroup_adopt(sb, false, &we) < 0) {
		log_err("%s: its cgroup: %s", sb->name, we->msg);
		err_free(&we);
	}
	if (vm_monitor_watch(sb, &we) < 0)
		log_err("%s: cannot watch qemu: %s", sb->name, we->msg);
	log_info("%s: re-adopted qemu pid %d", sb->name, (int)pid);
	/* The state file says what QEMU had when it was written; QEMU says
	 * what it has (a daemon killed mid-hotplug left them apart). */
	err_free(&we);
	pthread_mutex_lock(&sb->op_lock);
	if (vm_reconcile(sb, "re-adopted after a daemon restart", &we) < 0) {
		log_err("%s: %s (retried before the next operation)", sb->name, we->msg);
		pthread_mutex_lock(&sb->lock);
		sb->settling = true;
		pthread_mutex_unlock(&sb->lock);
	}
	pthread_mutex_unlock(&sb->op_lock);
	return 0;
}

