/*
 * sb_util — sbbench's shared parts (sb.h): samples and records, file
 * operations as echo and cat do them, the raw QMP client, raw QEMU, the
 * floor mounts and the daemon's probe lines.
 */
#include "sb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t raw_pids[64];
int nraw_pids;

void kill_raw(void)
{
	for (int i = 0; i < nraw_pids; i++)
		if (raw_pids[i] > 0) {
			kill(raw_pids[i], SIGKILL);
			waitpid(raw_pids[i], NULL, 0);
			raw_pids[i] = 0;
		}
}

void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sbbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	kill_raw();
	exit(1);
}

void __attribute__((format(printf, 1, 2))) progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("  .. ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- samples ---------------------------------------------------------- */

void s_add(struct samples *s, double us)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("out of memory");
	}
	s->v[s->n++] = us;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
double pct(struct samples *s, double p)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	if (!s->n)
		return 0;
	size_t k = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > s->n)
		k = s->n;
	return s->v[k - 1];
}

double median(struct samples *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	return pct(s, 50);
}

void report(const char *sec, const char *op, const char *var, struct samples *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	printf("R\t%s\t%s\t%s\t%zu\t%.1f\t%.1f\n", sec, op, var, s->n, pct(s, 50), pct(s, 90));
	fflush(stdout);
	free(s->v);
	*s = (struct samples){0};
}

void report_pair(const char *sec, const char *op, struct samples *sfs, struct samples *raw)
{
	struct samples d = {0};
	for (size_t i = 0; i < sfs->n && i < raw->n; i++)
		s_add(&d, sfs->v[i] - raw->v[i]);
	report(sec, op, "sandboxfs", sfs);
	report(sec, op, "raw", raw);
	report(sec, op, "overhead (paired)", &d);
}

void __attribute__((format(printf, 2, 3))) info(const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("I\t%s\t", key);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	va_end(ap);
}

/* ---- file operations, as a shell's echo and cat do them --------------- */

int fs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* open, read to EOF, close — what cat does. */
ssize_t fs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	ssize_t n;
	while ((n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	int r = n < 0 ? -errno : 0;
	close(fd);
	buf[got] = '\0';
	return r < 0 ? r : (ssize_t)got;
}

double timed_write(const char *path, const char *s)
{
	double t0 = now_us();
	int r = fs_write(path, s);
	double t1 = now_us();
	if (r < 0)
		die("echo '%.*s' > %s: %s", (int)strcspn(s, "\n"), s, path, strerror(-r));
	return t1 - t0;
}

double timed_read(const char *path)
{
	char buf[4096];
	double t0 = now_us();
	ssize_t r = fs_read(path, buf, sizeof(buf));
	double t1 = now_us();
	if (r < 0)
		die("cat %s: %s", path, strerror((int)-r));
	return t1 - t0;
}

void must_write(const char *path, const char *s)
{
	int r = fs_write(path, s);
	if (r < 0)
		die("echo '%.*s' > %s: %s", (int)strcspn(s, "\n"), s, path, strerror(-r));
}

char * path_of(const char *mnt, const char *sb, const char *file)
{
	char *p;
	if (asprintf(&p, "%s/%s/%s", mnt, sb, file) < 0)
		die("out of memory");
	return p;
}

void sb_mkdir(const char *mnt, const char *sb, const char *config)
{
	char *d = path_of(mnt, sb, "");
	if (mkdir(d, 0755) < 0)
		die("mkdir %s: %s", d, strerror(errno));
	free(d);
	if (config) {
		char *c = path_of(mnt, sb, "config");
		must_write(c, config);
		free(c);
	}
}

void sb_ctl(const char *mnt, const char *sb, const char *verb)
{
	char *c = path_of(mnt, sb, "ctl");
	must_write(c, verb);
	free(c);
}

long rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		die("%s: %s", path, strerror(errno));
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
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

/*
 * exec QEMU with a bound listening socket as fd 3, connect, greeting,
 * qmp_capabilities — the fastest way to a negotiated QMP connection.
 */
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

/* The guest's console says it is up (the built-in guest's status line). */
bool console_says(const char *path, const char *what)
{
	static char buf[1 << 20];
	ssize_t n = fs_read(path, buf, sizeof(buf));
	return n > 0 && strstr(buf, what);
}

void wait_booted(const char *a, const char *b)
{
	double t0 = now_us();
	while (!console_says(a, "GUEST cpus=") || !console_says(b, "GUEST cpus=")) {
		if (now_us() - t0 > BOOT_TIMEOUT_S * 1e6)
			die("guests did not boot in %d s (%s, %s)", BOOT_TIMEOUT_S, a, b);
		usleep(200000);
	}
	info("guest_boot_s", "%.1f", (now_us() - t0) / 1e6);
}

double raw_timed(struct rawq *q, const char *cmd)
{
	double t0 = now_us();
	rq_cmd(q, cmd, NULL);
	return now_us() - t0;
}


void sb_rmdir(const char *mnt, const char *sb)
{
	char *d = path_of(mnt, sb, "");
	if (rmdir(d) < 0)
		die("rmdir %s: %s", d, strerror(errno));
	free(d);
}

/* ---- the floor mounts ---------------------------------------------------- */

static char *floor_dirs[16];
static pid_t floor_pids[16];
static int nfloors;

void floor_mount(const char *dir, const char *name, const char *contents, bool cached)
{
	const char *bdir = getenv("SBBENCH_BUILD") ? getenv("SBBENCH_BUILD") : "build/bench";
	char *bin, *nm, *ct;
	if (asprintf(&bin, "%s/%s", bdir, cached ? "floorfs-cached" : "floorfs") < 0 ||
	    asprintf(&nm, "--name=%s", name) < 0 || asprintf(&ct, "--contents=%s", contents) < 0)
		die("out of memory");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	if (nfloors == 16)
		die("too many floor mounts");
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0), dup2(nul, 1), dup2(nul, 2); /* 3.14 warns of its own default */
		execl(bin, bin, "-f", nm, ct, dir, (char *)NULL);
		_exit(127);
	}
	free(bin), free(nm), free(ct);
	floor_dirs[nfloors] = strdup(dir);
	floor_pids[nfloors++] = pid;
	char *probe = path_of(dir, name, "");
	probe[strlen(probe) - 1] = '\0'; /* DIR/NAME */
	for (int i = 0; i < 200; i++) {
		char buf[16];
		if (fs_read(probe, buf, sizeof(buf)) >= 0) {
			free(probe);
			return;
		}
		usleep(20000);
	}
	die("floorfs did not mount on %s", dir);
}

