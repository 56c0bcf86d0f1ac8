/*
 * support_qmprec — the client side of the qmp/qmp_client tests
 * (test_qmp*.c): a recorder of the client's callbacks (events seen, loss
 * of the connection and its reason, and what a callback should try: a
 * qmp_execute, or dropping the last reference), opening a client on a
 * support_qmppeer fake, a command or an event wait run (in a thread if
 * need be) and timed, and two JSON getters.
 */
#ifndef SANDBOXFS_SUPPORT_QMPREC_H
#define SANDBOXFS_SUPPORT_QMPREC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct json_object;
struct qmp_client;
struct qpeer;

struct qrec {
	pthread_mutex_t m;
	int nclosed;
	char why[256];
	int nev;
	char names[16][32];
	char devices[16][32];
	struct qmp_client *exec_from_cb; /* try qmp_execute inside the callback */
	int exec_rc;
	struct qmp_client *unref_in_event; /* last ref, dropped in the callback */
	struct qmp_client *unref_in_closed;
	atomic_int done;
	pthread_t caller;   /* a thread executing commands (has_caller) */
	bool has_caller;
	int nev_on_caller;  /* callbacks run on it: never (only the reader runs them) */
};

void qrec_init(struct qrec *r);
void qrec_fini(struct qrec *r);
#define cleanup_qrec __attribute__((cleanup(qrec_fini)))
/* The callbacks (struct qmp_callbacks, opaque = the struct qrec). */
void qrec_event(void *opaque, const char *name, struct json_object *ev);
void qrec_closed(void *opaque, const char *why);
/* r->nclosed, under its lock. */
int qrec_nclosed(struct qrec *r);

/* qmp_client_open on f->cfd (given away) with r's callbacks (none when r
 * is NULL), asserting that it succeeds; the client or NULL. */
struct qmp_client *qrec_open(struct qpeer *f, struct qrec *r);

/* A string / integer member of o; "" / -999 when absent or of another type. */
const char *qrec_jstr(struct json_object *o, const char *key);
long long qrec_jint(struct json_object *o, const char *key);

/* One qmp_execute: its result, err_code, time taken and the reply's "who". */
struct qrec_exec {
	struct qmp_client *c;
	const char *cmd;
	struct json_object *args;
	int timeout_ms;
	int rc;
	int code;
	int64_t elapsed_ms;
	char who[64];
	pthread_t th;
};
/* Run the qrec_exec `arg` (a pthread start routine, or called directly). */
void *qrec_exec_thread(void *arg);

/* One qmp_wait_event for `name`: its result and the time taken. */
struct qrec_wait {
	struct qmp_client *c;
	const char *name;
	int timeout_ms;
	int rc;
	int64_t elapsed_ms;
	pthread_t th;
};
/* Run the qrec_wait `arg` (a pthread start routine). */
void *qrec_wait_thread(void *arg);

#endif
