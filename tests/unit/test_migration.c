/*
 * test_migration — the pieces of save, restore and migration that need no
 * guest: the tcp:HOST:PORT grammar; versioned machine types and their
 * families per architecture; the argv of a restore (-incoming defer last),
 * of memory_file (a memfd the daemon makes) and of a clone (the template
 * mapped private, read-only); the capabilities and parameters sent (fake
 * QMP, with a refusal); and, against the REAL QEMU (-machine none), a
 * stream out to a file over fd: and back into a second QEMU that waits
 * with -incoming defer.  The real-QEMU case is skipped without
 * qemu-system-x86_64.
 * test-timeout: 120
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "vm/model/config.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/migration.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_fakeqmp.h"
#include "tests/unit/support_qemu.h"

#define QEMU "/usr/bin/qemu-system-x86_64"

static void test_addr(void)
{
	static const struct { const char *a; int port; } good[] = {
		{"tcp:127.0.0.1:4444", 4444}, {"tcp:[::1]:80", 80}, {"tcp:node-b.example:65535", 65535},
		{"tcp:0.0.0.0:1", 1}, {"tcp:[fe80::1:2]:49152", 49152},
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct err *e = NULL;
		int port = 0;
		CU_ASSERT_EQUAL(vm_migration_parse_addr(good[i].a, &port, &e), 0);
		CU_ASSERT_EQUAL(port, good[i].port);
		err_free(&e);
	}
	static const char *const bad[] = {
		"tcp:127.0.0.1", "tcp:127.0.0.1:", "tcp::80", "tcp:h:0", "tcp:h:65536", "tcp:h:080",
		"tcp:h:-1", "tcp:h:+1", "tcp:h:1x", "unix:/x", "exec:cat", "fd:3", "file:/x",
		"tcp:[zz]:1", "tcp:a b:1", "tcp:[::1]", "tcp:[::1]80", "tcp", "",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct err *e = NULL;
		int port = -1;
		CU_ASSERT_EQUAL(vm_migration_parse_addr(bad[i], &port, &e), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(e);
		CU_ASSERT_EQUAL(port, -1);
		err_free(&e);
	}
	struct err *e = NULL;
	int port;
	vm_migration_parse_addr("tcp:127.0.0.1", &port, &e);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "without a port"));
	err_free(&e);
	CU_ASSERT_TRUE(vm_migration_over("completed") && vm_migration_over("failed") &&
		       vm_migration_over("cancelled"));
	CU_ASSERT_FALSE(vm_migration_over("active") || vm_migration_over("setup") ||
			vm_migration_over("none"));
}

static void test_machine_family(void)
{
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_x86_64, "pc-q35-7.2"), "q35");
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_x86_64, "pc-i440fx-10.0"), "pc");
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_x86_64, "q35"), "q35");
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_x86_64, "pc-q35-7"), "pc-q35-7");
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_x86_64, "pc-q35-7.2x"), "pc-q35-7.2x");
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_x86_64, "virt-7.2"), "virt-7.2");
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_aarch64, "virt-7.2"), "virt");
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_ppc64le, "pseries-10.0"), "pseries");
	CU_ASSERT_STRING_EQUAL(arch_machine_family(&arch_s390x, "s390-ccw-virtio-7.2"), "s390-ccw-virtio");
	CU_ASSERT_TRUE(arch_machine_versioned(&arch_x86_64, "pc-q35-7.2"));
	CU_ASSERT_FALSE(arch_machine_versioned(&arch_x86_64, "q35"));
	CU_ASSERT_EQUAL(arch_ppc64le.migration_qemu_min, 1000);
	CU_ASSERT_EQUAL(arch_x86_64.migration_qemu_min, 0);

	/* The config takes a versioned type and judges it as its family. */
	struct vm_config c;
	vm_config_init(&c);
	struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_config_merge(&c, "{\"machine\":\"pc-q35-7.2\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(vm_config_machine_family(&c), "q35");
	CU_ASSERT_STRING_EQUAL(vm_config_qemu_binary(&c), QEMU);
	CU_ASSERT_EQUAL(vm_config_merge(&c, "{\"machine\":\"pc-i440fx-7.2\",\"root_ports\":0}", false, &e), 0);
	CU_ASSERT_EQUAL(vm_config_merge(&c, "{\"pci_bridges\":1,\"vga\":\"std\"}", false, &e), -EINVAL);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_config_merge(&c, "{\"machine\":\"pc-q35-x.y\"}", false, &e), -EINVAL);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_config_merge(&c, "{\"memory_file\":true,\"hugepages\":true}", false, &e), -EINVAL);
	err_free(&e);
	vm_config_release(&c);
}

/* The argv of `c` as start would run it, with ctx's extras. */
static void build(const struct vm_config *c, struct vm_cmdline_ctx *ctx, struct strv *argv,
		  struct vm_fdplan *plan)
{
	struct vm_topology t;
	vm_config_topology(c, &t);
	struct err *e = NULL;
	ctx->name = "m";
	ctx->console_log = "/tmp/console.log";
	ctx->fds = plan;
	CU_ASSERT_EQUAL(vm_cmdline_build(c, &t, NULL, 0, ctx, argv, &e), 0);
	if (e)
		fprintf(stderr, "%s\n", e->msg);
	err_free(&e);
	vm_topology_release(&t);
}

