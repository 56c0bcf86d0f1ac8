/*
 * vm_settle — reconnect and reconcile in the background; see settle.h.
 */
#include "vm/sandbox/settle.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "lib/log.h"
#include "lib/testfault.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/process.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/reconcile.h"
#include "vm/sandbox/registry.h"
#include "vm/sandbox/sandbox.h"

#define SETTLE_RETRY_MS 200
#define SETTLE_TRIES 300 /* a minute of tries */

struct settle_item {
	struct vm_sandbox *sb;
	enum vm_settle_job job;
	int tries;
};

static pthread_mutex_t settle_lock = PTHREAD_MUTEX_INITIALIZER;
static struct settle_item *settle_q;
static size_t settle_n;
static int settle_wake = -1;
static volatile sig_atomic_t settle_cut; /* SIGUSR2 under SANDBOXFS_TEST_FAULTS */
static bool settle_stopping, settle_running;
static pthread_t settle_thread;

static void wake(void)
{
	uint64_t one = 1;
	if (settle_wake >= 0 && write(settle_wake, &one, sizeof(one)) < 0)
		return;
}

void vm_settle_kick(struct vm_sandbox *sb) { vm_settle_soon(sb, VM_SETTLE_RECONCILE); }

void vm_settle_soon(struct vm_sandbox *sb, enum vm_settle_job job)
{
	pthread_mutex_lock(&settle_lock);
	for (size_t i = 0; i < settle_n; i++)
		if (settle_q[i].sb == sb) {
			if (job == VM_SETTLE_RECONNECT)
				settle_q[i].job = job;
			pthread_mutex_unlock(&settle_lock);
			wake();
			return;
		}
	settle_q = xrealloc(settle_q, (settle_n + 1) * sizeof(*settle_q));
	settle_q[settle_n++] = (struct settle_item){vm_sandbox_ref(sb), job, 0};
	pthread_mutex_unlock(&settle_lock);
	wake();
}

/* Back into the queue (taking over its reference), unless a job for the
 * same sandbox came meanwhile. */
static void requeue(struct settle_item *it)
{
	pthread_mutex_lock(&settle_lock);
	for (size_t i = 0; i < settle_n; i++)
		if (settle_q[i].sb == it->sb) {
			if (it->job == VM_SETTLE_RECONNECT)
				settle_q[i].job = it->job;
			pthread_mutex_unlock(&settle_lock);
			vm_sandbox_put(it->sb);
			return;
		}
	settle_q = xrealloc(settle_q, (settle_n + 1) * sizeof(*settle_q));
	settle_q[settle_n++] = *it;
	pthread_mutex_unlock(&settle_lock);
}

/* A new QMP client for a live QEMU whose connection is gone. */
static int reconnect(struct vm_sandbox *sb, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	bool dead = vm_state_is_live(sb->state) && (!sb->qmp || !qmp_client_alive(sb->qmp));
	pthread_mutex_unlock(&sb->lock);
	if (!dead)
		return 0;
	struct qmp_callbacks cb;
	vm_lifecycle_qmp_callbacks(sb, &cb);
	struct qmp_client *qmp = NULL;
	int r = qmp_client_connect(sb->qmp_path, &cb, vm_get_settings()->qmp_timeout_ms, &qmp, e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sb->lock);
	struct qmp_client *old = sb->qmp;
	sb->qmp = vm_state_is_live(sb->state) ? qmp : NULL;
	pthread_mutex_unlock(&sb->lock);
	if (old)
		qmp_client_unref(old);
	if (!sb->qmp) { /* QEMU went meanwhile */
		qmp_client_unref(qmp);
		return 0;
	}
	log_info("%s: QMP connection made again", sb->name);
	return 0;
}

