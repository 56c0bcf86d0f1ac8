/*
 * vm_save — a sandbox's whole state into a directory, and back: `save DIR
 * [template]` and `restore DIR` (libvirt's save/restore, Kata's VM
 * factory for templates).
 *
 * A save directory, made by the writer and read as the writer:
 *
 *   DIR/state       QEMU's migration stream (the guest paused first, so
 *                   the stream is one pass); a template's leaves out the
 *                   shared guest RAM (x-ignore-shared)
 *   DIR/definition  the sandbox's definition (vm/sandbox/definition.h) at
 *                   the save: versioned machine type, devices on their
 *                   slots, the hot-added vCPUs and DIMMs
 *   DIR/manifest    JSON: {"sandboxfs_save":1, "arch", "machine",
 *                   "qemu_version", "running", "template", "memory_mib",
 *                   "saved_at", "sandbox"}
 *   DIR/memory      a template's guest RAM (a sparse copy of the memfd
 *                   mem_shared gave it); read-only, like everything in a
 *                   template directory
 *
 * QEMU runs under -sandbox spawn=deny and as its own uid: the stream goes
 * over a descriptor the daemon opened as the writer (QMP getfd, fd:NAME),
 * never exec: or a path of QEMU's own.
 */
#ifndef SANDBOXFS_VM_SAVE_H
#define SANDBOXFS_VM_SAVE_H

#include "lib/cred.h"
#include "lib/err.h"

struct vm_sandbox;

#define VM_SAVE_VERSION 1
/* QEMU from which memory-backend-file maps a file read-only and private
 * (rom=off, QEMU 8.2): what a clone needs. */
#define VM_SAVE_CLONE_QEMU_MAJOR 8
#define VM_SAVE_CLONE_QEMU_MINOR 2

/* ctl verbs, under op_lock with the state checked. */
int vm_save_locked(struct vm_sandbox *sb, const char *arg, const struct cred *who, struct err **e);
int vm_restore_locked(struct vm_sandbox *sb, const char *arg, const struct cred *who,
		      struct err **e);

/* The timeout of a save or restore stream of `mib` MiB of guest RAM. */
int vm_save_timeout_ms(long long mib);

#endif
