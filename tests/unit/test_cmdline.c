/*
 * test_cmdline — the golden QEMU argv (vm_cmdline): the default x86_64
 * config with one cold-plugged block device whose path holds a comma; the
 * same argv, and the knobs golden, built by what QEMU 7.2 and 10.0 said
 * they are (the binary's target and machine checked); and proof that the
 * argv is accepted by the real QEMU (started with -S, inspected over QMP on
 * the listening socket handed in as fd 3).  The other forms and errors:
 * test_cmdline_forms; every knob and the device rules: test_cmdline_knobs.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/golden_knobs.h"
#include "tests/unit/golden_qemu.h"
#include "tests/unit/support_cmdline.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/qemu/version.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

static const char *const golden_argv[] = {
	SCMD_QEMU,
	"-name", "guest=web,,1",
	"-uuid", SCMD_UUID,
	"-machine", "q35",
	"-accel", "tcg,thread=multi",
	"-smp", "1,sockets=4,cores=1,threads=1,maxcpus=4",
	"-m", "256M",
	"-nodefaults",
	"-no-user-config",
	"-display", "none",
	"-vga", "none",
	"-rtc", "base=utc,clock=host,driftfix=slew",
	"-global", "kvm-pit.lost_tick_policy=discard",
	"-chardev", "socket,id=qmp,fd=3,server=on,wait=off",
	"-mon", "chardev=qmp,mode=control",
	"-chardev", "file,id=console,path=/run/sandboxfs/web,,1/console.log,append=on",
	"-serial", "chardev:console",
	"-kernel", SCMD_KERNEL,
	"-initrd", SCMD_INITRD,
	"-append", "console=ttyS0 " SCMD_X86_PARAMS " quiet",
	"-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2",
	"-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=2,addr=0x3",
	"-device", "pcie-root-port,id=rp2,bus=pcie.0,chassis=3,addr=0x4",
	"-device", "pcie-root-port,id=rp3,bus=pcie.0,chassis=4,addr=0x5",
	"-blockdev", "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,"
		     "file.filename=/tmp/a,,b.img,file.read-only=off",
	"-device", "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp0,addr=0x0",
};

static void test_golden(void)
{
	struct scmd_sb f;
	scmd_init(&f, NULL);
	scmd_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"" SCMD_DISK "\"}");
	cleanup_strv struct strv argv = {0};
	cleanup_err struct err *e = NULL;
	int r = vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &scmd_golden_ctx, &argv, &e);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	CU_ASSERT_PTR_NULL(e);
	scmd_assert_argv(&argv, golden_argv, ARRAY_SIZE(golden_argv));
	scmd_release(&f);
}

/* The golden argv and the knobs golden again, built by what QEMU 7.2.22 and
 * 10.0.2 said they are (golden_qemu.h): no form differs between the two,
 * so both argvs are the goldens, the binary aside.  What the builder does
 * check by them: the binary's target and its machine type; the facts of
 * another binary than the config's are not used. */
#define QEMU10 "/opt/qemu-10/bin/qemu-system-x86_64"

static void build_with(const char *qemu, const struct vm_qemu_caps *q, const char *const *want,
		       size_t n, bool knobs)
{
	struct scmd_sb f;
	if (knobs) {
		scmd_make_nv_img();
		scmd_init_config(&f, KNOBS_CONFIG);
		static const char *const devs[] = { KNOBS_DEVICES };
		for (size_t i = 0; i < ARRAY_SIZE(devs); i++)
			scmd_add(&f, devs[i]);
	} else {
		scmd_init(&f, NULL);
		scmd_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"" SCMD_DISK "\"}");
	}
	cleanup_free char *set = xasprintf("{\"qemu\":\"%s\"}", qemu);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&f.cfg, set, false, &e), 0);
	struct vm_fdplan fds = {0};
	struct vm_cmdline_ctx ctx = knobs ? (struct vm_cmdline_ctx){ .name = KNOBS_NAME,
					     .console_log = KNOBS_CONSOLE_LOG, .fds = &fds }
					  : scmd_golden_ctx;
	ctx.qemu = q;
	cleanup_strv struct strv argv = {0};
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &ctx, &argv, &e), 0);
	const char *w[128];
	CU_ASSERT_FATAL(n <= ARRAY_SIZE(w));
	memcpy(w, want, n * sizeof(*w));
	w[0] = qemu;
	scmd_assert_argv(&argv, w, n);
	vm_fdplan_release(&fds);
	scmd_release(&f);
	if (knobs)
		unlink(KNOBS_NV_IMG);
}

