/*
 * test_accept_vhost — vhost-net as the real QEMU takes it.
 *
 * vhost_net: "vhost": true on a net device, cold-plugged and hot-added,
 * with /dev/vhost-net open in QEMU (/proc/<pid>/fd) — or, where this
 * kernel has no vhost-net (probed after `modprobe vhost_net`), shown to be
 * really asked for: QEMU refuses it, and the daemon cannot open the
 * descriptor it would pass.
 *
 * Needs root (network namespace, tap) and QEMU: otherwise exit 77 (skip).
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_accept.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_hot.h"
#include "tests/unit/support_qemu.h"
#include "tests/unit/support_qom.h"
#include "vm/qemu/fds.h"

static char dir[] = "/tmp/sbfs-accept-XXXXXX";
static bool have_vhost_net;

static void test_vhost_net(void)
{
	if (!have_vhost_net) {
		unit_skip("/dev/vhost-net", "absent on this kernel, still after `modprobe vhost_net`");
		printf("  QEMU cannot accept vhost=on here.  What runs instead proves vhost=on is really"
		       "\n  asked for: QEMU refuses to start with it, and the daemon cannot open the"
		       "\n  descriptor it would pass.  (A hot-added vhost=on netdev makes QEMU 7.2 abort:"
		       "\n  see test_bugs.)");
		struct sqemu_sb s;
		sqemu_sb_init(&s, dir, "vhost-cold");
		cleanup_free char *console = xasprintf("%s/vhost.console.log", dir);
		bool built = sqemu_sb_add(&s, "{\"type\":\"net\",\"id\":\"vn\",\"ifname\":\"sbt2\",\"vhost\":true,\"pass_fds\":false}") &&
			     sqemu_sb_build(&s, "vhost", console);
		CU_ASSERT(built);
		CU_ASSERT(sqemu_sb_has(&s, "-netdev", "tap,id=net-vn,ifname=sbt2,script=no,downscript=no,vhost=on"));
		printf("\n  (the refusal below is expected)");
		bool started = built && sqemu_sb_start(&s);
		CU_ASSERT_FALSE(started);
		cleanup_free char *log = sqemu_sb_log(&s);
		CU_ASSERT_PTR_NOT_NULL(strstr(log, "open vhost char device failed"));
		sqemu_sb_release(&s);

		sqemu_sb_init(&s, dir, "vhost-fds");
		built = sqemu_sb_add(&s, "{\"type\":\"net\",\"id\":\"vp\",\"ifname\":\"sbt3\",\"vhost\":true,"
				     "\"pass_fds\":true}") && sqemu_sb_build(&s, "vhost", console);
		CU_ASSERT(built);
		int fds[4];
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL(vm_fds_open(&s.plan, NULL, fds, &e), -ENOENT);
		CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "open /dev/vhost-net"));
		sqemu_sb_release(&s);
		return;
	}
	/* Cold: by ifname (QEMU opens /dev/vhost-net) and passed as
	 * descriptors (the daemon opens them), two queues. */
	struct sqemu_sb s;
	sqemu_sb_init(&s, dir, "vhost");
	cleanup_free char *console = xasprintf("%s/vhost.console.log", dir);
	bool ok = sqemu_sb_add(&s, "{\"type\":\"net\",\"id\":\"vn\",\"ifname\":\"sbt2\",\"vhost\":true,\"pass_fds\":false}") &&
		  sqemu_sb_add(&s, "{\"type\":\"net\",\"id\":\"vp\",\"ifname\":\"sbt3\",\"queues\":2,"
			       "\"vhost\":true,\"pass_fds\":true}") &&
		  sqemu_sb_build(&s, "vhost", console) && sqemu_sb_start(&s);
	CU_ASSERT(ok);
	if (!ok) {
		sqemu_sb_release(&s);
		return;
	}
	CU_ASSERT(sqemu_sb_has(&s, "-netdev", "tap,id=net-vn,ifname=sbt2,script=no,downscript=no,vhost=on"));
	int cold = sqemu_pid_open_count(s.pid, "/dev/vhost-net");
	CU_ASSERT(cold >= 3); /* one for vn, one per queue of vp */
	cleanup_free char *t1 = sqom_child(s.c, "/machine/peripheral", "vn");
	cleanup_free char *t2 = sqom_child(s.c, "/machine/peripheral", "vp");
	CU_ASSERT_STRING_EQUAL(t1, "child<virtio-net-pci>");
	CU_ASSERT_STRING_EQUAL(t2, "child<virtio-net-pci>");
	/* Hot: the daemon's QMP forms, by ifname and with getfd. */
	struct shot h[2];
	CU_ASSERT_FATAL(shot_parts(&s, "{\"type\":\"net\",\"id\":\"vh\",\"ifname\":\"sbt4\",\"vhost\":true}",
				  console, &h[0]));
	CU_ASSERT(shot_send(&s, &h[0], SIZE_MAX));
	CU_ASSERT_FATAL(shot_parts(&s, "{\"type\":\"net\",\"id\":\"vq\",\"ifname\":\"sbt5\",\"vhost\":true,"
				  "\"pass_fds\":true}", console, &h[1]));
	CU_ASSERT(shot_send(&s, &h[1], SIZE_MAX));
	CU_ASSERT(sqemu_pid_open_count(s.pid, "/dev/vhost-net") >= cold + 2);
	cleanup_free char *t3 = sqom_child(s.c, "/machine/peripheral", "vh");
	cleanup_free char *t4 = sqom_child(s.c, "/machine/peripheral", "vq");
	CU_ASSERT_STRING_EQUAL(t3, "child<virtio-net-pci>");
	CU_ASSERT_STRING_EQUAL(t4, "child<virtio-net-pci>");
	shot_release(&h[0]);
	shot_release(&h[1]);
	sqemu_sb_release(&s);
}

int main(void)
{
	int rc = saccept_begin(dir, 0, NULL);
	if (rc >= 0)
		return rc;
	have_vhost_net = sqemu_have_dev("acceptance", "/dev/vhost-net", "vhost_net");
	static const struct unit_test tests[] = {
		{ "vhost_net: vhost=on cold-plugged and hot-added", test_vhost_net },
	};
	return saccept_run("accept_vhost", tests, ARRAY_SIZE(tests), dir);
}
