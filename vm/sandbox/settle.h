/*
 * vm_settle — the background work that brings a sandbox back to what QEMU
 * has without waiting for a writer: a lost QMP connection to a live QEMU
 * is connected again (QEMU's QMP socket accepts a new client once the old
 * one is gone) and reconciled; a late DEVICE_DELETED (a removal whose wait
 * gave up) is followed by a reconciliation, so the tree follows QEMU.
 *
 * One thread and a queue; each job takes the sandbox's op_lock with the
 * usual bound (vm_op_begin) and is tried again later while the sandbox is
 * busy.  Test hook: with SANDBOXFS_TEST_FAULTS=1 in the daemon's
 * environment, SIGUSR2 cuts every sandbox's QMP connection (docs/testing.md).
 */
#ifndef SANDBOXFS_VM_SETTLE_H
#define SANDBOXFS_VM_SETTLE_H

#include "lib/err.h"
#include "vm/sandbox/sandbox.h" /* enum vm_settle_job */

struct vm_sandbox;

int vm_settle_start(struct err **e);
void vm_settle_stop(void);
/* Queue a job for the sandbox (a reference is taken); repeated jobs of
 * one sandbox merge. */
void vm_settle_soon(struct vm_sandbox *sb, enum vm_settle_job job);
/* vm_settle_soon(sb, VM_SETTLE_RECONCILE). */
void vm_settle_kick(struct vm_sandbox *sb);

#endif
