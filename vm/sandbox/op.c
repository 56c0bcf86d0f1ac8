/*
 * vm_op — the bounded start and the end of a control operation; see op.h.
 */
#include "vm/sandbox/op.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/sandbox/sandbox.h"

#define OP_POLL_MS 20
#define OP_ROOM_MIN (64 * 1024)

static bool (*op_interrupted_fn)(void);
static int (*op_settle_fn)(struct vm_sandbox *sb, const char *why, struct err **e);

static void (*op_kick_fn)(struct vm_sandbox *sb);

void vm_op_settle_hook(int (*fn)(struct vm_sandbox *sb, const char *why, struct err **e),
		       void (*kick)(struct vm_sandbox *sb))
{
	op_settle_fn = fn;
	op_kick_fn = kick;
}

void vm_op_interrupted_hook(bool (*fn)(void)) { op_interrupted_fn = fn; }
bool vm_op_interrupted(void) { return op_interrupted_fn && op_interrupted_fn(); }

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* op_lock within the bound, in steps so an interrupted caller stops. */
static int op_lock_bounded(struct vm_sandbox *sb, struct err **e)
{
	int bound = vm_get_settings()->qmp_timeout_ms;
	int64_t t0 = util_now_ms();
	for (;;) {
		struct timespec ts;
		deadline_in(&ts, OP_POLL_MS);
		if (pthread_mutex_timedlock(&sb->op_lock, &ts) == 0)
			return 0;
		if (vm_op_interrupted())
			return err_set(e, EINTR, "interrupted while waiting for the sandbox");
		if (util_now_ms() - t0 < bound)
			continue;
		pthread_mutex_lock(&sb->lock);
		char what[sizeof(sb->op_what)];
		snprintf(what, sizeof(what), "%s", *sb->op_what ? sb->op_what : "an operation");
		long long age = (long long)(util_now_ms() - sb->op_since_ms);
		pthread_mutex_unlock(&sb->lock);
		return err_set(e, EBUSY, "busy: %s in progress for %lld ms (waited %d ms; retry)", what,
			       age, bound);
	}
}

int vm_op_room(struct vm_sandbox *sb, struct err **e)
{
	pthread_mutex_lock(&sb->persist_lock);
	size_t need = sb->persisted ? 2 * strlen(sb->persisted) : 0;
	pthread_mutex_unlock(&sb->persist_lock);
	if (need < OP_ROOM_MIN)
		need = OP_ROOM_MIN;
	struct statvfs st;
	if (statvfs(vm_get_settings()->state_dir, &st) < 0)
		return 0; /* the save itself will say what is wrong */
	unsigned long long avail = (unsigned long long)st.f_bavail * st.f_frsize;
	if (avail >= need && (st.f_files == 0 || st.f_favail > 2))
		return 0;
	return err_set(e, ENOSPC, "the state directory %s is full (%llu bytes free, %zu needed): "
		       "nothing was changed", vm_get_settings()->state_dir, avail, need);
}

/* A QEMU that left a command unanswered and has said nothing since is
 * not sent another (each would wait out the timeout, and writers of one
 * file queue behind each other in the kernel): ETIMEDOUT at once. */
static int op_answering(struct vm_sandbox *sb, struct err **e)
{
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, NULL);
	int ms = qmp ? qmp_client_stalled_ms(qmp) : 0;
	if (!ms)
		return 0;
	return err_set(e, ETIMEDOUT, "QEMU has not answered for %d ms (a command timed out): nothing "
		       "was sent; the sandbox settles when QEMU answers again", ms);
}

int vm_op_begin(struct vm_sandbox *sb, const char *what, unsigned flags, struct err **e)
{
	int r = op_lock_bounded(sb, e);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sb->lock);
	snprintf(sb->op_what, sizeof(sb->op_what), "%s", what);
	sb->op_since_ms = util_now_ms();
	bool settle = sb->settling && vm_state_is_live(sb->state) && !(flags & VM_OP_QUIET);
	bool removed = sb->removed, broken = sb->state == VM_BROKEN;
	pthread_mutex_unlock(&sb->lock);
	if (removed)
		r = err_set(e, ENOENT, "sandbox %s was removed", sb->name);
	else if (broken && !(flags & VM_OP_QUIET))
		r = err_set(e, EBUSY, "sandbox %s is broken (see error): only kill and rmdir apply",
			    sb->name);
	if (r == 0 && !(flags & VM_OP_QUIET))
		r = op_answering(sb, e);
	if (r == 0 && (flags & VM_OP_CHANGES))
		r = vm_op_room(sb, e);
	if (r == 0 && settle && op_settle_fn)
		r = op_settle_fn(sb, "an earlier operation's outcome was unknown", e);
	if (r < 0)
		vm_op_end(sb);
	return r;
}

void vm_op_end(struct vm_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	/* Left settling (a wait that gave up: QEMU may finish yet): follow
	 * QEMU in the background too, not only before the next operation. */
	bool kick = sb->settling && vm_state_is_live(sb->state) &&
		    strcmp(sb->op_what, VM_OP_SETTLE_WHAT) != 0;
	sb->op_what[0] = '\0';
	pthread_mutex_unlock(&sb->lock);
	pthread_mutex_unlock(&sb->op_lock);
	if (kick && op_kick_fn)
		op_kick_fn(sb);
}
