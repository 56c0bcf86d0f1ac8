/*
 * vm_save — `save DIR [template]`; see save.h.  `restore` is in
 * save_restore.c.
 *
 * In order, under op_lock: DIR made as the writer (it must not exist),
 * its files created in it through a descriptor of it (O_EXCL, as the
 * writer); the guest paused; the stream over fd:NAME until QEMU says
 * completed (bounded by vm_save_timeout_ms); the definition and manifest
 * written and fsynced; for a template its RAM copied out; then QEMU quits
 * and the state is `saved`.  Any failure before QEMU quits removes what
 * was written, resumes a guest that was running, and says why.
 */
#include "vm/sandbox/save.h"

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/migration.h"
#include "vm/sandbox/definition.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/migrate.h"
#include "vm/sandbox/save_impl.h"

int vm_save_timeout_ms(long long mib) { return 60000 + (int)(mib / 16) * 1000; }

int vm_save_dir_arg(const char *arg, char *dir, size_t len, bool *template, struct err **e)
{
	size_t n = strcspn(arg, " ");
	const char *rest = arg[n] ? arg + n + 1 : NULL;
	if (arg[0] != '/')
		return err_set(e, EINVAL, "'%.64s': the directory must be an absolute path", arg);
	if (n >= len || n >= PATH_MAX)
		return err_set(e, ENAMETOOLONG, "the directory's path is too long");
	if (rest && (!template || strcmp(rest, "template")))
		return err_set(e, EINVAL, "'%.64s': %s", rest, template ? "expected 'template' or "
			       "nothing after the directory (which holds no blank)" :
			       "nothing may follow the directory (which holds no blank)");
	memcpy(dir, arg, n);
	dir[n] = '\0';
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if (template)
		*template = rest != NULL;
	return 0;
}

int vm_save_write(const struct cred *who, int dirfd, const char *name, const char *text,
		  struct err **e)
{
	cleanup_close int fd = cred_openat(who, dirfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600, e);
	if (fd < 0)
		return fd;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_sys(e, w < 0 ? errno : EIO, "write %s", name);
		off += (size_t)w;
	}
	return fsync(fd) < 0 ? err_sys(e, errno, "fsync %s", name) : 0;
}

/* The memfd of the guest RAM (memory_file: the daemon made it, QEMU holds
 * it), opened through /proc as the daemon. */
static int save_memfd(pid_t pid, struct err **e)
{
	cleanup_free char *fds = xasprintf("/proc/%d/fd", (int)pid);
	DIR *d = opendir(fds);
	if (!d)
		return err_sys(e, errno, "%s", fds);
	int fd = -ENOENT;
	struct dirent *de;
	while ((de = readdir(d)) && fd == -ENOENT) {
		char link[PATH_MAX];
		cleanup_free char *p = xasprintf("%s/%s", fds, de->d_name);
		ssize_t n = readlink(p, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strncmp(link, "/memfd:sandboxfs-ram", 20))
			fd = open(p, O_RDONLY | O_CLOEXEC);
	}
	closedir(d);
	return fd == -ENOENT ? err_set(e, ENOENT, "qemu pid %d has no guest RAM file", (int)pid)
	       : fd < 0      ? err_sys(e, errno, "open the guest RAM of qemu pid %d", (int)pid)
			     : fd;
}

/* A template's RAM into DIR/memory, sparse: a chunk of zeros stays a
 * hole (most of a guest's RAM), which clones map as the zero page. */
#define SAVE_CHUNK (64 * 1024)
static int save_memory(pid_t pid, const struct cred *who, int dirfd, struct err **e)
{
	cleanup_close int src = save_memfd(pid, e);
	if (src < 0)
		return src;
	cleanup_close int dst = cred_openat(who, dirfd, "memory", O_WRONLY | O_CREAT | O_EXCL, 0600, e);
	if (dst < 0)
		return dst;
	struct stat st;
	if (fstat(src, &st) < 0 || ftruncate(dst, st.st_size) < 0)
		return err_sys(e, errno, "memory: size %lld", (long long)st.st_size);
	static const char zero[SAVE_CHUNK];
	cleanup_free char *buf = xmalloc(SAVE_CHUNK);
	for (off_t off = 0; off < st.st_size;) {
		off_t data = lseek(src, off, SEEK_DATA); /* skip what was never written */
		if (data < 0)
			break; /* ENXIO: only a hole is left */
		data &= ~(off_t)(SAVE_CHUNK - 1);
		ssize_t n = pread(src, buf, SAVE_CHUNK, data);
		if (n < 0)
			return err_sys(e, errno, "memory: read");
		if (n == 0)
			break;
		if (memcmp(buf, zero, (size_t)n) && pwrite(dst, buf, (size_t)n, data) != n)
			return err_sys(e, errno ? errno : EIO, "memory: write");
		off = data + n;
	}
	if (fsync(dst) < 0)
		return err_sys(e, errno, "memory: fsync");
	return 0;
}

