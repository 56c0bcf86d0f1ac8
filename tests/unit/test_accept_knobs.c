/*
 * test_accept_knobs — every knob of the config model in an argv the real
 * QEMU accepted, and what each means asked back.
 *
 * knob_rows: every row of the knobs golden of test_cmdline_knobs
 * (tests/unit/golden_knobs.h) and of its knob variants is found in an argv
 * the real QEMU accepted, and what each knob means is asked back (machine
 * properties, vCPU topology, memory backend and its page size, locked
 * memory, VGA, RTC base, globals, firmware, flash, bridges, devices).  The
 * rows QEMU 7.2 refuses are listed; test_bugs holds them as written.  The
 * -kernel/-initrd/-append rows are dropped (no bootable guest kernel needed
 * with -S) and proven by the e2e boots.
 *
 * Needs root (network and mount namespaces, hugetlbfs) and QEMU: otherwise
 * exit 77 (skip).
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/golden_knobs.h"
#include "tests/unit/support_accept.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_knobs.h"
#include "tests/unit/support_qemu.h"
#include "tests/unit/support_qom.h"

#define TMO SQOM_TMO

static char dir[] = "/tmp/sbfs-accept-XXXXXX";
static bool have_knob_files;
static const char *huge_fs; /* what backs /dev/hugepages: "hugetlbfs", "tmpfs" or NULL */

/* ---- small readers of what QEMU's process holds ---- */

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
		if (json_object_get_int(sqom_get(sqom_get(d, "class_info"), "class")) == cls)
			return d;
	}
	return NULL;
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
		struct json_object *p = sqom_get(json_object_array_get_idx(hot, i), "props");
		for (int k = 0; k < 3; k++)
			if (sqom_get(p, ids[k]) && json_object_get_int(sqom_get(p, ids[k])) > max_id[k])
				max_id[k] = json_object_get_int(sqom_get(p, ids[k]));
		*numa = *numa && sqom_get(p, "node-id");
	}
}


/* ---- what each knob of the golden means, asked back from QEMU ---- */

/* -name, -uuid, -machine, -smp, -numa, -m. */
static void check_knobs_machine(struct qmp_client *c)
{
	/* -name guest=n,,1, -uuid */
	cleanup_json struct json_object *name = sqemu_qmp(c, "query-name", NULL, TMO);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(name, "name"), "n,1");
	cleanup_json struct json_object *uuid = sqemu_qmp(c, "query-uuid", NULL, TMO);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(uuid, "UUID"), KNOBS_UUID);
	/* -machine q35,smm=off,smbus=off,nvdimm=on */
	cleanup_free char *type = sqom_str(c, "/machine", "type");
	CU_ASSERT_PTR_NOT_NULL(strstr(type, "q35"));
	cleanup_free char *smm = sqom_str(c, "/machine", "smm");
	CU_ASSERT_STRING_EQUAL(smm, "off");
	CU_ASSERT_EQUAL(sqom_bool(c, "/machine", "smbus"), 0);
	CU_ASSERT_EQUAL(sqom_bool(c, "/machine", "nvdimm"), 1);
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
	CU_ASSERT_EQUAL(json_object_get_int64(sqom_get(mem, "size")), 512LL << 20);
	CU_ASSERT_EQUAL(json_object_get_int64(sqom_get(mem, "slots")), 2);
	CU_ASSERT_EQUAL(json_object_get_int64(sqom_get(mem, "max-size")), 1024LL << 20);
}

