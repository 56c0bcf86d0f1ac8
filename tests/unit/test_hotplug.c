/*
 * test_hotplug — the QMP sequences of devices/add, devices/remove and
 * cpus/target against a fake QMP peer, with a fault at every step: what is
 * sent, in which order, and that no slot, node or vCPU is leaked or
 * double-booked whatever fails.  (The e2e tests prove the same paths with
 * the real QEMU and guest.)
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_fakeqmp.h"
#include "vm/qemu/process.h"
#include "vm/sandbox/cpus.h"
#include "vm/sandbox/devices.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/memory.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/persist.h"
#include "vm/sandbox/reconcile.h"
#include "vm/sandbox/sandbox.h"

static struct fakeqmp fq;
static struct vm_sandbox *sb;
static char state_dir[] = "/tmp/sandboxfs-test-hotplug.XXXXXX";

/* What the fake QEMU does for the command under test. */
static const char *fail_cmd;     /* answer this command with GenericError */
static const char *silent_cmd;   /* never answer this one */
static const char *close_on;     /* drop the connection on this one */
static bool send_deleted = true; /* DEVICE_DELETED after device_del */
static const char *deleted_path; /* send the event by path only (vCPU on 7.2) */

static bool plugged[4] = {true}; /* vCPU sockets QEMU has; 0 is the boot vCPU */

static int socket_of(const char *id) { return id && !strncmp(id, "cpu-", 4) ? atoi(id + 4) : -1; }

static const char *cpu_slots(void)
{
	static char out[2048];
	strcpy(out, "{\"return\": [");
	for (int s = 3; s >= 0; s--) {
		char one[256];
		snprintf(one, sizeof(one),
			 "%s{\"type\": \"qemu64-x86_64-cpu\", \"vcpus-count\": 1, %s\"props\": "
			 "{\"socket-id\": %d, \"core-id\": 0, \"thread-id\": 0}}",
			 s == 3 ? "" : ",", plugged[s] ? "\"qom-path\": \"/machine/x\", " : "", s);
		strcat(out, one);
	}
	strcat(out, "]}");
	return out;
}

static const char *handler(struct fakeqmp *f, const char *cmd, struct json_object *args)
{
	if (close_on && !strcmp(cmd, close_on))
		return FAKEQMP_CLOSE;
	if (silent_cmd && !strcmp(cmd, silent_cmd))
		return FAKEQMP_SILENT;
	if (fail_cmd && !strcmp(cmd, fail_cmd))
		return "{\"error\": {\"class\": \"GenericError\", \"desc\": \"injected failure\"}}";
	struct json_object *id = NULL;
	json_object_object_get_ex(args, "id", &id);
	if (!strcmp(cmd, "device_add") && socket_of(json_object_get_string(id)) >= 0)
		plugged[socket_of(json_object_get_string(id))] = true;
	if (!strcmp(cmd, "device_del") && send_deleted) {
		if (socket_of(json_object_get_string(id)) >= 0)
			plugged[socket_of(json_object_get_string(id))] = false;
		char ev[256];
		if (deleted_path)
			snprintf(ev, sizeof(ev), "{\"event\": \"DEVICE_DELETED\", \"data\": {\"path\": "
				 "\"/machine/peripheral/%s/lapic\"}}", json_object_get_string(id));
		else
			snprintf(ev, sizeof(ev), "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": "
				 "\"%s\", \"path\": \"/machine/peripheral/%s\"}}",
				 json_object_get_string(id), json_object_get_string(id));
		/* The reply first, then the event, as QEMU does. */
		fakeqmp_then(f, ev);
		return "{\"return\": {}}";
	}
	if (!strcmp(cmd, "query-hotpluggable-cpus"))
		return cpu_slots();
	return "{\"return\": {}}";
}

