/*
 * test_accept — the real-QEMU acceptance of the full config model.
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
 * knob_rows: every row of the knobs golden of test_cmdline
 * (tests/unit/golden_knobs.h) and of its knob variants is found in an argv
 * the real QEMU accepted, and what each knob means is asked back (machine
 * properties, vCPU topology, memory backend and its page size, locked
 * memory, VGA, RTC base, globals, firmware, flash, bridges, devices).  The
 * rows QEMU 7.2 refuses are listed; test_bugs holds them as written.
 *
 * qmp_forms: the chardev-add (socket server, socket client, file),
 * object-add rng-random and device_add forms vm_dev_parts_qmp produces —
 * and vhost-vsock-pci when /dev/vhost-vsock exists — sent to a running
 * QEMU and found with query-chardev / qom-list; then undone with the forms
 * of vm_dev_parts_undo and shown gone (system_reset stands in for the
 * guest's acknowledgement of a PCI unplug).
 *
 * vhost_net: "vhost": true on a net device, cold-plugged and hot-added,
 * with /dev/vhost-net open in QEMU (/proc/<pid>/fd) — or, where this
 * kernel has no vhost-net (probed after `modprobe vhost_net`), shown to be
 * really asked for: QEMU refuses it, and the daemon cannot open the
 * descriptor it would pass.
 *
 * Not proven here, and said so at run time: VFIO (needs a host device bound
 * to vfio-pci) and vhost-user devices (need a backend process) — those are
 * proven by the golden argv and QMP-argument tests in test_device and
 * test_hotplug; the -kernel/-initrd/-append rows are dropped (no bootable
 * guest kernel needed with -S) and proven by the e2e boots.
 *
 * Needs root (network and mount namespaces, tap, hugetlbfs) and QEMU:
 * otherwise exit 77 (skip).
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "lib/err.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/golden_knobs.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_knobs.h"
#include "tests/unit/support_qemu.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/qemu/version.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

#define TMO 10000

static char dir[] = "/tmp/sbfs-accept-XXXXXX";
static bool have_vsock, have_vhost_net, have_knob_files;
static const char *huge_fs; /* what backs /dev/hugepages: "hugetlbfs", "tmpfs" or NULL */

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

	struct vm_defaults defs = { .guest_kernel = "/nonexistent/vmlinuz", .guest_initrd = "",
				    .qemu_dirs = sqemu_dirs() };
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
	struct vm_cmdline_ctx ctx = { .name = "accept", .console_log = log, .fds = &plan,
				      .qemu = sqemu_qemu(vm_config_qemu_binary(&cfg)) };
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
		/* d1 s1 con agent p9 n0 n1 rng0 (+ vs): not "at least some" */
		CU_ASSERT_EQUAL(checked, have_vsock ? 9 : 8);

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

/* ---- small readers of QEMU's answers ---- */

static struct json_object *jget(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* qom-get path.prop as a new string ("" when it failed). */
static char *qom_str(struct qmp_client *c, const char *path, const char *prop)
{
	cleanup_json struct json_object *v = sqemu_qom_get(c, path, prop, TMO);
	return xstrdup(v ? json_object_get_string(v) : "");
}

static long long qom_int(struct qmp_client *c, const char *path, const char *prop)
{
	cleanup_json struct json_object *v = sqemu_qom_get(c, path, prop, TMO);
	return v ? json_object_get_int64(v) : -1;
}

/* 1 / 0 for a QOM boolean, -1 when it could not be read. */
static int qom_bool(struct qmp_client *c, const char *path, const char *prop)
{
	cleanup_json struct json_object *v = sqemu_qom_get(c, path, prop, TMO);
	return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : -1;
}

/* The type of child `name` of `path` ("child<TYPE>", "link<...>"), new
 * string; "" when there is no such child. */
static char *qom_child(struct qmp_client *c, const char *path, const char *name)
{
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "path", json_object_new_string(path));
	cleanup_json struct json_object *l = sqemu_qmp(c, "qom-list", a, TMO);
	for (size_t i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *p = json_object_array_get_idx(l, i);
		if (!strcmp(sqemu_jstr(p, "name"), name))
			return xstrdup(sqemu_jstr(p, "type"));
	}
	return xstrdup("");
}

/* query-chardev: the filename of chardev `label`, new string; NULL when
 * QEMU has no such chardev. */
static char *chardev_filename(struct qmp_client *c, const char *label)
{
	cleanup_json struct json_object *l = sqemu_qmp(c, "query-chardev", NULL, TMO);
	for (size_t i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *ch = json_object_array_get_idx(l, i);
		if (!strcmp(sqemu_jstr(ch, "label"), label))
			return xstrdup(sqemu_jstr(ch, "filename"));
	}
	return NULL;
}

/* The entry of array `l` whose `key` is `val` (borrowed), or NULL. */
static struct json_object *find_in(struct json_object *l, const char *key, const char *val)
{
	for (size_t i = 0; l && i < json_object_array_length(l); i++)
		if (!strcmp(sqemu_jstr(json_object_array_get_idx(l, i), key), val))
			return json_object_array_get_idx(l, i);
	return NULL;
}

/* A "Key:   N kB" line of /proc/<pid>/status; -1 when absent. */
static long proc_status_kb(pid_t pid, const char *key)
{
	cleanup_free char *path = xasprintf("/proc/%d/status", (int)pid);
	cleanup_free char *st = util_read_file(path, NULL);
	size_t kl = strlen(key);
	for (char *l = st; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == ':')
			return strtol(l + kl + 1, NULL, 10);
	return -1;
}

