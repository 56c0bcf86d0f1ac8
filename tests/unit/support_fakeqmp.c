/* support_fakeqmp — see support_fakeqmp.h. */
#include "tests/unit/support_fakeqmp.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char greeting[] =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
	"\"package\": \"fake\"}, \"capabilities\": []}}\n";

static void send_line(struct fakeqmp *f, const char *s)
{
	size_t n = strlen(s), off = 0;
	while (off < n) {
		ssize_t w = send(f->fd, s + off, n - off, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		off += (size_t)w;
	}
	if (send(f->fd, "\n", 1, MSG_NOSIGNAL) < 0)
		return;
}

void fakeqmp_event(struct fakeqmp *f, const char *json)
{
	pthread_mutex_lock(&f->m);
	send_line(f, json);
	pthread_mutex_unlock(&f->m);
}

void fakeqmp_then(struct fakeqmp *f, const char *json)
{
	free(f->then);
	f->then = strdup(json);
}

/* recv, keeping every descriptor that comes along (SCM_RIGHTS). */
static ssize_t recv_fds(struct fakeqmp *f, char *buf, size_t len)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(f->fd, &m, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			pthread_mutex_lock(&f->m);
			if (f->nrx < (int)(sizeof(f->rx) / sizeof(f->rx[0])))
				f->rx[f->nrx++] = fd;
			else
				close(fd);
			pthread_mutex_unlock(&f->m);
		}
	}
	return n;
}

static const char *arg_str(struct json_object *args, const char *k)
{
	struct json_object *v;
	return args && json_object_object_get_ex(args, k, &v) ? json_object_get_string(v) : "";
}

/* getfd / closefd as QEMU 7.2 answers them when they cannot succeed: true
 * (and the error reply in `out`) then; false to let the handler answer. */
static bool fd_command(struct fakeqmp *f, const char *cmd, struct json_object *args, char *out,
		       size_t len)
{
	const char *name = arg_str(args, "fdname");
	bool refused = false;
	pthread_mutex_lock(&f->m);
	if (!strcmp(cmd, "getfd")) {
		if (f->ntaken >= f->nrx) {
			snprintf(out, len, "{\"error\": {\"class\": \"GenericError\", \"desc\": "
				 "\"No file descriptor supplied via SCM_RIGHTS\"}}");
			refused = true;
		} else if (f->ngetfd < (int)(sizeof(f->getfd) / sizeof(f->getfd[0]))) {
			for (int i = 0; i < f->ngetfd; i++)
				if (!strcmp(f->getfd[i].name, name))
					f->getfd[i].held = false; /* replaced */
			f->getfd[f->ngetfd].name = strdup(name);
			f->getfd[f->ngetfd].rx = f->ntaken++;
			f->getfd[f->ngetfd++].held = true;
		}
	} else if (!strcmp(cmd, "closefd")) {
		int i = f->ngetfd - 1;
		while (i >= 0 && !(f->getfd[i].held && !strcmp(f->getfd[i].name, name)))
			i--;
		if (i < 0) {
			snprintf(out, len, "{\"error\": {\"class\": \"GenericError\", \"desc\": "
				 "\"File descriptor named '%s' not found\"}}", name);
			refused = true;
		} else {
			f->getfd[i].held = false;
		}
	}
	pthread_mutex_unlock(&f->m);
	return refused;
}

static void *fake_main(void *arg)
{
	struct fakeqmp *f = arg;
	fakeqmp_event(f, greeting);
	char buf[65536];
	size_t len = 0;
	for (;;) {
		ssize_t n = recv_fds(f, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *nl;
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			struct json_object *o = json_tokener_parse(buf), *cmdo, *args = NULL, *id = NULL;
			memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf) + 1);
			len = strlen(buf);
			if (!o || !json_object_object_get_ex(o, "execute", &cmdo)) {
				json_object_put(o);
				continue;
			}
			const char *cmd = json_object_get_string(cmdo);
			json_object_object_get_ex(o, "arguments", &args);
			json_object_object_get_ex(o, "id", &id);
			pthread_mutex_lock(&f->m);
			if (f->nlog < 128) {
				char *line;
				if (asprintf(&line, "%s %s", cmd,
					     args ? json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "{}") >= 0)
					f->log[f->nlog++] = line;
			}
			pthread_mutex_unlock(&f->m);
			char qemu_err[256];
			const char *reply = !strcmp(cmd, "qmp_capabilities") ? "{\"return\": {}}"
				: fd_command(f, cmd, args, qemu_err, sizeof(qemu_err))
					? qemu_err : f->handler(f, cmd, args);
			if (reply == FAKEQMP_CLOSE) {
				json_object_put(o);
				shutdown(f->fd, SHUT_RDWR);
				return NULL;
			}
			if (reply != FAKEQMP_SILENT) {
				struct json_object *r = json_tokener_parse(reply);
				if (id)
					json_object_object_add(r, "id", json_object_get(id));
				fakeqmp_event(f, json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
				json_object_put(r);
			}
			if (f->then) {
				fakeqmp_event(f, f->then);
				free(f->then);
				f->then = NULL;
			}
			json_object_put(o);
		}
	}
	return NULL;
}

int fakeqmp_start(struct fakeqmp *f, fakeqmp_handler h, void *opaque)
{
	int sv[2];
	memset(f, 0, sizeof(*f));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	f->fd = sv[0];
	f->handler = h;
	f->opaque = opaque;
	pthread_mutex_init(&f->m, NULL);
	pthread_create(&f->th, NULL, fake_main, f);
	return sv[1];
}

void fakeqmp_stop(struct fakeqmp *f)
{
	shutdown(f->fd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->fd);
	for (int i = 0; i < f->nlog; i++)
		free(f->log[i]);
	for (int i = 0; i < f->nrx; i++)
		close(f->rx[i]);
	for (int i = 0; i < f->ngetfd; i++)
		free(f->getfd[i].name);
	free(f->then);
	pthread_mutex_destroy(&f->m);
}

int fakeqmp_nfds(struct fakeqmp *f)
{
	pthread_mutex_lock(&f->m);
	int n = f->nrx;
	pthread_mutex_unlock(&f->m);
	return n;
}

int fakeqmp_fd(struct fakeqmp *f, const char *fdname)
{
	int fd = -1;
	pthread_mutex_lock(&f->m);
	for (int i = f->ngetfd - 1; i >= 0 && fd < 0; i--)
		if (!strcmp(f->getfd[i].name, fdname))
			fd = f->rx[f->getfd[i].rx];
	pthread_mutex_unlock(&f->m);
	return fd;
}

int fakeqmp_count(struct fakeqmp *f, const char *cmd, const char *needle)
{
	int n = 0;
	size_t cl = strlen(cmd);
	pthread_mutex_lock(&f->m);
	for (int i = 0; i < f->nlog; i++)
		if (!strncmp(f->log[i], cmd, cl) && f->log[i][cl] == ' ' &&
		    (!needle || strstr(f->log[i], needle)))
			n++;
	pthread_mutex_unlock(&f->m);
	return n;
}

const char *fakeqmp_cmds(struct fakeqmp *f)
{
	static char out[4096];
	out[0] = '\0';
	pthread_mutex_lock(&f->m);
	for (int i = 0; i < f->nlog; i++) {
		size_t l = strcspn(f->log[i], " ");
		if (strlen(out) + l + 2 < sizeof(out)) {
			if (*out)
				strcat(out, " ");
			strncat(out, f->log[i], l);
		}
	}
	pthread_mutex_unlock(&f->m);
	return out;
}
