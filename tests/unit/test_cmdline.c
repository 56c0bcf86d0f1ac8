/*
 * test_cmdline — the QEMU argv (vm_cmdline): a golden argv for the default
 * x86_64 config with one cold-plugged block device whose path holds a
 * comma, the composed kernel command line, error cases, and proof that the
 * argv is accepted by the real QEMU (started with -S, inspected over QMP on
 * the listening socket handed in as fd 3).
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

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/golden_knobs.h"
#include "tests/unit/golden_qemu.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/qemu/version.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

#define KERNEL "/opt/sandboxfs/guest/vmlinuz"
#define INITRD "/opt/sandboxfs/guest/initramfs.cpio.gz"
#define QEMU "/usr/bin/qemu-system-x86_64"
#define UUID KNOBS_UUID
#define DISK "/tmp/a,b.img"
#define ARCH_PARAMS                                                                         \
	"tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 " \
	"i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests "               \
	"net.ifnames=0 panic=1"

/* A sandbox: config, topology and devices, as the daemon holds them. */
struct fixture {
	struct vm_config cfg;
	struct vm_topology topo;
	struct vm_device *devs[16];
	size_t ndevs;
};

static void fixture_init(struct fixture *f, const char *extra_json)
{
	struct vm_defaults d = { .guest_kernel = KERNEL, .guest_initrd = INITRD, .accel = NULL };
	vm_config_set_defaults(&d);
	memset(f, 0, sizeof(*f));
	vm_config_init(&f->cfg);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&f->cfg, "{\"uuid\":\"" UUID "\"}", false, &e), 0);
	if (extra_json)
		CU_ASSERT_EQUAL_FATAL(vm_config_merge(&f->cfg, extra_json, false, &e), 0);
	vm_topology_init(&f->topo, vm_config_arch(&f->cfg), f->cfg.root_ports);
}

/* fixture_init, the topology then built from the whole config (bridges
 * too, not only root ports), as the daemon builds it. */
static void fixture_init_config(struct fixture *f, const char *extra_json)
{
	fixture_init(f, extra_json);
	vm_topology_release(&f->topo);
	vm_config_topology(&f->cfg, &f->topo);
}

/* Parse a device and, if it has a PCI function, place it in the first
 * free slot — as the daemon does (vm/sandbox/devices.c admit); an nvdimm
 * image or the vIOMMU takes no bridge slot. */
static struct vm_device *fixture_add(struct fixture *f, const char *spec)
{
	cleanup_err struct err *e = NULL;
	struct vm_device *d = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_parse(spec, &d, &e), 0);
	if (vm_device_is_pci(d))
		CU_ASSERT_EQUAL_FATAL(vm_topology_alloc(&f->topo, d->id, &d->bridge, &d->slot, &e), 0);
	f->devs[f->ndevs++] = d;
	return d;
}

static void fixture_release(struct fixture *f)
{
	for (size_t i = 0; i < f->ndevs; i++)
		vm_device_free(f->devs[i]);
	vm_topology_release(&f->topo);
	vm_config_release(&f->cfg);
}

static const struct vm_cmdline_ctx golden_ctx = {
	.name = "web,1",
	.console_log = "/run/sandboxfs/web,1/console.log",
};

static const char *const golden_argv[] = {
	QEMU,
	"-name", "guest=web,,1",
	"-uuid", UUID,
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
	"-kernel", KERNEL,
	"-initrd", INITRD,
	"-append", "console=ttyS0 " ARCH_PARAMS " quiet",
	"-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2",
	"-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=2,addr=0x3",
	"-device", "pcie-root-port,id=rp2,bus=pcie.0,chassis=3,addr=0x4",
	"-device", "pcie-root-port,id=rp3,bus=pcie.0,chassis=4,addr=0x5",
	"-blockdev", "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,"
		     "file.filename=/tmp/a,,b.img,file.read-only=off",
	"-device", "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp0,addr=0x0",
};

