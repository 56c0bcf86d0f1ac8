/*
 * test_arch_ops — the arch ops tables themselves: what each decides
 * (machine, binary, caps, bridges, memory, machine options and CPU per
 * accelerator), the s390x CCW topology (bridges/ccw, devno addresses) and
 * pseries' pci-bridges, the hot-add QMP parts placed the arch's way, and
 * aarch64's nvdimm root image with DAX and its pflash pair.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cmdline.h"
#include "tests/unit/support_cunit.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

/* What each ops table decides. */
static void test_ops(void)
{
	static const struct {
		const char *arch, *machine, *qemu, *bad_machine;
	} m[] = {
		{ "x86_64", "q35", "/usr/bin/qemu-system-x86_64", "virt" },
		{ "aarch64", "virt", "/usr/bin/qemu-system-aarch64", "q35" },
		{ "ppc64le", "pseries", "/usr/bin/qemu-system-ppc64", "powernv" },
		{ "s390x", "s390-ccw-virtio", "/usr/bin/qemu-system-s390x", "virt" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		const struct arch_ops *a = arch_lookup(m[i].arch);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_STRING_EQUAL(a->name, m[i].arch);
		CU_ASSERT_STRING_EQUAL(a->default_machine, m[i].machine);
		CU_ASSERT_STRING_EQUAL(a->qemu_binary(m[i].machine), m[i].qemu);
		CU_ASSERT_PTR_NULL(a->qemu_binary(m[i].bad_machine));
		CU_ASSERT_PTR_NULL(a->qemu_binary(NULL));
		unsigned all = ARCH_CAP_MULTIQUEUE | ARCH_CAP_FS_SHARING;
		CU_ASSERT_EQUAL(a->caps & all, all);
	}
	CU_ASSERT_PTR_NULL(arch_lookup("ppc64"));
	CU_ASSERT_STRING_EQUAL(arch_host(), "x86_64");
	const struct arch_ops *arm = &arch_aarch64, *ppc = &arch_ppc64le, *s390 = &arch_s390x;
	/* x-ignore-shared: not on aarch64; 9p multidevs: not on aarch64 */
	CU_ASSERT_FALSE(arm->ignore_shared);
	CU_ASSERT_TRUE(arch_x86_64.ignore_shared && ppc->ignore_shared && s390->ignore_shared);
	CU_ASSERT_FALSE(arm->p9_multidevs);
	CU_ASSERT_TRUE(arch_x86_64.p9_multidevs);
	/* vIOMMU only on x86_64 q35; NVDIMM on x86_64 and aarch64 */
	CU_ASSERT_PTR_NULL(arm->iommu_driver);
	CU_ASSERT_PTR_NULL(ppc->iommu_driver);
	CU_ASSERT_PTR_NULL(s390->iommu_driver);
	CU_ASSERT_STRING_EQUAL(arm->nvdimm_option, "nvdimm=on");
	CU_ASSERT_PTR_NULL(ppc->nvdimm_option);
	CU_ASSERT_PTR_NULL(s390->nvdimm_option);
	/* bridges: type, bus, first address */
	CU_ASSERT_STRING_EQUAL(arm->bridge_driver, "pcie-root-port");
	CU_ASSERT_STRING_EQUAL(arm->bridge_bus, "pcie.0");
	CU_ASSERT_STRING_EQUAL(ppc->bridge_driver, "pci-bridge");
	CU_ASSERT_STRING_EQUAL(ppc->bridge_bus, "pci.0");
	CU_ASSERT_EQUAL(arm->bridge_first_addr, 2);
	CU_ASSERT_EQUAL(ppc->bridge_first_addr, 2);
	CU_ASSERT_TRUE(s390->ccw);
	CU_ASSERT_STRING_EQUAL(s390->virtio_suffix, "-ccw");
	CU_ASSERT_STRING_EQUAL(s390->blk_driver, "virtio-blk-ccw");
	/* memory */
	CU_ASSERT_EQUAL(ppc->memory_align_mib, 256);
	CU_ASSERT_FALSE(s390->memory_hotplug);
	CU_ASSERT_TRUE(arm->memory_hotplug);
	/* machine options and CPU per accelerator */
	CU_ASSERT_STRING_EQUAL(arm->machine_options("virt", "kvm"), "usb=off,gic-version=host");
	CU_ASSERT_STRING_EQUAL(arm->machine_options("virt", "tcg,thread=multi"), "usb=off,gic-version=3");
	CU_ASSERT_STRING_EQUAL(ppc->machine_options("pseries", "kvm"), "usb=off");
	struct arch_vm cfg = { .accel = "kvm", .machine_options = "usb=off,gic-version=host" };
	CU_ASSERT_STRING_EQUAL(arm->cpu_model(&cfg), "host");
	CU_ASSERT_EQUAL(arm->max_vcpus(&cfg), 123);
	CU_ASSERT_EQUAL(ppc->max_vcpus(&cfg), 128);
	CU_ASSERT_STRING_EQUAL(ppc->cpu_model(&cfg), "host");
	CU_ASSERT_STRING_EQUAL(s390->cpu_model(&cfg), "host");
	cfg.machine_options = "gic-version=4,usb=off";
	CU_ASSERT_EQUAL(arm->max_vcpus(&cfg), 123);
	cfg.machine_options = "usb=off,gic-version=2";
	CU_ASSERT_EQUAL(arm->max_vcpus(&cfg), 8);
	cfg.machine_options = "usb=off,xgic-version=2";
	CU_ASSERT_EQUAL(arm->max_vcpus(&cfg), 123);
	cfg.accel = "tcg";
	CU_ASSERT_STRING_EQUAL(arm->cpu_model(&cfg), "max");
	CU_ASSERT_PTR_NULL(ppc->cpu_model(&cfg));
	CU_ASSERT_EQUAL(ppc->max_vcpus(&cfg), 4096);
	CU_ASSERT_EQUAL(s390->max_vcpus(&cfg), 248);
	CU_ASSERT_TRUE(arch_accel_is_tcg("tcg,thread=single"));
	CU_ASSERT_FALSE(arch_accel_is_tcg("tcgx"));
	CU_ASSERT_FALSE(arch_accel_is_tcg("kvm"));
}

/* s390x: the CCW subchannel set is the only "bridge"; slots are devnos. */
static void test_ccw_topology(void)
{
	struct scmd_sb s;
	CU_ASSERT_EQUAL_FATAL(scmd_init_json(&s, "{\"arch\":\"s390x\"}", NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(s.topo.n, 1);
	CU_ASSERT_STRING_EQUAL(s.topo.bridges[0].id, "ccw");
	CU_ASSERT_EQUAL(vm_topology_find(&s.topo, "ccw"), 0);
	CU_ASSERT_EQUAL(vm_topology_free_slots(&s.topo), 256);
	scmd_add(&s, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/img/d1.img\"}");
	scmd_add(&s, "{\"type\":\"rng\",\"id\":\"rng0\"}");
	CU_ASSERT_EQUAL(s.devs[1]->slot, 1);
	struct sbuf out = {0};
	vm_topology_show(&s.topo.bridges[0], &out);
	CU_ASSERT_STRING_EQUAL(out.s, "type ccw\nbus virtual-css\ndevnos fe.0.0000-fe.0.00ff\nfree 254\n"
				      "devno fe.0.0000 d1\ndevno fe.0.0001 rng0\n");
	sbuf_release(&out);
	vm_topology_guest_addr(&s.topo, s.devs[1]->bridge, s.devs[1]->slot, &out);
	CU_ASSERT_STRING_EQUAL(out.s, "fe.0.0001");
	sbuf_release(&out);
	CU_ASSERT_EQUAL(vm_topology_slot_addr(&s.topo, 0, 255), 255);
	CU_ASSERT_EQUAL(vm_topology_slot_addr(&s.topo, 0, 256), -1);
	/* no -device for the set itself */
	cleanup_strv struct strv argv = {0};
	vm_topology_argv(&s.topo, &argv);
	CU_ASSERT_EQUAL(argv.n, 0);
	/* freeing a devno makes it the next one handed out */
	vm_topology_free(&s.topo, 0, 0);
	int b, sl;
	CU_ASSERT_EQUAL(vm_topology_alloc(&s.topo, "x", &b, &sl, NULL), 0);
	CU_ASSERT_EQUAL(sl, 0);
	scmd_release(&s);

	/* pseries: the hotplug bridges are pci-bridges pb<i>; extra
	 * pci_bridges continue the numbering */
	CU_ASSERT_EQUAL_FATAL(scmd_init_json(&s, "{\"arch\":\"ppc64le\",\"root_ports\":2,\"pci_bridges\":1}",
				      NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(s.topo.n, 3);
	CU_ASSERT_STRING_EQUAL(s.topo.bridges[0].id, "pb0");
	CU_ASSERT_STRING_EQUAL(s.topo.bridges[2].id, "pb2");
	CU_ASSERT_EQUAL(s.topo.bridges[2].addr, 4);
	scmd_add(&s, "{\"type\":\"rng\",\"id\":\"rng0\"}");
	vm_topology_guest_addr(&s.topo, s.devs[0]->bridge, s.devs[0]->slot, &out);
	CU_ASSERT_STRING_EQUAL(out.s, "02/01");
	sbuf_release(&out);
	scmd_release(&s);
}

/* The hot-add QMP parts are placed the arch's way; with disable_modern
 * (Kata nestedRun) the PCI arches go legacy-only and CCW, which has no
 * such property, is left alone.  The env is the one the daemon's hot-add
 * path builds (vm/sandbox/devices.c device_parts: disable_modern from
 * the config). */
static void test_hotplug_parts(void)
{
	static const struct {
		const char *arch, *want;
	} c[] = {
		{ "s390x", "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-ccw\","
			   "\"id\":\"d1\",\"drive\":\"drive-d1\",\"devno\":\"fe.0.0000\"}}" },
		{ "aarch64", "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\","
			     "\"id\":\"d1\",\"drive\":\"drive-d1\",\"bus\":\"rp0\",\"addr\":\"0x0\","
			     "\"disable-modern\":true,\"disable-legacy\":false}}" },
		{ "ppc64le", "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\","
			     "\"id\":\"d1\",\"drive\":\"drive-d1\",\"bus\":\"pb0\",\"addr\":\"0x1\","
			     "\"disable-modern\":true,\"disable-legacy\":false}}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct scmd_sb s;
		cleanup_free char *json = xasprintf("{\"arch\":\"%s\",\"disable_modern\":true}", c[i].arch);
		CU_ASSERT_EQUAL_FATAL(scmd_init_json(&s, json, NULL, 0), 0);
		scmd_add(&s, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/img/d1.img\"}");
		const struct vm_device *d = s.devs[0];
		CU_ASSERT_TRUE(s.cfg.disable_modern);
		struct vm_dev_env env = { .arch = vm_config_arch(&s.cfg),
					  .bus = s.topo.bridges[d->bridge].id,
					  .addr = vm_topology_slot_addr(&s.topo, d->bridge, d->slot),
					  .disable_modern = s.cfg.disable_modern };
		struct vm_dev_parts p = {0};
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_device_parts(d, &env, &p, &e), 0);
		struct json_object *cmds = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_dev_parts_qmp(&p, &cmds, &e), 0);
		CU_ASSERT_EQUAL(json_object_array_length(cmds), 2);
		const char *got = json_object_to_json_string_ext(json_object_array_get_idx(cmds, 1),
								 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		CU_ASSERT_STRING_EQUAL(got, c[i].want);
		if (strcmp(got, c[i].want))
			fprintf(stderr, "\n  %s: %s\n", c[i].arch, got);
		json_object_put(cmds);
		vm_dev_parts_release(&p);
		scmd_release(&s);
	}
	/* multiqueue net on CCW: no MSI-X vectors */
	struct scmd_sb s;
	CU_ASSERT_EQUAL_FATAL(scmd_init_json(&s, "{\"arch\":\"s390x\"}", NULL, 0), 0);
	scmd_add(&s, "{\"type\":\"net\",\"id\":\"n1\",\"ifname\":\"tap1\",\"queues\":2}");
	cleanup_strv struct strv argv = {0};
	CU_ASSERT_EQUAL(scmd_build_web(&s, &argv, NULL, 0), 0);
	CU_ASSERT_STRING_EQUAL(argv.v[argv.n - 1], "virtio-net-ccw,id=n1,netdev=net-n1,mq=on,devno=fe.0.0000");
	scmd_release(&s);
}

/* aarch64 takes an nvdimm root image with DAX (Kata's arm64 default). */
static void test_aarch64_nvdimm_pflash(void)
{
	cleanup_free char *img = xstrdup("/tmp/sbfs-test-arch-XXXXXX");
	int fd = mkstemp(img);
	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	struct scmd_sb s;
	CU_ASSERT_EQUAL_FATAL(scmd_init_json(&s, "{\"arch\":\"aarch64\",\"memory_slots\":1,\"maxmem_mib\":512,"
					  "\"pflash\":[\"/fw/code.fd\",\"/fw/vars,1.fd\"]}", NULL, 0), 0);
	cleanup_free char *spec = xasprintf("{\"type\":\"image\",\"id\":\"root\",\"file\":\"%s\",\"dax\":true}", img);
	scmd_add(&s, spec);
	cleanup_strv struct strv argv = {0};
	char msg[256] = "";
	CU_ASSERT_EQUAL(scmd_build_web(&s, &argv, msg, sizeof(msg)), 0);
	bool machine = false, append = false, pf0 = false, pf1 = false;
	for (size_t i = 0; i + 1 < argv.n; i++) {
		machine |= !strcmp(argv.v[i + 1], "virt,usb=off,gic-version=3,nvdimm=on");
		append |= strstr(argv.v[i + 1], "root=/dev/pmem0p1 rootflags=dax,data=ordered") != NULL;
		pf0 |= !strcmp(argv.v[i + 1], "if=pflash,format=raw,unit=0,file=/fw/code.fd");
		pf1 |= !strcmp(argv.v[i + 1], "if=pflash,format=raw,unit=1,file=/fw/vars,,1.fd");
	}
	CU_ASSERT(machine && append && pf0 && pf1);
	scmd_release(&s);
	unlink(img);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "ops", test_ops },
		{ "ccw_and_pseries_topology", test_ccw_topology },
		{ "hotplug_parts", test_hotplug_parts },
		{ "aarch64_nvdimm_pflash", test_aarch64_nvdimm_pflash },
	};
	int rc = unit_main("arch_ops", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
