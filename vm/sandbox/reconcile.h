/*
 * vm_reconcile — make the tree equal what the running QEMU really has.
 *
 * Called under op_lock on re-adoption after a daemon restart, after a QMP
 * reconnect, and before the next operation whenever an earlier one ended
 * with an unknown outcome (`settling`: a QMP timeout, a lost connection,
 * the daemon killed mid-sequence, a late DEVICE_DELETED).  It asks QEMU —
 * qom-list /machine/peripheral and /objects, query-named-block-nodes,
 * query-chardev, query-fdsets, query-hotpluggable-cpus,
 * query-memory-devices — and then, device by device of the tree:
 *
 *   adding    (its add was written ahead, never confirmed): QEMU has its
 *             main function → adopted, `attached`; else whatever parts QEMU
 *             holds are undone and the device goes;
 *   removing  QEMU still has it → stays; else its backends are undone and
 *             the device goes (a removal finished while nobody watched);
 *   attached, configured  QEMU lost it → `lost` (reported, backends kept
 *             until `remove`); `lost` found again → `attached`.
 *
 * What QEMU holds under the daemon's names that no tree device owns — a
 * node drive-X, a chardev char-X, an object mem-X/rng-X, an fdset whose
 * opaque names X, a peripheral device no boot argv or tree device has —
 * is removed.  The hot-added vCPUs and DIMMs are rebuilt from QEMU's
 * lists; slots of devices that go are freed.  Every reconciliation is
 * logged and put on `events` as {"event":"RECONCILED","data":{...}}.
 */
#ifndef SANDBOXFS_VM_RECONCILE_H
#define SANDBOXFS_VM_RECONCILE_H

#include "lib/err.h"

struct vm_sandbox;

/* Under op_lock, the sandbox live: ETIMEDOUT/ECONNRESET when QEMU does
 * not answer (the sandbox stays settling). `why` goes into the event. */
int vm_reconcile(struct vm_sandbox *sb, const char *why, struct err **e);

#endif
