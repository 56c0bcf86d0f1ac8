/*
 * sbbench — the timing loops behind `make bench` (driven by bench/run).
 *
 * Every figure is measured side by side in one run, the two sides
 * interleaved sample by sample so that machine noise hits both alike:
 *
 *   sbbench control  MNT TMP          sandboxfs file ops vs raw QMP (same argv)
 *   sbbench start    MNT TMP          `ctl start` vs exec → QMP negotiated
 *   sbbench scale    MNT TMP PID N R  N sandboxes, R of them running paused
 *   sbbench fusepath MNT TMP          cat state vs a tmpfs and a sysfs file
 *
 * The sandboxfs side is what a shell user's `echo`/`cat` costs in syscalls:
 * open + write + close (or open + read to EOF + close) on the file.  The raw
 * side is a QEMU started by this program with the very argv sandboxfs shows
 * in `cmdline` (the console redirected to TMP), its QMP socket handed over
 * as fd 3 exactly as vm_launch does, driven over the already-open
 * connection with the same QMP commands the daemon sends.
 *
 * Output, one record a line, tab-separated, on stdout:
 *   R <section> <op> <variant> <n> <median_us> <p90_us>
 *   I <key> <value>
 * Progress goes to stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QMP_TIMEOUT_MS 30000
#define BOOT_TIMEOUT_S 180

static pid_t raw_pids[8];
static int nraw_pids;

static void kill_raw(void)
{
	for (int i = 0; i < nraw_pids; i++)
		if (raw_pids[i] > 0) {
			kill(raw_pids[i], SIGKILL);
			waitpid(raw_pids[i], NULL, 0);
			raw_pids[i] = 0;
		}
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
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

static void __attribute__((format(printf, 1, 2))) progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("  .. ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* ---- samples ---------------------------------------------------------- */

struct samples {
	double *v;
	size_t n, cap;
};

static void s_add(struct samples *s, double us)
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
static double pct(const struct samples *s, double p)
{
	if (!s->n)
		return 0;
	size_t k = (size_t)(p / 100.0 * (double)s->n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > s->n)
		k = s->n;
	return s->v[k - 1];
}

static double median(struct samples *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	return pct(s, 50);
}

static void report(const char *sec, const char *op, const char *var, struct samples *s)
{
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	printf("R\t%s\t%s\t%s\t%zu\t%.1f\t%.1f\n", sec, op, var, s->n, pct(s, 50), pct(s, 90));
	fflush(stdout);
	free(s->v);
	*s = (struct samples){0};
}

static void __attribute__((format(printf, 2, 3))) info(const char *key, const char *fmt, ...)
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

static int fs_write(const char *path, const char *s)
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
static ssize_t fs_read(const char *path, char *buf, size_t len)
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

static double timed_write(const char *path, const char *s)
{
	double t0 = now_us();
	int r = fs_write(path, s);
	double t1 = now_us();
	if (r < 0)
		die("echo '%.*s' > %s: %s", (int)strcspn(s, "\n"), s, path, strerror(-r));
	return t1 - t0;
}

static double timed_read(const char *path)
{
	char buf[4096];
	double t0 = now_us();
	ssize_t r = fs_read(path, buf, sizeof(buf));
	double t1 = now_us();
	if (r < 0)
		die("cat %s: %s", path, strerror((int)-r));
	return t1 - t0;
}

static void must_write(const char *path, const char *s)
{
	int r = fs_write(path, s);
	if (r < 0)
		die("echo '%.*s' > %s: %s", (int)strcspn(s, "\n"), s, path, strerror(-r));
}

static char *path_of(const char *mnt, const char *sb, const char *file)
{
	char *p;
	if (asprintf(&p, "%s/%s/%s", mnt, sb, file) < 0)
		die("out of memory");
	return p;
}

static void sb_mkdir(const char *mnt, const char *sb, const char *config)
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

static void sb_ctl(const char *mnt, const char *sb, const char *verb)
{
	char *c = path_of(mnt, sb, "ctl");
	must_write(c, verb);
	free(c);
}

static long rss_kib(pid_t pid)
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

struct rawq {
	int fd;
	char buf[1 << 16];
	size_t len;
	char *stash[32]; /* events read while waiting for a reply */
	int nstash;
};

