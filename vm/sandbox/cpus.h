/*
 * vm_cpus — a sandbox's vCPUs: the target count (hot-add and hot-remove
 * over QMP while running, the boot count otherwise), what QEMU has online,
 * the ceiling, and the hot-added vCPUs in order.
 */
#ifndef SANDBOXFS_VM_CPUS_H
#define SANDBOXFS_VM_CPUS_H

#include "lib/err.h"
#include "lib/util.h"

struct cred;
struct vm_sandbox;

/* A number: ERANGE below the boot count; above maxvcpus it is clamped with
 * a note in `error`; ENOSPC no free slot; ETIMEDOUT a guest that did not
 * release a vCPU. */
int vm_cpus_target_store(struct vm_sandbox *sb, const char *value, const struct cred *who,
			struct err **e);
int vm_cpus_target_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_cpus_online_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_cpus_max_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_cpus_hotplugged_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);

#endif