/* The memory backend, its pages, locked memory, no display. */
static void check_knobs_memory(struct sqemu_sb *s)
{
	struct qmp_client *c = s->c;
	/* -object memory-backend-file,...,mem-path=/dev/hugepages,share=on,prealloc=on */
	cleanup_json struct json_object *memdev = sqemu_qmp(c, "query-memdev", NULL, TMO);
	struct json_object *dimm = sqom_find(memdev, "id", "dimm1");
	CU_ASSERT_EQUAL(json_object_get_int64(sqom_get(dimm, "size")), 512LL << 20);
	CU_ASSERT(json_object_get_boolean(sqom_get(dimm, "share")) && json_object_get_boolean(sqom_get(dimm, "prealloc")));
	cleanup_free char *btype = sqom_child(c, "/objects", "dimm1");
	CU_ASSERT_STRING_EQUAL(btype, "child<memory-backend-file>");
	cleanup_free char *mpath = sqom_str(c, "/objects/dimm1", "mem-path");
	CU_ASSERT_STRING_EQUAL(mpath, "/dev/hugepages");
	/* the guest RAM really is on huge pages (or on the stand-in tmpfs) */
	long page = mapping_page_kb(s->pid, "/dev/hugepages/");
	CU_ASSERT_EQUAL(page, huge_fs && !strcmp(huge_fs, "hugetlbfs") ? 2048 : 4);
	/* -overcommit mem-lock=on: QEMU's memory is locked */
	CU_ASSERT(proc_status_kb(s->pid, "VmLck") > 0);
	/* -nographic */
	cleanup_json struct json_object *disp = sqemu_qmp(c, "query-display-options", NULL, TMO);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(disp, "type"), "none");
}

/* VGA (on the root bus: query-pci's `devices`), RTC, globals, firmware,
 * the serial console, the iothreads. */
static void check_knobs_platform(struct sqemu_sb *s, struct json_object *pdevs)
{
	struct qmp_client *c = s->c;
	/* -vga std: the Bochs VGA (1234:1111) on the root bus */
	struct json_object *vga = pci_class(pdevs, 0x0300);
	CU_ASSERT(vga && json_object_get_int(sqom_get(sqom_get(vga, "id"), "vendor")) == 0x1234 &&
		  json_object_get_int(sqom_get(sqom_get(vga, "id"), "device")) == 0x1111);
	/* -rtc base=localtime,clock=vm: QEMU ran with TZ five hours east */
	cleanup_json struct json_object *rtc = sqemu_qom_get(c, "/machine", "rtc-time", TMO);
	time_t now = time(NULL) + 5 * 3600;
	struct tm want;
	gmtime_r(&now, &want);
	int got_min = json_object_get_int(sqom_get(rtc, "tm_hour")) * 60 + json_object_get_int(sqom_get(rtc, "tm_min"));
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
	cleanup_free char *fw = sqom_str(c, "/machine", "firmware");
	CU_ASSERT_STRING_EQUAL(fw, bios);
	/* -chardev file console + -serial chardev:console */
	cleanup_free char *console = knobs_subst(KNOBS_CONSOLE_LOG);
	cleanup_free char *cf = sqom_chardev_filename(c, "console");
	CU_ASSERT_STRING_EQUAL(cf ? cf : "(none)", "file");
	CU_ASSERT_EQUAL(access(console, F_OK), 0);
	/* -object iothread ×2 */
	cleanup_json struct json_object *iot = sqemu_qmp(c, "query-iothreads", NULL, TMO);
	CU_ASSERT(sqom_find(iot, "id", "iothread0") && sqom_find(iot, "id", "iothread1"));
}

/* The vIOMMU, the bridges (in query-pci's `devices`), the nvdimm image,
 * the disk, the RNG. */
