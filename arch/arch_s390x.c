/*
 * arch_s390x — s390x rules (Kata's qemu_s390x.go): the s390-ccw-virtio
 * machine, CCW devices instead of PCI, kernel parameters, vCPU limits.
 *
 * Machine: s390-ccw-virtio only, binary /usr/bin/qemu-system-s390x, no
 * machine options (Kata's "accel=kvm" is our -accel).  CPU "host" under
 * KVM, QEMU's default ("qemu") under TCG.  At most 248 vCPUs (QEMU's
 * S390_MAX_CPUS).
 *
 * Devices are virtio-*-ccw on the virtual channel subsystem: no PCI bus and
 * no bridges (root_ports, pci_bridges, pcie_pci_bridges must be 0).  The
 * topology is one "ccw" set whose slots are device numbers fe.0.0000 ..
 * fe.0.00ff (css fe, subchannel set 0), shown as bridges/ccw; a device's
 * addr is its devno, as Kata's CCW bridge (AddressFormatCCW).
 *
 * Kernel parameters: Kata's s390x list is empty; the console is the SCLP
 * line-mode console that -serial feeds (ttysclp0).  No vIOMMU, no pflash,
 * no NVDIMM (images are virtio-blk-ccw), no memory hotplug (Kata
 * supportGuestMemoryHotplug: pc-dimm does not exist here: memory_slots 0),
 * no -rtc driftfix, no -global defaults.  Capabilities: block hotplug,
 * multiqueue, fs sharing; x-ignore-shared supported.
 */
#include "arch/arch.h"

#include <errno.h>
#include <string.h>

#define S390_QEMU_BINARY "/usr/bin/qemu-system-s390x"
#define S390_MAX_VCPUS 248
#define S390_CCW_SLOTS 256

static bool s390_is_ccw(const char *machine)
{
	return machine && strcmp(machine, "s390-ccw-virtio") == 0;
}

static const char *s390_qemu_binary(const char *machine)
{
	return s390_is_ccw(machine) ? S390_QEMU_BINARY : NULL;
}

static const char *const s390_kernel_params[] = { NULL };


static const char *s390_cpu_model(const struct arch_vm *vm)
{
	return arch_accel_is_tcg(vm->accel) ? NULL : "host";
}

static int s390_max_vcpus(const struct arch_vm *vm) { return S390_MAX_VCPUS; }

static const char *s390_max_vcpus_rule(const struct arch_vm *vm)
{
	return "s390-ccw-virtio takes at most 248 vCPUs";
}

static const char *s390_root_bus(const char *machine) { return "virtual-css"; }
static int s390_root_last_addr(const char *machine) { return S390_CCW_SLOTS - 1; }

static int s390_validate(const struct arch_vm *vm, struct err **e)
{
	if (vm->root_ports || vm->pci_bridges || vm->pcie_pci_bridges)
		return err_set(e, EINVAL,
			       "root_ports: s390x has no PCI bridges: devices sit on CCW subchannels "
			       "(root_ports, pci_bridges and pcie_pci_bridges must be 0)");
	if (vm->memory_slots)
		return err_set(e, EINVAL,
			       "memory_slots: s390x has no memory hotplug (no pc-dimm): must be 0");
	if (vm->npflash)
		return err_set(e, EINVAL, "pflash: s390-ccw-virtio has no pflash");
	return 0;
}

/* Versioned machine types of the families (pc-q35-7.2 is a q35). */
static const char *const s390x_machine_versions[] = { "s390-ccw-virtio-", "s390-ccw-virtio", NULL };

const struct arch_ops arch_s390x = {
	ARCH_OPS_DEFAULTS,
	.name = "s390x",
	.default_machine = "s390-ccw-virtio",
	.qemu_binary = s390_qemu_binary,
	.kernel_params = s390_kernel_params,
	.console_device = "ttysclp0",
	.bridge_driver = "ccw",
	.bridge_bus = "virtual-css",
	.bridge_first_addr = 0,
	.bridge_slots = S390_CCW_SLOTS,
	.blk_driver = "virtio-blk-ccw",
	.max_vcpus = s390_max_vcpus,
	.validate = s390_validate,
	.root_bus = s390_root_bus,
	.root_last_addr = s390_root_last_addr,
	.virtio_suffix = "-ccw",
	.cpu_model = s390_cpu_model,
	.max_vcpus_rule = s390_max_vcpus_rule,
	.ccw = true,
	.cpus_fixed = true,
	.ignore_shared = true,
	.p9_multidevs = true,
	.machine_versions = s390x_machine_versions,
};