static void test_golden_per_qemu(void)
{
	struct vm_qemu_caps q72, q10, ppc, bare;
	CU_ASSERT_FATAL(sqemu_caps_from(SCMD_QEMU, GOLDEN_QEMU72_VERSION, GOLDEN_QEMU_TARGET_X86,
					GOLDEN_QEMU72_MACHINES, &q72));
	CU_ASSERT_FATAL(sqemu_caps_from(QEMU10, GOLDEN_QEMU10_VERSION, GOLDEN_QEMU_TARGET_X86,
					GOLDEN_QEMU10_MACHINES, &q10));
	static const char *const knobs[] = { KNOBS_WANT };
	build_with(SCMD_QEMU, &q72, golden_argv, ARRAY_SIZE(golden_argv), false);
	build_with(QEMU10, &q10, golden_argv, ARRAY_SIZE(golden_argv), false);
	build_with(SCMD_QEMU, &q72, knobs, ARRAY_SIZE(knobs), true);
	build_with(QEMU10, &q10, knobs, ARRAY_SIZE(knobs), true);
	/* the facts of 10.0 for the config's 7.2 binary: not its facts, unused */
	build_with(SCMD_QEMU, &q10, golden_argv, ARRAY_SIZE(golden_argv), false);

	/* a ppc64 emulator named as the x86_64 config's qemu; one without q35 */
	CU_ASSERT_FATAL(sqemu_caps_from("/usr/bin/qemu-system-ppc64", GOLDEN_QEMU10_VERSION,
					GOLDEN_QEMU_TARGET_PPC, "[]", &ppc));
	CU_ASSERT_FATAL(sqemu_caps_from(QEMU10, GOLDEN_QEMU10_VERSION, GOLDEN_QEMU_TARGET_X86,
					"[{\"name\": \"microvm\"}]", &bare));
	const struct { const char *qemu; const struct vm_qemu_caps *q; const char *msg; } bad[] = {
		{ "/usr/bin/qemu-system-ppc64", &ppc, "is QEMU 10.0.2 for ppc64 guests, not x86_64" },
		{ QEMU10, &bare, "machine: " QEMU10 " (QEMU 10.0.2) has no machine type q35" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct scmd_sb f;
		scmd_init(&f, NULL);
		cleanup_free char *set = xasprintf("{\"qemu\":\"%s\"}", bad[i].qemu);
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_config_merge(&f.cfg, set, false, &e), 0);
		struct vm_cmdline_ctx ctx = scmd_golden_ctx;
		ctx.qemu = bad[i].q;
		cleanup_strv struct strv argv = {0};
		CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, NULL, 0, &ctx, &argv, &e), -EINVAL);
		CU_ASSERT_EQUAL(argv.n, 0);
		CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, bad[i].msg));
		if (e && !strstr(e->msg, bad[i].msg))
			fprintf(stderr, "\n  got '%s'\n  want '%s'\n", e->msg, bad[i].msg);
		scmd_release(&f);
	}
}

/* ---- the real QEMU ---- */

/* One line from fd into *line (without '\n'); buffered in *buf. */
static int read_line(int fd, struct sbuf *buf, char **line, int timeout_ms)
{
	int64_t deadline = util_now_ms() + timeout_ms;
	for (;;) {
		char *nl = buf->s ? memchr(buf->s, '\n', buf->len) : NULL;
		if (nl) {
			*line = xstrndup(buf->s, (size_t)(nl - buf->s));
			size_t rest = buf->len - (size_t)(nl + 1 - buf->s);
			memmove(buf->s, nl + 1, rest);
			buf->len = rest;
			buf->s[rest] = '\0';
			return 0;
		}
		int left = (int)(deadline - util_now_ms());
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, left) <= 0)
			continue;
		char tmp[65536];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		sbuf_addn(buf, tmp, (size_t)n);
	}
}

