/*
 * qmp_client_reader — reading a QMP client's stream: the receive buffer
 * and the JSON tokener, held by whoever holds read_lock — the reader
 * thread, or a command's waiter reading its own reply (qmp_client_lead)
 * so that no other thread has to be woken to hand it over.  Lines are
 * split on newlines, replies go to their waiters by id, events are queued
 * in stream order for the reader thread, which alone runs their callbacks
 * (without holding any lock) and then queues them for the event waiters
 * (bounded, oldest dropped).
 */
#include "qmp/qmp_client_impl.h"

#include <json-c/json.h>
#include <stdint.h>
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

/* Under read_lock: an event read, for the reader thread's callbacks. */
static void unrun_add(struct qmp_client *c, struct json_object *ev)
{
	struct json_object *v;
	json_object_object_get_ex(ev, "event", &v);
	struct qmp_event *q = xcalloc(1, sizeof(*q));
	q->ev = ev;
	q->name = json_object_get_string(v);
	pthread_mutex_lock(&c->lock);
	if (c->unrun_tail)
		c->unrun_tail->next = q;
	else
		c->unrun_head = q;
	c->unrun_tail = q;
	pthread_cond_broadcast(&c->cond); /* the reader thread, waiting for a lead */
	pthread_mutex_unlock(&c->lock);
}

/* Reader thread: the callbacks of the events read so far, in order.
 * false when a callback shut the connection down (the rest are dropped). */
static bool run_unrun(struct qmp_client *c)
{
	for (;;) {
		pthread_mutex_lock(&c->lock);
		struct qmp_event *q = c->unrun_head;
		if (q && !(c->unrun_head = q->next))
			c->unrun_tail = NULL;
		bool dead = c->dead;
		pthread_mutex_unlock(&c->lock);
		if (!q)
			return true;
		handle_event(c, q->ev, q->name);
		free(q);
		if (!dead && client_dead(c)) { /* a callback shut us down */
			pthread_mutex_lock(&c->lock);
			for (struct qmp_event *n; (q = c->unrun_head); c->unrun_head = n) {
				n = q->next;
				json_object_put(q->ev);
				free(q);
			}
			c->unrun_tail = NULL;
			pthread_mutex_unlock(&c->lock);
			return false;
		}
	}
}

/* Under read_lock: handle every complete line in c->buf; `scan` is where
 * new data starts. */
static bool process_lines(struct qmp_client *c, size_t scan, char *why, size_t whysz)
{
	size_t start = 0;
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
		if (!handle_line(c, c->buf + start, n, &ev, why, whysz))
			return false;
		pthread_mutex_lock(&c->lock);
		c->stalled = false; /* QEMU speaks again */
		pthread_mutex_unlock(&c->lock);
		start = scan = end + 1;
		if (ev)
			unrun_add(c, ev);
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	/* What is left has no newline: QMP_LINE_MAX bytes plus a '\r' at most. */
	if (c->len > (size_t)QMP_LINE_MAX + 1) {
		snprintf(why, whysz, "line longer than %d bytes from QEMU", QMP_LINE_MAX);
		return false;
	}
	return true;
}

/* Under read_lock: what has come, without waiting, and its lines handled.
 * 1: some came; 0: nothing yet; -1: the stream is over (`why`). */
static int take_input(struct qmp_client *c, char *why, size_t whysz)
{
	size_t scan = c->len;
	for (;;) {
		if (c->cap - c->len < QMP_READ_CHUNK) {
			c->cap = c->cap ? c->cap * 2 : 2 * QMP_READ_CHUNK;
			c->buf = xrealloc(c->buf, c->cap);
		} else if (c->cap > 4 * QMP_READ_CHUNK && c->len < QMP_READ_CHUNK) {
			c->cap = 2 * QMP_READ_CHUNK; /* give back what a huge reply took */
			c->buf = xrealloc(c->buf, c->cap);
		}
		ssize_t n = recv(c->fd, c->buf + c->len, QMP_READ_CHUNK, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			if (n == 0)
				snprintf(why, whysz, "end of file from QEMU");
			else
				snprintf(why, whysz, "read: %s", strerror(errno));
			if (c->len > scan) /* what came before the end counts */
				process_lines(c, scan, why, whysz);
			return -1;
		}
		c->len += (size_t)n;
		if (c->len - scan > QMP_LINE_MAX) /* a whole line at most per turn */
			break;
	}
	if (c->len == scan)
		return 0;
	return process_lines(c, scan, why, whysz) ? 1 : -1;
}

