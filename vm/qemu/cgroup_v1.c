/*
 * cgroup_v1 — a sandbox's cgroup on a v1 (or hybrid) host: one directory
 * in each of the cpu, memory and pids hierarchies (cpu may be mounted
 * together with cpuacct; a cpuacct mounted on its own gets a fourth
 * directory, where the CPU time is counted); cpu.cfs_quota_us /
 * cpu.cfs_period_us, memory.limit_in_bytes, pids.max.
 */
#include "vm/qemu/cgroup_impl.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define V1_ROOT "/sys/fs/cgroup"

/* The mount of a controller: its own, or shared with cpuacct. */
static const char *v1_mount(const char *ctl)
{
	static const char *const cpu[] = { V1_ROOT "/cpu", V1_ROOT "/cpu,cpuacct" };
	struct stat st;
	char probe[128];
	if (strcmp(ctl, "cpu") != 0) {
		snprintf(probe, sizeof(probe), V1_ROOT "/%s/cgroup.procs", ctl);
		return stat(probe, &st) == 0 ? (!strcmp(ctl, "memory") ? V1_ROOT "/memory"
								       : V1_ROOT "/pids")
					     : NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cpu); i++) {
		snprintf(probe, sizeof(probe), "%s/cpu.cfs_quota_us", cpu[i]);
		if (stat(probe, &st) == 0)
			return cpu[i];
	}
	return NULL;
}

static bool v1_detect(void) { return v1_mount("cpu") && v1_mount("memory") && v1_mount("pids"); }

/* cpuacct on a mount of its own (NULL: none, or together with cpu). */
static const char *v1_cpuacct_mount(void)
{
	struct stat st;
	char probe[128];
	snprintf(probe, sizeof(probe), "%s/cpuacct.usage", v1_mount("cpu"));
	if (stat(probe, &st) == 0)
		return NULL;
	return stat(V1_ROOT "/cpuacct/cpuacct.usage", &st) == 0 ? V1_ROOT "/cpuacct" : NULL;
}

static void v1_place(struct vm_cgroup *cg)
{
	static const char *const ctls[] = { "cpu", "memory", "pids", "cpuacct" };
	for (size_t i = 0; i < ARRAY_SIZE(ctls); i++) {
		const char *mnt = i < 3 ? v1_mount(ctls[i]) : v1_cpuacct_mount();
		if (!mnt)
			continue;
		cg->keys[cg->ndirs] = ctls[i];
		cg->dirs[cg->ndirs++] = xasprintf("%s/%s", mnt, cg->rel);
	}
}

static int v1_create(struct vm_cgroup *cg, struct err **e)
{
	v1_place(cg);
	for (int i = 0; i < cg->ndirs; i++) {
		int r = vm_cgroup_mkdir(cg->dirs[i], e);
		if (r < 0)
			return r;
	}
	return 0;
}

struct v1_file {
	int dir;
	const char *file;
	char old[64], val[64];
};

static int v1_limit(struct vm_cgroup *cg, const struct vm_cgroup_limits *lim, struct err **e)
{
	long long quota = -1, period = 100000;
	if (lim->cpu_max && *lim->cpu_max && strcmp(lim->cpu_max, "max") != 0)
		sscanf(lim->cpu_max, "%lld %lld", &quota, &period);
	/* period before quota: the quota is checked against it */
	struct v1_file f[] = {
		{ 0, "cpu.cfs_period_us" }, { 0, "cpu.cfs_quota_us" },
		{ 1, "memory.limit_in_bytes" }, { 2, "pids.max" },
	};
	snprintf(f[0].val, sizeof(f[0].val), "%lld", period);
	snprintf(f[1].val, sizeof(f[1].val), "%lld", quota);
	snprintf(f[2].val, sizeof(f[2].val), "%lld",
		 lim->memory_max_bytes ? (long long)lim->memory_max_bytes : -1LL);
	snprintf(f[3].val, sizeof(f[3].val), lim->pids_max ? "%lld" : "max", (long long)lim->pids_max);
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		vm_cgroup_read(cg->dirs[f[i].dir], f[i].file, f[i].old, sizeof(f[i].old));
		if (vm_cgroup_write(cg->dirs[f[i].dir], f[i].file, f[i].val, e) < 0) {
			while (i-- > 0)
				vm_cgroup_write(cg->dirs[f[i].dir], f[i].file, f[i].old, NULL);
			return err_ret(e);
		}
	}
	return 0;
}

static int64_t v1_oom_kills(const struct vm_cgroup *cg)
{
	return vm_cgroup_read_key(cg->dirs[1], "memory.oom_control", "oom_kill");
}

/* cpuacct counts in ns: its own directory, or the cpu one it shares. */
static void v1_usage(const struct vm_cgroup *cg, struct vm_cgroup_usage *out)
{
	const char *acct = cg->ndirs > 3 ? cg->dirs[3] : cg->dirs[0];
	int64_t ns = vm_cgroup_read_num(acct, "cpuacct.usage");
	if (ns >= 0) {
		int64_t u = vm_cgroup_read_num(acct, "cpuacct.usage_user");
		int64_t s = vm_cgroup_read_num(acct, "cpuacct.usage_sys");
		out->cpu_usec = ns / 1000;
		out->user_usec = u >= 0 ? u / 1000 : -1;
		out->system_usec = s >= 0 ? s / 1000 : -1;
	}
	out->memory_bytes = vm_cgroup_read_num(cg->dirs[1], "memory.usage_in_bytes");
}

const struct vm_cgroup_ops vm_cgroup_v1 = {
	.layout = "v1",
	.detect = v1_detect,
	.place = v1_place,
	.create = v1_create,
	.limit = v1_limit,
	.oom_kills = v1_oom_kills,
	.usage = v1_usage,
	.proc_key = ":memory",
};