static const char *after(const struct strv *v, const char *opt, const char *prefix)
{
	for (size_t i = 0; i + 1 < v->n; i++)
		if (!strcmp(v->v[i], opt) && !strncmp(v->v[i + 1], prefix, strlen(prefix)))
			return v->v[i + 1];
	return NULL;
}

static void test_cmdline(void)
{
	struct vm_config c;
	vm_config_init(&c);
	struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_config_merge(&c, "{\"memory_file\":true}", false, &e), 0);
	struct strv v = {0};
	struct vm_fdplan plan = {0};
	struct vm_cmdline_ctx ctx = {.pass_files = true, .confine = true, .cfg_owner = &cred_root};
	build(&c, &ctx, &v, &plan);
	const char *m = after(&v, "-object", "memory-backend-file");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_TRUE(strstr(m, ",mem-path=/proc/self/fd/") && strstr(m, ",share=on"));
	CU_ASSERT_PTR_NOT_NULL(after(&v, "-numa", "node,memdev=dimm1"));
	bool memfd = false;
	for (size_t i = 0; i < plan.n; i++)
		memfd |= plan.v[i].src == VM_FD_MEMFD && plan.v[i].size == 256LL << 20 &&
			 plan.v[i].ref == VM_FD_REF_PROC;
	CU_ASSERT_TRUE(memfd);
	CU_ASSERT_PTR_NULL(after(&v, "-incoming", ""));
	strv_release(&v);
	vm_fdplan_release(&plan);

	/* A clone: the template file, private and read-only; -incoming last. */
	ctx = (struct vm_cmdline_ctx){.pass_files = true, .confine = true, .cfg_owner = &cred_root,
				      .incoming = true, .ram_template = "/srv/t/memory",
				      .ram_owner = &cred_root};
	build(&c, &ctx, &v, &plan);
	m = after(&v, "-object", "memory-backend-file");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_TRUE(strstr(m, ",share=off,readonly=on,rom=off") != NULL);
	bool file = false;
	for (size_t i = 0; i < plan.n; i++)
		file |= plan.v[i].src == VM_FD_FILE && !strcmp(plan.v[i].name, "/srv/t/memory") &&
			plan.v[i].flags == O_RDONLY;
	CU_ASSERT_TRUE(file);
	CU_ASSERT_FATAL(v.n >= 2);
	CU_ASSERT_STRING_EQUAL(v.v[v.n - 2], "-incoming");
	CU_ASSERT_STRING_EQUAL(v.v[v.n - 1], "defer");
	strv_release(&v);
	vm_fdplan_release(&plan);
	vm_config_release(&c);
}

static bool refuse_caps;

static const char *fake(struct fakeqmp *f, const char *cmd, struct json_object *args)
{
	if (!strcmp(cmd, "migrate-set-capabilities") && refuse_caps)
		return "{\"error\":{\"class\":\"GenericError\",\"desc\":\"There's a migration process in progress\"}}";
	if (!strcmp(cmd, "migrate"))
		return "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no\"}}";
	if (!strcmp(cmd, "query-migrate"))
		return "{\"return\":{\"status\":\"active\",\"total-time\":900,\"ram\":{\"total\":1000,"
		       "\"transferred\":700,\"remaining\":250,\"dirty-pages-rate\":12}}}";
	return "{\"return\":{}}";
}

static void test_fake_qmp(void)
{
	struct fakeqmp fq;
	int cfd = fakeqmp_start(&fq, fake, NULL);
	struct qmp_client *c = NULL;
	struct err *e = NULL;
	CU_ASSERT_FATAL(qmp_client_open(cfd, &(struct qmp_callbacks){0}, 2000, &c, &e) == 0);
	struct vm_migration_setup s = {.return_path = true, .auto_converge = true, .multifd_channels = 4,
				       .max_bandwidth = 8 << 20, .downtime_limit_ms = 500};
	CU_ASSERT_EQUAL(vm_migration_prepare(c, &s, 2000, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "migrate-set-capabilities",
				      "{\"capability\":\"events\",\"state\":true}"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "migrate-set-capabilities",
				      "{\"capability\":\"return-path\",\"state\":true}"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "migrate-set-capabilities",
				      "{\"capability\":\"x-ignore-shared\",\"state\":false}"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "migrate-set-capabilities",
				      "{\"capability\":\"multifd\",\"state\":true}"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "migrate-set-parameters", "\"max-bandwidth\":8388608"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "migrate-set-parameters", "\"multifd-channels\":4"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "migrate-set-parameters", "\"downtime-limit\":500"), 1);
	struct vm_migration_progress p;
	CU_ASSERT_EQUAL(vm_migration_query(c, 2000, &p, &e), 0);
	CU_ASSERT_STRING_EQUAL(p.status, "active");
	CU_ASSERT_EQUAL(p.percent, 75);
	CU_ASSERT_EQUAL(p.transferred, 700);
	CU_ASSERT_EQUAL(p.dirty_rate, 12);
	CU_ASSERT_EQUAL(p.total_ms, 900);
	/* A stream QEMU refuses: its descriptor is closed again. */
	int pfd[2];
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	CU_ASSERT_EQUAL(vm_migration_start_fd(c, "sbfs-save", pfd[1], false, 2000, &e), -EIO);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "migrate fd:sbfs-save"));
	err_free(&e);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "closefd", "sbfs-save"), 1);
	refuse_caps = true;
	CU_ASSERT_EQUAL(vm_migration_prepare(c, &s, 2000, &e), -EIO);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "migrate-set-capabilities"));
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "migrate-set-parameters", NULL), 1);
	err_free(&e);
	close(pfd[0]);
	close(pfd[1]);
	qmp_client_unref(c);
	fakeqmp_stop(&fq);
}