/* KernelPageSize (kB) of the first mapping of pid whose file starts with
 * `prefix` (/proc/<pid>/smaps); -1 when there is none. */
static long mapping_page_kb(pid_t pid, const char *prefix)
{
	cleanup_free char *path = xasprintf("/proc/%d/smaps", (int)pid);
	cleanup_free char *sm = util_read_file(path, NULL);
	bool in = false;
	for (char *l = sm; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *sp = strchr(l, ' '), *nl = strchr(l, '\n');
		bool header = sp && (!nl || sp < nl) && strchr(l, '-') && strchr(l, '-') < sp;
		if (header) {
			char *file = strchr(l, '/');
			in = file && (!nl || file < nl) && !strncmp(file, prefix, strlen(prefix));
		} else if (in && !strncmp(l, "KernelPageSize:", 15)) {
			return strtol(l + 15, NULL, 10);
		}
	}
	return -1;
}

/* The PCI device on bus 0 with this class (0x0300: VGA), borrowed. */
static struct json_object *pci_class(struct json_object *devices, int cls)
{
	for (size_t i = 0; devices && i < json_object_array_length(devices); i++) {
		struct json_object *d = json_object_array_get_idx(devices, i);
		if (json_object_get_int(jget(jget(d, "class_info"), "class")) == cls)
			return d;
	}
	return NULL;
}

/* Where QOM says device `id` sits: parent bus and devfn, as one check. */
static bool placed_at(struct qmp_client *c, const char *id, const char *bridge, int devfn)
{
	cleanup_free char *path = xasprintf("/machine/peripheral/%s", id);
	cleanup_free char *bus = qom_str(c, path, "parent_bus");
	cleanup_free char *want = xasprintf("/machine/peripheral/%s/%s", bridge, bridge);
	long long addr = qom_int(c, path, "addr");
	if (!strcmp(bus, want) && addr == devfn)
		return true;
	fprintf(stderr, "\n  %s: on %s at devfn %lld, want %s at %d\n", id, bus, addr, want, devfn);
	return false;
}

/* ---- knob_rows: every golden row in an accepted argv ---- */

struct row {
	const char *opt, *val; /* as in the golden (paths not yet substituted) */
	char covered[48];      /* the accepted launch whose argv holds it */
};

static const char *const knobs_want[] = { KNOBS_WANT };
static const struct knob_variant variants[] = { KNOB_VARIANTS };
static struct row rows[ARRAY_SIZE(knobs_want) + ARRAY_SIZE(variants)];
static size_t nrows;

/* Rows no accepted argv can hold, and why. */
static const char *row_exempt(const struct row *r)
{
	if (!strcmp(r->opt, "-kernel") || !strcmp(r->opt, "-initrd") || !strcmp(r->opt, "-append"))
		return "guest kernel: dropped with -S, proven by the e2e boots";
	return NULL;
}

static void rows_init(void)
{
	nrows = 0;
	for (size_t i = 1; i < ARRAY_SIZE(knobs_want); i++) {
		struct row *r = &rows[nrows++];
		memset(r, 0, sizeof(*r));
		r->opt = knobs_want[i];
		if (i + 1 < ARRAY_SIZE(knobs_want) && knobs_want[i + 1][0] != '-')
			r->val = knobs_want[++i];
	}
	for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
		struct row *r = &rows[nrows++];
		memset(r, 0, sizeof(*r));
		r->opt = variants[i].opt;
		r->val = variants[i].val;
	}
}

/* After QEMU accepted s's argv: mark the rows it holds. */
static void rows_cover(const struct sqemu_sb *s)
{
	for (size_t i = 0; i < nrows; i++) {
		cleanup_free char *val = rows[i].val ? knobs_subst(rows[i].val) : NULL;
		if (!rows[i].covered[0] && sqemu_sb_has(s, rows[i].opt, val))
			snprintf(rows[i].covered, sizeof(rows[i].covered), "%s", s->label);
	}
}

/* A knobs launch: the config writes, the devices (paths pointed at the
 * real files), built, started; false when QEMU refused it (printed). */
static bool knobs_launch(struct sqemu_sb *s, const char *label, const char *const *cfg,
			 const char *const *devs)
{
	sqemu_sb_init(s, dir, label);
	bool ok = sqemu_sb_merge(s, "{\"uuid\":\"" KNOBS_UUID "\"}");
	for (size_t i = 0; ok && cfg[i]; i++) {
		cleanup_free char *j = knobs_subst(cfg[i]);
		ok = sqemu_sb_merge(s, j);
	}
	for (size_t i = 0; ok && devs[i]; i++) {
		cleanup_free char *j = knobs_subst(devs[i]);
		ok = sqemu_sb_add(s, j);
	}
	cleanup_free char *console = knobs_subst(KNOBS_CONSOLE_LOG);
	ok = ok && sqemu_sb_build(s, KNOBS_NAME, console) && sqemu_sb_start(s);
	cleanup_json struct json_object *st = ok ? sqemu_qmp(s->c, "query-status", NULL, TMO) : NULL;
	ok = ok && !strcmp(sqemu_jstr(st, "status"), "prelaunch");
	if (ok)
		rows_cover(s);
	printf("\n  %s: %s", label, ok ? "QEMU accepted the argv" : "QEMU REFUSED the argv");
	return ok;
}

