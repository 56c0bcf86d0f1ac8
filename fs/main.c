/*
 * main — sandboxfs entry point: defaults, QEMU detection, mount.
 *
 *   sandboxfs [OPTION...] [SOURCE] MOUNTPOINT      (fs/options.c: the options)
 *
 * Exit status: 0 unmounted cleanly (or --help, --version); 1 the log, the
 * state directory or the mount failed; 2 a command line that does not parse.
 */
#define FUSE_USE_VERSION 35
#include <fcntl.h>
#include <fuse.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "arch/arch.h"
#include "fs/fs.h"
#include "fs/options.h"
#include "lib/log.h"
#include "vm/model/config.h"
#include "vm/sandbox/daemon.h"
#include "vm/sandbox/sandbox.h"

extern char **environ;

#define MAIN_DEFAULT_STATE_DIR "/run/sandboxfs"
#define MAIN_DEFAULT_ACCEL "tcg,thread=multi"
#define MAIN_DEFAULT_CGROUP_PARENT "sandboxfs"

/* "QEMU emulator version 7.2.22 (...)" → "7.2.22"; "not found". */
static char *main_qemu_version(const char *binary)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return xstrdup("unknown");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	char *argv[] = {(char *)binary, (char *)"--version", NULL};
	pid_t pid;
	int r = posix_spawn(&pid, binary, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	char buf[256] = "";
	size_t len = 0;
	ssize_t n;
	while (r == 0 && len < sizeof(buf) - 1 && (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(p[0]);
	if (r == 0)
		waitpid(pid, NULL, 0);
	const char *v = strstr(buf, "version ");
	if (!v)
		return xstrdup("not found");
	v += strlen("version ");
	return xstrndup(v, strcspn(v, " \n"));
}

/* The QEMU of the host architecture's default machine. */
static const char *main_qemu_binary(void)
{
	const struct arch_ops *a = arch_lookup(arch_host());
	const char *qemu = a ? a->qemu_binary(a->default_machine) : NULL;
	return qemu ? qemu : "/usr/bin/qemu-system-x86_64";
}

static void main_print_version(void)
{
	const char *qemu = main_qemu_binary();
	cleanup_free char *v = main_qemu_version(qemu);
	printf("sandboxfs %s\nlibfuse %s\nqemu %s (%s, %s guests)\n", SANDBOXFS_VERSION,
	       fuse_pkgversion(), v, qemu, arch_host());
}

/* The QEMU binaries a non-root writer may choose: the system's, and the
 * QEMU 10 unpacked beside the binary (build/qemu-10, make qemu-10). */
static char *main_default_qemu_dirs(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup("/usr/bin");
	exe[n] = '\0';
	return xasprintf("/usr/bin:%s/qemu-10/usr/bin", dirname(exe));
}

/* Who QEMU runs as, which binaries tenants may pick, where cgroups go. */
static int main_confine(const struct options *o, struct vm_settings *set)
{
	static char *dirs; /* the daemon's for its life */
	free(dirs);
	dirs = o->qemu_dir ? xstrdup(o->qemu_dir) : main_default_qemu_dirs();
	set->qemu_dirs = vm_settings_dirs(dirs);
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
	});
	if (access(kernel, R_OK) < 0)
		log_warn("built-in guest kernel %s is missing (build it: docs/deploy.md)", kernel);

	/* fs_set_info borrows its strings: this one lives as long as the daemon. */
	static char *qemu_version;
	free(qemu_version);
	qemu_version = main_qemu_version(main_qemu_binary());
	fs_set_info(&(struct fs_info){.version = SANDBOXFS_VERSION, .qemu_version = qemu_version,
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

static struct fuse_operations main_ops;

static void *main_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	void *r = fs_operations.init(conn, cfg);
	cleanup_err struct err *e = NULL;
	fs_reserve_names();
	vm_sandbox_observe(fs_notify_change);
	if (vm_daemon_start(&e) < 0) {
		log_err("%s", e->msg);
		exit(1);
	}
	log_info("mounted");
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
		main_print_version();
		return 0;
	}
	if (!o.mountpoint) {
		fprintf(stderr, "sandboxfs: no mount point given; try 'sandboxfs --help'\n");
		return 2;
	}
	int c = main_open_log(&o) < 0 ? -1 : main_configure(&o);
	if (c < 0)
		return c == -2 ? 2 : 1;

	/* libfuse 3.14 warns about its own default otherwise. */
	strv_add(&o.fuse_argv, "-omax_idle_threads=16");
	/* The kernel enforces the modes and owner the tables report. */
	strv_add(&o.fuse_argv, "-odefault_permissions");
	main_ops = fs_operations;
	main_ops.init = main_init;
	int r = fuse_main((int)o.fuse_argv.n, o.fuse_argv.v, &main_ops, NULL);
	vm_daemon_shutdown();
	log_info("unmounted");
	return r;
}
