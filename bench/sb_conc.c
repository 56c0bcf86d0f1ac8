/*
 * sb_conc — one stuck sandbox must not slow the others.  17 sandboxes run
 * paused (64 MiB): 16 have a writer each (a vCPU hot-add every 100 ms, as
 * a control plane paces itself), one is probed (cat state, ls of the root, a
 * hot-add, in turn); an 18th runs with its QEMU SIGSTOPped, 16 readers
 * (8 following its events, each read waiting for a line; 8 reading its
 * cpus/online and state) and 4 writers of its ctl (the first waits for
 * its QMP timeout, 5 s).  Three conditions, each a few seconds: idle (the probe
 * alone), the 16 writers, the 16 writers and the 16 stuck readers.  A
 * FUSE worker pool that the stuck readers could fill would stop every
 * other request here.
 */
#include "sb.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NWRITERS 16
#define NREADERS 16
#define NSTUCKW 4     /* writers of the stuck sandbox */
#define PROBE_OPS 16   /* per kind and condition */
#define WRITER_ADDS 8  /* per condition */
/* How often each writer writes: 16 hot-adds every 100 ms keep QEMU busy
 * about half a CPU; every 20 ms they would fill both cores by themselves,
 * and every read would measure the CPU, not the FUSE path. */
#define WRITER_PACE_US 100000
#define CONF "{\"memory_mib\": 64, \"maxvcpus\": 32}\n"

struct conc {
	const char *mnt;
	volatile bool stop;
	pthread_mutex_t lock;
	struct samples writes;   /* the writers' hot-adds */
	int vcpus[NWRITERS];
	/* The stuck sandbox's callers: writes that timed out, reads answered,
	 * reads that failed. */
	int timed_out, answered, failed, readers_done;
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
		usleep(WRITER_PACE_US);
	}
	free(t);
	return NULL;
}

/* A reader of the stuck sandbox: even ones follow its events (each read
 * waits until a line comes: parked, no thread held), odd ones read its
 * cpus/online and state over and over (served from the daemon's record). */
struct rctx {
	struct conc *c;
	int i;
};

static void *reader(void *arg)
{
	struct rctx *r = arg;
	struct conc *c = r->c;
	char *ev = path_of(c->mnt, "cstuck", "events"), *on = path_of(c->mnt, "cstuck", "cpus/online");
	char *st = path_of(c->mnt, "cstuck", "state"), buf[4096];
	while (!c->stop) {
		ssize_t n;
		if (r->i % 2 == 0) {
			int fd = open(ev, O_RDONLY | O_CLOEXEC);
			n = fd < 0 ? -errno : read(fd, buf, sizeof(buf)) < 0 ? -errno : 0;
			if (fd >= 0)
				close(fd);
		} else {
			n = fs_read(on, buf, sizeof(buf));
			if (n >= 0)
				n = fs_read(st, buf, sizeof(buf));
			usleep(5000);
		}
		pthread_mutex_lock(&c->lock);
		if (n >= 0)
			c->answered++;
		else
			c->failed++;
		pthread_mutex_unlock(&c->lock);
	}
	free(ev), free(on), free(st);
	pthread_mutex_lock(&c->lock);
	c->readers_done++;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* A writer of the stuck sandbox: its first write waits for QEMU's answer
 * until it times out; later ones fail fast (a stalled QEMU). */
static void *stuck_writer(void *arg)
{
	struct conc *c = arg;
	char *ctl = path_of(c->mnt, "cstuck", "ctl");
	while (!c->stop) {
		int r = fs_write(ctl, "pause\n");
		pthread_mutex_lock(&c->lock);
		if (r == -ETIMEDOUT)
			c->timed_out++;
		pthread_mutex_unlock(&c->lock);
		usleep(20000);
	}
	free(ctl);
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
		usleep(50000);
	}
	report("conc", "cat state (another sandbox)", cond, &r);
	report("conc", "ls of the root", cond, &l);
	report("conc", "vCPU hot-add (another sandbox)", cond, &w);
	free(st), free(t);
}

/* The writers' sandboxes, the probed one (paused) and the stuck one
 * (running); the stuck one's QEMU pid. */
static pid_t conc_setup(struct conc *c)
{
	const char *mnt = c->mnt;
	progress("concurrency: %d writer sandboxes, a probed one, a stuck one", NWRITERS);
	char name[16];
	for (int i = 0; i < NWRITERS; i++) {
		snprintf(name, sizeof(name), "cw%02d", i);
		sb_mkdir(mnt, name, CONF);
		sb_ctl(mnt, name, "start\n");
		sb_ctl(mnt, name, "pause\n");
		c->vcpus[i] = 1;
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
	return stuck;
}

/* The stuck sandbox's QEMU continued, its writers and readers joined. */
static void conc_release_stuck(struct conc *c, pid_t stuck, pthread_t *st, pthread_t *rt)
{
	kill(stuck, SIGCONT);
	for (int i = 0; i < NSTUCKW; i++)
		pthread_join(st[i], NULL);
	/* A line on its events (a state change) ends the parked reads. */
	char *sctl = path_of(c->mnt, "cstuck", "ctl");
	for (int t = 0; t < 100; t++) {
		fs_write(sctl, t % 2 ? "resume\n" : "pause\n");
		usleep(50000);
		pthread_mutex_lock(&c->lock);
		bool all = c->readers_done == NREADERS;
		pthread_mutex_unlock(&c->lock);
		if (all)
			break;
	}
	free(sctl);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(rt[i], NULL);
	info("conc_readers", "%d writes to it timed out, %d reads of it answered, %d failed",
	     c->timed_out, c->answered, c->failed);
}

int phase_conc(const char *mnt, const char *tmp)
{
	(void)tmp;
	struct conc c = {.mnt = mnt};
	pthread_mutex_init(&c.lock, NULL);
	pid_t stuck = conc_setup(&c);

	static const char *const conds[3] = {"idle", "16 writers", "16 writers + 16 stuck readers"};
	for (int k = 0; k < 3; k++) {
		progress("concurrency: %s", conds[k]);
		c.stop = false;
		pthread_t rt[NREADERS], wt[NWRITERS], st[NSTUCKW];
		struct wctx wc[NWRITERS];
		struct rctx rc[NREADERS];
		if (k == 2) {
			kill(stuck, SIGSTOP);
			for (int i = 0; i < NREADERS; i++) {
				rc[i] = (struct rctx){&c, i};
				pthread_create(&rt[i], NULL, reader, &rc[i]);
			}
			for (int i = 0; i < NSTUCKW; i++)
				pthread_create(&st[i], NULL, stuck_writer, &c);
			usleep(500000); /* the readers parked, a write waiting on QMP */
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
		if (k == 2)
			conc_release_stuck(&c, stuck, st, rt);
	}
	progress("concurrency: stopping %d sandboxes", NWRITERS + 2);
	char name[16];
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
