/*
 * vm_sandbox — the registry of sandboxes, reference counting, the `error`
 * record, config writes and the ctl verb dispatcher.  Lifecycle verbs live in
 * vm_launch.c, vCPUs in vm_cpus.c, devices in vm_hotplug.c.
 */
#include "vm/vm_sandbox.h"

#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/vm_cmdline.h"

static struct vm_settings settings;
static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct vm_sandbox **registry;
static size_t registry_n;

void vm_settings_apply(const struct vm_settings *s)
{
	settings = *s;
	if (!settings.qmp_timeout_ms)
		settings.qmp_timeout_ms = 5000;
	if (!settings.start_timeout_ms)
		settings.start_timeout_ms = 15000;
}

const struct vm_settings *vm_get_settings(void) { return &settings; }

const char *vm_state_name(enum vm_state s)
{
	static const char *const names[] = {
		[VM_CREATED] = "created", [VM_RUNNING] = "running", [VM_PAUSED] = "paused",
		[VM_STOPPED] = "stopped", [VM_CRASHED] = "crashed",
	};
	return names[s];
}

bool vm_state_is_live(enum vm_state s) { return s == VM_RUNNING || s == VM_PAUSED; }

int vm_sandbox_check_name(const char *name, struct err **e)
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
	return 0;
}

/* Unix socket paths must fit sun_path: shorten deterministically (FNV-1a of
 * the long path) into the state dir's root, then /tmp if even that is long. */
static char *qmp_socket_path(const char *rundir)
{
	struct sockaddr_un sun;
	char *p = xasprintf("%s/qmp.sock", rundir);
	if (strlen(p) < sizeof(sun.sun_path))
		return p;
	uint64_t h = 1469598103934665603ULL;
	for (const char *c = p; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ULL;
	free(p);
	p = xasprintf("%s/q-%016llx.sock", settings.state_dir, (unsigned long long)h);
	if (strlen(p) < sizeof(sun.sun_path))
		return p;
	free(p);
	return xasprintf("/tmp/sandboxfs-%016llx.sock", (unsigned long long)h);
}

static void (*change_hook)(struct vm_sandbox *sb);

void vm_set_change_hook(void (*hook)(struct vm_sandbox *sb)) { change_hook = hook; }

void vm_events_push_locked(struct vm_sandbox *sb, char *line)
{
	char **slot = &sb->events[sb->events_next % VM_EVENTS_MAX];
	free(*slot);
	*slot = line;
	sb->events_next++;
}

/* {"event":"SANDBOX_STATE","data":{"state":S},"timestamp":{...}} */
static char *state_event(enum vm_state st)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cleanup_json struct json_object *o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string("SANDBOX_STATE"));
	struct json_object *data = json_object_new_object();
	json_object_object_add(data, "state", json_object_new_string(vm_state_name(st)));
	json_object_object_add(o, "data", data);
	struct json_object *t = json_object_new_object();
	json_object_object_add(t, "seconds", json_object_new_int64(ts.tv_sec));
	json_object_object_add(t, "microseconds", json_object_new_int64(ts.tv_nsec / 1000));
	json_object_object_add(o, "timestamp", t);
	return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void changed(struct vm_sandbox *sb, bool persist)
{
	pthread_mutex_lock(&sb->lock);
	if (sb->state != sb->last_state) {
		sb->last_state = sb->state;
		sb->state_changes++;
		vm_events_push_locked(sb, state_event(sb->state));
		persist = true;
	}
	sb->state_gen++;
	pthread_cond_broadcast(&sb->cond);
	pthread_mutex_unlock(&sb->lock);
	cleanup_err struct err *e = NULL;
	if (persist && vm_persist_save(sb, &e) < 0)
		log_err("%s: cannot save state: %s", sb->name, e->msg);
	if (change_hook)
		change_hook(sb);
}

void vm_sandbox_commit(struct vm_sandbox *sb) { changed(sb, true); }
void vm_sandbox_notify(struct vm_sandbox *sb) { changed(sb, false); }

