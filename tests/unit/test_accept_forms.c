/*
 * test_accept_forms — the daemon's hot-add QMP forms accepted by the real
 * QEMU, and undone.
 *
 * qmp_forms: the chardev-add (socket server, socket client, file),
 * object-add rng-random and device_add forms vm_dev_parts_qmp produces —
 * and vhost-vsock-pci when /dev/vhost-vsock exists — sent to a running
 * QEMU and found with query-chardev / qom-list; then undone with the forms
 * of vm_dev_parts_undo and shown gone (system_reset stands in for the
 * guest's acknowledgement of a PCI unplug).
 *
 * Needs root (network namespace) and QEMU: otherwise exit 77 (skip).
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util.h"
#include "tests/unit/support_accept.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_hot.h"
#include "tests/unit/support_qemu.h"
#include "tests/unit/support_qom.h"
#include "vm/qemu/version.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/topology.h"

#define TMO SQOM_TMO

static char dir[] = "/tmp/sbfs-accept-XXXXXX";
static bool have_vsock;

static int unix_listen(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool unix_connects(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The peripheral ids of the devices, with QOM's child types. */
static const char *const forms_devices[][2] = {
	{ "vser-agent", "child<virtio-serial-pci>" }, { "agent", "child<virtserialport>" },
	{ "vser-con", "child<virtio-serial-pci>" },   { "con", "child<virtconsole>" },
	{ "rng0", "child<virtio-rng-pci>" },
};

/* The forms' sandbox: what was hot-added, and the sockets around it. */
struct forms {
	struct sqemu_sb s;
	char *console, *agent, *con, *vub;
	int lfd;             /* listening for the vhost-user-blk client */
	int afd;             /* what it accepted */
	struct shot h[6];
	size_t nspecs;
	int urandom_before;  /* QEMU's descriptors on /dev/urandom before */
};

/* Every form added: the vhost-user-blk one up to its chardev only. */
static void forms_add(struct forms *f)
{
	f->agent = xasprintf("%s/forms-agent.sock", dir);
	f->con = xasprintf("%s/forms-con.log", dir);
	f->vub = xasprintf("%s/forms-vub.sock", dir);
	/* The vhost-user-blk chardev is a client: something must listen. */
	f->lfd = unix_listen(f->vub);
	CU_ASSERT_FATAL(f->lfd >= 0);
	cleanup_free char *agent_spec = xasprintf("{\"type\":\"serial\",\"id\":\"agent\",\"socket\":\"%s\","
						  "\"name\":\"agent.channel.0\"}", f->agent);
	cleanup_free char *con_spec = xasprintf("{\"type\":\"console\",\"id\":\"con\",\"file\":\"%s\"}", f->con);
	cleanup_free char *vub_spec = xasprintf("{\"type\":\"vhost-user-blk\",\"id\":\"vb\",\"socket\":\"%s\"}",
						f->vub);
	const char *specs[] = { agent_spec, con_spec, "{\"type\":\"rng\",\"id\":\"rng0\"}", vub_spec,
				"{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":91}",
				"{\"type\":\"vsock\",\"id\":\"vsp\",\"cid\":92,\"pass_fds\":true}" };
	f->nspecs = have_vsock ? 6 : 4;
	if (!have_vsock)
		unit_skip("/dev/vhost-vsock", "vsock forms not run: absent on this kernel (after modprobe vhost_vsock)");
	f->urandom_before = sqemu_pid_open_count(f->s.pid, "/dev/urandom");
	for (size_t i = 0; i < f->nspecs; i++) {
		CU_ASSERT_FATAL(shot_parts(&f->s, specs[i], f->console, &f->h[i]));
		/* vhost-user-blk: only its chardev — the device needs a backend
		 * speaking vhost-user, which this test does not have */
		CU_ASSERT(shot_send(&f->s, &f->h[i], i == 3 ? 1 : SIZE_MAX));
	}
}

