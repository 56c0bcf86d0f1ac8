/*
 * vm_ctl — the `ctl` file: one table of verbs, the only list of what a
 * sandbox can be told to do, with each verb's argument grammar and the
 * states it applies in (Plan 9's ctl files).  Reading `ctl` lists the
 * verbs the current state allows; the README and docs list them all.
 */
#ifndef SANDBOXFS_VM_CTL_H
#define SANDBOXFS_VM_CTL_H

#include "lib/err.h"
#include "lib/util.h"

struct cred;
struct vm_sandbox;

/* Parse one command "VERB[ ARG]" strictly and run it under the sandbox's
 * op_lock: EINVAL for an unknown verb or a bad argument, EBUSY when the
 * state does not allow the verb, else the verb's own verdict. */
int vm_ctl_store(struct vm_sandbox *sb, const char *cmd, const struct cred *who,
			struct err **e);
/* The verbs valid in the current state, space separated. */
int vm_ctl_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
/* Every verb with its argument and states, one per line ("start: created
 * stopped crashed"), for the README and the docs. */
void vm_ctl_describe(struct sbuf *out);

#endif