struct vm_sandbox *vm_sandbox_alloc(const char *name)
{
	struct vm_sandbox *sb = xcalloc(1, sizeof(*sb));
	sb->name = xstrdup(name);
	sb->rundir = xasprintf("%s/%s", settings.state_dir, name);
	sb->console_log = xasprintf("%s/console.log", sb->rundir);
	sb->qemu_log = xasprintf("%s/qemu.log", sb->rundir);
	sb->qmp_path = qmp_socket_path(sb->rundir);
	pthread_mutex_init(&sb->lock, NULL);
	pthread_mutex_init(&sb->op_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sb->cond, &ca);
	pthread_mutex_init(&sb->persist_lock, NULL);
	pthread_condattr_destroy(&ca);
	sb->refs = 1;
	sb->pidfd = -1;
	vm_config_init(&sb->cfg);
	vm_topology_init_config(&sb->topo, &sb->cfg);
	sb->state = VM_CREATED;
	sb->error = xstrdup("");
	return sb;
}

void vm_sandbox_free(struct vm_sandbox *sb);
void vm_sandbox_free(struct vm_sandbox *sb)
{
	for (size_t i = 0; i < sb->ndevs; i++)
		vm_device_free(sb->devs[i]);
	free(sb->devs);
	free(sb->hot_cpus);
	free(sb->dimms);
	vm_topology_release(&sb->topo);
	vm_config_release(&sb->cfg);
	if (sb->qmp)
		qmp_client_unref(sb->qmp);
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	pthread_mutex_destroy(&sb->lock);
	pthread_mutex_destroy(&sb->op_lock);
	pthread_cond_destroy(&sb->cond);
	pthread_mutex_destroy(&sb->persist_lock);
	free(sb->persisted);
	free(sb->error);
	for (size_t i = 0; i < VM_EVENTS_MAX; i++)
		free(sb->events[i]);
	free(sb->name);
	free(sb->rundir);
	free(sb->console_log);
	free(sb->qemu_log);
	free(sb->qmp_path);
	free(sb);
}

struct vm_sandbox *vm_sandbox_ref(struct vm_sandbox *sb)
{
	__atomic_add_fetch(&sb->refs, 1, __ATOMIC_SEQ_CST);
	return sb;
}

void vm_sandbox_put(struct vm_sandbox *sb)
{
	if (__atomic_sub_fetch(&sb->refs, 1, __ATOMIC_SEQ_CST) == 0)
		vm_sandbox_free(sb);
}

static ssize_t registry_find(const char *name)
{
	for (size_t i = 0; i < registry_n; i++)
		if (!strcmp(registry[i]->name, name))
			return (ssize_t)i;
	return -1;
}

struct vm_sandbox *vm_sandbox_get(const char *name)
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

void vm_sandbox_names(struct strv *out)
{
	pthread_rwlock_rdlock(&registry_lock);
	for (size_t i = 0; i < registry_n; i++)
		strv_add(out, registry[i]->name);
	pthread_rwlock_unlock(&registry_lock);
	if (out->n)
		qsort(out->v, out->n, sizeof(char *), cmp_str);
}

int vm_sandbox_create(const char *name, struct err **e)
{
	int r = vm_sandbox_check_name(name, e);
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
		vm_sandbox_free(sb);
		return err_sys(e, -r, "cannot create %s/%s", settings.state_dir, name);
	}
	/* A fresh sandbox starts with an empty console log. */
	if (truncate(sb->console_log, 0) < 0 && errno != ENOENT)
		log_warn("%s: cannot truncate console log: %s", name, strerror(errno));
	registry = xrealloc(registry, (registry_n + 1) * sizeof(*registry));
	registry[registry_n++] = vm_sandbox_ref(sb);
	pthread_rwlock_unlock(&registry_lock);
	log_info("%s: created", name);
	vm_sandbox_commit(sb);
	vm_sandbox_put(sb);
	return 0;
}

