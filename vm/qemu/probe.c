/*
 * vm_qemu_probe — asking a QEMU binary what it is, and the cache; see
 * probe.h.
 *
 * The probe's QMP channel is a connected socketpair, not a listening
 * socket: `-chardev socket,id=qmp,fd=3` on a connected descriptor makes
 * QEMU a connected client, so there is no path to bind or clean up, and a
 * QEMU that dies closes its end at once.  Its output goes to an in-memory
 * file, quoted when it does not answer.
 */
#include "vm/qemu/probe.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "qmp/qmp_client.h"
#include "vm/model/parts.h"
#include "vm/qemu/process.h"

#define PROBE_TIMEOUT_MS 10000
#define CACHE_MAX 16

/* ---- the probe ---- */

/* The probe's output so far, for an error message (heap string). */
static char *probe_output(int memfd)
{
	char buf[1024];
	ssize_t n = pread(memfd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return xstrdup("(no output)");
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return xstrdup(buf);
}

/* Wait for pid until the deadline, then SIGKILL and reap it. */
static void probe_reap(pid_t pid, int64_t deadline)
{
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (util_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		usleep(2000);
	}
}

static int probe_ask(struct qmp_client *c, const char *binary, int64_t deadline,
		     struct vm_qemu_caps *out, struct err **e)
{
	cleanup_json struct json_object *ver = NULL, *target = NULL, *machines = NULL;
	int left = (int)(deadline - util_now_ms());
	int r = qmp_execute(c, "query-version", NULL, left > 0 ? left : 1, &ver, e);
	/* query-target and query-machines are as old as QMP itself; a binary
	 * without them still has a version. */
	cleanup_err struct err *ignored = NULL;
	if (r == 0 && (left = (int)(deadline - util_now_ms())) > 0)
		qmp_execute(c, "query-target", NULL, left, &target, &ignored);
	err_free(&ignored);
	if (r == 0 && (left = (int)(deadline - util_now_ms())) > 0)
		qmp_execute(c, "query-machines", NULL, left, &machines, &ignored);
	if (r == 0)
		r = vm_qemu_caps_parse(binary, ver, target, machines, out, e);
	err_free(&ignored);
	if ((left = (int)(deadline - util_now_ms())) > 0)
		qmp_execute(c, "quit", NULL, left, NULL, &ignored);
	return r;
}

/* The child's end of the socketpair, above the numbers its placement uses. */
static int probe_high(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	return h;
}

int vm_qemu_probe(const char *binary, const struct vm_qemu_probe *how, struct vm_qemu_caps *out,
		  struct err **e)
{
	int64_t deadline = util_now_ms() + (how && how->timeout_ms > 0 ? how->timeout_ms : PROBE_TIMEOUT_MS);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return err_sys(e, errno, "socketpair");
	cleanup_close int theirs = probe_high(sv[1]);
	cleanup_close int memfd = memfd_create("qemu-probe", MFD_CLOEXEC);
	if (theirs < 0 || memfd < 0) {
		close(sv[0]);
		return err_sys(e, errno, "probe %s", binary);
	}
	char log[64];
	snprintf(log, sizeof(log), "/proc/self/fd/%d", memfd);
	char *argv[] = {(char *)binary, "-machine", "none", "-nodefaults", "-no-user-config",
			"-display", "none", "-S", "-chardev", "socket,id=qmp,fd=3", "-mon",
			"chardev=qmp,mode=control", NULL, NULL, NULL};
	if (how && how->confine) {
		argv[12] = "-sandbox";
		argv[13] = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";
	}
	struct vm_fdplan none = {0};
	struct vm_process_spawn sp = {.argv = argv, .listen_fd = theirs, .plan = &none, .fds = NULL,
				      .log_path = log, .uid = how ? how->uid : 0,
				      .gid = how ? how->gid : 0};
	pid_t pid = -1;
	if (vm_process_spawn(&sp, &pid, e) < 0) {
		close(sv[0]);
		return err_wrap(e, "probe %s", binary);
	}
	close(move_fd(theirs)); /* QEMU holds the only copy: if it dies, QMP sees EOF */
	struct qmp_client *c = NULL;
	cleanup_err struct err *qe = NULL;
	int left = (int)(deadline - util_now_ms());
	int r = qmp_client_open(sv[0], NULL, left > 0 ? left : 1, &c, &qe);
	if (r == 0) {
		r = probe_ask(c, binary, deadline, out, &qe);
		qmp_client_unref(c);
	}
	probe_reap(pid, r == 0 ? deadline : util_now_ms() + 200);
	if (r < 0) {
		cleanup_free char *said = probe_output(memfd);
		return err_set(e, qe->code == ETIMEDOUT ? ETIMEDOUT : EIO,
			       "%s did not answer query-version (%s): %s", binary, qe->msg, said);
	}
	return 0;
}

/* ---- the cache ---- */

struct cache_entry {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct vm_qemu_caps caps;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry cache[CACHE_MAX];
static size_t cache_n, cache_next;

static bool same_file(const struct cache_entry *c, const char *binary, const struct stat *st)
{
	return !strcmp(c->caps.binary, binary) && c->dev == st->st_dev && c->ino == st->st_ino &&
	       c->size == st->st_size && c->mtime.tv_sec == st->st_mtim.tv_sec &&
	       c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static bool cache_find(const char *binary, const struct stat *st, struct vm_qemu_caps *out)
{
	bool found = false;
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < cache_n && !found; i++)
		if (same_file(&cache[i], binary, st)) {
			*out = cache[i].caps;
			found = true;
		}
	pthread_mutex_unlock(&cache_lock);
	return found;
}

static void cache_put(const struct stat *st, const struct vm_qemu_caps *caps)
{
	pthread_mutex_lock(&cache_lock);
	size_t slot = cache_n;
	for (size_t i = 0; i < cache_n; i++) /* the same path again: replace it */
		if (!strcmp(cache[i].caps.binary, caps->binary))
			slot = i;
	if (slot == cache_n && cache_n < CACHE_MAX)
		cache_n++;
	else if (slot == cache_n)
		slot = cache_next++ % CACHE_MAX;
	cache[slot] = (struct cache_entry){.dev = st->st_dev, .ino = st->st_ino, .size = st->st_size,
					   .mtime = st->st_mtim, .caps = *caps};
	pthread_mutex_unlock(&cache_lock);
}

int vm_qemu_caps_get(const char *binary, const struct vm_qemu_probe *how, struct vm_qemu_caps *out,
		     struct err **e)
{
	struct stat st;
	if (!binary || !*binary)
		return err_set(e, ENOENT, "no QEMU binary for this config");
	if (stat(binary, &st) < 0)
		return err_sys(e, errno, "qemu %s", binary);
	if (cache_find(binary, &st, out))
		return 0;
	struct vm_qemu_caps caps;
	int r = vm_qemu_probe(binary, how, &caps, e);
	if (r < 0)
		return r;
	cache_put(&st, &caps);
	*out = caps;
	return 0;
}

void vm_qemu_caps_forget(void)
{
	pthread_mutex_lock(&cache_lock);
	cache_n = cache_next = 0;
	pthread_mutex_unlock(&cache_lock);
}

/* The binary asked as the daemon, confined, for the save/migrate rules. */
static int caps_as_daemon(const char *binary, struct vm_qemu_caps *out, struct err **e)
{
	struct vm_qemu_probe how = {.confine = true};
	return vm_qemu_caps_get(binary, &how, out, e);
}

int vm_probe_version(const char *binary, int *major, int *minor, struct err **e)
{
	struct vm_qemu_caps q;
	int r = caps_as_daemon(binary, &q, e);
	if (r == 0) {
		*major = q.major;
		*minor = q.minor;
	}
	return r;
}

int vm_probe_machine(const char *binary, const char *machine, char **out, struct err **e)
{
	struct vm_qemu_caps q;
	int r = caps_as_daemon(binary, &q, e);
	if (r < 0)
		return r;
	const char *t = vm_qemu_machine_type(&q, machine);
	if (!t)
		return err_set(e, ENOENT, "%s has no machine type %s", binary, machine);
	*out = xstrdup(t);
	return 0;
}
