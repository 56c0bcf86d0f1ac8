/*
 * qmp_client — a QMP (QEMU Machine Protocol) client over a unix socket.
 *
 * One persistent connection per running sandbox.  Opening reads the greeting
 * and negotiates `qmp_capabilities`; a reader thread then splits the stream
 * on newlines, matches replies to commands by numeric id, and queues events
 * apart (bounded queue, oldest dropped).  Any number of threads may execute
 * commands concurrently.  Errors are decided on `error.class`, never `desc`.
 * A line longer than QMP_LINE_MAX, invalid JSON, or EOF drops the connection:
 * every waiter is woken with ECONNRESET and the close callback runs once.
 *
 * All JSON is built with json-c.
 */
#ifndef SANDBOXFS_QMP_CLIENT_H
#define SANDBOXFS_QMP_CLIENT_H

#include <stdbool.h>

#include "lib/err.h"

struct json_object;
struct qmp_client;

#define QMP_LINE_MAX (1024 * 1024)
#define QMP_EVENT_QUEUE_MAX 256

struct qmp_callbacks {
	/* Called on the reader thread for every event, before it is queued.
	 * `ev` is borrowed (the whole event object: event, data, timestamp)
	 * and valid only during the call: json_object_deep_copy() it to keep
	 * it (json-c reference counts are not atomic). */
	void (*event)(void *opaque, const char *name, struct json_object *ev);
	/* Called once on the reader thread when the connection is lost (also
	 * through qmp_client_shutdown()), unless the last ref went first. */
	void (*closed)(void *opaque, const char *why);
	void *opaque;
	/* Callbacks run without any client lock held.  They may drop a ref,
	 * even the last one, but must not wait for QMP (qmp_execute and
	 * qmp_wait_event fail with EDEADLK there); and the last unref from
	 * another thread waits for a running callback, so never drop it while
	 * holding a lock a callback takes.  No callback runs before
	 * qmp_client_open has succeeded. */
};

/* Take ownership of a connected stream socket `fd` (closed on failure too),
 * read the greeting and negotiate capabilities within timeout_ms. */
int qmp_client_open(int fd, const struct qmp_callbacks *cb, int timeout_ms,
		    struct qmp_client **out, struct err **e);
/* Connect to a unix socket path, then as qmp_client_open. */
int qmp_client_connect(const char *path, const struct qmp_callbacks *cb,
		       int timeout_ms, struct qmp_client **out, struct err **e);

struct qmp_client *qmp_client_ref(struct qmp_client *c);
/* Last unref shuts the connection down, joins the reader and frees.
 * Safe to call from a callback (the reader detaches itself then). */
void qmp_client_unref(struct qmp_client *c);
static inline void qmp_client_unrefp(struct qmp_client **c) { if (*c) qmp_client_unref(*c); }
#define cleanup_qmp __attribute__((cleanup(qmp_client_unrefp)))

/* Shut the connection down now (idempotent, thread safe): wakes all waiters. */
void qmp_client_shutdown(struct qmp_client *c);
bool qmp_client_alive(struct qmp_client *c);
/* QEMU version from the greeting. */
void qmp_client_version(struct qmp_client *c, int *major, int *minor, int *micro);

/*
 * Execute `cmd` with `args` (reference stolen; may be NULL).  On success
 * *ret (if non-NULL) receives the "return" value (caller owns it).
 * Failures: QMP error reply → code from the class (CommandNotFound ENOSYS,
 * DeviceNotFound/DeviceNotActive ENODEV, KVMMissingCap ENOTSUP, GenericError
 * and others EIO), message "<desc> (<class>)"; no reply within timeout_ms →
 * ETIMEDOUT (a late reply is discarded); connection lost → ECONNRESET;
 * called from a callback (on the reader thread) → EDEADLK.
 * A negative timeout_ms (here and below) waits forever.
 */
int qmp_execute(struct qmp_client *c, const char *cmd, struct json_object *args,
		int timeout_ms, struct json_object **ret, struct err **e);
/* As qmp_execute; if `err_class` is non-NULL it receives the class name of a
 * QMP error (static string; an unknown class reads "GenericError", the err
 * message keeps the real one) or "" when the failure was not a QMP error. */
int qmp_execute_full(struct qmp_client *c, const char *cmd, struct json_object *args,
		     int timeout_ms, struct json_object **ret, const char **err_class,
		     struct err **e);

/* As qmp_execute, but *reply receives QEMU's whole reply without its id
 * ({"return": ...} or {"error": {"class": ..., "desc": ...}}), and a QMP
 * error is no failure: only no reply (ETIMEDOUT), a lost connection
 * (ECONNRESET) and bad arguments (EINVAL) are. */
int qmp_execute_raw(struct qmp_client *c, const char *cmd, struct json_object *args,
		    int timeout_ms, struct json_object **reply, struct err **e);

/* As qmp_execute, passing `fd` (not closed) to QEMU with the command as
 * SCM_RIGHTS — for `getfd` / `add-fd`, e.g. a tap or vhost-net fd. */
int qmp_execute_fd(struct qmp_client *c, const char *cmd, struct json_object *args, int fd,
		   int timeout_ms, struct json_object **ret, struct err **e);

/*
 * Wait for (and consume) the first queued or future event named `name`
 * whose data member `data_key` is the string `data_value` (both NULL: any
 * event of that name).  *ev (if non-NULL) receives the event object.
 * ETIMEDOUT / ECONNRESET as for qmp_execute.
 */
int qmp_wait_event(struct qmp_client *c, const char *name, const char *data_key,
		   const char *data_value, int timeout_ms, struct json_object **ev,
		   struct err **e);

/* Like qmp_wait_event, with a predicate over the whole event object
 * (called with the client's lock held: it must not call back into QMP). */
typedef bool (*qmp_event_match_fn)(struct json_object *ev, void *opaque);
int qmp_wait_event_match(struct qmp_client *c, const char *name, qmp_event_match_fn match,
			 void *opaque, int timeout_ms, struct json_object **ev, struct err **e);

/* How long QEMU has said nothing since a command timed out (ms; 0: it
 * answered since, or nothing timed out): a stuck QEMU, to fail fast on
 * instead of waiting out another timeout. */
int qmp_client_stalled_ms(struct qmp_client *c);

/* Drop every queued event named `name` (NULL: all). */
void qmp_drop_events(struct qmp_client *c, const char *name);

#endif
