/*
 * vm_adopt — re-attach to a QEMU left running by an earlier daemon: the
 * recorded pid must still be the same process (its start time, and the
 * sandbox's -uuid on its command line), and its QMP socket must answer.
 */
#ifndef SANDBOXFS_VM_ADOPT_H
#define SANDBOXFS_VM_ADOPT_H

#include "lib/err.h"
#include "vm/sandbox/sandbox.h"

/* Adopt the QEMU of sb->pid / sb->start_time (a sandbox that was `was`):
 * QMP connected, state from query-status, exit watched.  ESRCH when the
 * process is gone or is another one; a QEMU that is ours but does not
 * answer QMP is killed (and the error says so). */
int vm_adopt_qemu(struct vm_sandbox *sb, enum vm_state was, struct err **e);

#endif