/* Run one QMP command; the "return" member (new reference) or NULL. */
static struct json_object *qmp(int fd, struct sbuf *buf, const char *cmd)
{
	cleanup_free char *msg = xasprintf("%s\n", cmd);
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) != (ssize_t)strlen(msg))
		return NULL;
	for (;;) {
		cleanup_free char *line = NULL;
		if (read_line(fd, buf, &line, 5000) < 0)
			return NULL;
		cleanup_json struct json_object *o = json_tokener_parse(line);
		struct json_object *ret;
		if (!o || json_object_object_get_ex(o, "event", NULL))
			continue;
		if (json_object_object_get_ex(o, "error", NULL)) {
			fprintf(stderr, "\n  QMP %s: %s\n", cmd, line);
			return NULL;
		}
		if (json_object_object_get_ex(o, "return", &ret))
			return json_object_get(ret);
	}
}

static struct json_object *jget(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v = jget(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* The disk of the golden argv (1 MiB); true when it was made here (and is
 * to be removed at the end), false when it was there already. */
static bool make_disk(void)
{
	int dfd = open(SCMD_DISK, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (dfd < 0)
		return false;
	CU_ASSERT_EQUAL(ftruncate(dfd, 1 << 20), 0);
	close(dfd);
	return true;
}

/* The golden sandbox with `qemu` as its binary and its console log at
 * `log`, built, into *f and (as QEMU is given it) *argv. */
static void build_paused(struct scmd_sb *f, const char *qemu, const char *log, struct strv *argv)
{
	scmd_init(f, NULL);
	scmd_add(f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"" SCMD_DISK "\"}");
	cleanup_free char *set = xasprintf("{\"qemu\":\"%s\"}", qemu);
	cleanup_err struct err *se = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&f->cfg, set, false, &se), 0);
	struct vm_cmdline_ctx ctx = { .name = "web,1", .console_log = log, .qemu = sqemu_qemu(qemu) };
	cleanup_strv struct strv built = {0};
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f->cfg, &f->topo, f->devs, f->n, &ctx, &built, &e), 0);

	/* The guest kernel may not be built yet, and -kernel must name a real
	 * bootable image, so this check drops -kernel/-initrd/-append; every
	 * other argument is passed exactly as built.  -S: never run the guest. */
	sqemu_argv_paused(&built, argv);
}

/* The QMP listening socket at sa, to be handed to QEMU as fd 3
 * (VM_QMP_FD). */
static int listen_at(const struct sockaddr_un *sa)
{
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_FATAL(bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) == 0);
	CU_ASSERT_FATAL(listen(lfd, 1) == 0);
	return lfd;
}

/* Over QMP (capabilities negotiated here): the name and uuid as given, the
 * root ports where the topology put them. */
static void check_machine(int cfd, struct sbuf *buf)
{
	cleanup_json struct json_object *caps = qmp(cfd, buf, "{\"execute\":\"qmp_capabilities\"}");
	CU_ASSERT_PTR_NOT_NULL(caps);

	/* -name kept its comma: the escaping reached QEMU intact */
	cleanup_json struct json_object *name = qmp(cfd, buf, "{\"execute\":\"query-name\"}");
	CU_ASSERT_STRING_EQUAL(jstr(name, "name"), "web,1");
	cleanup_json struct json_object *uuid = qmp(cfd, buf, "{\"execute\":\"query-uuid\"}");
	CU_ASSERT_STRING_EQUAL(jstr(uuid, "UUID"), SCMD_UUID);

	/* root ports rp0..rp3 at 00:02.0..00:05.0 */
	cleanup_json struct json_object *pci = qmp(cfd, buf, "{\"execute\":\"query-pci\"}");
	CU_ASSERT_PTR_NOT_NULL(pci);
	int ports = 0;
	struct json_object *bus0 = pci ? json_object_array_get_idx(pci, 0) : NULL;
	struct json_object *devs = jget(bus0, "devices");
	for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
		struct json_object *dv = json_object_array_get_idx(devs, i);
		const char *qid = jstr(dv, "qdev_id");
		if (strncmp(qid, "rp", 2) != 0)
			continue;
		int n = atoi(qid + 2);
		CU_ASSERT_EQUAL(json_object_get_int(jget(dv, "slot")), 2 + n);
		CU_ASSERT_EQUAL(json_object_get_int(jget(dv, "function")), 0);
		CU_ASSERT_PTR_NOT_NULL(jget(dv, "pci_bridge"));
		ports++;
	}
	CU_ASSERT_EQUAL(ports, 4);
}

