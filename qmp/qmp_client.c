/*
 * qmp_client — a QMP client over a connected stream socket; see qmp_client.h.
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
 * Threads.  One reader thread per client owns the receive buffer and the
 * JSON tokener; it runs the callbacks without holding any lock.  Callers of
 * qmp_execute() put a stack-allocated `struct qmp_pending` on c->pending and
 * sleep on c->cond (CLOCK_MONOTONIC) until the reader fills in the reply,
 * the connection dies, or the deadline passes.  Writers take turns through
 * c->writing (waited for on c->cond, so with the same deadline) so that
 * command lines never interleave; sends are non-blocking (MSG_DONTWAIT, poll
 * for the rest) so that a QEMU that stops reading cannot hold a caller past
 * its deadline.  No lock is held while sending.
 *
 * Lifetime.  The reader holds no reference.  The last unref marks the client
 * quiet (no callbacks from then on, except a closed callback already due
 * because the connection had died before), shuts the socket down (the
 * reader's read() returns 0), joins the reader and frees; if that unref runs
 * on the reader itself (from a callback) the reader is detached and frees the
 * client when it unwinds.  The fd is closed only at free, so shutdown() can
 * never hit a recycled descriptor.
 *
 * json-c reference counts are not atomic: an object is only ever touched by
 * one thread at a time — the reader until it hands it over under c->lock.
 */
#include "qmp/qmp_client.h"

#include "lib/util.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#define QMP_JSON_DEPTH 1024     /* deep replies: long backing chains */
#define QMP_READ_CHUNK 65536

struct qmp_pending {
	struct qmp_pending *next;
	int64_t id;
	struct json_object *reply; /* set by the reader, taken by the waiter */
};

struct qmp_event {
	struct qmp_event *next;
	struct json_object *ev;
	const char *name; /* points into ev */
};

struct qmp_client {
	atomic_int refs;
	int fd;
	struct qmp_callbacks cb;
	pthread_t reader;
	bool reader_started; /* written before the client is shared */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	bool greeted;      /* greeting seen */
	bool opened;       /* qmp_client_open succeeded: callbacks may run */
	bool quiet;        /* last unref happened: no more callbacks */
	bool dead;         /* connection lost or shut down */
	bool closed_due;   /* the closed callback is to run */
	bool free_on_exit; /* reader detached: it frees the client */
	bool writing;      /* a thread is sending a command line */
	char *why;         /* why the connection died (set once) */
	int version[3];
	int64_t next_id;
	struct qmp_pending *pending;
	struct qmp_event *ev_head, *ev_tail;
	size_t ev_count;

	/* Reader thread only. */
	char *buf;
	size_t len, cap;
	struct json_tokener *tok;
};

/* ---- deadlines on CLOCK_MONOTONIC ---- */

struct qmp_deadline {
	bool infinite;
	struct timespec ts;
};

static void deadline_init(struct qmp_deadline *d, int timeout_ms)
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
static int deadline_left_ms(const struct qmp_deadline *d)
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
static int client_wait(struct qmp_client *c, const struct qmp_deadline *d)
{
	if (d->infinite)
		return pthread_cond_wait(&c->cond, &c->lock);
	return pthread_cond_timedwait(&c->cond, &c->lock, &d->ts);
}

/* ---- connection state ---- */

/* Record the first reason the connection died and wake everyone. */
static void mark_dead_locked(struct qmp_client *c, const char *why)
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

static void conn_drop(struct qmp_client *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	mark_dead_locked(c, why);
	pthread_mutex_unlock(&c->lock);
	/* Wakes the reader (read returns 0) and any writer blocked in poll. */
	shutdown(c->fd, SHUT_RDWR);
}

static bool on_reader_thread(struct qmp_client *c)
{
	return c->reader_started && pthread_equal(pthread_self(), c->reader);
}