/* {"sandboxfs_save":1, ...} */
static char *save_manifest(struct vm_sandbox *sb, const char *machine, bool running, bool template,
			   const char *qemu_version)
{
	cleanup_json struct json_object *o = json_object_new_object();
	json_object_object_add(o, "sandboxfs_save", json_object_new_int(VM_SAVE_VERSION));
	pthread_mutex_lock(&sb->lock);
	json_object_object_add(o, "arch", json_object_new_string(sb->cfg.arch));
	json_object_object_add(o, "memory_mib", json_object_new_int(sb->cfg.memory_mib));
	pthread_mutex_unlock(&sb->lock);
	json_object_object_add(o, "machine", json_object_new_string(machine));
	json_object_object_add(o, "qemu_version", json_object_new_string(qemu_version));
	json_object_object_add(o, "running", json_object_new_boolean(running));
	json_object_object_add(o, "template", json_object_new_boolean(template));
	json_object_object_add(o, "saved_at", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, "sandbox", json_object_new_string(sb->name));
	return vm_definition_text(o);
}

/* A template saves device state only: its RAM must be shared (mem_shared)
 * and the architecture must skip shared RAM in the stream. */
static int save_template_check(struct vm_sandbox *sb, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	const struct arch_ops *a = vm_config_arch(&sb->cfg);
	bool file = sb->cfg.memory_file;
	bool disks = false;
	for (size_t i = 0; i < sb->ndevs; i++)
		disks |= (sb->devs[i]->kind == VM_DEVK_BLOCK || sb->devs[i]->kind == VM_DEVK_IMAGE) &&
			 !sb->devs[i]->readonly;
	pthread_mutex_unlock(&sb->lock);
	if (!a || !a->ignore_shared)
		return err_set(e, EOPNOTSUPP, "template: %s has no x-ignore-shared migration "
			       "(its QEMU cannot leave shared RAM out of the stream)",
			       a ? a->name : "this architecture");
	if (!file)
		return err_set(e, EINVAL, "template: the sandbox must have been started with "
			       "memory_file (its guest RAM a shared file the clones map)");
	if (disks)
		return err_set(e, EINVAL, "template: a writable disk would be written by every clone: "
			       "give the template read-only disks (clones get their own after the restore)");
	return 0;
}

/* Pause the guest (it was running: `cont` after a failure). */
static int save_pause(struct vm_sandbox *sb, struct qmp_client *qmp, bool *was_running, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	*was_running = sb->state == VM_RUNNING;
	pthread_mutex_unlock(&sb->lock);
	if (*was_running && qmp_execute(qmp, "stop", NULL, vm_get_settings()->qmp_timeout_ms, NULL, e) < 0)
		return err_wrap(e, "stop");
	return 0;
}

static void save_resume(struct vm_sandbox *sb, struct qmp_client *qmp, bool was_running)
{
	cleanup_err struct err *e = NULL;
	if (was_running && qmp_execute(qmp, "cont", NULL, vm_get_settings()->qmp_timeout_ms, NULL, &e) < 0)
		log_err("%s: resume after a failed save: %s", sb->name, e->msg);
}

