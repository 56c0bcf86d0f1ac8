/*
 * vm_topology — hotplug bridges and slot accounting; see vm_topology.h.
 *
 * Bridge i is "rp<i>" (then "pb<j>", "ppb<k>"), chassis i+1, at PCI device number
 * arch->bridge_first_addr + i on arch->bridge_bus, with arch->bridge_slots
 * slots.  Slot s of bridge b is the device number slot_base + s (0 on a
 * root port, 1 on a pci bridge) on the bridge's
 * secondary bus, so its guest path (Kata's form) is "%02x/%02x" of
 * (bridge addr, slot_base + s).  Allocation is first-fit in bridge order.
 *
 * Root ports that do not fit one per PCI device number are packed eight to
 * a slot as functions (multifunction=on on function 0), machina-style, so
 * a q35 sandbox can have up to (slots left) x 8 of them; their address then
 * shows as "02.3".
 *
 * On a CCW architecture (s390x) the topology is the single set "ccw" whose
 * slot s is the device number fe.0.<slot_base + s>: not a QEMU device (no
 * -device), shown with its used devnos, and a device's guest address is its
 * devno.
 *
 * Not thread-safe: the owning sandbox serialises access.
 */
#include "vm/model/topology.h"

#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "qmp/qmp_keyval.h"

#define TOPO_BRIDGE_SLOTS 31 /* pci-bridge / pcie-pci-bridge: devices 1..31 */
#define TOPO_FUNCS 8         /* functions of one PCI device */
/* A CCW device number: css fe (virtio), subchannel set 0, device number. */
#define TOPO_CCW_FMT "fe.0.%04x"

/* The CCW subchannel set of a CCW architecture: one "bridge" whose slots
 * are device numbers. */
static void topo_init_ccw(struct vm_topology *t, const struct arch_ops *a)
{
	t->n = 1;
	t->bridges = xcalloc(1, sizeof(*t->bridges));
	struct vm_bridge *b = &t->bridges[0];
	snprintf(b->id, sizeof(b->id), "ccw");
	b->driver = a->bridge_driver;
	b->bus = a->bridge_bus;
	b->ccw = true;
	b->nslots = a->bridge_slots > 0 ? a->bridge_slots : 1;
	b->slot_base = a->bridge_first_addr;
	b->slots = xcalloc((size_t)b->nslots, sizeof(*b->slots));
}

void vm_topology_init(struct vm_topology *t, const struct arch_ops *a, int count)
{
	if (a->ccw) {
		topo_init_ccw(t, a);
		return;
	}
	bool pb = !strcmp(a->bridge_driver, "pci-bridge");
	t->n = count > 0 ? count : 0;
	t->bridges = t->n ? xcalloc((size_t)t->n, sizeof(*t->bridges)) : NULL;
	for (int i = 0; i < t->n; i++) {
		struct vm_bridge *b = &t->bridges[i];
		snprintf(b->id, sizeof(b->id), pb ? "pb%d" : "rp%d", i);
		b->driver = a->bridge_driver;
		b->bus = a->bridge_bus;
		b->chassis = i + 1;
		b->addr = a->bridge_first_addr + i;
		b->nslots = a->bridge_slots > 0 ? a->bridge_slots : 1;
		b->slot_base = pb ? 1 : 0;
		/* An arch whose hotplug bridges are pci-bridges (pseries) hot-plugs
		 * through their SHPC: QEMU 7.2's spapr PHB does not handle hotplug
		 * behind a bridge ("Bus 'pb0' does not support hotplugging"). */
		b->shpc = pb;
		b->slots = xcalloc((size_t)b->nslots, sizeof(*b->slots));
	}
}

int vm_topology_root_port_slots(const struct arch_ops *a, const char *machine, int root_ports,
				int extra)
{
	int room = a->root_last_addr ? a->root_last_addr(machine) - a->bridge_first_addr + 1 : 0;
	/* Only PCIe root ports pack (a pci-bridge is a device of its own). */
	if (!a->root_last_addr || strcmp(a->bridge_driver, "pcie-root-port") != 0 ||
	    root_ports + extra <= room)
		return root_ports;
	return (root_ports + TOPO_FUNCS - 1) / TOPO_FUNCS;
}

