/*
 * arch_x86_64 — x86_64 rules: machine types, QEMU binary, guest kernel
 * parameters, hotplug bridges and vCPU limits.
 *
 * Machines: q35 (default; hotplug through pcie-root-ports on pcie.0, one
 * slot each, PCI device numbers 0x02..0x1e — 0x1f is the ICH9 LPC/SATA/SMBus
 * function group) and pc (no hotplug bridges yet).
 * TODO(pc): hotplug on machine pc will use pci-bridge devices on pci.0 with
 * up to 31 slots each; the ops table then needs per-machine bridge data.
 * Until then validate() refuses root_ports > 0 on pc.
 *
 * Kernel parameters are Kata Containers' amd64 set minus "pci=lastbus=0",
 * which would hide the buses behind our root ports from the guest.
 */
#include "arch/arch.h"

#include <errno.h>
#include <string.h>

#include "vm/vm_config.h"

#define X86_QEMU_BINARY "/usr/bin/qemu-system-x86_64"
#define X86_MAX_VCPUS_TCG 255
#define X86_MAX_VCPUS_KVM 240
/* First and last PCI device number a q35 root port may take on pcie.0. */
#define X86_Q35_FIRST_ADDR 0x02
#define X86_Q35_LAST_ADDR 0x1e

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

static const char *const x86_kernel_params_debug[] = { "debug", "ignore_loglevel", NULL };
static const char *const x86_kernel_params_nodebug[] = { "quiet", NULL };

static int x86_max_vcpus(const struct vm_config *cfg)
{
	if (cfg && cfg->accel && strncmp(cfg->accel, "tcg", 3) == 0)
		return X86_MAX_VCPUS_TCG;
	return X86_MAX_VCPUS_KVM;
}

static int x86_validate(const struct vm_config *cfg, struct err **e)
{
	if (strcmp(cfg->machine, "pc") == 0 && cfg->root_ports > 0)
		return err_set(e, EINVAL, "root_ports: machine pc has no PCIe root ports");
	if (strcmp(cfg->machine, "q35") == 0 &&
	    cfg->root_ports > X86_Q35_LAST_ADDR - X86_Q35_FIRST_ADDR + 1)
		return err_set(e, EINVAL,
			       "root_ports: machine q35 has room for at most %d root ports",
			       X86_Q35_LAST_ADDR - X86_Q35_FIRST_ADDR + 1);
	return 0;
}

const struct arch_ops arch_x86_64 = {
	.name = "x86_64",
	.default_machine = "q35",
	.qemu_binary = x86_qemu_binary,
	.default_cpu = NULL,
	.kernel_params = x86_kernel_params,
	.kernel_params_debug = x86_kernel_params_debug,
	.kernel_params_nodebug = x86_kernel_params_nodebug,
	.console_device = "ttyS0",
	.bridge_driver = "pcie-root-port",
	.bridge_bus = "pcie.0",
	.bridge_first_addr = X86_Q35_FIRST_ADDR,
	.bridge_slots = 1,
	.blk_driver = "virtio-blk-pci",
	.max_vcpus = x86_max_vcpus,
	.validate = x86_validate,
};
