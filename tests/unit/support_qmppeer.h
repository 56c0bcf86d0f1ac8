/*
 * support_qmppeer — a scripted fake QMP server on a socketpair, for the
 * wire-level tests of qmp/qmp_client (test_qmp*.c): each test's script
 * writes raw bytes (greetings, replies, events, garbage, oversize lines)
 * and reads the client's commands line by line, in a thread of its own.
 * support_fakeqmp is the other fake: a well-behaved QEMU, for vm/.
 *
 * CUnit is not thread safe, so a script counts its failed checks
 * (QPEER_CHECK) in `fails`, and qpeer_finish() asserts on that count after
 * joining the script's thread.
 */
#ifndef SANDBOXFS_SUPPORT_QMPPEER_H
#define SANDBOXFS_SUPPORT_QMPPEER_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct json_object;

struct qpeer {
	int fd;  /* server end */
	int cfd; /* client end, handed to qmp_client_open */
	pthread_t th;
	void (*script)(struct qpeer *);
	void *arg;
	sem_t go; /* test → server synchronisation where needed */
	char *buf;
	size_t len, cap;
	atomic_int fails;
	atomic_llong info; /* a value the script tells the test */
};

/* In a script: count a failed check (and print where it failed). */
#define QPEER_CHECK(f, cond)                                                 \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "\nfake server %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #cond);                  \
			atomic_fetch_add(&(f)->fails, 1);                    \
		}                                                            \
	} while (0)

/* The greeting qpeer_handshake() sends: QEMU 8.2.1, with an unknown key. */
extern const char qpeer_greeting[];

/* Start `script` in its own thread on the server end (f->arg = arg); the
 * test hands f->cfd to the client (and sets it to -1 once given away). */
void qpeer_start(struct qpeer *f, void (*script)(struct qpeer *), void *arg);
/* Join the script, close f->cfd if still ours, assert no check failed. */
void qpeer_finish(struct qpeer *f);

/* Send n bytes / a string / a formatted string; 0, or -1 once the client
 * is gone. */
int qpeer_send_n(struct qpeer *f, const char *s, size_t n);
int qpeer_send(struct qpeer *f, const char *s);
int qpeer_sendf(struct qpeer *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The next line from the client as a JSON object; NULL on EOF or timeout. */
struct json_object *qpeer_read(struct qpeer *f, int timeout_ms);
/* A command's "execute" ("" if none), "id" (-1 if none), argument `key`
 * (NULL if none). */
const char *qpeer_cmd(struct json_object *o);
long long qpeer_id(struct json_object *o);
struct json_object *qpeer_arg(struct json_object *o, const char *key);
/* Send {"return": ret, "id": id}. */
void qpeer_reply(struct qpeer *f, long long id, const char *ret);
/* Greeting, then answer a well-formed qmp_capabilities; false when no
 * command came. */
bool qpeer_handshake(struct qpeer *f);
/* Read and discard until the client closes (or timeout). */
void qpeer_wait_eof(struct qpeer *f, int timeout_ms);
/* Close the server end (the client sees the end of the stream). */
void qpeer_close(struct qpeer *f);

#endif
