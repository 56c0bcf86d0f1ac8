/*
 * fs_notify — change notification of the tree's open files: poll() parks a
 * FUSE poll handle until the sandbox changes (fs_notify_change, the fs's
 * observer of commits, wakes it), sysfs-style; the events file streams a
 * sandbox's event lines like `tail -f`.
 */
#include "fs/fs_handle.h"

#include <fuse_lowlevel.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "vm/sandbox/sandbox.h"

/* Every handle with a pending poll(), woken by fs_notify_change. */
static pthread_mutex_t pollers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_handle **pollers;
static size_t npollers;

uint64_t fs_handle_gen(struct fs_handle *h)
{
	struct vm_sandbox *sb = h->ctx.sb;
	if (!sb)
		return 0;
	pthread_mutex_lock(&sb->lock);
	uint64_t g = h->node->flags & FS_POLL_STATE ? sb->state_changes
		   : h->node->flags & FS_EVENTS     ? sb->events_next
						    : sb->state_gen;
	pthread_mutex_unlock(&sb->lock);
	return g;
}

void fs_pollers_drop(struct fs_handle *h)
{
	pthread_mutex_lock(&pollers_lock);
	for (size_t i = 0; i < npollers; i++)
		if (pollers[i] == h) {
			pollers[i] = pollers[--npollers];
			break;
		}
	if (h->ph)
		fuse_pollhandle_destroy(h->ph);
	h->ph = NULL;
	pthread_mutex_unlock(&pollers_lock);
}

int fs_notify_change(struct vm_sandbox *sb, enum vm_change what, struct err **e)
{
	pthread_mutex_lock(&pollers_lock);
	for (size_t i = 0; i < npollers;) {
		struct fs_handle *h = pollers[i];
		if (h->ctx.sb != sb) {
			i++;
			continue;
		}
		fuse_notify_poll(h->ph);
		fuse_pollhandle_destroy(h->ph);
		h->ph = NULL;
		pollers[i] = pollers[--npollers];
	}
	pthread_mutex_unlock(&pollers_lock);
	return 0;
}

/* Is the daemon going away (unmount, SIGTERM)? */
static bool fs_exiting(void)
{
	struct fuse_context *fc = fuse_get_context();
	return fc && fc->fuse && fuse_session_exited(fuse_get_session(fc->fuse));
}

/*
 * events: block (like `tail -f`) until there are lines past the handle's
 * cursor; wake every 200 ms to notice an interrupt (^C), the sandbox's
 * removal or the daemon exiting, which end the read.
 */
int fs_events_read(struct fs_handle *h, char *buf, size_t size)
{
	struct vm_sandbox *sb = h->ctx.sb;
	struct sbuf out = {0};
	pthread_mutex_lock(&sb->lock);
	for (;;) {
		if (sb->events_next > h->ev_seq)
			break;
		if (sb->removed || fuse_interrupted() || fs_exiting()) {
			pthread_mutex_unlock(&sb->lock);
			return fuse_interrupted() ? -EINTR : 0;
		}
		struct timespec dl;
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_nsec += 200 * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sb->cond, &sb->lock, &dl);
	}
	if (sb->events_next - h->ev_seq > VM_EVENTS_MAX) {
		sbuf_printf(&out, "{\"event\": \"EVENTS_LOST\", \"data\": {\"count\": %llu}}\n",
			    (unsigned long long)(sb->events_next - h->ev_seq - VM_EVENTS_MAX));
		h->ev_seq = sb->events_next - VM_EVENTS_MAX;
	}
	/* Whole lines only, as many as fit. */
	while (h->ev_seq < sb->events_next) {
		const char *line = sb->events[h->ev_seq % VM_EVENTS_MAX];
		size_t len = strlen(line) + 1;
		if (out.len && out.len + len > size)
			break;
		sbuf_add(&out, line);
		sbuf_addc(&out, '\n');
		h->ev_seq++;
	}
	pthread_mutex_unlock(&sb->lock);
	size_t n = out.len < size ? out.len : size;
	memcpy(buf, out.s, n);
	sbuf_release(&out);
	return (int)n;
}

/* A number N written to an open events file: it reads on after line N
 * (the "seq" of each line), e.g. the last one a reader saw before the
 * daemon restarted; 0: from the oldest line kept. */
int fs_events_seek(struct fs_handle *h, const char *buf, size_t size)
{
	struct vm_sandbox *sb = h->ctx.sb;
	cleanup_free char *v = xstrndup(buf, size);
	if (size && v[size - 1] == '\n')
		v[size - 1] = '\0';
	long long n;
	cleanup_err struct err *e = NULL;
	int r = util_parse_int(v, 0, INT64_MAX, &n);
	pthread_mutex_lock(&sb->lock);
	uint64_t last = sb->events_next;
	if (r == -EINVAL)
		err_set(&e, EINVAL, "events: not a line number: '%.32s'", v);
	else if (r < 0 || (uint64_t)n > last)
		err_set(&e, ERANGE, "events: no line %s yet (the last is %llu)", v, (unsigned long long)last);
	else
		h->ev_seq = (uint64_t)n;
	pthread_mutex_unlock(&sb->lock);
	if (e) {
		vm_sandbox_write_failed(sb, e->code, e->msg);
		return -e->code;
	}
	return (int)size;
}

/*
 * poll(): readable at once (POLLIN); once the sandbox changed since what
 * this handle last rendered (for `state`: since the state last changed),
 * POLLIN|POLLPRI — sysfs-style; re-read from offset 0 to get the news.
 */
int fs_handle_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph,
		   unsigned *reventsp)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	if (!h->ctx.sb) {
		*reventsp = POLLIN;
		if (ph)
			fuse_pollhandle_destroy(ph);
		return 0;
	}
	pthread_mutex_lock(&pollers_lock);
	/* events: readable while lines past the reader's cursor exist. */
	bool changed = h->node->flags & FS_EVENTS ? fs_handle_gen(h) > h->ev_seq : fs_handle_gen(h) != h->gen;
	if (changed || !ph) {
		if (ph)
			fuse_pollhandle_destroy(ph);
	} else {
		if (h->ph)
			fuse_pollhandle_destroy(h->ph);
		else {
			pollers = xrealloc(pollers, (npollers + 1) * sizeof(*pollers));
			pollers[npollers++] = h;
		}
		h->ph = ph;
	}
	pthread_mutex_unlock(&pollers_lock);
	if (h->node->flags & FS_EVENTS)
		*reventsp = changed ? POLLIN : 0;
	else
		*reventsp = changed ? POLLIN | POLLPRI : 0;
	return 0;
}
