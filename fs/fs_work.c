/*
 * fs_work — the worker threads and the lanes of jobs; see fs_work.h.
 *
 * One lock guards the lanes (a hash by key), the run queue and the pool's
 * counts.  A job is runnable when its lane has fewer than FS_WORK_LANE_MAX
 * running; runnable jobs go to the run queue, which idle threads take
 * from; a thread is started when none is idle (up to FS_WORK_THREADS_MAX),
 * and one idle for FS_WORK_IDLE_S beyond the FS_WORK_IDLE_KEEP kept ends.
 * A thread that finishes a job takes the next waiting job of the same
 * lane itself, so a lane's backlog costs no extra wake-ups.
 *
 * The device is read by one thread at a time, the reader (fs_work_serve):
 * a job it makes whose lane has room runs on it, right after the request
 * that made it, and the reading goes to an idle thread (or a new one) —
 * so a write starts with no thread woken before it, and the wake-up of
 * the next reader overlaps the write's own work.
 */
#include "fs/fs_work.h"

#include "fs/fs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/probe.h"
#include "lib/util.h"
#include "vm/sandbox/sandbox.h"

#define FS_WORK_THREADS_MAX 4096
#define FS_WORK_IDLE_KEEP 4
#define FS_WORK_IDLE_S 30
#define FS_WORK_LANE_BUCKETS 256

struct fs_lane {
	struct fs_lane *next;
	const void *key;
	int running;
	struct fs_job *head, **tail; /* waiting, in order */
};

static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cond;
static pthread_cond_t done_cond;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct fs_lane *lanes[FS_WORK_LANE_BUCKETS];
static struct fs_job *run_head, **run_tail = &run_head;
static int nthreads, nidle, nrun; /* nrun: jobs on the run queue */
static bool stopping;
static __thread struct fs_job *current;

/* Reading the device (fs_work_serve), under work_lock but for `reading`
 * and `handed`, which are the thread's own. */
static struct fuse_session *serve_se;
static bool read_wanted;     /* nobody reads: the next idle thread is to */
static bool reader_on;       /* reader_tid reads */
static pthread_t reader_tid;
static bool serve_over;      /* the session ended: nobody reads again */
static int serve_rc;
static struct fs_job read_role; /* next_job's "read the device" */
static __thread bool reading;
static __thread struct fs_job *handed; /* made while reading: runs here */
/* The thread's buffer for requests, kept from one turn at reading to the
 * next (its ~1 MiB mapping is not made and dropped at every hand-over),
 * freed when the thread ends. */
static __thread struct fuse_buf req_buf;

static void init_conds(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&work_cond, &ca);
	pthread_cond_init(&done_cond, &ca);
	pthread_condattr_destroy(&ca);
}

struct fs_job *fs_job_new(fuse_req_t req, void (*fn)(struct fs_job *j))
{
	struct fs_job *j = xcalloc(1, sizeof(*j));
	j->req = req;
	j->fn = fn;
	j->t_recv = probe_now();
	return j;
}

static size_t lane_hash(const void *key) { return ((uintptr_t)key >> 4) % FS_WORK_LANE_BUCKETS; }

/* Under work_lock. */
static struct fs_lane *lane_get(const void *key)
{
	struct fs_lane **head = &lanes[lane_hash(key)];
	for (struct fs_lane *l = *head; l; l = l->next)
		if (l->key == key)
			return l;
	struct fs_lane *l = xcalloc(1, sizeof(*l));
	l->key = key;
	l->tail = &l->head;
	l->next = *head;
	*head = l;
	return l;
}

/* Under work_lock: a lane with nothing running or waiting goes. */
static void lane_put(struct fs_lane *l)
{
	if (l->running || l->head)
		return;
	for (struct fs_lane **pp = &lanes[lane_hash(l->key)]; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			free(l);
			return;
		}
}

static void *worker_main(void *arg);

/* Under work_lock: see that a thread takes what is queued (the jobs and
 * the reading): every piece has an idle thread of its own, or a new one,
 * since the threads that are busy may stay busy (a stuck sandbox's).
 * false: none could be had now (the reader then reads on itself). */
