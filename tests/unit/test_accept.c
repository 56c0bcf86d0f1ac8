/*
 * test_accept — the real-QEMU acceptance of the full config model.
 *
 * One config enabling every device kind that can exist on this machine —
 * an nvdimm root image, virtio-blk and virtio-scsi disks (the SCSI
 * controller on an iothread), a virtio console on a file, a virtserialport
 * on a socket, a 9p share, a tap by ifname and a multiqueue tap passed as
 * descriptors (both in a private network namespace), an RNG, the vIOMMU,
 * vsock when /dev/vhost-vsock exists, root ports, a pci-bridge and a
 * pcie-pci-bridge — is built with vm_cmdline_build and started as
 * `qemu-system-x86_64 ... -S` (the guest never runs), the descriptors of
 * the plan dup2()ed onto their numbers as the launcher does.  Over QMP
 * (query-pci, qom-get/qom-list, query-block, query-named-block-nodes,
 * query-iothreads, query-chardev, query-memory-devices) every device is
 * shown to exist where the topology put it.
 *
 * Not proven here, and said so at run time: VFIO (needs a host device bound
 * to vfio-pci), vhost-user (needs a vhost-user backend process) and
 * vhost=on (no /dev/vhost-net here) — those are proven by the golden argv
 * and QMP-argument tests in test_device / test_cmdline.
 *
 * Needs root (network namespace, tap) and QEMU: otherwise exit 77 (skip).
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

#define QEMU "/usr/bin/qemu-system-x86_64"
#define TMO 10000

static char dir[] = "/tmp/sbfs-accept-XXXXXX";
static bool have_vsock;

struct placed {
	const char *id;     /* main PCI function */
	const char *type;   /* its QOM type */
	const struct vm_device *dev;
};

static bool array_has(struct json_object *arr, const char *key, const char *val)
{
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		if (!strcmp(sqemu_jstr(json_object_array_get_idx(arr, i), key), val))
			return true;
	return false;
}

