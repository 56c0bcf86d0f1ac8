/*
 * vm_persist — each sandbox's state on disk (<state-dir>/<name>/
 * sandbox.json), written atomically after every commit and read back when
 * the daemon starts.  A state file that cannot be loaded leaves a `broken`
 * sandbox: shown, its name reserved, the file kept beside as
 * sandbox.json.broken, and its QEMU (found by uuid, name or path) reported
 * and killable (persist_broken.c).
 */
#ifndef SANDBOXFS_VM_PERSIST_H
#define SANDBOXFS_VM_PERSIST_H

#define VM_PERSIST_FILE "sandbox.json"
#define VM_PERSIST_BROKEN "sandbox.json.broken"

/* Observe every commit from now on, then load every sandbox of the state
 * dir into the registry, re-adopting QEMUs that still run. */
void vm_persist_start(void);

/* The sandbox `name` whose state could not be loaded (`why`): registered
 * broken, its file moved aside, its QEMU looked for. */
void vm_persist_broken(const char *name, const char *why);

#endif