static void setup(void)
{
	fail_cmd = silent_cmd = close_on = deleted_path = NULL;
	send_deleted = true;
	memset(plugged, 0, sizeof(plugged));
	plugged[0] = true;
	int cfd = fakeqmp_start(&fq, handler, NULL);
	sb = vm_sandbox_alloc("t");
	util_mkdir_p(sb->rundir, 0700);
	struct qmp_client *c = NULL;
	struct err *e = NULL;
	struct qmp_callbacks cb;
	vm_lifecycle_qmp_callbacks(sb, &cb);
	/* "QEMU" is this process: alive, so a lost QMP connection is a fault. */
	sb->pid = getpid();
	sb->start_time = vm_process_start_time(getpid());
	CU_ASSERT_FATAL(qmp_client_open(cfd, &cb, 2000, &c, &e) == 0);
	sb->qmp = c;
	sb->state = VM_RUNNING;
	sb->cfg.remove_timeout_ms = 300;
}

static void teardown(void)
{
	vm_sandbox_put(sb);
	fakeqmp_stop(&fq);
	sb = NULL;
}

static const char disk[] = "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/dev/null\"}";

static int free_slots(void) { return vm_topology_free_slots(&sb->topo); }

static void test_add_ok(void)
{
	setup();
	struct err *e = NULL;
	int before = free_slots();
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), 0);
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), "qmp_capabilities blockdev-add device_add");
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "blockdev-add", "\"node-name\":\"drive-d1\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"bus\":\"rp0\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"drive\":\"drive-d1\""), 1);
	CU_ASSERT_EQUAL(free_slots(), before - 1);
	struct vm_device *d = vm_devices_find(sb, "d1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(d->state, VM_DEV_ATTACHED);
	CU_ASSERT_STRING_EQUAL(sb->topo.bridges[0].slots[0], "d1");
	/* The same device again (a retry): done already, nothing sent. */
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "blockdev-add", NULL), 1);
	/* Another device under the same id: EEXIST, nothing sent. */
	const char *other = "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/dev/zero\"}";
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, other, &cred_root, &e), -EEXIST);
	err_free(&e);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "blockdev-add", NULL), 1);
	teardown();
}

static void test_add_device_add_fails(void)
{
	setup();
	fail_cmd = "device_add";
	struct err *e = NULL;
	int before = free_slots();
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), -EIO);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "injected failure"));
	err_free(&e);
	/* The node added first is deleted again; the slot is free. */
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), "qmp_capabilities blockdev-add device_add blockdev-del");
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "blockdev-del", "drive-d1"), 1);
	CU_ASSERT_EQUAL(free_slots(), before);
	CU_ASSERT_PTR_NULL(vm_devices_find(sb, "d1"));
	CU_ASSERT_PTR_NULL(sb->topo.bridges[0].slots[0]);
	/* And the slot is usable again. */
	fail_cmd = NULL;
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), 0);
	CU_ASSERT_STRING_EQUAL(sb->topo.bridges[0].slots[0], "d1");
	teardown();
}

static void test_add_blockdev_fails(void)
{
	setup();
	fail_cmd = "blockdev-add";
	struct err *e = NULL;
	int before = free_slots();
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), -EIO);
	err_free(&e);
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), "qmp_capabilities blockdev-add");
	CU_ASSERT_EQUAL(free_slots(), before);
	CU_ASSERT_PTR_NULL(vm_devices_find(sb, "d1"));
	teardown();
}

static void test_add_disconnect(void)
{
	setup();
	close_on = "device_add";
	/* The reconciliation a settling sandbox gets first, as vm_daemon_start
	 * sets it up (the fake peer models no devices, so only here). */
	vm_op_settle_hook(vm_reconcile, NULL);
	struct err *e = NULL;
	int before = free_slots();
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), -ECONNRESET);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "outcome unknown"));
	err_free(&e);
	/* QEMU may have the device: it stays 'adding', its slot taken, and the
	 * sandbox settles (asks QEMU) before its next operation. */
	struct vm_device *d = vm_devices_find(sb, "d1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(d->state, VM_DEV_ADDING);
	CU_ASSERT(sb->settling);
	CU_ASSERT_EQUAL(free_slots(), before - 1);
	/* Nothing else can be done over the dead connection, and says so. */
	int r = vm_devices_add_store(sb, disk, &cred_root, &e);
	CU_ASSERT_EQUAL(r, -ECONNRESET);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "reconcile"));
	err_free(&e);
	CU_ASSERT_EQUAL(free_slots(), before - 1);
	vm_op_settle_hook(NULL, NULL);
	teardown();
}

