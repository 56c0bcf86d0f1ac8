/*
 * vm_settings — the daemon-wide settings of the vm layer, set once by main
 * before any sandbox exists: where state lives, timeouts, who QEMU runs as
 * (--qemu-user, --qemu-uids), which QEMU binaries a tenant may pick
 * (--qemu-dir), where sandboxes' cgroups go (--cgroup-parent).
 */
#ifndef SANDBOXFS_VM_SETTINGS_H
#define SANDBOXFS_VM_SETTINGS_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"

/* Who QEMU runs as. */
enum vm_qemu_mode {
	VM_QEMU_ROOT,  /* as the daemon (explicit opt-in; QEMU opens paths itself) */
	VM_QEMU_USER,  /* one account for every QEMU */
	VM_QEMU_RANGE, /* each sandbox its own uid and gid from a range (default) */
};

/* Daemon-wide settings (set once by main before any sandbox exists). */
struct vm_settings {
	const char *state_dir;
	int qmp_timeout_ms;   /* ordinary QMP commands */
	int start_timeout_ms; /* QEMU exec → QMP negotiated */
	bool stop_on_exit;    /* stop QEMUs when the daemon exits (default: leave them) */
	enum vm_qemu_mode qemu_mode;
	uid_t qemu_uid;       /* VM_QEMU_USER: the account */
	gid_t qemu_gid;
	uid_t qemu_first;     /* VM_QEMU_RANGE: the first uid (= gid) and the count */
	unsigned qemu_count;
	/* Directories a non-root writer's `qemu` may name a binary in
	 * (NULL-terminated). */
	const char *const *qemu_dirs;
	const char *cgroup_parent; /* per-sandbox cgroups under this; NULL: none */
};
/* Whether QEMU runs confined (not as root): then it gets descriptors, not
 * paths, and runs under -sandbox. */
bool vm_settings_confined(void);
/* Record the settings (no threads started: safe before daemonizing). */
void vm_settings_apply(const struct vm_settings *s);
const struct vm_settings *vm_get_settings(void);
/* The daemon is shutting down (set once, never cleared): closing QMP
 * connections then is no fault. */
void vm_set_exiting(void);
bool vm_exiting(void);

/* Who QEMU runs as, from the options: `user` an account name or "root"
 * (NULL: not given), `uids` "FIRST:COUNT" (NULL: not given).  --qemu-uids
 * wins; with neither, each sandbox gets its own uid from the default range
 * VM_QEMU_UIDS_DEFAULT.  EINVAL for a malformed range, ENOENT for a user
 * that does not exist. */
#define VM_QEMU_UIDS_DEFAULT "1879048192:65536"
int vm_settings_qemu(struct vm_settings *s, const char *user, const char *uids, struct err **e);
/* "DIR:DIR..." into a NULL-terminated list (kept for the daemon's life). */
const char *const *vm_settings_dirs(const char *list);

#endif
