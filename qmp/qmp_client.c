/*
 * qmp_client — a QMP client over a connected stream socket; see qmp_client.h.
 * This file opens, references and closes a client; the reader thread is in
 * qmp_client_reader.c, commands and event waits in qmp_client_command.c.
 *
 * Wire protocol (QEMU docs/interop/qmp-spec): the server sends one JSON
 * object per line.  The first is the greeting {"QMP": {"version": {"qemu":
 * {"major", "minor", "micro"}}, ...}}; the client answers with
 * {"execute": "qmp_capabilities", "id": N}.  After that every object is
 * either a reply {"return": ..., "id": N} / {"error": {"class", "desc"},
 * "id": N}, or an event {"event": NAME, "data": {...}, "timestamp": {...}}.
 * Unknown keys and unknown objects are ignored.  Replies without an id (QEMU
 * answers a malformed command that way) or with an id nobody waits for any
 * more (the command timed out) are discarded.
 *
 * Threads.  Whoever holds read_lock owns the receive buffer and the JSON
 * tokener: the client's reader thread, or a caller of qmp_execute() that
 * reads its own reply (qmp_client_lead, qmp_client_reader.c).  Only the
 * reader thread runs the callbacks, without holding any lock.  Callers put
 * a stack-allocated `struct qmp_pending` on c->pending, then read until it
 * has its reply or, when another thread reads, sleep on c->cond
 * (CLOCK_MONOTONIC) until that thread fills it in, the connection dies, or
 * the deadline passes.  Writers take turns through
 * c->writing (waited for on c->cond, so with the same deadline) so that
 * command lines never interleave; sends are non-blocking (MSG_DONTWAIT, poll
 * for the rest) so that a QEMU that stops reading cannot hold a caller past
 * its deadline.  No lock is held while sending.
 *
 * Lifetime.  The reader holds no reference.  The last unref marks the client
 * quiet (no callbacks from then on, except a closed callback already due
 * because the connection had died before: an owner unrefs before it frees
 * what the callbacks read), shuts the socket down (the
 * reader's read() returns 0), joins the reader and frees; if that unref runs
 * on the reader itself (from a callback) the reader is detached and frees the
 * client when it unwinds.  The fd is closed only at free, so shutdown() can
 * never hit a recycled descriptor.
 *
 * json-c reference counts are not atomic: an object is only ever touched by
 * one thread at a time — the one reading until it hands it over under
 * c->lock.
 */
#include "qmp/qmp_client_impl.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/util.h"

/* ---- deadlines on CLOCK_MONOTONIC ---- */

void qmp_client_deadline_init(struct qmp_deadline *d, int timeout_ms)
{
	d->infinite = timeout_ms < 0;
	clock_gettime(CLOCK_MONOTONIC, &d->ts);
	if (d->infinite)
		return;
	d->ts.tv_sec += timeout_ms / 1000;
	d->ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (d->ts.tv_nsec >= 1000000000L) {
		d->ts.tv_sec++;
		d->ts.tv_nsec -= 1000000000L;
	}
}

