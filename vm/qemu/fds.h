/*
 * vm_fds — every descriptor the daemon hands a QEMU.  What a vm_fdplan
 * names is opened here — host files and sockets with the rights of the
 * writer who named them (lib/cred), taps by ifname through /dev/net/tun
 * (a non-root writer only its own, as the kernel decides: see fds.c), a
 * macvtap's /dev/tapN, both in the sandbox's network namespace, /dev/vhost-net,
 * /dev/vhost-vsock — then placed at its number in the child before exec
 * (inheritance, govmm's appendFDs; -add-fd for fdsets), or, to a running
 * QEMU, sent over QMP with SCM_RIGHTS: `getfd` under a name, `add-fd` into
 * an fdset; the part's markers are bound to those names and paths, and
 * `closefd` / `remove-fd` take them back on rollback or removal.
 */
#ifndef SANDBOXFS_VM_FDS_H
#define SANDBOXFS_VM_FDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

struct json_object;
struct qmp_client;
struct vm_fdplan;

/* Where the descriptors go: who QEMU runs as (a /proc/self/fd path it
 * cannot read — a file only its writer may read — is handed over as a
 * sealed in-memory copy instead), and the network namespace taps are
 * reached in (-1: the daemon's own). */
struct vm_fds_ctx {
	uid_t qemu_uid;
	gid_t qemu_gid;
	int netns_fd;
	/* vm_fds_check: a socket's backend may start later (cold devices):
	 * a socket that does not exist yet is checked by its directory. */
	bool backends_later;
};

/* Open every descriptor of a plan (close-on-exec, numbered >= 10 so the
 * child's placement cannot clobber them).  out[i] receives the descriptor
 * for plan->v[i]; on failure nothing stays open.  `qemu` NULL: QEMU runs
 * as root. */
int vm_fds_open(const struct vm_fdplan *plan, const struct vm_fds_ctx *ctx, int *out,
		struct err **e);
void vm_fds_close(const struct vm_fdplan *plan, int *fds);
/* What vm_fds_open would refuse, found without keeping anything open and
 * without connecting: each host file opened (as its writer) and closed, a
 * socket's directories and mode checked as its writer, a tap's owner. */
int vm_fds_check(const struct vm_fdplan *plan, const struct vm_fds_ctx *ctx, struct err **e);

/* In the child between fork and exec (async-signal-safe): stdin from
 * null_fd, stdout and stderr to log_fd, the QMP listening socket at
 * VM_QMP_FD, fds[i] at plan->v[i].num, everything above closed.  Exits the
 * child with 126 on failure. */
void vm_fds_child_place(int null_fd, int log_fd, int listen_fd, const struct vm_fdplan *plan,
			const int *fds);

/* What a running QEMU holds of a plan: getfd names and fdset ids. */
#define VM_FDS_SETS_MAX 16
struct vm_fds_passed {
	size_t names;                 /* "fd-<owner>-<k>" for k < names */
	int64_t sets[VM_FDS_SETS_MAX];
	size_t nsets;
};

/* Open the plan's descriptors and send each to QEMU — `getfd` as
 * "fd-<owner>-<k>" or `add-fd` into a new fdset — then bind the markers in
 * the commands `cmds` (an array of {"execute","arguments"}) to those names
 * and /dev/fdset paths.  *passed says what QEMU holds (vm_fds_close_qmp
 * on rollback).  EOPNOTSUPP for a /proc/self/fd reference (boot only). */
int vm_fds_pass_qmp(struct qmp_client *qmp, const char *owner, const struct vm_fdplan *plan,
		    const struct vm_fds_ctx *ctx, struct json_object *cmds,
		    struct vm_fds_passed *passed, int timeout_ms, struct err **e);
/* `closefd` the names and `remove-fd` the sets of vm_fds_pass_qmp (best
 * effort: a name a netdev consumed is gone already). */
void vm_fds_close_qmp(struct qmp_client *qmp, const char *owner, const struct vm_fds_passed *p,
		      int timeout_ms);

#endif