static bool wake_locked(void)
{
	if (nrun + read_wanted <= nidle) {
		pthread_cond_signal(&work_cond);
		return true;
	}
	if (nthreads >= FS_WORK_THREADS_MAX)
		return false; /* a running thread takes it when it is done */
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&t, &at, worker_main, NULL);
	pthread_attr_destroy(&at);
	if (r == 0)
		nthreads++;
	else if (nthreads == 0)
		log_err("cannot start a worker thread: %s", strerror(r));
	return r == 0;
}

/* Under work_lock: queue a runnable job and see that a thread takes it. */
static void run_locked(struct fs_job *j)
{
	j->lane->running++;
	/* On the reader, the job runs here and another thread reads on. */
	if (reading && !handed && !read_wanted) {
		read_wanted = true;
		if (wake_locked()) {
			handed = j;
			reader_on = false; /* the next reader says it is on */
			return;
		}
		read_wanted = false;
	}
	j->next = NULL;
	*run_tail = j;
	run_tail = &j->next;
	nrun++;
	wake_locked();
}

static void job_free(struct fs_job *j)
{
	free(j->data);
	free(j);
}

/* A waiting job's caller was interrupted (^C): it ends with EINTR.  `data`
 * is only compared, never followed: the job may be long done. */
static void on_interrupt(fuse_req_t req, void *data)
{
	pthread_mutex_lock(&work_lock);
	for (size_t b = 0; b < FS_WORK_LANE_BUCKETS; b++)
		for (struct fs_lane *l = lanes[b]; l; l = l->next)
			for (struct fs_job **pp = &l->head; *pp; pp = &(*pp)->next) {
				if (*pp != data)
					continue;
				struct fs_job *j = *pp;
				if (!(*pp = j->next))
					l->tail = pp;
				lane_put(l);
				pthread_mutex_unlock(&work_lock);
				fuse_reply_err(req, EINTR);
				job_free(j);
				return;
			}
	pthread_mutex_unlock(&work_lock);
}

void fs_work_submit(const void *key, struct fs_job *j)
{
	pthread_once(&once, init_conds);
	pthread_mutex_lock(&work_lock);
	struct fs_lane *l = j->lane = lane_get(key);
	if (stopping) {
		lane_put(l);
		pthread_mutex_unlock(&work_lock);
		fuse_reply_err(j->req, ENOTCONN);
		return job_free(j);
	}
	if (l->running < FS_WORK_LANE_MAX && !l->head) {
		run_locked(j);
		pthread_mutex_unlock(&work_lock);
		return;
	}
	pthread_mutex_unlock(&work_lock);
	/* It waits: an interrupt may end the wait.  Registered before the job
	 * is queued; one that came before is seen just below. */
	fuse_req_interrupt_func(j->req, on_interrupt, j);
	pthread_mutex_lock(&work_lock);
	if (fuse_req_interrupted(j->req)) {
		lane_put(l);
		pthread_mutex_unlock(&work_lock);
		fuse_reply_err(j->req, EINTR);
		return job_free(j);
	}
	if (l->running < FS_WORK_LANE_MAX && !l->head) {
		run_locked(j);
	} else {
		j->next = NULL;
		*l->tail = j;
		l->tail = &j->next;
	}
	pthread_mutex_unlock(&work_lock);
}

bool fs_interrupted(void) { return current && fuse_req_interrupted(current->req); }

/* Under work_lock: the next job to run (&read_role: read the device),
 * waiting at most FS_WORK_IDLE_S; NULL: this thread may end. */
static struct fs_job *next_job(void)
{
	for (;;) {
		if (read_wanted && !serve_over) { /* first: every request waits on it */
			read_wanted = false;
			return &read_role;
		}
		if (run_head)
			break;
		if (stopping)
			return NULL;
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += FS_WORK_IDLE_S;
		nidle++;
		int r = pthread_cond_timedwait(&work_cond, &work_lock, &dl);
		nidle--;
		if (r == ETIMEDOUT && !run_head && !read_wanted && nidle >= FS_WORK_IDLE_KEEP)
			return NULL;
	}
	struct fs_job *j = run_head;
	if (!(run_head = j->next))
		run_tail = &run_head;
	nrun--;
	return j;
}

/* Read and answer requests until one made a job for this thread
 * (returned, its reading handed on) or the session ended (NULL). */
