/*
 * test_qmp — unit tests of qmp/qmp_client against a scripted fake QMP server
 * on a socketpair (greeting, negotiation, id matching, events, error
 * classes, timeouts, garbage, oversize lines, disconnects, shutdown,
 * ref counting from callbacks), and one test against a real
 * qemu-system-x86_64 (skipped with a message when it is not installed).
 *
 * The fake server runs in its own thread; CUnit is not thread safe, so the
 * server counts its failed checks in `fails` and the test asserts on that
 * count after joining it.
 */
#include "qmp/qmp_client.h"

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"

#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

/* ---- fake QMP server ---- */

struct fake {
	int fd;  /* server end */
	int cfd; /* client end, handed to qmp_client_open */
	pthread_t th;
	void (*script)(struct fake *);
	void *arg;
	sem_t go; /* test → server synchronisation where needed */
	char *buf;
	size_t len, cap;
	atomic_int fails;
	atomic_llong info; /* a value the script tells the test */
};

#define FK_CHECK(f, cond)                                                            \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "\nfake server %s:%d: check failed: %s\n",   \
				__FILE__, __LINE__, #cond);                          \
			atomic_fetch_add(&(f)->fails, 1);                            \
		}                                                                    \
	} while (0)

static int fk_send_n(struct fake *f, const char *s, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = send(f->fd, s + off, n - off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	return 0;
}

static int fk_send(struct fake *f, const char *s) { return fk_send_n(f, s, strlen(s)); }

static int fk_sendf(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fk_sendf(struct fake *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *s = xvasprintf(fmt, ap);
	va_end(ap);
	return fk_send(f, s);
}

/* The next line from the client as a JSON object; NULL on EOF or timeout. */
static struct json_object *fk_read(struct fake *f, int timeout_ms)
{
	for (;;) {
		char *nl = f->len ? memchr(f->buf, '\n', f->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - f->buf);
			cleanup_free char *line = xstrndup(f->buf, n);
			memmove(f->buf, nl + 1, f->len - n - 1);
			f->len -= n + 1;
			struct json_object *o = json_tokener_parse(line);
			FK_CHECK(f, o && json_object_is_type(o, json_type_object));
			return o;
		}
		struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, timeout_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return NULL;
		if (f->cap - f->len < 65536) {
			f->cap = f->cap ? f->cap * 2 : 131072;
			f->buf = xrealloc(f->buf, f->cap);
		}
		ssize_t r = read(f->fd, f->buf + f->len, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		f->len += (size_t)r;
	}
}

static const char *fk_cmd(struct json_object *o)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, "execute", &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

static long long fk_id(struct json_object *o)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, "id", &v) && json_object_is_type(v, json_type_int))
		return (long long)json_object_get_int64(v);
	return -1;
}

static struct json_object *fk_arg(struct json_object *o, const char *key)
{
	struct json_object *a, *v;
	if (o && json_object_object_get_ex(o, "arguments", &a) && json_object_object_get_ex(a, key, &v))
		return v;
	return NULL;
}

static void fk_reply(struct fake *f, long long id, const char *ret)
{
	fk_sendf(f, "{\"return\": %s, \"id\": %lld}\r\n", ret, id);
}

static const char GREETING[] =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 2, \"major\": 8}, "
	"\"package\": \"fake\"}, \"capabilities\": [\"oob\"]}, \"x-unknown\": true}\r\n";

static bool fk_handshake(struct fake *f)
{
	fk_send(f, GREETING);
	cleanup_json struct json_object *o = fk_read(f, 5000);
	FK_CHECK(f, o != NULL);
	if (!o)
		return false;
	FK_CHECK(f, !strcmp(fk_cmd(o), "qmp_capabilities"));
	FK_CHECK(f, fk_id(o) >= 0);
	FK_CHECK(f, !json_object_object_get_ex(o, "arguments", NULL));
	fk_reply(f, fk_id(o), "{}");
	return true;
}

/* Read and discard until the client closes (or timeout). */
static void fk_wait_eof(struct fake *f, int timeout_ms)
{
	int64_t end = util_now_ms() + timeout_ms;
	for (;;) {
		int left = (int)(end - util_now_ms());
		if (left <= 0)
			return;
		struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
		if (poll(&pfd, 1, left) <= 0)
			return;
		char b[4096];
		ssize_t r = read(f->fd, b, sizeof(b));
		if (r == 0 || (r < 0 && errno != EINTR))
			return;
	}
}

static void fk_close(struct fake *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void *fk_main(void *arg)
{
	struct fake *f = arg;
	f->script(f);
	fk_close(f);
	return NULL;
}

static void fk_start(struct fake *f, void (*script)(struct fake *), void *arg)
{
	memset(f, 0, sizeof(*f));
	int sv[2];
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[0];
	f->cfd = sv[1];
	f->script = script;
	f->arg = arg;
	atomic_init(&f->fails, 0);
	atomic_init(&f->info, -1);
	sem_init(&f->go, 0, 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&f->th, NULL, fk_main, f), 0);
}

static void fk_finish(struct fake *f)
{
	pthread_join(f->th, NULL);
	if (f->cfd >= 0)
		close(f->cfd);
	free(f->buf);
	sem_destroy(&f->go);
	CU_ASSERT_EQUAL(atomic_load(&f->fails), 0);
}

/* ---- callback recorder ---- */

struct rec {
	pthread_mutex_t m;
	int nclosed;
	char why[256];
	int nev;
	char names[16][32];
	char devices[16][32];
	struct qmp_client *exec_from_cb; /* try qmp_execute inside the callback */
	int exec_rc;
	struct qmp_client *unref_in_event; /* last ref, dropped in the callback */
	struct qmp_client *unref_in_closed;
	atomic_int done;
	pthread_t caller;   /* a thread executing commands (has_caller) */
	bool has_caller;
	int nev_on_caller;  /* callbacks run on it: never (only the reader runs them) */
};

static void rec_fini(struct rec *r) { pthread_mutex_destroy(&r->m); }
#define cleanup_rec __attribute__((cleanup(rec_fini)))

static void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->m, NULL);
	atomic_init(&r->done, 0);
}