/* The argv is exactly want[0..n) and NULL-terminated. */
static void assert_argv(const struct strv *got, const char *const *want, size_t n)
{
	unit_assert_strv(got, want, n);
	CU_ASSERT_PTR_NULL(got->v ? got->v[got->n] : NULL);
}

static void test_golden(void)
{
	struct fixture f;
	fixture_init(&f, NULL);
	fixture_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"" DISK "\"}");
	cleanup_strv struct strv argv = {0};
	cleanup_err struct err *e = NULL;
	int r = vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &golden_ctx, &argv, &e);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	CU_ASSERT_PTR_NULL(e);
	assert_argv(&argv, golden_argv, ARRAY_SIZE(golden_argv));
	fixture_release(&f);
}

static void test_variants(void)
{
	/* cpu model, no initrd, other sizes, debug, user params, two devices on
	 * non-adjacent bridges (rp1 is taken by a restored reservation) */
	struct fixture f;
	fixture_init(&f, "{\"cpu_model\":\"max\",\"initrd\":\"\",\"vcpus\":2,\"maxvcpus\":8,"
			 "\"memory_mib\":1024,\"debug\":true,\"root_ports\":3,\"accel\":\"kvm\","
			 "\"kernel_params\":\"init=/bin/sh a,b=c\",\"kernel\":\"/k,1/bzImage\"}");
	cleanup_err struct err *e = NULL;
	fixture_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/x.img\",\"readonly\":true}");
	CU_ASSERT_EQUAL_FATAL(vm_topology_reserve(&f.topo, 1, 0, "other", &e), 0);
	fixture_add(&f, "{\"type\":\"block\",\"id\":\"d2\",\"file\":\"/y.qcow2\",\"format\":\"qcow2\"}");
	CU_ASSERT_EQUAL(f.devs[1]->bridge, 2);

	struct vm_cmdline_ctx ctx = { .name = "vm", .console_log = "/c.log" };
	cleanup_strv struct strv argv = {0};
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &ctx, &argv, &e), 0);
	static const char *const want[] = {
		QEMU,
		"-name", "guest=vm",
		"-uuid", UUID,
		"-machine", "q35",
		"-accel", "kvm",
		"-cpu", "max",
		"-smp", "2,sockets=8,cores=1,threads=1,maxcpus=8",
		"-m", "1024M",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-vga", "none", "-rtc", "base=utc,clock=host,driftfix=slew",
		"-global", "kvm-pit.lost_tick_policy=discard",
		"-chardev", "socket,id=qmp,fd=3,server=on,wait=off",
		"-mon", "chardev=qmp,mode=control",
		"-chardev", "file,id=console,path=/c.log,append=on",
		"-serial", "chardev:console",
		"-kernel", "/k,1/bzImage", /* plain argv value: not escaped */
		"-append", "console=ttyS0 " ARCH_PARAMS " debug ignore_loglevel init=/bin/sh a,b=c",
		"-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2",
		"-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=2,addr=0x3",
		"-device", "pcie-root-port,id=rp2,bus=pcie.0,chassis=3,addr=0x4",
		"-blockdev", "driver=raw,node-name=drive-d1,read-only=on,file.driver=file,"
			     "file.filename=/x.img,file.read-only=on",
		"-device", "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp0,addr=0x0",
		"-blockdev", "driver=qcow2,node-name=drive-d2,read-only=off,file.driver=file,"
			     "file.filename=/y.qcow2,file.read-only=off",
		"-device", "virtio-blk-pci,id=d2,drive=drive-d2,bus=rp2,addr=0x0",
	};
	assert_argv(&argv, want, ARRAY_SIZE(want));
	fixture_release(&f);

	/* no bridges, no devices: the argv ends with -append */
	fixture_init(&f, "{\"root_ports\":0,\"machine\":\"pc\"}");
	cleanup_strv struct strv argv2 = {0};
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, NULL, 0, &ctx, &argv2, &e), 0);
	CU_ASSERT_EQUAL_FATAL(argv2.n, 37);
	CU_ASSERT_STRING_EQUAL(argv2.v[6], "pc");
	CU_ASSERT_STRING_EQUAL(argv2.v[35], "-append");
	fixture_release(&f);
}

