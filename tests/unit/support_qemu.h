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

#include "lib/util.h"
#include "vm/model/config.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

struct json_object;
struct qmp_client;
struct vm_device;
struct vm_qemu_caps;

/* ---- which QEMU (docs/testing.md, "Two QEMUs") ----
 *
 * The real-QEMU tests run the QEMU in $TEST_QEMU_DIR when it is set
 * (tests/run-all.sh's pass against QEMU 10 sets build/qemu-10/bin), else
 * the system's (/usr/bin).  Whoever asks the binary what it is
 * (sqemu_qemu) prints one line per binary, which the runners count:
 *
 *     QEMU-USED <version> <binary>
 */
/* `name` (a file name, qemu-system-x86_64, or a path: its file name is
 * taken) in $TEST_QEMU_DIR or /usr/bin; a heap string. */
char *sqemu_binary(const char *name);
/* {$TEST_QEMU_DIR, NULL} for vm_defaults.qemu_dirs (an empty `qemu` key
 * then means that directory's binary), or NULL when it is not set. */
const char *const *sqemu_dirs(void);
/* What `binary` is (vm/qemu/probe, as root, unconfined), for
 * vm_cmdline_ctx.qemu; prints the QEMU-USED line the first time.  NULL
 * after printing why when it does not answer.  The facts stay valid for
 * the program's life. */
const struct vm_qemu_caps *sqemu_qemu(const char *binary);
/* The facts of recorded QMP replies (tests/unit/golden_qemu.h: version,
 * target, machines as JSON text; target or machines NULL: none), as if
 * `binary` had given them.  False after printing why. */
bool sqemu_caps_from(const char *binary, const char *version, const char *target,
		     const char *machines, struct vm_qemu_caps *q);

/* A listening unix socket bound at `path`, on a descriptor >= 64 (clear of
 * the numbers a fd plan uses), close-on-exec; -1 on failure. */
int sqemu_listen(const char *path);

/* `built` without -kernel/-initrd/-append and their values, then -S: QEMU
 * checks the whole argv but the guest never runs, so no bootable kernel is
 * needed. */
void sqemu_argv_paused(const struct strv *built, struct strv *argv);

/* Fork and exec argv[0] (dies with the test: PR_SET_PDEATHSIG) with stdin
 * on /dev/null, stdout and stderr on `log` (NULL: inherited), `qmp_fd` as
 * VM_QMP_FD and, if `plan` is non-NULL, fds[i] as plan->v[i].num — placed
 * by the launcher's own vm_fds_child_place, everything else closed.  The
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

/* How many descriptors of process `pid` are open on `path` (by the
 * /proc/<pid>/fd links); -1 when they cannot be read. */
int sqemu_pid_open_count(pid_t pid, const char *path);

/* Whether the character device `dev` can be opened read-write; when it
 * is missing, `modprobe module` is tried first.  Says which on stdout,
 * prefixed by `label`. */
bool sqemu_have_dev(const char *label, const char *dev, const char *module);

/* For memory-backend-file mem-path=/dev/hugepages (the path the argv
 * names): enter a private mount namespace (call before any thread
 * exists) and mount a hugetlbfs at /dev/hugepages there, creating the
 * directory if the host has none; raise vm.nr_overcommit_hugepages by
 * `pages` 2 MiB pages so QEMU can take surplus huge pages (given back when
 * it exits).  If hugetlbfs cannot be had, a tmpfs stands in.  Returns
 * "hugetlbfs", "tmpfs" or NULL (after printing why: also when
 * /dev/hugepages is a stray regular file).  The sysctl is given back by
 * sqemu_hugepages_end, or by a guardian process when the test dies without
 * calling it; a directory it made stays (removing it could detach another
 * test program's private mount there). */
const char *sqemu_hugepages_begin(int pages);
void sqemu_hugepages_end(void);

/* ---- a sandbox started for real ----
 *
 * sqemu_sb_init (daemon defaults with guest kernel /nonexistent/vmlinuz and
 * no initrd: the kernel is dropped from what QEMU gets), sqemu_sb_merge
 * config writes in order, sqemu_sb_add devices (the topology is built from
 * the whole config at the first add; PCI devices take the first free slot,
 * as the daemon's admit does), sqemu_sb_build (vm_cmdline_build with a
 * descriptor plan), sqemu_sb_start (sqemu_argv_paused, the plan's
 * descriptors opened and placed, QMP connected; a refusal is printed with
 * QEMU's log and the argv), sqemu_sb_release (quit, reap, free).  Each
 * step prints why it failed, prefixed by the label, and returns false. */
struct sqemu_sb {
	char label[48];
	struct vm_config cfg;
	struct vm_topology t;
	bool topo;
	struct vm_device *devs[24];
	size_t n;
	struct vm_fdplan plan;
	struct strv built; /* as vm_cmdline_build made it */
	struct strv argv;  /* what QEMU was given */
	char *qlog, *qsock;
	pid_t pid;
	struct qmp_client *c;
};

void sqemu_sb_init(struct sqemu_sb *s, const char *dir, const char *label);
bool sqemu_sb_merge(struct sqemu_sb *s, const char *json);
bool sqemu_sb_add(struct sqemu_sb *s, const char *spec);
bool sqemu_sb_build(struct sqemu_sb *s, const char *name, const char *console_log);
bool sqemu_sb_start(struct sqemu_sb *s);
/* Whether the argv QEMU was given holds `opt` followed by `val` (val NULL:
 * `opt` alone, as -nographic). */
bool sqemu_sb_has(const struct sqemu_sb *s, const char *opt, const char *val);
/* The QEMU log so far (new string, "" when none). */
char *sqemu_sb_log(const struct sqemu_sb *s);
void sqemu_sb_release(struct sqemu_sb *s);

/* A sparse file of `size` bytes; 0 or -1. */
int sqemu_make_file(const char *path, off_t size);
/* Enter a private network namespace (the taps never touch the host's) and
 * create a persistent tap named `tap` there.  False, after printing the
 * SKIP reason, when either fails: the caller exits 77. */
bool sqemu_netns_with_tap(const char *tap);

#endif