static void check_knobs_devices(struct sqemu_sb *s, struct json_object *pdevs)
{
	struct qmp_client *c = s->c;
	/* -device intel-iommu,intremap=on,device-iotlb=on,caching-mode=on */
	cleanup_free char *ity = sqom_str(c, "/machine/peripheral/viommu", "type");
	CU_ASSERT_STRING_EQUAL(ity, "intel-iommu");
	cleanup_free char *irm = sqom_str(c, "/machine/peripheral/viommu", "intremap");
	CU_ASSERT_STRING_EQUAL(irm, "on");
	CU_ASSERT_EQUAL(sqom_bool(c, "/machine/peripheral/viommu", "device-iotlb"), 1);
	CU_ASSERT_EQUAL(sqom_bool(c, "/machine/peripheral/viommu", "caching-mode"), 1);
	/* the bridges at their addresses; pb0 with SHPC */
	for (int b = 0; b < s->t.n; b++)
		CU_ASSERT(sqemu_bridge_placed(pdevs, &s->t, b, s->label));
	CU_ASSERT_EQUAL(sqom_bool(c, "/machine/peripheral/pb0", "shpc"), 1);
	CU_ASSERT_EQUAL(sqom_int(c, "/machine/peripheral/pb0", "chassis_nr"), 2);
	/* the nvdimm image */
	cleanup_json struct json_object *md = sqemu_qmp(c, "query-memory-devices", NULL, TMO);
	bool nv = false;
	for (size_t i = 0; md && i < json_object_array_length(md); i++) {
		struct json_object *m = json_object_array_get_idx(md, i);
		nv = nv || (!strcmp(sqemu_jstr(m, "type"), "nvdimm") && !strcmp(sqemu_jstr(sqom_get(m, "data"), "id"), "root"));
	}
	CU_ASSERT(nv);
	CU_ASSERT_EQUAL(sqom_bool(c, "/objects/mem-root", "readonly"), 1);
	/* d1 on rp0 with iothread1; rng0 on pb0 slot 1 */
	CU_ASSERT(sqom_placed_at(c, "d1", "rp0", 0));
	cleanup_free char *d1io = sqom_str(c, "/machine/peripheral/d1", "iothread");
	CU_ASSERT_PTR_NOT_NULL(strstr(d1io, "iothread1"));
	cleanup_free char *d1img = knobs_subst("/d1.img");
	cleanup_json struct json_object *blk = sqemu_qmp(c, "query-block", NULL, TMO);
	struct json_object *b1 = sqom_find(blk, "qdev", "/machine/peripheral/d1/virtio-backend");
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(sqom_get(b1, "inserted"), "file"), d1img);
	CU_ASSERT(sqom_placed_at(c, "rng0", "pb0", 1 << 3));
	cleanup_free char *rf = sqom_str(c, "/objects/rng-rng0", "filename");
	CU_ASSERT_STRING_EQUAL(rf, "/dev/urandom");
}

static void check_knobs(struct sqemu_sb *s)
{
	check_knobs_machine(s->c);
	check_knobs_memory(s);
	cleanup_json struct json_object *pci = NULL;
	struct json_object *pdevs = NULL;
	CU_ASSERT(sqemu_query_pci(s->c, TMO, &pci, &pdevs));
	check_knobs_platform(s, pdevs);
	check_knobs_devices(s, pdevs);
}

/* ---- the knob variants: three more launches ---- */

/* q35 with memfd, mem-lock=off, pflash, disable-modern and a leading-comma
 * accelerator list. */
static void check_variant_q35(struct sqemu_sb *s)
{
	cleanup_free char *bt = sqom_child(s->c, "/objects", "dimm1");
	CU_ASSERT_STRING_EQUAL(bt, "child<memory-backend-memfd>");
	cleanup_json struct json_object *memdev = sqemu_qmp(s->c, "query-memdev", NULL, TMO);
	CU_ASSERT(json_object_get_boolean(sqom_get(sqom_find(memdev, "id", "dimm1"), "share")));
	CU_ASSERT_EQUAL(proc_status_kb(s->pid, "VmLck"), 0); /* mem-lock=off */
	cleanup_free char *smm = sqom_str(s->c, "/machine", "smm");
	CU_ASSERT_STRING_EQUAL(smm, "off");
	cleanup_free char *code = knobs_subst("/fw/code,1.fd");
	cleanup_free char *vars = knobs_subst("/fw/vars.fd");
	cleanup_json struct json_object *blk = sqemu_qmp(s->c, "query-block", NULL, TMO);
	struct json_object *pf0 = sqom_get(sqom_find(blk, "device", "pflash0"), "inserted");
	struct json_object *pf1 = sqom_get(sqom_find(blk, "device", "pflash1"), "inserted");
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(pf0, "file"), code);
	CU_ASSERT_STRING_EQUAL(sqemu_jstr(pf1, "file"), vars);
	CU_ASSERT_EQUAL(sqom_bool(s->c, "/machine/peripheral/d1", "disable-modern"), 1);
	cleanup_free char *legacy = sqom_str(s->c, "/machine/peripheral/d1", "disable-legacy");
	CU_ASSERT_STRING_EQUAL(legacy, "off");
}

