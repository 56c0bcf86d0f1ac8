/*
 * vm_persist — each sandbox's state on disk, so that nothing is lost when
 * the daemon restarts or is killed.
 *
 * <state-dir>/<name>/sandbox.json is rewritten atomically (temp file, fsync,
 * rename, fsync of the directory) after every change.  It holds what the
 * files show: config (with its UUID), devices with their slots, the bridges'
 * slot maps, hot-added vCPUs, state, error, and — while QEMU runs — its pid,
 * the pid's start time (so a recycled pid is never mistaken for our QEMU)
 * and the QMP socket path.  At start-up every such file is read back; a QEMU
 * that is still the same process is re-adopted, one that is gone shows
 * `crashed`.
 */
#include "vm/sandbox/persist.h"

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/probe.h"
#include "vm/qemu/cgroup.h"
#include "vm/model/throttle.h"
#include "vm/sandbox/adopt.h"
#include "vm/sandbox/migrate.h"
#include "vm/sandbox/registry.h"
#include "vm/sandbox/sandbox.h"

#define PERSIST_FILE VM_PERSIST_FILE
#define PERSIST_VERSION 1

static struct json_object *jstr(const char *s) { return json_object_new_string(s ? s : ""); }

static struct json_object *persist_ids(uid_t uid, gid_t gid)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "uid", json_object_new_int64(uid));
	json_object_object_add(o, "gid", json_object_new_int64(gid));
	return o;
}

/* {"uid":U,"gid":G} of `key`, when present. */
static void load_ids(struct json_object *o, const char *key, uid_t *uid, gid_t *gid)
{
	struct json_object *v;
	int64_t u, g;
	if (json_object_object_get_ex(o, key, &v) && util_json_int(v, "uid", &u) == 0 &&
	    util_json_int(v, "gid", &g) == 0 && u >= 0 && g >= 0) {
		*uid = (uid_t)u;
		*gid = (gid_t)g;
	}
}

/* The credentials of `key`, when present and well formed (else root's, the
 * rights state files of earlier versions were written with). */
static void load_cred(struct json_object *o, const char *key, struct cred *out)
{
	struct json_object *v;
	cleanup_err struct err *e = NULL;
	*out = cred_root;
	if (json_object_object_get_ex(o, key, &v) && cred_from_json(v, out, &e) < 0)
		*out = cred_root;
}

/* The state the file holds: a live QEMU's run state (running or paused)
 * is not kept, since a restarted daemon asks QEMU (adopt.c), so that a
 * pause or resume changes nothing on disk and needs no save. */
static const char *persisted_state(enum vm_state st)
{
	return vm_state_name(st == VM_PAUSED ? VM_RUNNING : st);
}

