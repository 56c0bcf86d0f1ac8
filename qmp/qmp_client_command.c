/*
 * qmp_client_command — commands and events of a QMP client: numeric ids,
 * one writer at a time with non-blocking sends (and SCM_RIGHTS for an fd),
 * replies decided on error.class, waits for events by name and data.
 */
#include "qmp/qmp_client_impl.h"

#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "lib/probe.h"
#include "lib/util.h"

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
		if (qmp_client_wait(c, d) == ETIMEDOUT)
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
			int pr = poll(&pfd, 1, qmp_client_deadline_left_ms(d));
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
		qmp_client_conn_drop(c, why);
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

/* Under c->lock: until `p` has its reply, the connection dies or the
 * deadline passes.  The reply is read here when no other thread reads
 * (qmp_client_lead), else the one that does hands it over. */
static void await_reply(struct qmp_client *c, struct qmp_pending *p, const struct qmp_deadline *d)
{
	while (!p->reply && !c->dead) {
		uint64_t gen = c->lead_gen;
		pthread_mutex_unlock(&c->lock);
		int led = qmp_client_lead(c, p, d);
		pthread_mutex_lock(&c->lock);
		if (led < 0)
			return;
		/* Another thread reads (or the stream ended): wait for it, unless
		 * it has let go meanwhile. */
		if (led == 0 && !p->reply && !c->dead && (c->lead_gen == gen || c->ended) &&
		    qmp_client_wait(c, d) == ETIMEDOUT)
			return;
	}
}

static int execute(struct qmp_client *c, const char *cmd, struct json_object *args, int pass_fd,
		   int timeout_ms, struct json_object **ret, const char **err_class,
		   struct json_object **raw, struct err **e)
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
	if (qmp_client_on_reader_thread(c))
		return err_set(e, EDEADLK, "qmp: %s: cannot execute from a QMP callback", cmd);

	struct qmp_deadline d;
	qmp_client_deadline_init(&d, timeout_ms);

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
		await_reply(c, &p, &d);
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
		if (!c->dead && !c->stalled) {
			c->stalled = true;
			clock_gettime(CLOCK_MONOTONIC, &c->stalled_since);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		return r;
	if (raw) { /* the whole reply, QEMU's verdict included */
		json_object_object_del(reply, "id");
		*raw = move_ptr(reply);
		return 0;
	}

	struct json_object *v;
	if (json_object_object_get_ex(reply, "return", &v)) {
		if (ret)
			*ret = v ? json_object_get(v) : NULL;
		return 0;
	}
	return reply_error(reply, err_class, e);
}

/* Each round trip goes into the bench's breakdown (lib/probe.h). */
static int execute_probed(struct qmp_client *c, const char *cmd, struct json_object *args,
			  int pass_fd, int timeout_ms, struct json_object **ret,
			  const char **err_class, struct err **e)
{
	int64_t t0 = probe_now();
	int r = execute(c, cmd, args, pass_fd, timeout_ms, ret, err_class, NULL, e);
	probe_add("qmp", cmd, t0);
	return r;
}

int qmp_execute_full(struct qmp_client *c, const char *cmd, struct json_object *args,
		     int timeout_ms, struct json_object **ret, const char **err_class,
		     struct err **e)
{
	return execute_probed(c, cmd, args, -1, timeout_ms, ret, err_class, e);
}

int qmp_execute_raw(struct qmp_client *c, const char *cmd, struct json_object *args,
		    int timeout_ms, struct json_object **reply, struct err **e)
{
	return execute(c, cmd, args, -1, timeout_ms, NULL, NULL, reply, e);
}

int qmp_execute_fd(struct qmp_client *c, const char *cmd, struct json_object *args, int fd,
		   int timeout_ms, struct json_object **ret, struct err **e)
{
	if (fd < 0) {
		json_object_put(args);
		return err_set(e, EBADF, "qmp: %s: no file descriptor to pass", cmd);
	}
	return execute_probed(c, cmd, args, fd, timeout_ms, ret, NULL, e);
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
	if (qmp_client_on_reader_thread(c))
		return err_set(e, EDEADLK, "qmp: cannot wait for %s from a QMP callback", name);

	struct qmp_deadline d;
	qmp_client_deadline_init(&d, timeout_ms);
	int r = 0;
	bool timed_out = false;
	int64_t t0 = probe_now();
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
		timed_out = qmp_client_wait(c, &d) == ETIMEDOUT; /* scan once more */
	}
	pthread_mutex_unlock(&c->lock);
	probe_add("wait", name, t0); /* the guest's part: an unplug, ... */
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


int qmp_client_stalled_ms(struct qmp_client *c)
{
	pthread_mutex_lock(&c->lock);
	int ms = 0;
	if (c->stalled && !c->dead) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t d = (now.tv_sec - c->stalled_since.tv_sec) * 1000 +
			    (now.tv_nsec - c->stalled_since.tv_nsec) / 1000000;
		ms = d > 0 ? (int)d : 1;
	}
	pthread_mutex_unlock(&c->lock);
	return ms;
}