static void rec_event(void *opaque, const char *name, struct json_object *ev)
{
	struct rec *r = opaque;
	pthread_mutex_lock(&r->m);
	if (r->nev < 16) {
		snprintf(r->names[r->nev], sizeof(r->names[0]), "%s", name);
		struct json_object *data, *dev;
		if (json_object_object_get_ex(ev, "data", &data) &&
		    json_object_object_get_ex(data, "device", &dev))
			snprintf(r->devices[r->nev], sizeof(r->devices[0]), "%s", json_object_get_string(dev));
	}
	r->nev++;
	if (r->has_caller && pthread_equal(r->caller, pthread_self()))
		r->nev_on_caller++;
	struct qmp_client *ex = r->exec_from_cb, *un = r->unref_in_event;
	r->exec_from_cb = NULL;
	r->unref_in_event = NULL;
	pthread_mutex_unlock(&r->m);
	if (ex) {
		cleanup_err struct err *e = NULL;
		int rc = qmp_execute(ex, "never-sent", NULL, 1000, NULL, &e);
		pthread_mutex_lock(&r->m);
		r->exec_rc = rc;
		pthread_mutex_unlock(&r->m);
	}
	if (un) {
		qmp_client_unref(un);
		atomic_store(&r->done, 1);
	}
}

static void rec_closed(void *opaque, const char *why)
{
	struct rec *r = opaque;
	pthread_mutex_lock(&r->m);
	r->nclosed++;
	snprintf(r->why, sizeof(r->why), "%s", why ? why : "(null)");
	struct qmp_client *un = r->unref_in_closed;
	r->unref_in_closed = NULL;
	pthread_mutex_unlock(&r->m);
	if (un) {
		qmp_client_unref(un);
		atomic_store(&r->done, 1);
	}
}

static int rec_nclosed(struct rec *r)
{
	pthread_mutex_lock(&r->m);
	int n = r->nclosed;
	pthread_mutex_unlock(&r->m);
	return n;
}

static struct qmp_client *open_fake(struct fake *f, struct rec *r)
{
	struct qmp_callbacks cb = {.event = rec_event, .closed = rec_closed, .opaque = r};
	struct qmp_client *c = NULL;
	cleanup_err struct err *e = NULL;
	int rc = qmp_client_open(f->cfd, r ? &cb : NULL, 3000, &c, &e);
	f->cfd = -1;
	CU_ASSERT_EQUAL(rc, 0);
	if (rc < 0)
		fprintf(stderr, "\nqmp_client_open: %s\n", e ? e->msg : "?");
	CU_ASSERT_PTR_NOT_NULL(c);
	return c;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

static long long jint(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
		return (long long)json_object_get_int64(v);
	return -999;
}

static bool wait_flag(atomic_int *flag, int timeout_ms)
{
	int64_t end = util_now_ms() + timeout_ms;
	while (!atomic_load(flag)) {
		if (util_now_ms() > end)
			return false;
		usleep(2000);
	}
	return true;
}

/* ---- tests ---- */

static void script_handshake_only(struct fake *f)
{
	if (fk_handshake(f))
		fk_wait_eof(f, 5000);
}

static void test_handshake(void)
{
	struct fake f;
	cleanup_rec struct rec r;
	rec_init(&r);
	fk_start(&f, script_handshake_only, NULL);
	struct qmp_client *c = open_fake(&f, &r);
	if (c) {
		int ma = -1, mi = -1, mc = -1;
		qmp_client_version(c, &ma, &mi, &mc);
		CU_ASSERT_EQUAL(ma, 8);
		CU_ASSERT_EQUAL(mi, 2);
		CU_ASSERT_EQUAL(mc, 1);
		CU_ASSERT_TRUE(qmp_client_alive(c));
		CU_ASSERT_PTR_EQUAL(qmp_client_ref(c), c);
		qmp_client_unref(c); /* not the last: still alive */
		CU_ASSERT_TRUE(qmp_client_alive(c));
		qmp_client_unref(c);
	}
	fk_finish(&f);
	/* The last unref is not a loss of connection to report. */
	CU_ASSERT_EQUAL(rec_nclosed(&r), 0);
}

static void script_execute(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(o), "query-status"));
	struct json_object *verbose = fk_arg(o, "verbose");
	FK_CHECK(f, verbose && json_object_get_boolean(verbose));
	struct json_object *path = fk_arg(o, "path");
	FK_CHECK(f, path && !strcmp(json_object_get_string(path), "/a/b\"c"));
	FK_CHECK(f, fk_id(o) > 0);
	/* Noise the client must ignore: blank lines, unknown objects. */
	fk_send(f, "\r\n   \n{\"x-unknown\": 1}\r\n");
	fk_sendf(f, "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %lld, "
		    "\"x-extra\": [1, 2]}\r\n", fk_id(o));

	cleanup_json struct json_object *o2 = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(o2), "query-null"));
	FK_CHECK(f, fk_id(o2) != fk_id(o));
	FK_CHECK(f, !json_object_object_get_ex(o2, "arguments", NULL));
	/* id first, no \r */
	fk_sendf(f, "{\"id\": %lld, \"return\": {}}\n", fk_id(o2));

	/* A command far bigger than the socket buffer: partial writes. */
	cleanup_json struct json_object *o3 = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(o3), "big"));
	const char *data = json_object_get_string(fk_arg(o3, "data"));
	long long n = data ? (long long)strlen(data) : -1;
	fk_sendf(f, "{\"return\": {\"len\": %lld, \"last\": \"%c\"}, \"id\": %lld}\r\n", n,
		 n > 0 ? data[n - 1] : '?', fk_id(o3));
	fk_wait_eof(f, 5000);
}

static void test_execute(void)
{
	struct fake f;
	fk_start(&f, script_execute, NULL);
	struct qmp_client *c = open_fake(&f, NULL);
	if (c) {
		cleanup_err struct err *e = NULL;
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "verbose", json_object_new_boolean(1));
		json_object_object_add(args, "path", json_object_new_string("/a/b\"c"));
		cleanup_json struct json_object *ret = NULL;
		CU_ASSERT_EQUAL(qmp_execute(c, "query-status", args, 2000, &ret, &e), 0);
		CU_ASSERT_STRING_EQUAL(jstr(ret, "status"), "running");
		struct json_object *running;
		CU_ASSERT_TRUE(json_object_object_get_ex(ret, "running", &running) &&
			       json_object_get_boolean(running));

		CU_ASSERT_EQUAL(qmp_execute(c, "query-null", NULL, 2000, NULL, &e), 0);
		CU_ASSERT_PTR_NULL(e);

		size_t big = 3 * 1024 * 1024;
		char *s = xmalloc(big + 1);
		memset(s, 'a', big);
		s[big - 1] = 'z';
		s[big] = '\0';
		args = json_object_new_object();
		json_object_object_add(args, "data", json_object_new_string(s));
		free(s);
		cleanup_json struct json_object *ret3 = NULL;
		CU_ASSERT_EQUAL(qmp_execute(c, "big", args, 5000, &ret3, &e), 0);
		CU_ASSERT_EQUAL(jint(ret3, "len"), (long long)big);
		CU_ASSERT_STRING_EQUAL(jstr(ret3, "last"), "z");

		/* Bad arguments: not an object (reference still consumed). */
		CU_ASSERT_EQUAL(qmp_execute(c, "x", json_object_new_int(3), 100, NULL, &e), -EINVAL);
		CU_ASSERT_EQUAL(qmp_execute(c, "", NULL, 100, NULL, &e), -EINVAL);
		qmp_client_unref(c);
	}
	fk_finish(&f);
}

