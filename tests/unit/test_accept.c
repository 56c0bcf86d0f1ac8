/*
 * test_accept — the real-QEMU acceptance of the full config model: every
 * device kind at once.
 *
 * every_device: one config enabling every device kind that can exist on
 * this machine — an nvdimm root image, virtio-blk and virtio-scsi disks
 * (the SCSI controller on an iothread), a virtio console on a file, a
 * virtserialport on a socket, a 9p share, a tap by ifname and a multiqueue
 * tap passed as descriptors (both in a private network namespace), an RNG,
 * the vIOMMU, vsock when /dev/vhost-vsock exists, root ports, a pci-bridge
 * and a pcie-pci-bridge — is built with vm_cmdline_build and started as
 * `qemu-system-x86_64 ... -S` (the guest never runs), the descriptors of
 * the plan placed as the launcher places them.  Over QMP (query-pci,
 * qom-get/qom-list, query-block, query-named-block-nodes, query-iothreads,
 * query-chardev, query-memory-devices) every device is shown to exist
 * where the topology put it.
 *
 * The rest of the acceptance of the config model: test_accept_knobs (every
 * golden knob row), test_accept_forms (the hot-add QMP forms and their
 * undo), test_accept_vhost (vhost-net).
 *
 * Not proven here, and said so at run time: VFIO (needs a host device bound
 * to vfio-pci) and vhost-user devices (need a backend process) — those are
 * proven by the golden argv and QMP-argument tests in test_device and
 * test_hotplug; the -kernel/-initrd/-append rows are dropped (no bootable
 * guest kernel needed with -S) and proven by the e2e boots.
 *
 * Needs root (network namespace, tap) and QEMU: otherwise exit 77 (skip).
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/err.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/support_accept.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"
#include "tests/unit/support_qom.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/topology.h"

#define TMO SQOM_TMO

static char dir[] = "/tmp/sbfs-accept-XXXXXX";
static bool have_vsock;

/* The sandbox of every_device, from its files to its QMP connection. */
struct every {
	char *img, *d1, *s1, *share, *log, *con, *ser, *qsock, *qlog;
	struct vm_config cfg;
	struct vm_topology t;
	char *specs[16];
	struct vm_device *devs[16];
	size_t n;
	struct vm_fdplan plan;
	pid_t pid;
	struct qmp_client *c;
};

static bool array_has(struct json_object *arr, const char *key, const char *val)
{
	return sqom_find(arr, key, val) != NULL;
}

/* The image files, the config (with its defaults) and its topology. */
static void every_config(struct every *ev)
{
	ev->img = xasprintf("%s/root.img", dir);
	ev->d1 = xasprintf("%s/d1,x.img", dir);
	ev->s1 = xasprintf("%s/s1.img", dir);
	ev->share = xasprintf("%s/share", dir);
	ev->log = xasprintf("%s/console.log", dir);
	ev->con = xasprintf("%s/con.log", dir);
	ev->ser = xasprintf("%s/agent.sock", dir);
	ev->qsock = xasprintf("%s/qmp.sock", dir);
	ev->qlog = xasprintf("%s/qemu.log", dir);
	CU_ASSERT_FATAL(sqemu_make_file(ev->img, 64 << 20) == 0 && sqemu_make_file(ev->d1, 16 << 20) == 0 &&
			sqemu_make_file(ev->s1, 16 << 20) == 0 && mkdir(ev->share, 0700) == 0);

	static struct vm_defaults defs = { .guest_kernel = "/nonexistent/vmlinuz", .guest_initrd = "" };
	defs.qemu_dirs = sqemu_dirs();
	vm_config_set_defaults(&defs);
	vm_config_init(&ev->cfg);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&ev->cfg,
		"{\"root_ports\":4,\"pci_bridges\":1,\"pcie_pci_bridges\":1,\"iothreads\":1,"
		"\"memory_slots\":1,\"maxmem_mib\":512,\"mem_prealloc\":true,\"vcpus\":2,"
		"\"maxvcpus\":4,\"cores\":2,\"name\":\"accept,1\"}", false, &e), 0);
	vm_config_topology(&ev->cfg, &ev->t);
}

