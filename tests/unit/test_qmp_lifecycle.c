/*
 * test_qmp_lifecycle — unit tests of a qmp/qmp_client connection's life,
 * against a scripted fake server (support_qmppeer): opening it fails as it
 * should (no greeting, no reply to qmp_capabilities, not a greeting, the
 * end at once, qmp_capabilities refused; a bad descriptor), connecting to
 * a path too long for a socket address or not there, qmp_client_shutdown
 * waking every command and event wait (from two threads at once), and the
 * last reference dropped from inside a callback.
 */
#include "qmp/qmp_client.h"

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qmppeer.h"
#include "tests/unit/support_qmprec.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

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

static void script_silent(struct qpeer *f) { qpeer_wait_eof(f, 5000); }

static void script_no_caps_reply(struct qpeer *f)
{
	qpeer_send(f, qpeer_greeting);
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(o), "qmp_capabilities"));
	qpeer_wait_eof(f, 5000);
}

static void script_not_greeting(struct qpeer *f)
{
	qpeer_send(f, "{\"return\": {}, \"id\": 1}\r\n");
	qpeer_wait_eof(f, 5000);
}

static void script_eof_at_once(struct qpeer *f) { (void)f; }

static void script_caps_error(struct qpeer *f)
{
	qpeer_send(f, qpeer_greeting);
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	qpeer_sendf(f, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}, \"id\": %lld}\r\n",
		 qpeer_id(o));
	qpeer_wait_eof(f, 5000);
}

static void test_open_failures(void)
{
	static const struct {
		void (*script)(struct qpeer *);
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
		struct qpeer f;
		cleanup_qrec struct qrec r;
		qrec_init(&r);
		qpeer_start(&f, cases[i].script, NULL);
		struct qmp_callbacks cb = {.event = qrec_event, .closed = qrec_closed, .opaque = &r};
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
		qpeer_finish(&f);
		CU_ASSERT_EQUAL(r.nclosed, 0);
		CU_ASSERT_EQUAL(r.nev, 0);
	}
	struct qmp_client *c = NULL;
	CU_ASSERT_EQUAL(qmp_client_open(-1, NULL, 100, &c, NULL), -EBADF);
}

static void script_hang(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(o), "hang"));
	qpeer_wait_eof(f, 5000);
}

static void *shutdown_thread(void *arg)
{
	qmp_client_shutdown(arg);
	return NULL;
}

static void test_shutdown_wakes(void)
{
	struct qpeer f;
	cleanup_qrec struct qrec r;
	qrec_init(&r);
	qpeer_start(&f, script_hang, NULL);
	struct qmp_client *c = qrec_open(&f, &r);
	if (c) {
		struct qrec_exec j = {.c = c, .cmd = "hang", .timeout_ms = 5000};
		struct qrec_wait w = {.c = c, .name = "NEVER", .timeout_ms = 5000};
		pthread_create(&j.th, NULL, qrec_exec_thread, &j);
		pthread_create(&w.th, NULL, qrec_wait_thread, &w);
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
	qpeer_finish(&f);
	CU_ASSERT_EQUAL(r.nclosed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "shut down"));
}

static void script_close_after_cmd(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	qpeer_close(f);
}

static void script_bye_event(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	qpeer_reply(f, qpeer_id(o), "{}");
	sem_wait(&f->go);
	qpeer_send(f, "{\"event\": \"BYE\"}\r\n{\"event\": \"AFTER\"}\r\n");
	qpeer_wait_eof(f, 5000);
}

/* The last unref from inside a callback: the reader detaches and frees
 * (LeakSanitizer / valgrind prove the free). */
static void test_unref_in_callback(void)
{
	struct qpeer f;
	cleanup_qrec struct qrec r;
	qrec_init(&r);
	qpeer_start(&f, script_close_after_cmd, NULL);
	struct qmp_client *c = qrec_open(&f, &r);
	if (c) {
		pthread_mutex_lock(&r.m);
		r.unref_in_closed = qmp_client_ref(c);
		pthread_mutex_unlock(&r.m);
		CU_ASSERT_EQUAL(qmp_execute(c, "ping", NULL, 3000, NULL, NULL), -ECONNRESET);
		qmp_client_unref(c); /* the callback's ref is the last */
		CU_ASSERT_TRUE(wait_flag(&r.done, 3000));
	}
	qpeer_finish(&f);
	CU_ASSERT_EQUAL(r.nclosed, 1);

	qrec_fini(&r);
	qrec_init(&r);
	qpeer_start(&f, script_bye_event, NULL);
	c = qrec_open(&f, &r);
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
	qpeer_finish(&f);
	pthread_mutex_lock(&r.m);
	CU_ASSERT_EQUAL(r.nev, 1); /* no callback after the last unref */
	CU_ASSERT_EQUAL(r.nclosed, 0);
	pthread_mutex_unlock(&r.m);
	usleep(50 * 1000); /* let the detached reader finish freeing */
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


int main(void)
{
	static const struct unit_test tests[] = {
		{"open_failures", test_open_failures},
		{"shutdown_wakes", test_shutdown_wakes},
		{"unref_in_callback", test_unref_in_callback},
		{"connect_errors", test_connect_errors},
	};
	return unit_main("qmp_client_lifecycle", tests, ARRAY_SIZE(tests));
}
