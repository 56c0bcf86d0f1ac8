/*
 * vm_persist — each sandbox's state on disk (<state-dir>/<name>/
 * sandbox.json), written atomically after every commit and read back when
 * the daemon starts.
 */
#ifndef SANDBOXFS_VM_PERSIST_H
#define SANDBOXFS_VM_PERSIST_H

/* Observe every commit from now on, then load every sandbox of the state
 * dir into the registry, re-adopting QEMUs that still run. */
void vm_persist_start(void);

#endif
