/*
 * test_arch_rules — what the architecture decides about input: the config
 * rules that reject a write (EINVAL naming the rule) and the accepted side
 * of the same rules, the device rules the argv build refuses by, and the
 * defaults that follow the arch (a value the user set stays).
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cmdline.h"
#include "tests/unit/support_cunit.h"
#include "vm/model/config.h"

/* Config rules: the write fails with EINVAL and this message. */
static void test_config_rules(void)
{
	static const struct {
		const char *json, *msg;
	} c[] = {
		{ "{\"arch\":\"aarch64\",\"machine\":\"q35\"}", "unknown machine type: q35" },
		{ "{\"arch\":\"ppc64le\",\"machine\":\"virt\"}", "unknown machine type: virt" },
		{ "{\"arch\":\"s390x\",\"machine\":\"pseries\"}", "unknown machine type: pseries" },
		{ "{\"machine\":\"virt\"}", "unknown machine type: virt" },
		{ "{\"arch\":\"sparc64\"}", "arch: unknown architecture: sparc64" },
		{ "{\"arch\":\"aarch64\",\"machine_options\":\"usb=off,gic-version=2\",\"maxvcpus\":9}",
		  "maxvcpus: out of range (1..8): GICv2 supports at most 8 vCPUs" },
		{ "{\"arch\":\"aarch64\",\"maxvcpus\":124}",
		  "maxvcpus: out of range (1..123): GICv3/v4 supports at most 123 vCPUs" },
		{ "{\"arch\":\"aarch64\",\"pflash\":[\"/fw/code.fd\"]}",
		  "pflash: two pflash images needed for aarch64 (code and vars), got one" },
		{ "{\"arch\":\"aarch64\",\"pflash\":[\"/a\",\"/b\",\"/c\"]}", "pflash: at most 2 flash images" },
		{ "{\"arch\":\"aarch64\",\"accel\":\"kvm\"}",
		  "accel: kvm runs guests of the host's architecture" },
		{ "{\"arch\":\"s390x\",\"accel\":\"kvm\"}", "an s390x guest needs tcg" },
		{ "{\"arch\":\"aarch64\",\"root_ports\":241}", "root_ports: machine virt has 30 PCI device numbers" },
		{ "{\"arch\":\"ppc64le\",\"memory_mib\":300}",
		  "memory_mib: pseries memory must be a multiple of 256 MiB (is 300)" },
		{ "{\"arch\":\"ppc64le\",\"memory_slots\":1,\"maxmem_mib\":700}",
		  "maxmem_mib: pseries memory must be a multiple of 256 MiB (is 700)" },
		{ "{\"arch\":\"ppc64le\",\"maxvcpus\":2,\"threads\":2}",
		  "threads: TCG cannot run more than 1 thread per core on pseries" },
		{ "{\"arch\":\"ppc64le\",\"pcie_pci_bridges\":1}", "pcie_pci_bridges: machine pseries has no PCIe bus" },
		{ "{\"arch\":\"ppc64le\",\"pflash\":[\"/a\",\"/b\"]}", "pflash: pseries has no pflash" },
		{ "{\"arch\":\"ppc64le\",\"maxvcpus\":4097}", "maxvcpus: out of range (1..4096)" },
		{ "{\"arch\":\"s390x\",\"root_ports\":1}", "root_ports: s390x has no PCI bridges" },
		{ "{\"arch\":\"s390x\",\"pci_bridges\":1}", "root_ports: s390x has no PCI bridges" },
		{ "{\"arch\":\"s390x\",\"memory_slots\":1,\"maxmem_mib\":512}",
		  "memory_slots: s390x has no memory hotplug" },
		{ "{\"arch\":\"s390x\",\"maxvcpus\":249}",
		  "maxvcpus: out of range (1..248): s390-ccw-virtio takes at most 248 vCPUs" },
		{ "{\"arch\":\"aarch64\",\"rtc_driftfix\":\"slew\"}", "rtc_driftfix: slew is not available on aarch64" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct scmd_sb s;
		char msg[512] = "";
		int r = scmd_init_json(&s, c[i].json, msg, sizeof(msg));
		CU_ASSERT_EQUAL(r, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, c[i].msg));
		if (r != -EINVAL || !strstr(msg, c[i].msg))
			fprintf(stderr, "\n  %s: got %d '%s', want '%s'\n", c[i].json, r, msg, c[i].msg);
		scmd_release(&s);
	}
	/* the accepted side of the same rules */
	static const char *const ok[] = {
		"{\"arch\":\"aarch64\",\"machine_options\":\"usb=off,gic-version=2\",\"maxvcpus\":8}",
		"{\"arch\":\"aarch64\",\"maxvcpus\":123,\"vcpus\":2}",
		"{\"arch\":\"aarch64\",\"pflash\":[\"/fw/code.fd\",\"/fw/vars.fd\"]}",
		"{\"arch\":\"ppc64le\",\"memory_mib\":512,\"memory_slots\":1,\"maxmem_mib\":1024}",
		"{\"arch\":\"ppc64le\",\"maxvcpus\":4096}",
		"{\"arch\":\"s390x\",\"maxvcpus\":248}",
		"{\"arch\":\"x86_64\",\"pflash\":[\"/fw/code.fd\"]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct scmd_sb s;
		char msg[512] = "";
		int r = scmd_init_json(&s, ok[i], msg, sizeof(msg));
		CU_ASSERT_EQUAL(r, 0);
		if (r)
			fprintf(stderr, "\n  %s: %s\n", ok[i], msg);
		scmd_release(&s);
	}
}