static void test_kernel_params(void)
{
	struct fixture f;
	fixture_init(&f, NULL);
	cleanup_free char *p0 = vm_cmdline_kernel_params(&f.cfg, NULL, 0);
	CU_ASSERT_STRING_EQUAL(p0, "console=ttyS0 " ARCH_PARAMS " quiet");
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_config_merge(&f.cfg, "{\"debug\":true}", false, &e), 0);
	cleanup_free char *p1 = vm_cmdline_kernel_params(&f.cfg, NULL, 0);
	CU_ASSERT_STRING_EQUAL(p1, "console=ttyS0 " ARCH_PARAMS " debug ignore_loglevel");
	/* user params last, so they win (e.g. a second console=, panic=) */
	CU_ASSERT_EQUAL(vm_config_merge(&f.cfg, "{\"debug\":false,\"kernel_params\":\"panic=0 console=hvc0\"}",
					false, &e), 0);
	cleanup_free char *p2 = vm_cmdline_kernel_params(&f.cfg, NULL, 0);
	CU_ASSERT_STRING_EQUAL(p2, "console=ttyS0 " ARCH_PARAMS " quiet panic=0 console=hvc0");
	fixture_release(&f);
}

static void test_errors(void)
{
	struct fixture f;
	fixture_init(&f, NULL);
	cleanup_err struct err *e = NULL;
	struct vm_device *d = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"block\",\"id\":\"loose\",\"file\":\"/f\"}",
					      &d, &e), 0);
	f.devs[f.ndevs++] = d;

	/* an unplaced device: EINVAL, and the caller's argv is untouched */
	cleanup_strv struct strv argv = {0};
	CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &golden_ctx, &argv, &e),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "device loose: not placed"));
	CU_ASSERT_EQUAL(argv.n, 0);
	/* a bridge index beyond the topology */
	d->bridge = 4;
	d->slot = 0;
	err_free(&e);
	CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &golden_ctx, &argv, &e),
			-EINVAL);
	CU_ASSERT_EQUAL(argv.n, 0);

	/* control characters in name or log path */
	struct vm_cmdline_ctx bad_name = { .name = "a\nb", .console_log = "/c" };
	err_free(&e);
	CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, NULL, 0, &bad_name, &argv, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "name: must not contain newlines"));
	struct vm_cmdline_ctx bad_log = { .name = "a", .console_log = "/c\x01" };
	CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, NULL, 0, &bad_log, &argv, &e), -EINVAL);

	/* an invalid config never reaches the command line */
	f.cfg.vcpus = 9;
	err_free(&e);
	CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, NULL, 0, &golden_ctx, &argv, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "vcpus: 9 exceeds maxvcpus (4)"));
	CU_ASSERT_EQUAL(argv.n, 0);
	fixture_release(&f);
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
	bool made_disk = false;
	int dfd = open(DISK, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (dfd >= 0) {
		made_disk = true;
		CU_ASSERT_EQUAL(ftruncate(dfd, 1 << 20), 0);
		close(dfd);
	}

	struct fixture f;
	fixture_init(&f, NULL);
	fixture_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"" DISK "\"}");
	cleanup_free char *set = xasprintf("{\"qemu\":\"%s\"}", qemu);
	cleanup_err struct err *se = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&f.cfg, set, false, &se), 0);
	struct vm_cmdline_ctx ctx = { .name = "web,1", .console_log = log, .qemu = sqemu_qemu(qemu) };
	cleanup_strv struct strv built = {0};
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &ctx, &built, &e), 0);

	/* The guest kernel may not be built yet, and -kernel must name a real
	 * bootable image, so this check drops -kernel/-initrd/-append; every
	 * other argument is passed exactly as built.  -S: never run the guest. */
	cleanup_strv struct strv argv = {0};
	sqemu_argv_paused(&built, &argv);

	/* The QMP listening socket, handed to QEMU as fd 3 (VM_QMP_FD). */
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(lfd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(listen(lfd, 1) == 0);

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
		cleanup_json struct json_object *caps = qmp(cfd, &buf, "{\"execute\":\"qmp_capabilities\"}");
		CU_ASSERT_PTR_NOT_NULL(caps);

		/* -name kept its comma: the escaping reached QEMU intact */
		cleanup_json struct json_object *name = qmp(cfd, &buf, "{\"execute\":\"query-name\"}");
		CU_ASSERT_STRING_EQUAL(jstr(name, "name"), "web,1");
		cleanup_json struct json_object *uuid = qmp(cfd, &buf, "{\"execute\":\"query-uuid\"}");
		CU_ASSERT_STRING_EQUAL(jstr(uuid, "UUID"), UUID);

		/* root ports rp0..rp3 at 00:02.0..00:05.0 */
		cleanup_json struct json_object *pci = qmp(cfd, &buf, "{\"execute\":\"query-pci\"}");
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

		/* Before firmware runs no secondary bus numbers are assigned, so
		 * query-pci cannot list the disk: ask QOM where it sits. */
		cleanup_json struct json_object *pbus = qmp(cfd, &buf,
			"{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/d1\","
			"\"property\":\"parent_bus\"}}");
		CU_ASSERT_STRING_EQUAL(pbus ? json_object_get_string(pbus) : "",
				       "/machine/peripheral/rp0/rp0");
		cleanup_json struct json_object *addr = qmp(cfd, &buf,
			"{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/d1\","
			"\"property\":\"addr\"}}");
		CU_ASSERT_PTR_NOT_NULL(addr);
		CU_ASSERT_EQUAL(addr ? json_object_get_int(addr) : -1, 0); /* devfn 00.0 */
		cleanup_json struct json_object *type = qmp(cfd, &buf,
			"{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/machine/peripheral/d1\","
			"\"property\":\"type\"}}");
		CU_ASSERT_STRING_EQUAL(type ? json_object_get_string(type) : "", "virtio-blk-pci");

		/* the block node, its file name with the comma, attached to d1 */
		cleanup_json struct json_object *blk = qmp(cfd, &buf, "{\"execute\":\"query-block\"}");
		bool found = false;
		for (size_t i = 0; blk && i < json_object_array_length(blk); i++) {
			struct json_object *b = json_object_array_get_idx(blk, i);
			struct json_object *ins = jget(b, "inserted");
			if (strcmp(jstr(ins, "node-name"), "drive-d1") != 0)
				continue;
			found = true;
			CU_ASSERT_STRING_EQUAL(jstr(ins, "file"), DISK);
			CU_ASSERT_STRING_EQUAL(jstr(ins, "drv"), "raw");
			CU_ASSERT_EQUAL(json_object_get_boolean(jget(ins, "ro")), false);
			CU_ASSERT_STRING_EQUAL(jstr(b, "qdev"), "/machine/peripheral/d1/virtio-backend");
		}
		CU_ASSERT(found);

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

	fixture_release(&f);
	unlink(log);
	unlink(sock);
	rmdir(dir);
	if (made_disk)
		unlink(DISK);
}

