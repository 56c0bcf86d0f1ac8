/*
 * main — sandboxfs entry point: options, defaults, QEMU detection, mount.
 *
 *   sandboxfs [--state-dir=DIR] [--guest-dir=DIR] [--accel=ACCEL]
 *             [--log=FILE] [--debug] [FUSE options] MOUNTPOINT
 */
#define FUSE_USE_VERSION 35
#include <fcntl.h>
#include <fuse.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "arch/arch.h"
#include "fs/fs.h"
#include "lib/log.h"
#include "vm/model/config.h"
#include "vm/sandbox/daemon.h"
#include "vm/sandbox/sandbox.h"

extern char **environ;

struct main_opts {
	char *state_dir;
	char *guest_dir;
	char *accel;
	char *log;
	char *owner;
	char *qemu_user;
	char *qemu_uids;
	char *qemu_dir;
	char *cgroup_parent;
	int user_sandboxes;
	int stop_on_exit;
	int private_mode;
	int debug;
	int help;
	int version;
	char *nonopt[2]; /* [SOURCE] MOUNTPOINT: mount.fuse3 passes a source */
	int nnonopt;
};

static int main_opt_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct main_opts *o = data;
	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (o->nnonopt == 2) {
		fprintf(stderr, "sandboxfs: too many arguments ('%s')\n", arg);
		return -1;
	}
	o->nonopt[o->nnonopt++] = xstrdup(arg);
	return 0;
}

#define OPT(t, p) {t, offsetof(struct main_opts, p), 1}
static const struct fuse_opt main_opt_spec[] = {
	OPT("--state-dir=%s", state_dir),
	OPT("--guest-dir=%s", guest_dir),
	OPT("--accel=%s", accel),
	OPT("--log=%s", log),
	OPT("--owner=%s", owner),
	OPT("--qemu-user=%s", qemu_user),
	OPT("--qemu-uids=%s", qemu_uids),
	OPT("--qemu-dir=%s", qemu_dir),
	OPT("--cgroup-parent=%s", cgroup_parent),
	OPT("--user-sandboxes", user_sandboxes),
	OPT("qemu_user=%s", qemu_user),
	OPT("qemu_uids=%s", qemu_uids),
	OPT("qemu_dir=%s", qemu_dir),
	OPT("cgroup_parent=%s", cgroup_parent),
	OPT("user_sandboxes", user_sandboxes),
	OPT("--stop-on-exit", stop_on_exit),
	OPT("--private", private_mode),
	OPT("--debug", debug),
	/* The same as -o options, for mount(8) and fstab (fuse.sandboxfs). */
	OPT("state_dir=%s", state_dir),
	OPT("guest_dir=%s", guest_dir),
	OPT("accel=%s", accel),
	OPT("log=%s", log),
	OPT("owner=%s", owner),
	OPT("stop_on_exit", stop_on_exit),
	OPT("private", private_mode),
	OPT("-h", help),
	OPT("--help", help),
	OPT("-V", version),
	OPT("--version", version),
	FUSE_OPT_END,
};

static void usage(const char *prog)
{
	printf("usage: %s [options] MOUNTPOINT\n\n"
	       "  --state-dir=DIR   per-sandbox run state, sockets, logs (default /run/sandboxfs)\n"
	       "  --guest-dir=DIR   built-in default guest (vmlinuz, initramfs.cpio.gz)\n"
	       "  --accel=ACCEL     default accelerator (default tcg,thread=multi)\n"
	       "  --log=FILE        append the daemon log to FILE\n"
	       "  --owner=UID:GID   owner of the tree and of the sandboxes root creates\n"
	       "  --qemu-user=USER  run every QEMU as USER (root: as the daemon, unconfined)\n"
	       "  --qemu-uids=FIRST:COUNT  each sandbox's QEMU its own uid and gid from this\n"
	       "                    range (the default: " VM_QEMU_UIDS_DEFAULT ")\n"
	       "  --qemu-dir=DIR[:DIR...]  where a non-root writer's `qemu` may point\n"
	       "  --cgroup-parent=NAME  per-sandbox cgroups go under NAME (default sandboxfs)\n"
	       "  --user-sandboxes  any user may mkdir a sandbox (the root is 01777)\n"
	       "  --private         nothing world-readable\n"
	       "  --stop-on-exit    stop running sandboxes when the daemon exits\n"
	       "                    (default: leave them running; the next start re-adopts them)\n"
	       "  --debug           verbose log\n"
	       "  -f                stay in the foreground\n"
	       "  -o OPT[,OPT...]   FUSE mount options (e.g. allow_other), and the options\n"
	       "                    above as state_dir=, guest_dir=, accel=, log=, owner=,\n"
	       "                    stop_on_exit, private (for mount -t fuse.sandboxfs / fstab)\n\n",
	       prog);
}