/* Replies in the reverse order of the commands. */
static void script_out_of_order(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *a = fk_read(f, 5000);
	cleanup_json struct json_object *b = fk_read(f, 5000);
	FK_CHECK(f, a && b && fk_id(a) != fk_id(b));
	fk_sendf(f, "{\"return\": {\"who\": \"%s\"}, \"id\": %lld}\r\n", fk_cmd(b), fk_id(b));
	fk_sendf(f, "{\"return\": {\"who\": \"%s\"}, \"id\": %lld}\r\n", fk_cmd(a), fk_id(a));
	fk_wait_eof(f, 5000);
}

struct exec_job {
	struct qmp_client *c;
	const char *cmd;
	struct json_object *args;
	int timeout_ms;
	int rc;
	int code;
	int64_t elapsed_ms;
	char who[64];
	pthread_t th;
};

static void *exec_thread(void *arg)
{
	struct exec_job *j = arg;
	cleanup_err struct err *e = NULL;
	cleanup_json struct json_object *ret = NULL;
	int64_t t0 = util_now_ms();
	j->rc = qmp_execute(j->c, j->cmd, j->args, j->timeout_ms, &ret, &e);
	j->elapsed_ms = util_now_ms() - t0;
	j->code = err_code(e);
	snprintf(j->who, sizeof(j->who), "%s", jstr(ret, "who"));
	return NULL;
}

static void test_out_of_order(void)
{
	struct fake f;
	fk_start(&f, script_out_of_order, NULL);
	struct qmp_client *c = open_fake(&f, NULL);
	if (c) {
		struct exec_job ja = {.c = c, .cmd = "cmd-a", .timeout_ms = 3000};
		struct exec_job jb = {.c = c, .cmd = "cmd-b", .timeout_ms = 3000};
		pthread_create(&ja.th, NULL, exec_thread, &ja);
		pthread_create(&jb.th, NULL, exec_thread, &jb);
		pthread_join(ja.th, NULL);
		pthread_join(jb.th, NULL);
		CU_ASSERT_EQUAL(ja.rc, 0);
		CU_ASSERT_EQUAL(jb.rc, 0);
		CU_ASSERT_STRING_EQUAL(ja.who, "cmd-a");
		CU_ASSERT_STRING_EQUAL(jb.who, "cmd-b");
		qmp_client_unref(c);
	}
	fk_finish(&f);
}

static void script_events(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(o), "step1"));
	fk_send(f, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"FOO\", "
		   "\"data\": {\"n\": 7}}\r\n");
	fk_send(f, "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"d2\", \"path\": "
		   "\"/machine/peripheral/d2\"}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 3}}\r\n");
	fk_reply(f, fk_id(o), "{\"ok\": 1}");
	usleep(100 * 1000);
	fk_send(f, "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"d1\"}, "
		   "\"timestamp\": {\"seconds\": 1, \"microseconds\": 4}}\r\n");
	fk_wait_eof(f, 5000);
}

static void test_events(void)
{
	struct fake f;
	cleanup_rec struct rec r;
	rec_init(&r);
	fk_start(&f, script_events, NULL);
	struct qmp_client *c = open_fake(&f, &r);
	if (c) {
		pthread_mutex_lock(&r.m);
		r.exec_from_cb = c; /* the first callback tries to execute: EDEADLK */
		r.caller = pthread_self();
		r.has_caller = true;
		pthread_mutex_unlock(&r.m);
		cleanup_err struct err *e = NULL;
		cleanup_json struct json_object *ret = NULL;
		/* The caller reads its own reply, and meets FOO and d2 on the way:
		 * their callbacks still run on the reader thread, never here. */
		CU_ASSERT_EQUAL(qmp_execute(c, "step1", NULL, 2000, &ret, &e), 0);
		CU_ASSERT_EQUAL(jint(ret, "ok"), 1);

		/* d1 comes ~100 ms after the reply; d2 (queued) must be skipped. */
		cleanup_json struct json_object *ev = NULL;
		int64_t t0 = util_now_ms();
		CU_ASSERT_EQUAL(qmp_wait_event(c, "DEVICE_DELETED", "device", "d1", 2000, &ev, &e), 0);
		int64_t dt = util_now_ms() - t0;
		CU_ASSERT_TRUE(dt < 1500);
		struct json_object *data = NULL;
		json_object_object_get_ex(ev, "data", &data);
		CU_ASSERT_STRING_EQUAL(jstr(data, "device"), "d1");
		CU_ASSERT_STRING_EQUAL(jstr(ev, "event"), "DEVICE_DELETED");

		/* d2 stayed queued. */
		cleanup_json struct json_object *ev2 = NULL;
		CU_ASSERT_EQUAL(qmp_wait_event(c, "DEVICE_DELETED", "device", "d2", 0, &ev2, &e), 0);
		data = NULL;
		json_object_object_get_ex(ev2, "data", &data);
		CU_ASSERT_STRING_EQUAL(jstr(data, "device"), "d2");
		/* ...and was consumed. */
		CU_ASSERT_EQUAL(qmp_wait_event(c, "DEVICE_DELETED", NULL, NULL, 0, NULL, &e), -ETIMEDOUT);

		/* Any FOO; a data key with no value just has to be present. */
		CU_ASSERT_EQUAL(qmp_wait_event(c, "FOO", "absent", NULL, 0, NULL, &e), -ETIMEDOUT);
		cleanup_json struct json_object *foo = NULL;
		CU_ASSERT_EQUAL(qmp_wait_event(c, "FOO", "n", NULL, 0, &foo, &e), 0);
		json_object_object_get_ex(foo, "data", &data);
		CU_ASSERT_EQUAL(jint(data, "n"), 7);
		t0 = util_now_ms();
		CU_ASSERT_EQUAL(qmp_wait_event(c, "FOO", NULL, NULL, 100, NULL, &e), -ETIMEDOUT);
		CU_ASSERT_EQUAL(err_code(e), ETIMEDOUT);
		dt = util_now_ms() - t0;
		CU_ASSERT_TRUE(dt >= 95 && dt < 1500);

		pthread_mutex_lock(&r.m);
		CU_ASSERT_EQUAL(r.nev, 3);
		CU_ASSERT_STRING_EQUAL(r.names[0], "FOO");
		CU_ASSERT_STRING_EQUAL(r.names[1], "DEVICE_DELETED");
		CU_ASSERT_STRING_EQUAL(r.devices[1], "d2");
		CU_ASSERT_STRING_EQUAL(r.names[2], "DEVICE_DELETED");
		CU_ASSERT_STRING_EQUAL(r.devices[2], "d1");
		CU_ASSERT_EQUAL(r.exec_rc, -EDEADLK);
		CU_ASSERT_EQUAL(r.nev_on_caller, 0);
		pthread_mutex_unlock(&r.m);
		qmp_client_unref(c);
	}
	fk_finish(&f);
}