/* Milliseconds left, rounded up; -1 when infinite. */
int qmp_client_deadline_left_ms(const struct qmp_deadline *d)
{
	if (d->infinite)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ns = (int64_t)(d->ts.tv_sec - now.tv_sec) * 1000000000LL + (d->ts.tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	int64_t ms = (ns + 999999) / 1000000;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Wait on c->cond with c->lock held; returns ETIMEDOUT once past d. */
int qmp_client_wait(struct qmp_client *c, const struct qmp_deadline *d)
{
	if (d->infinite)
		return pthread_cond_wait(&c->cond, &c->lock);
	return pthread_cond_timedwait(&c->cond, &c->lock, &d->ts);
}

/* ---- connection state ---- */

/* Record the first reason the connection died and wake everyone. */
void qmp_client_mark_dead_locked(struct qmp_client *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	c->why = xstrdup(why);
	/* Decided when the connection dies, so that a caller woken by the
	 * death who then drops the last ref cannot race the callback away. */
	c->closed_due = c->opened && !c->quiet;
	pthread_cond_broadcast(&c->cond);
}

void qmp_client_conn_drop(struct qmp_client *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	qmp_client_mark_dead_locked(c, why);
	pthread_mutex_unlock(&c->lock);
	/* Wakes the reader (read returns 0) and any writer blocked in poll. */
	shutdown(c->fd, SHUT_RDWR);
}

bool qmp_client_on_reader_thread(struct qmp_client *c)
{
	return c->reader_started && pthread_equal(pthread_self(), c->reader);
}

void qmp_client_free(struct qmp_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->kick >= 0)
		close(c->kick);
	for (int list = 0; list < 2; list++)
		for (struct qmp_event *q = list ? c->unrun_head : c->ev_head, *n; q; q = n) {
			n = q->next;
			json_object_put(q->ev);
			free(q);
		}
	if (c->tok)
		json_tokener_free(c->tok);
	free(c->buf);
	free(c->why);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->read_lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* ---- public API ---- */

int qmp_client_open(int fd, const struct qmp_callbacks *cb, int timeout_ms,
		    struct qmp_client **out, struct err **e)
{
	*out = NULL;
	if (fd < 0)
		return err_set(e, EBADF, "qmp: invalid socket descriptor");

	struct qmp_deadline d;
	qmp_client_deadline_init(&d, timeout_ms);

	struct qmp_client *c = xcalloc(1, sizeof(*c));
	atomic_init(&c->refs, 1);
	c->fd = fd;
	c->kick = -1;
	if (cb)
		c->cb = *cb;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->read_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->kick < 0) {
		int err = errno;
		qmp_client_free(c);
		return err_sys(e, err, "qmp: eventfd");
	}
	c->tok = json_tokener_new_ex(QMP_JSON_DEPTH);
	if (!c->tok) {
		qmp_client_free(c);
		return err_set(e, ENOMEM, "qmp: cannot allocate a JSON tokener");
	}

	/* The reader never handles signals: they belong to the daemon's threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&c->reader, NULL, qmp_client_reader_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		qmp_client_free(c);
		return err_sys(e, r, "qmp: cannot start the reader thread");
	}
	c->reader_started = true;

	pthread_mutex_lock(&c->lock);
	while (!c->greeted && !c->dead)
		if (qmp_client_wait(c, &d) == ETIMEDOUT)
			break;
	if (!c->greeted) {
		if (c->dead)
			r = err_set(e, ECONNRESET, "qmp: connection lost before the greeting (%s)", c->why);
		else
			r = err_set(e, ETIMEDOUT, "qmp: no greeting from QEMU within %d ms", timeout_ms);
		pthread_mutex_unlock(&c->lock);
		qmp_client_unref(c);
		return r;
	}
	pthread_mutex_unlock(&c->lock);

	r = qmp_execute(c, "qmp_capabilities", NULL, qmp_client_deadline_left_ms(&d), NULL, e);
	if (r < 0) {
		qmp_client_unref(c);
		err_wrap(e, "qmp: capabilities negotiation");
		return r;
	}

	/* Either we see the death here, or the reader sees `opened` and
	 * reports it through the closed callback — never neither. */
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		r = err_set(e, ECONNRESET, "qmp: connection lost during negotiation (%s)", c->why);
		pthread_mutex_unlock(&c->lock);
		qmp_client_unref(c);
		return r;
	}
	c->opened = true;
	pthread_mutex_unlock(&c->lock);
	*out = c;
	return 0;
}

int qmp_client_connect(const char *path, const struct qmp_callbacks *cb,
		       int timeout_ms, struct qmp_client **out, struct err **e)
{
	*out = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!path || !*path)
		return err_set(e, EINVAL, "qmp: empty socket path");
	size_t len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return err_set(e, ENAMETOOLONG, "qmp: socket path too long (%zu bytes, at most %zu): %s",
			       len, sizeof(sa.sun_path) - 1, path);
	memcpy(sa.sun_path, path, len + 1);

	struct qmp_deadline d;
	qmp_client_deadline_init(&d, timeout_ms);

	/* Non-blocking so a full listen backlog cannot outlast the timeout. */
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_sys(e, errno, "qmp: socket");
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return err_sys(e, errno, "qmp: connect %s", path);
		int left = qmp_client_deadline_left_ms(&d);
		if (left == 0)
			return err_set(e, ETIMEDOUT, "qmp: connect %s: listen backlog full for %d ms",
				       path, timeout_ms);
		poll(NULL, 0, left < 0 || left > 10 ? 10 : left);
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return err_sys(e, errno, "qmp: fcntl %s", path);
	return qmp_client_open(move_fd(fd), cb, qmp_client_deadline_left_ms(&d), out, e);
}

struct qmp_client *qmp_client_ref(struct qmp_client *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void qmp_client_unref(struct qmp_client *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	pthread_mutex_lock(&c->lock);
	c->quiet = true;
	pthread_mutex_unlock(&c->lock);
	qmp_client_shutdown(c);
	if (c->reader_started) {
		if (qmp_client_on_reader_thread(c)) {
			/* Called from a callback: the reader frees on its way out. */
			pthread_detach(c->reader);
			pthread_mutex_lock(&c->lock);
			c->free_on_exit = true;
			pthread_mutex_unlock(&c->lock);
			return;
		}
		pthread_join(c->reader, NULL);
	}
	qmp_client_free(c);
}

void qmp_client_shutdown(struct qmp_client *c)
{
	if (c)
		qmp_client_conn_drop(c, "connection shut down by the client");
}

bool qmp_client_alive(struct qmp_client *c)
{
	pthread_mutex_lock(&c->lock);
	bool alive = !c->dead;
	pthread_mutex_unlock(&c->lock);
	return alive;
}

void qmp_client_version(struct qmp_client *c, int *major, int *minor, int *micro)
{
	pthread_mutex_lock(&c->lock);
	if (major)
		*major = c->version[0];
	if (minor)
		*minor = c->version[1];
	if (micro)
		*micro = c->version[2];
	pthread_mutex_unlock(&c->lock);
}

/* Send one whole line before the deadline.  A line cut short by the
 * deadline desynchronises the stream, so the connection is dropped then. */
/* send(), with `pass_fd` (>= 0) attached as SCM_RIGHTS to the first byte. */