/* Device rules decided by the arch: the argv build fails naming them. */
static void test_device_rules(void)
{
	static const struct {
		const char *cfg, *spec, *msg;
	} c[] = {
		{ "{\"arch\":\"aarch64\"}", "{\"type\":\"iommu\",\"id\":\"viommu\"}",
		  "device viommu: type: aarch64 does not support a vIOMMU" },
		{ "{\"arch\":\"ppc64le\"}", "{\"type\":\"iommu\",\"id\":\"viommu\"}",
		  "device viommu: type: ppc64le does not support a vIOMMU" },
		{ "{\"arch\":\"s390x\"}", "{\"type\":\"iommu\",\"id\":\"viommu\"}",
		  "device viommu: type: s390x does not support a vIOMMU" },
		{ "{\"machine\":\"pc\",\"root_ports\":0}", "{\"type\":\"iommu\",\"id\":\"viommu\"}",
		  "a vIOMMU needs machine q35 (machine is pc)" },
		{ "{\"arch\":\"s390x\"}", "{\"type\":\"image\",\"id\":\"root\",\"file\":\"/img/r.img\"}",
		  "device root: as: no NVDIMM image on s390x" },
		{ "{\"arch\":\"ppc64le\"}", "{\"type\":\"image\",\"id\":\"root\",\"file\":\"/img/r.img\"}",
		  "device root: as: no NVDIMM image on ppc64le" },
		{ "{\"arch\":\"s390x\"}", "{\"type\":\"vfio\",\"id\":\"gpu\",\"host\":\"01:00.0\"}",
		  "device gpu: type: vfio-pci needs a PCI bus; s390x has CCW devices only" },
		{ "{\"arch\":\"s390x\"}", "{\"type\":\"vhost-user-blk\",\"id\":\"vb\",\"socket\":\"/run/vb.sock\"}",
		  "device vb: type: s390x has no vhost-user-blk-ccw" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct scmd_sb s;
		CU_ASSERT_EQUAL_FATAL(scmd_init_json(&s, c[i].cfg, NULL, 0), 0);
		scmd_add(&s, c[i].spec);
		cleanup_strv struct strv argv = {0};
		char msg[512] = "";
		int r = scmd_build_web(&s, &argv, msg, sizeof(msg));
		CU_ASSERT_EQUAL(r, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, c[i].msg));
		if (r != -EINVAL || !strstr(msg, c[i].msg))
			fprintf(stderr, "\n  %s %s: got %d '%s', want '%s'\n", c[i].cfg, c[i].spec, r, msg,
				c[i].msg);
		CU_ASSERT_EQUAL(argv.n, 0);
		scmd_release(&s);
	}
}