/* Every device kind, parsed and (the PCI ones) placed. */
static void every_devices(struct every *ev)
{
	char **specs = ev->specs;
	size_t n = 0;
	specs[n++] = xasprintf("{\"type\":\"iommu\",\"id\":\"viommu\"}");
	specs[n++] = xasprintf("{\"type\":\"image\",\"id\":\"root\",\"file\":\"%s\"}", ev->img);
	specs[n++] = xasprintf("{\"type\":\"block\",\"id\":\"d1\",\"file\":\"%s\"}", ev->d1);
	specs[n++] = xasprintf("{\"type\":\"block\",\"id\":\"s1\",\"file\":\"%s\",\"interface\":\"scsi\","
			       "\"iothread\":\"iothread0\",\"scsi_id\":2,\"lun\":1}", ev->s1);
	specs[n++] = xasprintf("{\"type\":\"console\",\"id\":\"con\",\"file\":\"%s\"}", ev->con);
	specs[n++] = xasprintf("{\"type\":\"serial\",\"id\":\"agent\",\"socket\":\"%s\","
			       "\"name\":\"agent.channel.0\"}", ev->ser);
	specs[n++] = xasprintf("{\"type\":\"9p\",\"id\":\"p9\",\"path\":\"%s\",\"mount_tag\":\"share\","
			       "\"security_model\":\"none\",\"readonly\":true}", ev->share);
	specs[n++] = xasprintf("{\"type\":\"net\",\"id\":\"n0\",\"ifname\":\"sbt0\","
			       "\"mac\":\"02:00:00:00:00:10\"}");
	specs[n++] = xasprintf("{\"type\":\"net\",\"id\":\"n1\",\"ifname\":\"sbt1\",\"queues\":2,"
			       "\"pass_fds\":true}");
	specs[n++] = xasprintf("{\"type\":\"rng\",\"id\":\"rng0\"}");
	if (have_vsock)
		specs[n++] = xasprintf("{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":77,\"pass_fds\":true}");
	ev->n = n;
	cleanup_err struct err *e = NULL;
	for (size_t i = 0; i < n; i++) {
		struct vm_device **d = &ev->devs[i];
		CU_ASSERT_EQUAL_FATAL(vm_device_parse(specs[i], d, &e), 0);
		if (vm_device_is_pci(*d))
			CU_ASSERT_EQUAL_FATAL(vm_topology_alloc(&ev->t, (*d)->id, &(*d)->bridge,
								&(*d)->slot, &e), 0);
	}
}

/* Built, its descriptors opened and placed, started paused, QMP
 * connected; the result of sqemu_connect. */
static int every_start(struct every *ev)
{
	cleanup_err struct err *e = NULL;
	struct vm_cmdline_ctx ctx = { .name = "accept", .console_log = ev->log, .fds = &ev->plan,
				      .qemu = sqemu_qemu(vm_config_qemu_binary(&ev->cfg)) };
	cleanup_strv struct strv built = {0};
	int r = vm_cmdline_build(&ev->cfg, &ev->t, ev->devs, ev->n, &ctx, &built, &e);
	if (r < 0)
		fprintf(stderr, "\n  build: %s\n", e->msg);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	/* -kernel must name a bootable image; with -S it never runs, so the
	 * check drops -kernel/-initrd/-append and passes everything else. */
	cleanup_strv struct strv argv = {0};
	sqemu_argv_paused(&built, &argv);

	int fds[32];
	CU_ASSERT_FATAL(ev->plan.n < ARRAY_SIZE(fds));
	r = vm_fds_open(&ev->plan, NULL, fds, &e);
	if (r < 0)
		fprintf(stderr, "\n  open fds: %s\n", e->msg);
	CU_ASSERT_EQUAL_FATAL(r, 0);

	int hl = sqemu_listen(ev->qsock);
	CU_ASSERT_FATAL(hl >= 0);
	ev->pid = sqemu_spawn(argv.v, hl, ev->qlog, &ev->plan, fds);
	CU_ASSERT_FATAL(ev->pid >= 0);
	vm_fds_close(&ev->plan, fds);
	return sqemu_connect(ev->qsock, TMO, NULL, ev->qlog, &argv, &ev->c);
}

/* The peripheral id of a device's main PCI function. */
static void every_main_id(const struct vm_device *d, char *buf, size_t len)
{
	if (d->kind == VM_DEVK_CONSOLE || d->kind == VM_DEVK_SERIAL)
		snprintf(buf, len, "vser-%s", d->id);
	else if (d->kind == VM_DEVK_BLOCK && !strcmp(vm_device_str(d, "interface"), "scsi"))
		snprintf(buf, len, "scsi-%s", d->id);
	else
		snprintf(buf, len, "%s", d->id);
}

/* Device d's main function on its bridge slot (QOM: no bus numbers before
 * firmware runs, so query-pci cannot see behind the bridges yet). */