/* Over QMP: the disk d1 on rp0 at 00.0, and its block node. */
static void check_disk(int cfd, struct sbuf *buf)
{
	/* Before firmware runs no secondary bus numbers are assigned, so
	 * query-pci cannot list the disk: ask QOM where it sits. */
	cleanup_json struct json_object *pbus = qmp(cfd, buf,
		"{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/d1\","
		"\"property\":\"parent_bus\"}}");
	CU_ASSERT_STRING_EQUAL(pbus ? json_object_get_string(pbus) : "",
			       "/machine/peripheral/rp0/rp0");
	cleanup_json struct json_object *addr = qmp(cfd, buf,
		"{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/d1\","
		"\"property\":\"addr\"}}");
	CU_ASSERT_PTR_NOT_NULL(addr);
	CU_ASSERT_EQUAL(addr ? json_object_get_int(addr) : -1, 0); /* devfn 00.0 */
	cleanup_json struct json_object *type = qmp(cfd, buf,
		"{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/d1\","
		"\"property\":\"type\"}}");
	CU_ASSERT_STRING_EQUAL(type ? json_object_get_string(type) : "", "virtio-blk-pci");

	/* the block node, its file name with the comma, attached to d1 */
	cleanup_json struct json_object *blk = qmp(cfd, buf, "{\"execute\":\"query-block\"}");
	bool found = false;
	for (size_t i = 0; blk && i < json_object_array_length(blk); i++) {
		struct json_object *b = json_object_array_get_idx(blk, i);
		struct json_object *ins = jget(b, "inserted");
		if (strcmp(jstr(ins, "node-name"), "drive-d1") != 0)
			continue;
		found = true;
		CU_ASSERT_STRING_EQUAL(jstr(ins, "file"), SCMD_DISK);
		CU_ASSERT_STRING_EQUAL(jstr(ins, "drv"), "raw");
		CU_ASSERT_EQUAL(json_object_get_boolean(jget(ins, "ro")), false);
		CU_ASSERT_STRING_EQUAL(jstr(b, "qdev"), "/machine/peripheral/d1/virtio-backend");
	}
	CU_ASSERT(found);
}

static void test_real_qemu(void)
{
	cleanup_free char *qemu = sqemu_binary("qemu-system-x86_64");
	if (access(qemu, X_OK) != 0) {
		unit_skip("qemu-system-x86_64", "%s not found, real-QEMU check not run", qemu);
		return;
	}
	char dir[] = "/tmp/sbfs-cmdline-XXXXXX";
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	cleanup_free char *log = xasprintf("%s/console,1.log", dir);
	cleanup_free char *sock = xasprintf("%s/qmp.sock", dir);

	/* The disk of the golden argv; removed at the end only if made here. */
	bool made_disk = make_disk();
	struct scmd_sb f;
	cleanup_strv struct strv argv = {0};
	build_paused(&f, qemu, log, &argv);

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int lfd = listen_at(&sa);
	pid_t pid = sqemu_spawn(argv.v, lfd, NULL, NULL, NULL);
	CU_ASSERT_FATAL(pid >= 0);

	int cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT(cfd >= 0);
	CU_ASSERT(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cleanup_sbuf struct sbuf buf = {0};
	cleanup_free char *greeting = NULL;
	int r = read_line(cfd, &buf, &greeting, 5000);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT(greeting && strstr(greeting, "\"QMP\""));
	if (r == 0) {
		check_machine(cfd, &buf);
		check_disk(cfd, &buf);

		/* the console log was opened at the escaped path */
		struct stat st;
		CU_ASSERT_EQUAL(stat(log, &st), 0);

		cleanup_json struct json_object *q = qmp(cfd, &buf, "{\"execute\":\"quit\"}");
		(void)q;
	} else {
		fprintf(stderr, "\n  QEMU gave no QMP greeting (see its stderr above)\n");
	}
	close(cfd);

	int status = 0;
	if (sqemu_reap(pid, 5000, &status) < 0) {
		CU_FAIL("QEMU did not quit");
	} else {
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	scmd_release(&f);
	unlink(log);
	unlink(sock);
	rmdir(dir);
	if (made_disk)
		unlink(SCMD_DISK);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "golden", test_golden },
		{ "golden_per_qemu: QEMU 7.2 and 10.0 get the same argv; target and machine checked",
		  test_golden_per_qemu },
		{ "real_qemu", test_real_qemu },
	};
	int rc = unit_main("vm_cmdline", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
