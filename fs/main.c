/*
 * main — sandboxfs entry point: defaults, which QEMUs, mount.
 *
 *   sandboxfs [OPTION...] [SOURCE] MOUNTPOINT      (fs/options.c: the options)
 *
 * Exit status: 0 unmounted cleanly, also on SIGTERM/SIGINT/SIGHUP (or
 * --help, --version); 1 the log, the state directory or the mount failed;
 * 2 a command line that does not parse.
 */
#define FUSE_USE_VERSION 312 /* fuse_cmdline_opts of 3.12 */
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "fs/fs.h"
#include "fs/fs_work.h"
#include "fs/options.h"
#include "lib/log.h"
#include "vm/model/config.h"
#include "vm/qemu/probe.h"
#include "vm/sandbox/daemon.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/sandbox.h"

#define MAIN_DEFAULT_STATE_DIR "/run/sandboxfs"
#define MAIN_DEFAULT_ACCEL "tcg,thread=multi"
#define MAIN_DEFAULT_CGROUP_PARENT "sandboxfs"

/* The host architecture's QEMU binary in each of the --qemu-dir
 * directories, the first of them the default (vm/model/config_qemu.c),
 * each with the version it answers to over QMP (vm/qemu/probe). */
static void main_print_version(const char *const *dirs)
{
	printf("sandboxfs %s\nlibfuse %s\n", SANDBOXFS_VERSION, fuse_pkgversion());
	const struct arch_ops *a = arch_lookup(arch_host());
	const char *arch_bin = a ? a->qemu_binary(a->default_machine) : NULL;
	const char *base = arch_bin ? strrchr(arch_bin, '/') + 1 : "qemu-system-?";
	bool first = true;
	for (size_t i = 0; dirs[i]; i++) {
		cleanup_free char *bin = xasprintf("%s/%s", dirs[i], base);
		if (access(bin, X_OK) < 0)
			continue;
		struct vm_qemu_caps q;
		cleanup_err struct err *e = NULL;
		struct vm_qemu_probe how = {.timeout_ms = 10000};
		char v[32] = "unknown";
		if (vm_qemu_caps_get(bin, &how, &q, &e) == 0)
			vm_qemu_version_str(&q, v, sizeof(v));
		printf("qemu %s %s (%s%s guests)\n", v, bin, first ? "default, " : "", arch_host());
		first = false;
	}
	if (first)
		printf("qemu not found (%s in no --qemu-dir directory)\n", base);
}

/* The QEMU binaries a non-root writer may choose, the first that holds an
 * architecture's binary its default: the system's, then the QEMU 10
 * unpacked beside the binary (build/qemu-10, make qemu-10: its bin/ holds
 * the wrappers that give it its own firmware and modules). */
static char *main_default_qemu_dirs(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup("/usr/bin");
	exe[n] = '\0';
	return xasprintf("/usr/bin:%s/qemu-10/bin", dirname(exe));
}

/* --qemu-dir as a list, made once (kept for the daemon's life). */
static const char *const *main_qemu_dirs(const struct options *o)
{
	static const char *const *list;
	if (!list) {
		cleanup_free char *dirs = o->qemu_dir ? xstrdup(o->qemu_dir) : main_default_qemu_dirs();
		list = vm_settings_dirs(dirs);
	}
	return list;
}

/* Who QEMU runs as, which binaries tenants may pick, where cgroups go. */
static int main_confine(const struct options *o, struct vm_settings *set)
{
	set->qemu_dirs = main_qemu_dirs(o);
	set->cgroup_parent = o->cgroup_parent ? o->cgroup_parent : MAIN_DEFAULT_CGROUP_PARENT;
	if (!*set->cgroup_parent) /* --cgroup-parent= : no cgroups of their own */
		set->cgroup_parent = NULL;
	cleanup_err struct err *e = NULL;
	if (vm_settings_qemu(set, o->qemu_user, o->qemu_uids, &e) < 0) {
		fprintf(stderr, "sandboxfs: %s\n", e->msg);
		return -1;
	}
	return 0;
}

/* --log: its own descriptor, since daemonizing points stderr at /dev/null. */
static int main_open_log(const struct options *o)
{
	if (o->log) {
		int fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "sandboxfs: %s: %s\n", o->log, strerror(errno));
			return -1;
		}
		log_set_fd(fd);
	}
	log_set_level(o->debug ? LOG_DEBUG : LOG_INFO);
	return 0;
}