int vm_sandbox_register(struct vm_sandbox *sb, struct err **e)
{
	pthread_rwlock_wrlock(&registry_lock);
	if (registry_find(sb->name) >= 0) {
		pthread_rwlock_unlock(&registry_lock);
		return err_set(e, EEXIST, "sandbox %s already exists", sb->name);
	}
	registry = xrealloc(registry, (registry_n + 1) * sizeof(*registry));
	registry[registry_n++] = sb;
	pthread_rwlock_unlock(&registry_lock);
	return 0;
}

static void remove_rundir(struct vm_sandbox *sb)
{
	DIR *d = opendir(sb->rundir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			cleanup_free char *p = xasprintf("%s/%s", sb->rundir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(sb->rundir);
	unlink(sb->qmp_path);
}

int vm_sandbox_destroy(const char *name, struct err **e)
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
	remove_rundir(sb);
	pthread_mutex_unlock(&sb->op_lock);
	log_info("%s: removed", name);
	vm_sandbox_put(sb);
	return 0;
}

static bool exiting;

bool vm_exiting(void) { return __atomic_load_n(&exiting, __ATOMIC_SEQ_CST); }

void vm_shutdown(void)
{
	__atomic_store_n(&exiting, true, __ATOMIC_SEQ_CST);
	struct strv names = {0};
	vm_sandbox_names(&names);
	for (size_t i = 0; settings.stop_on_exit && i < names.n; i++) {
		cleanup_sandbox struct vm_sandbox *sb = vm_sandbox_get(names.v[i]);
		cleanup_err struct err *e = NULL;
		if (sb && vm_state_is_live(sb->state) && vm_stop(sb, &e) < 0)
			log_err("%s: stop at exit: %s", sb->name, e->msg);
	}
	strv_release(&names);
	/* Otherwise QEMUs keep running; their state files let the next daemon
	 * re-adopt them.  Stop watching first so closing QMP is not a crash. */
	vm_monitor_stop();
	pthread_rwlock_wrlock(&registry_lock);
	for (size_t i = 0; i < registry_n; i++)
		vm_sandbox_put(registry[i]);
	free(registry);
	registry = NULL;
	registry_n = 0;
	pthread_rwlock_unlock(&registry_lock);
}

void vm_sandbox_set_error(struct vm_sandbox *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_err("%s: %s", sb->name, msg);
	pthread_mutex_lock(&sb->lock);
	free(sb->error);
	sb->error = msg;
	pthread_mutex_unlock(&sb->lock);
	vm_sandbox_commit(sb);
}

struct qmp_client *vm_sandbox_qmp(struct vm_sandbox *sb, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	struct qmp_client *c = NULL;
	if (!vm_state_is_live(sb->state))
		err_set(e, EBUSY, "sandbox %s is %s, not running", sb->name, vm_state_name(sb->state));
	else if (!sb->qmp)
		err_set(e, ENOTCONN, "sandbox %s has no QMP connection", sb->name);
	else
		c = qmp_client_ref(sb->qmp);
	pthread_mutex_unlock(&sb->lock);
	return c;
}

/* ---- config ---------------------------------------------------------- */

void vm_sandbox_config_show(struct vm_sandbox *sb, struct sbuf *out)
{
	pthread_mutex_lock(&sb->lock);
	cleanup_json struct json_object *o = vm_config_to_json(&sb->cfg);
	pthread_mutex_unlock(&sb->lock);
	sbuf_add(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	sbuf_addc(out, '\n');
}

/* Lay the devices out again on a new topology (root_ports changed). */
static int relayout(struct vm_sandbox *sb, const struct vm_config *cfg, struct err **e)
{
	struct vm_topology t;
	vm_topology_init_config(&t, cfg);
	int *b = xcalloc(sb->ndevs + 1, sizeof(int)), *s = xcalloc(sb->ndevs + 1, sizeof(int));
	for (size_t i = 0; i < sb->ndevs; i++) {
		b[i] = s[i] = -1;
		if (!vm_device_is_pci(sb->devs[i]))
			continue; /* nvdimm, vIOMMU: no bridge slot */
		int r = vm_topology_alloc(&t, sb->devs[i]->id, &b[i], &s[i], e);
		if (r < 0) {
			vm_topology_release(&t);
			free(b);
			free(s);
			return err_wrap(e, "the new bridges cannot hold the %zu configured devices",
					sb->ndevs);
		}
	}
	vm_topology_release(&sb->topo);
	sb->topo = t;
	for (size_t i = 0; i < sb->ndevs; i++) {
		sb->devs[i]->bridge = b[i];
		sb->devs[i]->slot = s[i];
	}
	free(b);
	free(s);
	return 0;
}

int vm_sandbox_config_write(struct vm_sandbox *sb, const char *json, struct err **e)
{
	pthread_mutex_lock(&sb->op_lock);
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	struct vm_config next = {0};
	vm_config_copy(&next, &sb->cfg);
	int r = vm_config_merge(&next, json, live, e);
	/* The devices already added must still fit the new config. */
	for (size_t i = 0; r == 0 && i < sb->ndevs; i++)
		if (vm_device_check_config(sb->devs[i], &next, e) < 0)
			r = err_wrap(e, "config");
	if (r == 0 && !live &&
	    (next.root_ports != sb->cfg.root_ports || next.pci_bridges != sb->cfg.pci_bridges ||
	     next.pcie_pci_bridges != sb->cfg.pcie_pci_bridges || strcmp(next.machine, sb->cfg.machine) ||
	     strcmp(next.arch, sb->cfg.arch)))
		r = relayout(sb, &next, e);
	if (r == 0) {
		vm_config_release(&sb->cfg);
		sb->cfg = next;
	} else {
		vm_config_release(&next);
	}
	pthread_mutex_unlock(&sb->lock);
	if (r == 0)
		vm_sandbox_commit(sb);
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}

int vm_sandbox_cmdline_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	cleanup_strv struct strv argv = {0};
	struct vm_cmdline_ctx ctx = {.name = sb->name, .console_log = sb->console_log};
	pthread_mutex_lock(&sb->lock);
	int r = vm_cmdline_build(&sb->cfg, &sb->topo, sb->devs, sb->ndevs, &ctx, &argv, e);
	pthread_mutex_unlock(&sb->lock);
	if (r < 0)
		return r;
	for (size_t i = 0; i < argv.n; i++) {
		sbuf_add(out, argv.v[i]);
		sbuf_addc(out, '\n');
	}
	return 0;
}

/* ---- ctl --------------------------------------------------------------- */

static const struct {
	const char *verb;
	int (*fn)(struct vm_sandbox *, struct err **);
	unsigned states; /* bit per enum vm_state where the verb applies */
} ctl_verbs[] = {
	{"start", vm_start, 1u << VM_CREATED | 1u << VM_STOPPED | 1u << VM_CRASHED},
	{"stop", vm_stop, 1u << VM_RUNNING | 1u << VM_PAUSED},
	{"kill", vm_kill, 1u << VM_RUNNING | 1u << VM_PAUSED},
	{"pause", vm_pause, 1u << VM_RUNNING},
	{"resume", vm_resume, 1u << VM_PAUSED},
};

int vm_ctl(struct vm_sandbox *sb, const char *verb, struct err **e)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctl_verbs); i++)
		if (!strcmp(verb, ctl_verbs[i].verb))
			return ctl_verbs[i].fn(sb, e);
	return err_set(e, EINVAL, "ctl: unknown verb '%.32s' (expected start, stop, kill, pause or resume)",
		       verb);
}

void vm_ctl_verbs(struct vm_sandbox *sb, struct sbuf *out)
{
	pthread_mutex_lock(&sb->lock);
	enum vm_state st = sb->state;
	pthread_mutex_unlock(&sb->lock);
	const char *sep = "";
	for (size_t i = 0; i < ARRAY_SIZE(ctl_verbs); i++) {
		if (!(ctl_verbs[i].states & (1u << st)))
			continue;
		sbuf_printf(out, "%s%s", sep, ctl_verbs[i].verb);
		sep = " ";
	}
	sbuf_addc(out, '\n');
}