/* What a failed save leaves: nothing. */
static void save_undo(int dirfd, const char *dir)
{
	static const char *const files[] = {"state", "definition", "manifest", "memory"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		unlinkat(dirfd, files[i], 0);
	if (rmdir(dir) < 0)
		log_warn("cannot remove %s after a failed save: %s", dir, strerror(errno));
}

/* Out of room on DIR's filesystem (the stream's failure says only EIO). */
static int save_stream_failed(int dirfd, const struct vm_migration_progress *p, struct err **e)
{
	struct statvfs vfs;
	if (fstatvfs(dirfd, &vfs) == 0 && (unsigned long long)vfs.f_bavail * vfs.f_bsize < (1ULL << 20))
		return err_set(e, ENOSPC, "the save's filesystem is full (%s)",
			       *p->error ? p->error : "QEMU's stream failed");
	return err_set(e, EIO, "QEMU's stream %s: %s", p->status, *p->error ? p->error : "no reason given");
}

/* The stream, then the files beside it; QEMU still runs, paused. */
static int save_stream(struct vm_sandbox *sb, struct qmp_client *qmp, const struct cred *who,
		       int dirfd, bool template, const char *machine, bool running, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	cleanup_close int fd = cred_openat(who, dirfd, "state", O_WRONLY | O_CREAT | O_EXCL, 0600, e);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&sb->lock);
	struct vm_migration_setup s = vm_migrate_setup(&sb->cfg, true, template);
	long long mib = sb->cfg.memory_mib;
	for (size_t i = 0; i < sb->ndimms; i++)
		mib += sb->dimms[i].size_mib;
	pthread_mutex_unlock(&sb->lock);
	struct vm_migration_progress p = {0};
	int r = vm_migration_prepare(qmp, &s, tmo, e);
	if (r == 0)
		r = vm_migration_start_fd(qmp, "sbfs-save", fd, false, tmo, e);
	if (r == 0 && (r = vm_migrate_wait(sb, qmp, vm_save_timeout_ms(mib), &p, e)) < 0) {
		cleanup_err struct err *ce = NULL;
		vm_migration_cancel(qmp, tmo, &ce);
	}
	if (r == 0 && strcmp(p.status, "completed"))
		r = save_stream_failed(dirfd, &p, e);
	if (r == 0 && fsync(fd) < 0)
		r = err_sys(e, errno, "fsync state");
	int maj = 0, min = 0, mic = 0;
	qmp_client_version(qmp, &maj, &min, &mic);
	cleanup_free char *version = xasprintf("%d.%d.%d", maj, min, mic);
	cleanup_json struct json_object *def = r == 0 ? vm_definition_json(sb, machine) : NULL;
	cleanup_free char *text = def ? vm_definition_text(def) : NULL;
	cleanup_free char *manifest = r == 0 ? save_manifest(sb, machine, running, template, version) : NULL;
	if (r == 0)
		r = vm_save_write(who, dirfd, "definition", text, e);
	if (r == 0)
		r = vm_save_write(who, dirfd, "manifest", manifest, e);
	if (r == 0 && template)
		r = save_memory(sb->pid, who, dirfd, e);
	return r;
}

/* A template directory is read-only once made (a mode its owner could
 * change back: a warning if it cannot be set). */
static void save_seal(struct vm_sandbox *sb, int dirfd, bool template)
{
	static const char *const files[] = {"state", "definition", "manifest", "memory"};
	for (size_t i = 0; template && i < ARRAY_SIZE(files); i++)
		if (fchmodat(dirfd, files[i], 0444, 0) < 0)
			log_warn("%s: template %s stays writable: %s", sb->name, files[i], strerror(errno));
	if (template && fchmod(dirfd, 0555) < 0)
		log_warn("%s: the template directory stays writable: %s", sb->name, strerror(errno));
	if (fsync(dirfd) < 0)
		log_warn("%s: fsync of the save directory: %s", sb->name, strerror(errno));
}

int vm_save_locked(struct vm_sandbox *sb, const char *arg, const struct cred *who, struct err **e)
{
	char dir[PATH_MAX];
	bool template = false;
	int r = vm_save_dir_arg(arg, dir, sizeof(dir), &template, e);
	if (r == 0 && template)
		r = save_template_check(sb, e);
	if (r == 0)
		r = vm_migrate_source_check(sb, e);
	cleanup_qmp struct qmp_client *qmp = r == 0 ? vm_sandbox_qmp_owner(sb, e) : NULL;
	if (r < 0 || !qmp)
		return r < 0 ? r : err_ret(e);
	pthread_mutex_lock(&sb->lock);
	bool busy = sb->mig.busy;
	pthread_mutex_unlock(&sb->lock);
	if (busy)
		return err_set(e, EBUSY, "a migration is in progress (cancel it first)");
	if ((r = cred_mkdir(who, dir, template ? 0755 : 0700, e)) < 0)
		return r;
	cleanup_close int dirfd = cred_open(who, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, e);
	if (dirfd < 0) {
		rmdir(dir);
		return dirfd;
	}
	cleanup_free char *machine = vm_definition_machine(sb);
	bool running = false;
	vm_migrate_begin(sb, "save", dir);
	r = save_pause(sb, qmp, &running, e);
	if (r == 0)
		r = save_stream(sb, qmp, who, dirfd, template, machine, running, e);
	if (r < 0) {
		save_undo(dirfd, dir);
		save_resume(sb, qmp, running);
		return r;
	}
	save_seal(sb, dirfd, template);
	pthread_mutex_lock(&sb->lock);
	sb->exit_as = VM_SAVED;
	free(sb->mig.saved_dir);
	sb->mig.saved_dir = xstrdup(dir);
	pthread_mutex_unlock(&sb->lock);
	r = vm_lifecycle_stop_locked(sb, e);
	log_info("%s: saved into %s%s", sb->name, dir, template ? " (a template)" : "");
	return r;
}
