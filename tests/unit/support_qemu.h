/*
 * support_qemu — starting a real QEMU for the acceptance tests and asking
 * it things over QMP: a listening unix socket handed to qemu-system-* as
 * its QMP descriptor (VM_QMP_FD), the built argv made to start paused
 * without a guest kernel, fork/exec with the fd plan in place, connecting
 * with a useful report when QEMU refused the argv, small QMP/QOM queries,
 * and teardown (quit, wait, kill if it lingers).  The assertions stay in
 * the tests: these helpers only report.
 */
#ifndef SANDBOXFS_SUPPORT_QEMU_H
#define SANDBOXFS_SUPPORT_QEMU_H

#include <stdbool.h>
#include <sys/types.h>

struct json_object;
struct qmp_client;
struct strv;
struct vm_fdplan;
struct vm_topology;

/* A listening unix socket bound at `path`, on a descriptor >= 64 (clear of
 * the numbers a fd plan uses), close-on-exec; -1 on failure. */
int sqemu_listen(const char *path);

/* `built` without -kernel/-initrd/-append and their values, then -S: QEMU
 * checks the whole argv but the guest never runs, so no bootable kernel is
 * needed. */
void sqemu_argv_paused(const struct strv *built, struct strv *argv);

/* Fork and exec argv[0] (dies with the test: PR_SET_PDEATHSIG) with stdin
 * on /dev/null, stdout and stderr on `log` (NULL: inherited), `qmp_fd` as
 * VM_QMP_FD and, if `plan` is non-NULL, fds[i] as plan->v[i].num.  The
 * parent's `qmp_fd` is closed.  Returns the pid, -1 if fork failed. */
pid_t sqemu_spawn(char *const *argv, int qmp_fd, const char *log, const struct vm_fdplan *plan,
		  const int *fds);

/* qmp_client_connect to `sock`; on failure prints why, QEMU's `log` and
 * the argv, prefixed by `label` when non-NULL.  Returns 0 or <0. */
int sqemu_connect(const char *sock, int timeout_ms, const char *label, const char *log,
		  const struct strv *argv, struct qmp_client **c);

/* Wait up to timeout_ms for pid to exit, then SIGKILL it and reap it.
 * Returns 0 if it exited by itself, -1 if it had to be killed. */
int sqemu_reap(pid_t pid, int timeout_ms, int *status);
/* Send quit over `c` (NULL: none), drop `c`, and sqemu_reap for 5 s. */
int sqemu_stop(struct qmp_client *c, pid_t pid, int *status);

/* Run `cmd` with `args` (taken; NULL for none): the "return" member (new
 * reference, an empty object when QEMU returned nothing), or NULL after
 * printing the error. */
struct json_object *sqemu_qmp(struct qmp_client *c, const char *cmd, struct json_object *args,
			      int timeout_ms);
/* qom-get of path.prop, as sqemu_qmp. */
struct json_object *sqemu_qom_get(struct qmp_client *c, const char *path, const char *prop,
				  int timeout_ms);
/* The string member k of o, "" when o or k is missing. */
const char *sqemu_jstr(struct json_object *o, const char *k);
/* query-pci into *pci (new reference, NULL on failure) and its bus 0
 * device list into *devices (borrowed); false when either is missing. */
bool sqemu_query_pci(struct qmp_client *c, int timeout_ms, struct json_object **pci,
		     struct json_object **devices);
/* Whether bridge b of t sits on bus 0 at the slot the topology gave it, in
 * a query-pci device list; if not, says so (prefixed by `label` when
 * non-NULL). */
bool sqemu_bridge_placed(struct json_object *devices, const struct vm_topology *t, int b,
			 const char *label);

/* A sparse file of `size` bytes; 0 or -1. */
int sqemu_make_file(const char *path, off_t size);
/* Enter a private network namespace (the taps never touch the host's) and
 * create a persistent tap named `tap` there.  False, after printing the
 * SKIP reason, when either fails: the caller exits 77. */
bool sqemu_netns_with_tap(const char *tap);

#endif
