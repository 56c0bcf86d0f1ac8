/*
 * test_qmp_fd — qmp_execute_fd passes a file descriptor to the REAL QEMU
 * with SCM_RIGHTS (what net hotplug's getfd needs): getfd then closefd of
 * that name succeed, a second closefd fails, and getfd without an fd is
 * refused by QEMU.  Skipped (exit 77) without qemu-system-x86_64.
 */
#include <CUnit/Basic.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "qmp/qmp_client.h"
#include "lib/util.h"

#define QEMU "/usr/bin/qemu-system-x86_64"

static struct qmp_client *qmp;
static pid_t qemu_pid;

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
	if (access(QEMU, X_OK) < 0) {
		printf("SKIP: %s is not installed\n", QEMU);
		return 77;
	}
	char path[] = "/tmp/sandboxfs-qmpfd.XXXXXX";
	if (!mkdtemp(path))
		return 1;
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/q.sock", path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	strcpy(sun.sun_path, sock);
	if (bind(l, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(l, 1) < 0)
		return 1;
	qemu_pid = fork();
	if (qemu_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(l, 3);
		execl(QEMU, QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-S",
		      "-chardev", "socket,id=qmp,fd=3,server=on,wait=off", "-mon",
		      "chardev=qmp,mode=control", (char *)NULL);
		_exit(127);
	}
	close(l);
	struct err *e = NULL;
	if (qmp_client_connect(sock, NULL, 10000, &qmp, &e) < 0) {
		fprintf(stderr, "connect: %s\n", e->msg);
		return 1;
	}
	CU_initialize_registry();
	CU_pSuite s = CU_add_suite("qmp_fd", NULL, NULL);
	CU_add_test(s, "getfd with SCM_RIGHTS against the real QEMU", test_getfd);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	qmp_execute(qmp, "quit", NULL, 2000, NULL, &e);
	err_free(&e);
	qmp_client_unref(qmp);
	waitpid(qemu_pid, NULL, 0);
	unlink(sock);
	rmdir(path);
	return fails ? 1 : 0;
}
