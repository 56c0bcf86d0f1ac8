/*
 * vm_cmdline — builds the exact QEMU argv for a sandbox (how a QEMU is
 * made: with vm/qemu/fds, the descriptors, and vm/qemu/process, the exec).
 *
 * The argv is a vector, never a shell string; every value goes through
 * qmp_keyval escaping.  The QMP socket is a listening socket the daemon binds
 * and hands to QEMU as file descriptor VM_QMP_FD, so `start` can connect
 * at once, without polling for a path to appear.
 */
#ifndef SANDBOXFS_VM_CMDLINE_H
#define SANDBOXFS_VM_CMDLINE_H

#include <stddef.h>

#include "lib/cred.h"
#include "lib/err.h"
#include "lib/util.h"

struct vm_config;
struct vm_topology;
struct vm_device;
struct vm_qemu_caps;

#define VM_QMP_FD 3

struct vm_fdplan;

struct vm_cmdline_ctx {
	const char *name;        /* sandbox name (for -name) */
	const char *console_log; /* serial console log file */
	/* Optional out: the descriptors the argv references by number (govmm
	 * appendFDs).  The launcher opens them (vm_fds_open) and places
	 * fds[i] at plan->v[i].num in the child. */
	struct vm_fdplan *fds;
	/* Hand QEMU descriptors for every host path (kernel, initrd, bios,
	 * pflash, the console log, device files and sockets) instead of the
	 * paths: /proc/self/fd/N, /dev/fdset/S (-add-fd), fd=N. */
	bool pass_files;
	const struct cred *cfg_owner; /* whose rights open the config's paths */
	/* -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny */
	bool confine;
	/* What the config's QEMU binary is (vm/qemu/version: asked of the
	 * binary); NULL, or facts of another binary than the config's: not
	 * known, and nothing is chosen or checked by them. */
	const struct vm_qemu_caps *qemu;
	/* -incoming defer last: QEMU waits for migrate-incoming (a restore, a
	 * live migration's destination). */
	bool incoming;
	/* A clone of a template: guest RAM is this file, opened read-only with
	 * `ram_owner`'s rights and mapped private (copy-on-write):
	 * memory-backend-file share=off,readonly=on,rom=off in place of the
	 * mem_shared memfd.  NULL: none. */
	const char *ram_template;
	const struct cred *ram_owner;
};

/* The argv for a config and its devices, appended to *argv; EINVAL naming
 * the key or device when they do not validate together, or when ctx->qemu
 * says the binary cannot run them (another target, no such machine). */
int vm_cmdline_build(const struct vm_config *cfg, const struct vm_topology *t,
		     struct vm_device *const *devs, size_t ndevs,
		     const struct vm_cmdline_ctx *ctx, struct strv *argv, struct err **e);
/* The composed kernel command line: "console=" arch console, arch
 * defaults, debug|nodebug; when a root image is among the devices, the
 * systemd list (debug|nodebug) and the root= params (virtio-blk or nvdimm,
 * with or without DAX); the user's kernel_params last so they win. */
char *vm_cmdline_kernel_params(const struct vm_config *cfg, struct vm_device *const *devs,
			       size_t ndevs);

#endif