/* A QEMU of the machine "none", paused, its QMP on a socket in `dir`. */
static pid_t none_qemu(const char *dir, const char *name, bool incoming, struct qmp_client **c)
{
	char sock[256];
	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, name);
	int l = sqemu_listen(sock);
	char *const out[] = {QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-S",
			     "-chardev", "socket,id=qmp,fd=3,server=on,wait=off", "-mon",
			     "chardev=qmp,mode=control", NULL, NULL, NULL};
	char *argv[ARRAY_SIZE(out)];
	memcpy(argv, out, sizeof(out));
	if (incoming) {
		argv[11] = "-incoming";
		argv[12] = "defer";
	}
	pid_t pid = l < 0 ? -1 : sqemu_spawn(argv, l, NULL, NULL, NULL);
	if (pid < 0 || sqemu_connect(sock, 10000, name, NULL, NULL, c) < 0)
		return -1;
	return pid;
}

static void wait_over(struct qmp_client *c, struct vm_migration_progress *p)
{
	struct err *e = NULL;
	for (int i = 0; i < 200; i++) {
		CU_ASSERT_EQUAL_FATAL(vm_migration_query(c, 2000, p, &e), 0);
		if (vm_migration_over(p->status))
			return;
		usleep(50000);
	}
}

static void test_real_round_trip(void)
{
	if (access(QEMU, X_OK) < 0) {
		unit_skip(QEMU, "not installed: the real stream was not tried");
		return;
	}
	char dir[] = "/tmp/sandboxfs-mig.XXXXXX";
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	char file[300];
	snprintf(file, sizeof(file), "%s/state", dir);
	struct qmp_client *src = NULL, *dst = NULL;
	pid_t ps = none_qemu(dir, "src", false, &src);
	CU_ASSERT_FATAL(ps > 0);
	struct err *e = NULL;
	struct vm_migration_setup s = {.max_bandwidth = 1LL << 40};
	CU_ASSERT_EQUAL(vm_migration_prepare(src, &s, 5000, &e), 0);
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CU_ASSERT_EQUAL(vm_migration_start_fd(src, "out", fd, false, 5000, &e), 0);
	close(fd);
	struct vm_migration_progress p = {0};
	wait_over(src, &p);
	CU_ASSERT_STRING_EQUAL(p.status, "completed");
	CU_ASSERT_EQUAL(p.percent, 100);
	struct stat st;
	CU_ASSERT_TRUE(stat(file, &st) == 0 && st.st_size > 0);
	sqemu_stop(src, ps, NULL);

	pid_t pd = none_qemu(dir, "dst", true, &dst);
	CU_ASSERT_FATAL(pd > 0);
	CU_ASSERT_EQUAL(vm_migration_prepare(dst, &s, 5000, &e), 0);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_EQUAL(vm_migration_start_fd(dst, "in", fd, true, 5000, &e), 0);
	if (e)
		fprintf(stderr, "incoming: %s\n", e->msg);
	err_free(&e);
	close(fd);
	wait_over(dst, &p);
	CU_ASSERT_STRING_EQUAL(p.status, "completed");
	sqemu_stop(dst, pd, NULL);
	unlink(file);
	char sock[300];
	snprintf(sock, sizeof(sock), "%s/src.sock", dir);
	unlink(sock);
	snprintf(sock, sizeof(sock), "%s/dst.sock", dir);
	unlink(sock);
	rmdir(dir);
}

int main(void)
{
	struct vm_defaults d = {.guest_kernel = "/boot/vmlinuz", .guest_initrd = "/boot/initrd.img"};
	vm_config_set_defaults(&d);
	static const struct unit_test tests[] = {
		{ "tcp:HOST:PORT grammar", test_addr },
		{ "versioned machine types and their families", test_machine_family },
		{ "argv of memory_file, a clone and -incoming", test_cmdline },
		{ "capabilities, parameters, progress over (fake) QMP", test_fake_qmp },
		{ "a stream to a file and back (real QEMU)", test_real_round_trip },
	};
	return unit_main("migration", tests, ARRAY_SIZE(tests));
}