/* Snapshot under sb->lock. */
static struct json_object *persist_to_json(struct vm_sandbox *sb)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(PERSIST_VERSION));
	json_object_object_add(o, "name", jstr(sb->name));
	/* While QEMU runs, built once per config change
	 * (vm_sandbox_config_changed_locked): a hotplug's saves are of
	 * something else.  Not kept for the others (about 10 KiB each, and a
	 * stopped sandbox is saved when its config changes anyway).  Its
	 * reference count only ever moves under sb->lock (persist_save drops
	 * the tree under it too). */
	struct json_object *cfg = sb->cfg_json ? json_object_get(sb->cfg_json) : vm_config_to_json(&sb->cfg);
	if (!sb->cfg_json && vm_state_is_live(sb->state))
		sb->cfg_json = json_object_get(cfg);
	json_object_object_add(o, "config", cfg);
	json_object_object_add(o, "state", jstr(persisted_state(sb->state)));
	json_object_object_add(o, "error", jstr(sb->error));
	json_object_object_add(o, "owner", persist_ids(sb->owner_uid, sb->owner_gid));
	json_object_object_add(o, "qemu_user", persist_ids(sb->qemu_uid, sb->qemu_gid));
	json_object_object_add(o, "config_owner", cred_to_json(&sb->cfg_owner));
	if (sb->pid > 0) {
		json_object_object_add(o, "pid", json_object_new_int(sb->pid));
		json_object_object_add(o, "start_time", json_object_new_uint64(sb->start_time));
		json_object_object_add(o, "qmp", jstr(sb->qmp_path));
		if (sb->cgroup) /* so that it goes even if QEMU dies while no daemon runs */
			json_object_object_add(o, "cgroup", jstr(vm_cgroup_rel(sb->cgroup)));
	}
	struct json_object *devs = json_object_new_array();
	for (size_t i = 0; i < sb->ndevs; i++) {
		const struct vm_device *d = sb->devs[i];
		struct json_object *jd = json_object_new_object();
		json_object_object_add(jd, "spec", vm_device_spec(d));
		json_object_object_add(jd, "bridge", json_object_new_int(d->bridge));
		json_object_object_add(jd, "slot", json_object_new_int(d->slot));
		json_object_object_add(jd, "state", jstr(vm_device_state_name(d->state)));
		json_object_object_add(jd, "owner", cred_to_json(&d->owner));
		struct json_object *sets = json_object_new_array();
		for (size_t k = 0; k < d->nfdsets; k++)
			json_object_array_add(sets, json_object_new_int64(d->fdsets[k]));
		json_object_object_add(jd, "fdsets", sets);
		if (d->throttle)
			json_object_object_add(jd, "throttle", vm_throttle_to_json(d->throttle));
		json_object_array_add(devs, jd);
	}
	json_object_object_add(o, "devices", devs);
	struct json_object *cpus = json_object_new_array();
	for (size_t i = 0; i < sb->nhot_cpus; i++) {
		const struct vm_cpu *c = &sb->hot_cpus[i];
		struct json_object *jc = json_object_new_object();
		json_object_object_add(jc, "id", jstr(c->id));
		json_object_object_add(jc, "socket", json_object_new_int(c->socket));
		json_object_object_add(jc, "core", json_object_new_int(c->core));
		json_object_object_add(jc, "thread", json_object_new_int(c->thread));
		json_object_object_add(jc, "removing", json_object_new_boolean(c->removing));
		json_object_array_add(cpus, jc);
	}
	json_object_object_add(o, "hot_cpus", cpus);
	struct json_object *dimms = json_object_new_array();
	for (size_t i = 0; i < sb->ndimms; i++) {
		const struct vm_dimm *m = &sb->dimms[i];
		struct json_object *jm = json_object_new_object();
		json_object_object_add(jm, "id", jstr(m->id));
		json_object_object_add(jm, "size_mib", json_object_new_int(m->size_mib));
		json_object_object_add(jm, "removing", json_object_new_boolean(m->removing));
		json_object_array_add(dimms, jm);
	}
	json_object_object_add(o, "dimms", dimms);
	struct json_object *mig = vm_migrate_to_json(sb); /* save, restore, migration */
	if (mig)
		json_object_object_add(o, "migration", mig);
	return o;
}

/*
 * The reserve: a file of zeroes beside the state file (twice its size, at
 * least PERSIST_RESERVE_MIN), given back to the filesystem when a save that
 * must not fail (a crash recorded, a stop, a rollback) finds it full, and
 * made again after the next save that succeeds with room to spare.
 */
#define PERSIST_RESERVE ".reserve"
#define PERSIST_RESERVE_MIN (64 * 1024)

static void reserve_make(struct vm_sandbox *sb, size_t len)
{
	off_t want = (off_t)(2 * len < PERSIST_RESERVE_MIN ? PERSIST_RESERVE_MIN : 2 * len);
	cleanup_free char *path = xasprintf("%s/%s", sb->rundir, PERSIST_RESERVE);
	struct stat st;
	if (stat(path, &st) == 0 && st.st_size >= want)
		return;
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (posix_fallocate(fd, 0, want) != 0)
		if (ftruncate(fd, 0) < 0) /* no room now: try again after the next save */
			return;
}

static bool reserve_release(struct vm_sandbox *sb)
{
	cleanup_free char *path = xasprintf("%s/%s", sb->rundir, PERSIST_RESERVE);
	return unlink(path) == 0;
}