static void test_accept(void)
{
	cleanup_free char *img = xasprintf("%s/root.img", dir);
	cleanup_free char *d1 = xasprintf("%s/d1,x.img", dir);
	cleanup_free char *s1 = xasprintf("%s/s1.img", dir);
	cleanup_free char *share = xasprintf("%s/share", dir);
	cleanup_free char *log = xasprintf("%s/console.log", dir);
	cleanup_free char *con = xasprintf("%s/con.log", dir);
	cleanup_free char *ser = xasprintf("%s/agent.sock", dir);
	cleanup_free char *qsock = xasprintf("%s/qmp.sock", dir);
	CU_ASSERT_FATAL(sqemu_make_file(img, 64 << 20) == 0 && sqemu_make_file(d1, 16 << 20) == 0 &&
			sqemu_make_file(s1, 16 << 20) == 0 && mkdir(share, 0700) == 0);

	struct vm_defaults defs = { .guest_kernel = "/nonexistent/vmlinuz", .guest_initrd = "" };
	vm_config_set_defaults(&defs);
	struct vm_config cfg;
	vm_config_init(&cfg);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg,
		"{\"root_ports\":4,\"pci_bridges\":1,\"pcie_pci_bridges\":1,\"iothreads\":1,"
		"\"memory_slots\":1,\"maxmem_mib\":512,\"mem_prealloc\":true,\"vcpus\":2,"
		"\"maxvcpus\":4,\"cores\":2,\"name\":\"accept,1\"}", false, &e), 0);
	struct vm_topology t;
	vm_config_topology(&cfg, &t);

	char *specs[16] = {0};
	size_t n = 0;
	specs[n++] = xasprintf("{\"type\":\"iommu\",\"id\":\"viommu\"}");
	specs[n++] = xasprintf("{\"type\":\"image\",\"id\":\"root\",\"file\":\"%s\"}", img);
	specs[n++] = xasprintf("{\"type\":\"block\",\"id\":\"d1\",\"file\":\"%s\"}", d1);
	specs[n++] = xasprintf("{\"type\":\"block\",\"id\":\"s1\",\"file\":\"%s\",\"interface\":\"scsi\","
			       "\"iothread\":\"iothread0\",\"scsi_id\":2,\"lun\":1}", s1);
	specs[n++] = xasprintf("{\"type\":\"console\",\"id\":\"con\",\"file\":\"%s\"}", con);
	specs[n++] = xasprintf("{\"type\":\"serial\",\"id\":\"agent\",\"socket\":\"%s\","
			       "\"name\":\"agent.channel.0\"}", ser);
	specs[n++] = xasprintf("{\"type\":\"9p\",\"id\":\"p9\",\"path\":\"%s\",\"mount_tag\":\"share\","
			       "\"security_model\":\"none\",\"readonly\":true}", share);
	specs[n++] = xasprintf("{\"type\":\"net\",\"id\":\"n0\",\"ifname\":\"sbt0\","
			       "\"mac\":\"02:00:00:00:00:10\"}");
	specs[n++] = xasprintf("{\"type\":\"net\",\"id\":\"n1\",\"ifname\":\"sbt1\",\"queues\":2,"
			       "\"pass_fds\":true}");
	specs[n++] = xasprintf("{\"type\":\"rng\",\"id\":\"rng0\"}");
	if (have_vsock)
		specs[n++] = xasprintf("{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":77,\"pass_fds\":true}");
	struct vm_device *devs[16] = {0};
	for (size_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(vm_device_parse(specs[i], &devs[i], &e), 0);
		if (vm_device_is_pci(devs[i]))
			CU_ASSERT_EQUAL_FATAL(vm_topology_alloc(&t, devs[i]->id, &devs[i]->bridge,
								&devs[i]->slot, &e), 0);
	}

	struct vm_fdplan plan = {0};
	struct vm_cmdline_ctx ctx = { .name = "accept", .console_log = log, .fds = &plan };
	cleanup_strv struct strv built = {0};
	int r = vm_cmdline_build(&cfg, &t, devs, n, &ctx, &built, &e);
	if (r < 0)
		fprintf(stderr, "\n  build: %s\n", e->msg);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	/* -kernel must name a bootable image; with -S it never runs, so the
	 * check drops -kernel/-initrd/-append and passes everything else. */
	cleanup_strv struct strv argv = {0};
	sqemu_argv_paused(&built, &argv);

	int fds[32];
	CU_ASSERT_FATAL(plan.n < ARRAY_SIZE(fds));
	r = vm_fds_open(&plan, NULL, fds, &e);
	if (r < 0)
		fprintf(stderr, "\n  open fds: %s\n", e->msg);
	CU_ASSERT_EQUAL_FATAL(r, 0);

	int hl = sqemu_listen(qsock);
	CU_ASSERT_FATAL(hl >= 0);
	cleanup_free char *qlog = xasprintf("%s/qemu.log", dir);
	pid_t pid = sqemu_spawn(argv.v, hl, qlog, &plan, fds);
	CU_ASSERT_FATAL(pid >= 0);
	vm_fds_close(&plan, fds);

	struct qmp_client *c = NULL;
	r = sqemu_connect(qsock, TMO, NULL, qlog, &argv, &c);
	CU_ASSERT_EQUAL(r, 0);
	if (r == 0) {
		/* name and machine options reached QEMU */
		cleanup_json struct json_object *name = sqemu_qmp(c, "query-name", NULL, TMO);
		CU_ASSERT_STRING_EQUAL(sqemu_jstr(name, "name"), "accept,1");
		cleanup_json struct json_object *nv = sqemu_qom_get(c, "/machine", "nvdimm", TMO);
		CU_ASSERT(nv && json_object_get_boolean(nv));

		/* bridges on the root bus at the addresses the topology gave */
		cleanup_json struct json_object *pci = NULL;
		struct json_object *pdevs;
		CU_ASSERT(sqemu_query_pci(c, TMO, &pci, &pdevs));
		for (int b = 0; b < t.n; b++)
			CU_ASSERT(sqemu_bridge_placed(pdevs, &t, b, NULL));

		/* every PCI function on its bridge slot (QOM: no bus numbers before
		 * firmware runs, so query-pci cannot see behind the bridges yet) */
		int checked = 0;
		for (size_t i = 0; i < n; i++) {
			const struct vm_device *d = devs[i];
			if (!vm_device_is_pci(d))
				continue;
			char main_id[64];
			if (d->kind == VM_DEVK_CONSOLE || d->kind == VM_DEVK_SERIAL)
				snprintf(main_id, sizeof(main_id), "vser-%s", d->id);
			else if (d->kind == VM_DEVK_BLOCK && !strcmp(vm_device_str(d, "interface"), "scsi"))
				snprintf(main_id, sizeof(main_id), "scsi-%s", d->id);
			else
				snprintf(main_id, sizeof(main_id), "%s", d->id);
			cleanup_free char *path = xasprintf("/machine/peripheral/%s", main_id);
			const char *bid = t.bridges[d->bridge].id;
			cleanup_free char *want_bus = xasprintf("/machine/peripheral/%s/%s", bid, bid);
			cleanup_json struct json_object *pb =
				sqemu_qom_get(c, path, "parent_bus", TMO);
			cleanup_json struct json_object *ad = sqemu_qom_get(c, path, "addr", TMO);
			CU_ASSERT_STRING_EQUAL(pb ? json_object_get_string(pb) : "", want_bus);
			int want_addr = vm_topology_slot_addr(&t, d->bridge, d->slot) << 3;
			CU_ASSERT_EQUAL(ad ? json_object_get_int(ad) : -1, want_addr);
			if (!pb || strcmp(json_object_get_string(pb), want_bus) ||
			    json_object_get_int(ad) != want_addr)
				fprintf(stderr, "\n  %s: bus %s addr %d, want %s %d\n", main_id,
					pb ? json_object_get_string(pb) : "?", ad ? json_object_get_int(ad) : -1,
					want_bus, want_addr);
			checked++;
		}
		CU_ASSERT(checked >= 8);

		/* block: nodes and their devices */
		cleanup_json struct json_object *blk = sqemu_qmp(c, "query-block", NULL, TMO);
		int blocks = 0;
		for (size_t i = 0; blk && i < json_object_array_length(blk); i++) {
			struct json_object *b = json_object_array_get_idx(blk, i), *ins;
			if (!json_object_object_get_ex(b, "inserted", &ins))
				continue;
			if (!strcmp(sqemu_jstr(ins, "node-name"), "drive-d1")) {
				CU_ASSERT_STRING_EQUAL(sqemu_jstr(ins, "file"), d1);
				CU_ASSERT_STRING_EQUAL(sqemu_jstr(b, "qdev"), "/machine/peripheral/d1/virtio-backend");
				blocks++;
			}
			if (!strcmp(sqemu_jstr(ins, "node-name"), "drive-s1")) {
				CU_ASSERT_STRING_EQUAL(sqemu_jstr(b, "qdev"), "s1");
				blocks++;
			}
		}
		CU_ASSERT_EQUAL(blocks, 2);
		cleanup_json struct json_object *nodes =
			sqemu_qmp(c, "query-named-block-nodes", NULL, TMO);
		CU_ASSERT(array_has(nodes, "node-name", "drive-d1"));
		CU_ASSERT(array_has(nodes, "node-name", "drive-s1"));

		/* SCSI: scsi-hd on the controller's bus with its id/lun; controller on iothread0 */
		cleanup_json struct json_object *sb =
			sqemu_qom_get(c, "/machine/peripheral/s1", "parent_bus", TMO);
		CU_ASSERT_PTR_NOT_NULL(sb && strstr(json_object_get_string(sb), "scsi-s1"));
		cleanup_json struct json_object *sid =
			sqemu_qom_get(c, "/machine/peripheral/s1", "scsi-id", TMO);
		CU_ASSERT_EQUAL(sid ? json_object_get_int(sid) : -1, 2);
		cleanup_json struct json_object *lun =
			sqemu_qom_get(c, "/machine/peripheral/s1", "lun", TMO);
		CU_ASSERT_EQUAL(lun ? json_object_get_int(lun) : -1, 1);
		cleanup_json struct json_object *iot = sqemu_qmp(c, "query-iothreads", NULL, TMO);
		CU_ASSERT(array_has(iot, "id", "iothread0"));
		cleanup_json struct json_object *sio =
			sqemu_qom_get(c, "/machine/peripheral/scsi-s1", "iothread", TMO);
		CU_ASSERT_PTR_NOT_NULL(sio && strstr(json_object_get_string(sio), "iothread0"));

		/* nvdimm image: a memory device backed by the image */
		cleanup_json struct json_object *mem =
			sqemu_qmp(c, "query-memory-devices", NULL, TMO);
		bool nvd = false;
		for (size_t i = 0; mem && i < json_object_array_length(mem); i++) {
			struct json_object *m = json_object_array_get_idx(mem, i), *data;
			if (!strcmp(sqemu_jstr(m, "type"), "nvdimm") &&
			    json_object_object_get_ex(m, "data", &data) && !strcmp(sqemu_jstr(data, "id"), "root"))
				nvd = true;
		}
		CU_ASSERT(nvd);

		/* chardevs, ports, console, 9p, nets, rng, vIOMMU */
		cleanup_json struct json_object *chr = sqemu_qmp(c, "query-chardev", NULL, TMO);
		CU_ASSERT(array_has(chr, "label", "char-con"));
		CU_ASSERT(array_has(chr, "label", "char-agent"));
		static const char *const types[][2] = {
			{ "con", "virtconsole" }, { "agent", "virtserialport" },
			{ "p9", "virtio-9p-pci" }, { "n0", "virtio-net-pci" }, { "n1", "virtio-net-pci" },
			{ "rng0", "virtio-rng-pci" }, { "viommu", "intel-iommu" }, { "root", "nvdimm" },
		};
		for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
			cleanup_free char *p = xasprintf("/machine/peripheral/%s", types[i][0]);
			cleanup_json struct json_object *ty = sqemu_qom_get(c, p, "type", TMO);
			CU_ASSERT_STRING_EQUAL(ty ? json_object_get_string(ty) : "", types[i][1]);
		}
		cleanup_json struct json_object *pname =
			sqemu_qom_get(c, "/machine/peripheral/agent", "name", TMO);
		CU_ASSERT_STRING_EQUAL(pname ? json_object_get_string(pname) : "", "agent.channel.0");
		cleanup_json struct json_object *mac =
			sqemu_qom_get(c, "/machine/peripheral/n0", "mac", TMO);
		CU_ASSERT_STRING_EQUAL(mac ? json_object_get_string(mac) : "", "02:00:00:00:00:10");
		cleanup_json struct json_object *vec =
			sqemu_qom_get(c, "/machine/peripheral/n1", "vectors", TMO);
		CU_ASSERT_EQUAL(vec ? json_object_get_int(vec) : -1, 6);
		cleanup_json struct json_object *objs =
			sqemu_qmp(c, "qom-list", json_tokener_parse("{\"path\":\"/objects\"}"), TMO);
		CU_ASSERT(array_has(objs, "name", "rng-rng0"));
		CU_ASSERT(array_has(objs, "name", "mem-root"));
		CU_ASSERT(array_has(objs, "name", "dimm1"));
		CU_ASSERT(array_has(objs, "name", "iothread0"));
		if (have_vsock) {
			cleanup_json struct json_object *cid =
				sqemu_qom_get(c, "/machine/peripheral/vs", "guest-cid", TMO);
			CU_ASSERT_EQUAL(cid ? json_object_get_int64(cid) : -1, 77);
		}
	}
	if (sqemu_stop(c, pid, NULL) < 0)
		CU_FAIL("QEMU did not quit");
	for (size_t i = 0; i < n; i++) {
		vm_device_free(devs[i]);
		free(specs[i]);
	}
	vm_fdplan_release(&plan);
	vm_topology_release(&t);
	vm_config_release(&cfg);
	vm_config_set_defaults(NULL);
}

int main(void)
{
	if (geteuid() != 0 || access(QEMU, X_OK) != 0) {
		printf("SKIP: the real-QEMU acceptance needs root and %s\n", QEMU);
		return 77;
	}
	if (!sqemu_netns_with_tap("sbt0"))
		return 77;
	have_vsock = access("/dev/vhost-vsock", R_OK | W_OK) == 0;
	printf("acceptance: vsock %s\n", have_vsock ? "included" : "skipped: /dev/vhost-vsock does not exist here");
	printf("acceptance: VFIO, vhost-user and vhost=on are proven by golden argv + QMP arguments only "
	       "(test_device, test_cmdline): no vfio-bound host device, vhost-user backend or /dev/vhost-net here\n");
	if (!mkdtemp(dir))
		return 2;
	static const struct unit_test tests[] = {
		{ "every_device_in_real_qemu", test_accept },
	};
	int rc = unit_main("accept", tests, ARRAY_SIZE(tests));
	if (unit_rm_rf(dir) < 0 && rc == 0)
		rc = 1;
	return rc;
}
