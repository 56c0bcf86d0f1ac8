/*
 * fs_notify — change notification of the tree's open files: poll() parks a
 * FUSE poll handle until the sandbox changes (fs_notify_change, the fs's
 * observer of commits, wakes it), sysfs-style; the events file streams a
 * sandbox's event lines like `tail -f`, its blocked reads parked as
 * requests (answered later, no thread held) rather than waited for; and a
 * commit invalidates the kernel's entries of dynamic children that went.
 */
#include "fs/fs_handle.h"

#include <poll.h>
#include <string.h>

#include "fs/fs_inode.h"
#include "fs/fs_inval.h"
#include "vm/sandbox/sandbox.h"

/* A parked read of events. */
struct ev_wait {
	struct ev_wait *next;
	fuse_req_t req;
	struct fs_handle *h;
	size_t size;
};

/* Every handle with a pending poll(), and every parked events read:
 * under pollers_lock, which is taken before a sandbox's lock. */
static pthread_mutex_t pollers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fs_handle **pollers;
static size_t npollers;
static struct ev_wait *waits;
static bool exiting;

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

/* Under sb->lock: whole lines past the handle's cursor, as many as fit
 * in `size` (at least one), after an EVENTS_LOST line when the reader
 * fell more than the ring behind. */
static void take_lines(struct fs_handle *h, size_t size, struct sbuf *out)
{
	struct vm_sandbox *sb = h->ctx.sb;
	if (sb->events_next - h->ev_seq > VM_EVENTS_MAX) {
		sbuf_printf(out, "{\"event\": \"EVENTS_LOST\", \"data\": {\"count\": %llu}}\n",
			    (unsigned long long)(sb->events_next - h->ev_seq - VM_EVENTS_MAX));
		h->ev_seq = sb->events_next - VM_EVENTS_MAX;
	}
	while (h->ev_seq < sb->events_next) {
		const char *line = sb->events[h->ev_seq % VM_EVENTS_MAX];
		size_t len = strlen(line) + 1;
		if (out->len && out->len + len > size)
			break;
		sbuf_add(out, line);
		sbuf_addc(out, '\n');
		h->ev_seq++;
	}
}

/* Under pollers_lock: can the read be answered now (lines, or end of
 * file)?  Fills `out`. */
static bool answerable(struct fs_handle *h, size_t size, struct sbuf *out)
{
	struct vm_sandbox *sb = h->ctx.sb;
	pthread_mutex_lock(&sb->lock);
	bool now = sb->events_next > h->ev_seq || sb->removed || exiting;
	if (sb->events_next > h->ev_seq)
		take_lines(h, size, out);
	pthread_mutex_unlock(&sb->lock);
	return now;
}

static void reply_lines(fuse_req_t req, struct sbuf *out, size_t size)
{
	fuse_reply_buf(req, out->s, out->len < size ? out->len : size);
	sbuf_release(out);
}

/* The reader was interrupted (^C): its parked read ends with EINTR. */
static void on_interrupt(fuse_req_t req, void *data)
{
	pthread_mutex_lock(&pollers_lock);
	for (struct ev_wait **pp = &waits; *pp; pp = &(*pp)->next)
		if (*pp == data) {
			struct ev_wait *w = *pp;
			*pp = w->next;
			pthread_mutex_unlock(&pollers_lock);
			fuse_reply_err(req, EINTR);
			free(w);
			return;
		}
	pthread_mutex_unlock(&pollers_lock);
}

void fs_events_read(fuse_req_t req, struct fs_handle *h, size_t size)
{
	struct ev_wait *w = xcalloc(1, sizeof(*w));
	*w = (struct ev_wait){.req = req, .h = h, .size = size};
	/* Registered first: an interrupt that comes before the read is
	 * parked is seen below (fuse_req_interrupted), one after it by
	 * on_interrupt. */
	fuse_req_interrupt_func(req, on_interrupt, w);
	struct sbuf out = {0};
	pthread_mutex_lock(&pollers_lock);
	if (fuse_req_interrupted(req)) {
		pthread_mutex_unlock(&pollers_lock);
		free(w);
		fuse_reply_err(req, EINTR);
		return;
	}
	if (answerable(h, size, &out)) {
		pthread_mutex_unlock(&pollers_lock);
		free(w);
		reply_lines(req, &out, size);
		return;
	}
	w->next = waits;
	waits = w;
	pthread_mutex_unlock(&pollers_lock);
}

/* Answer the parked reads of `sb` (every sandbox: NULL) that can be. */
static void wake_reads(struct vm_sandbox *sb)
{
	for (;;) {
		struct sbuf out = {0};
		struct ev_wait *w = NULL;
		pthread_mutex_lock(&pollers_lock);
		for (struct ev_wait **pp = &waits; *pp; pp = &(*pp)->next)
			if ((!sb || (*pp)->h->ctx.sb == sb) && answerable((*pp)->h, (*pp)->size, &out)) {
				w = *pp;
				*pp = w->next;
				break;
			}
		pthread_mutex_unlock(&pollers_lock);
		if (!w)
			return;
		reply_lines(w->req, &out, w->size);
		free(w);
	}
}

void fs_events_removed(struct vm_sandbox *sb) { wake_reads(sb); }

void fs_events_shutdown(void)
{
	pthread_mutex_lock(&pollers_lock);
	exiting = true;
	pthread_mutex_unlock(&pollers_lock);
	wake_reads(NULL);
}

static void inval_gone(const struct fs_inode *in) { fs_inval_entry(in->parent, in->comp); }

int fs_notify_change(struct vm_sandbox *sb, enum vm_change what, struct err **e)
{
	pthread_mutex_lock(&pollers_lock);
	for (size_t i = 0; i < npollers;) {
		struct fs_handle *h = pollers[i];
		if (h->ctx.sb != sb) {
			i++;
			continue;
		}
		fuse_lowlevel_notify_poll(h->ph);
		fuse_pollhandle_destroy(h->ph);
		h->ph = NULL;
		pollers[i] = pollers[--npollers];
	}
	pthread_mutex_unlock(&pollers_lock);
	wake_reads(sb);
	/* A device or bridge that went: its name goes from the kernel's
	 * cache too (a new one needs none: names not found are not cached). */
	if (what != VM_CHANGE_NOTIFY)
		fs_inode_sweep_gone(sb, inval_gone);
	pthread_mutex_lock(&sb->lock);
	bool removed = sb->removed;
	pthread_mutex_unlock(&sb->lock);
	if (removed) /* other than by rmdir, which the kernel saw */
		fs_inval_entry(FS_ROOT_INO, sb->name);
	return 0;
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
void fs_handle_poll(fuse_req_t req, struct fs_handle *h, struct fuse_pollhandle *ph)
{
	if (!h->ctx.sb) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN);
		return;
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
	unsigned revents = !changed ? 0 : h->node->flags & FS_EVENTS ? POLLIN : POLLIN | POLLPRI;
	fuse_reply_poll(req, revents);
}
