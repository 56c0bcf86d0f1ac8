/*
 * vm_topology — hotplug bridges and slot accounting.
 *
 * A sandbox has a fixed set of bridges (on x86_64 q35: pcie-root-ports on
 * pcie.0, one slot each) created with the config's root_ports count.  Every
 * device occupies exactly one slot; allocation takes the first free slot,
 * none left is ENOSPC.  A slot is freed only after QEMU confirmed removal.
 *
 * Beyond the root ports, a config may ask for pci-bridges ("pb<i>") and
 * pcie-pci-bridges ("ppb<i>") after them on the root bus (addresses
 * continue upward, chassis numbers stay unique and > 0); their slots are
 * device numbers 1..31 on the bridge's bus.
 *
 * bridges/<id> renders as flat "key value" lines:
 *   type pcie-root-port
 *   bus pcie.0
 *   chassis 1
 *   addr 02
 *   slot 0 d1        ("slot 0 -" when free)
 *
 * On s390x there are no PCI bridges: devices sit on the virtual channel
 * subsystem, and the topology is one "bridge" named ccw whose slots are
 * device numbers fe.0.0000..fe.0.00ff.  bridges/ccw renders:
 *   type ccw
 *   bus virtual-css
 *   devnos fe.0.0000-fe.0.00ff
 *   free 254
 *   devno fe.0.0000 d1      (used device numbers only)
 *   devno fe.0.0001 n0
 * and a device's addr is its devno ("fe.0.0001").  On pseries (ppc64le) the
 * hotplug bridges (root_ports) are pci-bridges pb<i> on pci.0.
 */
#ifndef SANDBOXFS_VM_TOPOLOGY_H
#define SANDBOXFS_VM_TOPOLOGY_H

#include <stdbool.h>

#include "lib/err.h"
#include "lib/util.h"

struct arch_ops;

struct vm_bridge {
	char id[16];        /* "rp0" */
	const char *driver; /* arch bridge driver */
	const char *bus;    /* parent bus */
	int chassis;        /* > 0, unique */
	int addr;           /* PCI device number on the parent bus */
	int func;           /* PCI function (multifunction root ports) */
	bool multifunction; /* function 0 of a slot holding several ports */
	int nslots;
	char **slots;       /* device id per slot, NULL when free */
	int slot_base;      /* PCI device number of slot 0 on the bridge's bus */
	bool shpc;          /* pci-bridge: shpc= */
	bool ccw;           /* the CCW subchannel set: slots are devnos */
};

struct vm_topology {
	struct vm_bridge *bridges;
	int n;
};

/* The bridges a config asks for (vm_config_topology_want fills it). */
struct vm_topology_want {
	const char *machine;
	int root_ports;       /* the arch's hotplug bridges */
	int pci_bridges;      /* pci-bridge after them */
	int pcie_pci_bridges; /* pcie-pci-bridge after those */
	bool shpc;            /* shpc= of the pci-bridges */
};

/* `count` of the arch's hotplug bridges only (the CCW set on s390x). */
void vm_topology_init(struct vm_topology *t, const struct arch_ops *a, int count);
/* The whole topology: root_ports root ports on the machine's root bus,
 * then pci_bridges pci-bridges, then pcie_pci_bridges pcie-pci-bridges. */
void vm_topology_init_want(struct vm_topology *t, const struct arch_ops *a,
			   const struct vm_topology_want *w);
/* PCI device numbers the root ports take: one each while they fit beside
 * `extra` other bridges, else packed eight functions to a device. */
int vm_topology_root_port_slots(const struct arch_ops *a, const char *machine, int root_ports,
				int extra);
/* EINVAL unless the machine's root bus has PCI device numbers for the
 * root ports (packed eight to a number when needed) and the bridges. */
int vm_topology_check_room(const struct arch_ops *a, const struct vm_topology_want *w,
			   struct err **e);
/* PCI device number of a slot on its bridge's bus (-1: no such slot); on
 * the CCW set the device number (the 4 hex digits of fe.0.xxxx). */
int vm_topology_slot_addr(const struct vm_topology *t, int bridge, int slot);
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
/* Guest PCI path of a slot in Kata's "bridge/slot" form, e.g. "02/00";
 * on the CCW set the device number, e.g. "fe.0.0001". */
void vm_topology_guest_addr(const struct vm_topology *t, int bridge, int slot, struct sbuf *out);
/* Append the -device arguments creating every bridge. */
void vm_topology_argv(const struct vm_topology *t, struct strv *argv);

#endif
