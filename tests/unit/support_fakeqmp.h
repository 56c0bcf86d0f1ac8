/*
 * support_fakeqmp — a scripted fake QMP peer on a socketpair, for testing
 * the QMP sequences of vm/ (hotplug, vCPUs) with fault injection: error
 * replies, no reply, events, disconnects.  Fine for unit tests only; the
 * e2e tests use the real QEMU.
 */
#ifndef SANDBOXFS_SUPPORT_FAKEQMP_H
#define SANDBOXFS_SUPPORT_FAKEQMP_H

#include <pthread.h>
#include <stdbool.h>

struct json_object;
struct fakeqmp;

/* Reply for one command: a JSON object text without "id" ({"return":{}} or
 * {"error":{"class":...,"desc":...}}), FAKEQMP_SILENT (never answer) or
 * FAKEQMP_CLOSE (drop the connection).  May call fakeqmp_event(). */
typedef const char *(*fakeqmp_handler)(struct fakeqmp *f, const char *cmd,
				       struct json_object *args);
#define FAKEQMP_SILENT ((const char *)1)
#define FAKEQMP_CLOSE ((const char *)2)

struct fakeqmp {
	int fd;
	pthread_t th;
	pthread_mutex_t m;
	fakeqmp_handler handler;
	void *opaque;
	char *log[128]; /* "cmd {args}" per command received */
	char *then;     /* event to send after the current reply */
	int nlog;
	/* Descriptors that came with SCM_RIGHTS, in arrival order; a getfd
	 * takes the oldest one not yet taken (as QEMU takes the one sent with
	 * the command).  All stay open until fakeqmp_stop, for inspection. */
	int rx[32];
	int nrx, ntaken;
	/* Every successful getfd: its name, the rx index it took, and whether
	 * the name is still held (QEMU's monitor holds it until closefd or a
	 * later getfd of the same name). */
	struct {
		char *name;
		int rx;
		bool held;
	} getfd[64];
	int ngetfd;
};

/* Start the peer; returns the client end of the socketpair (greeting
 * follows once a client reads).
 *
 * getfd and closefd behave as QEMU 7.2's do before the handler is asked:
 * getfd without a descriptor sent along (SCM_RIGHTS) is a GenericError "No
 * file descriptor supplied via SCM_RIGHTS", closefd of a name not held is
 * "File descriptor named '...' not found"; only then may the handler
 * inject its own reply. */
int fakeqmp_start(struct fakeqmp *f, fakeqmp_handler h, void *opaque);
void fakeqmp_stop(struct fakeqmp *f);
/* Send an event line, e.g. {"event":"DEVICE_DELETED","data":{"device":"d1"}}. */
void fakeqmp_event(struct fakeqmp *f, const char *json);
/* From a handler: send this event right after the reply (copied). */
void fakeqmp_then(struct fakeqmp *f, const char *json);
/* Number of received commands named `cmd` whose log line contains `needle`
 * (NULL: any). */
int fakeqmp_count(struct fakeqmp *f, const char *cmd, const char *needle);
/* The command names received, space-separated (static buffer). */
const char *fakeqmp_cmds(struct fakeqmp *f);
/* How many descriptors arrived with SCM_RIGHTS so far. */
int fakeqmp_nfds(struct fakeqmp *f);
/* The descriptor (still open, owned by the fake) that the newest getfd of
 * `fdname` took; -1 if no getfd of that name got one. */
int fakeqmp_fd(struct fakeqmp *f, const char *fdname);

#endif
