/*
 * vm_registry — the sandboxes by name; see registry.h.
 *
 * The list is sorted by name (a lookup is a binary search: among 1024
 * sandboxes, ten comparisons).  registry_lock (a rwlock) guards the list
 * only: it is held to look up, add or remove, never across an operation.
 * destroy only *tries* a
 * sandbox's op_lock (a busy sandbox is EBUSY instead of a wait under the
 * registry lock).
 */
#include "vm/sandbox/registry.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/log.h"
#include "vm/sandbox/sandbox.h"

static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct vm_sandbox **registry;
static size_t registry_n;
static const char *const *reserved;

void vm_registry_reserve(const char *const *names) { reserved = names; }

int vm_registry_check_name(const char *name, struct err **e)
{
	size_t n = strlen(name);
	if (n == 0 || n > VM_NAME_MAX)
		return err_set(e, EINVAL, "sandbox name must be 1 to %d characters", VM_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return err_set(e, EINVAL, "sandbox name may hold only [A-Za-z0-9._-]");
	}
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(e, EINVAL, "sandbox name %s is reserved", name);
	for (size_t i = 0; reserved && reserved[i]; i++)
		if (!strcmp(name, reserved[i]))
			return err_set(e, EINVAL, "sandbox name %s is reserved (a file of the root)", name);
	return 0;
}

/* The list is kept sorted by name: where `name` is (>= 0), or -1 - where
 * it would go. */
static ssize_t registry_search(const char *name)
{
	size_t lo = 0, hi = registry_n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(registry[mid]->name, name);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1 - (ssize_t)lo;
}

static ssize_t registry_find(const char *name)
{
	ssize_t i = registry_search(name);
	return i >= 0 ? i : -1;
}

/* Under the write lock: entry i out, the order kept. */
static void registry_drop(size_t i)
{
	memmove(&registry[i], &registry[i + 1], (registry_n - i - 1) * sizeof(*registry));
	registry_n--;
}

struct vm_sandbox *vm_registry_get(const char *name)
{
	pthread_rwlock_rdlock(&registry_lock);
	ssize_t i = registry_find(name);
	struct vm_sandbox *sb = i >= 0 ? vm_sandbox_ref(registry[i]) : NULL;
	pthread_rwlock_unlock(&registry_lock);
	return sb;
}

void vm_registry_names(struct strv *out)
{
	pthread_rwlock_rdlock(&registry_lock);
	for (size_t i = 0; i < registry_n; i++) /* sorted already */
		strv_add(out, registry[i]->name);
	pthread_rwlock_unlock(&registry_lock);
}

/* Under the write lock: who the sandbox's QEMU will run as — the
 * lowest free uid of the range (its gid the same number), the shared
 * account, or root.  A sandbox keeps the identity it had. */
static int registry_assign_qemu(struct vm_sandbox *sb, struct err **e)
{
	const struct vm_settings *set = vm_get_settings();
	if (set->qemu_mode == VM_QEMU_ROOT) {
		sb->qemu_uid = 0;
		sb->qemu_gid = 0;
		return 0;
	}
	if (set->qemu_mode == VM_QEMU_USER) {
		sb->qemu_uid = set->qemu_uid;
		sb->qemu_gid = set->qemu_gid;
		return 0;
	}
	bool in_range = sb->qemu_uid >= set->qemu_first && sb->qemu_uid - set->qemu_first < set->qemu_count;
	for (size_t i = 0; in_range && i < registry_n; i++)
		in_range = registry[i] == sb || registry[i]->qemu_uid != sb->qemu_uid;
	for (unsigned k = 0; !in_range && k < set->qemu_count; k++) {
		uid_t u = set->qemu_first + k;
		bool used = false;
		for (size_t i = 0; i < registry_n && !used; i++)
			used = registry[i]->qemu_uid == u;
		if (!used) {
			sb->qemu_uid = u;
			in_range = true;
		}
	}
	if (!in_range)
		return err_set(e, ENOSPC, "no free QEMU uid: all %u of --qemu-uids=%u:%u are taken",
			       set->qemu_count, (unsigned)set->qemu_first, set->qemu_count);
	sb->qemu_gid = (gid_t)sb->qemu_uid;
	return 0;
}

/* Under the write lock. */
static int registry_append(struct vm_sandbox *sb, struct err **e)
{
	int r = registry_assign_qemu(sb, e);
	if (r < 0)
		return r;
	size_t at = (size_t)(-1 - registry_search(sb->name)); /* absent: checked */
	registry = xrealloc(registry, (registry_n + 1) * sizeof(*registry));
	memmove(&registry[at + 1], &registry[at], (registry_n - at) * sizeof(*registry));
	registry[at] = sb;
	registry_n++;
	return 0;
}

int vm_registry_add(struct vm_sandbox *sb, struct err **e)
{
	pthread_rwlock_wrlock(&registry_lock);
	int r = registry_find(sb->name) >= 0 ? err_set(e, EEXIST, "sandbox %s already exists", sb->name) : 0;
	if (r == 0)
		r = registry_append(sb, e);
	pthread_rwlock_unlock(&registry_lock);
	return r;
}