static void script_event_queue(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	struct sbuf b = {0};
	sbuf_add(&b, "{\"event\": \"X\", \"data\": {\"i\": 0}}\r\n");
	for (int i = 0; i < 300; i++)
		sbuf_printf(&b, "{\"event\": \"TICK\", \"data\": {\"n\": %d}}\r\n", i);
	sbuf_add(&b, "{\"event\": \"Y\"}\r\n{\"event\": \"X\", \"data\": {\"i\": 1}}\r\n");
	fk_send(f, b.s);
	sbuf_release(&b);
	fk_reply(f, fk_id(o), "{}");
	fk_wait_eof(f, 5000);
}

static bool match_i1(struct json_object *ev, void *opaque)
{
	(void)opaque;
	struct json_object *data = NULL;
	json_object_object_get_ex(ev, "data", &data);
	return data && jint(data, "i") == 1;
}

static void test_event_queue(void)
{
	struct fake f;
	cleanup_rec struct rec r;
	rec_init(&r);
	fk_start(&f, script_event_queue, NULL);
	struct qmp_client *c = open_fake(&f, &r);
	if (c) {
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL(qmp_execute(c, "sync", NULL, 3000, NULL, &e), 0);
		/* Events that came in the reply's read are queued after it woke
		 * its waiter: wait for the last one (X1), then all are queued. */
		cleanup_json struct json_object *x = NULL, *t = NULL;
		struct json_object *data = NULL;
		CU_ASSERT_EQUAL(qmp_wait_event_match(c, "X", match_i1, NULL, 3000, &x, &e), 0);
		json_object_object_get_ex(x, "data", &data);
		CU_ASSERT_EQUAL(jint(data, "i"), 1);
		/* 303 events, 256 kept: X0 and TICK 0..45 were dropped. */
		CU_ASSERT_EQUAL(qmp_wait_event(c, "X", NULL, NULL, 0, NULL, &e), -ETIMEDOUT);
		CU_ASSERT_EQUAL(qmp_wait_event(c, "TICK", NULL, NULL, 0, &t, &e), 0);
		data = NULL;
		json_object_object_get_ex(t, "data", &data);
		CU_ASSERT_EQUAL(jint(data, "n"), 300 + 3 - QMP_EVENT_QUEUE_MAX - 1);
		qmp_drop_events(c, "TICK");
		CU_ASSERT_EQUAL(qmp_wait_event(c, "TICK", NULL, NULL, 0, NULL, &e), -ETIMEDOUT);
		CU_ASSERT_EQUAL(qmp_wait_event(c, "Y", NULL, NULL, 0, NULL, &e), 0);
		qmp_drop_events(c, NULL);
		pthread_mutex_lock(&r.m);
		CU_ASSERT_EQUAL(r.nev, 303); /* the callback saw every one */
		pthread_mutex_unlock(&r.m);
		qmp_client_unref(c);
	}
	fk_finish(&f);
}

static void script_errors(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	for (;;) {
		cleanup_json struct json_object *o = fk_read(f, 5000);
		if (!o)
			break;
		const char *cmd = fk_cmd(o);
		if (!strcmp(cmd, "stray")) {
			/* QEMU answers an unparsable command without an id. */
			fk_send(f, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n");
			fk_reply(f, fk_id(o), "{\"fine\": true}");
		} else if (!strcmp(cmd, "nodesc")) {
			fk_sendf(f, "{\"error\": {\"class\": \"DeviceNotFound\"}, \"id\": %lld}\r\n", fk_id(o));
		} else if (!strncmp(cmd, "fail-", 5)) {
			fk_sendf(f, "{\"id\": %lld, \"error\": {\"class\": \"%s\", \"desc\": \"it failed: %s\", "
				    "\"x-more\": 1}}\r\n", fk_id(o), cmd + 5, cmd + 5);
		} else {
			fk_reply(f, fk_id(o), "{}");
		}
	}
}

static void test_error_classes(void)
{
	static const struct {
		const char *cls;
		int code;
		const char *static_cls;
	} cases[] = {
		{"CommandNotFound", ENOSYS, "CommandNotFound"},
		{"DeviceNotFound", ENODEV, "DeviceNotFound"},
		{"DeviceNotActive", ENODEV, "DeviceNotActive"},
		{"KVMMissingCap", ENOTSUP, "KVMMissingCap"},
		{"GenericError", EIO, "GenericError"},
		{"SomeFutureClass", EIO, "GenericError"},
	};
	struct fake f;
	fk_start(&f, script_errors, NULL);
	struct qmp_client *c = open_fake(&f, NULL);
	if (c) {
		for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
			cleanup_err struct err *e = NULL;
			cleanup_free char *cmd = xasprintf("fail-%s", cases[i].cls);
			cleanup_free char *msg = xasprintf("it failed: %s (%s)", cases[i].cls, cases[i].cls);
			struct json_object *ret = (struct json_object *)&f; /* must be reset */
			const char *cls = NULL;
			int rc = qmp_execute_full(c, cmd, NULL, 2000, &ret, &cls, &e);
			CU_ASSERT_EQUAL(rc, -cases[i].code);
			CU_ASSERT_EQUAL(err_code(e), cases[i].code);
			CU_ASSERT_STRING_EQUAL(e ? e->msg : "", msg);
			CU_ASSERT_STRING_EQUAL(cls ? cls : "(null)", cases[i].static_cls);
			CU_ASSERT_PTR_NULL(ret);
		}
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL(qmp_execute(c, "nodesc", NULL, 2000, NULL, &e), -ENODEV);
		CU_ASSERT_STRING_EQUAL(e ? e->msg : "", "unknown error (DeviceNotFound)");
		err_free(&e);
		cleanup_json struct json_object *ret = NULL;
		const char *cls = NULL;
		CU_ASSERT_EQUAL(qmp_execute_full(c, "stray", NULL, 2000, &ret, &cls, &e), 0);
		CU_ASSERT_STRING_EQUAL(cls ? cls : "(null)", "");
		struct json_object *fine;
		CU_ASSERT_TRUE(json_object_object_get_ex(ret, "fine", &fine) && json_object_get_boolean(fine));
		/* e == NULL works too. */
		CU_ASSERT_EQUAL(qmp_execute(c, "fail-KVMMissingCap", NULL, 2000, NULL, NULL), -ENOTSUP);
		qmp_client_unref(c);
	}
	fk_finish(&f);
}

