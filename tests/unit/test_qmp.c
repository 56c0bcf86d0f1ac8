/*
 * test_qmp — unit tests of qmp/qmp_client's commands and replies against a
 * scripted fake QMP server (support_qmppeer): greeting, negotiation and
 * version, ref counting, arguments (bad ones refused), noise to ignore, a
 * command bigger than the socket buffer, id matching (replies out of
 * order, a late reply after a timeout), error classes to errno, and
 * threads sharing one client; and one test against a real
 * qemu-system-x86_64 (skipped with a message when it is not installed).
 * Events, faults on the wire and the connection's life have programs of
 * their own: test_qmp_events, test_qmp_faults, test_qmp_lifecycle.
 */
#include "qmp/qmp_client.h"

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"
#include "tests/unit/support_qmppeer.h"
#include "tests/unit/support_qmprec.h"

#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void script_handshake_only(struct qpeer *f)
{
	if (qpeer_handshake(f))
		qpeer_wait_eof(f, 5000);
}

static void test_handshake(void)
{
	struct qpeer f;
	cleanup_qrec struct qrec r;
	qrec_init(&r);
	qpeer_start(&f, script_handshake_only, NULL);
	struct qmp_client *c = qrec_open(&f, &r);
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
	qpeer_finish(&f);
	/* The last unref is not a loss of connection to report. */
	CU_ASSERT_EQUAL(qrec_nclosed(&r), 0);
}

static void script_execute(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *o = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(o), "query-status"));
	struct json_object *verbose = qpeer_arg(o, "verbose");
	QPEER_CHECK(f, verbose && json_object_get_boolean(verbose));
	struct json_object *path = qpeer_arg(o, "path");
	QPEER_CHECK(f, path && !strcmp(json_object_get_string(path), "/a/b\"c"));
	QPEER_CHECK(f, qpeer_id(o) > 0);
	/* Noise the client must ignore: blank lines, unknown objects. */
	qpeer_send(f, "\r\n   \n{\"x-unknown\": 1}\r\n");
	qpeer_sendf(f, "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %lld, "
		    "\"x-extra\": [1, 2]}\r\n", qpeer_id(o));

	cleanup_json struct json_object *o2 = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(o2), "query-null"));
	QPEER_CHECK(f, qpeer_id(o2) != qpeer_id(o));
	QPEER_CHECK(f, !json_object_object_get_ex(o2, "arguments", NULL));
	/* id first, no \r */
	qpeer_sendf(f, "{\"id\": %lld, \"return\": {}}\n", qpeer_id(o2));

	/* A command far bigger than the socket buffer: partial writes. */
	cleanup_json struct json_object *o3 = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(o3), "big"));
	const char *data = json_object_get_string(qpeer_arg(o3, "data"));
	long long n = data ? (long long)strlen(data) : -1;
	qpeer_sendf(f, "{\"return\": {\"len\": %lld, \"last\": \"%c\"}, \"id\": %lld}\r\n", n,
		 n > 0 ? data[n - 1] : '?', qpeer_id(o3));
	qpeer_wait_eof(f, 5000);
}

static void test_execute(void)
{
	struct qpeer f;
	qpeer_start(&f, script_execute, NULL);
	struct qmp_client *c = qrec_open(&f, NULL);
	if (c) {
		cleanup_err struct err *e = NULL;
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "verbose", json_object_new_boolean(1));
		json_object_object_add(args, "path", json_object_new_string("/a/b\"c"));
		cleanup_json struct json_object *ret = NULL;
		CU_ASSERT_EQUAL(qmp_execute(c, "query-status", args, 2000, &ret, &e), 0);
		CU_ASSERT_STRING_EQUAL(qrec_jstr(ret, "status"), "running");
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
		CU_ASSERT_EQUAL(qrec_jint(ret3, "len"), (long long)big);
		CU_ASSERT_STRING_EQUAL(qrec_jstr(ret3, "last"), "z");

		/* Bad arguments: not an object (reference still consumed). */
		CU_ASSERT_EQUAL(qmp_execute(c, "x", json_object_new_int(3), 100, NULL, &e), -EINVAL);
		CU_ASSERT_EQUAL(qmp_execute(c, "", NULL, 100, NULL, &e), -EINVAL);
		qmp_client_unref(c);
	}
	qpeer_finish(&f);
}

/* Replies in the reverse order of the commands. */
static void script_out_of_order(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *a = qpeer_read(f, 5000);
	cleanup_json struct json_object *b = qpeer_read(f, 5000);
	QPEER_CHECK(f, a && b && qpeer_id(a) != qpeer_id(b));
	qpeer_sendf(f, "{\"return\": {\"who\": \"%s\"}, \"id\": %lld}\r\n", qpeer_cmd(b), qpeer_id(b));
	qpeer_sendf(f, "{\"return\": {\"who\": \"%s\"}, \"id\": %lld}\r\n", qpeer_cmd(a), qpeer_id(a));
	qpeer_wait_eof(f, 5000);
}