/* One job; false: the sandbox is busy, try again later. */
static bool run(struct settle_item *it)
{
	struct vm_sandbox *sb = it->sb;
	cleanup_err struct err *e = NULL;
	cleanup_qmp struct qmp_client *q = vm_sandbox_qmp(sb, NULL);
	if (q && qmp_client_stalled_ms(q))
		return false; /* QEMU stuck: again later, when it may answer */
	if (vm_op_begin(sb, VM_OP_SETTLE_WHAT, VM_OP_QUIET, &e) < 0)
		return e->code != EBUSY && e->code != EINTR;
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	pthread_mutex_unlock(&sb->lock);
	int r = live && it->job == VM_SETTLE_RECONNECT ? reconnect(sb, &e) : 0;
	if (live && r == 0)
		r = vm_reconcile(sb, it->job == VM_SETTLE_RECONNECT ? "QMP connection made again"
								   : "QEMU changed while nobody waited",
				 &e);
	if (r < 0) {
		pthread_mutex_lock(&sb->lock);
		sb->settling = true;
		pthread_mutex_unlock(&sb->lock);
	}
	vm_op_end(sb);
	if (r < 0)
		log_warn("%s: %s (tried again)", sb->name, e->msg);
	return r == 0;
}

/* SIGUSR2 (test faults): shut every sandbox's QMP connection down. */
static void cut_all(void)
{
	cleanup_strv struct strv names = {0};
	vm_registry_names(&names);
	for (size_t i = 0; i < names.n; i++) {
		cleanup_sandbox struct vm_sandbox *sb = vm_registry_get(names.v[i]);
		if (!sb)
			continue;
		cleanup_err struct err *e = NULL;
		cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, &e);
		if (qmp) {
			log_warn("%s: test fault: cutting the QMP connection", sb->name);
			qmp_client_shutdown(qmp);
		}
	}
}

static void *settle_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&settle_stopping, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&settle_lock);
		size_t n = settle_n;
		pthread_mutex_unlock(&settle_lock);
		struct pollfd p = {.fd = settle_wake, .events = POLLIN};
		poll(&p, 1, n ? SETTLE_RETRY_MS : -1);
		uint64_t v;
		if (read(settle_wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
		if (settle_cut) {
			settle_cut = 0;
			cut_all();
		}
		pthread_mutex_lock(&settle_lock);
		struct settle_item *items = settle_q;
		n = settle_n;
		settle_q = NULL;
		settle_n = 0;
		pthread_mutex_unlock(&settle_lock);
		for (size_t i = 0; i < n; i++) {
			bool done = run(&items[i]) || ++items[i].tries >= SETTLE_TRIES;
			if (done)
				vm_sandbox_put(items[i].sb);
			else
				requeue(&items[i]); /* busy: again later, the reference kept */
		}
		free(items);
	}
	return NULL;
}

static void on_sigusr2(int sig)
{
	(void)sig;
	settle_cut = 1;
	uint64_t one = 1;
	if (write(settle_wake, &one, sizeof(one)) < 0)
		return;
}

int vm_settle_start(struct err **e)
{
	settle_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (settle_wake < 0)
		return err_sys(e, errno, "eventfd");
	if (testfault_on(TESTFAULT_QMP_CUT)) {
		struct sigaction sa = {.sa_handler = on_sigusr2, .sa_flags = SA_RESTART};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR2, &sa, NULL);
		log_warn("test faults enabled: SIGUSR2 cuts every QMP connection");
	}
	int r = pthread_create(&settle_thread, NULL, settle_main, NULL);
	if (r)
		return err_sys(e, r, "pthread_create");
	settle_running = true;
	return 0;
}

void vm_settle_stop(void)
{
	if (!settle_running)
		return;
	__atomic_store_n(&settle_stopping, true, __ATOMIC_SEQ_CST);
	wake();
	pthread_join(settle_thread, NULL);
	settle_running = false;
	pthread_mutex_lock(&settle_lock);
	for (size_t i = 0; i < settle_n; i++)
		vm_sandbox_put(settle_q[i].sb);
	free(settle_q);
	settle_q = NULL;
	settle_n = 0;
	pthread_mutex_unlock(&settle_lock);
	close(settle_wake);
	settle_wake = -1;
}