static void script_timeout(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *slow = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(slow), "slow"));
	cleanup_json struct json_object *next = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(next), "next"));
	/* The late reply first: it must be discarded, not given to "next". */
	fk_sendf(f, "{\"return\": {\"who\": \"slow\"}, \"id\": %lld}\r\n", fk_id(slow));
	fk_sendf(f, "{\"return\": {\"who\": \"next\"}, \"id\": %lld}\r\n", fk_id(next));
	cleanup_json struct json_object *third = fk_read(f, 5000);
	fk_sendf(f, "{\"return\": {\"who\": \"%s\"}, \"id\": %lld}\r\n", fk_cmd(third), fk_id(third));
	fk_wait_eof(f, 5000);
}

static void test_timeout(void)
{
	struct fake f;
	fk_start(&f, script_timeout, NULL);
	struct qmp_client *c = open_fake(&f, NULL);
	if (c) {
		struct exec_job j = {.c = c, .cmd = "slow", .timeout_ms = 200};
		exec_thread(&j);
		CU_ASSERT_EQUAL(j.rc, -ETIMEDOUT);
		CU_ASSERT_EQUAL(j.code, ETIMEDOUT);
		CU_ASSERT_TRUE(j.elapsed_ms >= 195 && j.elapsed_ms < 1500);
		CU_ASSERT_STRING_EQUAL(j.who, "");

		struct exec_job n = {.c = c, .cmd = "next", .timeout_ms = 3000};
		exec_thread(&n);
		CU_ASSERT_EQUAL(n.rc, 0);
		CU_ASSERT_STRING_EQUAL(n.who, "next");
		struct exec_job t = {.c = c, .cmd = "third", .timeout_ms = 3000};
		exec_thread(&t);
		CU_ASSERT_EQUAL(t.rc, 0);
		CU_ASSERT_STRING_EQUAL(t.who, "third");
		CU_ASSERT_TRUE(qmp_client_alive(c));
		qmp_client_unref(c);
	}
	fk_finish(&f);
}

/* arg: the bad line to send (without newline) */
static void script_garbage(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	fk_sendf(f, "%s\n", (const char *)f->arg);
	/* A valid reply after the garbage must never be seen. */
	fk_reply(f, fk_id(o), "{\"who\": \"too-late\"}");
	fk_wait_eof(f, 5000);
}

static void test_garbage(void)
{
	static const char *const bad[] = {
		"this is not json",
		"[1, 2, 3]",
		"\"a string\"",
		"42",
		"{\"return\": {}} trailing",
		"{\"unterminated\": ",
		"{\"a\": 1}{\"b\": 2}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct fake f;
		cleanup_rec struct rec r;
		rec_init(&r);
		fk_start(&f, script_garbage, (void *)bad[i]);
		struct qmp_client *c = open_fake(&f, &r);
		if (!c) {
			fk_finish(&f);
			continue;
		}
		struct exec_job j = {.c = c, .cmd = "cmd", .timeout_ms = 3000};
		exec_thread(&j);
		CU_ASSERT_EQUAL(j.rc, -ECONNRESET);
		CU_ASSERT_EQUAL(j.code, ECONNRESET);
		CU_ASSERT_TRUE(j.elapsed_ms < 1500);
		CU_ASSERT_STRING_EQUAL(j.who, "");
		CU_ASSERT_FALSE(qmp_client_alive(c));
		cleanup_err struct err *e = NULL;
		int64_t t0 = util_now_ms();
		CU_ASSERT_EQUAL(qmp_execute(c, "again", NULL, 3000, NULL, &e), -ECONNRESET);
		CU_ASSERT_EQUAL(qmp_wait_event(c, "ANY", NULL, NULL, 3000, NULL, &e), -ECONNRESET);
		CU_ASSERT_TRUE(util_now_ms() - t0 < 500);
		qmp_client_shutdown(c); /* after the fact: no second closed call */
		qmp_client_unref(c);
		fk_finish(&f);
		CU_ASSERT_EQUAL(r.nclosed, 1);
		if (!strstr(r.why, "JSON"))
			fprintf(stderr, "\nunexpected reason for %s: %s\n", bad[i], r.why);
		CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "JSON"));
	}
}

/* arg: total length of the line content to send; negative: no newline */
struct oversize {
	long long len;
	bool newline;
};

static void script_oversize(struct fake *f)
{
	const struct oversize *ov = f->arg;
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	cleanup_free char *head = xasprintf("{\"id\": %lld, \"return\": {\"s\": \"", fk_id(o));
	const char *tail = "\"}}";
	size_t hl = strlen(head), tl = strlen(tail);
	size_t n = (size_t)ov->len;
	char *line = xmalloc(n + 3);
	memcpy(line, head, hl);
	memset(line + hl, 'q', n - hl - tl);
	memcpy(line + n - tl, tail, tl);
	atomic_store(&f->info, (long long)(n - hl - tl));
	size_t total = n;
	if (ov->newline) {
		line[total++] = '\r';
		line[total++] = '\n';
	}
	fk_send_n(f, line, total); /* may fail once the client drops us */
	free(line);
	fk_wait_eof(f, 5000);
}