int vm_topology_check_room(const struct arch_ops *a, const struct vm_topology_want *w,
			   struct err **e)
{
	if (a->ccw || !a->root_last_addr)
		return 0; /* no PCI bus: the arch's own rules decide */
	int room = a->root_last_addr(w->machine) - a->bridge_first_addr + 1;
	int extra = w->pci_bridges + w->pcie_pci_bridges;
	int want = vm_topology_root_port_slots(a, w->machine, w->root_ports, extra) + extra;
	if (want > room)
		return err_set(e, EINVAL,
			       "root_ports: machine %s has %d PCI device numbers for root ports (8 per "
			       "number) and bridges (1 each): at most %d root ports beside %d bridges",
			       w->machine, room, (room - extra) * 8, extra);
	return 0;
}

void vm_topology_init_want(struct vm_topology *t, const struct arch_ops *a,
			   const struct vm_topology_want *w)
{
	vm_topology_init(t, a, w->root_ports);
	int extra = w->pci_bridges + w->pcie_pci_bridges;
	if (a->ccw)
		return;
	int slots = vm_topology_root_port_slots(a, w->machine, t->n, extra);
	if (slots < t->n) {
		/* Pack: port i is function i % 8 of device first + i / 8. */
		for (int i = 0; i < t->n; i++) {
			struct vm_bridge *b = &t->bridges[i];
			b->addr = a->bridge_first_addr + i / TOPO_FUNCS;
			b->func = i % TOPO_FUNCS;
			b->multifunction = b->func == 0 && i + 1 < t->n;
		}
	}
	if (extra <= 0)
		return;
	/* pci-bridges continue the arch's own numbering when its hotplug
	 * bridges are pci-bridges already (pseries). */
	int pb_base = !strcmp(a->bridge_driver, "pci-bridge") ? t->n : 0;
	const char *bus = a->root_bus ? a->root_bus(w->machine) : a->bridge_bus;
	t->bridges = xrealloc(t->bridges, (size_t)(t->n + extra) * sizeof(*t->bridges));
	for (int j = 0; j < extra; j++) {
		int i = t->n + j;
		bool pb = j < w->pci_bridges;
		struct vm_bridge *b = &t->bridges[i];
		memset(b, 0, sizeof(*b));
		if (pb)
			snprintf(b->id, sizeof(b->id), "pb%d", pb_base + j);
		else
			snprintf(b->id, sizeof(b->id), "ppb%d", j - w->pci_bridges);
		b->driver = pb ? "pci-bridge" : "pcie-pci-bridge";
		b->bus = bus;
		b->chassis = i + 1;
		b->addr = a->bridge_first_addr + slots + j;
		b->nslots = TOPO_BRIDGE_SLOTS;
		b->slot_base = 1;
		b->shpc = w->shpc;
		b->slots = xcalloc((size_t)b->nslots, sizeof(*b->slots));
	}
	t->n += extra;
}

int vm_topology_slot_addr(const struct vm_topology *t, int bridge, int slot)
{
	if (bridge < 0 || bridge >= t->n || slot < 0 || slot >= t->bridges[bridge].nslots)
		return -1;
	return t->bridges[bridge].slot_base + slot;
}

void vm_topology_release(struct vm_topology *t)
{
	for (int i = 0; i < t->n; i++) {
		for (int s = 0; s < t->bridges[i].nslots; s++)
			free(t->bridges[i].slots[s]);
		free(t->bridges[i].slots);
	}
	free(t->bridges);
	t->bridges = NULL;
	t->n = 0;
}

int vm_topology_alloc(struct vm_topology *t, const char *devid, int *bridge, int *slot,
		      struct err **e)
{
	for (int i = 0; i < t->n; i++)
		for (int s = 0; s < t->bridges[i].nslots; s++)
			if (!t->bridges[i].slots[s]) {
				t->bridges[i].slots[s] = xstrdup(devid);
				*bridge = i;
				*slot = s;
				return 0;
			}
	return err_set(e, ENOSPC, "no free hotplug slot (%d bridges, all in use)", t->n);
}

int vm_topology_reserve(struct vm_topology *t, int bridge, int slot, const char *devid,
			struct err **e)
{
	if (bridge < 0 || bridge >= t->n || slot < 0 || slot >= t->bridges[bridge].nslots)
		return err_set(e, ERANGE, "no slot %d on bridge %d (%d bridges)", slot, bridge, t->n);
	struct vm_bridge *b = &t->bridges[bridge];
	if (b->slots[slot])
		return err_set(e, EBUSY, "slot %d of %s is in use by %s", slot, b->id, b->slots[slot]);
	b->slots[slot] = xstrdup(devid);
	return 0;
}