/* ---- every knob and the cross-device rules ---- */

#define NV_IMG KNOBS_NV_IMG /* 64 MiB sparse, made here */

static void make_nv_img(void)
{
	int fd = open(NV_IMG, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(ftruncate(fd, 64 << 20), 0);
	close(fd);
}

static void dump_argv(const struct strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		fprintf(stderr, "\t\t\"%s\",\n", v->v[i]);
}

static void test_knobs(void)
{
	make_nv_img();
	struct fixture f;
	fixture_init_config(&f, KNOBS_CONFIG);
	static const char *const devs[] = { KNOBS_DEVICES };
	for (size_t i = 0; i < ARRAY_SIZE(devs); i++)
		fixture_add(&f, devs[i]);
	cleanup_strv struct strv argv = {0};
	cleanup_err struct err *e = NULL;
	struct vm_fdplan fds = {0};
	struct vm_cmdline_ctx ctx = { .name = KNOBS_NAME, .console_log = KNOBS_CONSOLE_LOG, .fds = &fds };
	int r = vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &ctx, &argv, &e);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	static const char *const want[] = {
		KNOBS_WANT
	};
	assert_argv(&argv, want, ARRAY_SIZE(want));
	if (argv.n != ARRAY_SIZE(want))
		dump_argv(&argv);
	CU_ASSERT_EQUAL(fds.n, 0);
	vm_fdplan_release(&fds);
	fixture_release(&f);
	unlink(NV_IMG);
}

