/*
 * vm_process — the QEMU process itself: the QMP listening socket it
 * inherits, fork and exec with its descriptors in place, its identity in
 * /proc (start time, the -uuid on its command line), pidfds, and the tail
 * of its log for error messages.  Nothing here knows what a sandbox is.
 */
#ifndef SANDBOXFS_VM_PROCESS_H
#define SANDBOXFS_VM_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"

struct vm_fdplan;

/* A bound, listening unix socket at `path` (an old one is unlinked),
 * close-on-exec and numbered >= 10; returns it. */
int vm_process_listen(const char *path, struct err **e);

#define VM_PROCESS_GROUPS_MAX 4

struct vm_process_spawn {
	char **argv;                  /* argv[0]: the binary, run without a shell */
	int listen_fd;                /* becomes VM_QMP_FD in the child */
	const struct vm_fdplan *plan; /* descriptors at their numbers */
	const int *fds;               /* fds[i] for plan->v[i] */
	const char *log_path;         /* stdout + stderr, truncated */
	uid_t uid;                    /* who QEMU runs as (0: as the daemon) */
	gid_t gid;
	gid_t groups[VM_PROCESS_GROUPS_MAX]; /* its only supplementary groups */
	int ngroups;
	const int *cgroup_fds;        /* cgroup.procs files it joins before exec */
	int ncgroup_fds;
	bool memlock;                 /* lift RLIMIT_MEMLOCK (mlock, VFIO DMA maps) */
};
/* The supplementary groups QEMU needs for an accelerator: the group of
 * /dev/kvm under kvm, none otherwise. */
void vm_process_groups(struct vm_process_spawn *s, const char *accel);
/* fork + exec in a new session, stdin /dev/null, every signal default, in
 * the cgroups given, with the uid, gid and groups given (dropped after the
 * descriptors are placed, before exec); *pid receives the child's pid. */
int vm_process_spawn(const struct vm_process_spawn *s, pid_t *pid, struct err **e);

/* /proc/<pid>/stat starttime, 0 if the process is gone. */
unsigned long long vm_process_start_time(pid_t pid);
/* Does /proc/<pid>/cmdline carry "-uuid <uuid>"? */
bool vm_process_has_uuid(pid_t pid, const char *uuid);
/* A running QEMU (argv[0] qemu-system-*) whose argv has `-uuid UUID`, or
 * `-name guest=NAME`, or an argument naming a path under `dir` (any may be
 * NULL); 0 when none. */
pid_t vm_process_find(const char *uuid, const char *name, const char *dir);

/* pidfd_open(2) / pidfd_send_signal(2); -1 + errno on failure. */
int vm_process_pidfd(pid_t pid);
int vm_process_pidfd_kill(int pidfd, int sig);

/* The last ~2000 bytes of a log file, trailing blanks trimmed, or
 * "(no output)"; a heap string. */
char *vm_process_log_tail(const char *path);

#endif