/* The vCPU topology QEMU built: online count, slots, largest ids; whether
 * the slots carry a NUMA node. */
static void cpu_topology(struct qmp_client *c, int *online, int *slots, int max_id[3], bool *numa)
{
	cleanup_json struct json_object *fast = sqemu_qmp(c, "query-cpus-fast", NULL, TMO);
	cleanup_json struct json_object *hot = sqemu_qmp(c, "query-hotpluggable-cpus", NULL, TMO);
	*online = fast ? (int)json_object_array_length(fast) : -1;
	*slots = hot ? (int)json_object_array_length(hot) : -1;
	static const char *const ids[3] = { "socket-id", "core-id", "thread-id" };
	*numa = hot && json_object_array_length(hot) > 0;
	for (int k = 0; k < 3; k++)
		max_id[k] = -1;
	for (size_t i = 0; hot && i < json_object_array_length(hot); i++) {
		struct json_object *p = jget(json_object_array_get_idx(hot, i), "props");
		for (int k = 0; k < 3; k++)
			if (jget(p, ids[k]) && json_object_get_int(jget(p, ids[k])) > max_id[k])
				max_id[k] = json_object_get_int(jget(p, ids[k]));
		*numa = *numa && jget(p, "node-id");
	}
}

/* What each knob of the golden means, asked back from QEMU. */
static void check_knobs(struct sqemu_sb *s)
{
	struct qmp_client *c = s->c;
	/* -name guest=n,,1, -uuid */
	cleanup_json struct json_object *name = sqemu_qmp(c, "query-name", NULL, TMO);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(name, "name"), "n,1");
	cleanup_json struct json_object *uuid = sqemu_qmp(c, "query-uuid", NULL, TMO);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(uuid, "UUID"), KNOBS_UUID);
	/* -machine q35,smm=off,smbus=off,nvdimm=on */
	cleanup_free char *type = qom_str(c, "/machine", "type");
	CU_ASSERT_PTR_NOT_NULL(strstr(type, "q35"));
	cleanup_free char *smm = qom_str(c, "/machine", "smm");
	CU_ASSERT_STRING_EQUAL(smm, "off");
	CU_ASSERT_EQUAL(qom_bool(c, "/machine", "smbus"), 0);
	CU_ASSERT_EQUAL(qom_bool(c, "/machine", "nvdimm"), 1);
	/* -smp 2,sockets=2,cores=2,threads=2,maxcpus=8; -numa node,memdev=dimm1 */
	int online, slots, max_id[3];
	bool numa;
	cpu_topology(c, &online, &slots, max_id, &numa);
	CU_ASSERT_EQUAL(online, 2);
	CU_ASSERT_EQUAL(slots, 8);
	CU_ASSERT(max_id[0] == 1 && max_id[1] == 1 && max_id[2] == 1);
	CU_ASSERT(numa);
	/* -m 512M,slots=2,maxmem=1024M */
	cleanup_json struct json_object *mem = sqemu_qom_get(c, "/machine", "memory", TMO);
	CU_ASSERT_EQUAL(json_object_get_int64(jget(mem, "size")), 512LL << 20);
	CU_ASSERT_EQUAL(json_object_get_int64(jget(mem, "slots")), 2);
	CU_ASSERT_EQUAL(json_object_get_int64(jget(mem, "max-size")), 1024LL << 20);
	/* -object memory-backend-file,...,mem-path=/dev/hugepages,share=on,prealloc=on */
	cleanup_json struct json_object *memdev = sqemu_qmp(c, "query-memdev", NULL, TMO);
	struct json_object *dimm = find_in(memdev, "id", "dimm1");
	CU_ASSERT_EQUAL(json_object_get_int64(jget(dimm, "size")), 512LL << 20);
	CU_ASSERT(json_object_get_boolean(jget(dimm, "share")) && json_object_get_boolean(jget(dimm, "prealloc")));
	cleanup_free char *btype = qom_child(c, "/objects", "dimm1");
	CU_ASSERT_STRING_EQUAL(btype, "child<memory-backend-file>");
	cleanup_free char *mpath = qom_str(c, "/objects/dimm1", "mem-path");
	CU_ASSERT_STRING_EQUAL(mpath, "/dev/hugepages");
	/* the guest RAM really is on huge pages (or on the stand-in tmpfs) */
	long page = mapping_page_kb(s->pid, "/dev/hugepages/");
	CU_ASSERT_EQUAL(page, huge_fs && !strcmp(huge_fs, "hugetlbfs") ? 2048 : 4);
	/* -overcommit mem-lock=on: QEMU's memory is locked */
	CU_ASSERT(proc_status_kb(s->pid, "VmLck") > 0);
	/* -nographic */
	cleanup_json struct json_object *disp = sqemu_qmp(c, "query-display-options", NULL, TMO);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(disp, "type"), "none");
	/* -vga std: the Bochs VGA (1234:1111) on the root bus */
	cleanup_json struct json_object *pci = NULL;
	struct json_object *pdevs = NULL;
	CU_ASSERT(sqemu_query_pci(c, TMO, &pci, &pdevs));
	struct json_object *vga = pci_class(pdevs, 0x0300);
	CU_ASSERT(vga && json_object_get_int(jget(jget(vga, "id"), "vendor")) == 0x1234 &&
		  json_object_get_int(jget(jget(vga, "id"), "device")) == 0x1111);
	/* -rtc base=localtime,clock=vm: QEMU ran with TZ five hours east */
	cleanup_json struct json_object *rtc = sqemu_qom_get(c, "/machine", "rtc-time", TMO);
	time_t now = time(NULL) + 5 * 3600;
	struct tm want;
	gmtime_r(&now, &want);
	int got_min = json_object_get_int(jget(rtc, "tm_hour")) * 60 + json_object_get_int(jget(rtc, "tm_min"));
	int diff = (want.tm_hour * 60 + want.tm_min - got_min + 1440) % 1440;
	CU_ASSERT(rtc && (diff <= 2 || diff >= 1438));
	if (!rtc || (diff > 2 && diff < 1438))
		fprintf(stderr, "\n  rtc-time %02d:%02d, want local (UTC+5) %02d:%02d\n", got_min / 60,
			got_min % 60, want.tm_hour, want.tm_min);
	/* -global a.b=c,d -global e.f=g: each taken whole as driver.property=value */
	cleanup_free char *log = sqemu_sb_log(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "global a.b has invalid class name"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "global e.f has invalid class name"));
	/* -bios /fw/bios,1.bin (the real SeaBIOS, at a path with a comma) */
	cleanup_free char *bios = knobs_subst("/fw/bios,1.bin");
	cleanup_free char *fw = qom_str(c, "/machine", "firmware");
	CU_ASSERT_STRING_EQUAL(fw, bios);
	/* -chardev file console + -serial chardev:console */
	cleanup_free char *console = knobs_subst(KNOBS_CONSOLE_LOG);
	cleanup_free char *cf = chardev_filename(c, "console");
	CU_ASSERT_STRING_EQUAL(cf ? cf : "(none)", "file");
	CU_ASSERT_EQUAL(access(console, F_OK), 0);
	/* -object iothread ×2 */
	cleanup_json struct json_object *iot = sqemu_qmp(c, "query-iothreads", NULL, TMO);
	CU_ASSERT(find_in(iot, "id", "iothread0") && find_in(iot, "id", "iothread1"));
	/* -device intel-iommu,intremap=on,device-iotlb=on,caching-mode=on */
	cleanup_free char *ity = qom_str(c, "/machine/peripheral/viommu", "type");
	CU_ASSERT_STRING_EQUAL(ity, "intel-iommu");
	cleanup_free char *irm = qom_str(c, "/machine/peripheral/viommu", "intremap");
	CU_ASSERT_STRING_EQUAL(irm, "on");
	CU_ASSERT_EQUAL(qom_bool(c, "/machine/peripheral/viommu", "device-iotlb"), 1);
	CU_ASSERT_EQUAL(qom_bool(c, "/machine/peripheral/viommu", "caching-mode"), 1);
	/* the bridges at their addresses; pb0 with SHPC */
	for (int b = 0; b < s->t.n; b++)
		CU_ASSERT(sqemu_bridge_placed(pdevs, &s->t, b, s->label));
	CU_ASSERT_EQUAL(qom_bool(c, "/machine/peripheral/pb0", "shpc"), 1);
	CU_ASSERT_EQUAL(qom_int(c, "/machine/peripheral/pb0", "chassis_nr"), 2);
	/* the nvdimm image */
	cleanup_json struct json_object *md = sqemu_qmp(c, "query-memory-devices", NULL, TMO);
	bool nv = false;
	for (size_t i = 0; md && i < json_object_array_length(md); i++) {
		struct json_object *m = json_object_array_get_idx(md, i);
		nv = nv || (!strcmp(sqemu_jstr(m, "type"), "nvdimm") && !strcmp(sqemu_jstr(jget(m, "data"), "id"), "root"));
	}
	CU_ASSERT(nv);
	CU_ASSERT_EQUAL(qom_bool(c, "/objects/mem-root", "readonly"), 1);
	/* d1 on rp0 with iothread1; rng0 on pb0 slot 1 */
	CU_ASSERT(placed_at(c, "d1", "rp0", 0));
	cleanup_free char *d1io = qom_str(c, "/machine/peripheral/d1", "iothread");
	CU_ASSERT_PTR_NOT_NULL(strstr(d1io, "iothread1"));
	cleanup_free char *d1img = knobs_subst("/d1.img");
	cleanup_json struct json_object *blk = sqemu_qmp(c, "query-block", NULL, TMO);
	struct json_object *b1 = find_in(blk, "qdev", "/machine/peripheral/d1/virtio-backend");
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(jget(b1, "inserted"), "file"), d1img);
	CU_ASSERT(placed_at(c, "rng0", "pb0", 1 << 3));
	cleanup_free char *rf = qom_str(c, "/objects/rng-rng0", "filename");
	CU_ASSERT_STRING_EQUAL(rf, "/dev/urandom");
}