/* Next line from QMP (malloc'd, without the newline). */
static char *rq_line(struct rawq *q)
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
	if (!strstr(line, "DEVICE_DELETED") || q->nstash == 32) {
		free(line);
		return;
	}
	q->stash[q->nstash++] = line;
}

/* Send one command (a JSON text), wait for its reply; *ret gets the reply line. */
static void rq_cmd(struct rawq *q, const char *cmd, char **ret)
{
	size_t len = strlen(cmd);
	char out[8192];
	if (len + 2 > sizeof(out))
		die("QMP command too long");
	memcpy(out, cmd, len);
	out[len++] = '\n';
	if (write(q->fd, out, len) != (ssize_t)len)
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

static bool deleted_is(const char *line, const char *id)
{
	char want[160];
	snprintf(want, sizeof(want), "\"device\": \"%s\"", id);
	return strstr(line, "DEVICE_DELETED") && strstr(line, want);
}

static void rq_wait_deleted(struct rawq *q, const char *id)
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

struct rawvm {
	pid_t pid;
	struct rawq *q;
};

/* The argv sandboxfs would run (its cmdline file), console moved to con. */
static char **raw_argv(const char *mnt, const char *sb, const char *con)
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
		if (argc + 2 > cap)
			argv = realloc(argv, (cap *= 2) * sizeof(*argv));
		if (!argv)
			die("out of memory");
		if (!strncmp(s, "file,id=console,", 16)) {
			if (asprintf(&argv[argc++], "file,id=console,path=%s,append=on", con) < 0)
				die("out of memory");
		} else {
			argv[argc++] = strdup(s);
		}
	}
	argv[argc] = NULL;
	bool qmp_fd3 = false;
	for (size_t i = 0; i < argc; i++)
		qmp_fd3 |= strstr(argv[i], "id=qmp,fd=3") != NULL;
	if (!qmp_fd3)
		die("%s/%s/cmdline has no QMP chardev on fd 3; the bench needs updating", mnt, sb);
	return argv;
}