static void test_oversize(void)
{
	static const struct oversize cases[] = {
		{QMP_LINE_MAX, true},            /* exactly at the limit: fine */
		{QMP_LINE_MAX + 1, true},        /* one over: dropped */
		{QMP_LINE_MAX + 4096, false},    /* never ends: dropped early */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fake f;
		cleanup_rec struct rec r;
		rec_init(&r);
		fk_start(&f, script_oversize, (void *)&cases[i]);
		struct qmp_client *c = open_fake(&f, &r);
		if (!c) {
			fk_finish(&f);
			continue;
		}
		cleanup_err struct err *e = NULL;
		cleanup_json struct json_object *ret = NULL;
		int64_t t0 = util_now_ms();
		int rc = qmp_execute(c, "big-reply", NULL, 3000, &ret, &e);
		int64_t dt = util_now_ms() - t0;
		if (i == 0) {
			CU_ASSERT_EQUAL(rc, 0);
			long long want = atomic_load(&f.info);
			CU_ASSERT_TRUE(want > QMP_LINE_MAX - 64);
			CU_ASSERT_EQUAL((long long)strlen(jstr(ret, "s")), want);
			CU_ASSERT_TRUE(qmp_client_alive(c));
		} else {
			CU_ASSERT_EQUAL(rc, -ECONNRESET);
			CU_ASSERT_TRUE(dt < 2000);
			CU_ASSERT_FALSE(qmp_client_alive(c));
		}
		qmp_client_unref(c);
		fk_finish(&f);
		CU_ASSERT_EQUAL(r.nclosed, i == 0 ? 0 : 1);
		if (i > 0)
			CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "longer than"));
	}
}

/* An event, then the end of the stream: after the ms that f->arg points
 * to (none: at once, so that the client meets both in one read). */
static const int disconnect_later_ms = 50;
static void script_disconnect(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(o), "doomed"));
	fk_send(f, "{\"event\": \"LAST\", \"data\": {\"device\": \"z\"}}\r\n");
	if (f->arg)
		usleep((useconds_t)*(const int *)f->arg * 1000);
	fk_close(f);
}

struct wait_job {
	struct qmp_client *c;
	const char *name;
	int timeout_ms;
	int rc;
	int64_t elapsed_ms;
	pthread_t th;
};

static void *wait_thread(void *arg)
{
	struct wait_job *j = arg;
	int64_t t0 = util_now_ms();
	j->rc = qmp_wait_event(j->c, j->name, NULL, NULL, j->timeout_ms, NULL, NULL);
	j->elapsed_ms = util_now_ms() - t0;
	return NULL;
}

static void test_disconnect(void)
{
	struct fake f;
	cleanup_rec struct rec r;
	rec_init(&r);
	fk_start(&f, script_disconnect, (void *)&disconnect_later_ms);
	struct qmp_client *c = open_fake(&f, &r);
	if (c) {
		struct wait_job w = {.c = c, .name = "NEVER", .timeout_ms = 5000};
		pthread_create(&w.th, NULL, wait_thread, &w);
		struct exec_job j = {.c = c, .cmd = "doomed", .timeout_ms = 5000};
		exec_thread(&j);
		pthread_join(w.th, NULL);
		CU_ASSERT_EQUAL(j.rc, -ECONNRESET);
		CU_ASSERT_TRUE(j.elapsed_ms < 1000);
		CU_ASSERT_EQUAL(w.rc, -ECONNRESET);
		CU_ASSERT_TRUE(w.elapsed_ms < 1000);
		/* Events queued before the loss can still be consumed. */
		CU_ASSERT_EQUAL(qmp_wait_event(c, "LAST", "device", "z", 1000, NULL, NULL), 0);
		CU_ASSERT_EQUAL(qmp_wait_event(c, "LAST", NULL, NULL, 1000, NULL, NULL), -ECONNRESET);
		qmp_client_unref(c);
	}
	fk_finish(&f);
	CU_ASSERT_EQUAL(r.nclosed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "end of file"));
}

/* The event and the end in one go: the caller, reading for its reply,
 * meets both. */
static void test_disconnect_at_once(void)
{
	struct fake f;
	cleanup_rec struct rec r;
	rec_init(&r);
	fk_start(&f, script_disconnect, NULL);
	struct qmp_client *c = open_fake(&f, &r);
	if (c) {
		struct exec_job j = {.c = c, .cmd = "doomed", .timeout_ms = 5000};
		exec_thread(&j);
		CU_ASSERT_EQUAL(j.rc, -ECONNRESET);
		CU_ASSERT_TRUE(j.elapsed_ms < 1000);
		/* What came before the end is not lost: its callback ran, and it
		 * is queued for those who wait for it. */
		CU_ASSERT_EQUAL(qmp_wait_event(c, "LAST", "device", "z", 1000, NULL, NULL), 0);
		pthread_mutex_lock(&r.m);
		CU_ASSERT_EQUAL(r.nev, 1);
		CU_ASSERT_STRING_EQUAL(r.names[0], "LAST");
		pthread_mutex_unlock(&r.m);
		qmp_client_unref(c);
	}
	fk_finish(&f);
	CU_ASSERT_EQUAL(r.nclosed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "end of file"));
}

static void script_silent(struct fake *f) { fk_wait_eof(f, 5000); }

static void script_no_caps_reply(struct fake *f)
{
	fk_send(f, GREETING);
	cleanup_json struct json_object *o = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(o), "qmp_capabilities"));
	fk_wait_eof(f, 5000);
}

static void script_not_greeting(struct fake *f)
{
	fk_send(f, "{\"return\": {}, \"id\": 1}\r\n");
	fk_wait_eof(f, 5000);
}

static void script_eof_at_once(struct fake *f) { (void)f; }

static void script_caps_error(struct fake *f)
{
	fk_send(f, GREETING);
	cleanup_json struct json_object *o = fk_read(f, 5000);
	fk_sendf(f, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}, \"id\": %lld}\r\n",
		 fk_id(o));
	fk_wait_eof(f, 5000);
}

