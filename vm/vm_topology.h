/*
 * vm_topology — hotplug bridges and slot accounting.
 *
 * A sandbox has a fixed set of bridges (on x86_64 q35: pcie-root-ports on
 * pcie.0, one slot each) created with the config's root_ports count.  Every
 * device occupies exactly one slot; allocation takes the first free slot,
 * none left is ENOSPC.  A slot is freed only after QEMU confirmed removal.
 *
 * bridges/<id> renders as flat "key value" lines:
 *   type pcie-root-port
 *   bus pcie.0
 *   chassis 1
 *   addr 02
 *   slot 0 d1        ("slot 0 -" when free)
 */
#ifndef SANDBOXFS_VM_TOPOLOGY_H
#define SANDBOXFS_VM_TOPOLOGY_H

#include "lib/err.h"
#include "lib/util.h"

struct arch_ops;

struct vm_bridge {
	char id[16];        /* "rp0" */
	const char *driver; /* arch bridge driver */
	const char *bus;    /* parent bus */
	int chassis;        /* > 0, unique */
	int addr;           /* PCI device number on the parent bus */
	int nslots;
	char **slots;       /* device id per slot, NULL when free */
};

struct vm_topology {
	struct vm_bridge *bridges;
	int n;
};

void vm_topology_init(struct vm_topology *t, const struct arch_ops *a, int count);
void vm_topology_release(struct vm_topology *t);
/* First free slot for devid; ENOSPC with a message when none is left. */
int vm_topology_alloc(struct vm_topology *t, const char *devid, int *bridge, int *slot,
		      struct err **e);
/* Take a specific slot (restoring state); EBUSY if taken, ERANGE if absent. */
int vm_topology_reserve(struct vm_topology *t, int bridge, int slot, const char *devid,
			struct err **e);
void vm_topology_free(struct vm_topology *t, int bridge, int slot);
int vm_topology_find(const struct vm_topology *t, const char *bridge_id);
int vm_topology_free_slots(const struct vm_topology *t);
void vm_topology_show(const struct vm_bridge *b, struct sbuf *out);
/* Guest PCI path of a slot in Kata's "bridge/slot" form, e.g. "02/00". */
void vm_topology_guest_addr(const struct vm_topology *t, int bridge, int slot, struct sbuf *out);
/* Append the -device arguments creating every bridge. */
void vm_topology_argv(const struct vm_topology *t, struct strv *argv);

#endif
