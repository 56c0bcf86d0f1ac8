/*
 * vm_access — host paths checked with the writer's credentials; see
 * access.h.
 */
#include "vm/sandbox/access.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "lib/util.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/qemu/fds.h"

static int access_open(const struct cred *who, const char *key, const char *path, int flags,
		       struct err **e)
{
	if (!path || !*path)
		return 0;
	int fd = cred_open(who, path, flags, e);
	if (fd < 0)
		return err_wrap(e, "%s", key);
	close(fd);
	return 0;
}

static bool changed(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") != 0; }

int vm_access_config(const struct vm_config *cur, const struct vm_config *next,
		     const struct cred *who, const char *const *qemu_dirs, struct err **e)
{
	int r = 0;
	if (changed(cur->qemu, next->qemu) && *next->qemu)
		r = vm_access_qemu(next->qemu, who, qemu_dirs, e);
	/* the built-in guest is the daemon's (a missing one is ENOENT at start) */
	if (r == 0 && changed(cur->kernel, next->kernel) &&
	    !vm_config_is_builtin(next, next->kernel, false))
		r = access_open(who, "kernel", next->kernel, O_RDONLY, e);
	if (r == 0 && changed(cur->initrd, next->initrd) &&
	    !vm_config_is_builtin(next, next->initrd, true))
		r = access_open(who, "initrd", next->initrd, O_RDONLY, e);
	if (r == 0 && changed(cur->netns, next->netns) && *next->netns) {
		int fd = vm_access_netns(next, who, e);
		if (fd >= 0)
			close(fd);
		r = fd < 0 ? fd : 0;
	}
	if (r == 0 && changed(cur->bios, next->bios))
		r = access_open(who, "bios", next->bios, O_RDONLY, e);
	for (size_t i = 0; r == 0 && next->pflash[i]; i++) {
		size_t n = vm_config_strv_len(cur->pflash);
		if (i < n && !changed(cur->pflash[i], next->pflash[i]))
			continue;
		char key[32];
		snprintf(key, sizeof(key), "pflash[%zu]", i);
		/* the code image is read-only; the variables store is written */
		r = access_open(who, key, next->pflash[i], i ? O_RDWR : O_RDONLY, e);
	}
	return r;
}

/* Only root may hand a guest host hardware, or let QEMU open a tap itself. */
static int access_root_only(const struct vm_device *d, struct err **e)
{
	if (cred_is_root(&d->owner))
		return 0;
	if (d->kind == VM_DEVK_VFIO)
		return err_set(e, EPERM, "a vfio device (host hardware) can only be added by root");
	if (d->kind == VM_DEVK_NET && !vm_device_bool(d, "pass_fds"))
		return err_set(e, EPERM, "pass_fds: false lets QEMU open the tap itself, which "
			       "only root may ask for");
	return 0;
}

int vm_access_device(const struct vm_config *cfg, const char *console_log,
		     const struct vm_fds_ctx *ctx, const struct vm_device *d, struct err **e)
{
	int r = access_root_only(d, e);
	if (r == 0 && d->kind == VM_DEVK_9P) /* QEMU opens the share by path */
		r = access_open(&d->owner, "path", vm_device_str(d, "path"),
				O_RDONLY | O_DIRECTORY, e);
	if (r < 0)
		return r;
	/* Everything else: the descriptors the device would get, checked. */
	struct vm_fdplan plan = {0};
	struct vm_dev_parts parts = {.main = -1};
	struct vm_dev_env env = {
		.arch = vm_config_arch(cfg), .console_log = console_log, .fds = &plan,
		.pass_files = true, .owner = &d->owner, .bus = NULL,
	};
	r = vm_device_parts(d, &env, &parts, e);
	if (r == 0)
		r = vm_fds_check(&plan, ctx, e);
	vm_dev_parts_release(&parts);
	vm_fdplan_release(&plan);
	return r;
}

/* Is `dir` (resolved) one of the allowed directories? */
static bool access_qemu_dir(const char *dir, const char *const *dirs)
{
	for (size_t i = 0; dirs && dirs[i]; i++) {
		char real[PATH_MAX];
		if (realpath(dirs[i], real) && !strcmp(real, dir))
			return true;
	}
	return false;
}

static void access_qemu_dirs(struct sbuf *b, const char *const *dirs)
{
	for (size_t i = 0; dirs && dirs[i]; i++)
		sbuf_printf(b, "%s%s", i ? ", " : "", dirs[i]);
	if (!b->len)
		sbuf_add(b, "none");
}

int vm_access_qemu(const char *path, const struct cred *who, const char *const *qemu_dirs,
		   struct err **e)
{
	if (cred_is_root(who))
		return 0;
	char real[PATH_MAX];
	struct stat st;
	cleanup_sbuf struct sbuf allowed = {0};
	access_qemu_dirs(&allowed, qemu_dirs);
	if (!realpath(path, real) || stat(real, &st) < 0)
		return err_sys(e, errno, "qemu: %s", path);
	cleanup_free char *dir = xstrdup(real);
	*strrchr(dir, '/') = '\0';
	if (!access_qemu_dir(*dir ? dir : "/", qemu_dirs))
		return err_set(e, EPERM, "qemu: %s is not under a directory the operator allows "
			       "(--qemu-dir: %s); only root may name another binary", path, allowed.s);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return err_set(e, EPERM, "qemu: %s must be a regular file owned by root and "
			       "writable by nobody else", path);
	return 0;
}

int vm_access_netns(const struct vm_config *cfg, const struct cred *who, struct err **e)
{
	if (!*cfg->netns)
		return -1;
	int fd = cred_open(who, cfg->netns, O_RDONLY, e);
	if (fd < 0)
		return err_wrap(e, "netns");
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		close(fd);
		return err_set(e, EINVAL, "netns: %s is not a network namespace", cfg->netns);
	}
	return fd;
}