/* read_lock taken by a leading caller, or given back (by anyone): those
 * waiting for either look again (lead_gen: a caller that failed to take it
 * does not sleep through its release). */
static void lead_begin(struct qmp_client *c)
{
	pthread_mutex_lock(&c->lock);
	c->leading = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void read_lock_give(struct qmp_client *c)
{
	pthread_mutex_unlock(&c->read_lock);
	pthread_mutex_lock(&c->lock);
	c->leading = false;
	c->lead_gen++;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* The reader thread is told (it may be past its poll of the stream, the
 * data gone by the time it looks). */
static void kick(struct qmp_client *c)
{
	uint64_t one = 1;
	if (write(c->kick, &one, sizeof(one)) < 0) { /* at its limit: kicked already */
	}
}

/* The stream ended under a leading caller (EOF, a protocol violation): the
 * reader thread ends the connection, after the callbacks of what came
 * before it, as when it meets the end itself. */
static void lead_ended(struct qmp_client *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	if (!c->ended) {
		c->ended = true;
		snprintf(c->end_why, sizeof(c->end_why), "%s", why);
	}
	pthread_mutex_unlock(&c->lock);
	kick(c);
}

/* Events a leading caller queued: their callbacks are the reader
 * thread's. */
static void kick_if_events(struct qmp_client *c)
{
	pthread_mutex_lock(&c->lock);
	bool events = c->unrun_head;
	pthread_mutex_unlock(&c->lock);
	if (events)
		kick(c);
}

int qmp_client_lead(struct qmp_client *c, struct qmp_pending *p, const struct qmp_deadline *d)
{
	if (pthread_mutex_trylock(&c->read_lock) != 0)
		return 0;
	lead_begin(c);
	char why[256] = "";
	int st = 0, res = 1;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		bool done = p->reply || c->dead, ended = c->ended;
		pthread_mutex_unlock(&c->lock);
		if (ended)
			res = 0; /* wait for the reader thread to end it */
		if (done || ended)
			break;
		int left = qmp_client_deadline_left_ms(d);
		if (left == 0) { /* even while lines keep coming */
			res = -1;
			break;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			continue; /* the deadline, seen above */
		if (pr < 0)
			snprintf(why, sizeof(why), "poll: %s", strerror(errno));
		if (pr < 0 || (st = take_input(c, why, sizeof(why))) < 0) {
			lead_ended(c, why);
			res = 0;
			break;
		}
		kick_if_events(c);
	}
	read_lock_give(c);
	return res;
}

/* Reader thread: wait while a caller leads (it reads), running the
 * callbacks of what it queues; then read.  1: read, 0: not now, -1: over. */
static int reader_turn(struct qmp_client *c, char *why, size_t whysz)
{
	pthread_mutex_lock(&c->lock);
	while (c->leading && !c->unrun_head && !c->ended)
		pthread_cond_wait(&c->cond, &c->lock);
	bool lead = c->leading, ended = c->ended;
	if (ended)
		snprintf(why, whysz, "%s", c->end_why);
	pthread_mutex_unlock(&c->lock);
	if (ended)
		return -1;
	if (lead || pthread_mutex_trylock(&c->read_lock) != 0)
		return 0;
	int st = take_input(c, why, whysz);
	read_lock_give(c);
	return st;
}

void *qmp_client_reader_main(void *arg)
{
	struct qmp_client *c = arg;
	char why[256] = "";

	for (;;) {
		/* The stream, or a leading waiter's kick: it queued events,
		 * and they are run here. */
		struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = c->kick, .events = POLLIN}};
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			snprintf(why, sizeof(why), "poll: %s", strerror(errno));
			break;
		}
		uint64_t kicks;
		if ((pfd[1].revents & POLLIN) && read(c->kick, &kicks, sizeof(kicks)) < 0) { /* raced */
		}
		int st = reader_turn(c, why, sizeof(why));
		if (!run_unrun(c)) {
			snprintf(why, sizeof(why), "connection shut down");
			break;
		}
		if (st < 0)
			break;
	}

	qmp_client_conn_drop(c, why); /* keeps an earlier reason, e.g. an explicit shutdown */
	run_unrun(c); /* what came before the end (a violation, EOF) */

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
