/*
 * vm_probe — what a QEMU binary is, asked of the binary itself: its
 * version (`--version`) and the versioned machine type an alias stands
 * for (`-machine help`: "q35 ... (alias of pc-q35-7.2)").  Answers are
 * cached per binary (path, inode, size, modification time), so a binary
 * replaced on disk is asked again.  The binary runs as the daemon, with no
 * guest, for at most VM_PROBE_TIMEOUT_MS.
 */
#ifndef SANDBOXFS_VM_PROBE_H
#define SANDBOXFS_VM_PROBE_H

#include "lib/err.h"

#define VM_PROBE_TIMEOUT_MS 10000

/* The version of `binary` ("QEMU emulator version 7.2.22" → 7, 2). */
int vm_probe_version(const char *binary, int *major, int *minor, struct err **e);
/* The versioned machine type `machine` is an alias of on `binary`, a heap
 * string ("q35" → "pc-q35-7.2"); a type that is no alias is itself.
 * ENOENT when the binary does not know the machine. */
int vm_probe_machine(const char *binary, const char *machine, char **out, struct err **e);

#endif