/* Write the state file; `strict`: never touch the reserve. */
static int persist_write(struct vm_sandbox *sb, const char *text, bool strict, struct err **e)
{
	cleanup_free char *path = xasprintf("%s/%s", sb->rundir, PERSIST_FILE);
	size_t len = strlen(text);
	int r = util_write_file_atomic(path, text, len, 0600);
	if (r == -ENOSPC && !strict && reserve_release(sb)) {
		log_warn("%s: the state directory is full: saved with the reserve", sb->name);
		r = util_write_file_atomic(path, text, len, 0600);
	}
	if (r < 0)
		return err_sys(e, -r, "cannot save the state to %s", path);
	reserve_make(sb, len);
	return 0;
}

static int persist_save(struct vm_sandbox *sb, bool strict, struct err **e)
{
	int64_t t0 = probe_now(); /* the bench's breakdown (lib/probe.h) */
	pthread_mutex_lock(&sb->persist_lock);
	pthread_mutex_lock(&sb->lock);
	/* A broken sandbox's file is the operator's to look at: never written. */
	bool removed = sb->removed || sb->state == VM_BROKEN;
	struct json_object *o = removed ? NULL : persist_to_json(sb);
	pthread_mutex_unlock(&sb->lock);
	int r = 0;
	if (o) {
		const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								      JSON_C_TO_STRING_SPACED |
								      JSON_C_TO_STRING_NOSLASHESCAPE);
		/* Many commits change nothing on disk (a repeated error, an event
		 * already reflected): write only what differs. */
		if (!sb->persisted || strcmp(sb->persisted, text) != 0) {
			int64_t tw = probe_now();
			r = persist_write(sb, text, strict, e);
			probe_add("persist", "write", tw);
			if (r == 0) {
				free(sb->persisted);
				sb->persisted = xstrdup(text);
			}
		}
		pthread_mutex_lock(&sb->lock); /* it holds cfg_json */
		json_object_put(o);
		pthread_mutex_unlock(&sb->lock);
	}
	pthread_mutex_unlock(&sb->persist_lock);
	probe_add("persist", NULL, t0);
	return r;
}

static int load_devices(struct vm_sandbox *sb, struct json_object *arr, struct err **e)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *jd = json_object_array_get_idx(arr, i), *spec;
		if (!json_object_object_get_ex(jd, "spec", &spec))
			return err_set(e, EINVAL, "device %zu: no spec", i);
		struct vm_device *d = NULL;
		if (vm_device_from_json(spec, &d, e) < 0)
			return err_wrap(e, "device %zu", i);
		int64_t b = -1, s = -1;
		util_json_int(jd, "bridge", &b);
		util_json_int(jd, "slot", &s);
		int st = vm_device_state_parse(util_json_str(jd, "state"));
		d->state = st >= 0 ? (enum vm_device_state)st : VM_DEV_CONFIGURED;
		d->bridge = (int)b;
		d->slot = (int)s;
		load_cred(jd, "owner", &d->owner);
		struct json_object *sets, *thr;
		struct vm_throttle t;
		if (json_object_object_get_ex(jd, "throttle", &thr) && vm_throttle_from_json(thr, &t, NULL) == 0) {
			d->throttle = xmalloc(sizeof(t));
			*d->throttle = t;
		}
		if (json_object_object_get_ex(jd, "fdsets", &sets) && json_object_is_type(sets, json_type_array))
			for (size_t k = 0; k < json_object_array_length(sets) && d->nfdsets < 16; k++)
				d->fdsets[d->nfdsets++] = json_object_get_int64(json_object_array_get_idx(sets, k));
		if (d->bridge >= 0 && vm_topology_reserve(&sb->topo, d->bridge, d->slot, d->id, e) < 0) {
			vm_device_free(d);
			return err_wrap(e, "device %zu", i);
		}
		sb->devs = xrealloc(sb->devs, (sb->ndevs + 1) * sizeof(*sb->devs));
		sb->devs[sb->ndevs++] = d;
	}
	return 0;
}

