/*
 * sb_raw — the raw side of sbbench: a QMP client of its own and a QEMU
 * started with the argv sandboxfs shows in `cmdline`, its descriptors and
 * cgroup made as the daemon makes them; and the raw QEMUs killed on exit.
 */
#include "sb.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The raw QEMUs running, for kill_raw (at exit and in die). */
static pid_t raw_pids[64];
static int nraw_pids;

void kill_raw(void)
{
	for (int i = 0; i < nraw_pids; i++)
		if (raw_pids[i] > 0) {
			kill(raw_pids[i], SIGKILL);
			waitpid(raw_pids[i], NULL, 0);
			raw_pids[i] = 0;
		}
}

/* ---- raw QMP ------------------------------------------------------------ */

/* Next line from QMP (malloc'd, without the newline). */
char * rq_line(struct rawq *q)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		if (nl) {
			size_t l = (size_t)(nl - q->buf);
			char *line = strndup(q->buf, l);
			memmove(q->buf, nl + 1, q->len - l - 1);
			q->len -= l + 1;
			return line;
		}
		if (q->len == sizeof(q->buf))
			die("QMP line too long");
		struct pollfd p = {.fd = q->fd, .events = POLLIN};
		if (poll(&p, 1, QMP_TIMEOUT_MS) != 1)
			die("QMP: no answer in %d ms", QMP_TIMEOUT_MS);
		ssize_t n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n <= 0)
			die("QMP: connection closed");
		q->len += (size_t)n;
	}
}

static void rq_stash(struct rawq *q, char *line)
{
	if (!strstr(line, "DEVICE_DELETED") || q->nstash == 64) {
		free(line);
		return;
	}
	q->stash[q->nstash++] = line;
}

