/*
 * qmp_client_impl — the QMP client's internals, shared by its files
 * (internal to qmp/): the client object, deadlines, and the connection's
 * death.  qmp_client.c opens, references and closes a client;
 * qmp_client_reader.c reads the stream (lines, replies, events) — the
 * reader thread, or a caller reading its own reply;
 * qmp_client_command.c sends commands and waits for replies and events.
 */
#ifndef SANDBOXFS_QMP_CLIENT_IMPL_H
#define SANDBOXFS_QMP_CLIENT_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "qmp/qmp_client.h"

#define QMP_JSON_DEPTH 1024     /* deep replies: long backing chains */
#define QMP_READ_CHUNK 65536

#define QMP_READ_CHUNK 65536

struct qmp_pending {
	struct qmp_pending *next;
	int64_t id;
	struct json_object *reply; /* set by the reader, taken by the waiter */
};

struct qmp_event {
	struct qmp_event *next;
	struct json_object *ev;
	const char *name; /* points into ev */
};

struct qmp_client {
	atomic_int refs;
	int fd;
	struct qmp_callbacks cb;
	pthread_t reader;
	bool reader_started; /* written before the client is shared */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	bool greeted;      /* greeting seen */
	bool opened;       /* qmp_client_open succeeded: callbacks may run */
	bool quiet;        /* last unref happened: no more callbacks */
	bool dead;         /* connection lost or shut down */
	bool closed_due;   /* the closed callback is to run */
	bool free_on_exit; /* reader detached: it frees the client */
	bool writing;      /* a thread is sending a command line */
	char *why;         /* why the connection died (set once) */
	int version[3];
	int64_t next_id;
	struct qmp_pending *pending;
	/* Unanswered: a command timed out after the last line QEMU sent
	 * (qmp_client_stalled); cleared by the next line, a late reply too. */
	bool stalled;
	struct timespec stalled_since;
	struct qmp_event *ev_head, *ev_tail;
	size_t ev_count;
	/* Events read whose callbacks the reader thread is yet to run, in
	 * stream order; `leading`: a waiter holds read_lock (it reads). */
	struct qmp_event *unrun_head, *unrun_tail;
	bool leading;
	uint64_t lead_gen; /* read_lock given back so many times */
	bool ended;        /* a leading caller met the stream's end (end_why) */
	char end_why[256];
	int kick;          /* eventfd: a leading caller queued events, or ended */

	/* Whoever holds read_lock: the reader thread, or a leading waiter. */
	pthread_mutex_t read_lock;
	char *buf;
	size_t len, cap;
	struct json_tokener *tok;
};


struct qmp_deadline {
	bool infinite;
	struct timespec ts;
};
/* A deadline timeout_ms from now (negative: none). */
void qmp_client_deadline_init(struct qmp_deadline *d, int timeout_ms);
/* Milliseconds left (-1: infinite, 0: passed). */
int qmp_client_deadline_left_ms(const struct qmp_deadline *d);
/* A command's waiter reads the stream itself (read_lock) until `p` has
 * its reply, the connection dies or the deadline passes, so that the
 * reply needs no hand-over: 1 done (look at p), 0 another thread reads
 * (wait on c->cond instead), -1 the deadline passed.  Never under c->lock. */
int qmp_client_lead(struct qmp_client *c, struct qmp_pending *p, const struct qmp_deadline *d);
/* Wait on c->cond (c->lock held) until signalled or the deadline;
 * ETIMEDOUT when it passed. */
int qmp_client_wait(struct qmp_client *c, const struct qmp_deadline *d);

/* Record the first reason the connection died and wake everyone (c->lock held). */
void qmp_client_mark_dead_locked(struct qmp_client *c, const char *why);
/* The same taking the lock, then shut the socket down. */
void qmp_client_conn_drop(struct qmp_client *c, const char *why);
bool qmp_client_on_reader_thread(struct qmp_client *c);
void qmp_client_free(struct qmp_client *c);
/* The reader thread's body (qmp_client_reader.c). */
void *qmp_client_reader_main(void *arg);

#endif