static void load_cpus(struct vm_sandbox *sb, struct json_object *arr)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	sb->hot_cpus = n ? xcalloc(n, sizeof(*sb->hot_cpus)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct json_object *jc = json_object_array_get_idx(arr, i);
		struct vm_cpu *c = &sb->hot_cpus[sb->nhot_cpus];
		const char *id = util_json_str(jc, "id");
		if (!id)
			continue;
		snprintf(c->id, sizeof(c->id), "%s", id);
		c->socket = (int)util_json_int0(jc, "socket");
		c->core = (int)util_json_int0(jc, "core");
		c->thread = (int)util_json_int0(jc, "thread");
		c->removing = util_json_bool(jc, "removing");
		sb->nhot_cpus++;
	}
}

static void load_dimms(struct vm_sandbox *sb, struct json_object *arr)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	sb->dimms = n ? xcalloc(n, sizeof(*sb->dimms)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct json_object *jm = json_object_array_get_idx(arr, i), *v;
		const char *id = util_json_str(jm, "id");
		int64_t size;
		if (!id || util_json_int(jm, "size_mib", &size) < 0)
			continue;
		struct vm_dimm *m = &sb->dimms[sb->ndimms++];
		snprintf(m->id, sizeof(m->id), "%s", id);
		m->size_mib = (int)size;
		m->removing = json_object_object_get_ex(jm, "removing", &v) && json_object_get_boolean(v);
	}
}

/* Adds that never completed, their QEMU gone while no daemon ran. */
static void drop_adding(struct vm_sandbox *sb)
{
	size_t keep = 0;
	for (size_t i = 0; i < sb->ndevs; i++) {
		struct vm_device *d = sb->devs[i];
		if (d->state == VM_DEV_ADDING) {
			vm_topology_free(&sb->topo, d->bridge, d->slot);
			vm_device_free(d);
		} else {
			sb->devs[keep++] = d;
		}
	}
	sb->ndevs = keep;
}

/* The cgroup of a QEMU that died while no daemon ran: empty, removed. */
static void drop_cgroup(struct vm_sandbox *sb, const char *rel)
{
	cleanup_err struct err *e = NULL;
	if (rel && vm_cgroup_remove_rel(rel, sb->name, &e) < 0)
		log_warn("%s: the cgroup of its lost QEMU: %s", sb->name, e->msg);
}

/* Rebuild one sandbox from its state file; adopt its QEMU if alive. */
static int load_one(const char *name, const char *path, struct err **e)
{
	size_t len;
	cleanup_free char *text = util_read_file(path, &len);
	if (!text)
		return err_sys(e, errno, "read %s", path);
	cleanup_json struct json_object *o = json_tokener_parse(text);
	struct json_object *cfg, *v;
	if (!o || !json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "%s: not a JSON object", path);
	if (!json_object_object_get_ex(o, "config", &cfg))
		return err_set(e, EINVAL, "%s: no config", path);
	if (vm_registry_check_name(name, e) < 0)
		return err_wrap(e, "%s", path);

	struct vm_sandbox *sb = vm_sandbox_alloc(name);
	int r = vm_config_from_json(&sb->cfg, cfg, e);
	if (r == 0) {
		vm_topology_release(&sb->topo);
		vm_config_topology(&sb->cfg, &sb->topo);
		r = load_devices(sb, json_object_object_get_ex(o, "devices", &v) ? v : NULL, e);
	}
	if (r < 0) {
		vm_sandbox_put(sb);
		return err_wrap(e, "%s", path);
	}
	vm_sandbox_events_load(sb);
	load_cpus(sb, json_object_object_get_ex(o, "hot_cpus", &v) ? v : NULL);
	load_dimms(sb, json_object_object_get_ex(o, "dimms", &v) ? v : NULL);
	free(sb->error);
	sb->error = xstrdup(util_json_str0(o, "error"));
	load_ids(o, "owner", &sb->owner_uid, &sb->owner_gid);
	load_ids(o, "qemu_user", &sb->qemu_uid, &sb->qemu_gid);
	load_cred(o, "config_owner", &sb->cfg_owner);
	vm_migrate_from_json(sb, json_object_object_get_ex(o, "migration", &v) ? v : NULL);
	int parsed = vm_state_parse(util_json_str(o, "state"));
	enum vm_state st = parsed >= 0 ? (enum vm_state)parsed : VM_CREATED;
	sb->state = st;
	int64_t pid = 0, start = 0;
	util_json_int(o, "pid", &pid);
	util_json_int(o, "start_time", &start);
	const char *qmp = util_json_str(o, "qmp");
	if (qmp) {
		free(sb->qmp_path);
		sb->qmp_path = xstrdup(qmp);
	}

	if (vm_state_is_live(st)) {
		sb->pid = (pid_t)pid;
		sb->start_time = (unsigned long long)start;
		r = vm_adopt_qemu(sb, st, e);
		if (r < 0) {
			/* Gone (or not ours any more) while no daemon watched it. */
			sb->pid = 0;
			drop_cgroup(sb, util_json_str(o, "cgroup"));
			vm_sandbox_qemu_gone_locked(sb);
			drop_adding(sb);
			sb->state = VM_CRASHED;
			free(sb->error);
			sb->error = xasprintf("qemu pid %lld was lost while sandboxfs was not running: %s",
					      (long long)pid, (*e)->msg);
			log_warn("%s: %s", name, sb->error);
			err_free(e);
		}
	}
	if (vm_registry_add(sb, e) < 0) {
		vm_sandbox_put(sb);
		return err_wrap(e, "%s", path);
	}
	log_info("%s: restored (%s)", name, vm_state_name(sb->state));
	vm_migrate_loaded(sb); /* a migration under way is followed again */
	vm_sandbox_commit(sb);
	return 0;
}

