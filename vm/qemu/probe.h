/*
 * vm_qemu_probe — asking a QEMU binary what it is (vm/qemu/version holds
 * the answers).
 *
 * A probe starts the binary as `BINARY -machine none -nodefaults
 * -no-user-config -display none -S` with QMP on one end of a socketpair
 * (descriptor 3), under -sandbox when confined and as the uid given, asks
 * query-version, query-target and query-machines, sends quit and reaps it,
 * all within a deadline; about 30 ms.  Answers are cached per path and file
 * identity (device, inode, size, mtime): an upgraded or replaced binary is
 * asked again, an unchanged one never is.  A failed probe is not cached.
 */
#ifndef SANDBOXFS_VM_QEMU_PROBE_H
#define SANDBOXFS_VM_QEMU_PROBE_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"
#include "vm/qemu/version.h"

/* How a probe runs the binary. */
struct vm_qemu_probe {
	uid_t uid;      /* who it runs as (0: as the caller) */
	gid_t gid;
	bool confine;   /* -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny */
	int timeout_ms; /* the whole probe, start to reaped (0: 10 s) */
};

/* Probe `binary` now (no cache).  EIO naming the binary and quoting its
 * output when it does not answer; ETIMEDOUT when it hangs (it is killed). */
int vm_qemu_probe(const char *binary, const struct vm_qemu_probe *how, struct vm_qemu_caps *out,
		  struct err **e);
/* The cached facts of `binary`, probing it when it is new or changed on
 * disk.  ENOENT/EACCES when it cannot be stat()ed.  Thread safe; the
 * cache lock is never held while probing. */
int vm_qemu_caps_get(const char *binary, const struct vm_qemu_probe *how, struct vm_qemu_caps *out,
		     struct err **e);
/* Of the cached facts, asked as the daemon (confined): the version of
 * `binary`, and the versioned machine type `machine` (an alias or a type)
 * stands for, a heap string ("q35" -> "pc-q35-7.2"); ENOENT when the
 * binary has no such machine. */
int vm_probe_version(const char *binary, int *major, int *minor, struct err **e);
int vm_probe_machine(const char *binary, const char *machine, char **out, struct err **e);
/* Forget every cached probe (tests). */
void vm_qemu_caps_forget(void);

#endif
