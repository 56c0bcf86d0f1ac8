/*
 * vm_configure — a sandbox's `config` file: show the config as JSON; store
 * a JSON object merged into it, validated as a whole (keys, rules, the
 * devices already added, the bridges' room for them, cgroup limits the
 * kernel takes), the host paths it names checked as the writer, and on
 * disk before it counts (a save that fails puts everything back).
 */
#ifndef SANDBOXFS_VM_CONFIGURE_H
#define SANDBOXFS_VM_CONFIGURE_H

#include "lib/err.h"
#include "lib/util.h"

struct cred;
struct vm_sandbox;

int vm_configure_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
/* EINVAL bad key/value/rule, EBUSY a boot key while running, EACCES a path
 * the writer may not use, ENOSPC no room for the bridges' devices or on
 * disk (nothing changed). */
int vm_configure_store(struct vm_sandbox *sb, const char *json, const struct cred *who,
		       struct err **e);

#endif