static void persist_best_effort(struct vm_sandbox *sb)
{
	cleanup_err struct err *e = NULL;
	if (persist_save(sb, false, &e) < 0)
		log_err("%s: %s", sb->name, e->msg);
}

static int persist_observer(struct vm_sandbox *sb, enum vm_change what, struct err **e)
{
	if (what == VM_CHANGE_SAVE)
		return persist_save(sb, true, e);
	/* An outcome QEMU can tell again: saved after the write's reply. */
	if (what == VM_CHANGE_OUTCOME && vm_sandbox_later(sb, persist_best_effort))
		return 0;
	if (what == VM_CHANGE_STATE || what == VM_CHANGE_OUTCOME)
		persist_best_effort(sb);
	return 0;
}

/* Load every sandbox found in the state dir (names starting with '.'
 * too); re-adopt live QEMUs.  What cannot be loaded is shown broken, after
 * the others, so that their QEMUs are known when looking for its own. */
/* A daemon killed between writing a state file's temporary copy and its
 * rename leaves PERSIST_FILE.tmp.PID behind: nothing reads it; removed. */
static void sweep_tmp(const char *dir, const char *name)
{
	cleanup_free char *sbdir = xasprintf("%s/%s", dir, name);
	cleanup_free char *prefix = xasprintf("%s.tmp.", PERSIST_FILE);
	DIR *d = opendir(sbdir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)) && unlinkat(dirfd(d), de->d_name, 0) < 0)
			log_warn("%s: %s/%s: %s", name, sbdir, de->d_name, strerror(errno));
	if (d)
		closedir(d);
}

static void persist_load_all(void)
{
	const char *dir = vm_get_settings()->state_dir;
	DIR *d = opendir(dir);
	if (!d)
		return;
	cleanup_strv struct strv broken = {0}, why = {0};
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sweep_tmp(dir, de->d_name);
		cleanup_free char *path = xasprintf("%s/%s/%s", dir, de->d_name, PERSIST_FILE);
		cleanup_free char *kept = xasprintf("%s/%s/%s", dir, de->d_name, VM_PERSIST_BROKEN);
		cleanup_err struct err *e = NULL;
		if (access(path, F_OK) == 0 && load_one(de->d_name, path, &e) == 0)
			continue;
		if (e || access(kept, F_OK) == 0) {
			strv_add(&broken, de->d_name);
			strv_add(&why, e ? e->msg : "its state file was found unreadable earlier");
		}
	}
	closedir(d);
	for (size_t i = 0; i < broken.n; i++)
		vm_persist_broken(broken.v[i], why.v[i]);
}

void vm_persist_start(void)
{
	vm_sandbox_observe(persist_observer);
	persist_load_all();
}