static void test_add_no_slot(void)
{
	setup();
	struct err *e = NULL;
	char spec[128];
	for (int i = 0; i < sb->topo.n; i++) {
		snprintf(spec, sizeof(spec), "{\"type\":\"block\",\"id\":\"d%d\",\"file\":\"/dev/null\"}", i);
		CU_ASSERT_EQUAL(vm_devices_add_store(sb, spec, &cred_root, &e), 0);
	}
	CU_ASSERT_EQUAL(free_slots(), 0);
	cleanup_free char *sent = xstrdup(fakeqmp_cmds(&fq));
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, "{\"type\":\"block\",\"id\":\"dx\",\"file\":\"/dev/null\"}", &cred_root, &e), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "slot"));
	err_free(&e);
	/* Refused before QMP: not one command more went out, and no node for dx. */
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), sent);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "blockdev-add", "\"node-name\":\"drive-dx\""), 0);
	/* Free one, reuse it: now the same needle does match what is sent. */
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "d2", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, "{\"type\":\"block\",\"id\":\"dx\",\"file\":\"/dev/null\"}", &cred_root, &e), 0);
	CU_ASSERT_STRING_EQUAL(sb->topo.bridges[2].slots[0], "dx");
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "blockdev-add", "\"node-name\":\"drive-dx\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"id\":\"dx\""), 1);
	teardown();
}

static void test_remove_ok(void)
{
	setup();
	struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), 0);
	int before = free_slots();
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "d1", &cred_root, &e), 0);
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq),
			       "qmp_capabilities blockdev-add device_add device_del blockdev-del");
	CU_ASSERT_EQUAL(free_slots(), before + 1);
	CU_ASSERT_PTR_NULL(vm_devices_find(sb, "d1"));
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "d1", &cred_root, &e), -ENODEV);
	err_free(&e);
	teardown();
}

static void test_remove_timeout_then_retry(void)
{
	setup();
	struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), 0);
	send_deleted = false; /* the guest never acknowledges */
	int before = free_slots();
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "d1", &cred_root, &e), -ETIMEDOUT);
	err_free(&e);
	struct vm_device *d = vm_devices_find(sb, "d1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(d->state, VM_DEV_REMOVING);
	CU_ASSERT_EQUAL(free_slots(), before); /* slot stays reserved */
	/* device_del did go out (so the wait was for a real request), and the
	 * backend is kept while the guest may still use it */
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_del", "\"id\":\"d1\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "blockdev-del", NULL), 0);
	/* The id stays taken while removing. */
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), -EEXIST);
	err_free(&e);
	/* A later remove retries and completes. */
	send_deleted = true;
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "d1", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_del", NULL), 2);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "blockdev-del", "drive-d1"), 1);
	CU_ASSERT_EQUAL(free_slots(), before + 1);
	teardown();
}

