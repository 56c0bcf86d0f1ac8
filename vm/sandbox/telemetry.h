/*
 * vm_telemetry — what a sandbox's QEMU last told about itself, kept for
 * the readers of `stats`, `/metrics` and `memory/balloon`, so that reading
 * them never waits for QEMU: the vCPU threads (query-cpus-fast), the block
 * counters (query-blockstats), the balloon's size (query-balloon and the
 * BALLOON_CHANGE events), and the NICs' host counters, with the time they
 * were sampled.  Filled by the asynchronous refresh of stats.c; this file
 * is only the record and its lock (so that the sandbox object can embed it
 * without knowing who fills it).
 */
#ifndef SANDBOXFS_VM_TELEMETRY_H
#define SANDBOXFS_VM_TELEMETRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;

#define VM_TEL_ID_MAX 32

struct vm_tel_vcpu {
	int index; /* QEMU's cpu-index */
	int tid;   /* its host thread */
};

struct vm_tel_block {
	char id[VM_TEL_ID_MAX]; /* the device id */
	int64_t rd_bytes, wr_bytes, rd_ops, wr_ops, flush_ops, rd_ns, wr_ns;
};

struct vm_tel_net {
	char id[VM_TEL_ID_MAX];
	/* As the guest sees it: rx is what the host's interface sent. */
	int64_t rx_bytes, tx_bytes, rx_packets, tx_packets, rx_drops, tx_drops;
};

struct vm_telemetry {
	pthread_mutex_t lock; /* guards the fields below; never held across I/O */
	pthread_cond_t cond;  /* a refresh finished */
	pid_t pid;            /* the QEMU the figures are of; 0: none yet */
	int64_t sampled_ms;   /* monotonic time of the last complete QMP answer */
	uint64_t refreshes;   /* completed refreshes (a waiter's cue) */
	bool inflight;        /* a refresh is running */
	struct vm_tel_vcpu *vcpus;
	size_t nvcpus;
	struct vm_tel_block *blocks;
	size_t nblocks;
	struct vm_tel_net *nets;
	size_t nnets;
	bool has_nets;        /* the NIC counters were read */
	bool balloon_known;   /* balloon_bytes holds QEMU's word */
	int64_t balloon_bytes; /* the guest's memory through the balloon */
};

void vm_telemetry_init(struct vm_telemetry *t);
void vm_telemetry_release(struct vm_telemetry *t);
/* A QMP event of that QEMU (the reader thread, no other lock held):
 * BALLOON_CHANGE updates the balloon's size. */
void vm_telemetry_event(struct vm_telemetry *t, pid_t pid, const char *name,
			struct json_object *ev);
/* Forget everything (caller holds t->lock): a new QEMU, or none. */
void vm_telemetry_reset_locked(struct vm_telemetry *t, pid_t pid);

#endif
