/*
 * test_arch_accept — each architecture proven by its own real QEMU.
 *
 * For x86_64, aarch64, ppc64le and s390x the same logical sandbox (a virtio
 * console on a file, a virtio-blk root image, a block disk, a tap by
 * ifname in a private network namespace, a 9p share, an RNG; vsock when
 * /dev/vhost-vsock exists) is built with vm_cmdline_build and started with
 * that architecture's binary under TCG as `qemu-system-<arch> ... -S`
 * (-kernel/-initrd/-append dropped, as test_accept does: the guest never
 * runs).  Over QMP: on the PCI architectures query-pci shows the bridges at
 * the addresses the topology gave and qom-get shows every device on its
 * bridge slot; on s390x qom-get shows every device's devno (fe.0.xxxx) and
 * its CCW type.  Then a second disk is hot-added with exactly the QMP
 * commands the daemon sends (vm_device_parts + vm_dev_parts_qmp), and both
 * the cold-plugged and the hot-added disk are shown in query-block and at
 * their place.
 *
 * An architecture whose binary is missing is reported and skipped; all
 * missing, or no root / network namespace: exit 77.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

#define TMO 20000

static char dir[] = "/tmp/sbfs-arch-accept-XXXXXX";
static bool have_vsock;

/* The id of a device's placed (main) function. */
static void main_id(const struct vm_device *d, char *buf, size_t len)
{
	if (d->kind == VM_DEVK_CONSOLE || d->kind == VM_DEVK_SERIAL)
		snprintf(buf, len, "vser-%s", d->id);
	else
		snprintf(buf, len, "%s", d->id);
}

/* The virtio device its main function is, without the transport suffix. */
static const char *main_base(const struct vm_device *d)
{
	switch (d->kind) {
	case VM_DEVK_CONSOLE:
	case VM_DEVK_SERIAL:
		return "virtio-serial";
	case VM_DEVK_BLOCK:
	case VM_DEVK_IMAGE:
		return "virtio-blk";
	case VM_DEVK_NET:
		return "virtio-net";
	case VM_DEVK_9P:
		return "virtio-9p";
	case VM_DEVK_RNG:
		return "virtio-rng";
	case VM_DEVK_VSOCK:
		return "vhost-vsock";
	default:
		return "?";
	}
}

/* The device sits where the topology put it: bridge bus + slot, or devno. */
static bool check_placed(struct qmp_client *c, const struct vm_topology *t, const struct vm_device *d)
{
	char id[64];
	main_id(d, id, sizeof(id));
	cleanup_free char *path = xasprintf("/machine/peripheral/%s", id);
	if (t->bridges[d->bridge].ccw) {
		cleanup_json struct json_object *dn = sqemu_qom_get(c, path, "devno", TMO);
		struct sbuf want = {0};
		vm_topology_guest_addr(t, d->bridge, d->slot, &want);
		bool ok = dn && !strcmp(json_object_get_string(dn), want.s);
		if (!ok)
			fprintf(stderr, "\n  %s: devno %s, want %s\n", id, dn ? json_object_get_string(dn) : "?",
				want.s);
		sbuf_release(&want);
		return ok;
	}
	const char *bid = t->bridges[d->bridge].id;
	cleanup_free char *want_bus = xasprintf("/machine/peripheral/%s/%s", bid, bid);
	cleanup_json struct json_object *pb = sqemu_qom_get(c, path, "parent_bus", TMO);
	cleanup_json struct json_object *ad = sqemu_qom_get(c, path, "addr", TMO);
	int want_addr = vm_topology_slot_addr(t, d->bridge, d->slot) << 3;
	bool ok = pb && !strcmp(json_object_get_string(pb), want_bus) && ad &&
		  json_object_get_int(ad) == want_addr;
	if (!ok)
		fprintf(stderr, "\n  %s: bus %s addr %d, want %s %d\n", id,
			pb ? json_object_get_string(pb) : "?", ad ? json_object_get_int(ad) : -1, want_bus,
			want_addr);
	return ok;
}

static bool has_block(struct json_object *blk, const char *node, const char *file)
{
	for (size_t i = 0; blk && i < json_object_array_length(blk); i++) {
		struct json_object *b = json_object_array_get_idx(blk, i), *ins;
		if (json_object_object_get_ex(b, "inserted", &ins) &&
		    !strcmp(sqemu_jstr(ins, "node-name"), node) && !strcmp(sqemu_jstr(ins, "file"), file))
			return true;
	}
	return false;
}

