/*
 * vm_monitor — one thread that notices QEMU processes exiting: an epoll
 * set of pidfds (a 250 ms check where pidfd_open is missing), our own
 * children reaped, the status handed to the exit callback.
 */
#ifndef SANDBOXFS_VM_MONITOR_H
#define SANDBOXFS_VM_MONITOR_H

#include <stdbool.h>

#include "lib/err.h"

struct vm_sandbox;

/* Called on the monitor thread once a watched QEMU is gone, with its wait
 * status when it was our child (have_status), without locks held. */
typedef void (*vm_monitor_exit_fn)(struct vm_sandbox *sb, int wstatus, bool have_status);

int vm_monitor_start(vm_monitor_exit_fn exited, struct err **e);
void vm_monitor_stop(void);
/* Watch the sandbox's QEMU (sb->pid, sb->pidfd); the watch holds a
 * reference until the exit is reported or the monitor stops. */
int vm_monitor_watch(struct vm_sandbox *sb, struct err **e);

#endif