static void check_function(struct every *ev, const struct vm_device *d)
{
	char main_id[64];
	every_main_id(d, main_id, sizeof(main_id));
	cleanup_free char *path = xasprintf("/machine/peripheral/%s", main_id);
	const char *bid = ev->t.bridges[d->bridge].id;
	cleanup_free char *want_bus = xasprintf("/machine/peripheral/%s/%s", bid, bid);
	cleanup_json struct json_object *pb = sqemu_qom_get(ev->c, path, "parent_bus", TMO);
	cleanup_json struct json_object *ad = sqemu_qom_get(ev->c, path, "addr", TMO);
	CU_ASSERT_STRING_EQUAL(pb ? json_object_get_string(pb) : "", want_bus);
	int want_addr = vm_topology_slot_addr(&ev->t, d->bridge, d->slot) << 3;
	CU_ASSERT_EQUAL(ad ? json_object_get_int(ad) : -1, want_addr);
	if (!pb || strcmp(json_object_get_string(pb), want_bus) || json_object_get_int(ad) != want_addr)
		fprintf(stderr, "\n  %s: bus %s addr %d, want %s %d\n", main_id,
			pb ? json_object_get_string(pb) : "?", ad ? json_object_get_int(ad) : -1,
			want_bus, want_addr);
}

/* The name and machine options, the bridges, every PCI function. */
static void check_placement(struct every *ev)
{
	struct qmp_client *c = ev->c;
	/* name and machine options reached QEMU */
	cleanup_json struct json_object *name = sqemu_qmp(c, "query-name", NULL, TMO);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(name, "name"), "accept,1");
	cleanup_json struct json_object *nv = sqemu_qom_get(c, "/machine", "nvdimm", TMO);
	CU_ASSERT(nv && json_object_get_boolean(nv));

	/* bridges on the root bus at the addresses the topology gave */
	cleanup_json struct json_object *pci = NULL;
	struct json_object *pdevs;
	CU_ASSERT(sqemu_query_pci(c, TMO, &pci, &pdevs));
	for (int b = 0; b < ev->t.n; b++)
		CU_ASSERT(sqemu_bridge_placed(pdevs, &ev->t, b, NULL));

	int checked = 0;
	for (size_t i = 0; i < ev->n; i++) {
		if (!vm_device_is_pci(ev->devs[i]))
			continue;
		check_function(ev, ev->devs[i]);
		checked++;
	}
	/* d1 s1 con agent p9 n0 n1 rng0 (+ vs): not "at least some" */
	CU_ASSERT_EQUAL(checked, have_vsock ? 9 : 8);
}

/* Block nodes and their devices; SCSI's target, LUN and iothread. */
static void check_block(struct every *ev)
{
	struct qmp_client *c = ev->c;
	cleanup_json struct json_object *blk = sqemu_qmp(c, "query-block", NULL, TMO);
	int blocks = 0;
	for (size_t i = 0; blk && i < json_object_array_length(blk); i++) {
		struct json_object *b = json_object_array_get_idx(blk, i), *ins;
		if (!json_object_object_get_ex(b, "inserted", &ins))
			continue;
		if (!strcmp(sqemu_jstr(ins, "node-name"), "drive-d1")) {
			CU_ASSERT_STRING_EQUAL(sqemu_jstr(ins, "file"), ev->d1);
			CU_ASSERT_STRING_EQUAL(sqemu_jstr(b, "qdev"), "/machine/peripheral/d1/virtio-backend");
			blocks++;
		}
		if (!strcmp(sqemu_jstr(ins, "node-name"), "drive-s1")) {
			CU_ASSERT_STRING_EQUAL(sqemu_jstr(b, "qdev"), "s1");
			blocks++;
		}
	}
	CU_ASSERT_EQUAL(blocks, 2);
	cleanup_json struct json_object *nodes = sqemu_qmp(c, "query-named-block-nodes", NULL, TMO);
	CU_ASSERT(array_has(nodes, "node-name", "drive-d1"));
	CU_ASSERT(array_has(nodes, "node-name", "drive-s1"));

	/* SCSI: scsi-hd on the controller's bus with its id/lun; controller on iothread0 */
	cleanup_json struct json_object *sb = sqemu_qom_get(c, "/machine/peripheral/s1", "parent_bus", TMO);
	CU_ASSERT_PTR_NOT_NULL(sb && strstr(json_object_get_string(sb), "scsi-s1"));
	cleanup_json struct json_object *sid = sqemu_qom_get(c, "/machine/peripheral/s1", "scsi-id", TMO);
	CU_ASSERT_EQUAL(sid ? json_object_get_int(sid) : -1, 2);
	cleanup_json struct json_object *lun = sqemu_qom_get(c, "/machine/peripheral/s1", "lun", TMO);
	CU_ASSERT_EQUAL(lun ? json_object_get_int(lun) : -1, 1);
	cleanup_json struct json_object *iot = sqemu_qmp(c, "query-iothreads", NULL, TMO);
	CU_ASSERT(array_has(iot, "id", "iothread0"));
	cleanup_json struct json_object *sio =
		sqemu_qom_get(c, "/machine/peripheral/scsi-s1", "iothread", TMO);
	CU_ASSERT_PTR_NOT_NULL(sio && strstr(json_object_get_string(sio), "iothread0"));
}

