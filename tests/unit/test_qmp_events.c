/*
 * test_qmp_events — unit tests of how qmp/qmp_client handles QMP events,
 * against a scripted fake server (support_qmppeer): callbacks on the
 * reader thread only (never on a caller's, and qmp_execute from one is
 * EDEADLK), events met while reading a reply, waiting for one by name and
 * data (qmp_wait_event, qmp_wait_event_match) while others stay queued,
 * the queue's bound (QMP_EVENT_QUEUE_MAX, oldest dropped) and
 * qmp_drop_events.
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
#include <string.h>
#include <unistd.h>

static void script_events(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(o), "step1"));
	qpeer_send(f, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"FOO\", "
		   "\"data\": {\"n\": 7}}\r\n");
	qpeer_send(f, "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"d2\", \"path\": "
		   "\"/machine/peripheral/d2\"}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 3}}\r\n");
	qpeer_reply(f, qpeer_id(o), "{\"ok\": 1}");
	usleep(100 * 1000);
	qpeer_send(f, "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"d1\"}, "
		   "\"timestamp\": {\"seconds\": 1, \"microseconds\": 4}}\r\n");
	qpeer_wait_eof(f, 5000);
}

static void test_events(void)
{
	struct qpeer f;
	cleanup_qrec struct qrec r;
	qrec_init(&r);
	qpeer_start(&f, script_events, NULL);
	struct qmp_client *c = qrec_open(&f, &r);
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
		CU_ASSERT_EQUAL(qrec_jint(ret, "ok"), 1);

		/* d1 comes ~100 ms after the reply; d2 (queued) must be skipped. */
		cleanup_json struct json_object *ev = NULL;
		int64_t t0 = util_now_ms();
		CU_ASSERT_EQUAL(qmp_wait_event(c, "DEVICE_DELETED", "device", "d1", 2000, &ev, &e), 0);
		int64_t dt = util_now_ms() - t0;
		CU_ASSERT_TRUE(dt < 1500);
		struct json_object *data = NULL;
		json_object_object_get_ex(ev, "data", &data);
		CU_ASSERT_STRING_EQUAL(qrec_jstr(data, "device"), "d1");
		CU_ASSERT_STRING_EQUAL(qrec_jstr(ev, "event"), "DEVICE_DELETED");

		/* d2 stayed queued. */
		cleanup_json struct json_object *ev2 = NULL;
		CU_ASSERT_EQUAL(qmp_wait_event(c, "DEVICE_DELETED", "device", "d2", 0, &ev2, &e), 0);
		data = NULL;
		json_object_object_get_ex(ev2, "data", &data);
		CU_ASSERT_STRING_EQUAL(qrec_jstr(data, "device"), "d2");
		/* ...and was consumed. */
		CU_ASSERT_EQUAL(qmp_wait_event(c, "DEVICE_DELETED", NULL, NULL, 0, NULL, &e), -ETIMEDOUT);

		/* Any FOO; a data key with no value just has to be present. */
		CU_ASSERT_EQUAL(qmp_wait_event(c, "FOO", "absent", NULL, 0, NULL, &e), -ETIMEDOUT);
		cleanup_json struct json_object *foo = NULL;
		CU_ASSERT_EQUAL(qmp_wait_event(c, "FOO", "n", NULL, 0, &foo, &e), 0);
		json_object_object_get_ex(foo, "data", &data);
		CU_ASSERT_EQUAL(qrec_jint(data, "n"), 7);
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
	qpeer_finish(&f);
}

static void script_event_queue(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	struct sbuf b = {0};
	sbuf_add(&b, "{\"event\": \"X\", \"data\": {\"i\": 0}}\r\n");
	for (int i = 0; i < 300; i++)
		sbuf_printf(&b, "{\"event\": \"TICK\", \"data\": {\"n\": %d}}\r\n", i);
	sbuf_add(&b, "{\"event\": \"Y\"}\r\n{\"event\": \"X\", \"data\": {\"i\": 1}}\r\n");
	qpeer_send(f, b.s);
	sbuf_release(&b);
	qpeer_reply(f, qpeer_id(o), "{}");
	qpeer_wait_eof(f, 5000);
}

static bool match_i1(struct json_object *ev, void *opaque)
{
	(void)opaque;
	struct json_object *data = NULL;
	json_object_object_get_ex(ev, "data", &data);
	return data && qrec_jint(data, "i") == 1;
}

static void test_event_queue(void)
{
	struct qpeer f;
	cleanup_qrec struct qrec r;
	qrec_init(&r);
	qpeer_start(&f, script_event_queue, NULL);
	struct qmp_client *c = qrec_open(&f, &r);
	if (c) {
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL(qmp_execute(c, "sync", NULL, 3000, NULL, &e), 0);
		/* Events that came in the reply's read are queued after it woke
		 * its waiter: wait for the last one (X1), then all are queued. */
		cleanup_json struct json_object *x = NULL, *t = NULL;
		struct json_object *data = NULL;
		CU_ASSERT_EQUAL(qmp_wait_event_match(c, "X", match_i1, NULL, 3000, &x, &e), 0);
		json_object_object_get_ex(x, "data", &data);
		CU_ASSERT_EQUAL(qrec_jint(data, "i"), 1);
		/* 303 events, 256 kept: X0 and TICK 0..45 were dropped. */
		CU_ASSERT_EQUAL(qmp_wait_event(c, "X", NULL, NULL, 0, NULL, &e), -ETIMEDOUT);
		CU_ASSERT_EQUAL(qmp_wait_event(c, "TICK", NULL, NULL, 0, &t, &e), 0);
		data = NULL;
		json_object_object_get_ex(t, "data", &data);
		CU_ASSERT_EQUAL(qrec_jint(data, "n"), 300 + 3 - QMP_EVENT_QUEUE_MAX - 1);
		qmp_drop_events(c, "TICK");
		CU_ASSERT_EQUAL(qmp_wait_event(c, "TICK", NULL, NULL, 0, NULL, &e), -ETIMEDOUT);
		CU_ASSERT_EQUAL(qmp_wait_event(c, "Y", NULL, NULL, 0, NULL, &e), 0);
		qmp_drop_events(c, NULL);
		pthread_mutex_lock(&r.m);
		CU_ASSERT_EQUAL(r.nev, 303); /* the callback saw every one */
		pthread_mutex_unlock(&r.m);
		qmp_client_unref(c);
	}
	qpeer_finish(&f);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{"events", test_events},
		{"event_queue", test_event_queue},
	};
	return unit_main("qmp_client_events", tests, ARRAY_SIZE(tests));
}
