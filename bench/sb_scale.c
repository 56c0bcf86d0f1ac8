/*
 * sb_scale — N sandboxes on one mount, R of them running (64 MiB guests,
 * paused right after `start`: sandboxfs has no -S): mkdir, `ls` of the
 * root, `cat NAME/state` for every NAME over all N against as many reads on the floor
 * (floorfs), the daemon's RSS per idle and per running sandbox, one vCPU
 * hot-add at a time and R at once (one per sandbox); and the cost of one
 * `cat state` and one hot-add as the count grows, measured when 1, 64, 256
 * and 1024 sandboxes exist (a fresh running sandbox for the hot-adds at
 * each point, so every point adds to the same vCPU counts).
 */
#include "sb.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POINT_READS 300
#define POINT_ADDS 8
#define PAR_ROUNDS 10
#define RUN_CONFIG "{\"memory_mib\": 64, \"maxvcpus\": 32}\n"

static char *name_of(int i)
{
	static __thread char b[32];
	snprintf(b, sizeof(b), "s%04d", i);
	return b;
}

static void start_paused(const char *mnt, int i, struct samples *starts)
{
	char *c = path_of(mnt, name_of(i), "config");
	must_write(c, RUN_CONFIG);
	free(c);
	double t0 = now_us();
	sb_ctl(mnt, name_of(i), "start\n");
	if (starts)
		s_add(starts, now_us() - t0);
	sb_ctl(mnt, name_of(i), "pause\n");
}

/* At `count` sandboxes: cat state (beside the floor), ls, and hot-adds on
 * the sandbox just started, beside the same device_add on a raw QEMU of
 * the same argv, started and paused the same way just before (the machine
 * drifts between the points; the ratio is what is judged, as for cat). */
static void point(const char *mnt, const char *tmp, int count, int fresh, const char *floor)
{
	char *st = path_of(mnt, name_of(0), "state"), *t = path_of(mnt, name_of(fresh), "cpus/target");
	char con[1024], sock[1024], log[1024], id[64];
	snprintf(con, sizeof(con), "%s/raw-point-console.log", tmp);
	snprintf(sock, sizeof(sock), "%s/raw-point.qmp", tmp);
	snprintf(log, sizeof(log), "%s/raw-point-qemu.log", tmp);
	char **argv = raw_argv(mnt, name_of(fresh), con);
	struct rawvm raw = {0};
	raw_start(&raw, argv, sock, log);
	rq_cmd(raw.q, "{\"execute\":\"stop\"}", NULL);
	struct samples a = {0}, b = {0}, c = {0}, d = {0}, r = {0};
	for (int i = 0; i < POINT_READS; i++)
		BOTH(i, s_add(&a, timed_read(st)), s_add(&b, timed_read(floor)));
	for (int i = 0; i < 20; i++)
		s_add(&c, timed_ls(mnt, count));
	for (int i = 0; i < POINT_ADDS; i++) {
		char v[16];
		snprintf(v, sizeof(v), "%d\n", i + 2);
		char *add = raw_cpu_slot(raw.q, id, sizeof(id)); /* untimed, as the daemon knows its slots */
		BOTH(i, s_add(&d, timed_write(t, v)), s_add(&r, raw_timed(raw.q, add)));
		free(add);
	}
	raw_quit(&raw);
	free_argv(argv);
	char op[64];
	snprintf(op, sizeof(op), "%d", count);
	report("flat", op, "cat state", &a);
	report("flat", op, "cat state (floor)", &b);
	report("flat", op, "ls root", &c);
	report("flat", op, "vCPU hot-add", &d);
	report("flat", op, "vCPU hot-add (raw)", &r);
	free(st), free(t);
}

struct par {
	pthread_barrier_t *bar;
	char *path;
	char val[16];
	double us;
	int err;
};

static void *par_write(void *arg)
{
	struct par *p = arg;
	pthread_barrier_wait(p->bar);
	double t0 = now_us();
	p->err = fs_write(p->path, p->val);
	p->us = now_us() - t0;
	return NULL;
}

/* `verb` written to each of the sandboxes in `ids` at once. */
static double parallel(const char *mnt, const int *ids, int n, const char *file, const char *val,
		       double *slowest)
{
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	struct par *p = calloc((size_t)n, sizeof(*p));
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		p[i] = (struct par){.bar = &bar, .path = path_of(mnt, name_of(ids[i]), file)};
		snprintf(p[i].val, sizeof(p[i].val), "%s", val);
		if (pthread_create(&th[i], NULL, par_write, &p[i]))
			die("pthread_create");
	}
	pthread_barrier_wait(&bar);
	double t0 = now_us(), w = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (p[i].err < 0)
			die("parallel %s > %s: %s", val, p[i].path, strerror(-p[i].err));
		if (p[i].us > w)
			w = p[i].us;
		free(p[i].path);
	}
	double total = now_us() - t0;
	pthread_barrier_destroy(&bar);
	free(th), free(p);
	if (slowest)
		*slowest = w;
	return total;
}