static void test_knob_rows(void)
{
	if (!have_knob_files) {
		CU_FAIL("the knob files (SeaBIOS image, images) could not be made");
		return;
	}
	rows_init();

	/* The knobs golden exactly as written (only file paths pointed at real
	 * files).  TZ five hours east makes rtc base=localtime visible. */
	static const char *const kcfg[] = { KNOBS_CONFIG, NULL };
	static const char *const kdev[] = { KNOBS_DEVICES, NULL };
	struct sqemu_sb k;
	setenv("TZ", "XXX-5", 1);
	int64_t t0 = util_now_ms();
	bool ok = knobs_launch(&k, "knobs", kcfg, kdev);
	unsetenv("TZ");
	CU_ASSERT(ok);
	CU_ASSERT(sqemu_sb_has(&k, "-machine", "q35,smm=off,smbus=off,nvdimm=on"));
	if (ok)
		check_knobs(&k);
	sqemu_sb_release(&k);
	printf(" (%lld ms)", (long long)(util_now_ms() - t0));

	/* The variants, three launches: q35 with memfd, mem-lock=off, pflash,
	 * disable-modern and a leading-comma accelerator list; pc with a pci-bridge and preallocated RAM; the
	 * hugepage backend alone. */
	static const char *const d1[] = { "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/d1.img\"}", NULL };
	static const char *const v1[] = { "{\"mem_shared\":true,\"realtime\":true,\"disable_modern\":true,"
					  "\"machine_accelerators\":\",smm=off\","
					  "\"pflash\":[\"/fw/code,1.fd\",\"/fw/vars.fd\"]}", NULL };
	struct sqemu_sb s;
	ok = knobs_launch(&s, "variants-q35", v1, d1);
	CU_ASSERT(ok);
	if (ok) {
		cleanup_free char *bt = qom_child(s.c, "/objects", "dimm1");
		CU_ASSERT_STRING_EQUAL(bt, "child<memory-backend-memfd>");
		cleanup_json struct json_object *memdev = sqemu_qmp(s.c, "query-memdev", NULL, TMO);
		CU_ASSERT(json_object_get_boolean(jget(find_in(memdev, "id", "dimm1"), "share")));
		CU_ASSERT_EQUAL(proc_status_kb(s.pid, "VmLck"), 0); /* mem-lock=off */
		cleanup_free char *smm = qom_str(s.c, "/machine", "smm");
		CU_ASSERT_STRING_EQUAL(smm, "off");
		cleanup_free char *code = knobs_subst("/fw/code,1.fd");
		cleanup_free char *vars = knobs_subst("/fw/vars.fd");
		cleanup_json struct json_object *blk = sqemu_qmp(s.c, "query-block", NULL, TMO);
		CU_ASSERT_STRING_EQUAL(sqemu_jstr(jget(find_in(blk, "device", "pflash0"), "inserted"), "file"), code);
		CU_ASSERT_STRING_EQUAL(sqemu_jstr(jget(find_in(blk, "device", "pflash1"), "inserted"), "file"), vars);
		CU_ASSERT_EQUAL(qom_bool(s.c, "/machine/peripheral/d1", "disable-modern"), 1);
		cleanup_free char *legacy = qom_str(s.c, "/machine/peripheral/d1", "disable-legacy");
		CU_ASSERT_STRING_EQUAL(legacy, "off");
	}
	sqemu_sb_release(&s);

	static const char *const v2[] = { "{\"machine\":\"pc\",\"root_ports\":0,\"pci_bridges\":1,"
					  "\"mem_prealloc\":true}", NULL };
	ok = knobs_launch(&s, "variants-pc", v2, d1);
	CU_ASSERT(ok);
	if (ok) {
		cleanup_free char *mt = qom_str(s.c, "/machine", "type");
		CU_ASSERT_PTR_NOT_NULL(strstr(mt, "i440fx"));
		cleanup_json struct json_object *pci = NULL;
		struct json_object *pdevs = NULL;
		CU_ASSERT(sqemu_query_pci(s.c, TMO, &pci, &pdevs) && sqemu_bridge_placed(pdevs, &s.t, 0, s.label));
		CU_ASSERT_EQUAL(qom_bool(s.c, "/machine/peripheral/pb0", "shpc"), 0);
		CU_ASSERT_EQUAL(qom_int(s.c, "/machine/peripheral/pb0", "chassis_nr"), 1);
		cleanup_free char *bt = qom_child(s.c, "/objects", "dimm1");
		CU_ASSERT_STRING_EQUAL(bt, "child<memory-backend-ram>");
		cleanup_json struct json_object *memdev = sqemu_qmp(s.c, "query-memdev", NULL, TMO);
		CU_ASSERT(json_object_get_boolean(jget(find_in(memdev, "id", "dimm1"), "prealloc")));
		int online, slots, max_id[3];
		bool numa;
		cpu_topology(s.c, &online, &slots, max_id, &numa);
		CU_ASSERT(numa);
	}
	sqemu_sb_release(&s);

	static const char *const v3[] = { "{\"hugepages\":true}", NULL };
	ok = knobs_launch(&s, "variants-huge", v3, d1);
	CU_ASSERT(ok);
	if (ok) {
		cleanup_free char *mpath = qom_str(s.c, "/objects/dimm1", "mem-path");
		CU_ASSERT_STRING_EQUAL(mpath, "/dev/hugepages");
		CU_ASSERT_EQUAL(mapping_page_kb(s.pid, "/dev/hugepages/"),
				huge_fs && !strcmp(huge_fs, "hugetlbfs") ? 2048 : 4);
	}
	sqemu_sb_release(&s);

	/* Every row is in an argv QEMU accepted, or exempt with its reason. */
	printf("\n  rows of the knobs golden and the knob variants:");
	for (size_t i = 0; i < nrows; i++) {
		const char *why = rows[i].covered[0] ? NULL : row_exempt(&rows[i]);
		printf("\n    %-11s %-60.60s %s", rows[i].opt, rows[i].val ? rows[i].val : "",
		       rows[i].covered[0] ? rows[i].covered : why ? why : "NOT COVERED");
		if (!rows[i].covered[0] && !why)
			CU_FAIL("a knob row is in no argv the real QEMU accepted");
	}
	printf("\n");
}

