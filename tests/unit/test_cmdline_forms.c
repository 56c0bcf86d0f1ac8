/*
 * test_cmdline_forms — the QEMU argv (vm_cmdline) beside its golden: the
 * forms other keys give (cpu model, no initrd, other sizes, debug, user
 * kernel params, devices on non-adjacent bridges, no bridges at all), the
 * composed kernel command line, and the error cases (an unplaced device, a
 * bad name or log path, an invalid config), which leave the argv untouched.
 * The golden itself and the real QEMU: test_cmdline.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cmdline.h"
#include "tests/unit/support_cunit.h"
#include "vm/qemu/cmdline.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/topology.h"

static void test_variants(void)
{
	/* cpu model, no initrd, other sizes, debug, user params, two devices on
	 * non-adjacent bridges (rp1 is taken by a restored reservation) */
	struct scmd_sb f;
	scmd_init(&f, "{\"cpu_model\":\"max\",\"initrd\":\"\",\"vcpus\":2,\"maxvcpus\":8,"
			 "\"memory_mib\":1024,\"debug\":true,\"root_ports\":3,\"accel\":\"kvm\","
			 "\"kernel_params\":\"init=/bin/sh a,b=c\",\"kernel\":\"/k,1/bzImage\"}");
	cleanup_err struct err *e = NULL;
	scmd_add(&f, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/x.img\",\"readonly\":true}");
	CU_ASSERT_EQUAL_FATAL(vm_topology_reserve(&f.topo, 1, 0, "other", &e), 0);
	scmd_add(&f, "{\"type\":\"block\",\"id\":\"d2\",\"file\":\"/y.qcow2\",\"format\":\"qcow2\"}");
	CU_ASSERT_EQUAL(f.devs[1]->bridge, 2);

	struct vm_cmdline_ctx ctx = { .name = "vm", .console_log = "/c.log" };
	cleanup_strv struct strv argv = {0};
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &ctx, &argv, &e), 0);
	static const char *const want[] = {
		SCMD_QEMU,
		"-name", "guest=vm",
		"-uuid", SCMD_UUID,
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
		"-append", "console=ttyS0 " SCMD_X86_PARAMS " debug ignore_loglevel init=/bin/sh a,b=c",
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
	scmd_assert_argv(&argv, want, ARRAY_SIZE(want));
	scmd_release(&f);

	/* no bridges, no devices: the argv ends with -append */
	scmd_init(&f, "{\"root_ports\":0,\"machine\":\"pc\"}");
	cleanup_strv struct strv argv2 = {0};
	CU_ASSERT_EQUAL_FATAL(vm_cmdline_build(&f.cfg, &f.topo, NULL, 0, &ctx, &argv2, &e), 0);
	CU_ASSERT_EQUAL_FATAL(argv2.n, 37);
	CU_ASSERT_STRING_EQUAL(argv2.v[6], "pc");
	CU_ASSERT_STRING_EQUAL(argv2.v[35], "-append");
	scmd_release(&f);
}

static void test_kernel_params(void)
{
	struct scmd_sb f;
	scmd_init(&f, NULL);
	cleanup_free char *p0 = vm_cmdline_kernel_params(&f.cfg, NULL, 0);
	CU_ASSERT_STRING_EQUAL(p0, "console=ttyS0 " SCMD_X86_PARAMS " quiet");
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_config_merge(&f.cfg, "{\"debug\":true}", false, &e), 0);
	cleanup_free char *p1 = vm_cmdline_kernel_params(&f.cfg, NULL, 0);
	CU_ASSERT_STRING_EQUAL(p1, "console=ttyS0 " SCMD_X86_PARAMS " debug ignore_loglevel");
	/* user params last, so they win (e.g. a second console=, panic=) */
	CU_ASSERT_EQUAL(vm_config_merge(&f.cfg, "{\"debug\":false,\"kernel_params\":\"panic=0 console=hvc0\"}",
					false, &e), 0);
	cleanup_free char *p2 = vm_cmdline_kernel_params(&f.cfg, NULL, 0);
	CU_ASSERT_STRING_EQUAL(p2, "console=ttyS0 " SCMD_X86_PARAMS " quiet panic=0 console=hvc0");
	scmd_release(&f);
}

static void test_errors(void)
{
	struct scmd_sb f;
	scmd_init(&f, NULL);
	cleanup_err struct err *e = NULL;
	struct vm_device *d = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"block\",\"id\":\"loose\",\"file\":\"/f\"}",
					      &d, &e), 0);
	f.devs[f.n++] = d;

	/* an unplaced device: EINVAL, and the caller's argv is untouched */
	cleanup_strv struct strv argv = {0};
	CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &scmd_golden_ctx, &argv, &e),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "device loose: not placed"));
	CU_ASSERT_EQUAL(argv.n, 0);
	/* a bridge index beyond the topology */
	d->bridge = 4;
	d->slot = 0;
	err_free(&e);
	CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, f.devs, f.n, &scmd_golden_ctx, &argv, &e),
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
	CU_ASSERT_EQUAL(vm_cmdline_build(&f.cfg, &f.topo, NULL, 0, &scmd_golden_ctx, &argv, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "vcpus: 9 exceeds maxvcpus (4)"));
	CU_ASSERT_EQUAL(argv.n, 0);
	scmd_release(&f);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "variants", test_variants },
		{ "kernel_params", test_kernel_params },
		{ "errors", test_errors },
	};
	int rc = unit_main("vm_cmdline_forms", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