/* The guest built by `make guest` sits beside the binary: build/guest. */
static char *default_guest_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *dir = dirname(exe);
		char *g = xasprintf("%s/guest", dir);
		if (access(g, R_OK) == 0)
			return g;
		free(g);
		g = xasprintf("%s/../share/sandboxfs/guest", dir);
		if (access(g, R_OK) == 0)
			return g;
		free(g);
	}
	return xstrdup("/usr/local/share/sandboxfs/guest");
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

/* "QEMU emulator version 7.2.22 (...)" → "7.2.22". */
static char *detect_qemu_version(const char *binary)
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
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct main_opts o = {0};
	if (fuse_opt_parse(&args, &o, main_opt_spec, main_opt_proc) < 0)
		return 2;
	/* "sandboxfs MNT", or "sandboxfs SOURCE MNT" from mount(8) / fstab. */
	if (o.nnonopt)
		fuse_opt_add_arg(&args, o.nonopt[o.nnonopt - 1]);
	if (o.help) {
		usage(argv[0]);
		fuse_opt_add_arg(&args, "-ho");
		fuse_main(args.argc, args.argv, &fs_operations, NULL);
		return 0;
	}
	if (o.version) {
		printf("sandboxfs %s\n", SANDBOXFS_VERSION);
		return 0;
	}
	if (o.log) {
		/* Its own descriptor: daemonizing points stderr at /dev/null. */
		int fd = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0) {
			perror(o.log);
			return 1;
		}
		log_set_fd(fd);
	}
	log_set_level(o.debug ? LOG_DEBUG : LOG_INFO);

	cleanup_free char *guest = o.guest_dir ? xstrdup(o.guest_dir) : default_guest_dir();
	cleanup_free char *kernel = xasprintf("%s/vmlinuz", guest);
	cleanup_free char *initrd = xasprintf("%s/initramfs.cpio.gz", guest);
	struct vm_defaults defs = {
		.guest_kernel = kernel,
		.guest_initrd = initrd,
		.accel = o.accel ? o.accel : "tcg,thread=multi",
	};
	vm_config_set_defaults(&defs);
	if (access(kernel, R_OK) < 0)
		log_warn("built-in guest kernel %s is missing (run `make guest`)", kernel);

	/* Probe the QEMU of the host architecture's default machine. */
	const struct arch_ops *a = arch_lookup(arch_host());
	const char *qemu = a ? a->qemu_binary(a->default_machine) : NULL;
	cleanup_free char *qemu_version = detect_qemu_version(qemu ? qemu : "qemu-system-x86_64");

	uid_t uid = getuid();
	gid_t gid = getgid();
	if (o.owner) {
		unsigned long u, g;
		char extra;
		if (sscanf(o.owner, "%lu:%lu%c", &u, &g, &extra) != 2) {
			fprintf(stderr, "sandboxfs: --owner wants UID:GID (numbers), not '%s'\n", o.owner);
			return 2;
		}
		uid = (uid_t)u;
		gid = (gid_t)g;
	}
	fs_set_info(&(struct fs_info){.version = SANDBOXFS_VERSION, .qemu_version = qemu_version,
				      .uid = uid, .gid = gid, .private_mode = o.private_mode,
				      .user_sandboxes = o.user_sandboxes});

	struct vm_settings set = {.state_dir = o.state_dir ? o.state_dir : "/run/sandboxfs",
				  .stop_on_exit = o.stop_on_exit,
				  .cgroup_parent = o.cgroup_parent ? o.cgroup_parent : "sandboxfs"};
	cleanup_free char *qemu_dirs = o.qemu_dir ? xstrdup(o.qemu_dir) : main_default_qemu_dirs();
	set.qemu_dirs = vm_settings_dirs(qemu_dirs);
	cleanup_err struct err *se = NULL;
	if (vm_settings_qemu(&set, o.qemu_user, o.qemu_uids, &se) < 0) {
		fprintf(stderr, "sandboxfs: %s\n", se->msg);
		return 2;
	}
	/* Threads (the QEMU monitor) must start after fuse daemonizes: main_init. */
	int r = util_mkdir_p(set.state_dir, 0700);
	if (r < 0) {
		fprintf(stderr, "sandboxfs: state directory %s: %s\n", set.state_dir, strerror(-r));
		return 1;
	}
	vm_settings_apply(&set);

	/* libfuse 3.14 warns about its own default otherwise. */
	fuse_opt_add_arg(&args, "-omax_idle_threads=16");
	/* The kernel enforces the modes and owner the tables report. */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	main_ops = fs_operations;
	main_ops.init = main_init;
	r = fuse_main(args.argc, args.argv, &main_ops, NULL);
	vm_daemon_shutdown();
	log_info("unmounted");
	fuse_opt_free_args(&args);
	free(o.state_dir);
	free(o.guest_dir);
	free(o.accel);
	free(o.log);
	free(o.owner);
	free(o.qemu_user);
	free(o.qemu_uids);
	free(o.qemu_dir);
	free(o.cgroup_parent);
	for (int i = 0; i < o.nnonopt; i++)
		free(o.nonopt[i]);
	return r;
}
