/*
 * vm_persist (broken) — a sandbox whose state file cannot be loaded (cut
 * short, random bytes, an unknown name) is never hidden: it shows as
 * `broken` with the reason in `error`, keeps its name (mkdir of it is
 * EEXIST), its file is moved aside to sandbox.json.broken (never written
 * over), and its QEMU — found by the uuid the file still holds, by its
 * `-name guest=NAME` or by a path under its state directory — is reported
 * and can be ended with `echo kill > ctl`; `rmdir` then removes it.
 */
#include "vm/sandbox/persist.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "vm/qemu/process.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/monitor.h"
#include "vm/sandbox/registry.h"
#include "vm/sandbox/sandbox.h"

/* The uuid a damaged state file still holds ("uuid": "8-4-4-4-12"). */
static char *uuid_in(const char *text)
{
	const char *p = text ? strstr(text, "\"uuid\"") : NULL;
	if (!p || !(p = strchr(p + 6, '"')))
		return NULL;
	p++;
	size_t n = strspn(p, "0123456789abcdefABCDEF-");
	return n == 36 && p[n] == '"' ? xstrndup(p, n) : NULL;
}

/* Is `pid` the QEMU of a sandbox already loaded? */
static bool adopted(pid_t pid)
{
	cleanup_strv struct strv names = {0};
	vm_registry_names(&names);
	bool taken = false;
	for (size_t i = 0; i < names.n && !taken; i++) {
		cleanup_sandbox struct vm_sandbox *o = vm_registry_get(names.v[i]);
		if (!o)
			continue;
		pthread_mutex_lock(&o->lock);
		taken = o->pid == pid;
		pthread_mutex_unlock(&o->lock);
	}
	return taken;
}

/* Its QEMU, if one runs: watched, so that kill ends it and says so. */
static void find_qemu(struct vm_sandbox *sb, const char *text, struct sbuf *why)
{
	cleanup_free char *uuid = uuid_in(text);
	pid_t pid = vm_process_find(uuid, sb->name, sb->rundir);
	if (pid <= 0 || adopted(pid)) {
		sbuf_add(why, "; no QEMU of it runs");
		return;
	}
	sb->pid = pid;
	sb->start_time = vm_process_start_time(pid);
	sb->pidfd = vm_process_pidfd(pid);
	sb->child = false;
	cleanup_err struct err *e = NULL; /* its cgroup, to go with it */
	if (vm_lifecycle_cgroup_adopt(sb, true, &e) < 0)
		log_warn("%s: the cgroup of qemu pid %d: %s", sb->name, (int)pid, e->msg);
	sbuf_printf(why, "; its QEMU, pid %d, still runs: `echo kill > ctl` ends it, then rmdir "
		    "removes the sandbox", (int)pid);
}

void vm_persist_broken(const char *name, const char *why)
{
	cleanup_err struct err *ne = NULL;
	if (vm_registry_check_name(name, &ne) < 0) {
		/* No sandbox can be shown under a name the tree has for itself. */
		log_err("state directory entry %s cannot be shown (%s): %s; left as it is", name,
			ne->msg, why);
		return;
	}
	struct vm_sandbox *sb = vm_sandbox_alloc(name);
	cleanup_free char *path = xasprintf("%s/%s", sb->rundir, VM_PERSIST_FILE);
	cleanup_free char *kept = xasprintf("%s/%s", sb->rundir, VM_PERSIST_BROKEN);
	if (access(path, F_OK) == 0 && rename(path, kept) < 0)
		log_err("%s: cannot move %s aside: %s", name, path, strerror(errno));
	size_t len = 0;
	cleanup_free char *text = util_read_file(kept, &len);
	struct sbuf msg = {0};
	sbuf_printf(&msg, "broken: the state file could not be loaded (%s); it is kept as %s", why, kept);
	find_qemu(sb, text, &msg);
	sb->state = VM_BROKEN;
	free(sb->error);
	sb->error = sbuf_steal(&msg);
	cleanup_err struct err *e = NULL;
	if (vm_registry_add(sb, &e) < 0) {
		log_err("%s: %s", name, e->msg);
		vm_sandbox_put(sb);
		return;
	}
	log_err("%s: %s", name, sb->error);
	if (sb->pid > 0 && vm_monitor_watch(sb, &e) < 0)
		log_err("%s: cannot watch qemu: %s", name, e->msg);
	vm_sandbox_commit(sb);
}