static void test_open_failures(void)
{
	static const struct {
		void (*script)(struct fake *);
		int code;
		int min_ms;
	} cases[] = {
		{script_silent, ETIMEDOUT, 195},
		{script_no_caps_reply, ETIMEDOUT, 195},
		{script_not_greeting, ECONNRESET, 0},
		{script_eof_at_once, ECONNRESET, 0},
		{script_caps_error, ENOSYS, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fake f;
		cleanup_rec struct rec r;
		rec_init(&r);
		fk_start(&f, cases[i].script, NULL);
		struct qmp_callbacks cb = {.event = rec_event, .closed = rec_closed, .opaque = &r};
		struct qmp_client *c = (struct qmp_client *)&f;
		cleanup_err struct err *e = NULL;
		int64_t t0 = util_now_ms();
		int rc = qmp_client_open(f.cfd, &cb, 200, &c, &e);
		int64_t dt = util_now_ms() - t0;
		f.cfd = -1; /* owned (and closed) by qmp_client_open */
		CU_ASSERT_EQUAL(rc, -cases[i].code);
		CU_ASSERT_EQUAL(err_code(e), cases[i].code);
		CU_ASSERT_PTR_NULL(c);
		CU_ASSERT_TRUE(dt >= cases[i].min_ms && dt < 1500);
		fk_finish(&f);
		CU_ASSERT_EQUAL(r.nclosed, 0);
		CU_ASSERT_EQUAL(r.nev, 0);
	}
	struct qmp_client *c = NULL;
	CU_ASSERT_EQUAL(qmp_client_open(-1, NULL, 100, &c, NULL), -EBADF);
}

static void script_hang(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	FK_CHECK(f, !strcmp(fk_cmd(o), "hang"));
	fk_wait_eof(f, 5000);
}

static void *shutdown_thread(void *arg)
{
	qmp_client_shutdown(arg);
	return NULL;
}

static void test_shutdown_wakes(void)
{
	struct fake f;
	cleanup_rec struct rec r;
	rec_init(&r);
	fk_start(&f, script_hang, NULL);
	struct qmp_client *c = open_fake(&f, &r);
	if (c) {
		struct exec_job j = {.c = c, .cmd = "hang", .timeout_ms = 5000};
		struct wait_job w = {.c = c, .name = "NEVER", .timeout_ms = 5000};
		pthread_create(&j.th, NULL, exec_thread, &j);
		pthread_create(&w.th, NULL, wait_thread, &w);
		usleep(150 * 1000);
		int64_t t0 = util_now_ms();
		pthread_t s1, s2;
		pthread_create(&s1, NULL, shutdown_thread, c);
		pthread_create(&s2, NULL, shutdown_thread, c);
		pthread_join(j.th, NULL);
		pthread_join(w.th, NULL);
		int64_t dt = util_now_ms() - t0;
		pthread_join(s1, NULL);
		pthread_join(s2, NULL);
		qmp_client_shutdown(c);
		CU_ASSERT_EQUAL(j.rc, -ECONNRESET);
		CU_ASSERT_EQUAL(w.rc, -ECONNRESET);
		CU_ASSERT_TRUE(dt < 1000);
		CU_ASSERT_FALSE(qmp_client_alive(c));
		CU_ASSERT_EQUAL(qmp_execute(c, "after", NULL, 1000, NULL, NULL), -ECONNRESET);
		qmp_client_unref(c);
	}
	fk_finish(&f);
	CU_ASSERT_EQUAL(r.nclosed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "shut down"));
}

static void script_close_after_cmd(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	fk_close(f);
}

static void script_bye_event(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	cleanup_json struct json_object *o = fk_read(f, 5000);
	fk_reply(f, fk_id(o), "{}");
	sem_wait(&f->go);
	fk_send(f, "{\"event\": \"BYE\"}\r\n{\"event\": \"AFTER\"}\r\n");
	fk_wait_eof(f, 5000);
}

/* The last unref from inside a callback: the reader detaches and frees
 * (LeakSanitizer / valgrind prove the free). */
static void test_unref_in_callback(void)
{
	struct fake f;
	cleanup_rec struct rec r;
	rec_init(&r);
	fk_start(&f, script_close_after_cmd, NULL);
	struct qmp_client *c = open_fake(&f, &r);
	if (c) {
		pthread_mutex_lock(&r.m);
		r.unref_in_closed = qmp_client_ref(c);
		pthread_mutex_unlock(&r.m);
		CU_ASSERT_EQUAL(qmp_execute(c, "ping", NULL, 3000, NULL, NULL), -ECONNRESET);
		qmp_client_unref(c); /* the callback's ref is the last */
		CU_ASSERT_TRUE(wait_flag(&r.done, 3000));
	}
	fk_finish(&f);
	CU_ASSERT_EQUAL(r.nclosed, 1);

	rec_fini(&r);
	rec_init(&r);
	fk_start(&f, script_bye_event, NULL);
	c = open_fake(&f, &r);
	if (c) {
		CU_ASSERT_EQUAL(qmp_execute(c, "ping", NULL, 3000, NULL, NULL), 0);
		pthread_mutex_lock(&r.m);
		r.unref_in_event = move_ptr(c); /* hand our only ref over */
		pthread_mutex_unlock(&r.m);
		sem_post(&f.go);
		CU_ASSERT_TRUE(wait_flag(&r.done, 3000));
	} else {
		sem_post(&f.go);
	}
	fk_finish(&f);
	pthread_mutex_lock(&r.m);
	CU_ASSERT_EQUAL(r.nev, 1); /* no callback after the last unref */
	CU_ASSERT_EQUAL(r.nclosed, 0);
	pthread_mutex_unlock(&r.m);
	usleep(50 * 1000); /* let the detached reader finish freeing */
}

static void script_echo_reorder(struct fake *f)
{
	if (!fk_handshake(f))
		return;
	for (;;) {
		struct json_object *a = fk_read(f, 5000);
		if (!a)
			break;
		struct json_object *b = fk_read(f, 2);
		struct json_object *order[2] = {b, a};
		for (int k = 0; k < 2; k++) {
			struct json_object *o = order[k];
			if (!o)
				continue;
			struct json_object *n = fk_arg(o, "n");
			fk_sendf(f, "{\"event\": \"NOISE\"}\r\n{\"return\": {\"n\": %lld}, \"id\": %lld}\r\n",
				 n ? (long long)json_object_get_int64(n) : -1, fk_id(o));
			json_object_put(o);
		}
	}
}

struct stress_job {
	struct qmp_client *c;
	int base, count, bad;
	pthread_t th;
};