static void client_free(struct qmp_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	for (struct qmp_event *q = c->ev_head, *n; q; q = n) {
		n = q->next;
		json_object_put(q->ev);
		free(q);
	}
	if (c->tok)
		json_tokener_free(c->tok);
	free(c->buf);
	free(c->why);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* ---- reader thread ---- */

static void event_enqueue_locked(struct qmp_client *c, struct json_object *ev, const char *name)
{
	if (c->ev_count >= QMP_EVENT_QUEUE_MAX) {
		struct qmp_event *old = c->ev_head;
		c->ev_head = old->next;
		if (!c->ev_head)
			c->ev_tail = NULL;
		c->ev_count--;
		json_object_put(old->ev);
		free(old);
	}
	struct qmp_event *q = xcalloc(1, sizeof(*q));
	q->ev = ev;
	q->name = name;
	if (c->ev_tail)
		c->ev_tail->next = q;
	else
		c->ev_head = q;
	c->ev_tail = q;
	c->ev_count++;
	pthread_cond_broadcast(&c->cond);
}

static int json_int_member(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int(v);
}

static void handle_greeting(struct qmp_client *c, struct json_object *qmp)
{
	struct json_object *ver, *qemu;
	int v[3] = {0, 0, 0};
	if (json_object_object_get_ex(qmp, "version", &ver) &&
	    json_object_object_get_ex(ver, "qemu", &qemu) &&
	    json_object_is_type(qemu, json_type_object)) {
		v[0] = json_int_member(qemu, "major");
		v[1] = json_int_member(qemu, "minor");
		v[2] = json_int_member(qemu, "micro");
	}
	pthread_mutex_lock(&c->lock);
	memcpy(c->version, v, sizeof(v));
	c->greeted = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void handle_event(struct qmp_client *c, struct json_object *o, const char *name)
{
	pthread_mutex_lock(&c->lock);
	bool call = c->opened && !c->quiet && c->cb.event;
	pthread_mutex_unlock(&c->lock);
	if (call)
		c->cb.event(c->cb.opaque, name, o);
	pthread_mutex_lock(&c->lock);
	event_enqueue_locked(c, o, name);
	pthread_mutex_unlock(&c->lock);
}

static void handle_reply(struct qmp_client *c, struct json_object *o)
{
	struct json_object *idv;
	if (!json_object_object_get_ex(o, "id", &idv) || !json_object_is_type(idv, json_type_int)) {
		json_object_put(o);
		return;
	}
	int64_t id = json_object_get_int64(idv);
	pthread_mutex_lock(&c->lock);
	for (struct qmp_pending *p = c->pending; p; p = p->next) {
		if (p->id == id && !p->reply) {
			p->reply = move_ptr(o);
			pthread_cond_broadcast(&c->cond);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (o) /* nobody waits for it (timed out): discard */
		json_object_put(o);
}

/* Handle one line (without its line ending).  Returns false, with *why set,
 * when the line is a protocol violation that drops the connection. */
static bool handle_line(struct qmp_client *c, const char *s, size_t n, char *why, size_t whysz)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (!n)
		return true;

	json_tokener_reset(c->tok);
	struct json_object *o = json_tokener_parse_ex(c->tok, s, (int)n);
	enum json_tokener_error jerr = json_tokener_get_error(c->tok);
	if (!o || jerr != json_tokener_success || json_tokener_get_parse_end(c->tok) != n) {
		if (o)
			json_object_put(o);
		snprintf(why, whysz, "invalid JSON from QEMU (%s)",
			 jerr == json_tokener_success ? "trailing data" : json_tokener_error_desc(jerr));
		return false;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		snprintf(why, whysz, "QEMU sent a JSON value that is not an object");
		return false;
	}

	struct json_object *v;
	if (!c->greeted) { /* only the reader writes it */
		if (!json_object_object_get_ex(o, "QMP", &v) || !json_object_is_type(v, json_type_object)) {
			json_object_put(o);
			snprintf(why, whysz, "expected a QMP greeting");
			return false;
		}
		handle_greeting(c, v);
		json_object_put(o);
		return true;
	}
	if (json_object_object_get_ex(o, "event", &v) && json_object_is_type(v, json_type_string)) {
		handle_event(c, o, json_object_get_string(v));
		return true;
	}
	if (json_object_object_get_ex(o, "return", NULL) || json_object_object_get_ex(o, "error", NULL)) {
		handle_reply(c, o);
		return true;
	}
	json_object_put(o); /* unknown message: ignored */
	return true;
}

static bool client_dead(struct qmp_client *c)
{
	pthread_mutex_lock(&c->lock);
	bool d = c->dead;
	pthread_mutex_unlock(&c->lock);
	return d;
}

/* Handle every complete line in c->buf; `scan` is where new data starts. */
static bool process_lines(struct qmp_client *c, size_t scan, char *why, size_t whysz)
{
	size_t start = 0;
	bool ok = true;
	for (;;) {
		char *nl = memchr(c->buf + scan, '\n', c->len - scan);
		if (!nl)
			break;
		size_t end = (size_t)(nl - c->buf);
		size_t n = end - start;
		if (n && c->buf[end - 1] == '\r')
			n--;
		if (n > QMP_LINE_MAX) {
			snprintf(why, whysz, "line longer than %d bytes from QEMU", QMP_LINE_MAX);
			return false;
		}
		if (!handle_line(c, c->buf + start, n, why, whysz))
			return false;
		start = scan = end + 1;
		/* A callback may have shut us down (or dropped the last ref). */
		if (client_dead(c)) {
			snprintf(why, whysz, "connection shut down");
			ok = false;
			break;
		}
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	/* What is left has no newline: QMP_LINE_MAX bytes plus a '\r' at most. */
	if (ok && c->len > (size_t)QMP_LINE_MAX + 1) {
		snprintf(why, whysz, "line longer than %d bytes from QEMU", QMP_LINE_MAX);
		return false;
	}
	return ok;
}

static void *reader_main(void *arg)
{
	struct qmp_client *c = arg;
	char why[256] = "";

	for (;;) {
		if (c->cap - c->len < QMP_READ_CHUNK) {
			c->cap = c->cap ? c->cap * 2 : 2 * QMP_READ_CHUNK;
			c->buf = xrealloc(c->buf, c->cap);
		} else if (c->cap > 4 * QMP_READ_CHUNK && c->len < QMP_READ_CHUNK) {
			c->cap = 2 * QMP_READ_CHUNK; /* give back what a huge reply took */
			c->buf = xrealloc(c->buf, c->cap);
		}
		ssize_t n = read(c->fd, c->buf + c->len, QMP_READ_CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) { /* caller gave a non-blocking fd */
				struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
					snprintf(why, sizeof(why), "poll: %s", strerror(errno));
					break;
				}
				continue;
			}
			snprintf(why, sizeof(why), "read: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			snprintf(why, sizeof(why), "end of file from QEMU");
			break;
		}
		size_t scan = c->len;
		c->len += (size_t)n;
		if (!process_lines(c, scan, why, sizeof(why)))
			break;
	}

	conn_drop(c, why); /* keeps an earlier reason, e.g. an explicit shutdown */

	pthread_mutex_lock(&c->lock);
	bool call = c->closed_due && c->cb.closed;
	const char *reason = c->why; /* immutable once set */
	pthread_mutex_unlock(&c->lock);
	if (call)
		c->cb.closed(c->cb.opaque, reason);

	pthread_mutex_lock(&c->lock);
	bool free_it = c->free_on_exit;
	pthread_mutex_unlock(&c->lock);
	if (free_it)
		client_free(c);
	return NULL;
}

/* ---- public API ---- */

int qmp_client_open(int fd, const struct qmp_callbacks *cb, int timeout_ms,
		    struct qmp_client **out, struct err **e)
{
	*out = NULL;
	if (fd < 0)
		return err_set(e, EBADF, "qmp: invalid socket descriptor");

	struct qmp_deadline d;
	deadline_init(&d, timeout_ms);

	struct qmp_client *c = xcalloc(1, sizeof(*c));
	atomic_init(&c->refs, 1);
	c->fd = fd;
	if (cb)
		c->cb = *cb;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->tok = json_tokener_new_ex(QMP_JSON_DEPTH);
	if (!c->tok) {
		client_free(c);
		return err_set(e, ENOMEM, "qmp: cannot allocate a JSON tokener");
	}

	/* The reader never handles signals: they belong to the daemon's threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&c->reader, NULL, reader_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		client_free(c);
		return err_sys(e, r, "qmp: cannot start the reader thread");
	}
	c->reader_started = true;

	pthread_mutex_lock(&c->lock);
	while (!c->greeted && !c->dead)
		if (client_wait(c, &d) == ETIMEDOUT)
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

	r = qmp_execute(c, "qmp_capabilities", NULL, deadline_left_ms(&d), NULL, e);
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
	deadline_init(&d, timeout_ms);

	/* Non-blocking so a full listen backlog cannot outlast the timeout. */
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_sys(e, errno, "qmp: socket");
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return err_sys(e, errno, "qmp: connect %s", path);
		int left = deadline_left_ms(&d);
		if (left == 0)
			return err_set(e, ETIMEDOUT, "qmp: connect %s: listen backlog full for %d ms",
				       path, timeout_ms);
		poll(NULL, 0, left < 0 || left > 10 ? 10 : left);
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return err_sys(e, errno, "qmp: fcntl %s", path);
	return qmp_client_open(move_fd(fd), cb, deadline_left_ms(&d), out, e);
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
		if (on_reader_thread(c)) {
			/* Called from a callback: the reader frees on its way out. */
			pthread_detach(c->reader);
			pthread_mutex_lock(&c->lock);
			c->free_on_exit = true;
			pthread_mutex_unlock(&c->lock);
			return;
		}
		pthread_join(c->reader, NULL);
	}
	client_free(c);
}

void qmp_client_shutdown(struct qmp_client *c)
{
	if (c)
		conn_drop(c, "connection shut down by the client");
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
static ssize_t send_some(int sock, const char *s, size_t len, int *pass_fd)
{
	if (*pass_fd < 0)
		return send(sock, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	struct iovec iov = {.iov_base = (void *)s, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), pass_fd, sizeof(int));
	ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		*pass_fd = -1; /* delivered with the first chunk */
	return n;
}

static int send_line(struct qmp_client *c, const char *cmd, const char *s, size_t len,
		     int pass_fd, const struct qmp_deadline *d, struct err **e)
{
	int r = 0;
	pthread_mutex_lock(&c->lock);
	while (c->writing && !c->dead)
		if (client_wait(c, d) == ETIMEDOUT)
			break;
	if (c->dead)
		r = err_set(e, ECONNRESET, "qmp: %s: connection lost (%s)", cmd, c->why);
	else if (c->writing)
		r = err_set(e, ETIMEDOUT, "qmp: %s: timed out waiting to send", cmd);
	else
		c->writing = true;
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		return r;

	char why[128] = "";
	size_t off = 0;
	while (off < len) {
		ssize_t n = send_some(c->fd, s + off, len - off, &pass_fd);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
			int pr = poll(&pfd, 1, deadline_left_ms(d));
			if (pr > 0 || (pr < 0 && errno == EINTR))
				continue; /* POLLHUP/POLLERR: send reports it */
			if (pr == 0) {
				r = err_set(e, ETIMEDOUT, "qmp: %s: timed out sending the command", cmd);
				if (off > 0)
					snprintf(why, sizeof(why), "timed out in the middle of sending a command");
				break;
			}
		}
		snprintf(why, sizeof(why), "write: %s", strerror(n < 0 ? errno : EPIPE));
		r = err_set(e, ECONNRESET, "qmp: %s: connection lost (%s)", cmd, why);
		break;
	}

	pthread_mutex_lock(&c->lock);
	c->writing = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (why[0])
		conn_drop(c, why);
	return r;
}

static const struct {
	const char *name;
	int code;
} qmp_classes[] = {
	{"GenericError", EIO},
	{"CommandNotFound", ENOSYS},
	{"DeviceNotActive", ENODEV},
	{"DeviceNotFound", ENODEV},
	{"KVMMissingCap", ENOTSUP},
};

static int reply_error(struct json_object *reply, const char **err_class, struct err **e)
{
	const char *cls = "GenericError", *desc = "unknown error";
	struct json_object *err, *v;
	if (json_object_object_get_ex(reply, "error", &err) && json_object_is_type(err, json_type_object)) {
		if (json_object_object_get_ex(err, "class", &v) && json_object_is_type(v, json_type_string))
			cls = json_object_get_string(v);
		if (json_object_object_get_ex(err, "desc", &v) && json_object_is_type(v, json_type_string))
			desc = json_object_get_string(v);
	}
	/* Unknown classes are generic errors; the message keeps the real name. */
	const char *static_cls = "GenericError";
	int code = EIO;
	for (size_t i = 0; i < ARRAY_SIZE(qmp_classes); i++) {
		if (!strcmp(cls, qmp_classes[i].name)) {
			static_cls = qmp_classes[i].name;
			code = qmp_classes[i].code;
			break;
		}
	}
	if (err_class)
		*err_class = static_cls;
	return err_set(e, code, "%s (%s)", desc, cls);
}

static int execute(struct qmp_client *c, const char *cmd, struct json_object *args, int pass_fd,
		   int timeout_ms, struct json_object **ret, const char **err_class, struct err **e)
{
	cleanup_json struct json_object *a = args;
	if (ret)
		*ret = NULL;
	if (err_class)
		*err_class = "";
	if (!cmd || !*cmd)
		return err_set(e, EINVAL, "qmp: empty command name");
	if (a && !json_object_is_type(a, json_type_object))
		return err_set(e, EINVAL, "qmp: %s: arguments must be a JSON object", cmd);
	if (on_reader_thread(c))
		return err_set(e, EDEADLK, "qmp: %s: cannot execute from a QMP callback", cmd);

	struct qmp_deadline d;
	deadline_init(&d, timeout_ms);

	struct qmp_pending p = {0};
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		int r = err_set(e, ECONNRESET, "qmp: %s: connection lost (%s)", cmd, c->why);
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	p.id = ++c->next_id;
	p.next = c->pending;
	c->pending = &p;
	pthread_mutex_unlock(&c->lock);

	cleanup_json struct json_object *msg = json_object_new_object();
	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (a)
		json_object_object_add(msg, "arguments", move_ptr(a));
	json_object_object_add(msg, "id", json_object_new_int64(p.id));
	size_t len;
	const char *js = json_object_to_json_string_length(
		msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	cleanup_free char *line = xmalloc(len + 2);
	memcpy(line, js, len);
	line[len] = '\n';
	line[len + 1] = '\0';

	int r = send_line(c, cmd, line, len + 1, pass_fd, &d, e);

	pthread_mutex_lock(&c->lock);
	if (r == 0)
		while (!p.reply && !c->dead)
			if (client_wait(c, &d) == ETIMEDOUT)
				break;
	for (struct qmp_pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == &p) {
			*pp = p.next;
			break;
		}
	}
	cleanup_json struct json_object *reply = p.reply;
	if (r == 0 && !reply) {
		if (c->dead)
			r = err_set(e, ECONNRESET, "qmp: %s: connection lost (%s)", cmd, c->why);
		else
			r = err_set(e, ETIMEDOUT, "qmp: %s: no reply within %d ms", cmd, timeout_ms);
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		return r;

	struct json_object *v;
	if (json_object_object_get_ex(reply, "return", &v)) {
		if (ret)
			*ret = v ? json_object_get(v) : NULL;
		return 0;
	}
	return reply_error(reply, err_class, e);
}

int qmp_execute_full(struct qmp_client *c, const char *cmd, struct json_object *args,
		     int timeout_ms, struct json_object **ret, const char **err_class,
		     struct err **e)
{
	return execute(c, cmd, args, -1, timeout_ms, ret, err_class, e);
}

int qmp_execute_fd(struct qmp_client *c, const char *cmd, struct json_object *args, int fd,
		   int timeout_ms, struct json_object **ret, struct err **e)
{
	if (fd < 0) {
		json_object_put(args);
		return err_set(e, EBADF, "qmp: %s: no file descriptor to pass", cmd);
	}
	return execute(c, cmd, args, fd, timeout_ms, ret, NULL, e);
}

int qmp_execute(struct qmp_client *c, const char *cmd, struct json_object *args,
		int timeout_ms, struct json_object **ret, struct err **e)
{
	return qmp_execute_full(c, cmd, args, timeout_ms, ret, NULL, e);
}

struct kv_match {
	const char *key, *value;
};

/* The matcher behind qmp_wait_event: data[key] (is the string value). */
static bool match_data_kv(struct json_object *ev, void *opaque)
{
	const struct kv_match *m = opaque;
	if (!m->key)
		return true;
	struct json_object *data, *v;
	if (!json_object_object_get_ex(ev, "data", &data) || !json_object_object_get_ex(data, m->key, &v))
		return false;
	if (!m->value)
		return true;
	return json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), m->value);
}

/* Unlink and return the first queued event matching; NULL if none. */
static struct json_object *event_take_locked(struct qmp_client *c, const char *name,
					     qmp_event_match_fn match, void *opaque)
{
	struct qmp_event *prev = NULL;
	for (struct qmp_event *q = c->ev_head; q; prev = q, q = q->next) {
		if ((name && strcmp(q->name, name) != 0) || (match && !match(q->ev, opaque)))
			continue;
		if (prev)
			prev->next = q->next;
		else
			c->ev_head = q->next;
		if (c->ev_tail == q)
			c->ev_tail = prev;
		c->ev_count--;
		struct json_object *ev = q->ev;
		free(q);
		return ev;
	}
	return NULL;
}

int qmp_wait_event_match(struct qmp_client *c, const char *name, qmp_event_match_fn match,
			 void *opaque, int timeout_ms, struct json_object **ev, struct err **e)
{
	if (ev)
		*ev = NULL;
	if (!name || !*name)
		return err_set(e, EINVAL, "qmp: empty event name");
	if (on_reader_thread(c))
		return err_set(e, EDEADLK, "qmp: cannot wait for %s from a QMP callback", name);

	struct qmp_deadline d;
	deadline_init(&d, timeout_ms);
	int r = 0;
	bool timed_out = false;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		/* Queued events outlive the connection: QEMU sends SHUTDOWN, then EOF. */
		struct json_object *got = event_take_locked(c, name, match, opaque);
		if (got) {
			if (ev)
				*ev = got;
			else
				json_object_put(got);
			break;
		}
		if (c->dead) {
			r = err_set(e, ECONNRESET, "qmp: waiting for %s: connection lost (%s)", name, c->why);
			break;
		}
		if (timed_out) {
			r = err_set(e, ETIMEDOUT, "qmp: no %s event within %d ms", name, timeout_ms);
			break;
		}
		timed_out = client_wait(c, &d) == ETIMEDOUT; /* scan once more */
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int qmp_wait_event(struct qmp_client *c, const char *name, const char *data_key,
		   const char *data_value, int timeout_ms, struct json_object **ev,
		   struct err **e)
{
	struct kv_match m = {data_key, data_value};
	return qmp_wait_event_match(c, name, match_data_kv, &m, timeout_ms, ev, e);
}

void qmp_drop_events(struct qmp_client *c, const char *name)
{
	pthread_mutex_lock(&c->lock);
	struct json_object *ev;
	while ((ev = event_take_locked(c, name, NULL, NULL)))
		json_object_put(ev);
	pthread_mutex_unlock(&c->lock);
}