/* ---- qmp_forms: the hot-add forms, added and undone ---- */

struct hot {
	struct vm_device *d;
	struct json_object *cmds; /* {"execute","arguments"} as sent */
	size_t sent;              /* how many of them went out */
};

/* The QMP commands the daemon's hot-add sends for `spec` (as
 * vm/sandbox/devices.c hot_add builds them: placed on a free slot, the
 * descriptors passed with getfd); NULL after saying why. */
static bool hot_parts(struct sqemu_sb *s, const char *spec, const char *console, struct hot *h)
{
	cleanup_err struct err *e = NULL;
	memset(h, 0, sizeof(*h));
	if (vm_device_parse(spec, &h->d, &e) < 0 ||
	    (vm_device_is_pci(h->d) && vm_topology_alloc(&s->t, h->d->id, &h->d->bridge, &h->d->slot, &e) < 0)) {
		fprintf(stderr, "\n  %s: %s\n", spec, e->msg);
		return false;
	}
	struct vm_fdplan plan = {0};
	struct vm_dev_env env = {
		.arch = vm_config_arch(&s->cfg),
		.bus = h->d->bridge >= 0 ? s->t.bridges[h->d->bridge].id : NULL,
		.addr = h->d->bridge >= 0 ? vm_topology_slot_addr(&s->t, h->d->bridge, h->d->slot) : 0,
		.disable_modern = s->cfg.disable_modern,
		.console_log = console,
		.fds = &plan,
	};
	struct vm_dev_parts p = { .main = -1 };
	struct vm_fds_passed passed = {0};
	int r = vm_device_parts(h->d, &env, &p, &e);
	if (r == 0)
		r = vm_dev_parts_qmp(&p, &h->cmds, &e);
	if (r == 0)
		r = vm_fds_pass_qmp(s->c, h->d->id, &plan, NULL, h->cmds, &passed, TMO, &e);
	vm_dev_parts_release(&p);
	vm_fdplan_release(&plan);
	if (r < 0)
		fprintf(stderr, "\n  %s: %s\n", spec, e->msg);
	return r == 0;
}