static void test_cpus(void)
{
	setup();
	struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "3", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(sb->nhot_cpus, 2);
	/* Ascending sockets, exactly the listed topology properties. */
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"id\":\"cpu-1-0-0\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"socket-id\":1"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"driver\":\"qemu64-x86_64-cpu\""), 2);
	CU_ASSERT_STRING_EQUAL(sb->hot_cpus[1].id, "cpu-2-0-0");
	/* Above max: clamped with a message, not an error. */
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "99", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(sb->nhot_cpus, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(sb->error, "clamped to 4"));
	/* Below the boot count: ERANGE; garbage: EINVAL. */
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "0", &cred_root, &e), -ERANGE);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "two", &cred_root, &e), -EINVAL);
	err_free(&e);
	/* Remove, acknowledged only by the child's path (QEMU 7.2). */
	deleted_path = "lapic";
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "2", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(sb->nhot_cpus, 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_del", "cpu-3-0-0"), 1); /* newest first */
	/* Never acknowledged: ETIMEDOUT and the vCPU stays listed. */
	send_deleted = false;
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "1", &cred_root, &e), -ETIMEDOUT);
	err_free(&e);
	CU_ASSERT_EQUAL(sb->nhot_cpus, 1);
	/* device_add failing leaves the list as it was. */
	fail_cmd = "device_add";
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "4", &cred_root, &e), -EIO);
	err_free(&e);
	CU_ASSERT_EQUAL(sb->nhot_cpus, 1);
	teardown();
}

/* The slots are asked once and kept across an unplug of a vCPU they
 * listed free; one they listed plugged makes the next add ask again. */
static void test_cpu_slots_kept(void)
{
	setup();
	struct err *e = NULL;
	const char *q = "query-hotpluggable-cpus";
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "2", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "1", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "2", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, q, NULL), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"id\":\"cpu-1-0-0\""), 2);
	/* Asked again now (as after a restart): cpu-1 is listed plugged. */
	pthread_mutex_lock(&sb->lock);
	json_object_put(move_ptr(sb->cpu_slots));
	pthread_mutex_unlock(&sb->lock);
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "3", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, q, NULL), 2);
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "2", &cred_root, &e), 0); /* cpu-2: listed free */
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "3", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, q, NULL), 2);
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "1", &cred_root, &e), 0); /* cpu-1 too: listed plugged */
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "2", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, q, NULL), 3);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"id\":\"cpu-1-0-0\""), 3);
	CU_ASSERT_EQUAL(sb->nhot_cpus, 1);
	teardown();
}

static void test_memory(void)
{
	setup();
	struct err *e = NULL;
	sb->cfg.memory_slots = 2;
	sb->cfg.maxmem_mib = 1024;
	CU_ASSERT_EQUAL(vm_memory_target_store(sb, "512", &cred_root, &e), 0);
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), "qmp_capabilities object-add device_add");
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "object-add", "\"size\":268435456"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"memdev\":\"mem-dimm0\""), 1);
	CU_ASSERT_EQUAL(sb->ndimms, 1);
	/* Past maxmem: ERANGE, nothing sent; not a block multiple: EINVAL. */
	CU_ASSERT_EQUAL(vm_memory_target_store(sb, "2048", &cred_root, &e), -ERANGE);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_memory_target_store(sb, "600", &cred_root, &e), -EINVAL);
	err_free(&e);
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), "qmp_capabilities object-add device_add");
	/* device_add refused: the backend object goes again. */
	fail_cmd = "device_add";
	CU_ASSERT_EQUAL(vm_memory_target_store(sb, "640", &cred_root, &e), -EIO);
	err_free(&e);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "object-del", "mem-dimm1"), 1);
	CU_ASSERT_EQUAL(sb->ndimms, 1);
	fail_cmd = NULL;
	/* The last slot, then none left: ENOSPC. */
	CU_ASSERT_EQUAL(vm_memory_target_store(sb, "640", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(vm_memory_target_store(sb, "768", &cred_root, &e), -ENOSPC);
	err_free(&e);
	/* Shrink by whole DIMMs, newest first, each after DEVICE_DELETED. */
	CU_ASSERT_EQUAL(vm_memory_target_store(sb, "300", &cred_root, &e), -EINVAL);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_memory_target_store(sb, "256", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(sb->ndimms, 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_del", NULL), 2);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "object-del", NULL), 3);
	teardown();
}

static void test_vfio(void)
{
	printf("\n  (no PCI passthrough device exists on this machine: the VFIO sequence is "
	       "proven against the fake QMP peer and by golden argv only)\n");
	setup();
	struct err *e = NULL;
	const char *spec = "{\"type\":\"vfio\",\"id\":\"v1\",\"host\":\"0000:03:00.0\"}";
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, spec, &cred_root, &e), 0);
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), "qmp_capabilities device_add");
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"driver\":\"vfio-pci\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"host\":\"0000:03:00.0\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"bus\":\"rp0\""), 1);
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "v1", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(free_slots(), sb->topo.n);
	/* The host refuses the device: nothing left, slot free. */
	fail_cmd = "device_add";
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, spec, &cred_root, &e), -EIO);
	err_free(&e);
	CU_ASSERT_PTR_NULL(vm_devices_find(sb, "v1"));
	CU_ASSERT_EQUAL(free_slots(), sb->topo.n);
	teardown();
}

