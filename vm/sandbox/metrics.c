/*
 * vm_metrics — the Prometheus exposition of every sandbox; see metrics.h.
 *
 * One family after the other (HELP, TYPE, then a sample per sandbox, or
 * per sandbox and device), base units (seconds, bytes), counters ending
 * in _total.  Families of QEMU's figures carry samples only for sandboxes
 * whose QEMU runs; the state and the daemon's own record (vCPUs, memory,
 * slots, devices) cover every sandbox.  Labels: sandbox, and state, vcpu,
 * device where the family says.  The family table below is the one list.
 */
#include "vm/sandbox/metrics.h"

#include <stdio.h>
#include <string.h>

#include "vm/sandbox/registry.h"
#include "vm/sandbox/stats.h"

enum m_scope {
	M_ALL,   /* one sample per sandbox */
	M_LIVE,  /* one per sandbox whose QEMU runs */
	M_STATE, /* one per sandbox and state */
	M_VCPU,  /* one per vCPU */
	M_BLOCK, /* one per block device */
	M_NET,   /* one per NIC */
};

enum m_unit { M_INT, M_USEC, M_NSEC, M_MSEC, M_MIB };

struct m_family {
	const char *name, *type, *help;
	enum m_scope scope;
	enum m_unit unit;
	size_t off; /* an int64_t or int member of its record (see m_value) */
	bool is_int;
};

#define LIVE64(n, t, h, u, member) { n, t, h, M_LIVE, u, offsetof(struct vm_stats, member), false }
#define ALLINT(n, h, u, member) { n, "gauge", h, M_ALL, u, offsetof(struct vm_stats, member), true }
#define BLK(n, h, u, member) { n, "counter", h, M_BLOCK, u, offsetof(struct vm_tel_block, member), false }
#define NET(n, h, member) { n, "counter", h, M_NET, M_INT, offsetof(struct vm_tel_net, member), false }

static const struct m_family families[] = {
	{ "sandboxfs_state", "gauge", "1 for the state the sandbox is in, 0 for the others.", M_STATE },
	LIVE64("sandboxfs_cpu_usage_seconds_total", "counter",
	       "CPU time of the sandbox's QEMU (its cgroup, else its process).", M_USEC, cpu_usec),
	LIVE64("sandboxfs_cpu_user_seconds_total", "counter", "User CPU time of the QEMU.", M_USEC,
	       user_usec),
	LIVE64("sandboxfs_cpu_system_seconds_total", "counter", "System CPU time of the QEMU.",
	       M_USEC, system_usec),
	{ "sandboxfs_vcpu_seconds_total", "counter", "CPU time of one vCPU thread of the QEMU.",
	  M_VCPU, M_USEC },
	LIVE64("sandboxfs_memory_rss_bytes", "gauge", "Resident memory of the QEMU process.", M_INT,
	       rss_bytes),
	LIVE64("sandboxfs_memory_cgroup_bytes", "gauge",
	       "Memory charged to the QEMU's cgroup (with a cgroup of its own).", M_INT,
	       memory_current_bytes),
	LIVE64("sandboxfs_balloon_bytes", "gauge",
	       "The guest's memory as the balloon leaves it (with a balloon device).", M_INT,
	       balloon_bytes),
	BLK("sandboxfs_block_read_bytes_total", "Bytes read by the guest from a disk.", M_INT,
	    rd_bytes),
	BLK("sandboxfs_block_write_bytes_total", "Bytes written by the guest to a disk.", M_INT,
	    wr_bytes),
	BLK("sandboxfs_block_read_ops_total", "Read requests of a disk.", M_INT, rd_ops),
	BLK("sandboxfs_block_write_ops_total", "Write requests of a disk.", M_INT, wr_ops),
	BLK("sandboxfs_block_flush_ops_total", "Flush requests of a disk.", M_INT, flush_ops),
	BLK("sandboxfs_block_read_time_seconds_total", "Time spent on a disk's reads.", M_NSEC,
	    rd_ns),
	BLK("sandboxfs_block_write_time_seconds_total", "Time spent on a disk's writes.", M_NSEC,
	    wr_ns),
	NET("sandboxfs_net_receive_bytes_total", "Bytes a NIC received (the guest's view).",
	    rx_bytes),
	NET("sandboxfs_net_transmit_bytes_total", "Bytes a NIC sent (the guest's view).", tx_bytes),
	NET("sandboxfs_net_receive_packets_total", "Packets a NIC received.", rx_packets),
	NET("sandboxfs_net_transmit_packets_total", "Packets a NIC sent.", tx_packets),
	NET("sandboxfs_net_receive_drops_total", "Received packets dropped.", rx_drops),
	NET("sandboxfs_net_transmit_drops_total", "Sent packets dropped.", tx_drops),
	LIVE64("sandboxfs_uptime_seconds", "gauge", "Time since the QEMU started.", M_MSEC,
	       uptime_ms),
	LIVE64("sandboxfs_stats_age_seconds", "gauge",
	       "Age of the figures QEMU reported (QMP), once it answered.", M_MSEC, age_ms),
	ALLINT("sandboxfs_vcpus", "vCPUs: the boot ones and the hot-added ones.", M_INT, vcpus_now),
	ALLINT("sandboxfs_hotplugged_vcpus", "Hot-added vCPUs.", M_INT, vcpus_hot),
	ALLINT("sandboxfs_max_vcpus", "The vCPU ceiling (maxvcpus).", M_INT, vcpus_max),
	ALLINT("sandboxfs_memory_boot_bytes", "Boot memory (memory_mib).", M_MIB, memory_mib),
	ALLINT("sandboxfs_hotplugged_memory_bytes", "Memory hot-added as DIMMs.", M_MIB,
	       memory_hot_mib),
	ALLINT("sandboxfs_slots_free", "Free hotplug slots on the sandbox's bridges.", M_INT,
	       slots_free),
	ALLINT("sandboxfs_slots", "Hotplug slots on the sandbox's bridges.", M_INT, slots_total),
	ALLINT("sandboxfs_devices", "Devices of the sandbox.", M_INT, ndevices),
};

