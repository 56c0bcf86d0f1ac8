/*
 * vm_settings — the daemon-wide settings; see settings.h.
 */
#include "vm/sandbox/settings.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

static struct vm_settings settings;

void vm_settings_apply(const struct vm_settings *s)
{
	settings = *s;
	if (!settings.qmp_timeout_ms)
		settings.qmp_timeout_ms = 5000;
	if (!settings.start_timeout_ms)
		settings.start_timeout_ms = 15000;
}

const struct vm_settings *vm_get_settings(void) { return &settings; }

bool vm_settings_confined(void) { return settings.qemu_mode != VM_QEMU_ROOT; }

static bool exiting;

void vm_set_exiting(void) { __atomic_store_n(&exiting, true, __ATOMIC_SEQ_CST); }
bool vm_exiting(void) { return __atomic_load_n(&exiting, __ATOMIC_SEQ_CST); }

int vm_settings_qemu(struct vm_settings *s, const char *user, const char *uids, struct err **e)
{
	if (uids || !user) {
		const char *spec = uids ? uids : VM_QEMU_UIDS_DEFAULT;
		unsigned long first, count;
		char extra;
		if (sscanf(spec, "%lu:%lu%c", &first, &count, &extra) != 2 || count == 0 ||
		    first == 0 || first + count > 4294967294UL)
			return err_set(e, EINVAL, "--qemu-uids wants FIRST:COUNT (uids above 0), not '%s'",
				       spec);
		s->qemu_mode = VM_QEMU_RANGE;
		s->qemu_first = (uid_t)first;
		s->qemu_count = (unsigned)count;
		return 0;
	}
	if (!strcmp(user, "root")) {
		s->qemu_mode = VM_QEMU_ROOT;
		log_warn("QEMU runs as root (--qemu-user=root): no uid of its own, and it opens "
			 "host paths itself");
		return 0;
	}
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return err_set(e, ENOENT, "--qemu-user: no user %s on this host (create it, e.g. "
			       "adduser --system --group %s)", user, user);
	if (pw->pw_uid == 0)
		return err_set(e, EINVAL, "--qemu-user: %s is uid 0; say --qemu-user=root to run "
			       "QEMU as root", user);
	s->qemu_mode = VM_QEMU_USER;
	s->qemu_uid = pw->pw_uid;
	s->qemu_gid = pw->pw_gid;
	return 0;
}

const char *const *vm_settings_dirs(const char *list)
{
	struct strv v = {0};
	cleanup_free char *copy = xstrdup(list);
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
		strv_add(&v, d);
	if (!v.v)
		return xcalloc(1, sizeof(char *));
	return (const char *const *)v.v; /* the daemon's for its life */
}
