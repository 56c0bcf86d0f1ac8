/*
 * obsbench — the observability figures of `make bench` (driven by
 * bench/run): what reading a sandbox's `stats` and the root's `metrics`
 * costs, as a program does it (open + read to EOF + close).
 *
 *   obsbench MNT TMP N R    N sandboxes (created), R of them running
 *
 * Measured, interleaved sample by sample where two go side by side:
 *   cat stats (running, fresh)   the QMP figures younger than 1 s: host
 *                                figures read, no QMP round trip
 *   cat stats (running, stale)   older than 1 s: the read starts the
 *                                refresh (3 QMP commands) and waits for it
 *   cat stats (created)          nothing running: the record only
 *   cat metrics (N, R running)   every sandbox, never waiting for QEMU
 * The sandboxes it makes are removed again.
 *
 * Output, one record a line, tab-separated, on stdout (bench/report.awk):
 *   R obs <op> sandboxfs <n> <median_us> <p90_us>
 *   I <key> <value>
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("obsbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* open + read to EOF + close; the bytes read. */
static size_t cat(const char *path)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	size_t total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	if (n < 0)
		die("read %s: %s", path, strerror(errno));
	close(fd);
	return total;
}

/* The file holds `needle` somewhere. */
static int console_says(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int found = 0;
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	if (f)
		fclose(f);
	return found;
}

static void put(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, v, strlen(v)) != (ssize_t)strlen(v))
		die("write %s to %s: %s", v, path, strerror(errno));
	close(fd);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *op, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	int m = (n + 1) / 2 - 1, p = (int)(n * 0.9 + 0.999999) - 1;
	printf("R\tobs\t%s\tsandboxfs\t%d\t%.1f\t%.1f\n", op, n, v[m], v[p]);
	fflush(stdout);
}

static double timed_cat(const char *path)
{
	double t0 = now_us();
	cat(path);
	return now_us() - t0;
}

/* N sandboxes made, the first R started with a 16 MiB disk, booted. */
static void obs_setup(const char *mnt, const char *tmp, int n, int nrun)
{
	char path[512], val[1024];
	fprintf(stderr, "  .. obs: mkdir %d sandboxes, start %d with a disk\n", n, nrun);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/obs-%03d", mnt, i);
		if (mkdir(path, 0755) < 0)
			die("mkdir %s: %s", path, strerror(errno));
	}
	for (int i = 0; i < nrun; i++) {
		snprintf(path, sizeof(path), "%s/obs-%03d/config", mnt, i);
		put(path, "{\"memory_mib\":128}");
		snprintf(val, sizeof(val), "%s/obs-%03d.img", tmp, i);
		int fd = open(val, O_CREAT | O_WRONLY, 0600);
		if (fd < 0 || ftruncate(fd, 16 << 20) < 0)
			die("%s: %s", val, strerror(errno));
		close(fd);
		char spec[1200];
		snprintf(spec, sizeof(spec), "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"%s\"}", val);
		snprintf(path, sizeof(path), "%s/obs-%03d/devices/add", mnt, i);
		put(path, spec);
		snprintf(path, sizeof(path), "%s/obs-%03d/ctl", mnt, i);
		put(path, "start");
	}
	/* measured on booted guests (a booting TCG guest keeps QEMU busy) */
	for (int i = 0; i < nrun; i++) {
		snprintf(path, sizeof(path), "%s/obs-%03d/console", mnt, i);
		for (int t = 0; t < 600 && !console_says(path, "GUEST cpus="); t++)
			usleep(200000);
	}
}

/* The figures: cat stats (fresh, created, stale) and cat metrics. */
static void obs_measure(const char *mnt, int n, int nrun)
{
	char run_stats[512], idle_stats[512], metrics[512];
	snprintf(run_stats, sizeof(run_stats), "%s/obs-000/stats", mnt);
	snprintf(idle_stats, sizeof(idle_stats), "%s/obs-%03d/stats", mnt, n - 1);
	snprintf(metrics, sizeof(metrics), "%s/metrics", mnt);
	cat(run_stats);
	enum { NS = 200, NM = 50, NSTALE = 15 };
	static double a[NS], b[NS], m[NM], st[NSTALE];
	fprintf(stderr, "  .. obs: cat stats x%d (running, fresh) and (created), interleaved\n", NS);
	for (int i = 0; i < NS; i++) {
		if (i % 2) {
			a[i] = timed_cat(run_stats);
			b[i] = timed_cat(idle_stats);
		} else {
			b[i] = timed_cat(idle_stats);
			a[i] = timed_cat(run_stats);
		}
	}
	report("cat stats (running, fresh)", a, NS);
	report("cat stats (created)", b, NS);
	fprintf(stderr, "  .. obs: cat stats x%d with the QMP figures stale (1.1 s apart)\n", NSTALE);
	for (int i = 0; i < NSTALE; i++) {
		usleep(1100000);
		st[i] = timed_cat(run_stats);
	}
	report("cat stats (running, stale: waits for the refresh)", st, NSTALE);
	fprintf(stderr, "  .. obs: cat metrics x%d over %d sandboxes (%d running)\n", NM, n, nrun);
	size_t bytes = 0;
	for (int i = 0; i < NM; i++) {
		double t0 = now_us();
		bytes = cat(metrics);
		m[i] = now_us() - t0;
	}
	char op[128];
	snprintf(op, sizeof(op), "cat metrics (%d sandboxes, %d running)", n, nrun);
	report(op, m, NM);
	printf("I\tobs_metrics_sandboxes\t%d\nI\tobs_metrics_running\t%d\nI\tobs_metrics_bytes\t%zu\n", n,
	       nrun, bytes);
}

int main(int argc, char **argv)
{
	if (argc != 5)
		die("usage: obsbench MNT TMP N_SANDBOXES N_RUNNING");
	const char *mnt = argv[1], *tmp = argv[2];
	int n = atoi(argv[3]), nrun = atoi(argv[4]);
	if (n < 1 || nrun < 1 || nrun > n)
		die("want 1 <= N_RUNNING <= N_SANDBOXES");
	obs_setup(mnt, tmp, n, nrun);
	obs_measure(mnt, n, nrun);
	char path[512];
	fprintf(stderr, "  .. obs: stopping %d, removing %d\n", nrun, n);
	for (int i = 0; i < nrun; i++) {
		snprintf(path, sizeof(path), "%s/obs-%03d/ctl", mnt, i);
		put(path, "kill");
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/obs-%03d", mnt, i);
		if (rmdir(path) < 0)
			die("rmdir %s: %s", path, strerror(errno));
	}
	return 0;
}