/* One architecture's sandbox, from its files to its QMP connection. */
struct arch_run {
	const char *arch;
	const struct arch_ops *a;
	char *adir, *img, *d1, *d2, *share, *log, *qsock, *qlog;
	struct vm_config cfg;
	struct vm_topology t;
	char *specs[12];
	struct vm_device *devs[12];
	size_t n;
	pid_t pid;
	struct qmp_client *c;
};

/* The image files, the config (with its defaults) and its topology. */
static void arch_config(struct arch_run *ar)
{
	ar->adir = xasprintf("%s/%s", dir, ar->arch);
	ar->img = xasprintf("%s/root.img", ar->adir);
	ar->d1 = xasprintf("%s/d1.img", ar->adir);
	ar->d2 = xasprintf("%s/d2,hot.img", ar->adir);
	ar->share = xasprintf("%s/share", ar->adir);
	ar->log = xasprintf("%s/console.log", ar->adir);
	ar->qsock = xasprintf("%s/qmp.sock", ar->adir);
	ar->qlog = xasprintf("%s/qemu.log", ar->adir);
	CU_ASSERT_FATAL(mkdir(ar->adir, 0700) == 0 && sqemu_make_file(ar->img, 16 << 20) == 0 &&
			sqemu_make_file(ar->d1, 8 << 20) == 0 && sqemu_make_file(ar->d2, 8 << 20) == 0 &&
			mkdir(ar->share, 0700) == 0);

	static struct vm_defaults defs = { .guest_kernel = "/nonexistent/vmlinuz", .guest_initrd = "" };
	defs.qemu_dirs = sqemu_dirs();
	vm_config_set_defaults(&defs);
	vm_config_init(&ar->cfg);
	cleanup_err struct err *e = NULL;
	ar->a = arch_lookup(ar->arch);
	bool pcie = !strcmp(ar->a->bridge_driver, "pcie-root-port");
	cleanup_free char *cj = xasprintf("{\"arch\":\"%s\",\"accel\":\"tcg,thread=multi\",\"vcpus\":2,"
					  "\"maxvcpus\":2%s}", ar->arch, pcie ? ",\"root_ports\":9" : "");
	int r = vm_config_merge(&ar->cfg, cj, false, &e);
	if (r < 0)
		fprintf(stderr, "\n  %s config: %s\n", ar->arch, e->msg);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	vm_config_topology(&ar->cfg, &ar->t);
}

/* The same logical sandbox's devices, parsed and placed. */
static void arch_devices(struct arch_run *ar)
{
	char **specs = ar->specs;
	size_t n = 0;
	specs[n++] = xasprintf("{\"type\":\"console\",\"id\":\"con\"}");
	specs[n++] = xasprintf("{\"type\":\"image\",\"id\":\"root\",\"file\":\"%s\",\"as\":\"virtio-blk\"}", ar->img);
	specs[n++] = xasprintf("{\"type\":\"block\",\"id\":\"d1\",\"file\":\"%s\"}", ar->d1);
	specs[n++] = xasprintf("{\"type\":\"net\",\"id\":\"n0\",\"ifname\":\"sbt0\",\"mac\":\"02:00:00:00:00:10\",\"pass_fds\":false}");
	specs[n++] = xasprintf("{\"type\":\"9p\",\"id\":\"p9\",\"path\":\"%s\"}", ar->share);
	specs[n++] = xasprintf("{\"type\":\"rng\",\"id\":\"rng0\"}");
	if (have_vsock)
		specs[n++] = xasprintf("{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":%d}", 80 + (int)strlen(ar->arch));
	ar->n = n;
	cleanup_err struct err *e = NULL;
	for (size_t i = 0; i < n; i++) {
		struct vm_device **d = &ar->devs[i];
		CU_ASSERT_EQUAL_FATAL(vm_device_parse(specs[i], d, &e), 0);
		CU_ASSERT_EQUAL_FATAL(vm_topology_alloc(&ar->t, (*d)->id, &(*d)->bridge, &(*d)->slot, &e), 0);
	}
}

