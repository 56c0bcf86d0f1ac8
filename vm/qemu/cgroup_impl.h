/*
 * cgroup_impl — the two cgroup layouts behind one ops table, internal to
 * vm/qemu/cgroup*.c.
 */
#ifndef SANDBOXFS_VM_CGROUP_IMPL_H
#define SANDBOXFS_VM_CGROUP_IMPL_H

#include "vm/qemu/cgroup.h"

#define CG_DIRS_MAX 4

struct vm_cgroup_ops {
	const char *layout;
	bool (*detect)(void);
	/* cg->dirs from cg->rel, nothing made; create makes them too */
	void (*place)(struct vm_cgroup *cg);
	int (*create)(struct vm_cgroup *cg, struct err **e);
	int (*limit)(struct vm_cgroup *cg, const struct vm_cgroup_limits *lim, struct err **e);
	int64_t (*oom_kills)(const struct vm_cgroup *cg);
	void (*usage)(const struct vm_cgroup *cg, struct vm_cgroup_usage *out);
	/* the /proc/PID/cgroup line of one of its controllers */
	const char *proc_key;
};

struct vm_cgroup {
	const struct vm_cgroup_ops *ops;
	char *rel;                   /* PARENT/sb-NAME */
	const char *keys[CG_DIRS_MAX]; /* "path" | "cpu" "memory" "pids" ["cpuacct"] */
	char *dirs[CG_DIRS_MAX];
	int ndirs;
};

extern const struct vm_cgroup_ops vm_cgroup_v1, vm_cgroup_v2;

/* Write `value` to DIR/FILE: the kernel's errno, with its reason. */
int vm_cgroup_write(const char *dir, const char *file, const char *value, struct err **e);
/* DIR/FILE's first line into buf ("" when unreadable). */
void vm_cgroup_read(const char *dir, const char *file, char *buf, size_t len);
/* DIR/FILE as one decimal number; -1 when unreadable or not a number. */
int64_t vm_cgroup_read_num(const char *dir, const char *file);
/* The number after "KEY " in DIR/FILE (flat keyed), 0 when absent. */
int64_t vm_cgroup_read_key(const char *dir, const char *file, const char *key);
/* mkdir -p that takes an existing directory as made. */
int vm_cgroup_mkdir(const char *dir, struct err **e);

#endif
