/*
 * vm_stats — a sandbox's figures, one snapshot per read; see stats.h.
 *
 * The `stats` file, flat "key value" lines in this order (docs/abi.md):
 *
 *   cpu_usage_usec N       cpu_user_usec N       cpu_system_usec N
 *   vcpuI_usec N           one per vCPU QEMU reported (cpu-index I)
 *   rss_bytes N
 *   memory_current_bytes N   with a cgroup of its own
 *   balloon_actual_mib N     with a balloon device QEMU reported on
 *   ID.rd_bytes ID.wr_bytes ID.rd_ops ID.wr_ops ID.flush_ops
 *   ID.rd_total_time_ns ID.wr_total_time_ns        per block device
 *   ID.rx_bytes ID.tx_bytes ID.rx_packets ID.tx_packets ID.rx_drops
 *   ID.tx_drops                                    per tap/macvtap NIC
 *   uptime_ms N
 *   stats_age_ms N           once QEMU answered: the age of the QMP figures
 *
 * Not running: the CPU, memory, device and uptime keys read 0; no vCPU,
 * memory_current, balloon or stats_age key.
 */
#include "vm/sandbox/stats.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vm/qemu/cgroup.h"

/* ---- host figures ---- */

/* Fields of /proc/PID/stat after the command name: [0] is field 3. */
static int proc_stat_fields(const char *path, long long *f, int max)
{
	cleanup_free char *text = util_read_file(path, NULL);
	char *p = text ? strrchr(text, ')') : NULL;
	if (!p)
		return -1;
	p++;
	int n = 0;
	while (n < max) {
		char *end;
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		f[n++] = strtoll(p, &end, 10);
		if (end == p) /* the state letter */
			end = p + strcspn(p, " ");
		p = end;
	}
	return n;
}

static int64_t ticks_to_usec(long long t)
{
	static long hz;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return (int64_t)(t * (1000000LL / hz));
}

/* CPU time of one thread: schedstat's nanoseconds, else the ticks. */
static int64_t thread_usec(pid_t pid, int tid)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, tid);
	cleanup_free char *text = util_read_file(path, NULL);
	if (text)
		return strtoll(text, NULL, 10) / 1000;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, tid);
	long long f[16];
	if (proc_stat_fields(path, f, 16) < 13)
		return 0;
	return ticks_to_usec(f[11] + f[12]);
}

static void host_figures(struct vm_stats *s, pid_t pid, unsigned long long start_ticks,
			 const struct vm_cgroup *cg)
{
	struct vm_cgroup_usage u = {-1, -1, -1, -1};
	if (cg)
		vm_cgroup_usage(cg, &u);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	long long f[24];
	int nf = proc_stat_fields(path, f, 24);
	if (u.cpu_usec < 0 || u.user_usec < 0 || u.system_usec < 0) {
		/* no cgroup (or v1 without cpuacct): the process's own ticks */
		s->user_usec = nf > 12 ? ticks_to_usec(f[11]) : 0;
		s->system_usec = nf > 12 ? ticks_to_usec(f[12]) : 0;
		s->cpu_usec = s->user_usec + s->system_usec;
	} else {
		s->cpu_usec = u.cpu_usec;
		s->user_usec = u.user_usec;
		s->system_usec = u.system_usec;
	}
	if (u.memory_bytes >= 0) {
		s->has_memory_current = true;
		s->memory_current_bytes = u.memory_bytes;
	}
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	cleanup_free char *statm = util_read_file(path, NULL);
	long long pages = 0;
	if (statm && sscanf(statm, "%*d %lld", &pages) == 1)
		s->rss_bytes = pages * sysconf(_SC_PAGESIZE);
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	int64_t boot_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	int64_t started_us = ticks_to_usec((long long)start_ticks);
	s->uptime_ms = start_ticks && boot_us > started_us ? (boot_us - started_us) / 1000 : 0;
}

/* ---- the daemon's record ---- */

static void record_figures(struct vm_sandbox *sb, struct vm_stats *s, bool *balloon)
{
	s->vcpus_max = sb->cfg.maxvcpus;
	s->vcpus_hot = s->live ? (int)sb->nhot_cpus : 0;
	s->vcpus_now = sb->cfg.vcpus + s->vcpus_hot;
	s->memory_mib = sb->cfg.memory_mib;
	for (size_t i = 0; s->live && i < sb->ndimms; i++)
		s->memory_hot_mib += sb->dimms[i].size_mib;
	s->slots_free = vm_topology_free_slots(&sb->topo);
	for (int i = 0; i < sb->topo.n; i++)
		s->slots_total += sb->topo.bridges[i].nslots;
	s->ndevices = (int)sb->ndevs;
	s->blocks = xcalloc(sb->ndevs + 1, sizeof(*s->blocks));
	s->nets = xcalloc(sb->ndevs + 1, sizeof(*s->nets));
	for (size_t i = 0; i < sb->ndevs; i++) {
		const struct vm_device *d = sb->devs[i];
		if (vm_device_is_block(d))
			snprintf(s->blocks[s->nblocks++].id, VM_TEL_ID_MAX, "%s", d->id);
		else if (d->kind == VM_DEVK_NET)
			snprintf(s->nets[s->nnets++].id, VM_TEL_ID_MAX, "%s", d->id);
		else if (d->kind == VM_DEVK_BALLOON)
			*balloon = true;
	}
}

