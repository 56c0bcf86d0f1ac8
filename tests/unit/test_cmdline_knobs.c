/*
 * test_cmdline_knobs — every knob in the QEMU argv (vm_cmdline) and the
 * cross-device rules: the golden argv of the knobs sandbox (golden_knobs.h,
 * which test_accept starts for real), the knob variants one at a time, the
 * descriptor plan of devices that pass fds (and a plan that fails to open
 * leaving nothing open), and the device combinations the build refuses.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/golden_knobs.h"
#include "tests/unit/support_cmdline.h"
#include "tests/unit/support_cunit.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

#define NV_IMG KNOBS_NV_IMG /* 64 MiB sparse, made by scmd_make_nv_img */

static void test_knobs(void)
{
	scmd_make_nv_img();
	struct scmd_sb f;
	scmd_init_config(&f, KNOBS_CONFIG);
	static const char *const devs[] = { KNOBS_DEVICES };
	for (size_t i = 0; i < ARRAY_SIZE(devs); i++)
		scmd_add(&f, devs[i]);
	cleanup_strv struct strv argv = {0};
	cleanup_err struct err *e = NULL;
	struct vm_fdplan fds = {0};
	struct vm_cmdline_ctx ctx = { .name = KNOBS_NAME, .console_log = KNOBS_CONSOLE_LOG, .fds = &fds };
	int r = vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &ctx, &argv, &e);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	static const char *const want[] = {
		KNOBS_WANT
	};
	scmd_assert_argv(&argv, want, ARRAY_SIZE(want));
	if (argv.n != ARRAY_SIZE(want))
		scmd_dump_argv(&argv);
	CU_ASSERT_EQUAL(fds.n, 0);
	vm_fdplan_release(&fds);
	scmd_release(&f);
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
		struct scmd_sb f;
		scmd_init_config(&f, cases[i].cfg);
		scmd_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/d1.img\"}");
		cleanup_strv struct strv argv = {0};
		cleanup_err struct err *e = NULL;
		struct vm_cmdline_ctx ctx = { .name = "vm", .console_log = "/c.log" };
		CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &ctx, &argv, &e), 0);
		bool found = false;
		for (size_t j = 0; j + 1 < argv.n; j++)
			found = found || (!strcmp(argv.v[j], cases[i].opt) &&
					  !strcmp(argv.v[j + 1], cases[i].val));
		CU_ASSERT(found);
		if (!found) {
			fprintf(stderr, "\n  %s: no %s %s in\n", cases[i].cfg, cases[i].opt, cases[i].val);
			scmd_dump_argv(&argv);
		}
		scmd_release(&f);
	}

	/* fds: numbered from 4 in device order, the plan handed back */
	struct scmd_sb f;
	scmd_init(&f, NULL);
	scmd_add(&f, "{\"type\":\"net\",\"id\":\"n0\",\"ifname\":\"tap0\",\"queues\":2,"
			"\"vhost\":true,\"pass_fds\":true}");
	scmd_add(&f, "{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":5,\"pass_fds\":true}");
	cleanup_strv struct strv argv = {0};
	cleanup_err struct err *e = NULL;
	struct vm_fdplan fds = {0};
	struct vm_cmdline_ctx ctx = { .name = "vm", .console_log = "/c.log", .fds = &fds };
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &ctx, &argv, &e), 0);
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
	scmd_release(&f);
}

static void test_device_rules(void)
{
	scmd_make_nv_img();
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
		struct scmd_sb f;
		scmd_init_config(&f, cases[i].cfg);
		scmd_add(&f, cases[i].dev1);
		if (cases[i].dev2)
			scmd_add(&f, cases[i].dev2);
		cleanup_strv struct strv argv = {0};
		cleanup_err struct err *e = NULL;
		struct vm_cmdline_ctx ctx = { .name = "vm", .console_log = "/c.log" };
		int r = vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &ctx, &argv, &e);
		CU_ASSERT(r < 0);
		CU_ASSERT_EQUAL(argv.n, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, cases[i].msg));
		if (!strstr(e->msg, cases[i].msg))
			fprintf(stderr, "\n  case %zu: got '%s'\n  want '%s'\n", i, e->msg, cases[i].msg);
		scmd_release(&f);
	}
	unlink(NV_IMG);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "knobs", test_knobs },
		{ "knob_variants", test_knob_variants },
		{ "device_rules", test_device_rules },
	};
	int rc = unit_main("vm_cmdline_knobs", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
