/*
 * test_qmp_fd — qmp_execute_fd passes a file descriptor to the REAL QEMU
 * with SCM_RIGHTS (what net hotplug's getfd needs): getfd then closefd of
 * that name succeed, a second closefd fails, and getfd without an fd is
 * refused by QEMU.  Skipped (exit 77) without qemu-system-x86_64.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"


static struct qmp_client *qmp;

static struct json_object *fdname(const char *n)
{
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "fdname", json_object_new_string(n));
	return a;
}

static void test_getfd(void)
{
	struct err *e = NULL;
	int p[2];
	CU_ASSERT_FATAL(pipe(p) == 0);
	CU_ASSERT_EQUAL(qmp_execute_fd(qmp, "getfd", fdname("tap0"), p[0], 2000, NULL, &e), 0);
	if (e)
		fprintf(stderr, "getfd: %s\n", e->msg);
	err_free(&e);
	CU_ASSERT_EQUAL(qmp_execute(qmp, "closefd", fdname("tap0"), 2000, NULL, &e), 0);
	err_free(&e);
	CU_ASSERT_EQUAL(qmp_execute(qmp, "closefd", fdname("tap0"), 2000, NULL, &e), -EIO);
	err_free(&e);
	/* Without SCM_RIGHTS QEMU has nothing to take. */
	CU_ASSERT_EQUAL(qmp_execute(qmp, "getfd", fdname("tap1"), 2000, NULL, &e), -EIO);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "SCM_RIGHTS"));
	err_free(&e);
	CU_ASSERT_EQUAL(qmp_execute_fd(qmp, "getfd", fdname("x"), -1, 2000, NULL, &e), -EBADF);
	err_free(&e);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	cleanup_free char *qemu = sqemu_binary("qemu-system-x86_64");
	if (access(qemu, X_OK) < 0)
		return unit_skip_program("qemu-system-x86_64", "%s not installed", qemu);
	if (!sqemu_qemu(qemu))
		return 1;
	char path[] = "/tmp/sandboxfs-qmpfd.XXXXXX";
	if (!mkdtemp(path))
		return 1;
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/q.sock", path);
	int l = sqemu_listen(sock);
	if (l < 0)
		return 1;
	char *const argv[] = {
		qemu, "-machine", "none", "-nodefaults", "-display", "none", "-S",
		"-chardev", "socket,id=qmp,fd=3,server=on,wait=off", "-mon",
		"chardev=qmp,mode=control", NULL,
	};
	pid_t qemu_pid = sqemu_spawn(argv, l, NULL, NULL, NULL);
	if (qemu_pid < 0)
		return 1;
	if (sqemu_connect(sock, 10000, NULL, NULL, NULL, &qmp) < 0)
		return 1;
	static const struct unit_test tests[] = {
		{ "getfd with SCM_RIGHTS against the real QEMU", test_getfd },
	};
	int rc = unit_main("qmp_fd", tests, ARRAY_SIZE(tests));
	sqemu_stop(qmp, qemu_pid, NULL);
	unlink(sock);
	rmdir(path);
	return rc;
}