/* Send one command (a JSON text), wait for its reply; *ret gets the reply line. */
void rq_cmd_fd(struct rawq *q, const char *cmd, int fd, char **ret)
{
	size_t len = strlen(cmd);
	char out[8192];
	if (len + 2 > sizeof(out))
		die("QMP command too long");
	memcpy(out, cmd, len);
	out[len++] = '\n';
	struct iovec iov = {.iov_base = out, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(q->fd, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		die("QMP write: %s", strerror(errno));
	for (;;) {
		char *line = rq_line(q);
		if (!strncmp(line, "{\"return\"", 9)) {
			if (ret)
				*ret = line;
			else
				free(line);
			return;
		}
		if (!strncmp(line, "{\"error\"", 8))
			die("QMP %s: %s", cmd, line);
		rq_stash(q, line);
	}
}

void rq_cmd(struct rawq *q, const char *cmd, char **ret) { rq_cmd_fd(q, cmd, -1, ret); }

double raw_timed(struct rawq *q, const char *cmd)
{
	double t0 = now_us();
	rq_cmd(q, cmd, NULL);
	return now_us() - t0;
}

/* DEVICE_DELETED of the device `id`: by its id, or (a vCPU, as QEMU 7.2
 * and 10 report it) by the path of a child of it, as the daemon matches
 * (vm/sandbox/cpus.c). */
static bool deleted_is(const char *line, const char *id)
{
	char want[160], path[160];
	snprintf(want, sizeof(want), "\"device\": \"%s\"", id);
	snprintf(path, sizeof(path), "\"path\": \"/machine/peripheral/%s", id);
	const char *p = strstr(line, path);
	/* Only a vCPU is reported by a child's path alone; a disk's child
	 * (its virtio-backend) goes first, before the disk itself. */
	bool cpu = !strncmp(id, "cpu-", 4);
	return strstr(line, "DEVICE_DELETED") &&
	       (strstr(line, want) || (cpu && p && (p[strlen(path)] == '"' || p[strlen(path)] == '/')));
}

void rq_wait_deleted(struct rawq *q, const char *id)
{
	for (int i = 0; i < q->nstash; i++)
		if (deleted_is(q->stash[i], id)) {
			free(q->stash[i]);
			q->stash[i] = q->stash[--q->nstash];
			return;
		}
	for (;;) {
		char *line = rq_line(q);
		bool hit = deleted_is(line, id);
		free(line);
		if (hit)
			return;
	}
}

/* ---- raw QEMU ----------------------------------------------------------- */

/* The descriptors the argv names by number (-kernel /proc/self/fd/N,
 * -add-fd fd=N for the console's /dev/fdset/S), opened here as the daemon
 * opens them, placed at N by raw_start: the same argv, the same files. */
struct placed {
	int num, flags;
	char *path;
};
static struct placed plan[8];
static int nplan;

static char *config_str(const char *mnt, const char *sb, const char *key)
{
	char *p = path_of(mnt, sb, "config"), buf[65536];
	ssize_t n = fs_read(p, buf, sizeof(buf));
	free(p);
	struct json_object *o = n > 0 ? json_tokener_parse(buf) : NULL, *v;
	char *r = o && json_object_object_get_ex(o, key, &v) ? strdup(json_object_get_string(v)) : NULL;
	json_object_put(o);
	if (!r || !*r)
		die("%s/config has no %s", sb, key);
	return r;
}

static void raw_plan(const char *mnt, const char *sb, const char *con, char **argv)
{
	for (int i = 0; i < nplan; i++)
		free(plan[i].path);
	nplan = 0;
	for (size_t i = 0; argv[i] && argv[i + 1]; i++) {
		int num, set;
		const char *a = argv[i], *v = argv[i + 1];
		if (nplan == 8)
			die("too many descriptors in the argv");
		if (sscanf(v, "/proc/self/fd/%d", &num) == 1 && (!strcmp(a, "-kernel") || !strcmp(a, "-initrd"))) {
			plan[nplan++] = (struct placed){num, O_RDONLY, config_str(mnt, sb, a + 1)};
		} else if (!strcmp(a, "-add-fd") && sscanf(v, "fd=%d,set=%d", &num, &set) == 2) {
			char want[64];
			snprintf(want, sizeof(want), "path=/dev/fdset/%d,", set);
			bool console = false;
			for (size_t k = 0; argv[k]; k++)
				console |= strstr(argv[k], want) && strstr(argv[k], "id=console");
			if (!console)
				die("argv: fdset %d is not the console's; the bench needs updating", set);
			plan[nplan++] = (struct placed){num, O_WRONLY | O_APPEND | O_CREAT, strdup(con)};
		} else if (strstr(v, "/proc/self/fd/")) {
			die("argv: %s %s: the bench needs updating", a, v);
		}
	}
}

char ** raw_argv(const char *mnt, const char *sb, const char *con)
{
	char *p = path_of(mnt, sb, "cmdline");
	static char buf[65536];
	ssize_t n = fs_read(p, buf, sizeof(buf));
	if (n < 0)
		die("cat %s: %s", p, strerror((int)-n));
	free(p);
	size_t cap = 8, argc = 0;
	char **argv = malloc(cap * sizeof(*argv));
	for (char *s = strtok(buf, "\n"); s; s = strtok(NULL, "\n")) {
		if (*s == '#') /* "# qemu VERSION BINARY": a comment, not the argv */
			continue;
		if (argc + 2 > cap)
			argv = realloc(argv, (cap *= 2) * sizeof(*argv));
		if (!argv)
			die("out of memory");
		argv[argc++] = strdup(s);
	}
	argv[argc] = NULL;
	bool qmp_fd3 = false;
	for (size_t i = 0; i < argc; i++)
		qmp_fd3 |= strstr(argv[i], "id=qmp,fd=3") != NULL;
	if (!qmp_fd3)
		die("%s/%s/cmdline has no QMP chardev on fd 3; the bench needs updating", mnt, sb);
	raw_plan(mnt, sb, con, argv);
	return argv;
}

void free_argv(char **argv)
{
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

/* The raw QEMU's cgroup: made, cgroup.procs opened (the child joins). */
static int raw_cgroup(struct rawvm *vm, int *fds)
{
	static const char *const ctl[3] = {"cpu", "memory", "pids"};
	static int seq;
	const char *parent = getenv("SBBENCH_CGROUP");
	if (!parent || !*parent)
		return 0;
	int n = 0;
	seq++;
	for (int i = 0; i < 3; i++) {
		char base[256];
		snprintf(base, sizeof(base), "/sys/fs/cgroup/%s/%s", ctl[i], parent);
		mkdir(base, 0755);
		if (asprintf(&vm->cg[i], "%s/raw-%d-%d", base, (int)getpid(), seq) < 0)
			die("out of memory");
		char procs[400];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", vm->cg[i]);
		if (mkdir(vm->cg[i], 0755) < 0 || (fds[n] = open(procs, O_WRONLY | O_CLOEXEC)) < 0)
			die("cgroup %s: %s", vm->cg[i], strerror(errno));
		n++;
	}
	return n;
}

/*
 * exec QEMU with a bound listening socket as fd 3, connect, greeting,
 * qmp_capabilities — the fastest way to a negotiated QMP connection.
 */
void raw_start(struct rawvm *vm, char **argv, const char *sock, const char *log)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(sock) >= sizeof(sun.sun_path))
		die("socket path too long: %s", sock);
	strcpy(sun.sun_path, sock);
	unlink(sock);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lfd, 4) < 0)
		die("listen %s: %s", sock, strerror(errno));
	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0)
		die("open %s: %s", log, strerror(errno));
	/* Above the fds the child rearranges (dup2 onto itself keeps CLOEXEC). */
	int h = fcntl(lfd, F_DUPFD_CLOEXEC, 10);
	close(lfd);
	lfd = h;
	h = fcntl(logfd, F_DUPFD_CLOEXEC, 10);
	close(logfd);
	logfd = h;
	if (lfd < 0 || logfd < 0)
		die("fcntl: %s", strerror(errno));
	int pfd[8], top = 3;
	for (int i = 0; i < nplan; i++) {
		int fd = open(plan[i].path, plan[i].flags | O_CLOEXEC, 0600);
		if (fd < 0 || (pfd[i] = fcntl(fd, F_DUPFD_CLOEXEC, 20)) < 0)
			die("%s: %s", plan[i].path, strerror(errno));
		close(fd);
		if (plan[i].num > top)
			top = plan[i].num;
	}
	int cgfd[3], ncg = raw_cgroup(vm, cgfd);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		setsid();
		for (int i = 0; i < ncg; i++)
			if (write(cgfd[i], "0", 1) != 1)
				_exit(125);
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
		    dup2(lfd, 3) < 0)
			_exit(126);
		for (int i = 0; i < nplan; i++)
			if (dup2(pfd[i], plan[i].num) < 0)
				_exit(126);
		syscall(SYS_close_range, top + 1, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(lfd);
	close(logfd);
	for (int i = 0; i < nplan; i++)
		close(pfd[i]);
	for (int i = 0; i < ncg; i++)
		close(cgfd[i]);
	vm->pid = pid;
	raw_pids[nraw_pids++] = pid;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("connect %s: %s", sock, strerror(errno));
	vm->q = calloc(1, sizeof(*vm->q));
	vm->q->fd = fd;
	char *greeting = rq_line(vm->q);
	if (strncmp(greeting, "{\"QMP\"", 6))
		die("QMP greeting: %s", greeting);
	free(greeting);
	rq_cmd(vm->q, "{\"execute\":\"qmp_capabilities\"}", NULL);
}

void raw_quit(struct rawvm *vm) { raw_quit_timed(vm, NULL, NULL); }

void raw_quit_timed(struct rawvm *vm, double *quit_us, double *exit_us)
{
	double t0 = now_us();
	rq_cmd(vm->q, "{\"execute\":\"quit\"}", NULL);
	double t1 = now_us();
	waitpid(vm->pid, NULL, 0);
	for (int i = 0; i < nraw_pids; i++)
		if (raw_pids[i] == vm->pid)
			raw_pids[i] = 0;
	close(vm->q->fd);
	for (int i = 0; i < vm->q->nstash; i++)
		free(vm->q->stash[i]);
	free(vm->q);
	vm->q = NULL;
	vm->pid = 0;
	for (int i = 0; i < 3; i++) {
		if (vm->cg[i] && rmdir(vm->cg[i]) < 0)
			fprintf(stderr, "sbbench: rmdir %s: %s\n", vm->cg[i], strerror(errno));
		free(vm->cg[i]);
		vm->cg[i] = NULL;
	}
	if (quit_us)
		*quit_us = t1 - t0;
	if (exit_us)
		*exit_us = now_us() - t1;
}
