/*
 * vm_sandbox (events) — the events ring of a sandbox and its copy on disk.
 *
 * Every line gets the next sequence number as its first member
 * ({"seq":N,...}), is kept in the ring (the last VM_EVENTS_MAX) and is
 * appended to <rundir>/events.jsonl, which is cut back to the last
 * VM_EVENTS_MAX lines when it holds twice that.  A restarted daemon loads
 * the file back, so the numbers go on and a reader can resume after the
 * last one it saw.  The copy on disk is best effort: a full disk loses
 * event lines, never a state change.
 */
#include "vm/sandbox/sandbox.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

#define EVENTS_FILE "events.jsonl"

/* Under sb->lock: the file cut back to the ring's lines, then appended to. */
static void events_rewrite(struct vm_sandbox *sb)
{
	struct sbuf b = {0};
	uint64_t first = sb->events_next > VM_EVENTS_MAX ? sb->events_next - VM_EVENTS_MAX : 0;
	for (uint64_t n = first; n < sb->events_next; n++) {
		sbuf_add(&b, sb->events[n % VM_EVENTS_MAX]);
		sbuf_addc(&b, '\n');
	}
	cleanup_free char *path = xasprintf("%s/%s", sb->rundir, EVENTS_FILE);
	if (sb->events_fd >= 0)
		close(sb->events_fd);
	sb->events_fd = -1;
	if (util_write_file_atomic(path, b.s ? b.s : "", b.len, 0600) == 0)
		sb->events_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	sb->events_on_disk = sb->events_next - first;
	sbuf_release(&b);
}

static void events_append(struct vm_sandbox *sb, const char *line)
{
	if (sb->removed)
		return;
	if (sb->events_fd < 0 || sb->events_on_disk >= 2 * VM_EVENTS_MAX) {
		events_rewrite(sb);
		return;
	}
	size_t len = strlen(line);
	struct iovec iov[2] = {{(void *)line, len}, {"\n", 1}};
	if (writev(sb->events_fd, iov, 2) != (ssize_t)len + 1) {
		close(sb->events_fd); /* made again at the next line */
		sb->events_fd = -1;
		return;
	}
	sb->events_on_disk++;
}

void vm_sandbox_events_push_locked(struct vm_sandbox *sb, char *line)
{
	/* {"seq":N, then the line's own members */
	char *numbered = line[0] == '{' && line[1] != '}' ?
			 xasprintf("{\"seq\":%llu,%s", (unsigned long long)sb->events_next + 1, line + 1)
			 : xasprintf("{\"seq\":%llu}", (unsigned long long)sb->events_next + 1);
	free(line);
	char **slot = &sb->events[sb->events_next % VM_EVENTS_MAX];
	free(*slot);
	*slot = numbered;
	sb->events_next++;
	events_append(sb, numbered);
}

void vm_sandbox_events_load(struct vm_sandbox *sb)
{
	cleanup_free char *path = xasprintf("%s/%s", sb->rundir, EVENTS_FILE);
	size_t len;
	cleanup_free char *text = util_read_file(path, &len);
	if (!text)
		return;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		cleanup_json struct json_object *o = json_tokener_parse(line);
		int64_t seq;
		if (!o || util_json_int(o, "seq", &seq) < 0 || seq < 1 || (uint64_t)seq <= sb->events_next)
			continue; /* a torn or out-of-order line */
		sb->events_next = (uint64_t)seq;
		char **slot = &sb->events[(sb->events_next - 1) % VM_EVENTS_MAX];
		free(*slot);
		*slot = xstrdup(line);
	}
	/* Lines lost between the kept ones cannot be read back: blank them. */
	for (uint64_t n = sb->events_next > VM_EVENTS_MAX ? sb->events_next - VM_EVENTS_MAX : 0;
	     n < sb->events_next; n++)
		if (!sb->events[n % VM_EVENTS_MAX])
			sb->events[n % VM_EVENTS_MAX] = xasprintf("{\"seq\":%llu,\"event\":\"EVENTS_LOST\","
								  "\"data\":{\"count\":1}}",
								  (unsigned long long)n + 1);
	events_rewrite(sb);
}

char *vm_sandbox_event_line(const char *name, struct json_object *data)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cleanup_json struct json_object *o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "data", json_object_get(data));
	struct json_object *t = json_object_new_object();
	json_object_object_add(t, "seconds", json_object_new_int64(ts.tv_sec));
	json_object_object_add(t, "microseconds", json_object_new_int64(ts.tv_nsec / 1000));
	json_object_object_add(o, "timestamp", t);
	return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
}