static void free_argv(char **argv)
{
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

/*
 * exec QEMU with a bound listening socket as fd 3, connect, greeting,
 * qmp_capabilities — the fastest way to a negotiated QMP connection.
 */
static void raw_start(struct rawvm *vm, char **argv, const char *sock, const char *log)
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
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		setsid();
		int nul = open("/dev/null", O_RDONLY);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
		    dup2(lfd, 3) < 0)
			_exit(126);
		syscall(SYS_close_range, 4, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(lfd);
	close(logfd);
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

static void raw_quit(struct rawvm *vm)
{
	rq_cmd(vm->q, "{\"execute\":\"quit\"}", NULL);
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
}

/* The guest's console says it is up (the built-in guest's status line). */
static bool console_says(const char *path, const char *what)
{
	static char buf[1 << 20];
	ssize_t n = fs_read(path, buf, sizeof(buf));
	return n > 0 && strstr(buf, what);
}

static void wait_booted(const char *a, const char *b)
{
	double t0 = now_us();
	while (!console_says(a, "GUEST cpus=") || !console_says(b, "GUEST cpus=")) {
		if (now_us() - t0 > BOOT_TIMEOUT_S * 1e6)
			die("guests did not boot in %d s (%s, %s)", BOOT_TIMEOUT_S, a, b);
		usleep(200000);
	}
	info("guest_boot_s", "%.1f", (now_us() - t0) / 1e6);
}

/* One free hotpluggable vCPU slot (lowest first), as device_add arguments. */
static char *raw_cpu_slot(struct rawq *q)
{
	char *reply;
	rq_cmd(q, "{\"execute\":\"query-hotpluggable-cpus\"}", &reply);
	struct json_object *o = json_tokener_parse(reply), *slots;
	free(reply);
	if (!o || !json_object_object_get_ex(o, "return", &slots))
		die("query-hotpluggable-cpus: bad reply");
	char *cmd = NULL;
	for (size_t k = json_object_array_length(slots); k-- > 0 && !cmd;) {
		struct json_object *slot = json_object_array_get_idx(slots, k), *type, *props, *v;
		if (json_object_object_get_ex(slot, "qom-path", &v) ||
		    !json_object_object_get_ex(slot, "type", &type) ||
		    !json_object_object_get_ex(slot, "props", &props))
			continue;
		struct json_object *args = json_object_new_object();
		int id[3] = {0, 0, 0};
		const char *keys[3] = {"socket-id", "core-id", "thread-id"};
		for (int i = 0; i < 3; i++)
			if (json_object_object_get_ex(props, keys[i], &v))
				id[i] = json_object_get_int(v);
		char cid[64];
		snprintf(cid, sizeof(cid), "cpu-%d-%d-%d", id[0], id[1], id[2]);
		json_object_object_add(args, "driver", json_object_get(type));
		json_object_object_add(args, "id", json_object_new_string(cid));
		json_object_object_foreach(props, key, val)
			json_object_object_add(args, key, json_object_get(val));
		struct json_object *c = json_object_new_object();
		json_object_object_add(c, "execute", json_object_new_string("device_add"));
		json_object_object_add(c, "arguments", args);
		cmd = strdup(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
		json_object_put(c);
	}
	json_object_put(o);
	if (!cmd)
		die("raw guest: no free vCPU slot");
	return cmd;
}

static double raw_timed(struct rawq *q, const char *cmd)
{
	double t0 = now_us();
	rq_cmd(q, cmd, NULL);
	return now_us() - t0;
}

/*
 * Which side goes first alternates sample by sample: the guest that just
 * took an op (a disk probe, a vCPU onlining) competes for the host CPUs
 * while the other side's op runs, and neither side should always pay it.
 */
#define BOTH(i, sfs, raw)              \
	do {                           \
		if ((i) % 2 == 0) {    \
			sfs;           \
			raw;           \
		} else {               \
			raw;           \
			sfs;           \
		}                      \
	} while (0)

/* ---- phases ------------------------------------------------------------- */

static double raw_disk_add(struct rawq *q, const char *backend, const char *frontend)
{
	double t0 = now_us();
	rq_cmd(q, backend, NULL);
	rq_cmd(q, frontend, NULL);
	return now_us() - t0;
}

static double raw_disk_remove(struct rawq *q)
{
	double t0 = now_us();
	rq_cmd(q, "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"d1\"}}", NULL);
	rq_wait_deleted(q, "d1");
	rq_cmd(q, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"drive-d1\"}}", NULL);
	return now_us() - t0;
}

/* query-hotpluggable-cpus + device_add into *whole; device_add alone into *add. */
static void raw_cpu_add(struct rawq *q, struct samples *whole, struct samples *add)
{
	double t0 = now_us();
	char *cmd = raw_cpu_slot(q);
	double t1 = now_us();
	rq_cmd(q, cmd, NULL);
	double t2 = now_us();
	free(cmd);
	s_add(whole, t2 - t0);
	s_add(add, t2 - t1);
}

#define CP_RUNS 20    /* vCPU adds: one slot each, maxvcpus = CP_RUNS + 4 */
#define LONG_RUNS 40  /* pause/resume, disk add/remove, start/stop: more samples against noise */
#define STATE_RUNS 200

static int phase_control(const char *mnt, const char *tmp)
{
	const char *sb = "bench-cp";
	char cfg[64];
	snprintf(cfg, sizeof(cfg), "{\"maxvcpus\": %d}\n", CP_RUNS + 4);
	sb_mkdir(mnt, sb, cfg);
	char con[1024], sock[1024], log[1024], simg[1024], rimg[1024];
	snprintf(con, sizeof(con), "%s/raw-cp-console.log", tmp);
	snprintf(sock, sizeof(sock), "%s/raw-cp.qmp", tmp);
	snprintf(log, sizeof(log), "%s/raw-cp-qemu.log", tmp);
	snprintf(simg, sizeof(simg), "%s/sfs-disk.img", tmp);
	snprintf(rimg, sizeof(rimg), "%s/raw-disk.img", tmp);
	for (const char *img = simg; img; img = img == simg ? rimg : NULL) {
		int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, 16 << 20) < 0)
			die("%s: %s", img, strerror(errno));
		close(fd);
	}
	char **argv = raw_argv(mnt, sb, con);
	struct rawvm raw = {0};
	progress("control path: starting the sandboxfs guest and a raw QEMU with the same argv");
	raw_start(&raw, argv, sock, log);
	sb_ctl(mnt, sb, "start\n");
	char *sconsole = path_of(mnt, sb, "console");
	wait_booted(sconsole, con);

	char *state = path_of(mnt, sb, "state"), *ctl = path_of(mnt, sb, "ctl");
	char *target = path_of(mnt, sb, "cpus/target");
	char *add = path_of(mnt, sb, "devices/add"), *rem = path_of(mnt, sb, "devices/remove");
	struct samples a = {0}, b = {0}, c = {0}, d = {0};

	progress("control path: state read x%d", STATE_RUNS);
	for (int i = 0; i < STATE_RUNS; i++)
		BOTH(i, s_add(&a, timed_read(state)),
		     s_add(&b, raw_timed(raw.q, "{\"execute\":\"query-status\"}")));
	report("control", "state read", "sandboxfs", &a);
	report("control", "state read", "raw", &b);

	progress("control path: pause/resume x%d", LONG_RUNS);
	for (int i = 0; i < LONG_RUNS; i++) {
		BOTH(i, s_add(&a, timed_write(ctl, "pause\n")),
		     s_add(&b, raw_timed(raw.q, "{\"execute\":\"stop\"}")));
		BOTH(i, s_add(&c, timed_write(ctl, "resume\n")),
		     s_add(&d, raw_timed(raw.q, "{\"execute\":\"cont\"}")));
	}
	report("control", "pause", "sandboxfs", &a);
	report("control", "pause", "raw", &b);
	report("control", "resume", "sandboxfs", &c);
	report("control", "resume", "raw", &d);

	progress("control path: disk hot-add/remove x%d", LONG_RUNS);
	char spec[4096], radd[4096], rdev[512];
	snprintf(spec, sizeof(spec),
		 "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"%s\",\"format\":\"raw\",\"readonly\":false}\n", simg);
	snprintf(radd, sizeof(radd),
		 "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"drive-d1\","
		 "\"read-only\":false,\"file\":{\"driver\":\"file\",\"filename\":\"%s\",\"read-only\":false}}}",
		 rimg);
	snprintf(rdev, sizeof(rdev),
		 "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\",\"id\":\"d1\","
		 "\"drive\":\"drive-d1\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}");
	for (int i = 0; i < LONG_RUNS; i++) {
		BOTH(i, s_add(&a, timed_write(add, spec)),
		     s_add(&b, raw_disk_add(raw.q, radd, rdev)));
		BOTH(i, s_add(&c, timed_write(rem, "d1\n")),
		     s_add(&d, raw_disk_remove(raw.q)));
	}
	report("control", "disk hot-add", "sandboxfs", &a);
	report("control", "disk hot-add", "raw", &b);
	report("control", "disk hot-remove", "sandboxfs", &c);
	report("control", "disk hot-remove", "raw", &d);

	/* The same from a shell loop (bash builtins, no fork): what `echo` costs. */
	progress("control path: the same from a bash loop");
	char *cmd;
	const char *bdir = getenv("SBBENCH_DIR") ? getenv("SBBENCH_DIR") : "bench";
	if (asprintf(&cmd, "exec bash '%s/shell_ops.sh' '%s/%s' %d '%s'", bdir, mnt, sb, CP_RUNS, simg) < 0)
		die("out of memory");
	FILE *sh = popen(cmd, "r");
	free(cmd);
	if (!sh)
		die("popen bash: %s", strerror(errno));
	char line[512];
	struct samples sh_s[5] = {{0}};
	static const char *const sh_ops[5] = {"state read", "pause", "resume", "disk hot-add", "disk hot-remove"};
	while (fgets(line, sizeof(line), sh)) {
		char op[64];
		double us;
		if (sscanf(line, "%63[^\t]\t%lf", op, &us) != 2)
			continue;
		for (int i = 0; i < 5; i++)
			if (!strcmp(op, sh_ops[i]))
				s_add(&sh_s[i], us);
	}
	if (pclose(sh) != 0)
		die("bench/shell_ops.sh failed");
	for (int i = 0; i < 5; i++)
		report("control", sh_ops[i], "sandboxfs shell", &sh_s[i]);

	/* Add only: on QEMU 7.2 TCG a hot-add after a vCPU unplug can crash QEMU. */
	progress("control path: vCPU hot-add x%d", CP_RUNS);
	for (int i = 0; i < CP_RUNS; i++) {
		char v[16];
		snprintf(v, sizeof(v), "%d\n", i + 2);
		BOTH(i, s_add(&a, timed_write(target, v)), raw_cpu_add(raw.q, &b, &c));
	}
	report("control", "vCPU hot-add", "sandboxfs", &a);
	report("control", "vCPU hot-add", "raw", &b);
	report("control", "vCPU hot-add", "raw device_add only", &c);

	progress("control path: stopping both guests");
	sb_ctl(mnt, sb, "stop\n");
	raw_quit(&raw);
	char *dir = path_of(mnt, sb, "");
	if (rmdir(dir) < 0)
		die("rmdir %s: %s", dir, strerror(errno));
	free(dir);
	free_argv(argv);
	free(sconsole), free(state), free(ctl), free(target), free(add), free(rem);
	return 0;
}