/* The number of descriptors this process has open. */
static int count_open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* Memory backends one at a time, realtime without mlock, pflash, and the
 * descriptor plan of a net device that passes fds. */
static void test_knob_variants(void)
{
	static const struct knob_variant cases[] = { KNOB_VARIANTS };
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fixture f;
		fixture_init_config(&f, cases[i].cfg);
		fixture_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/d1.img\"}");
		cleanup_strv struct strv argv = {0};
		cleanup_err struct err *e = NULL;
		struct vm_cmdline_ctx ctx = { .name = "vm", .console_log = "/c.log" };
		CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &ctx, &argv, &e), 0);
		bool found = false;
		for (size_t j = 0; j + 1 < argv.n; j++)
			found = found || (!strcmp(argv.v[j], cases[i].opt) &&
					  !strcmp(argv.v[j + 1], cases[i].val));
		CU_ASSERT(found);
		if (!found) {
			fprintf(stderr, "\n  %s: no %s %s in\n", cases[i].cfg, cases[i].opt, cases[i].val);
			dump_argv(&argv);
		}
		fixture_release(&f);
	}

	/* fds: numbered from 4 in device order, the plan handed back */
	struct fixture f;
	fixture_init(&f, NULL);
	fixture_add(&f, "{\"type\":\"net\",\"id\":\"n0\",\"ifname\":\"tap0\",\"queues\":2,"
			"\"vhost\":true,\"pass_fds\":true}");
	fixture_add(&f, "{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":5,\"pass_fds\":true}");
	cleanup_strv struct strv argv = {0};
	cleanup_err struct err *e = NULL;
	struct vm_fdplan fds = {0};
	struct vm_cmdline_ctx ctx = { .name = "vm", .console_log = "/c.log", .fds = &fds };
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &ctx, &argv, &e), 0);
	CU_ASSERT_STRING_EQUAL(argv.v[argv.n - 5], "tap,id=net-n0,fds=4:5,vhost=on,vhostfds=6:7");
	CU_ASSERT_STRING_EQUAL(argv.v[argv.n - 3],
			       "virtio-net-pci,id=n0,netdev=net-n0,mq=on,vectors=6,bus=rp0,addr=0x0");
	CU_ASSERT_STRING_EQUAL(argv.v[argv.n - 1], "vhost-vsock-pci,id=vs,guest-cid=5,vhostfd=8,bus=rp1,addr=0x0");
	CU_ASSERT_EQUAL_FATAL(fds.n, 5);
	CU_ASSERT_EQUAL(fds.v[0].num, 4);
	CU_ASSERT_EQUAL(fds.v[0].src, VM_FD_TUN);
	CU_ASSERT_STRING_EQUAL(fds.v[0].name, "tap0");
	CU_ASSERT_TRUE(fds.v[0].multi_queue);
	CU_ASSERT_EQUAL(fds.v[2].src, VM_FD_PATH);
	CU_ASSERT_STRING_EQUAL(fds.v[2].name, "/dev/vhost-net");
	CU_ASSERT_EQUAL(fds.v[4].num, 8);
	CU_ASSERT_STRING_EQUAL(fds.v[4].name, "/dev/vhost-vsock");
	/* opening a plan whose second device is missing fails and leaves
	 * nothing open: the first one (which did open) is closed again */
	int opened[5] = { -1, -1, -1, -1, -1 };
	struct vm_fdplan bad = {0};
	free(vm_fdplan_add(&bad, VM_FD_PATH, VM_FD_REF_NUM, "/dev/null", NULL));
	free(vm_fdplan_add(&bad, VM_FD_PATH, VM_FD_REF_NUM, "/nonexistent/dev", NULL));
	int open_before = count_open_fds();
	CU_ASSERT_EQUAL(vm_fds_open(&bad, NULL, opened, &e), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "open /nonexistent/dev"));
	CU_ASSERT_EQUAL(count_open_fds(), open_before);
	vm_fdplan_release(&bad);
	vm_fdplan_release(&fds);
	fixture_release(&f);
}

