/* support_fakeqmp — see support_fakeqmp.h. */
#include "tests/unit/support_fakeqmp.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static void *fake_main(void *arg)
{
	struct fakeqmp *f = arg;
	fakeqmp_event(f, greeting);
	char buf[65536];
	size_t len = 0;
	for (;;) {
		ssize_t n = recv(f->fd, buf + len, sizeof(buf) - 1 - len, 0);
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
					     args ? json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN) : "{}") >= 0)
					f->log[f->nlog++] = line;
			}
			pthread_mutex_unlock(&f->m);
			const char *reply = !strcmp(cmd, "qmp_capabilities") ? "{\"return\": {}}"
									     : f->handler(f, cmd, args);
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
	pthread_mutex_destroy(&f->m);
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