/* CPU time of a process (user + system), ms; 0 when it is gone. */
static double cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ssize_t n = fs_read(path, buf, sizeof(buf) - 1);
	char *p = n > 0 ? strrchr(buf, ')') : NULL;
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* The CPU time the daemon, the running sandboxes' QEMUs and this bench
 * have used so far, ms. */
struct cpu_use {
	double daemon, qemus, bench;
};
static struct cpu_use cpu_now(const char *mnt, pid_t daemon, const int *ids, int n)
{
	struct cpu_use u = {cpu_ms(daemon), 0, cpu_ms(getpid())};
	for (int i = 0; i < n; i++) {
		char *f = path_of(mnt, name_of(ids[i]), "pid"), buf[32];
		ssize_t k = fs_read(f, buf, sizeof(buf) - 1);
		free(f);
		if (k > 0) {
			buf[k] = '\0';
			u.qemus += cpu_ms((pid_t)atoi(buf));
		}
	}
	return u;
}

/* cat NAME/state of every sandbox, against as many reads of the floor. */
static void cat_all(const char *mnt, int n, const char *floor, const char *label)
{
	char **states = calloc((size_t)n, sizeof(*states));
	for (int i = 0; i < n; i++)
		states[i] = path_of(mnt, name_of(i), "state");
	struct samples a = {0}, b = {0};
	char buf[256];
	for (int r = 0; r < 20; r++) {
		BOTH(r,
		     {
			     double t0 = now_us();
			     for (int i = 0; i < n; i++)
				     if (fs_read(states[i], buf, sizeof(buf)) < 0)
					     die("cat %s failed", states[i]);
			     s_add(&a, now_us() - t0);
		     },
		     {
			     double t0 = now_us();
			     for (int i = 0; i < n; i++)
				     fs_read(floor, buf, sizeof(buf));
			     s_add(&b, now_us() - t0);
		     });
	}
	report("scale", label, "sandboxfs", &a);
	report("scale", label, "floor", &b);
	for (int i = 0; i < n; i++)
		free(states[i]);
	free(states);
}

/* One scale run: the mount, the floor beside it, the sandboxes running. */
struct scale {
	const char *mnt, *tmp;
	pid_t daemon;
	int n;
	long cpus;
	char floor[1100];
	int *running, nrunning;
	bool *is_point; /* started for a point(), its vCPUs added there */
};

/* mkdir of N sandboxes, a point() as the count passes 1, 64, 256, 1024
 * (or N, the last point short of it). */
static void scale_mkdir_all(struct scale *sc)
{
	static const int points[] = {1, 64, 256, 1024};
	const char *mnt = sc->mnt;
	int n = sc->n;
	struct samples mk = {0};
	progress("scale: mkdir %d sandboxes; cat state and hot-adds at 1, 64, 256, 1024", n);
	for (int i = 0; i < n; i++) {
		char *d = path_of(mnt, name_of(i), "");
		double t0 = now_us();
		if (mkdir(d, 0755) < 0)
			die("mkdir %s: %s", d, strerror(errno));
		s_add(&mk, now_us() - t0);
		free(d);
		for (size_t k = 0; k < sizeof(points) / sizeof(points[0]); k++)
			if (points[k] == i + 1 || (i + 1 == n && points[k] > n && (k == 0 || points[k - 1] < n))) {
				start_paused(mnt, i, NULL);
				sc->running[sc->nrunning++] = i;
				sc->is_point[i] = true;
				point(mnt, sc->tmp, i + 1, i, sc->floor);
				break;
			}
	}
	report("scale", "mkdir", "sandboxfs", &mk);
}

/* One hot-add at a time on each running sandbox, then PAR_ROUNDS of one
 * on each at once, and whose CPU those rounds took. */
