/*
 * vm_reconcile internals: what QEMU reports (reconcile_view.c), shared by
 * the device, vCPU and DIMM passes of reconcile.c.
 */
#ifndef SANDBOXFS_VM_RECONCILE_IMPL_H
#define SANDBOXFS_VM_RECONCILE_IMPL_H

#include <stdbool.h>

#include "lib/err.h"
#include "lib/util.h"

struct json_object;
struct qmp_client;
struct vm_sandbox;

struct vm_reconcile_view {
	struct strv peripheral; /* ids under /machine/peripheral */
	struct strv objects;    /* ids under /objects */
	struct strv nodes;      /* named block nodes */
	struct strv chardevs;   /* chardev labels */
	struct json_object *fdsets;  /* query-fdsets */
	struct json_object *cpus;    /* query-hotpluggable-cpus; NULL: none here */
	struct json_object *memory;  /* query-memory-devices */
};

/* Ask QEMU; ETIMEDOUT/ECONNRESET when it does not answer. */
int vm_reconcile_view_load(struct qmp_client *qmp, struct vm_reconcile_view *v, struct err **e);
void vm_reconcile_view_release(struct vm_reconcile_view *v);
bool vm_reconcile_has(const struct strv *sv, const char *s);

/* What one reconciliation did, for the log and the RECONCILED event. */
struct vm_reconcile_report {
	struct json_object *data; /* {"why":…, "adopted":[…], "dropped":[…], …} */
	bool changed;
};
/* Append `what` to the report's list `key`. */
void vm_reconcile_note(struct vm_reconcile_report *rep, const char *key, const char *what);

/* Run one QMP command, its outcome judged: an error QEMU answered is
 * logged and ignored (a name already gone); no answer fails. */
int vm_reconcile_exec(struct vm_sandbox *sb, struct qmp_client *qmp, const char *cmd,
		      struct json_object *args, struct err **e);

/* The vCPU and DIMM passes (reconcile_hot.c). */
int vm_reconcile_cpus(struct vm_sandbox *sb, struct qmp_client *qmp,
		      const struct vm_reconcile_view *v, struct vm_reconcile_report *rep,
		      struct err **e);
int vm_reconcile_dimms(struct vm_sandbox *sb, struct qmp_client *qmp,
		       const struct vm_reconcile_view *v, struct vm_reconcile_report *rep,
		       struct err **e);

#endif