/* pc with a pci-bridge and preallocated RAM. */
static void check_variant_pc(struct sqemu_sb *s)
{
	cleanup_free char *mt = sqom_str(s->c, "/machine", "type");
	CU_ASSERT_PTR_NOT_NULL(strstr(mt, "i440fx"));
	cleanup_json struct json_object *pci = NULL;
	struct json_object *pdevs = NULL;
	CU_ASSERT(sqemu_query_pci(s->c, TMO, &pci, &pdevs) && sqemu_bridge_placed(pdevs, &s->t, 0, s->label));
	CU_ASSERT_EQUAL(sqom_bool(s->c, "/machine/peripheral/pb0", "shpc"), 0);
	CU_ASSERT_EQUAL(sqom_int(s->c, "/machine/peripheral/pb0", "chassis_nr"), 1);
	cleanup_free char *bt = sqom_child(s->c, "/objects", "dimm1");
	CU_ASSERT_STRING_EQUAL(bt, "child<memory-backend-ram>");
	cleanup_json struct json_object *memdev = sqemu_qmp(s->c, "query-memdev", NULL, TMO);
	CU_ASSERT(json_object_get_boolean(sqom_get(sqom_find(memdev, "id", "dimm1"), "prealloc")));
	int online, slots, max_id[3];
	bool numa;
	cpu_topology(s->c, &online, &slots, max_id, &numa);
	CU_ASSERT(numa);
}

/* The hugepage backend alone. */
static void check_variant_huge(struct sqemu_sb *s)
{
	cleanup_free char *mpath = sqom_str(s->c, "/objects/dimm1", "mem-path");
	CU_ASSERT_STRING_EQUAL(mpath, "/dev/hugepages");
	CU_ASSERT_EQUAL(mapping_page_kb(s->pid, "/dev/hugepages/"),
			huge_fs && !strcmp(huge_fs, "hugetlbfs") ? 2048 : 4);
}

static const char *const variant_d1[] = { "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/d1.img\"}", NULL };
static const char *const variant_q35[] = { "{\"mem_shared\":true,\"realtime\":true,\"disable_modern\":true,"
					   "\"machine_accelerators\":\",smm=off\","
					   "\"pflash\":[\"/fw/code,1.fd\",\"/fw/vars.fd\"]}", NULL };
static const char *const variant_pc[] = { "{\"machine\":\"pc\",\"root_ports\":0,\"pci_bridges\":1,"
					  "\"mem_prealloc\":true}", NULL };
static const char *const variant_huge[] = { "{\"hugepages\":true}", NULL };

/* The variants' launches, each with the disk d1, in order. */
static const struct {
	const char *label;
	const char *const *cfg;
	void (*check)(struct sqemu_sb *s);
} variant_launches[] = {
	{ "variants-q35", variant_q35, check_variant_q35 },
	{ "variants-pc", variant_pc, check_variant_pc },
	{ "variants-huge", variant_huge, check_variant_huge },
};

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
	 * disable-modern and a leading-comma accelerator list; pc with a
	 * pci-bridge and preallocated RAM; the hugepage backend alone. */
	for (size_t i = 0; i < ARRAY_SIZE(variant_launches); i++) {
		struct sqemu_sb s;
		ok = knobs_launch(&s, variant_launches[i].label, variant_launches[i].cfg, variant_d1);
		CU_ASSERT(ok);
		if (ok)
			variant_launches[i].check(&s);
		sqemu_sb_release(&s);
	}

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

int main(void)
{
	int rc = saccept_begin(dir, 256 + 16, &huge_fs);
	if (rc >= 0)
		return rc;
	have_knob_files = knobs_files(dir);
	static const struct unit_test tests[] = {
		{ "knob_rows: every golden knob row in an accepted argv, and what it means", test_knob_rows },
	};
	return saccept_run("accept_knobs", tests, ARRAY_SIZE(tests), dir);
}
