/*
 * vm_sandbox_qemu — which QEMU a sandbox runs, as the binary itself says
 * (vm/qemu/probe, asked as the sandbox's QEMU user and under -sandbox when
 * confined): the facts its command line is built by, the header of its
 * `cmdline` file, the vCPU rules for the QEMU it runs (vm/qemu/vcpu_rules),
 * and the daemon's default QEMU for the root `version` file.
 */
#ifndef SANDBOXFS_VM_SANDBOX_QEMU_H
#define SANDBOXFS_VM_SANDBOX_QEMU_H

#include "lib/err.h"
#include "lib/util.h"

struct qmp_client;
struct vm_qemu_caps;
struct vm_sandbox;

/* The facts of the sandbox's configured binary (cached, or asked now).
 * Takes sb->lock briefly; never holds it while asking.  *binary (if
 * non-NULL) receives the binary's path (heap). */
int vm_sandbox_qemu_caps(struct vm_sandbox *sb, struct vm_qemu_caps *out, char **binary, struct err **e);

/* "qemu VERSION BINARY\n" — or "qemu unknown BINARY\n" when q is NULL. */
void vm_sandbox_qemu_describe(const char *binary, const struct vm_qemu_caps *q, struct sbuf *out);
/* The daemon's default QEMU for the host's architecture (the first
 * --qemu-dir holding it), described as above; asked as the daemon's own
 * probe identity (root when QEMU runs as root, the --qemu-user, else
 * nobody). */
void vm_sandbox_default_qemu_describe(struct sbuf *out);
/* Its version, "MAJOR.MINOR.MICRO" or "unknown" (the metrics' label). */
void vm_sandbox_default_qemu_version(char *buf, size_t size);

/* Under op_lock: whether the running QEMU survives going from `current`
 * to `want` vCPUs (vm/qemu/vcpu_rules); 0, EOPNOTSUPP or ENOSPC. */
int vm_sandbox_vcpu_check(struct vm_sandbox *sb, int current, int want, struct err **e);
/* The QEMU is up (started, or re-adopted over `qmp`): remember what it is.
 * `q` NULL: take the version from qmp's greeting (an adopted QEMU). */
void vm_sandbox_qemu_running(struct vm_sandbox *sb, const struct vm_qemu_caps *q, struct qmp_client *qmp);

#endif