static void test_device_rules(void)
{
	make_nv_img();
	static const struct {
		const char *cfg, *dev1, *dev2, *msg;
	} cases[] = {
		{ NULL, "{\"type\":\"image\",\"id\":\"r1\",\"file\":\"" NV_IMG "\",\"as\":\"virtio-blk\"}",
		  "{\"type\":\"image\",\"id\":\"r2\",\"file\":\"" NV_IMG "\"}",
		  "device r2: type: only one root image (r1 is one already)" },
		{ NULL, "{\"type\":\"image\",\"id\":\"r1\",\"file\":\"" NV_IMG "\"}", NULL,
		  "maxmem_mib: the nvdimm image r1 (67108864 bytes) needs memory_slots >= 1 and maxmem_mib >= 320" },
		{ "{\"memory_slots\":1,\"maxmem_mib\":319}",
		  "{\"type\":\"image\",\"id\":\"r1\",\"file\":\"" NV_IMG "\"}", NULL,
		  "needs memory_slots >= 1 and maxmem_mib >= 320" },
		{ NULL, "{\"type\":\"image\",\"id\":\"r1\",\"file\":\"/nonexistent.img\"}", NULL,
		  "device r1: file /nonexistent.img" },
		{ NULL, "{\"type\":\"block\",\"id\":\"b\",\"file\":\"/f\",\"iothread\":\"iothread0\"}", NULL,
		  "device b: iothread: no such iothread iothread0 (the config has 0" },
		{ "{\"iothreads\":1}", "{\"type\":\"block\",\"id\":\"b\",\"file\":\"/f\",\"iothread\":\"io0\"}",
		  NULL, "device b: iothread: no such iothread io0" },
		{ "{\"machine\":\"pc\",\"root_ports\":0,\"pci_bridges\":1}", "{\"type\":\"iommu\",\"id\":\"i\"}",
		  NULL, "device i: type: a vIOMMU needs machine q35 (machine is pc)" },
		{ NULL, "{\"type\":\"console\",\"id\":\"c\"}", "{\"type\":\"rng\",\"id\":\"vser-c\"}",
		  "device vser-c: id: the device id 'vser-c' is already in use" },
		{ NULL, "{\"type\":\"rng\",\"id\":\"rp1\"}", NULL,
		  "device rp1: id: the device id 'rp1' is already in use" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fixture f;
		fixture_init_config(&f, cases[i].cfg);
		fixture_add(&f, cases[i].dev1);
		if (cases[i].dev2)
			fixture_add(&f, cases[i].dev2);
		cleanup_strv struct strv argv = {0};
		cleanup_err struct err *e = NULL;
		struct vm_cmdline_ctx ctx = { .name = "vm", .console_log = "/c.log" };
		int r = vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &ctx, &argv, &e);
		CU_ASSERT(r < 0);
		CU_ASSERT_EQUAL(argv.n, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, cases[i].msg));
		if (!strstr(e->msg, cases[i].msg))
			fprintf(stderr, "\n  case %zu: got '%s'\n  want '%s'\n", i, e->msg, cases[i].msg);
		fixture_release(&f);
	}
	unlink(NV_IMG);
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
	struct fixture f;
	if (knobs) {
		make_nv_img();
		fixture_init_config(&f, KNOBS_CONFIG);
		static const char *const devs[] = { KNOBS_DEVICES };
		for (size_t i = 0; i < ARRAY_SIZE(devs); i++)
			fixture_add(&f, devs[i]);
	} else {
		fixture_init(&f, NULL);
		fixture_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"" DISK "\"}");
	}
	cleanup_free char *set = xasprintf("{\"qemu\":\"%s\"}", qemu);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&f.cfg, set, false, &e), 0);
	struct vm_fdplan fds = {0};
	struct vm_cmdline_ctx ctx = knobs ? (struct vm_cmdline_ctx){ .name = KNOBS_NAME,
					     .console_log = KNOBS_CONSOLE_LOG, .fds = &fds }
					  : golden_ctx;
	ctx.qemu = q;
	cleanup_strv struct strv argv = {0};
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.ndevs, &ctx, &argv, &e), 0);
	const char *w[128];
	CU_ASSERT_FATAL(n <= ARRAY_SIZE(w));
	memcpy(w, want, n * sizeof(*w));
	w[0] = qemu;
	assert_argv(&argv, w, n);
	vm_fdplan_release(&fds);
	fixture_release(&f);
	if (knobs)
		unlink(NV_IMG);
}