/* chardev-add: the socket server, socket client and file forms. */
static void check_chardevs(struct forms *f)
{
	struct sqemu_sb *s = &f->s;
	/* chardev-add, the socket server form: listening at the path, no
	 * client yet */
	cleanup_free char *fa = sqom_chardev_filename(s->c, "char-agent");
	cleanup_free char *want_fa = xasprintf("disconnected:unix:%s,server=on", f->agent);
	CU_ASSERT_STRING_EQUAL(fa ? fa : "(none)", want_fa);

	CU_ASSERT(unix_connects(f->agent));
	/* the socket client form: connected, and our listener has it (QEMU
	 * 7.2 names a connected client by its own, unnamed, end: "unix:";
	 * 10.0 by the path it connected to) */
	cleanup_free char *fv = sqom_chardev_filename(s->c, "char-vb");
	const struct vm_qemu_caps *q = sqemu_qemu(vm_config_qemu_binary(&s->cfg));
	cleanup_free char *want_fv = q && vm_qemu_at_least(q, 10, 0) ? xasprintf("unix:%s", f->vub)
								     : xstrdup("unix:");
	CU_ASSERT_STRING_EQUAL(fv ? fv : "(none)", want_fv);
	struct pollfd pl = { .fd = f->lfd, .events = POLLIN };
	f->afd = poll(&pl, 1, TMO) == 1 ? accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
	CU_ASSERT(f->afd >= 0);
	/* the file form: the file QEMU opened */
	cleanup_free char *fc = sqom_chardev_filename(s->c, "char-con");
	CU_ASSERT_STRING_EQUAL(fc ? fc : "(none)", "file");
	CU_ASSERT_EQUAL(access(f->con, F_OK), 0);
}

/* object-add rng-random and device_add: the object, each device wired to
 * its backend and placed; the vsock devices. */
static void check_objects_devices(struct forms *f)
{
	struct sqemu_sb *s = &f->s;
	/* object-add rng-random: the object, holding /dev/urandom open */
	cleanup_free char *rt = sqom_child(s->c, "/objects", "rng-rng0");
	CU_ASSERT_STRING_EQUAL(rt, "child<rng-random>");
	cleanup_free char *rfn = sqom_str(s->c, "/objects/rng-rng0", "filename");
	CU_ASSERT_STRING_EQUAL(rfn, "/dev/urandom");
	CU_ASSERT_EQUAL(sqemu_pid_open_count(s->pid, "/dev/urandom"), f->urandom_before + 1);
	/* device_add: each device, wired to its backend */
	for (size_t i = 0; i < ARRAY_SIZE(forms_devices); i++) {
		cleanup_free char *ty = sqom_child(s->c, "/machine/peripheral", forms_devices[i][0]);
		CU_ASSERT_STRING_EQUAL(ty, forms_devices[i][1]);
	}
	cleanup_free char *ach = sqom_str(s->c, "/machine/peripheral/agent", "chardev");
	CU_ASSERT_STRING_EQUAL(ach, "char-agent");
	cleanup_free char *apn = sqom_str(s->c, "/machine/peripheral/agent", "name");
	CU_ASSERT_STRING_EQUAL(apn, "agent.channel.0");
	cleanup_free char *cch = sqom_str(s->c, "/machine/peripheral/con", "chardev");
	CU_ASSERT_STRING_EQUAL(cch, "char-con");
	cleanup_free char *rlink = sqom_str(s->c, "/machine/peripheral/rng0", "rng");
	CU_ASSERT_STRING_EQUAL(rlink, "/objects/rng-rng0");
	for (size_t i = 0; i < f->nspecs; i++) {
		const struct vm_device *d = f->h[i].d;
		if (d->bridge >= 0 && i != 3) {
			char mid[64];
			snprintf(mid, sizeof(mid), "%s%s", d->kind == VM_DEVK_SERIAL ||
				 d->kind == VM_DEVK_CONSOLE ? "vser-" : "", d->id);
			CU_ASSERT(sqom_placed_at(s->c, mid, s->t.bridges[d->bridge].id,
						 vm_topology_slot_addr(&s->t, d->bridge, d->slot) << 3));
		}
	}
	if (have_vsock) {
		CU_ASSERT_EQUAL(sqom_int(s->c, "/machine/peripheral/vs", "guest-cid"), 91);
		CU_ASSERT_EQUAL(sqom_int(s->c, "/machine/peripheral/vsp", "guest-cid"), 92);
		CU_ASSERT(sqemu_pid_open_count(s->pid, "/dev/vhost-vsock") >= 2);
	}
}