/* Defaults of new sandboxes, the facts the root shows, the run settings. */
static int main_configure(const struct options *o)
{
	cleanup_free char *guest = o->guest_dir ? xstrdup(o->guest_dir) : options_default_guest_dir();
	cleanup_free char *kernel = xasprintf("%s/vmlinuz", guest);
	cleanup_free char *initrd = xasprintf("%s/initramfs.cpio.gz", guest);
	vm_config_set_defaults(&(struct vm_defaults){
		.guest_kernel = kernel,
		.guest_initrd = initrd,
		.accel = o->accel ? o->accel : MAIN_DEFAULT_ACCEL,
		.qemu_dirs = main_qemu_dirs(o),
	});
	if (access(kernel, R_OK) < 0)
		log_warn("built-in guest kernel %s is missing (build it: docs/deploy.md)", kernel);

	fs_set_info(&(struct fs_info){.version = SANDBOXFS_VERSION,
				      .uid = o->has_owner ? o->owner_uid : getuid(),
				      .gid = o->has_owner ? o->owner_gid : getgid(),
				      .private_mode = o->private_mode,
				      .user_sandboxes = o->user_sandboxes,
				      .qmp_owner = o->qmp_access && !strcmp(o->qmp_access, "owner")});

	struct vm_settings set = {.state_dir = o->state_dir ? o->state_dir : MAIN_DEFAULT_STATE_DIR,
				  .stop_on_exit = o->stop_on_exit};
	if (main_confine(o, &set) < 0)
		return -2;
	int r = util_mkdir_p(set.state_dir, 0700);
	if (r < 0) {
		fprintf(stderr, "sandboxfs: state directory %s: %s\n", set.state_dir, strerror(-r));
		return -1;
	}
	/* Threads (the QEMU monitor) must start after fuse daemonizes: main_init. */
	vm_settings_apply(&set);
	return 0;
}

/* When the kernel connects (after daemonizing: threads start here). */
static void main_init(void)
{
	cleanup_err struct err *e = NULL;
	fs_reserve_names();
	vm_sandbox_observe(fs_notify_change);
	vm_op_interrupted_hook(fs_interrupted); /* ^C on the writing shell */
	if (vm_daemon_start(&e) < 0) {
		log_err("%s", e->msg);
		exit(1);
	}
	log_info("mounted");
}

/* Mount, serve until unmounted or signalled, unmount: 0, or 1. */
static int main_serve(struct strv *fuse_argv)
{
	struct fuse_args args = FUSE_ARGS_INIT((int)fuse_argv->n, fuse_argv->v);
	struct fuse_cmdline_opts co = {0};
	int r = 1;
	if (fuse_parse_cmdline(&args, &co) != 0)
		return 1;
	struct fuse_session *se = fs_session_new(&args, main_init);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto destroy;
	if (fuse_session_mount(se, co.mountpoint) != 0)
		goto signals;
	fuse_daemonize(co.foreground);
	/* One thread at a time reads the FUSE device and answers what never
	 * waits; what may wait runs on fs/'s workers, the reader's own first
	 * (fs/fs_work.h, docs/design.md "The FUSE loop and its workers"), so
	 * -s changes nothing. */
	r = fs_work_serve(se) != 0;
	fs_session_end();
	fuse_session_unmount(se);
signals:
	fuse_remove_signal_handlers(se);
destroy:
	fuse_session_destroy(se);
out:
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	return r;
}

int main(int argc, char **argv)
{
	cleanup_options struct options o = {0};
	cleanup_err struct err *e = NULL;
	if (options_parse(argc, argv, &o, &e) < 0) {
		fprintf(stderr, "sandboxfs: %s; try 'sandboxfs --help'\n", e->msg);
		return 2;
	}
	if (o.help) {
		options_usage(argv[0]);
		return 0;
	}
	if (o.version) {
		main_print_version(main_qemu_dirs(&o));
		return 0;
	}
	if (!o.mountpoint) {
		fprintf(stderr, "sandboxfs: no mount point given; try 'sandboxfs --help'\n");
		return 2;
	}
	int c = main_open_log(&o) < 0 ? -1 : main_configure(&o);
	if (c < 0)
		return c == -2 ? 2 : 1;

	/* The kernel enforces the modes and owner the tables report. */
	strv_add(&o.fuse_argv, "-odefault_permissions");
	int r = main_serve(&o.fuse_argv);
	vm_daemon_shutdown();
	log_info("unmounted");
	return r;
}
