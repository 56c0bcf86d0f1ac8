/*
 * arch_ppc64le — ppc64le rules (Kata's qemu_ppc64le.go): the pseries
 * machine, QEMU binary, kernel parameters, memory alignment, vCPU rules,
 * buses and bridges.
 *
 * Machine: pseries only, binary /usr/bin/qemu-system-ppc64.  Machine
 * options: Kata's "usb=off" under KVM; under TCG also the spectre/meltdown
 * capabilities TCG cannot provide turned off
 * (cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off), as
 * QEMU's own TCG tests do — otherwise pseries warns on every start.  CPU
 * "host" under KVM, QEMU's default (POWER10 for pseries-7.2) under TCG.
 *
 * Kernel parameters are Kata's list verbatim: it already names hvc0 (the
 * spapr-vty that -serial feeds) and hvc1 as consoles, so no extra console=.
 *
 * Memory (QEMU spapr, Kata memoryTopology): memory_mib and maxmem_mib must
 * be multiples of 256 MiB (the spapr memory block / LMB size).  vCPUs: Kata's
 * MaxQemuVCPUs 128 under KVM; under TCG pseries allows up to 4096 but only
 * one thread per core (threads must be 1).
 *
 * Bus: the spapr-pci-host-bridge's pci.0 — plain PCI, no PCIe, so hotplug
 * bridges are pci-bridges ("pb<i>", chassis_nr, devices 1..31 behind each)
 * from device number 0x02 to 0x1f; pcie-pci-bridge is EINVAL.  The plug
 * itself is spapr's: the machine is the hotplug handler of every PCI device
 * under its PHB, behind a bridge too (an RTAS hotplug event the guest hands
 * to drmgr); shpc=on is needed only because QEMU refuses device_add on a
 * bus without a hotplug handler ("Bus 'pb0' does not support hotplugging");
 * the SHPC is never used.  Removal waits for drmgr in the guest: 30 s.
 * drmgr walks every DRC of every bridge and all of /sys/devices, so under
 * TCG it is slow: ~2.5 s on one machine, 7.6-12 s with 4 bridges on a
 * 2-vCPU host with steal (25 s before the built-in guest's status loop
 * was niced below it): 30 s leaves a loaded host room, and a longer wait
 * costs a removal that succeeds nothing.
 *
 * No vIOMMU (Kata: EINVAL), no pflash (SLOF boots pseries), no NVDIMM image
 * (spapr-nvdimm is not Kata's path: images are virtio-blk), x-ignore-shared
 * supported.
 */
#include "arch/arch.h"

#include <errno.h>
#include <string.h>

#define PPC_QEMU_BINARY "/usr/bin/qemu-system-ppc64"
#define PPC_FIRST_ADDR 0x02
#define PPC_LAST_ADDR 0x1f
#define PPC_MAX_VCPUS_KVM 128
#define PPC_MAX_VCPUS_TCG 4096
#define PPC_MEM_ALIGN_MIB 256

static bool ppc_is_pseries(const char *machine)
{
	return machine && strcmp(machine, "pseries") == 0;
}

static const char *ppc_qemu_binary(const char *machine)
{
	return ppc_is_pseries(machine) ? PPC_QEMU_BINARY : NULL;
}

static const char *const ppc_kernel_params[] = {
	"rcupdate.rcu_expedited=1",
	"reboot=k",
	"console=hvc0",
	"console=hvc1",
	"cryptomgr.notests",
	"net.ifnames=0",
	NULL,
};

static const char *ppc_machine_options(const char *machine, const char *accel)
{
	return arch_accel_is_tcg(accel)
		       ? "usb=off,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off"
		       : "usb=off";
}

static const char *ppc_cpu_model(const struct arch_vm *vm)
{
	return arch_accel_is_tcg(vm->accel) ? NULL : "host";
}

static int ppc_max_vcpus(const struct arch_vm *vm)
{
	return arch_accel_is_tcg(vm->accel) ? PPC_MAX_VCPUS_TCG : PPC_MAX_VCPUS_KVM;
}

static const char *ppc_max_vcpus_rule(const struct arch_vm *vm)
{
	return arch_accel_is_tcg(vm->accel) ? "pseries under TCG takes at most 4096 vCPUs"
					     : "Kata's ppc64le limit under KVM is 128 vCPUs";
}

static const char *ppc_root_bus(const char *machine) { return "pci.0"; }
static int ppc_root_last_addr(const char *machine) { return PPC_LAST_ADDR; }

static int ppc_validate(const struct arch_vm *vm, struct err **e)
{
	if (arch_accel_is_tcg(vm->accel) && vm->threads > 1)
		return err_set(e, EINVAL,
			       "threads: TCG cannot run more than 1 thread per core on pseries "
			       "(threads is %d)", vm->threads);
	if (vm->memory_mib % PPC_MEM_ALIGN_MIB)
		return err_set(e, EINVAL,
			       "memory_mib: pseries memory must be a multiple of %d MiB (is %d)",
			       PPC_MEM_ALIGN_MIB, vm->memory_mib);
	if (vm->maxmem_mib % PPC_MEM_ALIGN_MIB)
		return err_set(e, EINVAL,
			       "maxmem_mib: pseries memory must be a multiple of %d MiB (is %d)",
			       PPC_MEM_ALIGN_MIB, vm->maxmem_mib);
	if (vm->npflash)
		return err_set(e, EINVAL, "pflash: pseries has no pflash (SLOF is its firmware)");
	if (vm->pcie_pci_bridges > 0)
		return err_set(e, EINVAL, "pcie_pci_bridges: machine pseries has no PCIe bus");
	int room = PPC_LAST_ADDR - PPC_FIRST_ADDR + 1;
	int want = vm->root_ports + vm->pci_bridges;
	if (want > room)
		return err_set(e, EINVAL,
			       "root_ports: machine pseries has room for at most %d bridges "
			       "(root_ports + pci_bridges = %d)", room, want);
	return 0;
}

/* Versioned machine types of the families (pc-q35-7.2 is a q35). */
static const char *const ppc64le_machine_versions[] = { "pseries-", "pseries", NULL };

const struct arch_ops arch_ppc64le = {
	ARCH_OPS_DEFAULTS,
	.name = "ppc64le",
	.default_machine = "pseries",
	.qemu_binary = ppc_qemu_binary,
	.kernel_params = ppc_kernel_params,
	.bridge_driver = "pci-bridge",
	.bridge_bus = "pci.0",
	.bridge_first_addr = PPC_FIRST_ADDR,
	.bridge_slots = 31,
	.blk_driver = "virtio-blk-pci",
	.max_vcpus = ppc_max_vcpus,
	.validate = ppc_validate,
	.root_bus = ppc_root_bus,
	.root_last_addr = ppc_root_last_addr,
	.virtio_suffix = "-pci",
	.machine_options = ppc_machine_options,
	.cpu_model = ppc_cpu_model,
	.max_vcpus_rule = ppc_max_vcpus_rule,
	.default_bridges = 4,
	.remove_timeout_ms = 30000,
	.memory_hotplug = true,
	.memory_align_mib = PPC_MEM_ALIGN_MIB,
	.ignore_shared = true,
	.p9_multidevs = true,
	.machine_versions = ppc64le_machine_versions,
	.migration_qemu_min = 1000,
	.migration_no_hot_cpus = true,
};
