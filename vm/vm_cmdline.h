/*
 * vm_cmdline — builds the exact QEMU argv for a sandbox.
 *
 * The argv is a vector, never a shell string; every value goes through
 * vm_qopts escaping.  The QMP socket is a listening socket the daemon binds
 * and hands to QEMU as file descriptor VM_QMP_FD, so `start` can connect
 * at once, without polling for a path to appear.
 */
#ifndef SANDBOXFS_VM_CMDLINE_H
#define SANDBOXFS_VM_CMDLINE_H

#include <stddef.h>

#include "lib/err.h"
#include "lib/util.h"

struct vm_config;
struct vm_topology;
struct vm_device;

#define VM_QMP_FD 3

struct vm_fdplan;

struct vm_cmdline_ctx {
	const char *name;        /* sandbox name (for -name) */
	const char *console_log; /* serial console log file */
	/* Optional out: the descriptors the argv references by number (govmm
	 * appendFDs).  The launcher opens them with vm_cmdline_open_fds and
	 * dup2()s fds[i] onto plan->v[i].num in the child. */
	struct vm_fdplan *fds;
};

int vm_cmdline_build(const struct vm_config *cfg, const struct vm_topology *t,
		     struct vm_device *const *devs, size_t ndevs,
		     const struct vm_cmdline_ctx *ctx, struct strv *argv, struct err **e);
/* The composed kernel command line: arch defaults, debug|nodebug, user last. */
char *vm_cmdline_kernel_params(const struct vm_config *cfg);
/* The same with the devices: when a root image is among them, the systemd
 * list (debug|nodebug) and the root= params (virtio-blk or nvdimm, with or
 * without DAX) come before the user's params. */
char *vm_cmdline_kernel_params_devs(const struct vm_config *cfg, struct vm_device *const *devs,
				    size_t ndevs);
/* Open every descriptor of a plan (close-on-exec, numbered >= 10 so the
 * child's dup2 onto plan numbers cannot clobber them).  out[i] receives
 * the descriptor for plan->v[i]; on failure nothing stays open. */
int vm_cmdline_open_fds(const struct vm_fdplan *plan, int *out, struct err **e);
void vm_cmdline_close_fds(const struct vm_fdplan *plan, int *fds);

#endif
