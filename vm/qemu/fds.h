/*
 * vm_fds — every descriptor the daemon hands a QEMU: what a vm_fdplan
 * names (taps by ifname through /dev/net/tun, a macvtap's /dev/tapN,
 * /dev/vhost-net, /dev/vhost-vsock) is opened here, placed at its number
 * in the child before exec (inheritance, govmm's appendFDs), or — to a
 * running QEMU — sent over QMP `getfd` (SCM_RIGHTS) under a name the
 * commands then use, and closed again with `closefd` on rollback.
 */
#ifndef SANDBOXFS_VM_FDS_H
#define SANDBOXFS_VM_FDS_H

#include <stddef.h>

#include "lib/err.h"

struct json_object;
struct qmp_client;
struct vm_fdplan;

/* Open every descriptor of a plan (close-on-exec, numbered >= 10 so the
 * child's placement cannot clobber them).  out[i] receives the descriptor
 * for plan->v[i]; on failure nothing stays open. */
int vm_fds_open(const struct vm_fdplan *plan, int *out, struct err **e);
void vm_fds_close(const struct vm_fdplan *plan, int *fds);

/* In the child between fork and exec (async-signal-safe): stdin from
 * null_fd, stdout and stderr to log_fd, the QMP listening socket at
 * VM_QMP_FD, fds[i] at plan->v[i].num, everything above closed.  Exits the
 * child with 126 on failure. */
void vm_fds_child_place(int null_fd, int log_fd, int listen_fd, const struct vm_fdplan *plan,
			const int *fds);

/* Open the plan's descriptors and send each to QEMU with `getfd` as
 * "fd-<owner>-<k>", then rewrite every fd/fds/vhostfd/vhostfds value of the
 * commands `cmds` (an array of {"execute","arguments"}) from numbers to
 * those names.  *passed counts the names QEMU holds (vm_fds_close_qmp them
 * on rollback). */
int vm_fds_pass_qmp(struct qmp_client *qmp, const char *owner, const struct vm_fdplan *plan,
		    struct json_object *cmds, size_t *passed, int timeout_ms, struct err **e);
/* `closefd` the first `passed` names of vm_fds_pass_qmp (best effort). */
void vm_fds_close_qmp(struct qmp_client *qmp, const char *owner, size_t passed, int timeout_ms);

#endif
