/*
 * vm_registry — the sandboxes by name; see registry.h.
 *
 * registry_lock (a rwlock) guards the list only: it is held to look up,
 * add or remove, never across an operation.  destroy only *tries* a
 * sandbox's op_lock (a busy sandbox is EBUSY instead of a wait under the
 * registry lock).
 */
#include "vm/sandbox/registry.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

static ssize_t registry_find(const char *name)
{
	for (size_t i = 0; i < registry_n; i++)
		if (!strcmp(registry[i]->name, name))
			return (ssize_t)i;
	return -1;
}

struct vm_sandbox *vm_registry_get(const char *name)
{
	pthread_rwlock_rdlock(&registry_lock);
	ssize_t i = registry_find(name);
	struct vm_sandbox *sb = i >= 0 ? vm_sandbox_ref(registry[i]) : NULL;
	pthread_rwlock_unlock(&registry_lock);
	return sb;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void vm_registry_names(struct strv *out)
{
	pthread_rwlock_rdlock(&registry_lock);
	for (size_t i = 0; i < registry_n; i++)
		strv_add(out, registry[i]->name);
	pthread_rwlock_unlock(&registry_lock);
	if (out->n)
		qsort(out->v, out->n, sizeof(char *), cmp_str);
}

/* Under the write lock. */
static void registry_append(struct vm_sandbox *sb)
{
	registry = xrealloc(registry, (registry_n + 1) * sizeof(*registry));
	registry[registry_n++] = sb;
}

int vm_registry_add(struct vm_sandbox *sb, struct err **e)
{
	pthread_rwlock_wrlock(&registry_lock);
	int r = registry_find(sb->name) >= 0 ? err_set(e, EEXIST, "sandbox %s already exists", sb->name) : 0;
	if (r == 0)
		registry_append(sb);
	pthread_rwlock_unlock(&registry_lock);
	return r;
}

int vm_registry_create(const char *name, struct err **e)
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
	registry_append(vm_sandbox_ref(sb));
	pthread_rwlock_unlock(&registry_lock);
	log_info("%s: created", name);
	vm_sandbox_commit(sb);
	vm_sandbox_put(sb);
	return 0;
}

static void remove_rundir(struct vm_sandbox *sb)
{
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
	registry[i] = registry[--registry_n];
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