static int phase_start(const char *mnt, const char *tmp)
{
	const char *sb = "bench-start";
	sb_mkdir(mnt, sb, NULL);
	char con[1024], sock[1024], log[1024];
	snprintf(con, sizeof(con), "%s/raw-st-console.log", tmp);
	snprintf(sock, sizeof(sock), "%s/raw-st.qmp", tmp);
	snprintf(log, sizeof(log), "%s/raw-st-qemu.log", tmp);
	char **argv = raw_argv(mnt, sb, con);
	char *ctl = path_of(mnt, sb, "ctl");
	struct samples a = {0}, b = {0}, c = {0}, d = {0};
	progress("start latency x%d", LONG_RUNS);
	for (int i = 0; i < LONG_RUNS; i++) {
		struct rawvm raw = {0};
		double t0, t1;
		BOTH(i,
		     {
			     s_add(&a, timed_write(ctl, "start\n"));
			     s_add(&c, timed_write(ctl, "stop\n"));
		     },
		     {
			     t0 = now_us();
			     raw_start(&raw, argv, sock, log);
			     t1 = now_us();
			     raw_quit(&raw);
			     s_add(&b, t1 - t0);
			     s_add(&d, now_us() - t1);
		     });
	}
	report("start", "start", "sandboxfs", &a);
	report("start", "start", "raw", &b);
	report("start", "stop", "sandboxfs", &c);
	report("start", "stop", "raw", &d);
	char *dir = path_of(mnt, sb, "");
	if (rmdir(dir) < 0)
		die("rmdir %s: %s", dir, strerror(errno));
	free(dir);
	free(ctl);
	free_argv(argv);
	return 0;
}