/* The telemetry of this very QEMU, into the snapshot. */
static void telemetry_figures(struct vm_sandbox *sb, struct vm_stats *s, pid_t pid, bool balloon)
{
	struct vm_telemetry *t = &sb->tel;
	pthread_mutex_lock(&t->lock);
	if (t->pid == pid) {
		s->vcpus = xcalloc(t->nvcpus + 1, sizeof(*s->vcpus));
		for (size_t i = 0; i < t->nvcpus; i++)
			s->vcpus[i] = (struct vm_stats_vcpu){t->vcpus[i].index, t->vcpus[i].tid, 0};
		s->nvcpus = t->nvcpus;
		for (size_t i = 0; i < s->nblocks; i++)
			for (size_t k = 0; k < t->nblocks; k++)
				if (!strcmp(s->blocks[i].id, t->blocks[k].id))
					s->blocks[i] = t->blocks[k];
		for (size_t i = 0; i < s->nnets; i++)
			for (size_t k = 0; k < t->nnets; k++)
				if (!strcmp(s->nets[i].id, t->nets[k].id))
					s->nets[i] = t->nets[k];
		s->has_balloon = balloon && t->balloon_known;
		s->balloon_bytes = t->balloon_bytes;
		s->sampled = t->sampled_ms > 0;
		s->age_ms = s->sampled ? util_now_ms() - t->sampled_ms : 0;
	}
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < s->nvcpus; i++)
		s->vcpus[i].usec = thread_usec(pid, s->vcpus[i].tid);
}

void vm_stats_collect(struct vm_sandbox *sb, int wait_ms, struct vm_stats *out)
{
	struct vm_stats *s = out;
	memset(s, 0, sizeof(*s));
	bool balloon = false;
	pthread_mutex_lock(&sb->lock);
	snprintf(s->name, sizeof(s->name), "%s", sb->name);
	s->state = sb->state;
	s->live = vm_state_is_live(sb->state) && sb->pid > 0;
	pid_t pid = sb->pid;
	unsigned long long start = sb->start_time;
	struct vm_cgroup *cg = s->live && sb->cgroup ? vm_cgroup_copy(sb->cgroup) : NULL;
	record_figures(sb, s, &balloon);
	pthread_mutex_unlock(&sb->lock);
	if (!s->live)
		return;
	if (vm_stats_refresh_kick(sb) && wait_ms > 0)
		vm_stats_refresh_wait(sb, wait_ms);
	telemetry_figures(sb, s, pid, balloon);
	host_figures(s, pid, start, cg);
	vm_cgroup_free(cg);
}

void vm_stats_release(struct vm_stats *s)
{
	free(s->vcpus);
	free(s->blocks);
	free(s->nets);
	memset(s, 0, sizeof(*s));
}

/* ---- the file ---- */

void vm_stats_render(const struct vm_stats *s, struct sbuf *out)
{
	sbuf_printf(out, "cpu_usage_usec %lld\ncpu_user_usec %lld\ncpu_system_usec %lld\n",
		    (long long)s->cpu_usec, (long long)s->user_usec, (long long)s->system_usec);
	for (size_t i = 0; i < s->nvcpus; i++)
		sbuf_printf(out, "vcpu%d_usec %lld\n", s->vcpus[i].index, (long long)s->vcpus[i].usec);
	sbuf_printf(out, "rss_bytes %lld\n", (long long)s->rss_bytes);
	if (s->has_memory_current)
		sbuf_printf(out, "memory_current_bytes %lld\n", (long long)s->memory_current_bytes);
	if (s->has_balloon)
		sbuf_printf(out, "balloon_actual_mib %lld\n", (long long)(s->balloon_bytes >> 20));
	for (size_t i = 0; i < s->nblocks; i++) {
		const struct vm_tel_block *b = &s->blocks[i];
		sbuf_printf(out, "%s.rd_bytes %lld\n%s.wr_bytes %lld\n%s.rd_ops %lld\n%s.wr_ops %lld\n"
			    "%s.flush_ops %lld\n%s.rd_total_time_ns %lld\n%s.wr_total_time_ns %lld\n",
			    b->id, (long long)b->rd_bytes, b->id, (long long)b->wr_bytes, b->id,
			    (long long)b->rd_ops, b->id, (long long)b->wr_ops, b->id,
			    (long long)b->flush_ops, b->id, (long long)b->rd_ns, b->id,
			    (long long)b->wr_ns);
	}
	for (size_t i = 0; i < s->nnets; i++) {
		const struct vm_tel_net *n = &s->nets[i];
		sbuf_printf(out, "%s.rx_bytes %lld\n%s.tx_bytes %lld\n%s.rx_packets %lld\n"
			    "%s.tx_packets %lld\n%s.rx_drops %lld\n%s.tx_drops %lld\n",
			    n->id, (long long)n->rx_bytes, n->id, (long long)n->tx_bytes, n->id,
			    (long long)n->rx_packets, n->id, (long long)n->tx_packets, n->id,
			    (long long)n->rx_drops, n->id, (long long)n->tx_drops);
	}
	sbuf_printf(out, "uptime_ms %lld\n", (long long)s->uptime_ms);
	if (s->sampled)
		sbuf_printf(out, "stats_age_ms %lld\n", (long long)s->age_ms);
}

int vm_stats_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	struct vm_stats s;
	vm_stats_collect(sb, VM_STATS_WAIT_MS, &s);
	vm_stats_render(&s, out);
	vm_stats_release(&s);
	return 0;
}