void vm_topology_free(struct vm_topology *t, int bridge, int slot)
{
	if (bridge < 0 || bridge >= t->n || slot < 0 || slot >= t->bridges[bridge].nslots)
		return;
	free(t->bridges[bridge].slots[slot]);
	t->bridges[bridge].slots[slot] = NULL;
}

int vm_topology_find(const struct vm_topology *t, const char *bridge_id)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->bridges[i].id, bridge_id) == 0)
			return i;
	return -1;
}

int vm_topology_free_slots(const struct vm_topology *t)
{
	int n = 0;
	for (int i = 0; i < t->n; i++)
		for (int s = 0; s < t->bridges[i].nslots; s++)
			n += !t->bridges[i].slots[s];
	return n;
}

void vm_topology_show(const struct vm_bridge *b, struct sbuf *out)
{
	if (b->ccw) { /* 256 device numbers: the used ones, and a count */
		int used = 0;
		sbuf_printf(out, "type %s\n", b->driver);
		sbuf_printf(out, "bus %s\n", b->bus);
		sbuf_printf(out, "devnos " TOPO_CCW_FMT "-" TOPO_CCW_FMT "\n", (unsigned)b->slot_base,
			    (unsigned)(b->slot_base + b->nslots - 1));
		for (int s = 0; s < b->nslots; s++)
			used += b->slots[s] != NULL;
		sbuf_printf(out, "free %d\n", b->nslots - used);
		for (int s = 0; s < b->nslots; s++)
			if (b->slots[s])
				sbuf_printf(out, "devno " TOPO_CCW_FMT " %s\n",
					    (unsigned)(b->slot_base + s), b->slots[s]);
		return;
	}
	sbuf_printf(out, "type %s\n", b->driver);
	sbuf_printf(out, "bus %s\n", b->bus);
	sbuf_printf(out, "chassis %d\n", b->chassis);
	if (b->func || b->multifunction)
		sbuf_printf(out, "addr %02x.%x\n", (unsigned)b->addr, (unsigned)b->func);
	else
		sbuf_printf(out, "addr %02x\n", (unsigned)b->addr);
	for (int s = 0; s < b->nslots; s++)
		sbuf_printf(out, "slot %d %s\n", s, b->slots[s] ? b->slots[s] : "-");
}

void vm_topology_guest_addr(const struct vm_topology *t, int bridge, int slot, struct sbuf *out)
{
	if (bridge < 0 || bridge >= t->n || slot < 0 || slot >= t->bridges[bridge].nslots)
		return;
	if (t->bridges[bridge].ccw) {
		sbuf_printf(out, TOPO_CCW_FMT, (unsigned)vm_topology_slot_addr(t, bridge, slot));
		return;
	}
	const struct vm_bridge *b = &t->bridges[bridge];
	if (b->func || b->multifunction)
		sbuf_printf(out, "%02x.%x/%02x", (unsigned)b->addr, (unsigned)b->func,
			    (unsigned)vm_topology_slot_addr(t, bridge, slot));
	else
		sbuf_printf(out, "%02x/%02x", (unsigned)b->addr,
			    (unsigned)vm_topology_slot_addr(t, bridge, slot));
}

void vm_topology_argv(const struct vm_topology *t, struct strv *argv)
{
	for (int i = 0; i < t->n; i++) {
		const struct vm_bridge *b = &t->bridges[i];
		if (b->ccw)
			continue; /* the channel subsystem exists with the machine */
		struct sbuf o = {0};
		qmp_keyval_escape(&o, b->driver); /* the implied "driver" */
		qmp_keyval_add(&o, "id", b->id);
		qmp_keyval_add(&o, "bus", b->bus);
		if (!strcmp(b->driver, "pci-bridge")) {
			qmp_keyval_addf(&o, "chassis_nr", "%d", b->chassis);
			qmp_keyval_add(&o, "shpc", b->shpc ? "on" : "off");
		} else if (strcmp(b->driver, "pcie-pci-bridge") != 0) {
			qmp_keyval_addf(&o, "chassis", "%d", b->chassis);
		}
		if (b->func || b->multifunction)
			qmp_keyval_addf(&o, "addr", "0x%x.%x", (unsigned)b->addr, (unsigned)b->func);
		else
			qmp_keyval_addf(&o, "addr", "0x%x", (unsigned)b->addr);
		if (b->multifunction)
			qmp_keyval_add(&o, "multifunction", "on");
		strv_add(argv, "-device");
		strv_add_take(argv, sbuf_steal(&o));
	}
}