static void test_vhost_user_blk(void)
{
	setup();
	sb->cfg.mem_shared = true; /* a vhost-user backend maps guest memory */
	struct err *e = NULL;
	/* A hot-added vhost-user device needs its backend listening: the
	 * daemon connects to the socket as the writer before any QMP. */
	cleanup_free char *path = xasprintf("%s/vb.sock", state_dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_FATAL(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
			listen(lfd, 4) == 0);
	cleanup_free char *spec = xasprintf(
		"{\"type\":\"vhost-user-blk\",\"id\":\"vb\",\"socket\":\"%s\"}", path);
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, spec, &cred_root, &e), 0);
	/* The chardev QMP form is the nested one; then the device names it. */
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), "qmp_capabilities chardev-add device_add");
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "chardev-add", "vb.sock"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"driver\":\"vhost-user-blk-pci\""), 1);
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "vb", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "chardev-remove", NULL), 1);
	/* device_add refused: the chardev goes again, the slot is free. */
	fail_cmd = "device_add";
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, spec, &cred_root, &e), -EIO);
	err_free(&e);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "chardev-remove", NULL), 2);
	CU_ASSERT_EQUAL(free_slots(), sb->topo.n);
	close(lfd);
	unlink(path);
	teardown();
}

static bool have_netns;

static void test_net_fds(void)
{
	if (!have_netns) {
		unit_skip("netns", "no private network namespace (needs root) to open taps in");
		return;
	}
	setup();
	struct err *e = NULL;
	const char *spec = "{\"type\":\"net\",\"id\":\"n1\",\"ifname\":\"tt0\",\"queues\":2,\"pass_fds\":true}";
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, spec, &cred_root, &e), 0);
	if (e)
		fprintf(stderr, "%s\n", e->msg);
	err_free(&e);
	/* Each tap queue goes over as SCM_RIGHTS, then the netdev names them.
	 * The fake refuses a getfd that came without a descriptor, as QEMU
	 * does; what it received is a multiqueue queue of tap tt0. */
	CU_ASSERT_STRING_EQUAL(fakeqmp_cmds(&fq), "qmp_capabilities getfd getfd netdev_add device_add");
	CU_ASSERT_EQUAL(fakeqmp_nfds(&fq), 2);
	for (int q = 0; q < 2; q++) {
		char name[16];
		snprintf(name, sizeof(name), "fd-n1-%d", q);
		int fd = fakeqmp_fd(&fq, name);
		struct ifreq ifr = {0};
		CU_ASSERT(fd >= 0 && ioctl(fd, TUNGETIFF, &ifr) == 0);
		CU_ASSERT_STRING_EQUAL(ifr.ifr_name, "tt0");
		CU_ASSERT(ifr.ifr_flags & IFF_TAP && ifr.ifr_flags & IFF_MULTI_QUEUE);
	}
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "getfd", "\"fdname\":\"fd-n1-0\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "netdev_add", "\"fds\":\"fd-n1-0:fd-n1-1\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"mq\":"), 1);
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "n1", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "netdev_del", "\"id\":\"net-n1\""), 1);
	/* netdev_add refused: the passed descriptors are closed again. */
	fail_cmd = "netdev_add";
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, spec, &cred_root, &e), -EIO);
	err_free(&e);
	CU_ASSERT_EQUAL(fakeqmp_nfds(&fq), 4); /* two more taps came with the retry */
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "closefd", "fd-n1-0"), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "closefd", "fd-n1-1"), 1);
	CU_ASSERT_PTR_NULL(vm_devices_find(sb, "n1"));
	CU_ASSERT_EQUAL(free_slots(), sb->topo.n);
	teardown();
}