/* Send the first `n` commands (all: SIZE_MAX); false at the first QEMU
 * refused (printed by sqemu_qmp). */
static bool hot_send(struct sqemu_sb *s, struct hot *h, size_t n)
{
	size_t all = json_object_array_length(h->cmds);
	for (; h->sent < all && h->sent < n; h->sent++) {
		struct json_object *c = json_object_array_get_idx(h->cmds, h->sent);
		cleanup_json struct json_object *ret = sqemu_qmp(s->c, sqemu_jstr(c, "execute"),
								 json_object_get(jget(c, "arguments")), TMO);
		if (!ret)
			return false;
	}
	return true;
}

/* Undo what was sent, newest first, with vm_dev_parts_undo's forms; after
 * each device_del, system_reset (the guest's acknowledgement: QEMU then
 * completes a pending PCI unplug) and DEVICE_DELETED.  False at the first
 * failure. */
static bool hot_undo(struct sqemu_sb *s, struct hot *h)
{
	bool ok = true;
	while (ok && h->sent > 0) {
		struct json_object *c = json_object_array_get_idx(h->cmds, --h->sent);
		cleanup_json struct json_object *undo =
			vm_dev_parts_undo(sqemu_jstr(c, "execute"), jget(c, "arguments"));
		if (!undo) {
			fprintf(stderr, "\n  no undo form for %s\n", sqemu_jstr(c, "execute"));
			return false;
		}
		const char *del = sqemu_jstr(undo, "execute");
		cleanup_json struct json_object *ret =
			sqemu_qmp(s->c, del, json_object_get(jget(undo, "arguments")), TMO);
		ok = ret != NULL;
		if (ok && !strcmp(del, "device_del")) {
			const char *id = sqemu_jstr(jget(undo, "arguments"), "id");
			cleanup_json struct json_object *rs = sqemu_qmp(s->c, "system_reset", NULL, TMO);
			cleanup_err struct err *e = NULL;
			ok = rs && qmp_wait_event(s->c, "DEVICE_DELETED", "device", id, TMO, NULL, &e) == 0;
			if (!ok)
				fprintf(stderr, "\n  device_del %s: no DEVICE_DELETED (%s)\n", id, e ? e->msg : "");
		}
	}
	return ok;
}

static void hot_release(struct hot *h)
{
	vm_device_free(h->d);
	json_object_put(h->cmds);
	memset(h, 0, sizeof(*h));
}

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

