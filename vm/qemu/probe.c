/*
 * vm_probe — a QEMU binary's version and machine aliases; see probe.h.
 *
 * The binary runs without a shell, stdin /dev/null, its stdout read
 * through a pipe (at most 256 KiB), killed when it takes longer than
 * VM_PROBE_TIMEOUT_MS.  `-machine help` lines read
 *
 *   NAME<blanks>DESCRIPTION[ (alias of VERSIONED)][ (default)]...
 */
#include "vm/qemu/probe.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/util.h"

#define PROBE_OUT_MAX (256 * 1024)
#define PROBE_CACHE_MAX 16

struct probe_entry {
	char *binary;
	struct stat st;
	int major, minor;
	char *machines; /* `-machine help` output, NULL until asked */
};

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct probe_entry probe_cache[PROBE_CACHE_MAX];
static size_t probe_next;

/* Read the child's output until EOF, the limit or the deadline. */
static int probe_read(int fd, pid_t pid, struct sbuf *out)
{
	int64_t deadline = util_now_ms() + VM_PROBE_TIMEOUT_MS;
	char buf[4096];
	for (;;) {
		int left = (int)(deadline - util_now_ms());
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, left) == 0) {
			kill(pid, SIGKILL);
			return -ETIMEDOUT;
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (out->len + (size_t)n > PROBE_OUT_MAX) {
			kill(pid, SIGKILL);
			return -E2BIG;
		}
		sbuf_addn(out, buf, (size_t)n);
	}
}

/* BINARY ARG...: its standard output (a heap string). */
static int probe_run(const char *binary, char *const argv[], char **out, struct err **e)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_sys(e, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return err_sys(e, err, "fork");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(pfd[1], 1) < 0 || dup2(null, 2) < 0)
			_exit(126);
		execv(binary, argv);
		_exit(127);
	}
	close(pfd[1]);
	struct sbuf b = {0};
	int r = probe_read(pfd[0], pid, &b);
	close(pfd[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		r = -EIO;
	if (r < 0) {
		sbuf_release(&b);
		return err_set(e, -r, "%s %s: %s", binary, argv[1],
			       r == -EIO ? "failed" : strerror(-r));
	}
	*out = sbuf_steal(&b);
	return 0;
}

static bool probe_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Under probe_lock: the entry of `binary` as it is on disk now, asked for
 * its version when new. */
static struct probe_entry *probe_entry(const char *binary, struct err **e)
{
	struct stat st;
	if (stat(binary, &st) < 0) {
		err_sys(e, errno, "qemu %s", binary);
		return NULL;
	}
	for (size_t i = 0; i < PROBE_CACHE_MAX; i++) {
		struct probe_entry *p = &probe_cache[i];
		if (p->binary && !strcmp(p->binary, binary) && probe_same(&p->st, &st))
			return p;
	}
	char *const argv[] = {(char *)binary, (char *)"--version", NULL};
	cleanup_free char *text = NULL;
	if (probe_run(binary, argv, &text, e) < 0)
		return NULL;
	int major = 0, minor = 0;
	const char *v = strstr(text, "version ");
	if (!v || sscanf(v, "version %d.%d", &major, &minor) != 2) {
		err_set(e, EIO, "%s --version: no version in '%.80s'", binary, text);
		return NULL;
	}
	struct probe_entry *p = &probe_cache[probe_next++ % PROBE_CACHE_MAX];
	free(p->binary);
	free(p->machines);
	*p = (struct probe_entry){.binary = xstrdup(binary), .st = st, .major = major, .minor = minor};
	return p;
}

int vm_probe_version(const char *binary, int *major, int *minor, struct err **e)
{
	pthread_mutex_lock(&probe_lock);
	struct probe_entry *p = probe_entry(binary, e);
	if (p) {
		*major = p->major;
		*minor = p->minor;
	}
	pthread_mutex_unlock(&probe_lock);
	return p ? 0 : err_ret(e);
}

/* The versioned type of `machine` in a `-machine help` text. */
static int probe_alias(const char *text, const char *machine, char **out)
{
	size_t n = strlen(machine);
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, machine, n) != 0 || (l[n] != ' ' && l[n] != '\t'))
			continue;
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		cleanup_free char *line = xstrndup(l, len);
		const char *a = strstr(line, "(alias of ");
		if (!a) {
			*out = xstrdup(machine);
			return 0;
		}
		a += strlen("(alias of ");
		*out = xstrndup(a, strcspn(a, ")"));
		return 0;
	}
	return -ENOENT;
}

int vm_probe_machine(const char *binary, const char *machine, char **out, struct err **e)
{
	pthread_mutex_lock(&probe_lock);
	struct probe_entry *p = probe_entry(binary, e);
	int r = p ? 0 : err_ret(e);
	if (p && !p->machines) {
		char *const argv[] = {(char *)binary, (char *)"-machine", (char *)"help", NULL};
		r = probe_run(binary, argv, &p->machines, e);
	}
	if (r == 0 && probe_alias(p->machines, machine, out) < 0)
		r = err_set(e, ENOENT, "%s knows no machine type %s", binary, machine);
	pthread_mutex_unlock(&probe_lock);
	return r;
}
