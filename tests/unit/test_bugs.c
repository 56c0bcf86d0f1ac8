/*
 * test_bugs — daemon bugs the real-QEMU proofs found.  Each test states the
 * behaviour the daemon owes and FAILS until the bug is fixed (then it
 * passes and stays as the regression test); the proposed fixes are in the
 * commit that added this file.  For the four configs the debt is: a
 * config the daemon accepts is one QEMU accepts — refusing it with EINVAL
 * is as good a fix as making QEMU take it.
 *
 *   golden_as_written   the knobs golden (test_cmdline_knobs), as
 *                       written (only file paths pointed at real files),
 *                       must start: QEMU 7.2 refuses "nosmbus" (a bare
 *                       "noX" in -machine), which the config accepts.
 *   nosmm_variant       the knob variant {"machine_accelerators":",nosmm"}
 *                       must start: same bug.
 *   nodefaults_q35      {"nodefaults":false,"vga":"std"} must start: QEMU's
 *                       default NIC (e1000e) takes 00:02.0, the slot the
 *                       topology pins rp0 to.
 *   vga_pc              machine pc with a pci-bridge and "vga":"std" must
 *                       start: the VGA takes 00:02.0, pb0's pinned slot.
 *   vhost_hot_missing   hot-adding {"vhost":true} where /dev/vhost-net is
 *                       missing must be refused before anything is sent:
 *                       QEMU 7.2 aborts (net_client_init1: Assertion `nc'
 *                       failed) on such a netdev_add, killing the guest.
 *                       Fixed (vm/sandbox/devices.c admit); kept as the
 *                       regression test.
 *
 * Needs root and qemu-system-x86_64 for the first four (else they are
 * skipped with a message); the last uses the fake QMP peer.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/golden_knobs.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_fakeqmp.h"
#include "tests/unit/support_knobs.h"
#include "tests/unit/support_qemu.h"
#include "vm/qemu/process.h"
#include "vm/sandbox/devices.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/sandbox.h"

#define TMO 10000

static char dir[] = "/tmp/sbfs-bugs-XXXXXX";
static bool can_run_qemu, have_files;
static char *qemu; /* sqemu_binary: the QEMU under test */

/* What became of a config: the daemon refused it (config or argv build:
 * an honest EINVAL), or QEMU accepted or refused the argv it was given.
 * The owed behaviour is never QEMU_REFUSED: a config the daemon takes
 * must be one QEMU takes. */
enum outcome { DAEMON_REFUSED, QEMU_ACCEPTED, QEMU_REFUSED };

/* Start the config writes `cfg` with the devices `devs` (both
 * NULL-terminated, paths pointed at the real files). */
static enum outcome starts(const char *label, const char *const *cfg, const char *const *devs)
{
	struct sqemu_sb s;
	sqemu_sb_init(&s, dir, label);
	bool ok = sqemu_sb_merge(&s, "{\"uuid\":\"" KNOBS_UUID "\"}");
	for (size_t i = 0; ok && cfg[i]; i++) {
		cleanup_free char *j = knobs_subst(cfg[i]);
		ok = sqemu_sb_merge(&s, j);
	}
	for (size_t i = 0; ok && devs && devs[i]; i++) {
		cleanup_free char *j = knobs_subst(devs[i]);
		ok = sqemu_sb_add(&s, j);
	}
	cleanup_free char *console = knobs_subst(KNOBS_CONSOLE_LOG);
	enum outcome o = DAEMON_REFUSED;
	if (ok && sqemu_sb_build(&s, KNOBS_NAME, console)) {
		cleanup_json struct json_object *st = sqemu_sb_start(&s) ? sqemu_qmp(s.c, "query-status", NULL, TMO) : NULL;
		o = !strcmp(sqemu_jstr(st, "status"), "prelaunch") ? QEMU_ACCEPTED : QEMU_REFUSED;
	}
	printf("\n  %s: %s", label, o == DAEMON_REFUSED ? "the daemon refused the config (fine)"
				  : o == QEMU_ACCEPTED ? "QEMU accepted the argv"
						       : "the daemon took it and QEMU REFUSED the argv (the bug)");
	sqemu_sb_release(&s);
	return o;
}

static bool qemu_ready(void)
{
	if (!can_run_qemu)
		unit_skip(geteuid() ? "root" : "qemu-system-x86_64", "needs root and %s", qemu);
	else if (!have_files)
		CU_FAIL("the knob files could not be made");
	return can_run_qemu && have_files;
}