static void test_qmp_forms(void)
{
	struct sqemu_sb s;
	sqemu_sb_init(&s, dir, "forms");
	cleanup_free char *console = xasprintf("%s/forms.console.log", dir);
	bool ok = sqemu_sb_build(&s, "forms", console) && sqemu_sb_start(&s);
	CU_ASSERT(ok);
	if (!ok) {
		sqemu_sb_release(&s);
		return;
	}
	cleanup_free char *agent = xasprintf("%s/forms-agent.sock", dir);
	cleanup_free char *con = xasprintf("%s/forms-con.log", dir);
	cleanup_free char *vub = xasprintf("%s/forms-vub.sock", dir);
	/* The vhost-user-blk chardev is a client: something must listen. */
	int lfd = unix_listen(vub);
	CU_ASSERT_FATAL(lfd >= 0);
	cleanup_free char *agent_spec = xasprintf("{\"type\":\"serial\",\"id\":\"agent\",\"socket\":\"%s\","
						  "\"name\":\"agent.channel.0\"}", agent);
	cleanup_free char *con_spec = xasprintf("{\"type\":\"console\",\"id\":\"con\",\"file\":\"%s\"}", con);
	cleanup_free char *vub_spec = xasprintf("{\"type\":\"vhost-user-blk\",\"id\":\"vb\",\"socket\":\"%s\"}", vub);
	const char *specs[] = { agent_spec, con_spec, "{\"type\":\"rng\",\"id\":\"rng0\"}", vub_spec,
				"{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":91}",
				"{\"type\":\"vsock\",\"id\":\"vsp\",\"cid\":92,\"pass_fds\":true}" };
	size_t nspecs = have_vsock ? 6 : 4;
	if (!have_vsock)
		unit_skip("/dev/vhost-vsock", "vsock forms not run: absent on this kernel (after modprobe vhost_vsock)");
	struct hot h[6];
	int urandom_before = sqemu_pid_open_count(s.pid, "/dev/urandom");
	for (size_t i = 0; i < nspecs; i++) {
		CU_ASSERT_FATAL(hot_parts(&s, specs[i], console, &h[i]));
		/* vhost-user-blk: only its chardev — the device needs a backend
		 * speaking vhost-user, which this test does not have */
		CU_ASSERT(hot_send(&s, &h[i], i == 3 ? 1 : SIZE_MAX));
	}

	/* chardev-add, the socket server form: listening at the path, no
	 * client yet */
	cleanup_free char *fa = chardev_filename(s.c, "char-agent");
	cleanup_free char *want_fa = xasprintf("disconnected:unix:%s,server=on", agent);
	CU_ASSERT_STRING_EQUAL(fa ? fa : "(none)", want_fa);

	CU_ASSERT(unix_connects(agent));
	/* the socket client form: connected, and our listener has it (QEMU
	 * 7.2 names a connected client by its own, unnamed, end: "unix:";
	 * 10.0 by the path it connected to) */
	cleanup_free char *fv = chardev_filename(s.c, "char-vb");
	const struct vm_qemu_caps *q = sqemu_qemu(vm_config_qemu_binary(&s.cfg));
	cleanup_free char *want_fv = q && vm_qemu_at_least(q, 10, 0) ? xasprintf("unix:%s", vub)
								     : xstrdup("unix:");
	CU_ASSERT_STRING_EQUAL(fv ? fv : "(none)", want_fv);
	struct pollfd pl = { .fd = lfd, .events = POLLIN };
	int afd = poll(&pl, 1, TMO) == 1 ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
	CU_ASSERT(afd >= 0);
	/* the file form: the file QEMU opened */
	cleanup_free char *fc = chardev_filename(s.c, "char-con");
	CU_ASSERT_STRING_EQUAL(fc ? fc : "(none)", "file");
	CU_ASSERT_EQUAL(access(con, F_OK), 0);
	/* object-add rng-random: the object, holding /dev/urandom open */
	cleanup_free char *rt = qom_child(s.c, "/objects", "rng-rng0");
	CU_ASSERT_STRING_EQUAL(rt, "child<rng-random>");
	cleanup_free char *rfn = qom_str(s.c, "/objects/rng-rng0", "filename");
	CU_ASSERT_STRING_EQUAL(rfn, "/dev/urandom");
	CU_ASSERT_EQUAL(sqemu_pid_open_count(s.pid, "/dev/urandom"), urandom_before + 1);
	/* device_add: each device, wired to its backend */
	for (size_t i = 0; i < ARRAY_SIZE(forms_devices); i++) {
		cleanup_free char *ty = qom_child(s.c, "/machine/peripheral", forms_devices[i][0]);
		CU_ASSERT_STRING_EQUAL(ty, forms_devices[i][1]);
	}
	cleanup_free char *ach = qom_str(s.c, "/machine/peripheral/agent", "chardev");
	CU_ASSERT_STRING_EQUAL(ach, "char-agent");
	cleanup_free char *apn = qom_str(s.c, "/machine/peripheral/agent", "name");
	CU_ASSERT_STRING_EQUAL(apn, "agent.channel.0");
	cleanup_free char *cch = qom_str(s.c, "/machine/peripheral/con", "chardev");
	CU_ASSERT_STRING_EQUAL(cch, "char-con");
	cleanup_free char *rlink = qom_str(s.c, "/machine/peripheral/rng0", "rng");
	CU_ASSERT_STRING_EQUAL(rlink, "/objects/rng-rng0");
	for (size_t i = 0; i < nspecs; i++)
		if (h[i].d->bridge >= 0 && i != 3) {
			char mid[64];
			snprintf(mid, sizeof(mid), "%s%s", h[i].d->kind == VM_DEVK_SERIAL ||
				 h[i].d->kind == VM_DEVK_CONSOLE ? "vser-" : "", h[i].d->id);
			CU_ASSERT(placed_at(s.c, mid, s.t.bridges[h[i].d->bridge].id,
					    vm_topology_slot_addr(&s.t, h[i].d->bridge, h[i].d->slot) << 3));
		}
	if (have_vsock) {
		CU_ASSERT_EQUAL(qom_int(s.c, "/machine/peripheral/vs", "guest-cid"), 91);
		CU_ASSERT_EQUAL(qom_int(s.c, "/machine/peripheral/vsp", "guest-cid"), 92);
		CU_ASSERT(sqemu_pid_open_count(s.pid, "/dev/vhost-vsock") >= 2);
	}

	/* Undone with the undo forms, newest first: all gone. */
	for (size_t i = nspecs; i-- > 0;)
		CU_ASSERT(hot_undo(&s, &h[i]));
	static const char *const chardevs[] = { "char-agent", "char-con", "char-vb" };
	for (size_t i = 0; i < ARRAY_SIZE(chardevs); i++) {
		cleanup_free char *f = chardev_filename(s.c, chardevs[i]);
		CU_ASSERT_PTR_NULL(f);
	}
	cleanup_free char *rt2 = qom_child(s.c, "/objects", "rng-rng0");
	CU_ASSERT_STRING_EQUAL(rt2, "");
	CU_ASSERT_EQUAL(sqemu_pid_open_count(s.pid, "/dev/urandom"), urandom_before);
	for (size_t i = 0; i < ARRAY_SIZE(forms_devices); i++) {
		cleanup_free char *ty = qom_child(s.c, "/machine/peripheral", forms_devices[i][0]);
		CU_ASSERT_STRING_EQUAL(ty, "");
	}
	if (have_vsock) {
		cleanup_free char *v1 = qom_child(s.c, "/machine/peripheral", "vs");
		cleanup_free char *v2 = qom_child(s.c, "/machine/peripheral", "vsp");
		CU_ASSERT(!*v1 && !*v2);
		CU_ASSERT_EQUAL(sqemu_pid_open_count(s.pid, "/dev/vhost-vsock"), 0);
	}
	CU_ASSERT(!unix_connects(agent)); /* the listener is gone */
	char b;
	struct pollfd pa = { .fd = afd, .events = POLLIN };
	CU_ASSERT(afd >= 0 && poll(&pa, 1, TMO) == 1 && read(afd, &b, 1) == 0); /* the client hung up */
	for (size_t i = 0; i < nspecs; i++)
		hot_release(&h[i]);
	if (afd >= 0)
		close(afd);
	close(lfd);
	sqemu_sb_release(&s);
}