static struct fs_job *serve_requests(void)
{
	pthread_mutex_lock(&work_lock);
	reader_tid = pthread_self();
	reader_on = true;
	pthread_mutex_unlock(&work_lock);
	reading = true;
	int r = 0;
	while (!handed && !fuse_session_exited(serve_se)) {
		r = fuse_session_receive_buf(serve_se, &req_buf);
		if (r == -EINTR)
			continue;
		if (r <= 0)
			break; /* 0: unmounted */
		fuse_session_process_buf(serve_se, &req_buf);
	}
	reading = false;
	struct fs_job *j = handed;
	handed = NULL;
	pthread_mutex_lock(&work_lock);
	if (!j) {
		reader_on = false;
		serve_over = true;
		/* Unmounted or exited (a signal): 0; a failed read: its errno. */
		serve_rc = r < 0 && r != -EINTR ? -r : 0;
		pthread_cond_broadcast(&done_cond);
	}
	pthread_mutex_unlock(&work_lock);
	return j;
}

static void run_job(struct fs_job *j)
{
	current = j;
	int64_t t_start = probe_now();
	if (*j->op)
		probe_begin();
	vm_sandbox_later_begin();
	j->fn(j);
	/* Replied: what the job left for later (a hot add's outcome saved,
	 * vm_sandbox_commit_outcome) runs here, still in the lane. */
	probe_reply();
	vm_sandbox_later_run();
	if (*j->op)
		probe_end(j->op, j->t_recv, t_start);
	current = NULL;
}

/* Under work_lock: `j` has run; the lane's next waiting job, if any, is
 * this thread's at once. */
static struct fs_job *job_done_locked(struct fs_job *j)
{
	struct fs_lane *l = j->lane;
	struct fs_job *w = l->head;
	if (w && !(l->head = w->next))
		l->tail = &l->head;
	if (!w)
		l->running--;
	lane_put(l);
	job_free(j);
	return w;
}

static void *worker_main(void *arg)
{
	pthread_mutex_lock(&work_lock);
	struct fs_job *j = next_job();
	while (j) {
		pthread_mutex_unlock(&work_lock);
		if (j == &read_role && !(j = serve_requests())) {
			pthread_mutex_lock(&work_lock);
			j = next_job();
			continue;
		}
		run_job(j);
		pthread_mutex_lock(&work_lock);
		struct fs_job *w = job_done_locked(j);
		j = w ? w : next_job();
	}
	nthreads--;
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&work_lock);
	free(req_buf.mem);
	return NULL;
}

int fs_work_serve(struct fuse_session *se)
{
	pthread_once(&once, init_conds);
	serve_se = se;
	/* This thread reads first; once it has handed the reading on, it runs
	 * its job (and its lane's backlog) and waits for the end. */
	for (struct fs_job *j = serve_requests(); j;) {
		run_job(j);
		pthread_mutex_lock(&work_lock);
		j = job_done_locked(j);
		pthread_mutex_unlock(&work_lock);
	}
	pthread_mutex_lock(&work_lock);
	while (!serve_over) {
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_nsec += 200 * 1000000L;
		if (dl.tv_nsec >= 1000000000L)
			dl.tv_sec++, dl.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&done_cond, &work_lock, &dl);
		/* A signal (the session's exit) mostly lands here: the reader,
		 * asleep in read(), hears it too (no SA_RESTART: EINTR). */
		if (!serve_over && reader_on && fuse_session_exited(se))
			pthread_kill(reader_tid, SIGHUP);
	}
	int rc = serve_rc;
	pthread_mutex_unlock(&work_lock);
	free(req_buf.mem);
	req_buf.mem = NULL;
	fuse_session_reset(se);
	return rc;
}

void fs_work_stop(void)
{
	pthread_once(&once, init_conds);
	pthread_mutex_lock(&work_lock);
	stopping = true;
	for (size_t b = 0; b < FS_WORK_LANE_BUCKETS; b++)
		for (struct fs_lane *l = lanes[b]; l; l = l->next)
			while (l->head) {
				struct fs_job *j = l->head;
				l->head = j->next;
				fuse_reply_err(j->req, ENOTCONN);
				job_free(j);
			}
	pthread_cond_broadcast(&work_cond);
	while (nthreads > 0)
		pthread_cond_wait(&done_cond, &work_lock);
	pthread_mutex_unlock(&work_lock);
}