static void test_qmp_garbage(void)
{
	setup();
	struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_devices_add_store(sb, disk, &cred_root, &e), 0);
	fakeqmp_event(&fq, "this is not JSON at all");
	bool marked = false;
	for (int i = 0; i < 100 && !marked; i++) {
		pthread_mutex_lock(&sb->lock);
		marked = strstr(sb->error, "QMP connection") != NULL;
		pthread_mutex_unlock(&sb->lock);
		usleep(10000);
	}
	CU_ASSERT(marked);
	/* Still running (QEMU lives), but control writes fail, and nothing moved. */
	CU_ASSERT_EQUAL(sb->state, VM_RUNNING);
	CU_ASSERT_EQUAL(vm_cpus_target_store(sb, "2", &cred_root, &e), -ECONNRESET);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_devices_remove_store(sb, "d1", &cred_root, &e), -ECONNRESET);
	err_free(&e);
	CU_ASSERT_PTR_NOT_NULL(vm_devices_find(sb, "d1"));
	CU_ASSERT_EQUAL(sb->nhot_cpus, 0);
	/* The mark is on disk too. */
	char path[512];
	snprintf(path, sizeof(path), "%s/sandbox.json", sb->rundir);
	char *saved = util_read_file(path, NULL);
	CU_ASSERT_PTR_NOT_NULL(saved && strstr(saved, "QMP connection"));
	free(saved);
	teardown();
}

int main(void)
{
	if (!mkdtemp(state_dir))
		return 1;
	/* Taps opened by the net test live and die in a private namespace. */
	have_netns = unshare(CLONE_NEWNET) == 0;
	struct vm_settings set = {.state_dir = state_dir, .qmp_timeout_ms = 1000};
	vm_settings_apply(&set);
	vm_persist_start(); /* every commit on disk, as in the daemon */
	vm_config_set_defaults(&(struct vm_defaults){.guest_kernel = "/boot/vmlinuz", .guest_initrd = ""});
	static const struct unit_test tests[] = {
		{ "block add: blockdev-add then device_add on a free root port", test_add_ok },
		{ "block add: device_add fails -> blockdev-del, slot free", test_add_device_add_fails },
		{ "block add: blockdev-add fails -> nothing else sent", test_add_blockdev_fails },
		{ "block add: disconnect mid-sequence -> adding, settling, reconciled first", test_add_disconnect },
		{ "block add: every slot full -> ENOSPC; free one, reuse it", test_add_no_slot },
		{ "block remove: device_del, DEVICE_DELETED, blockdev-del", test_remove_ok },
		{ "block remove: no DEVICE_DELETED -> ETIMEDOUT, removing, retry", test_remove_timeout_then_retry },
		{ "vCPUs: add in order, clamp, remove newest, timeouts, failures", test_cpus },
		{ "vCPUs: the slots asked once, again after a listed vCPU's unplug", test_cpu_slots_kept },
		{ "garbage from QMP: connection dropped, sandbox marked, nothing lost", test_qmp_garbage },
		{ "memory: object-add + pc-dimm; ERANGE, EINVAL, ENOSPC; rollback; shrink", test_memory },
		{ "VFIO: device_add on a root port; refused -> slot free", test_vfio },
		{ "vhost-user-blk: chardev-add + device_add; refused -> chardev-remove", test_vhost_user_blk },
		{ "net with pass_fds: getfd per queue, netdev names them; rollback closefd", test_net_fds },
	};
	int rc = unit_main("hotplug", tests, ARRAY_SIZE(tests));
	if (unit_rm_rf(state_dir) < 0)
		fprintf(stderr, "could not remove %s\n", state_dir);
	return rc;
}
