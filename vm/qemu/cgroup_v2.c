/*
 * cgroup_v2 — a sandbox's cgroup in the unified hierarchy at
 * /sys/fs/cgroup: cpu.max, memory.max, pids.max; the parent delegates the
 * three controllers to its children (cgroup.subtree_control).
 */
#include "vm/qemu/cgroup_impl.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define V2_ROOT "/sys/fs/cgroup"

static bool v2_detect(void)
{
	char c[256];
	vm_cgroup_read(V2_ROOT, "cgroup.controllers", c, sizeof(c));
	return strstr(c, "memory") && strstr(c, "cpu") && strstr(c, "pids");
}

static void v2_place(struct vm_cgroup *cg)
{
	cg->keys[0] = "path";
	cg->dirs[0] = xasprintf(V2_ROOT "/%s", cg->rel);
	cg->ndirs = 1;
}

static int v2_create(struct vm_cgroup *cg, struct err **e)
{
	cleanup_free char *parent = xstrdup(cg->rel);
	*strrchr(parent, '/') = '\0';
	cleanup_free char *pdir = xasprintf(V2_ROOT "/%s", parent);
	int r = vm_cgroup_mkdir(pdir, e);
	/* the controllers reach the parent, then its children */
	if (r == 0)
		r = vm_cgroup_write(V2_ROOT, "cgroup.subtree_control", "+cpu +memory +pids", e);
	if (r == 0)
		r = vm_cgroup_write(pdir, "cgroup.subtree_control", "+cpu +memory +pids", e);
	v2_place(cg);
	return r < 0 ? r : vm_cgroup_mkdir(cg->dirs[0], e);
}

/* Write each limit; on a refusal put back those already changed. */
static int v2_limit(struct vm_cgroup *cg, const struct vm_cgroup_limits *lim, struct err **e)
{
	static const char *const files[] = { "cpu.max", "memory.max", "pids.max" };
	char old[3][64], val[3][64];
	snprintf(val[0], sizeof(val[0]), "%s", lim->cpu_max && *lim->cpu_max ? lim->cpu_max : "max");
	snprintf(val[1], sizeof(val[1]), lim->memory_max_bytes ? "%lld" : "max",
		 (long long)lim->memory_max_bytes);
	snprintf(val[2], sizeof(val[2]), lim->pids_max ? "%lld" : "max", (long long)lim->pids_max);
	for (int i = 0; i < 3; i++) {
		vm_cgroup_read(cg->dirs[0], files[i], old[i], sizeof(old[i]));
		if (vm_cgroup_write(cg->dirs[0], files[i], val[i], e) < 0) {
			while (i-- > 0)
				vm_cgroup_write(cg->dirs[0], files[i], old[i], NULL);
			return err_ret(e);
		}
	}
	return 0;
}

static int64_t v2_oom_kills(const struct vm_cgroup *cg)
{
	return vm_cgroup_read_key(cg->dirs[0], "memory.events", "oom_kill");
}

static void v2_usage(const struct vm_cgroup *cg, struct vm_cgroup_usage *out)
{
	cleanup_free char *path = xasprintf("%s/cpu.stat", cg->dirs[0]);
	struct stat st;
	if (stat(path, &st) == 0) { /* cpu.stat is there even without the cpu controller */
		out->cpu_usec = vm_cgroup_read_key(cg->dirs[0], "cpu.stat", "usage_usec");
		out->user_usec = vm_cgroup_read_key(cg->dirs[0], "cpu.stat", "user_usec");
		out->system_usec = vm_cgroup_read_key(cg->dirs[0], "cpu.stat", "system_usec");
	}
	out->memory_bytes = vm_cgroup_read_num(cg->dirs[0], "memory.current");
}

const struct vm_cgroup_ops vm_cgroup_v2 = {
	.layout = "v2",
	.detect = v2_detect,
	.place = v2_place,
	.create = v2_create,
	.limit = v2_limit,
	.oom_kills = v2_oom_kills,
	.usage = v2_usage,
	.proc_key = "0:",
};
