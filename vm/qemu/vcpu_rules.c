/*
 * vm_vcpu_rules — the vCPU changes a QEMU survives under TCG; see
 * vcpu_rules.h for what was measured.
 */
#include "vm/qemu/vcpu_rules.h"

#include <string.h>

#include "arch/arch.h"
#include "vm/qemu/version.h"

/* The first QEMU measured to survive a vCPU unplug under TCG. */
#define UNPLUG_OK_MAJOR 10
#define UNPLUG_OK_MINOR 0

int vm_vcpu_rules_check(const struct vm_qemu_caps *q, const struct vm_vcpu_change *c,
			struct err **e)
{
	if (!q || !arch_accel_is_tcg(c->accel) || c->want == c->current)
		return 0;
	char v[32];
	vm_qemu_version_str(q, v, sizeof(v));
	bool single = strstr(c->accel, "thread=single") != NULL;
	if (c->want < c->current && single)
		return err_set(e, EOPNOTSUPP,
			       "QEMU %s under single-threaded TCG (%s) aborts when a vCPU is unplugged "
			       "(docs/abi.md, Known issues); vCPUs can be added, not removed: stop the "
			       "sandbox to boot with fewer, or use accel tcg,thread=multi", v, c->accel);
	if (c->want < c->current && !vm_qemu_at_least(q, UNPLUG_OK_MAJOR, UNPLUG_OK_MINOR))
		return err_set(e, EOPNOTSUPP,
			       "QEMU %s under TCG corrupts its heap when a vCPU is unplugged and "
			       "crashes at the next hotplug (docs/abi.md, Known issues); vCPUs can be "
			       "added, not removed, with this QEMU: stop the sandbox to boot with fewer, "
			       "or run QEMU >= %d.%d (the config's qemu key)", v, UNPLUG_OK_MAJOR,
			       UNPLUG_OK_MINOR);
	int more = c->want - c->current;
	if (more > 0 && c->started + more > c->maxcpus)
		return err_set(e, ENOSPC,
			       "QEMU %s under TCG starts at most maxcpus (%d) vCPUs in one process and "
			       "this one has started %d: an unplugged vCPU's TCG context is not given "
			       "back (docs/abi.md, Known issues); %d more can be added now, all %d after "
			       "a stop and start", v, c->maxcpus, c->started,
			       c->maxcpus > c->started ? c->maxcpus - c->started : 0, c->maxcpus);
	return 0;
}
