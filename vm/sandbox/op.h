/*
 * vm_op — one control operation on a sandbox, from its start to its end.
 *
 * Every state-changing write (ctl verbs, config, devices, cpus, memory)
 * runs between vm_op_begin and vm_op_end, which own the sandbox's op_lock:
 *
 *   - the wait for op_lock is bounded (VM_OP_WAIT_MS, the QMP timeout) and
 *     ends early when the caller gives up (the fs's interrupted hook, a
 *     Ctrl-C on the writing shell): EBUSY naming what is in progress and
 *     for how long, or EINTR;
 *   - an operation that changes what the state file holds first checks the
 *     state directory has room for it (ENOSPC, before anything is done);
 *   - a sandbox left `settling` by an earlier uncertain outcome (a QMP
 *     timeout, a lost connection) is reconciled with QEMU first, so the
 *     operation starts from what QEMU really has (vm/sandbox/reconcile,
 *     through a hook).
 */
#ifndef SANDBOXFS_VM_OP_H
#define SANDBOXFS_VM_OP_H

#include <stdbool.h>

#include "lib/err.h"

struct vm_sandbox;

enum vm_op_flags {
	VM_OP_CHANGES = 1 << 0, /* changes what the state file holds: room first */
	VM_OP_QUIET = 1 << 1,   /* reconcile not first (stop, kill: they end it all) */
};

/* Take the sandbox for the operation `what` (a short description shown to
 * those who must wait, e.g. "devices/add d1"). */
int vm_op_begin(struct vm_sandbox *sb, const char *what, unsigned flags, struct err **e);
void vm_op_end(struct vm_sandbox *sb);

/* What settles a sandbox before the next operation (vm_reconcile), and
 * what follows QEMU in the background when an operation ends settling
 * (vm/sandbox/settle); set by vm_daemon_start, so this module need not
 * know them. */
void vm_op_settle_hook(int (*fn)(struct vm_sandbox *sb, const char *why, struct err **e),
		       void (*kick)(struct vm_sandbox *sb));
/* The `what` of the background reconciliation's own operation. */
#define VM_OP_SETTLE_WHAT "reconcile with QEMU"

/* The fs's "the caller gave up" test (fuse_interrupted), polled by bounded
 * waits; NULL: never. */
void vm_op_interrupted_hook(bool (*fn)(void));
bool vm_op_interrupted(void);

/* The state directory holds at least twice the sandbox's state file (and
 * 64 KiB): else ENOSPC. */
int vm_op_room(struct vm_sandbox *sb, struct err **e);

#endif
