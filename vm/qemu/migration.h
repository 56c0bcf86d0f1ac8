/*
 * vm_migration — QEMU's migration protocol as spoken over QMP: the
 * capabilities and parameters both sides set, the stream started to a
 * descriptor or a TCP address (`migrate`, `migrate-incoming`), its
 * progress (`query-migrate`), and the grammar of the addresses a user may
 * write.  Nothing here knows what a sandbox is.
 *
 * Grammar of a migration address (ctl `incoming ADDR`, `migrate ADDR`):
 *
 *   addr := "tcp:" HOST ":" PORT
 *   HOST := a name or IPv4 address of [A-Za-z0-9.-], 1..253 characters,
 *           or "[" an IPv6 address of [0-9A-Fa-f:.] "]"
 *   PORT := 1..65535, decimal, no sign, no leading zero
 */
#ifndef SANDBOXFS_VM_MIGRATION_H
#define SANDBOXFS_VM_MIGRATION_H

#include <stdbool.h>

#include "lib/err.h"

struct qmp_client;

/* What both sides set before `migrate` / `migrate-incoming`. */
struct vm_migration_setup {
	bool return_path;    /* the destination answers on the same connection */
	bool auto_converge;  /* the source throttles vCPUs (source only) */
	bool ignore_shared;  /* x-ignore-shared: shared RAM is not sent (templates) */
	int multifd_channels;      /* 0: one stream */
	long long max_bandwidth;   /* bytes/s; 0: QEMU's default */
	int downtime_limit_ms;     /* 0: QEMU's default */
};

/* migrate-set-capabilities (events always on, the others as asked) and
 * migrate-set-parameters. */
int vm_migration_prepare(struct qmp_client *qmp, const struct vm_migration_setup *s,
			 int timeout_ms, struct err **e);
/* migrate-set-parameters of the two parameters a running migration takes. */
int vm_migration_tune(struct qmp_client *qmp, long long max_bandwidth, int downtime_limit_ms,
		      int timeout_ms, struct err **e);

/* `migrate` / `migrate-incoming` to or from `uri` ("tcp:H:P", "fd:NAME"). */
int vm_migration_start(struct qmp_client *qmp, const char *uri, bool incoming, int timeout_ms,
		       struct err **e);
/* The same over descriptor `fd` (a file or a connected socket): getfd
 * as `name`, then the stream over "fd:NAME". */
int vm_migration_start_fd(struct qmp_client *qmp, const char *name, int fd, bool incoming,
			  int timeout_ms, struct err **e);
/* migrate_cancel. */
int vm_migration_cancel(struct qmp_client *qmp, int timeout_ms, struct err **e);

/* One answer of query-migrate. */
struct vm_migration_progress {
	char status[16];     /* none setup active completed failed cancelled ... */
	long long total, transferred, remaining, dirty_rate, downtime_ms, total_ms;
	int percent;         /* of RAM sent: (total - remaining) / total */
	char error[256];     /* error-desc of a failed migration */
};
int vm_migration_query(struct qmp_client *qmp, int timeout_ms, struct vm_migration_progress *p,
		       struct err **e);
/* completed, failed or cancelled: nothing more will happen. */
bool vm_migration_over(const char *status);

/* A migration address, checked (see the grammar above); *port gets the
 * port.  EINVAL saying what is wrong. */
int vm_migration_parse_addr(const char *addr, int *port, struct err **e);

#endif