static void *stress_thread(void *arg)
{
	struct stress_job *j = arg;
	for (int i = 0; i < j->count; i++) {
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "n", json_object_new_int(j->base + i));
		cleanup_json struct json_object *ret = NULL;
		if (qmp_execute(j->c, "echo", args, 3000, &ret, NULL) < 0 || jint(ret, "n") != j->base + i)
			j->bad++;
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct fake f;
	fk_start(&f, script_echo_reorder, NULL);
	struct qmp_client *c = open_fake(&f, NULL);
	if (c) {
		struct stress_job jobs[4];
		for (int i = 0; i < 4; i++) {
			jobs[i] = (struct stress_job){.c = qmp_client_ref(c), .base = i * 1000, .count = 100};
			pthread_create(&jobs[i].th, NULL, stress_thread, &jobs[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(jobs[i].th, NULL);
			CU_ASSERT_EQUAL(jobs[i].bad, 0);
			qmp_client_unref(jobs[i].c);
		}
		qmp_client_unref(c);
	}
	fk_finish(&f);
}

static void test_connect_errors(void)
{
	cleanup_err struct err *e = NULL;
	struct qmp_client *c = NULL;
	char longp[200];
	memset(longp, 'p', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CU_ASSERT_EQUAL(qmp_client_connect(longp, NULL, 100, &c, &e), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(err_code(e), ENAMETOOLONG);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_EQUAL(qmp_client_connect("/nonexistent/qmp.sock", NULL, 100, &c, &e), -ENOENT);
	CU_ASSERT_PTR_NULL(c);
}

/* ---- the real QEMU ---- */

static void test_real_qemu(void)
{
	cleanup_free char *qemu = sqemu_binary("qemu-system-x86_64");
	if (access(qemu, X_OK) != 0) {
		unit_skip("qemu-system-x86_64", "%s not found (%s)", qemu, strerror(errno));
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(sqemu_qemu(qemu));
	char dir[] = "/tmp/test_qmp.XXXXXX";
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	cleanup_free char *path = xasprintf("%s/qmp.sock", dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_TRUE_FATAL(lfd >= 0);
	CU_ASSERT_EQUAL_FATAL(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CU_ASSERT_EQUAL_FATAL(listen(lfd, 1), 0);

	cleanup_free char *chardev = xasprintf("socket,id=qmp,fd=%d,server=on,wait=off", lfd);
	char *const argv[] = {
		qemu, "-machine", "none", "-nodefaults", "-display", "none", "-S",
		"-chardev", chardev, "-mon", "chardev=qmp,mode=control", NULL,
	};
	pid_t pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
		fcntl(lfd, F_SETFD, 0);
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		execv(qemu, argv);
		_exit(127);
	}
	close(lfd);
	CU_ASSERT_TRUE_FATAL(pid > 0);

	cleanup_rec struct rec r;
	rec_init(&r);
	struct qmp_callbacks cb = {.event = rec_event, .closed = rec_closed, .opaque = &r};
	struct qmp_client *c = NULL;
	cleanup_err struct err *e = NULL;
	int rc = qmp_client_connect(path, &cb, 5000, &c, &e);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc < 0)
		fprintf(stderr, "\nconnect to qemu: %s\n", e->msg);
	if (c) {
		int ma = 0, mi = -1, mc = -1;
		qmp_client_version(c, &ma, &mi, &mc);
		CU_ASSERT_TRUE(ma >= 2);

		cleanup_json struct json_object *ver = NULL;
		CU_ASSERT_EQUAL(qmp_execute(c, "query-version", NULL, 5000, &ver, &e), 0);
		struct json_object *q = NULL;
		json_object_object_get_ex(ver, "qemu", &q);
		CU_ASSERT_EQUAL(jint(q, "major"), ma);
		CU_ASSERT_EQUAL(jint(q, "minor"), mi);
		CU_ASSERT_EQUAL(jint(q, "micro"), mc);

		cleanup_json struct json_object *st = NULL;
		CU_ASSERT_EQUAL(qmp_execute(c, "query-status", NULL, 5000, &st, &e), 0);
		CU_ASSERT_STRING_EQUAL(jstr(st, "status"), "prelaunch");
		struct json_object *running = NULL;
		CU_ASSERT_TRUE(json_object_object_get_ex(st, "running", &running) &&
			       !json_object_get_boolean(running));

		const char *cls = NULL;
		CU_ASSERT_EQUAL(qmp_execute_full(c, "no-such-command", NULL, 5000, NULL, &cls, &e), -ENOSYS);
		CU_ASSERT_STRING_EQUAL(cls ? cls : "", "CommandNotFound");
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "id", json_object_new_string("nope"));
		CU_ASSERT_EQUAL(qmp_execute_full(c, "device_del", args, 5000, NULL, &cls, &e), -ENODEV);
		CU_ASSERT_STRING_EQUAL(cls ? cls : "", "DeviceNotFound");

		CU_ASSERT_EQUAL(qmp_execute(c, "quit", NULL, 5000, NULL, &e), 0);
		cleanup_json struct json_object *ev = NULL;
		CU_ASSERT_EQUAL(qmp_wait_event(c, "SHUTDOWN", NULL, NULL, 5000, &ev, &e), 0);
		struct json_object *data = NULL, *guest = NULL;
		json_object_object_get_ex(ev, "data", &data);
		CU_ASSERT_TRUE(json_object_object_get_ex(data, "guest", &guest) &&
			       !json_object_get_boolean(guest));
	}
	int status = -1;
	int64_t end = util_now_ms() + 5000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (util_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(10 * 1000);
	}
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (c) {
		/* QEMU is gone: the reader sees EOF and reports it once. */
		end = util_now_ms() + 2000;
		while (qmp_client_alive(c) && util_now_ms() < end)
			usleep(5 * 1000);
		CU_ASSERT_FALSE(qmp_client_alive(c));
		CU_ASSERT_EQUAL(qmp_execute(c, "query-status", NULL, 1000, NULL, NULL), -ECONNRESET);
		qmp_client_unref(c);
		CU_ASSERT_EQUAL(r.nclosed, 1);
		/* EOF, or ECONNRESET if QEMU exited with input unread. */
		CU_ASSERT_TRUE(strstr(r.why, "end of file") || strstr(r.why, "reset"));
	}
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"handshake", test_handshake},
		{"execute", test_execute},
		{"out_of_order", test_out_of_order},
		{"events", test_events},
		{"event_queue", test_event_queue},
		{"error_classes", test_error_classes},
		{"timeout", test_timeout},
		{"garbage", test_garbage},
		{"oversize", test_oversize},
		{"disconnect", test_disconnect},
		{"disconnect_at_once", test_disconnect_at_once},
		{"open_failures", test_open_failures},
		{"shutdown_wakes", test_shutdown_wakes},
		{"unref_in_callback", test_unref_in_callback},
		{"concurrent", test_concurrent},
		{"connect_errors", test_connect_errors},
		{"real_qemu", test_real_qemu},
	};
	return unit_main("qmp_client", tests, ARRAY_SIZE(tests));
}
