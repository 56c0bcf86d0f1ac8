/*
 * vm_memory — a sandbox's memory: the target total in MiB (pc-dimm
 * hot-add and hot-remove, newest first and whole, while running; the boot
 * size otherwise), the ceiling, the DIMM slots and the hot-added DIMMs.
 */
#ifndef SANDBOXFS_VM_MEMORY_H
#define SANDBOXFS_VM_MEMORY_H

#include "lib/err.h"
#include "lib/util.h"

struct cred;
struct vm_sandbox;

/* MiB: ERANGE below boot or above maxmem_mib; EINVAL not a multiple of
 * the guest's block size, or not reachable by whole DIMMs; ENOSPC no slot;
 * EOPNOTSUPP an arch without memory hotplug. */
int vm_memory_target_store(struct vm_sandbox *sb, const char *value, const struct cred *who,
			struct err **e);
int vm_memory_target_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_memory_max_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_memory_slots_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_memory_hotplugged_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);

#endif