/* The peripheral ids and their QOM types. */
static const char *const every_types[][2] = {
	{ "con", "virtconsole" }, { "agent", "virtserialport" },
	{ "p9", "virtio-9p-pci" }, { "n0", "virtio-net-pci" }, { "n1", "virtio-net-pci" },
	{ "rng0", "virtio-rng-pci" }, { "viommu", "intel-iommu" }, { "root", "nvdimm" },
};

/* The nvdimm image, chardevs, ports, console, 9p, nets, rng, vIOMMU, vsock. */
static void check_devices(struct every *ev)
{
	struct qmp_client *c = ev->c;
	/* nvdimm image: a memory device backed by the image */
	cleanup_json struct json_object *mem = sqemu_qmp(c, "query-memory-devices", NULL, TMO);
	bool nvd = false;
	for (size_t i = 0; mem && i < json_object_array_length(mem); i++) {
		struct json_object *m = json_object_array_get_idx(mem, i), *data;
		if (!strcmp(sqemu_jstr(m, "type"), "nvdimm") &&
		    json_object_object_get_ex(m, "data", &data) && !strcmp(sqemu_jstr(data, "id"), "root"))
			nvd = true;
	}
	CU_ASSERT(nvd);

	cleanup_json struct json_object *chr = sqemu_qmp(c, "query-chardev", NULL, TMO);
	CU_ASSERT(array_has(chr, "label", "char-con"));
	CU_ASSERT(array_has(chr, "label", "char-agent"));
	for (size_t i = 0; i < ARRAY_SIZE(every_types); i++) {
		cleanup_free char *p = xasprintf("/machine/peripheral/%s", every_types[i][0]);
		cleanup_json struct json_object *ty = sqemu_qom_get(c, p, "type", TMO);
		CU_ASSERT_STRING_EQUAL(ty ? json_object_get_string(ty) : "", every_types[i][1]);
	}
	cleanup_free char *pname = sqom_str(c, "/machine/peripheral/agent", "name");
	CU_ASSERT_STRING_EQUAL(pname, "agent.channel.0");
	cleanup_free char *mac = sqom_str(c, "/machine/peripheral/n0", "mac");
	CU_ASSERT_STRING_EQUAL(mac, "02:00:00:00:00:10");
	CU_ASSERT_EQUAL(sqom_int(c, "/machine/peripheral/n1", "vectors"), 6);
	cleanup_json struct json_object *objs =
		sqemu_qmp(c, "qom-list", json_tokener_parse("{\"path\":\"/objects\"}"), TMO);
	CU_ASSERT(array_has(objs, "name", "rng-rng0"));
	CU_ASSERT(array_has(objs, "name", "mem-root"));
	CU_ASSERT(array_has(objs, "name", "dimm1"));
	CU_ASSERT(array_has(objs, "name", "iothread0"));
	if (have_vsock)
		CU_ASSERT_EQUAL(sqom_int(c, "/machine/peripheral/vs", "guest-cid"), 77);
}

static void every_release(struct every *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		vm_device_free(ev->devs[i]);
		free(ev->specs[i]);
	}
	vm_fdplan_release(&ev->plan);
	vm_topology_release(&ev->t);
	vm_config_release(&ev->cfg);
	vm_config_set_defaults(NULL);
	char **paths[] = { &ev->img, &ev->d1, &ev->s1, &ev->share, &ev->log,
			   &ev->con, &ev->ser, &ev->qsock, &ev->qlog };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		free(*paths[i]);
}

static void test_accept(void)
{
	static struct every ev;
	memset(&ev, 0, sizeof(ev));
	every_config(&ev);
	every_devices(&ev);
	int r = every_start(&ev);
	CU_ASSERT_EQUAL(r, 0);
	if (r == 0) {
		check_placement(&ev);
		check_block(&ev);
		check_devices(&ev);
	}
	if (sqemu_stop(ev.c, ev.pid, NULL) < 0)
		CU_FAIL("QEMU did not quit");
	every_release(&ev);
}

int main(void)
{
	int rc = saccept_begin(dir, 0, NULL);
	if (rc >= 0)
		return rc;
	have_vsock = sqemu_have_dev("acceptance", "/dev/vhost-vsock", "vhost_vsock");
	printf("acceptance: VFIO and vhost-user are proven by golden argv + QMP arguments only "
	       "(test_device, test_hotplug): no vfio-bound host device or vhost-user backend here\n");
	static const struct unit_test tests[] = {
		{ "every_device_in_real_qemu", test_accept },
	};
	return saccept_run("accept", tests, ARRAY_SIZE(tests), dir);
}