static const char *cfg_str(const struct vm_config *cfg, const char *key)
{
	static char buf[256];
	struct json_object *o = vm_config_to_json(cfg), *v;
	snprintf(buf, sizeof(buf), "%s",
		 json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "?");
	json_object_put(o);
	return buf;
}

/* A default follows the keys it depends on; a value the user set stays. */
static void test_defaults_follow(void)
{
	scmd_defaults();
	struct vm_config cfg;
	vm_config_init(&cfg);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_STRING_EQUAL(cfg.arch, "x86_64");
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"aarch64\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "virt");
	CU_ASSERT_STRING_EQUAL(cfg.machine_options, "usb=off,gic-version=3");
	CU_ASSERT_STRING_EQUAL(cfg.rtc_driftfix, "none");
	CU_ASSERT_EQUAL(vm_config_strv_len(cfg.globals), 0);
	CU_ASSERT_EQUAL(cfg.root_ports, 4);
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "qemu"), "/usr/bin/qemu-system-aarch64");
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "cpu_model"), "max");
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"s390x\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "s390-ccw-virtio");
	CU_ASSERT_STRING_EQUAL(cfg.machine_options, "");
	CU_ASSERT_EQUAL(cfg.root_ports, 0);
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "qemu"), "/usr/bin/qemu-system-s390x");
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "cpu_model"), "");
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"ppc64le\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "pseries");
	CU_ASSERT_STRING_EQUAL(cfg.machine_options,
			       "usb=off,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off");
	CU_ASSERT_EQUAL(cfg.root_ports, 4);
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "qemu"), "/usr/bin/qemu-system-ppc64");
	/* back home: every arch default returns */
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"x86_64\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "q35");
	CU_ASSERT_STRING_EQUAL(cfg.machine_options, "");
	CU_ASSERT_STRING_EQUAL(cfg.rtc_driftfix, "slew");
	CU_ASSERT_EQUAL_FATAL(vm_config_strv_len(cfg.globals), 1);
	CU_ASSERT_STRING_EQUAL(cfg.globals[0], "kvm-pit.lost_tick_policy=discard");
	/* values the user chose stay; the ones named in the write win */
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"root_ports\":2,\"machine_options\":\"usb=off\"}",
					      false, &e), 0);
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"aarch64\"}", false, &e), 0);
	CU_ASSERT_EQUAL(cfg.root_ports, 2);
	CU_ASSERT_STRING_EQUAL(cfg.machine_options, "usb=off");
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"x86_64\",\"machine\":\"pc\",\"root_ports\":0}",
					      false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "pc");
	/* the uuid is never re-drawn */
	cleanup_free char *uuid = xstrdup(cfg.uuid);
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"aarch64\",\"machine\":\"virt\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.uuid, uuid);
	/* persisted state without the arch-dependent keys gets the arch's */
	struct json_object *o = json_tokener_parse("{\"arch\":\"s390x\"}");
	struct vm_config back;
	vm_config_init(&back);
	CU_ASSERT_EQUAL(vm_config_from_json(&back, o, &e), 0);
	CU_ASSERT_STRING_EQUAL(back.machine, "s390-ccw-virtio");
	CU_ASSERT_EQUAL(back.root_ports, 0);
	json_object_put(o);
	vm_config_release(&back);
	vm_config_release(&cfg);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "config_rules", test_config_rules },
		{ "device_rules", test_device_rules },
		{ "defaults_follow", test_defaults_follow },
	};
	int rc = unit_main("arch_rules", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