static void test_golden_per_qemu(void)
{
	struct vm_qemu_caps q72, q10, ppc, bare;
	CU_ASSERT_FATAL(sqemu_caps_from(QEMU, GOLDEN_QEMU72_VERSION, GOLDEN_QEMU_TARGET_X86,
					GOLDEN_QEMU72_MACHINES, &q72));
	CU_ASSERT_FATAL(sqemu_caps_from(QEMU10, GOLDEN_QEMU10_VERSION, GOLDEN_QEMU_TARGET_X86,
					GOLDEN_QEMU10_MACHINES, &q10));
	static const char *const knobs[] = { KNOBS_WANT };
	build_with(QEMU, &q72, golden_argv, ARRAY_SIZE(golden_argv), false);
	build_with(QEMU10, &q10, golden_argv, ARRAY_SIZE(golden_argv), false);
	build_with(QEMU, &q72, knobs, ARRAY_SIZE(knobs), true);
	build_with(QEMU10, &q10, knobs, ARRAY_SIZE(knobs), true);
	/* the facts of 10.0 for the config's 7.2 binary: not its facts, unused */
	build_with(QEMU, &q10, golden_argv, ARRAY_SIZE(golden_argv), false);

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
		struct fixture f;
		fixture_init(&f, NULL);
		cleanup_free char *set = xasprintf("{\"qemu\":\"%s\"}", bad[i].qemu);
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_config_merge(&f.cfg, set, false, &e), 0);
		struct vm_cmdline_ctx ctx = golden_ctx;
		ctx.qemu = bad[i].q;
		cleanup_strv struct strv argv = {0};
		CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, NULL, 0, &ctx, &argv, &e), -EINVAL);
		CU_ASSERT_EQUAL(argv.n, 0);
		CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, bad[i].msg));
		if (e && !strstr(e->msg, bad[i].msg))
			fprintf(stderr, "\n  got '%s'\n  want '%s'\n", e->msg, bad[i].msg);
		fixture_release(&f);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "golden", test_golden },
		{ "golden_per_qemu: QEMU 7.2 and 10.0 get the same argv; target and machine checked",
		  test_golden_per_qemu },
		{ "variants", test_variants },
		{ "kernel_params", test_kernel_params },
		{ "errors", test_errors },
		{ "knobs", test_knobs },
		{ "knob_variants", test_knob_variants },
		{ "device_rules", test_device_rules },
		{ "real_qemu", test_real_qemu },
	};
	int rc = unit_main("vm_cmdline", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