static void test_out_of_order(void)
{
	struct qpeer f;
	qpeer_start(&f, script_out_of_order, NULL);
	struct qmp_client *c = qrec_open(&f, NULL);
	if (c) {
		struct qrec_exec ja = {.c = c, .cmd = "cmd-a", .timeout_ms = 3000};
		struct qrec_exec jb = {.c = c, .cmd = "cmd-b", .timeout_ms = 3000};
		pthread_create(&ja.th, NULL, qrec_exec_thread, &ja);
		pthread_create(&jb.th, NULL, qrec_exec_thread, &jb);
		pthread_join(ja.th, NULL);
		pthread_join(jb.th, NULL);
		CU_ASSERT_EQUAL(ja.rc, 0);
		CU_ASSERT_EQUAL(jb.rc, 0);
		CU_ASSERT_STRING_EQUAL(ja.who, "cmd-a");
		CU_ASSERT_STRING_EQUAL(jb.who, "cmd-b");
		qmp_client_unref(c);
	}
	qpeer_finish(&f);
}

static void script_errors(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	for (;;) {
		cleanup_json struct json_object *o = qpeer_read(f, 5000);
		if (!o)
			break;
		const char *cmd = qpeer_cmd(o);
		if (!strcmp(cmd, "stray")) {
			/* QEMU answers an unparsable command without an id. */
			qpeer_send(f, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n");
			qpeer_reply(f, qpeer_id(o), "{\"fine\": true}");
		} else if (!strcmp(cmd, "nodesc")) {
			qpeer_sendf(f, "{\"error\": {\"class\": \"DeviceNotFound\"}, \"id\": %lld}\r\n", qpeer_id(o));
		} else if (!strncmp(cmd, "fail-", 5)) {
			qpeer_sendf(f, "{\"id\": %lld, \"error\": {\"class\": \"%s\", \"desc\": \"it failed: %s\", "
				    "\"x-more\": 1}}\r\n", qpeer_id(o), cmd + 5, cmd + 5);
		} else {
			qpeer_reply(f, qpeer_id(o), "{}");
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
	struct qpeer f;
	qpeer_start(&f, script_errors, NULL);
	struct qmp_client *c = qrec_open(&f, NULL);
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
	qpeer_finish(&f);
}

static void script_timeout(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	cleanup_json struct json_object *slow = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(slow), "slow"));
	cleanup_json struct json_object *next = qpeer_read(f, 5000);
	QPEER_CHECK(f, !strcmp(qpeer_cmd(next), "next"));
	/* The late reply first: it must be discarded, not given to "next". */
	qpeer_sendf(f, "{\"return\": {\"who\": \"slow\"}, \"id\": %lld}\r\n", qpeer_id(slow));
	qpeer_sendf(f, "{\"return\": {\"who\": \"next\"}, \"id\": %lld}\r\n", qpeer_id(next));
	cleanup_json struct json_object *third = qpeer_read(f, 5000);
	qpeer_sendf(f, "{\"return\": {\"who\": \"%s\"}, \"id\": %lld}\r\n", qpeer_cmd(third), qpeer_id(third));
	qpeer_wait_eof(f, 5000);
}

static void test_timeout(void)
{
	struct qpeer f;
	qpeer_start(&f, script_timeout, NULL);
	struct qmp_client *c = qrec_open(&f, NULL);
	if (c) {
		struct qrec_exec j = {.c = c, .cmd = "slow", .timeout_ms = 200};
		qrec_exec_thread(&j);
		CU_ASSERT_EQUAL(j.rc, -ETIMEDOUT);
		CU_ASSERT_EQUAL(j.code, ETIMEDOUT);
		CU_ASSERT_TRUE(j.elapsed_ms >= 195 && j.elapsed_ms < 1500);
		CU_ASSERT_STRING_EQUAL(j.who, "");

		struct qrec_exec n = {.c = c, .cmd = "next", .timeout_ms = 3000};
		qrec_exec_thread(&n);
		CU_ASSERT_EQUAL(n.rc, 0);
		CU_ASSERT_STRING_EQUAL(n.who, "next");
		struct qrec_exec t = {.c = c, .cmd = "third", .timeout_ms = 3000};
		qrec_exec_thread(&t);
		CU_ASSERT_EQUAL(t.rc, 0);
		CU_ASSERT_STRING_EQUAL(t.who, "third");
		CU_ASSERT_TRUE(qmp_client_alive(c));
		qmp_client_unref(c);
	}
	qpeer_finish(&f);
}

static void script_echo_reorder(struct qpeer *f)
{
	if (!qpeer_handshake(f))
		return;
	for (;;) {
		struct json_object *a = qpeer_read(f, 5000);
		if (!a)
			break;
		struct json_object *b = qpeer_read(f, 2);
		struct json_object *order[2] = {b, a};
		for (int k = 0; k < 2; k++) {
			struct json_object *o = order[k];
			if (!o)
				continue;
			struct json_object *n = qpeer_arg(o, "n");
			qpeer_sendf(f, "{\"event\": \"NOISE\"}\r\n{\"return\": {\"n\": %lld}, \"id\": %lld}\r\n",
				 n ? (long long)json_object_get_int64(n) : -1, qpeer_id(o));
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
		if (qmp_execute(j->c, "echo", args, 3000, &ret, NULL) < 0 || qrec_jint(ret, "n") != j->base + i)
			j->bad++;
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct qpeer f;
	qpeer_start(&f, script_echo_reorder, NULL);
	struct qmp_client *c = qrec_open(&f, NULL);
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
	qpeer_finish(&f);
}

/* ---- the real QEMU ---- */

/* Start `qemu` (no machine, stopped) with its QMP monitor on a socket
 * listening at `path` before the fork; its pid. */
static pid_t real_qemu_spawn(char *qemu, const char *path)
{
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
	return pid;
}

/* What the real QEMU answers: the version of its greeting, the status of
 * a stopped machine, two error classes, and quit with its SHUTDOWN. */
static void real_qemu_talk(struct qmp_client *c, struct err **e)
{
	int ma = 0, mi = -1, mc = -1;
	qmp_client_version(c, &ma, &mi, &mc);
	CU_ASSERT_TRUE(ma >= 2);

	cleanup_json struct json_object *ver = NULL;
	CU_ASSERT_EQUAL(qmp_execute(c, "query-version", NULL, 5000, &ver, e), 0);
	struct json_object *q = NULL;
	json_object_object_get_ex(ver, "qemu", &q);
	CU_ASSERT_EQUAL(qrec_jint(q, "major"), ma);
	CU_ASSERT_EQUAL(qrec_jint(q, "minor"), mi);
	CU_ASSERT_EQUAL(qrec_jint(q, "micro"), mc);

	cleanup_json struct json_object *st = NULL;
	CU_ASSERT_EQUAL(qmp_execute(c, "query-status", NULL, 5000, &st, e), 0);
	CU_ASSERT_STRING_EQUAL(qrec_jstr(st, "status"), "prelaunch");
	struct json_object *running = NULL;
	CU_ASSERT_TRUE(json_object_object_get_ex(st, "running", &running) &&
		       !json_object_get_boolean(running));

	const char *cls = NULL;
	CU_ASSERT_EQUAL(qmp_execute_full(c, "no-such-command", NULL, 5000, NULL, &cls, e), -ENOSYS);
	CU_ASSERT_STRING_EQUAL(cls ? cls : "", "CommandNotFound");
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string("nope"));
	CU_ASSERT_EQUAL(qmp_execute_full(c, "device_del", args, 5000, NULL, &cls, e), -ENODEV);
	CU_ASSERT_STRING_EQUAL(cls ? cls : "", "DeviceNotFound");

	CU_ASSERT_EQUAL(qmp_execute(c, "quit", NULL, 5000, NULL, e), 0);
	cleanup_json struct json_object *ev = NULL;
	CU_ASSERT_EQUAL(qmp_wait_event(c, "SHUTDOWN", NULL, NULL, 5000, &ev, e), 0);
	struct json_object *data = NULL, *guest = NULL;
	json_object_object_get_ex(ev, "data", &data);
	CU_ASSERT_TRUE(json_object_object_get_ex(data, "guest", &guest) &&
		       !json_object_get_boolean(guest));
}

/* Wait up to 5 s for QEMU to exit (then SIGKILL it); its wait status. */
static int real_qemu_reap(pid_t pid)
{
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
	return status;
}

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
	pid_t pid = real_qemu_spawn(qemu, path);

	cleanup_qrec struct qrec r;
	qrec_init(&r);
	struct qmp_callbacks cb = {.event = qrec_event, .closed = qrec_closed, .opaque = &r};
	struct qmp_client *c = NULL;
	cleanup_err struct err *e = NULL;
	int rc = qmp_client_connect(path, &cb, 5000, &c, &e);
	CU_ASSERT_EQUAL(rc, 0);
	if (rc < 0)
		fprintf(stderr, "\nconnect to qemu: %s\n", e->msg);
	if (c)
		real_qemu_talk(c, &e);
	int status = real_qemu_reap(pid);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (c) {
		/* QEMU is gone: the reader sees EOF and reports it once. */
		int64_t end = util_now_ms() + 2000;
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
		{"error_classes", test_error_classes},
		{"timeout", test_timeout},
		{"concurrent", test_concurrent},
		{"real_qemu", test_real_qemu},
	};
	return unit_main("qmp_client", tests, ARRAY_SIZE(tests));
}
