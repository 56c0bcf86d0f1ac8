/* probe — per-thread timing traces for the bench's breakdown; see probe.h. */
#include "lib/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"

#define PROBE_SPANS 24

struct span {
	char name[48];
	int64_t us;
};

struct trace {
	bool on;
	int64_t t_reply; /* 0 until probe_reply */
	size_t n;
	struct span s[PROBE_SPANS];
};

static __thread struct trace tr;
static int enabled = -1;

bool probe_enabled(void)
{
	if (enabled < 0) {
		const char *v = getenv("SANDBOXFS_PROBE");
		enabled = v && *v && strcmp(v, "0") != 0;
	}
	return enabled;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t probe_now(void) { return probe_enabled() ? now_us() : 0; }

void probe_add(const char *kind, const char *what, int64_t t0)
{
	if (!t0 || !tr.on)
		return;
	int64_t us = now_us() - t0;
	char name[48];
	snprintf(name, sizeof(name), "%s%s%s%s", tr.t_reply ? "later:" : "", kind,
		 what && *what ? ":" : "", what ? what : "");
	for (size_t i = 0; i < tr.n; i++)
		if (!strcmp(tr.s[i].name, name)) {
			tr.s[i].us += us;
			return;
		}
	if (tr.n < PROBE_SPANS) {
		snprintf(tr.s[tr.n].name, sizeof(tr.s[tr.n].name), "%s", name);
		tr.s[tr.n++].us = us;
	}
}

void probe_begin(void)
{
	if (!probe_enabled())
		return;
	tr.on = true;
	tr.t_reply = 0;
	tr.n = 0;
}

void probe_reply(void)
{
	if (tr.on)
		tr.t_reply = now_us();
}

void probe_end(const char *op, int64_t t_recv, int64_t t_start)
{
	if (!tr.on)
		return;
	char line[1024];
	int64_t t = tr.t_reply ? tr.t_reply : now_us();
	int n = snprintf(line, sizeof(line), "probe\t%s\ttotal=%lld queue=%lld", op,
			 (long long)(t - t_recv), (long long)(t_start - t_recv));
	for (size_t i = 0; i < tr.n && n > 0 && (size_t)n < sizeof(line); i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%lld", tr.s[i].name,
			      (long long)tr.s[i].us);
	tr.on = false;
	log_info("%s", line);
}
