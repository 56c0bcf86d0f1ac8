/*
 * vm_process — the QEMU process: socket, fork/exec, /proc identity; see
 * process.h.
 *
 * The daemon binds the QMP socket itself and QEMU inherits the listening
 * descriptor, so the socket exists before QEMU does: the daemon connects at
 * once, and if QEMU dies first the listening socket goes with it and the
 * connect or greeting fails immediately.  QEMU runs in its own session
 * (setsid) with stdout and stderr in its log; nothing goes through a shell.
 */
#include "vm/qemu/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util.h"
#include "vm/qemu/fds.h"

/* Move fd above the range the child rearranges, keeping CLOEXEC. */
static int process_fd_high(int fd)
{
	if (fd < 0)
		return fd;
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	int err = errno;
	close(fd);
	errno = err;
	return h;
}

int vm_process_listen(const char *path, struct err **e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return err_set(e, ENAMETOOLONG, "QMP socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, errno, "socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return err_sys(e, errno, "bind %s", path);
	if (listen(fd, 4) < 0)
		return err_sys(e, errno, "listen %s", path);
	int high = process_fd_high(move_fd(fd));
	if (high < 0)
		return err_sys(e, errno, "fcntl F_DUPFD");
	return high;
}

void vm_process_groups(struct vm_process_spawn *s, const char *accel)
{
	struct stat st;
	s->ngroups = 0;
	if (accel && !strncmp(accel, "kvm", 3) && stat("/dev/kvm", &st) == 0 && st.st_gid != 0)
		s->groups[s->ngroups++] = st.st_gid;
}

/* In the child (async-signal-safe; exits 126 when refused): join the
 * cgroups — before the descriptors are placed, which closes these — ... */
static void process_child_cgroups(const struct vm_process_spawn *s)
{
	for (int i = 0; i < s->ncgroup_fds; i++)
		if (write(s->cgroup_fds[i], "0\n", 2) != 2)
			_exit(126);
	/* Still root: lift the limit an unprivileged QEMU could not. */
	struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
	if (s->memlock && setrlimit(RLIMIT_MEMLOCK, &inf) < 0)
		_exit(126);
}

/* ... and after they are placed, become QEMU's own identity. */
static void process_child_identity(const struct vm_process_spawn *s)
{
	if (s->uid == 0)
		return;
	if (setgroups((size_t)s->ngroups, s->groups) < 0 || setresgid(s->gid, s->gid, s->gid) < 0 ||
	    setresuid(s->uid, s->uid, s->uid) < 0) {
		static const char m[] = "sandboxfs: cannot drop to the QEMU user\n";
		if (write(2, m, sizeof(m) - 1) < 0) {
		}
		_exit(126);
	}
}

int vm_process_spawn(const struct vm_process_spawn *s, pid_t *pidp, struct err **e)
{
	cleanup_close int log_fd = process_fd_high(
		open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
	if (log_fd < 0)
		return err_sys(e, errno, "open %s", s->log_path);
	cleanup_close int null_fd = process_fd_high(open("/dev/null", O_RDONLY | O_CLOEXEC));
	if (null_fd < 0)
		return err_sys(e, errno, "open /dev/null");

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		/* Child: async-signal-safe calls only. */
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		for (int sig = 1; sig < NSIG; sig++)
			sigaction(sig, &dfl, NULL);
		setsid();
		process_child_cgroups(s);
		vm_fds_child_place(null_fd, log_fd, s->listen_fd, s->plan, s->fds);
		process_child_identity(s);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(s->argv[0], s->argv);
		static const char m[] = "sandboxfs: cannot execute the QEMU binary\n";
		if (write(2, m, sizeof(m) - 1) < 0) {
		}
		_exit(127);
	}
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return err_sys(e, fork_errno, "fork");
	*pidp = pid;
	return 0;
}

unsigned long long vm_process_start_time(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_free char *stat = util_read_file(path, NULL);
	const char *p = stat ? strrchr(stat, ')') : NULL;
	if (!p)
		return 0;
	/* Fields after the command: state is field 3, starttime field 22. */
	unsigned long long v = 0;
	int field = 2;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		v = strtoull(p, NULL, 10);
	return v;
}

bool vm_process_has_uuid(pid_t pid, const char *uuid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	size_t len = 0;
	cleanup_free char *cmd = util_read_file(path, &len);
	if (!cmd)
		return false;
	for (size_t i = 0; i < len; i += strlen(cmd + i) + 1)
		if (!strcmp(cmd + i, "-uuid") && i + 6 < len && !strcmp(cmd + i + 6, uuid))
			return true;
	return false;
}

/* Does the argv (NUL-separated, len bytes) match one of the three? */
static bool argv_matches(const char *cmd, size_t len, const char *uuid, const char *guest,
			 const char *dir)
{
	const char *base = strrchr(cmd, '/');
	if (strncmp(base ? base + 1 : cmd, "qemu-system-", 12))
		return false;
	size_t dlen = dir ? strlen(dir) : 0;
	for (size_t i = 0; i < len; i += strlen(cmd + i) + 1) {
		const char *a = cmd + i, *next = i + strlen(a) + 1 < len ? a + strlen(a) + 1 : NULL;
		if (uuid && next && !strcmp(a, "-uuid") && !strcmp(next, uuid))
			return true;
		if (guest && next && !strcmp(a, "-name") && !strcmp(next, guest))
			return true;
		if (dir && strstr(a, dir) && (strstr(a, dir)[dlen] == '/'))
			return true;
	}
	return false;
}

pid_t vm_process_find(const char *uuid, const char *name, const char *dir)
{
	cleanup_free char *guest = name ? xasprintf("guest=%s", name) : NULL;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	pid_t found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		size_t len = 0;
		cleanup_free char *cmd = util_read_file(path, &len);
		if (cmd && len && argv_matches(cmd, len, uuid, guest, dir))
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

int vm_process_pidfd(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int vm_process_pidfd_kill(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

char *vm_process_log_tail(const char *path)
{
	size_t len = 0;
	cleanup_free char *log = util_read_file(path, &len);
	if (!log || !len)
		return xstrdup("(no output)");
	while (len && (log[len - 1] == '\n' || log[len - 1] == ' '))
		log[--len] = '\0';
	const char *p = len > 2000 ? log + len - 2000 : log;
	return xstrdup(p);
}