/* Built, started paused, QMP connected; the result of sqemu_connect. */
static int arch_start(struct arch_run *ar)
{
	cleanup_err struct err *e = NULL;
	struct vm_cmdline_ctx ctx = { .name = ar->arch, .console_log = ar->log,
				      .qemu = sqemu_qemu(vm_config_qemu_binary(&ar->cfg)) };
	cleanup_strv struct strv built = {0};
	int r = vm_cmdline_build(&ar->cfg, &ar->t, ar->devs, ar->n, &ctx, &built, &e);
	if (r < 0)
		fprintf(stderr, "\n  %s build: %s\n", ar->arch, e->msg);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	cleanup_strv struct strv argv = {0};
	sqemu_argv_paused(&built, &argv);

	int hl = sqemu_listen(ar->qsock);
	CU_ASSERT_FATAL(hl >= 0);
	ar->pid = sqemu_spawn(argv.v, hl, ar->qlog, NULL, NULL);
	CU_ASSERT_FATAL(ar->pid >= 0);

	r = sqemu_connect(ar->qsock, TMO, ar->arch, ar->qlog, &argv, &ar->c);
	if (r == 0)
		printf("\n  %s: %s started, QMP negotiated\n", ar->arch, argv.v[0]);
	return r;
}

/* The cold-plugged sandbox: its name, the bridges, every device where the
 * topology put it with the arch's driver, the disks in query-block. */
static void check_cold(struct arch_run *ar)
{
	struct qmp_client *c = ar->c;
	cleanup_json struct json_object *name = sqemu_qmp(c, "query-name", NULL, TMO);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(name, "name"), ar->arch);

	/* PCI: the bridges on the root bus at their addresses */
	if (!ar->a->ccw) {
		cleanup_json struct json_object *pci = NULL;
		struct json_object *pdevs;
		CU_ASSERT(sqemu_query_pci(c, TMO, &pci, &pdevs));
		for (int b = 0; b < ar->t.n; b++)
			CU_ASSERT(sqemu_bridge_placed(pdevs, &ar->t, b, ar->arch));
	}
	/* every device where the topology put it, with the arch's driver:
	 * the exact QOM type (any PCI function's type contains "-pci", so
	 * the suffix alone would not tell one device from another) */
	for (size_t i = 0; i < ar->n; i++) {
		CU_ASSERT(check_placed(c, &ar->t, ar->devs[i]));
		char id[64];
		main_id(ar->devs[i], id, sizeof(id));
		cleanup_free char *path = xasprintf("/machine/peripheral/%s", id);
		cleanup_json struct json_object *ty = sqemu_qom_get(c, path, "type", TMO);
		const char *tys = ty ? json_object_get_string(ty) : "";
		cleanup_free char *want = xasprintf("%s%s", main_base(ar->devs[i]), ar->a->virtio_suffix);
		CU_ASSERT_STRING_EQUAL(tys, want);
	}
	cleanup_json struct json_object *blk = sqemu_qmp(c, "query-block", NULL, TMO);
	CU_ASSERT(has_block(blk, "drive-d1", ar->d1));
	CU_ASSERT(has_block(blk, "drive-root", ar->img));
}

/* Hot-add: the daemon's own QMP parts for a placed disk, sent; both disks
 * then in query-block, the new one at its place with the arch's driver. */
