/*
 * vm_metrics — every sandbox's state and stats in the Prometheus text
 * exposition format (version 0.0.4), for the root's `metrics` file: what
 * node_exporter's textfile collector or a scrape of the file serves.
 */
#ifndef SANDBOXFS_VM_METRICS_H
#define SANDBOXFS_VM_METRICS_H

#include <stddef.h>

#include "lib/util.h"

struct vm_stats;

/* Every sandbox of the registry; `version` and `qemu_version` label the
 * sandboxfs_build_info sample.  Never waits for a QEMU: stale samples
 * are refreshed in the background and show their age. */
void vm_metrics_show(struct sbuf *out, const char *version, const char *qemu_version);
/* The same over given snapshots (for tests and the bench). */
void vm_metrics_render(struct sbuf *out, const struct vm_stats *s, size_t n,
		       const char *version, const char *qemu_version);

#endif