static void scale_hot_adds(struct scale *sc)
{
	const char *mnt = sc->mnt;
	int nrunning = sc->nrunning, *running = sc->running;
	/* One hot-add at a time on each running sandbox: the single-op figure
	 * (the others first get the point sandboxes' POINT_ADDS, untimed). */
	progress("scale: %d single vCPU hot-adds, then %d rounds of %d at once", nrunning, PAR_ROUNDS, nrunning);
	struct samples one = {0}, tot = {0}, slow = {0};
	for (int k = 0; k < nrunning; k++) {
		char *t = path_of(mnt, name_of(running[k]), "cpus/target"), s[16];
		/* Never a decrease: QEMU 7.2 may crash on a hot-add after an unplug. */
		if (!sc->is_point[running[k]]) {
			snprintf(s, sizeof(s), "%d\n", POINT_ADDS + 1);
			must_write(t, s);
		}
		snprintf(s, sizeof(s), "%d\n", POINT_ADDS + 2);
		s_add(&one, timed_write(t, s));
		free(t);
	}
	double single = median(&one);
	report("scale", "vCPU hot-add, one at a time", "sandboxfs", &one);
	struct cpu_use u0 = cpu_now(mnt, sc->daemon, running, nrunning);
	for (int r = 0; r < PAR_ROUNDS; r++) {
		char v[16];
		double w;
		snprintf(v, sizeof(v), "%d\n", POINT_ADDS + 3 + r);
		s_add(&tot, parallel(mnt, running, nrunning, "cpus/target", v, &w));
		s_add(&slow, w);
	}
	/* Whose CPU a round takes: on `cpus` CPUs no round can be shorter than
	 * the sum over them. */
	struct cpu_use u1 = cpu_now(mnt, sc->daemon, running, nrunning);
	info("parallel_cpu_daemon_ms", "%.1f", (u1.daemon - u0.daemon) / PAR_ROUNDS);
	info("parallel_cpu_qemus_ms", "%.1f", (u1.qemus - u0.qemus) / PAR_ROUNDS);
	info("parallel_cpu_bench_ms", "%.1f", (u1.bench - u0.bench) / PAR_ROUNDS);
	double total = median(&tot);
	report("scale", "parallel vCPU hot-adds (total)", "sandboxfs", &tot);
	report("scale", "parallel vCPU hot-adds (slowest one)", "sandboxfs", &slow);
	long waves = (nrunning + sc->cpus - 1) / sc->cpus;
	info("parallel_budget_us", "%.1f", 1.2 * single * (double)waves);
	info("parallel_serial_us", "%.1f", single * nrunning);
	info("parallel_total_us", "%.1f", total);
}

int phase_scale(const char *mnt, const char *tmp, pid_t daemon, int n, int nrun)
{
	struct scale sc = {.mnt = mnt, .tmp = tmp, .daemon = daemon, .n = n};
	sc.cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char fdir[1024];
	snprintf(fdir, sizeof(fdir), "%s/floor-scale", tmp);
	floor_mount(fdir, "state", "created\n", false);
	snprintf(sc.floor, sizeof(sc.floor), "%s/state", fdir);
	sc.running = calloc((size_t)n + 4, sizeof(int));
	sc.is_point = calloc((size_t)n, sizeof(bool));
	long rss0 = rss_kib(daemon);
	scale_mkdir_all(&sc);
	/* Touch every sandbox once (as ls -l or cat would) before the RSS. */
	char buf[256];
	for (int i = 0; i < n; i++) {
		char *st = path_of(mnt, name_of(i), "state");
		fs_read(st, buf, sizeof(buf));
		free(st);
	}
	long rss1 = rss_kib(daemon);
	info("nproc", "%ld", sc.cpus);
	info("sandboxes", "%d", n);
	info("rss_before_kib", "%ld", rss0);
	info("rss_created_kib", "%ld", rss1);
	info("rss_running_at_created", "%d", sc.nrunning);
	info("rss_per_idle_kib", "%.2f", (double)(rss1 - rss0) / n);

	progress("scale: ls and cat */state over %d sandboxes", n);
	struct samples ls = {0}, starts = {0};
	for (int r = 0; r < 50; r++)
		s_add(&ls, timed_ls(mnt, n));
	report("scale", "ls root (readdir)", "sandboxfs", &ls);
	cat_all(mnt, n, sc.floor, "cat */state (created)");

	progress("scale: starting sandboxes ({\"memory_mib\":64}) and pausing them, to %d running", nrun);
	for (int i = 0; i < n && sc.nrunning < nrun; i++) {
		bool is_running = false;
		for (int k = 0; k < sc.nrunning; k++)
			is_running |= sc.running[k] == i;
		if (is_running)
			continue;
		start_paused(mnt, i, &starts);
		sc.running[sc.nrunning++] = i;
	}
	report("scale", "start (while others run)", "sandboxfs", &starts);
	long rss2 = rss_kib(daemon);
	info("running_paused", "%d", sc.nrunning);
	info("rss_running_kib", "%ld", rss2);
	info("rss_per_running_kib", "%.1f", (double)(rss2 - rss1) / (sc.nrunning > 4 ? sc.nrunning - 4 : 1));
	cat_all(mnt, n, sc.floor, "cat */state (running+created)");

	scale_hot_adds(&sc);

	progress("scale: killing %d sandboxes, removing %d", sc.nrunning, n);
	parallel(mnt, sc.running, sc.nrunning, "ctl", "kill\n", NULL);
	for (int i = 0; i < n; i++)
		sb_rmdir(mnt, name_of(i));
	floor_umount_all();
	free(sc.running);
	free(sc.is_point);
	return 0;
}
