/*
 * vm_daemon — the vm layer's start and end: the QEMU exit monitor wired to
 * the lifecycle, persistence of every commit, the sandboxes found on disk
 * (live QEMUs re-adopted); at exit, QEMUs stopped or left running for the
 * next daemon.
 */
#ifndef SANDBOXFS_VM_DAEMON_H
#define SANDBOXFS_VM_DAEMON_H

#include "lib/err.h"

/* After daemonizing (it starts threads). */
int vm_daemon_start(struct err **e);
/* Stop QEMUs if stop_on_exit, stop the monitor, drop every sandbox. */
void vm_daemon_shutdown(void);

#endif
