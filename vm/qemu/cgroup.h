/*
 * vm_cgroup — a cgroup of its own for each sandbox's QEMU, outside the
 * daemon's, so that a guest's CPU, memory and pids are its own and a
 * restart of the daemon's cgroup (a unit restart, a pod restart) leaves
 * the guests running.  Two layouts behind one ops table (as crun cuts
 * cgroup.c / cgroup-cgroupfs.c): the unified v2 hierarchy (cgroup_v2.c),
 * and the v1 hierarchies of a hybrid host (cgroup_v1.c: cpu, memory and
 * pids, each its own mount).  The cgroup is PARENT/sb-NAME at the top of
 * each hierarchy.
 */
#ifndef SANDBOXFS_VM_CGROUP_H
#define SANDBOXFS_VM_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"

/* The limits a config asks for: cpu_max "max" or "QUOTA PERIOD" (µs),
 * memory and pids 0 = unlimited. */
struct vm_cgroup_limits {
	const char *cpu_max;
	int64_t memory_max_bytes;
	int64_t pids_max;
};

struct vm_cgroup;

/* Find the host's layout once (EOPNOTSUPP: no usable cgroup hierarchy). */
int vm_cgroup_detect(struct err **e);
/* "v2" or "v1", after a successful detect; NULL otherwise. */
const char *vm_cgroup_layout(void);

/* PARENT/sb-NAME, created (or taken as it is, after a daemon restart) with
 * its limits applied (lim NULL: left as they are); *out is freed with
 * vm_cgroup_free. */
int vm_cgroup_open(const char *parent, const char *name, const struct vm_cgroup_limits *lim,
		   struct vm_cgroup **out, struct err **e);
void vm_cgroup_free(struct vm_cgroup *cg);
/* Its path below the hierarchy's root: PARENT/sb-NAME. */
const char *vm_cgroup_rel(const struct vm_cgroup *cg);
/* The cgroup `rel` (PARENT/sb-NAME) of sandbox `name` removed, as
 * vm_cgroup_remove (nothing is made first: one gone already is fine): that
 * of a QEMU that died while no daemon ran, or was killed a moment ago: while
 * EBUSY it is tried again, for up to 3 s (a killed QEMU still tears down). */
int vm_cgroup_remove_rel(const char *rel, const char *name, struct err **e);
/* Apply new limits (live): EINVAL/EBUSY with the kernel's reason when it
 * refuses one (a quota below its minimum, a v1 memory limit below the
 * current use); what was already applied stays as it was before. */
int vm_cgroup_limit(struct vm_cgroup *cg, const struct vm_cgroup_limits *lim, struct err **e);
/* The cgroup.procs files a process joins by writing "0" (opened for
 * writing, close-on-exec); returns how many, <= max. */
int vm_cgroup_procs_fds(struct vm_cgroup *cg, int *fds, int max, struct err **e);
/* Remove it (its processes gone); -EBUSY while one is left. */
int vm_cgroup_remove(struct vm_cgroup *cg, struct err **e);
/* Its path(s) as flat "key value" lines: "path DIR" (v2) or one line per
 * controller, "cpu DIR", "memory DIR", "pids DIR" (v1). */
void vm_cgroup_show(const struct vm_cgroup *cg, struct sbuf *out);
/* How many processes the kernel OOM-killed for the memory limit. */
int64_t vm_cgroup_oom_kills(const struct vm_cgroup *cg);
/* PARENT when pid runs in a cgroup PARENT/sb-NAME (a sandbox's own, made by
 * whichever daemon started it), else NULL; free it. */
char *vm_cgroup_parent_of(int pid, const char *name);
/* Whether a process runs in it (pid's /proc cgroup line is ours). */
bool vm_cgroup_has(const struct vm_cgroup *cg, int pid);

/* What its processes used: CPU time (total, user, system; -1 when the
 * layout cannot tell: a v1 host without cpuacct) and the memory charged
 * to it (-1: unknown).  v2: cpu.stat usage_usec user_usec system_usec,
 * memory.current; v1: cpuacct.usage (ns), cpuacct.usage_user/_sys,
 * memory.usage_in_bytes. */
struct vm_cgroup_usage {
	int64_t cpu_usec, user_usec, system_usec;
	int64_t memory_bytes;
};
void vm_cgroup_usage(const struct vm_cgroup *cg, struct vm_cgroup_usage *out);
/* A copy that outlives the sandbox's lock (the files of one cgroup are
 * read without it); free with vm_cgroup_free. */
struct vm_cgroup *vm_cgroup_copy(const struct vm_cgroup *cg);

#endif
