/*
 * vm_vcpu_rules — which vCPU hot-plugs and unplugs a QEMU survives under
 * TCG, by its version, as measured on this tree's two QEMUs with the
 * built-in guest (tests/e2e/test_cpu_cycles.sh; docs/abi.md "Known
 * issues"):
 *
 *   TCG, one thread (accel "tcg,thread=single"), 7.2.22 and 10.0.2: the
 *     first vCPU unplug aborts QEMU ("qemu_thread_join: Resource deadlock
 *     avoided").  Refused: EOPNOTSUPP.
 *   TCG, a thread per vCPU (every other "tcg..."), 7.2.22: after a vCPU
 *     unplug QEMU's heap is corrupt; the next hotplug of anything — a vCPU
 *     or a disk — crashes it (SIGSEGV, "corrupted double-linked list",
 *     "double free or corruption").  The unplug is refused: EOPNOTSUPP.
 *   TCG, a thread per vCPU, 10.0.2: unplug and re-plug work, but every
 *     vCPU thread QEMU ever starts takes one of its maxcpus TCG contexts
 *     and an unplug does not give it back, so the (maxcpus+1)-th vCPU
 *     started in one QEMU process aborts it ("tcg_register_thread:
 *     assertion failed: (n < tcg_max_ctxs)").  A plug past that is
 *     refused: ENOSPC, until the sandbox is stopped and started again.
 *
 * Versions between 7.2 and 10.0 were not measured and are treated as 7.2;
 * an unknown QEMU (no probe) and other accelerators get no rule.
 */
#ifndef SANDBOXFS_VM_VCPU_RULES_H
#define SANDBOXFS_VM_VCPU_RULES_H

#include "lib/err.h"

struct vm_qemu_caps;

struct vm_vcpu_change {
	const char *accel; /* the config's accelerator */
	int maxcpus;
	int current;       /* vCPUs online now */
	int want;          /* the target */
	int started;       /* vCPUs this QEMU process has started: boot + every hot-add */
};

/* 0 when the change is one the QEMU survives (or nothing is known);
 * EOPNOTSUPP or ENOSPC with the reason otherwise. */
int vm_vcpu_rules_check(const struct vm_qemu_caps *q, const struct vm_vcpu_change *c,
			struct err **e);

#endif