/* ---- vhost_net ---- */

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
	cleanup_free char *t1 = qom_child(s.c, "/machine/peripheral", "vn");
	cleanup_free char *t2 = qom_child(s.c, "/machine/peripheral", "vp");
	CU_ASSERT_STRING_EQUAL(t1, "child<virtio-net-pci>");
	CU_ASSERT_STRING_EQUAL(t2, "child<virtio-net-pci>");
	/* Hot: the daemon's QMP forms, by ifname and with getfd. */
	struct hot h[2];
	CU_ASSERT_FATAL(hot_parts(&s, "{\"type\":\"net\",\"id\":\"vh\",\"ifname\":\"sbt4\",\"vhost\":true}",
				  console, &h[0]));
	CU_ASSERT(hot_send(&s, &h[0], SIZE_MAX));
	CU_ASSERT_FATAL(hot_parts(&s, "{\"type\":\"net\",\"id\":\"vq\",\"ifname\":\"sbt5\",\"vhost\":true,"
				  "\"pass_fds\":true}", console, &h[1]));
	CU_ASSERT(hot_send(&s, &h[1], SIZE_MAX));
	CU_ASSERT(sqemu_pid_open_count(s.pid, "/dev/vhost-net") >= cold + 2);
	cleanup_free char *t3 = qom_child(s.c, "/machine/peripheral", "vh");
	cleanup_free char *t4 = qom_child(s.c, "/machine/peripheral", "vq");
	CU_ASSERT_STRING_EQUAL(t3, "child<virtio-net-pci>");
	CU_ASSERT_STRING_EQUAL(t4, "child<virtio-net-pci>");
	hot_release(&h[0]);
	hot_release(&h[1]);
	sqemu_sb_release(&s);
}

int main(void)
{
	cleanup_free char *qemu = sqemu_binary("qemu-system-x86_64");
	if (geteuid() != 0 || access(qemu, X_OK) != 0)
		return unit_skip_program(geteuid() ? "root" : "qemu-system-x86_64",
					 "the real-QEMU acceptance needs root and %s", qemu);
	if (!sqemu_netns_with_tap("sbt0"))
		return 77;
	/* Before any thread exists: the private mount namespace for hugetlbfs. */
	huge_fs = sqemu_hugepages_begin(256 + 16);
	printf("acceptance: /dev/hugepages is %s\n", huge_fs ? huge_fs : "unavailable");
	have_vsock = sqemu_have_dev("acceptance", "/dev/vhost-vsock", "vhost_vsock");
	have_vhost_net = sqemu_have_dev("acceptance", "/dev/vhost-net", "vhost_net");
	printf("acceptance: VFIO and vhost-user are proven by golden argv + QMP arguments only "
	       "(test_device, test_hotplug): no vfio-bound host device or vhost-user backend here\n");
	if (!mkdtemp(dir)) {
		sqemu_hugepages_end();
		return 2;
	}
	have_knob_files = knobs_files(dir);
	static const struct unit_test tests[] = {
		{ "every_device_in_real_qemu", test_accept },
		{ "knob_rows: every golden knob row in an accepted argv, and what it means", test_knob_rows },
		{ "qmp_forms: chardev/object/device add forms, then their undo forms", test_qmp_forms },
		{ "vhost_net: vhost=on cold-plugged and hot-added", test_vhost_net },
	};
	int rc = unit_main("accept", tests, ARRAY_SIZE(tests));
	if (unit_rm_rf(dir) < 0 && rc == 0)
		rc = 1;
	sqemu_hugepages_end();
	return rc;
}
