/*
 * qmp_client_reader — the reader thread of a QMP client: it owns the
 * receive buffer and the JSON tokener, splits the stream on newlines,
 * hands replies to their waiters by id, queues events apart (bounded,
 * oldest dropped) and runs the callbacks without holding any lock.
 */
#include "qmp/qmp_client_impl.h"

#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"

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

static void handle_greeting(struct qmp_client *c, struct json_object *qmp)
{
	struct json_object *ver, *qemu;
	int v[3] = {0, 0, 0};
	if (json_object_object_get_ex(qmp, "version", &ver) &&
	    json_object_object_get_ex(ver, "qemu", &qemu) &&
	    json_object_is_type(qemu, json_type_object)) {
		v[0] = util_json_int0(qemu, "major");
		v[1] = util_json_int0(qemu, "minor");
		v[2] = util_json_int0(qemu, "micro");
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

/* Handle one line (without its line ending); an event is handed back in
 * *ev (its callback is run by the caller).  Returns false, with *why set,
 * when the line is a protocol violation that drops the connection. */
static bool handle_line(struct qmp_client *c, const char *s, size_t n, struct json_object **ev,
			char *why, size_t whysz)
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
		*ev = o;
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

/* The events of one read, in order: their callbacks run once every reply
 * that came with them has woken its waiter (a callback may save the state
 * file; a `stop`'s reply should not wait for the STOP event's save). */
struct events {
	struct json_object *v[32];
	size_t n;
};

static bool run_events(struct qmp_client *c, struct events *evs, char *why, size_t whysz)
{
	bool ok = true;
	for (size_t i = 0; i < evs->n; i++) {
		struct json_object *v;
		json_object_object_get_ex(evs->v[i], "event", &v);
		if (ok)
			handle_event(c, evs->v[i], json_object_get_string(v));
		else
			json_object_put(evs->v[i]);
		/* A callback may have shut us down (or dropped the last ref). */
		if (ok && client_dead(c)) {
			snprintf(why, whysz, "connection shut down");
			ok = false;
		}
	}
	evs->n = 0;
	return ok;
}

/* Handle every complete line in c->buf; `scan` is where new data starts. */
static bool process_lines(struct qmp_client *c, size_t scan, char *why, size_t whysz)
{
	size_t start = 0;
	bool ok = true;
	struct events evs = {.n = 0};
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
		struct json_object *ev = NULL;
		if (!handle_line(c, c->buf + start, n, &ev, why, whysz)) {
			char ignored[64]; /* the violation is the reason */
			run_events(c, &evs, ignored, sizeof(ignored));
			return false;
		}
		pthread_mutex_lock(&c->lock);
		c->stalled = false; /* QEMU speaks again */
		pthread_mutex_unlock(&c->lock);
		start = scan = end + 1;
		if (ev)
			evs.v[evs.n++] = ev;
		if (evs.n == ARRAY_SIZE(evs.v) && !(ok = run_events(c, &evs, why, whysz)))
			break;
	}
	if (ok)
		ok = run_events(c, &evs, why, whysz);
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	/* What is left has no newline: QMP_LINE_MAX bytes plus a '\r' at most. */
	if (ok && c->len > (size_t)QMP_LINE_MAX + 1) {
		snprintf(why, whysz, "line longer than %d bytes from QEMU", QMP_LINE_MAX);
		return false;
	}
	return ok;
}

/* QEMU sends a command's events before its reply (`stop`: STOP, then the
 * return), each line its own write: when a command waits, what has come
 * already is taken too, so that its reply wakes the waiter before the
 * events' callbacks run (process_lines), not after. */
static void read_more(struct qmp_client *c)
{
	pthread_mutex_lock(&c->lock);
	bool waited = c->pending;
	pthread_mutex_unlock(&c->lock);
	while (waited && c->cap - c->len >= QMP_READ_CHUNK / 2) {
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n <= 0) /* nothing yet, not a socket, or the end (read sees it) */
			return;
		c->len += (size_t)n;
	}
}

void *qmp_client_reader_main(void *arg)
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
		read_more(c);
		if (!process_lines(c, scan, why, sizeof(why)))
			break;
	}

	qmp_client_conn_drop(c, why); /* keeps an earlier reason, e.g. an explicit shutdown */

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
		qmp_client_free(c);
	return NULL;
}

