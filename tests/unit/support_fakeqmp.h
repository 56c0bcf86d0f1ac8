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
};

/* Start the peer; returns the client end of the socketpair (greeting
 * follows once a client reads). */
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

#endif
