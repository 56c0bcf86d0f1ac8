/*
 * arch_aarch64 — aarch64 rules (Kata's qemu_arm64.go): machine, QEMU
 * binary, CPU, kernel parameters, buses and bridges, vCPU limits, pflash.
 *
 * Machine: virt only (anything else is an unknown machine type), binary
 * /usr/bin/qemu-system-aarch64.  Default machine options are Kata's
 * "usb=off,gic-version=host" under KVM; under TCG there is no host GIC to
 * mirror, so "usb=off,gic-version=3".  CPU "host" under KVM, "max" under
 * TCG (virt's own default, cortex-a15, is a 32-bit core).
 *
 * vCPUs: the GIC version bounds them (Kata's gicList: v2 → 8, v3/v4 →
 * 123); the version is the machine option gic-version (host, max or absent
 * count as 3, Kata's defaultGICVersion).
 *
 * Bus: the virt PCIe root complex pcie.0; hotplug bridges are
 * pcie-root-ports from device number 0x02 to 0x1f (nothing else sits on
 * pcie.0 under -nodefaults: the virtio-mmio transports live on sysbus).
 * pci-bridge and pcie-pci-bridge may follow, as on q35.
 *
 * Kernel parameters: Kata's "console=hvc0 console=hvc1 iommu.passthrough=0",
 * after console=ttyAMA0 (the PL011 that -serial feeds), so the boot log
 * reaches the console file and a virtio console, when present, takes over
 * /dev/console as in Kata.
 *
 * Not on aarch64 (as Kata): a vIOMMU (EINVAL), x-ignore-shared (skipped
 * silently), 9p multidevs.  pflash needs exactly two images (code and
 * vars): one is EINVAL, more than two is EINVAL.  Images may be nvdimm
 * (virt takes nvdimm=on) with DAX, as Kata's arm64 does.
 */
#include "arch/arch.h"

#include <errno.h>
#include <string.h>

#define ARM_QEMU_BINARY "/usr/bin/qemu-system-aarch64"
#define ARM_FIRST_ADDR 0x02
#define ARM_LAST_ADDR 0x1f
#define ARM_GICV2_MAX_VCPUS 8
#define ARM_GICV3_MAX_VCPUS 123

static bool arm_is_virt(const char *machine) { return machine && strcmp(machine, "virt") == 0; }

static const char *arm_qemu_binary(const char *machine)
{
	return arm_is_virt(machine) ? ARM_QEMU_BINARY : NULL;
}

static const char *const arm_kernel_params[] = {
	"console=hvc0",
	"console=hvc1",
	"iommu.passthrough=0",
	NULL,
};

static const char *arm_machine_options(const char *machine, const char *accel)
{
	return arch_accel_is_tcg(accel) ? "usb=off,gic-version=3" : "usb=off,gic-version=host";
}

static const char *arm_cpu_model(const struct arch_vm *vm)
{
	return arch_accel_is_tcg(vm->accel) ? "max" : "host";
}

/* The GIC version the machine options ask for (2, 3 or 4). */
static int arm_gic_version(const struct arch_vm *vm)
{
	const char *o = vm->machine_options;
	for (const char *p = o; p && (p = strstr(p, "gic-version=")); p++) {
		if (p != o && p[-1] != ',')
			continue;
		char v = p[strlen("gic-version=")];
		const char *end = p + strlen("gic-version=") + 1;
		if ((v == '2' || v == '4') && (*end == ',' || *end == '\0'))
			return v - '0';
		return 3;
	}
	return 3;
}

static int arm_max_vcpus(const struct arch_vm *vm)
{
	return arm_gic_version(vm) == 2 ? ARM_GICV2_MAX_VCPUS : ARM_GICV3_MAX_VCPUS;
}

static const char *arm_max_vcpus_rule(const struct arch_vm *vm)
{
	return arm_gic_version(vm) == 2 ? "GICv2 supports at most 8 vCPUs"
					 : "GICv3/v4 supports at most 123 vCPUs";
}

static const char *arm_root_bus(const char *machine) { return "pcie.0"; }
static int arm_root_last_addr(const char *machine) { return ARM_LAST_ADDR; }

static int arm_validate(const struct arch_vm *vm, struct err **e)
{
	int npf = vm->npflash;
	if (npf == 1)
		return err_set(e, EINVAL,
			       "pflash: two pflash images needed for aarch64 (code and vars), got one");
	if (npf > 2)
		return err_set(e, EINVAL, "pflash: too many pflash images for aarch64 (%d; exactly 2)",
			       npf);
	return 0;
}

/* Versioned machine types of the families (pc-q35-7.2 is a q35). */
static const char *const aarch64_machine_versions[] = { "virt-", "virt", NULL };

const struct arch_ops arch_aarch64 = {
	ARCH_OPS_DEFAULTS,
	.name = "aarch64",
	.default_machine = "virt",
	.qemu_binary = arm_qemu_binary,
	.kernel_params = arm_kernel_params,
	.console_device = "ttyAMA0",
	.bridge_driver = "pcie-root-port",
	.bridge_bus = "pcie.0",
	.bridge_first_addr = ARM_FIRST_ADDR,
	.bridge_slots = 1,
	.blk_driver = "virtio-blk-pci",
	.max_vcpus = arm_max_vcpus,
	.validate = arm_validate,
	.root_bus = arm_root_bus,
	.root_last_addr = arm_root_last_addr,
	.virtio_suffix = "-pci",
	.machine_options = arm_machine_options,
	.nvdimm_option = "nvdimm=on",
	.cpu_model = arm_cpu_model,
	.max_vcpus_rule = arm_max_vcpus_rule,
	.default_bridges = 4,
	.remove_timeout_ms = 15000,
	.memory_hotplug = true,
	.cpus_cold = true,
	.machine_versions = aarch64_machine_versions,
};