static void check_hot(struct arch_run *ar)
{
	struct qmp_client *c = ar->c;
	cleanup_err struct err *e = NULL;
	struct vm_device *hot = NULL;
	cleanup_free char *hs = xasprintf("{\"type\":\"block\",\"id\":\"d2\",\"file\":\"%s\"}", ar->d2);
	CU_ASSERT_EQUAL_FATAL(vm_device_parse(hs, &hot, &e), 0);
	CU_ASSERT_EQUAL_FATAL(vm_topology_alloc(&ar->t, hot->id, &hot->bridge, &hot->slot, &e), 0);
	struct vm_dev_env env = { .arch = ar->a, .bus = ar->t.bridges[hot->bridge].id,
				  .addr = vm_topology_slot_addr(&ar->t, hot->bridge, hot->slot),
				  .console_log = ar->log };
	struct vm_dev_parts p = {0};
	CU_ASSERT_EQUAL_FATAL(vm_device_parts(hot, &env, &p, &e), 0);
	struct json_object *cmds = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_dev_parts_qmp(&p, &cmds, &e), 0);
	bool all = true;
	for (size_t i = 0; i < json_object_array_length(cmds); i++) {
		struct json_object *cmd = json_object_array_get_idx(cmds, i), *args;
		json_object_object_get_ex(cmd, "arguments", &args);
		struct json_object *ret =
			sqemu_qmp(c, sqemu_jstr(cmd, "execute"), json_object_get(args), TMO);
		all = all && ret;
		json_object_put(ret);
	}
	CU_ASSERT(all);
	json_object_put(cmds);
	vm_dev_parts_release(&p);
	CU_ASSERT(check_placed(c, &ar->t, hot));
	cleanup_json struct json_object *blk2 = sqemu_qmp(c, "query-block", NULL, TMO);
	CU_ASSERT(has_block(blk2, "drive-d1", ar->d1));
	CU_ASSERT(has_block(blk2, "drive-d2", ar->d2));
	cleanup_json struct json_object *hty = sqemu_qom_get(c, "/machine/peripheral/d2", "type", TMO);
	CU_ASSERT_STRING_EQUAL(hty ? json_object_get_string(hty) : "", ar->a->blk_driver);
	vm_device_free(hot);
}

static void arch_release(struct arch_run *ar)
{
	for (size_t i = 0; i < ar->n; i++) {
		vm_device_free(ar->devs[i]);
		free(ar->specs[i]);
	}
	vm_topology_release(&ar->t);
	vm_config_release(&ar->cfg);
	vm_config_set_defaults(NULL);
	char **paths[] = { &ar->adir, &ar->img, &ar->d1, &ar->d2, &ar->share, &ar->log, &ar->qsock, &ar->qlog };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		free(*paths[i]);
}

static void run_arch(const char *arch)
{
	static struct arch_run ar;
	memset(&ar, 0, sizeof(ar));
	ar.arch = arch;
	arch_config(&ar);
	arch_devices(&ar);
	int r = arch_start(&ar);
	CU_ASSERT_EQUAL(r, 0);
	if (r == 0) {
		check_cold(&ar);
		check_hot(&ar);
	}
	if (sqemu_stop(ar.c, ar.pid, NULL) < 0)
		CU_FAIL("QEMU did not quit");
	arch_release(&ar);
}

static bool have_binary(const char *arch)
{
	const struct arch_ops *a = arch_lookup(arch);
	const char *def = a ? a->qemu_binary(a->default_machine) : NULL;
	cleanup_free char *bin = def ? sqemu_binary(def) : NULL;
	if (bin && access(bin, X_OK) == 0)
		return true;
	const char *base = def ? strrchr(def, '/') + 1 : arch;
	unit_skip(base, "arch-accept: %s not run: %s is not installed (scripts/deps.sh; make qemu-10)",
		  arch, bin ? bin : "?");
	return false;
}

static void test_x86_64(void) { run_arch("x86_64"); }
static void test_aarch64(void) { run_arch("aarch64"); }
static void test_ppc64le(void) { run_arch("ppc64le"); }
static void test_s390x(void) { run_arch("s390x"); }

int main(void)
{
	static const struct unit_test arches[] = {
		{ "x86_64", test_x86_64 }, { "aarch64", test_aarch64 },
		{ "ppc64le", test_ppc64le }, { "s390x", test_s390x },
	};
	if (geteuid() != 0) {
		return unit_skip_program("root", "the per-architecture real-QEMU acceptance needs root (network namespace)");
	}
	/* A private network namespace: the taps never touch the host's. */
	if (!sqemu_netns_with_tap("sbt0"))
		return 77;
	have_vsock = sqemu_have_dev("arch-accept", "/dev/vhost-vsock", "vhost_vsock");
	printf("arch-accept: vsock %s\n", have_vsock ? "included" : "skipped: no /dev/vhost-vsock here");
	if (!mkdtemp(dir))
		return 2;
	struct unit_test tests[ARRAY_SIZE(arches)];
	size_t added = 0;
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
		if (have_binary(arches[i].name))
			tests[added++] = arches[i];
	if (!added) {
		rmdir(dir);
		return unit_skip_program("qemu-system-*", "no QEMU system emulator of any architecture");
	}
	int rc = unit_main("arch_accept", tests, added);
	if (unit_rm_rf(dir) < 0 && rc == 0)
		rc = 1;
	return rc;
}
