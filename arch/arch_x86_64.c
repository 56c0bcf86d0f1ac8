/*
 * arch_x86_64 — x86_64 rules: machine types, QEMU binary, guest kernel
 * parameters, buses and bridges, vIOMMU, vCPU limits.
 *
 * Machines: q35 (default; PCIe: root bus pcie.0, hotplug through
 * pcie-root-ports, one slot each, PCI device numbers 0x02..0x1e — 0x1f is
 * the ICH9 LPC/SATA/SMBus function group; pci-bridge and pcie-pci-bridge
 * may follow the root ports) and pc (i440fx: root bus pci.0, no root
 * ports; pci-bridges at 0x02..0x1f).  intel-iommu exists on q35 only.
 *
 * Kernel parameters are Kata Containers' amd64 set minus "pci=lastbus=0",
 * which would hide the buses behind our bridges from the guest; the
 * systemd and root-device lists are Kata's (kernelParamsSystemd*,
 * GetKernelRootParams).  The default -global is Kata's amd64 one.
 * Capabilities: block hotplug, multiqueue, fs sharing; memory hotplug;
 * x-ignore-shared; 9p with multidevs=remap (all as Kata's amd64).
 */
#include "arch/arch.h"

#include <errno.h>
#include <string.h>

#define X86_QEMU_BINARY "/usr/bin/qemu-system-x86_64"
#define X86_MAX_VCPUS_TCG 255
#define X86_MAX_VCPUS_KVM 240
/* First and last PCI device number a bridge may take on the root bus. */
#define X86_FIRST_ADDR 0x02
#define X86_Q35_LAST_ADDR 0x1e
#define X86_PC_LAST_ADDR 0x1f

static bool x86_is_q35(const char *machine) { return machine && strcmp(machine, "q35") == 0; }

static const char *x86_qemu_binary(const char *machine)
{
	if (!machine)
		return NULL;
	if (strcmp(machine, "q35") == 0 || strcmp(machine, "pc") == 0)
		return X86_QEMU_BINARY;
	return NULL;
}

static const char *const x86_kernel_params[] = {
	"tsc=reliable",
	"no_timer_check",
	"rcupdate.rcu_expedited=1",
	"i8042.direct=1",
	"i8042.dumbkbd=1",
	"i8042.nopnp=1",
	"i8042.noaux=1",
	"noreplace-smp",
	"reboot=k",
	"cryptomgr.notests",
	"net.ifnames=0",
	"panic=1",
	NULL,
};

static const char *const x86_globals[] = { "kvm-pit.lost_tick_policy=discard", NULL };

static int x86_max_vcpus(const struct arch_vm *vm)
{
	if (vm && arch_accel_is_tcg(vm->accel))
		return X86_MAX_VCPUS_TCG;
	return X86_MAX_VCPUS_KVM;
}

static const char *x86_root_bus(const char *machine)
{
	return x86_is_q35(machine) ? "pcie.0" : "pci.0";
}

static int x86_root_last_addr(const char *machine)
{
	return x86_is_q35(machine) ? X86_Q35_LAST_ADDR : X86_PC_LAST_ADDR;
}

static int x86_validate(const struct arch_vm *vm, struct err **e)
{
	bool q35 = x86_is_q35(vm->machine);
	if (!q35 && vm->root_ports > 0)
		return err_set(e, EINVAL, "root_ports: machine %s has no PCIe root ports",
			       vm->machine);
	if (!q35 && vm->pcie_pci_bridges > 0)
		return err_set(e, EINVAL, "pcie_pci_bridges: machine %s has no PCIe bus",
			       vm->machine);
	return 0;
}

/* Versioned machine types of the families (pc-q35-7.2 is a q35). */
static const char *const x86_64_machine_versions[] = { "pc-q35-", "q35", "pc-i440fx-", "pc", NULL };

const struct arch_ops arch_x86_64 = {
	ARCH_OPS_DEFAULTS,
	.name = "x86_64",
	.default_machine = "q35",
	.qemu_binary = x86_qemu_binary,
	.kernel_params = x86_kernel_params,
	.console_device = "ttyS0",
	.bridge_driver = "pcie-root-port",
	.bridge_bus = "pcie.0",
	.bridge_first_addr = X86_FIRST_ADDR,
	.bridge_slots = 1,
	.blk_driver = "virtio-blk-pci",
	.max_vcpus = x86_max_vcpus,
	.validate = x86_validate,
	.root_bus = x86_root_bus,
	.root_last_addr = x86_root_last_addr,
	.virtio_suffix = "-pci",
	.default_globals = x86_globals,
	.nvdimm_option = "nvdimm=on",
	.iommu_driver = "intel-iommu",
	.iommu_supported = x86_is_q35,
	.rtc_driftfix = true,
	.default_bridges = 4,
	.memory_hotplug = true,
	.ignore_shared = true,
	.p9_multidevs = true,
	.machine_versions = x86_64_machine_versions,
};
