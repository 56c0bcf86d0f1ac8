/* support_qmppeer — see support_qmppeer.h. */
#include "tests/unit/support_qmppeer.h"

#include "lib/util.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int qpeer_send_n(struct qpeer *f, const char *s, size_t n)
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

int qpeer_send(struct qpeer *f, const char *s)
{
	return qpeer_send_n(f, s, strlen(s));
}

int qpeer_sendf(struct qpeer *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *s = xvasprintf(fmt, ap);
	va_end(ap);
	return qpeer_send(f, s);
}

/* The next line from the client as a JSON object; NULL on EOF or timeout. */
struct json_object *qpeer_read(struct qpeer *f, int timeout_ms)
{
	for (;;) {
		char *nl = f->len ? memchr(f->buf, '\n', f->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - f->buf);
			cleanup_free char *line = xstrndup(f->buf, n);
			memmove(f->buf, nl + 1, f->len - n - 1);
			f->len -= n + 1;
			struct json_object *o = json_tokener_parse(line);
			QPEER_CHECK(f, o && json_object_is_type(o, json_type_object));
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

const char *qpeer_cmd(struct json_object *o)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, "execute", &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

long long qpeer_id(struct json_object *o)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, "id", &v) && json_object_is_type(v, json_type_int))
		return (long long)json_object_get_int64(v);
	return -1;
}

struct json_object *qpeer_arg(struct json_object *o, const char *key)
{
	struct json_object *a, *v;
	if (o && json_object_object_get_ex(o, "arguments", &a) && json_object_object_get_ex(a, key, &v))
		return v;
	return NULL;
}

void qpeer_reply(struct qpeer *f, long long id, const char *ret)
{
	qpeer_sendf(f, "{\"return\": %s, \"id\": %lld}\r\n", ret, id);
}

const char qpeer_greeting[] =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 2, \"major\": 8}, "
	"\"package\": \"fake\"}, \"capabilities\": [\"oob\"]}, \"x-unknown\": true}\r\n";

bool qpeer_handshake(struct qpeer *f)
{
	qpeer_send(f, qpeer_greeting);
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	QPEER_CHECK(f, o != NULL);
	if (!o)
		return false;
	QPEER_CHECK(f, !strcmp(qpeer_cmd(o), "qmp_capabilities"));
	QPEER_CHECK(f, qpeer_id(o) >= 0);
	QPEER_CHECK(f, !json_object_object_get_ex(o, "arguments", NULL));
	qpeer_reply(f, qpeer_id(o), "{}");
	return true;
}

/* Read and discard until the client closes (or timeout). */
void qpeer_wait_eof(struct qpeer *f, int timeout_ms)
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

void qpeer_close(struct qpeer *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void *qpeer_main(void *arg)
{
	struct qpeer *f = arg;
	f->script(f);
	qpeer_close(f);
	return NULL;
}

void qpeer_start(struct qpeer *f, void (*script)(struct qpeer *), void *arg)
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
	CU_ASSERT_EQUAL_FATAL(pthread_create(&f->th, NULL, qpeer_main, f), 0);
}

void qpeer_finish(struct qpeer *f)
{
	pthread_join(f->th, NULL);
	if (f->cfd >= 0)
		close(f->cfd);
	free(f->buf);
	sem_destroy(&f->go);
	CU_ASSERT_EQUAL(atomic_load(&f->fails), 0);
}