void floor_umount_all(void)
{
	for (int i = 0; i < nfloors; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			execlp("fusermount3", "fusermount3", "-u", "-q", floor_dirs[i], (char *)NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
		waitpid(floor_pids[i], NULL, 0);
		free(floor_dirs[i]);
	}
	nfloors = 0;
}

/* ---- the daemon's probe lines -------------------------------------------- */

long probe_mark(void)
{
	const char *log = getenv("SBBENCH_LOG");
	struct stat st;
	return log && stat(log, &st) == 0 ? (long)st.st_size : -1;
}

#define PROBE_COMPONENTS 32

struct comp {
	char name[64];
	struct samples s;
};

static struct comp *comp_of(struct comp *c, int *n, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(c[i].name, name))
			return &c[i];
	if (*n == PROBE_COMPONENTS)
		return NULL;
	snprintf(c[*n].name, sizeof(c[*n].name), "%s", name);
	return &c[(*n)++];
}

static void comp_add(struct comp *c, int *n, int lines, const char *name, double us)
{
	struct comp *x = comp_of(c, n, name);
	if (!x)
		return;
	while ((int)x->s.n < lines)
		s_add(&x->s, 0);
	s_add(&x->s, us);
}

/* One probe line's "k=v k=v ..." into the components (a component
 * missing from a line counts 0 for it: every line is one op), and what is
 * left of the daemon's time: "other" = total - queue - QMP - waits -
 * the state file. */
static void probe_line(struct comp *c, int *n, int lines, char *kv)
{
	double total = 0, spent = 0;
	for (char *tok = strtok(kv, " \n"); tok; tok = strtok(NULL, " \n")) {
		char *eq = strrchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		double us = atof(eq + 1);
		comp_add(c, n, lines, tok, us);
		if (!strcmp(tok, "total"))
			total = us;
		else if (!strcmp(tok, "queue") || !strcmp(tok, "persist") || !strncmp(tok, "qmp:", 4) ||
			 !strncmp(tok, "wait:", 5))
			spent += us;
	}
	comp_add(c, n, lines, "other", total - spent);
}

void probe_report(long mark, const char *op, const char *label)
{
	const char *log = getenv("SBBENCH_LOG");
	FILE *f = log && mark >= 0 ? fopen(log, "r") : NULL;
	if (!f)
		return;
	fseek(f, mark, SEEK_SET);
	struct comp c[PROBE_COMPONENTS];
	memset(c, 0, sizeof(c));
	int n = 0, lines = 0;
	char line[2048], want[256];
	/* OP itself, or OP and the value written ("memory/target" takes
	 * "memory/target 320"). */
	snprintf(want, sizeof(want), "probe\t%s", op);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, want), *kv;
		if (!p || (p[strlen(want)] != '\t' && p[strlen(want)] != ' ') || !(kv = strchr(p + 6, '\t')))
			continue;
		probe_line(c, &n, lines, kv + 1);
		lines++;
	}
	fclose(f);
	for (int i = 0; i < n; i++) {
		while ((int)c[i].s.n < lines)
			s_add(&c[i].s, 0);
		report("breakdown", label, c[i].name, &c[i].s);
	}
}

double timed_ls(const char *dir, int want)
{
	double t0 = now_us();
	DIR *d = opendir(dir);
	if (!d)
		die("opendir %s: %s", dir, strerror(errno));
	int cnt = 0;
	while (readdir(d))
		cnt++;
	closedir(d);
	double t = now_us() - t0;
	if (cnt < want)
		die("ls %s: %d entries, expected %d", dir, cnt, want);
	return t;
}

/* The last "GUEST cpus=" status line of a console says `what`. */
static bool console_last_has(const char *path, const char *what)
{
	static char buf[1 << 20];
	ssize_t n = fs_read(path, buf, sizeof(buf));
	if (n <= 0)
		return false;
	char *last = NULL;
	for (char *p = buf; (p = strstr(p, "GUEST cpus=")); p++)
		last = p;
	if (!last)
		return false;
	char *nl = strchr(last, '\n');
	if (!nl)
		return false; /* a line being written */
	*nl = '\0';
	return strstr(last, what) != NULL;
}

void wait_status(const char *a, const char *b, const char *what)
{
	double t0 = now_us();
	while (!console_last_has(a, what) || !console_last_has(b, what)) {
		if (now_us() - t0 > 60e6)
			die("the guests' status did not say %s within 60 s", what);
		usleep(50000);
	}
}