/* Undone with the undo forms, newest first: all gone. */
static void check_undone(struct forms *f)
{
	struct sqemu_sb *s = &f->s;
	for (size_t i = f->nspecs; i-- > 0;)
		CU_ASSERT(shot_undo(s, &f->h[i]));
	static const char *const chardevs[] = { "char-agent", "char-con", "char-vb" };
	for (size_t i = 0; i < ARRAY_SIZE(chardevs); i++) {
		cleanup_free char *fn = sqom_chardev_filename(s->c, chardevs[i]);
		CU_ASSERT_PTR_NULL(fn);
	}
	cleanup_free char *rt2 = sqom_child(s->c, "/objects", "rng-rng0");
	CU_ASSERT_STRING_EQUAL(rt2, "");
	CU_ASSERT_EQUAL(sqemu_pid_open_count(s->pid, "/dev/urandom"), f->urandom_before);
	for (size_t i = 0; i < ARRAY_SIZE(forms_devices); i++) {
		cleanup_free char *ty = sqom_child(s->c, "/machine/peripheral", forms_devices[i][0]);
		CU_ASSERT_STRING_EQUAL(ty, "");
	}
	if (have_vsock) {
		cleanup_free char *v1 = sqom_child(s->c, "/machine/peripheral", "vs");
		cleanup_free char *v2 = sqom_child(s->c, "/machine/peripheral", "vsp");
		CU_ASSERT(!*v1 && !*v2);
		CU_ASSERT_EQUAL(sqemu_pid_open_count(s->pid, "/dev/vhost-vsock"), 0);
	}
	CU_ASSERT(!unix_connects(f->agent)); /* the listener is gone */
	char b;
	struct pollfd pa = { .fd = f->afd, .events = POLLIN };
	CU_ASSERT(f->afd >= 0 && poll(&pa, 1, TMO) == 1 && read(f->afd, &b, 1) == 0); /* the client hung up */
}

static void test_qmp_forms(void)
{
	static struct forms f;
	memset(&f, 0, sizeof(f));
	f.lfd = f.afd = -1;
	sqemu_sb_init(&f.s, dir, "forms");
	f.console = xasprintf("%s/forms.console.log", dir);
	bool ok = sqemu_sb_build(&f.s, "forms", f.console) && sqemu_sb_start(&f.s);
	CU_ASSERT(ok);
	if (ok) {
		forms_add(&f);
		check_chardevs(&f);
		check_objects_devices(&f);
		check_undone(&f);
		for (size_t i = 0; i < f.nspecs; i++)
			shot_release(&f.h[i]);
	}
	if (f.afd >= 0)
		close(f.afd);
	if (f.lfd >= 0)
		close(f.lfd);
	free(f.console);
	free(f.agent);
	free(f.con);
	free(f.vub);
	sqemu_sb_release(&f.s);
}

int main(void)
{
	int rc = saccept_begin(dir, 0, NULL);
	if (rc >= 0)
		return rc;
	have_vsock = sqemu_have_dev("acceptance", "/dev/vhost-vsock", "vhost_vsock");
	static const struct unit_test tests[] = {
		{ "qmp_forms: chardev/object/device add forms, then their undo forms", test_qmp_forms },
	};
	return saccept_run("accept_forms", tests, ARRAY_SIZE(tests), dir);
}