static void test_golden_as_written(void)
{
	static const char *const cfg[] = { KNOBS_CONFIG, NULL };
	static const char *const devs[] = { KNOBS_DEVICES, NULL };
	if (qemu_ready())
		CU_ASSERT_NOT_EQUAL(starts("knobs-as-written", cfg, devs), QEMU_REFUSED);
}

static void test_nosmm_variant(void)
{
	static const char *const cfg[] = { "{\"machine_accelerators\":\",nosmm\"}", NULL };
	static const char *const devs[] = { "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/d1.img\"}", NULL };
	if (qemu_ready())
		CU_ASSERT_NOT_EQUAL(starts("nosmm-variant", cfg, devs), QEMU_REFUSED);
}

static void test_nodefaults_q35(void)
{
	static const char *const cfg[] = { "{\"nodefaults\":false,\"vga\":\"std\"}", NULL };
	if (qemu_ready())
		CU_ASSERT_NOT_EQUAL(starts("nodefaults-q35", cfg, NULL), QEMU_REFUSED);
}

static void test_vga_pc(void)
{
	static const char *const cfg[] = {
		"{\"machine\":\"pc\",\"root_ports\":0,\"pci_bridges\":1,\"vga\":\"std\"}", NULL
	};
	if (qemu_ready())
		CU_ASSERT_NOT_EQUAL(starts("vga-pc", cfg, NULL), QEMU_REFUSED);
}

/* ---- vhost=on hot-added without /dev/vhost-net (fake QMP peer) ---- */

static const char *handler(struct fakeqmp *f, const char *cmd, struct json_object *args)
{
	return "{\"return\": {}}";
}

static void test_vhost_hot_missing(void)
{
	if (access("/dev/vhost-net", R_OK | W_OK) == 0) {
		unit_skip("host-without-/dev/vhost-net", "/dev/vhost-net exists here; the bug needs a host without it");
		return;
	}
	struct fakeqmp fq;
	int cfd = fakeqmp_start(&fq, handler, NULL);
	struct vm_sandbox *sb = vm_sandbox_alloc("b");
	util_mkdir_p(sb->rundir, 0700);
	struct qmp_client *c = NULL;
	struct err *e = NULL;
	struct qmp_callbacks cb;
	vm_lifecycle_qmp_callbacks(sb, &cb);
	sb->pid = getpid(); /* "QEMU" is this process: alive */
	sb->start_time = vm_process_start_time(getpid());
	CU_ASSERT_FATAL(qmp_client_open(cfd, &cb, 2000, &c, &e) == 0);
	sb->qmp = c;
	sb->state = VM_RUNNING;
	int r = vm_devices_add_store(sb, "{\"type\":\"net\",\"id\":\"vh\",\"ifname\":\"tv0\",\"vhost\":true}", &cred_root, &e);
	printf("\n  devices/add vhost=true: %d %s; sent: %s", r, e ? e->msg : "", fakeqmp_cmds(&fq));
	err_free(&e);
	CU_ASSERT(r < 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "netdev_add", NULL), 0);
	vm_sandbox_put(sb);
	fakeqmp_stop(&fq);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	struct vm_settings set = { .state_dir = dir, .qmp_timeout_ms = 1000 };
	vm_settings_apply(&set);
	qemu = sqemu_binary("qemu-system-x86_64");
	can_run_qemu = geteuid() == 0 && access(qemu, X_OK) == 0;
	if (can_run_qemu) {
		const char *fs = sqemu_hugepages_begin(256 + 16);
		printf("bugs: /dev/hugepages is %s\n", fs ? fs : "unavailable");
		have_files = knobs_files(dir);
	}
	static const struct unit_test tests[] = {
		{ "golden_as_written: the knobs golden config starts (QEMU 7.2 refuses 'nosmbus')",
		  test_golden_as_written },
		{ "nosmm_variant: machine_accelerators ',nosmm' starts", test_nosmm_variant },
		{ "nodefaults_q35: nodefaults false + vga std starts (default NIC vs rp0)",
		  test_nodefaults_q35 },
		{ "vga_pc: machine pc + pci-bridge + vga std starts (VGA vs pb0)", test_vga_pc },
		{ "vhost_hot_missing: vhost=true hot-add without /dev/vhost-net refused before QMP",
		  test_vhost_hot_missing },
	};
	int rc = unit_main("bugs", tests, ARRAY_SIZE(tests));
	if (unit_rm_rf(dir) < 0 && rc == 0)
		rc = 1;
	if (can_run_qemu)
		sqemu_hugepages_end();
	free(qemu);
	return rc;
}