static void remove_rundir(struct vm_sandbox *sb)
{
	/* A broken sandbox's unreadable file outlives it, beside the others. */
	cleanup_free char *kept = xasprintf("%s/sandbox.json.broken", sb->rundir);
	cleanup_free char *aside = xasprintf("%s/%s.sandbox.json.broken.%lld", vm_get_settings()->state_dir,
					     sb->name, (long long)time(NULL));
	if (rename(kept, aside) == 0)
		log_info("%s: its unreadable state file is kept as %s", sb->name, aside);
	DIR *d = opendir(sb->rundir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			cleanup_free char *p = xasprintf("%s/%s", sb->rundir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(sb->rundir);
	unlink(sb->qmp_path);
}

/* Out of the list again (a creation that could not be saved). */
static void registry_forget(struct vm_sandbox *sb)
{
	pthread_rwlock_wrlock(&registry_lock);
	for (size_t i = 0; i < registry_n; i++)
		if (registry[i] == sb) {
			registry_drop(i);
			vm_sandbox_put(sb);
			break;
		}
	pthread_rwlock_unlock(&registry_lock);
}

int vm_registry_create(const char *name, const struct cred *who, struct err **e)
{
	int r = vm_registry_check_name(name, e);
	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&registry_lock);
	if (registry_find(name) >= 0) {
		pthread_rwlock_unlock(&registry_lock);
		return err_set(e, EEXIST, "sandbox %s already exists", name);
	}
	struct vm_sandbox *sb = vm_sandbox_alloc(name);
	/* root's sandboxes follow the tree's owner (--owner) until chowned */
	sb->owner_uid = cred_is_root(who) ? VM_OWNER_TREE : who->uid;
	sb->owner_gid = cred_is_root(who) ? (gid_t)VM_OWNER_TREE : who->gid;
	r = util_mkdir_p(sb->rundir, 0700);
	if (r < 0) {
		pthread_rwlock_unlock(&registry_lock);
		r = err_sys(e, -r, "cannot create %s", sb->rundir);
		vm_sandbox_put(sb);
		return r;
	}
	/* A fresh sandbox starts with an empty console log. */
	if (truncate(sb->console_log, 0) < 0 && errno != ENOENT)
		log_warn("%s: cannot truncate console log: %s", name, strerror(errno));
	r = registry_append(sb, e);
	if (r < 0) {
		pthread_rwlock_unlock(&registry_lock);
		rmdir(sb->rundir);
		vm_sandbox_put(sb);
		return r;
	}
	vm_sandbox_ref(sb);
	pthread_rwlock_unlock(&registry_lock);
	/* On disk before mkdir succeeds; else nothing is left behind. */
	r = vm_sandbox_save(sb, e);
	if (r < 0) {
		pthread_mutex_lock(&sb->lock);
		sb->removed = true;
		pthread_mutex_unlock(&sb->lock);
		registry_forget(sb);
		remove_rundir(sb);
		vm_sandbox_put(sb);
		return err_wrap(e, "mkdir %s", name);
	}
	log_info("%s: created", name);
	vm_sandbox_put(sb);
	return 0;
}

int vm_registry_destroy(const char *name, struct err **e)
{
	pthread_rwlock_wrlock(&registry_lock);
	ssize_t i = registry_find(name);
	if (i < 0) {
		pthread_rwlock_unlock(&registry_lock);
		return err_set(e, ENOENT, "no sandbox %s", name);
	}
	struct vm_sandbox *sb = registry[i];
	/* Hold op_lock so no start can race the removal. */
	if (pthread_mutex_trylock(&sb->op_lock) != 0) {
		pthread_rwlock_unlock(&registry_lock);
		return err_set(e, EBUSY, "sandbox %s is busy (an operation is in progress)", name);
	}
	pthread_mutex_lock(&sb->lock);
	if (vm_state_is_live(sb->state) || sb->pid > 0) {
		enum vm_state st = sb->state;
		pthread_mutex_unlock(&sb->lock);
		pthread_mutex_unlock(&sb->op_lock);
		pthread_rwlock_unlock(&registry_lock);
		return err_set(e, EBUSY, "sandbox %s is %s: stop it first", name, vm_state_name(st));
	}
	sb->removed = true;
	pthread_mutex_unlock(&sb->lock);
	registry_drop((size_t)i);
	pthread_rwlock_unlock(&registry_lock);
	/* No save can follow (removed), and one in flight has finished. */
	pthread_mutex_lock(&sb->persist_lock);
	remove_rundir(sb);
	pthread_mutex_unlock(&sb->persist_lock);
	pthread_mutex_unlock(&sb->op_lock);
	log_info("%s: removed", name);
	vm_sandbox_put(sb);
	return 0;
}

int vm_registry_chown(const char *name, uid_t uid, gid_t gid, struct err **e)
{
	cleanup_sandbox struct vm_sandbox *sb = vm_registry_get(name);
	if (!sb)
		return err_set(e, ENOENT, "no sandbox %s", name);
	pthread_mutex_lock(&sb->lock);
	if (uid != (uid_t)-1)
		sb->owner_uid = uid;
	if (gid != (gid_t)-1)
		sb->owner_gid = gid;
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: now owned by uid %u gid %u", name, (unsigned)sb->owner_uid,
		 (unsigned)sb->owner_gid);
	vm_sandbox_commit(sb);
	return 0;
}

void vm_registry_clear(void)
{
	pthread_rwlock_wrlock(&registry_lock);
	for (size_t i = 0; i < registry_n; i++)
		vm_sandbox_put(registry[i]);
	free(registry);
	registry = NULL;
	registry_n = 0;
	pthread_rwlock_unlock(&registry_lock);
}