struct par {
	pthread_barrier_t *bar;
	char *path;
	char val[16];
	double us;
	int err;
};

static void *par_add(void *arg)
{
	struct par *p = arg;
	pthread_barrier_wait(p->bar);
	double t0 = now_us();
	p->err = fs_write(p->path, p->val);
	p->us = now_us() - t0;
	return NULL;
}

static void par_ctl(const char *mnt, int n, const char *verb)
{
	/* Stop the running ones in parallel: each stop waits for its QEMU. */
	pthread_t th[n];
	struct par p[n];
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%03d", i);
		p[i] = (struct par){.bar = &bar, .path = path_of(mnt, name, "ctl")};
		snprintf(p[i].val, sizeof(p[i].val), "%s\n", verb);
		pthread_create(&th[i], NULL, par_add, &p[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (p[i].err < 0)
			fprintf(stderr, "sbbench: %s > %s: %s\n", verb, p[i].path, strerror(-p[i].err));
		free(p[i].path);
	}
	pthread_barrier_destroy(&bar);
}

static int phase_scale(const char *mnt, const char *tmp, pid_t daemon, int n, int nrun)
{
	(void)tmp;
	struct samples a = {0}, b = {0};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long rss0 = rss_kib(daemon);
	progress("scale: mkdir %d sandboxes", n);
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%03d", i);
		char *d = path_of(mnt, name, "");
		double t0 = now_us();
		if (mkdir(d, 0755) < 0)
			die("mkdir %s: %s", d, strerror(errno));
		s_add(&a, now_us() - t0);
		free(d);
	}
	report("scale", "mkdir", "sandboxfs", &a);
	/* Touch every sandbox once (as ls -l / cat would) before measuring RSS. */
	for (int i = 0; i < n; i++) {
		char name[32], buf[4096];
		snprintf(name, sizeof(name), "s%03d", i);
		char *st = path_of(mnt, name, "state");
		fs_read(st, buf, sizeof(buf));
		free(st);
	}
	long rss1 = rss_kib(daemon);
	info("nproc", "%ld", cpus);
	info("sandboxes", "%d", n);
	info("rss_before_kib", "%ld", rss0);
	info("rss_created_kib", "%ld", rss1);
	info("rss_per_idle_kib", "%.1f", (double)(rss1 - rss0) / n);

	progress("scale: ls and cat */state over %d sandboxes", n);
	for (int r = 0; r < 50; r++) {
		double t0 = now_us();
		DIR *dir = opendir(mnt);
		if (!dir)
			die("opendir %s: %s", mnt, strerror(errno));
		int cnt = 0;
		while (readdir(dir))
			cnt++;
		closedir(dir);
		s_add(&a, now_us() - t0);
		if (cnt < n)
			die("ls %s: %d entries, expected %d", mnt, cnt, n);
	}
	report("scale", "ls root (readdir)", "sandboxfs", &a);
	for (int r = 0; r < 20; r++) {
		double t0 = now_us();
		pid_t pid = fork();
		if (pid == 0) {
			int nul = open("/dev/null", O_WRONLY);
			dup2(nul, 1);
			execlp("ls", "ls", mnt, (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		s_add(&a, now_us() - t0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			die("ls %s failed", mnt);
		t0 = now_us();
		pid = fork();
		if (pid == 0) {
			int nul = open("/dev/null", O_WRONLY);
			dup2(nul, 1);
			execlp("true", "true", (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		s_add(&b, now_us() - t0);
	}
	report("scale", "ls root (the ls program)", "sandboxfs", &a);
	report("scale", "ls root (the ls program)", "fork+exec of true", &b);

	char **states = calloc((size_t)n, sizeof(*states));
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%03d", i);
		states[i] = path_of(mnt, name, "state");
	}
	for (int r = 0; r < 20; r++) {
		double t0 = now_us();
		for (int i = 0; i < n; i++) {
			char buf[4096];
			if (fs_read(states[i], buf, sizeof(buf)) < 0)
				die("cat %s failed", states[i]);
		}
		s_add(&a, now_us() - t0);
	}
	report("scale", "cat */state (all created)", "sandboxfs", &a);

	progress("scale: starting %d sandboxes ({\"memory_mib\":64}) and pausing them", nrun);
	for (int i = 0; i < nrun; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%03d", i);
		char *c = path_of(mnt, name, "config");
		must_write(c, "{\"memory_mib\": 64, \"maxvcpus\": 24}\n");
		free(c);
		double t0 = now_us();
		sb_ctl(mnt, name, "start\n");
		s_add(&a, now_us() - t0);
		sb_ctl(mnt, name, "pause\n");
	}
	report("scale", "start (while others run)", "sandboxfs", &a);
	long rss2 = rss_kib(daemon);
	info("running_paused", "%d", nrun);
	info("rss_running_kib", "%ld", rss2);
	info("rss_per_running_kib", "%.1f", (double)(rss2 - rss1) / nrun);

	for (int r = 0; r < 20; r++) {
		double t0 = now_us();
		for (int i = 0; i < n; i++) {
			char buf[4096];
			if (fs_read(states[i], buf, sizeof(buf)) < 0)
				die("cat %s failed", states[i]);
		}
		s_add(&a, now_us() - t0);
	}
	report("scale", "cat */state (running+created)", "sandboxfs", &a);
	for (int i = 0; i < n; i++)
		free(states[i]);
	free(states);

	/* One hot-add at a time, on each paused sandbox: the single-op figure. */
	progress("scale: %d single vCPU hot-adds, then 20 rounds of %d in parallel", nrun, nrun);
	for (int i = 0; i < nrun; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%03d", i);
		char *t = path_of(mnt, name, "cpus/target");
		s_add(&a, timed_write(t, "2\n"));
		free(t);
	}
	double single = median(&a);
	report("scale", "vCPU hot-add, one at a time", "sandboxfs", &a);

	/* nrun hot-adds at once, one per sandbox, released by a barrier. */
	struct samples worst = {0};
	for (int r = 0; r < 20; r++) {
		pthread_t th[nrun];
		struct par p[nrun];
		pthread_barrier_t bar;
		pthread_barrier_init(&bar, NULL, (unsigned)nrun + 1);
		for (int i = 0; i < nrun; i++) {
			char name[32];
			snprintf(name, sizeof(name), "s%03d", i);
			p[i] = (struct par){.bar = &bar, .path = path_of(mnt, name, "cpus/target")};
			snprintf(p[i].val, sizeof(p[i].val), "%d\n", r + 3);
			if (pthread_create(&th[i], NULL, par_add, &p[i]))
				die("pthread_create");
		}
		pthread_barrier_wait(&bar);
		double t0 = now_us();
		double w = 0;
		for (int i = 0; i < nrun; i++) {
			pthread_join(th[i], NULL);
			if (p[i].err < 0)
				die("parallel hot-add %s: %s", p[i].path, strerror(-p[i].err));
			if (p[i].us > w)
				w = p[i].us;
			free(p[i].path);
		}
		s_add(&b, now_us() - t0);
		s_add(&worst, w);
		pthread_barrier_destroy(&bar);
	}
	double total = median(&b);
	report("scale", "parallel vCPU hot-adds (total)", "sandboxfs", &b);
	report("scale", "parallel vCPU hot-adds (slowest one)", "sandboxfs", &worst);
	long waves = (nrun + cpus - 1) / cpus;
	info("parallel_budget_us", "%.1f", 2 * single * (double)waves);
	info("parallel_serial_us", "%.1f", single * nrun);
	info("parallel_total_us", "%.1f", total);

	progress("scale: stopping %d sandboxes, removing %d", nrun, n);
	par_ctl(mnt, nrun, "kill");
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "s%03d", i);
		char *d = path_of(mnt, name, "");
		if (rmdir(d) < 0)
			die("rmdir %s: %s", d, strerror(errno));
		free(d);
	}
	return 0;
}

static int phase_fusepath(const char *mnt, const char *tmp)
{
	const char *sb = "bench-fuse";
	sb_mkdir(mnt, sb, NULL);
	char *state = path_of(mnt, sb, "state");
	char shm[4096];
	snprintf(shm, sizeof(shm), "/dev/shm/sbbench-%d", (int)getpid());
	int fd = open(shm, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "created\n", 8) != 8)
		die("%s: %s", shm, strerror(errno));
	close(fd);
	const char *sys = "/sys/devices/system/cpu/online";
	struct samples a = {0}, b = {0}, c = {0};
	progress("FUSE path: cat state vs tmpfs vs sysfs x1000");
	for (int i = 0; i < 1000; i++) {
		s_add(&a, timed_read(state));
		s_add(&b, timed_read(shm));
		s_add(&c, timed_read(sys));
	}
	unlink(shm);
	report("fusepath", "cat (open+read+close)", "sandboxfs state", &a);
	report("fusepath", "cat (open+read+close)", "tmpfs file", &b);
	report("fusepath", "cat (open+read+close)", "sysfs file", &c);
	char *dir = path_of(mnt, sb, "");
	rmdir(dir);
	free(dir);
	free(state);
	(void)tmp;
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 4 && !strcmp(argv[1], "control"))
		return phase_control(argv[2], argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "start"))
		return phase_start(argv[2], argv[3]);
	if (argc >= 7 && !strcmp(argv[1], "scale"))
		return phase_scale(argv[2], argv[3], (pid_t)atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	if (argc >= 4 && !strcmp(argv[1], "fusepath"))
		return phase_fusepath(argv[2], argv[3]);
	fprintf(stderr,
		"usage: sbbench control|start|fusepath MNT TMP\n"
		"       sbbench scale MNT TMP DAEMON_PID N_SANDBOXES N_RUNNING\n");
	return 2;
}
