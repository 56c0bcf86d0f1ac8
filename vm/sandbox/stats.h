/*
 * vm_stats — what a sandbox costs and does: CPU time, memory, per-vCPU
 * time, the balloon, per-disk and per-NIC traffic, uptime.
 *
 * One snapshot (struct vm_stats) serves both the sandbox's `stats` file
 * (flat "key value" lines, cgroup v2 style) and the root's `/metrics`.
 * Host figures are read when the snapshot is taken: CPU and memory from
 * the QEMU's cgroup when it has one (vm/qemu/cgroup), else from /proc of
 * its pid; per-vCPU time from /proc/PID/task/TID/schedstat.  Figures only
 * QEMU knows (the vCPU threads, the block counters, the balloon) and the
 * NIC counters come from the sandbox's telemetry record, refreshed
 * asynchronously by a short-lived thread per sandbox (stats_refresh.c):
 * taking a snapshot never waits on QEMU longer than the caller allows, and
 * a QEMU that stops answering only makes its figures age (stats_age_ms).
 */
#ifndef SANDBOXFS_VM_STATS_H
#define SANDBOXFS_VM_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"
#include "vm/sandbox/sandbox.h"
#include "vm/sandbox/telemetry.h"

/* A sample older than this is refreshed when a snapshot is taken. */
#define VM_STATS_FRESH_MS 1000
/* How long a `stats` read waits for a refresh it asked for. */
#define VM_STATS_WAIT_MS 250

struct vm_stats_vcpu {
	int index; /* QEMU's cpu-index */
	int tid;   /* its thread */
	int64_t usec;
};

struct vm_stats {
	char name[VM_NAME_MAX + 1];
	enum vm_state state;
	bool live;               /* a QEMU process exists */
	/* CPU time of the QEMU (every thread), µs; its resident memory. */
	int64_t cpu_usec, user_usec, system_usec;
	int64_t rss_bytes;
	bool has_memory_current; /* the cgroup's charge */
	int64_t memory_current_bytes;
	bool has_balloon;        /* a balloon device, and QEMU said its size */
	int64_t balloon_bytes;
	struct vm_stats_vcpu *vcpus;
	size_t nvcpus;
	/* One per block device / NIC of the sandbox, in device order: zeros
	 * until QEMU (or the host) reported. */
	struct vm_tel_block *blocks;
	size_t nblocks;
	struct vm_tel_net *nets;
	size_t nnets;
	int64_t uptime_ms;
	bool sampled;            /* QMP figures exist; their age: */
	int64_t age_ms;
	/* The daemon's own record, for /metrics. */
	int vcpus_now, vcpus_hot, vcpus_max;
	int memory_mib, memory_hot_mib;
	int slots_free, slots_total, ndevices;
};

/* Take a snapshot of `sb`; if its QMP figures are stale, a refresh is
 * started and awaited up to wait_ms (0: not at all). */
void vm_stats_collect(struct vm_sandbox *sb, int wait_ms, struct vm_stats *out);
void vm_stats_release(struct vm_stats *s);

/* The `stats` file: flat "key value" lines (see docs/abi.md). */
int vm_stats_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
/* Render a snapshot as those lines. */
void vm_stats_render(const struct vm_stats *s, struct sbuf *out);

/* Start a refresh of the telemetry unless one runs or the sample is fresh
 * (stats_refresh.c); true when one runs now. */
bool vm_stats_refresh_kick(struct vm_sandbox *sb);
/* Wait (at most wait_ms) for the refresh running now to finish. */
void vm_stats_refresh_wait(struct vm_sandbox *sb, int wait_ms);

#endif
