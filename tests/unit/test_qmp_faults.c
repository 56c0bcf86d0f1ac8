/*
 * test_qmp_faults — unit tests of qmp/qmp_client against a scripted fake
 * server (support_qmppeer) that misbehaves on the wire: garbage instead of
 * a JSON object, a line over QMP_LINE_MAX (with an end or none; one
 * exactly at the limit is fine), and the end of the stream while a command
 * and an event wait are pending (later, or in the same read as an event
 * that came before it).  Each fault must end the connection at once,
 * report it to the closed callback once with its reason, and fail what
 * waits with ECONNRESET, events queued before the end still to be had.
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
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* arg: the bad line to send (without newline) */
static void script_garbage(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	qpeer_sendf(f, "%s\n", (const char *)f->arg);
	/* A valid reply after the garbage must never be seen. */
	qpeer_reply(f, qpeer_id(o), "{\"who\": \"too-late\"}");
	qpeer_wait_eof(f, 5000);
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
		struct qpeer f;
		cleanup_qrec struct qrec r;
		qrec_init(&r);
		qpeer_start(&f, script_garbage, (void *)bad[i]);
		struct qmp_client *c = qrec_open(&f, &r);
		if (!c) {
			qpeer_finish(&f);
			continue;
		}
		struct qrec_exec j = {.c = c, .cmd = "cmd", .timeout_ms = 3000};
		qrec_exec_thread(&j);
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
		qpeer_finish(&f);
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

static void script_oversize(struct qpeer *f)
{
	const struct oversize *ov = f->arg;
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	cleanup_free char *head = xasprintf("{\"id\": %lld, \"return\": {\"s\": \"", qpeer_id(o));
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
	qpeer_send_n(f, line, total); /* may fail once the client drops us */
	free(line);
	qpeer_wait_eof(f, 5000);
}

static void test_oversize(void)
{
	static const struct oversize cases[] = {
		{QMP_LINE_MAX, true},            /* exactly at the limit: fine */
		{QMP_LINE_MAX + 1, true},        /* one over: dropped */
		{QMP_LINE_MAX + 4096, false},    /* never ends: dropped early */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct qpeer f;
		cleanup_qrec struct qrec r;
		qrec_init(&r);
		qpeer_start(&f, script_oversize, (void *)&cases[i]);
		struct qmp_client *c = qrec_open(&f, &r);
		if (!c) {
			qpeer_finish(&f);
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
			CU_ASSERT_EQUAL((long long)strlen(qrec_jstr(ret, "s")), want);
			CU_ASSERT_TRUE(qmp_client_alive(c));
		} else {
			CU_ASSERT_EQUAL(rc, -ECONNRESET);
			CU_ASSERT_TRUE(dt < 2000);
			CU_ASSERT_FALSE(qmp_client_alive(c));
		}
		qmp_client_unref(c);
		qpeer_finish(&f);
		CU_ASSERT_EQUAL(r.nclosed, i == 0 ? 0 : 1);
		if (i > 0)
			CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "longer than"));
	}
}

/* An event, then the end of the stream: after the ms that f->arg points
 * to (none: at once, so that the client meets both in one read). */
static const int disconnect_later_ms = 50;
static void script_disconnect(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(o), "doomed"));
	qpeer_send(f, "{\"event\": \"LAST\", \"data\": {\"device\": \"z\"}}\r\n");
	if (f->arg)
		usleep((useconds_t)*(const int *)f->arg * 1000);
	qpeer_close(f);
}

static void test_disconnect(void)
{
	struct qpeer f;
	cleanup_qrec struct qrec r;
	qrec_init(&r);
	qpeer_start(&f, script_disconnect, (void *)&disconnect_later_ms);
	struct qmp_client *c = qrec_open(&f, &r);
	if (c) {
		struct qrec_wait w = {.c = c, .name = "NEVER", .timeout_ms = 5000};
		pthread_create(&w.th, NULL, qrec_wait_thread, &w);
		struct qrec_exec j = {.c = c, .cmd = "doomed", .timeout_ms = 5000};
		qrec_exec_thread(&j);
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
	qpeer_finish(&f);
	CU_ASSERT_EQUAL(r.nclosed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "end of file"));
}

/* The event and the end in one go: the caller, reading for its reply,
 * meets both. */
static void test_disconnect_at_once(void)
{
	struct qpeer f;
	cleanup_qrec struct qrec r;
	qrec_init(&r);
	qpeer_start(&f, script_disconnect, NULL);
	struct qmp_client *c = qrec_open(&f, &r);
	if (c) {
		struct qrec_exec j = {.c = c, .cmd = "doomed", .timeout_ms = 5000};
		qrec_exec_thread(&j);
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
	qpeer_finish(&f);
	CU_ASSERT_EQUAL(r.nclosed, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.why, "end of file"));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"garbage", test_garbage},
		{"oversize", test_oversize},
		{"disconnect", test_disconnect},
		{"disconnect_at_once", test_disconnect_at_once},
	};
	return unit_main("qmp_client_faults", tests, ARRAY_SIZE(tests));
}
