/*
 * vm_lifecycle — a sandbox's life with its QEMU: start, stop, kill, pause,
 * resume; QMP events and a lost connection turned into state; the exit of
 * QEMU turned into `stopped` or `crashed`.
 *
 * The verbs are called by the ctl table (ctl.c) with the sandbox's op_lock
 * held and its state already checked against the verb's allowed states.
 */
#ifndef SANDBOXFS_VM_LIFECYCLE_H
#define SANDBOXFS_VM_LIFECYCLE_H

#include <stdbool.h>

#include "lib/err.h"
#include "vm/sandbox/sandbox.h" /* enum vm_settle_job */

struct vm_sandbox;
struct qmp_callbacks;

/* Under op_lock (ctl.c). */
int vm_lifecycle_start_locked(struct vm_sandbox *sb, struct err **e);
int vm_lifecycle_stop_locked(struct vm_sandbox *sb, struct err **e);
int vm_lifecycle_kill_locked(struct vm_sandbox *sb, struct err **e);
int vm_lifecycle_pause_locked(struct vm_sandbox *sb, struct err **e);
int vm_lifecycle_resume_locked(struct vm_sandbox *sb, struct err **e);
/* An adopted (or a broken sandbox's) QEMU: the cgroup it already runs in
 * (lifecycle.c); `keep`: its limits left as they are. */
int vm_lifecycle_cgroup_adopt(struct vm_sandbox *sb, bool keep, struct err **e);
/* stop, taking op_lock itself (daemon shutdown). */
int vm_lifecycle_stop(struct vm_sandbox *sb, struct err **e);

/* What follows QEMU in the background (vm_settle_soon; set by
 * vm_daemon_start): a lost connection is made again, a DEVICE_DELETED
 * nobody waited for is reconciled. */
void vm_lifecycle_settle_hook(void (*fn)(struct vm_sandbox *sb, enum vm_settle_job job));

/* The QMP callbacks a sandbox's connection uses (events → state and the
 * events ring; a lost connection → error). */
void vm_lifecycle_qmp_callbacks(struct vm_sandbox *sb, struct qmp_callbacks *cb);
/* The QEMU process is gone (the monitor's exit callback): record how,
 * release QMP, wake waiters.  Takes sb->lock itself. */
void vm_lifecycle_exited(struct vm_sandbox *sb, int wstatus, bool have_status);

#endif
