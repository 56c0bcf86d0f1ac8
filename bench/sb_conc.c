/*
 * sb_conc — one stuck sandbox must not slow the others.  17 sandboxes run
 * paused (64 MiB): 16 have a writer each (a vCPU hot-add every 20 ms, as a
 * control plane paces itself), one is probed (cat state, ls of the root, a
 * hot-add, in turn); an 18th runs with its QEMU SIGSTOPped and 16 readers
 * of its cpus/online, each blocked until its QMP command times out (5 s),
 * then again.  Three conditions, each a few seconds: idle (the probe
 * alone), the 16 writers, the 16 writers and the 16 stuck readers.  A
 * FUSE worker pool that the stuck readers could fill would stop every
 * other request here.
 */
#include "sb.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NWRITERS 16
#define NREADERS 16
#define PROBE_OPS 10   /* per kind and condition */
#define WRITER_ADDS 8  /* per condition */
#define CONF "{\"memory_mib\": 64, \"maxvcpus\": 32}\n"

struct conc {
	const char *mnt;
	volatile bool stop;
	pthread_mutex_t lock;
	struct samples writes;   /* the writers' hot-adds */
	int vcpus[NWRITERS];
	/* The stuck sandbox's readers: reads that timed out, that were
	 * answered (after SIGCONT), that failed otherwise. */
	int timed_out, answered, failed;
};

struct wctx {
	struct conc *c;
	int i;
};

static void *writer(void *arg)
{
	struct wctx *w = arg;
	char name[16];
	snprintf(name, sizeof(name), "cw%02d", w->i);
	char *t = path_of(w->c->mnt, name, "cpus/target");
	for (int k = 0; k < WRITER_ADDS && !w->c->stop; k++) {
		char v[16];
		snprintf(v, sizeof(v), "%d\n", ++w->c->vcpus[w->i]);
		double us = timed_write(t, v);
		pthread_mutex_lock(&w->c->lock);
		s_add(&w->c->writes, us);
		pthread_mutex_unlock(&w->c->lock);
		usleep(20000);
	}
	free(t);
	return NULL;
}

static void *reader(void *arg)
{
	struct conc *c = arg;
	char *p = path_of(c->mnt, "cstuck", "cpus/online"), buf[64];
	while (!c->stop) {
		ssize_t r = fs_read(p, buf, sizeof(buf));
		pthread_mutex_lock(&c->lock);
		if (r == -ETIMEDOUT)
			c->timed_out++;
		else if (r >= 0)
			c->answered++;
		else
			c->failed++;
		pthread_mutex_unlock(&c->lock);
	}
	free(p);
	return NULL;
}

static int probe_vcpus = 1;

/* The probe's ops, in turn, while the condition holds. */
static void probe(struct conc *c, const char *cond)
{
	char *st = path_of(c->mnt, "cprobe", "state"), *t = path_of(c->mnt, "cprobe", "cpus/target");
	struct samples r = {0}, l = {0}, w = {0};
	for (int i = 0; i < PROBE_OPS; i++) {
		for (int k = 0; k < 5; k++)
			s_add(&r, timed_read(st));
		s_add(&l, timed_ls(c->mnt, 3));
		char v[16];
		snprintf(v, sizeof(v), "%d\n", ++probe_vcpus);
		s_add(&w, timed_write(t, v));
		usleep(20000);
	}
	report("conc", "cat state (another sandbox)", cond, &r);
	report("conc", "ls of the root", cond, &l);
	report("conc", "vCPU hot-add (another sandbox)", cond, &w);
	free(st), free(t);
}

int phase_conc(const char *mnt, const char *tmp)
{
	(void)tmp;
	struct conc c = {.mnt = mnt};
	pthread_mutex_init(&c.lock, NULL);
	progress("concurrency: %d writer sandboxes, a probed one, a stuck one", NWRITERS);
	char name[16];
	for (int i = 0; i < NWRITERS; i++) {
		snprintf(name, sizeof(name), "cw%02d", i);
		sb_mkdir(mnt, name, CONF);
		sb_ctl(mnt, name, "start\n");
		sb_ctl(mnt, name, "pause\n");
		c.vcpus[i] = 1;
	}
	sb_mkdir(mnt, "cprobe", "{\"memory_mib\": 64, \"maxvcpus\": 40}\n");
	sb_ctl(mnt, "cprobe", "start\n");
	sb_ctl(mnt, "cprobe", "pause\n");
	sb_mkdir(mnt, "cstuck", CONF);
	sb_ctl(mnt, "cstuck", "start\n");
	char *pidf = path_of(mnt, "cstuck", "pid"), buf[32];
	if (fs_read(pidf, buf, sizeof(buf)) <= 0)
		die("no pid for cstuck");
	pid_t stuck = (pid_t)atoi(buf);
	free(pidf);

	static const char *const conds[3] = {"idle", "16 writers", "16 writers + 16 stuck readers"};
	for (int k = 0; k < 3; k++) {
		progress("concurrency: %s", conds[k]);
		c.stop = false;
		pthread_t rt[NREADERS], wt[NWRITERS];
		struct wctx wc[NWRITERS];
		if (k == 2) {
			kill(stuck, SIGSTOP);
			for (int i = 0; i < NREADERS; i++)
				pthread_create(&rt[i], NULL, reader, &c);
			usleep(500000); /* every reader blocked in its QMP command */
		}
		if (k >= 1)
			for (int i = 0; i < NWRITERS; i++) {
				wc[i] = (struct wctx){&c, i};
				pthread_create(&wt[i], NULL, writer, &wc[i]);
			}
		probe(&c, conds[k]);
		c.stop = true;
		if (k >= 1) {
			for (int i = 0; i < NWRITERS; i++)
				pthread_join(wt[i], NULL);
			report("conc", "vCPU hot-add (the 16 writers)", conds[k], &c.writes);
		}
		if (k == 2) {
			kill(stuck, SIGCONT); /* the readers' QMP commands are answered */
			for (int i = 0; i < NREADERS; i++)
				pthread_join(rt[i], NULL);
			info("conc_readers", "%d timed out, %d answered after SIGCONT, %d failed otherwise",
			     c.timed_out, c.answered, c.failed);
		}
	}
	progress("concurrency: stopping %d sandboxes", NWRITERS + 2);
	for (int i = 0; i < NWRITERS; i++) {
		snprintf(name, sizeof(name), "cw%02d", i);
		sb_ctl(mnt, name, "kill\n");
		sb_rmdir(mnt, name);
	}
	sb_ctl(mnt, "cprobe", "kill\n");
	sb_rmdir(mnt, "cprobe");
	sb_ctl(mnt, "cstuck", "kill\n");
	sb_rmdir(mnt, "cstuck");
	return 0;
}