/* A label value: \ " and newline escaped. */
static void m_label(struct sbuf *out, const char *v)
{
	for (;;) {
		size_t plain = strcspn(v, "\\\"\n");
		sbuf_addn(out, v, plain);
		v += plain;
		if (!*v)
			return;
		sbuf_add(out, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\");
		v++;
	}
}

static void m_value(struct sbuf *out, enum m_unit u, int64_t v)
{
	switch (u) {
	case M_USEC:
		sbuf_printf(out, " %lld.%06lld\n", (long long)(v / 1000000), (long long)(v % 1000000));
		break;
	case M_NSEC:
		sbuf_printf(out, " %lld.%09lld\n", (long long)(v / 1000000000),
			    (long long)(v % 1000000000));
		break;
	case M_MSEC:
		sbuf_printf(out, " %lld.%03lld\n", (long long)(v / 1000), (long long)(v % 1000));
		break;
	case M_MIB:
		sbuf_printf(out, " %lld\n", (long long)v << 20);
		break;
	default:
		sbuf_printf(out, " %lld\n", (long long)v);
	}
}

static int64_t m_member(const void *rec, const struct m_family *f)
{
	const char *p = (const char *)rec + f->off;
	if (f->is_int)
		return *(const int *)p;
	int64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void m_sample(struct sbuf *out, const struct m_family *f, const char *sandbox,
		     const char *key, const char *val, int64_t v)
{
	sbuf_add(out, f->name);
	sbuf_add(out, "{sandbox=\"");
	m_label(out, sandbox);
	if (key) {
		sbuf_printf(out, "\",%s=\"", key);
		m_label(out, val);
	}
	sbuf_add(out, "\"}");
	m_value(out, f->unit, v);
}

/* Whether a live-only family has a sample for s. */
static bool m_present(const struct m_family *f, const struct vm_stats *s)
{
	if (f->off == offsetof(struct vm_stats, memory_current_bytes))
		return s->has_memory_current;
	if (f->off == offsetof(struct vm_stats, balloon_bytes))
		return s->has_balloon;
	if (f->off == offsetof(struct vm_stats, age_ms))
		return s->sampled;
	return true;
}

static void m_family_samples(struct sbuf *out, const struct m_family *f, const struct vm_stats *s)
{
	char buf[16];
	switch (f->scope) {
	case M_STATE:
		for (int st = 0; st < VM_STATE_COUNT; st++)
			m_sample(out, f, s->name, "state", vm_state_name((enum vm_state)st),
				 s->state == (enum vm_state)st);
		break;
	case M_ALL:
		m_sample(out, f, s->name, NULL, NULL, m_member(s, f));
		break;
	case M_LIVE:
		if (s->live && m_present(f, s))
			m_sample(out, f, s->name, NULL, NULL, m_member(s, f));
		break;
	case M_VCPU:
		for (size_t i = 0; i < s->nvcpus; i++) {
			snprintf(buf, sizeof(buf), "%d", s->vcpus[i].index);
			m_sample(out, f, s->name, "vcpu", buf, s->vcpus[i].usec);
		}
		break;
	case M_BLOCK:
		for (size_t i = 0; s->live && i < s->nblocks; i++)
			m_sample(out, f, s->name, "device", s->blocks[i].id, m_member(&s->blocks[i], f));
		break;
	case M_NET:
		for (size_t i = 0; s->live && i < s->nnets; i++)
			m_sample(out, f, s->name, "device", s->nets[i].id, m_member(&s->nets[i], f));
		break;
	}
}

void vm_metrics_render(struct sbuf *out, const struct vm_stats *s, size_t n, const char *version,
		       const char *qemu_version)
{
	sbuf_add(out, "# HELP sandboxfs_build_info The sandboxfs daemon and the QEMU it found.\n"
		      "# TYPE sandboxfs_build_info gauge\nsandboxfs_build_info{version=\"");
	m_label(out, version ? version : "");
	sbuf_add(out, "\",qemu=\"");
	m_label(out, qemu_version ? qemu_version : "");
	sbuf_add(out, "\"} 1\n# HELP sandboxfs_sandboxes Sandboxes of this tree.\n"
		      "# TYPE sandboxfs_sandboxes gauge\n");
	sbuf_printf(out, "sandboxfs_sandboxes %zu\n", n);
	for (size_t k = 0; k < ARRAY_SIZE(families); k++) {
		const struct m_family *f = &families[k];
		sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		for (size_t i = 0; i < n; i++)
			m_family_samples(out, f, &s[i]);
	}
}

void vm_metrics_show(struct sbuf *out, const char *version, const char *qemu_version)
{
	cleanup_strv struct strv names = {0};
	vm_registry_names(&names);
	struct vm_stats *s = xcalloc(names.n + 1, sizeof(*s));
	size_t n = 0;
	for (size_t i = 0; i < names.n; i++) {
		cleanup_sandbox struct vm_sandbox *sb = vm_registry_get(names.v[i]);
		if (sb)
			vm_stats_collect(sb, 0, &s[n++]);
	}
	vm_metrics_render(out, s, n, version, qemu_version);
	for (size_t i = 0; i < n; i++)
		vm_stats_release(&s[i]);
	free(s);
}
