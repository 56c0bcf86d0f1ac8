/*
 * sb_record — how sbbench speaks: die and progress on stderr, the clock,
 * samples and their R/I records on stdout (sbbench.c), and the daemon's
 * probe lines (SBBENCH_LOG) summarised as breakdown records.
 */
#include "sb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

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

/* ---- samples and records ---------------------------------------------- */

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
