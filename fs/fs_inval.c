/*
 * fs_inval — the queue of kernel cache invalidations and its thread; see
 * fs_inval.h.
 */
#define FUSE_USE_VERSION 35
#include "fs/fs_inval.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

struct inval {
	struct inval *next;
	uint64_t ino;  /* entry: the parent; attr: the inode */
	char *name;    /* entry: the name; NULL: attributes */
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct inval *head, **tail = &head;
static struct fuse_session *session;
static pthread_t thread;
static bool running, stopping;
/* One sender at a time, so a flush that returns has seen everything
 * queued before it sent. */
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;

static void enqueue(uint64_t ino, const char *name)
{
	struct inval *v = xcalloc(1, sizeof(*v));
	v->ino = ino;
	v->name = name ? xstrdup(name) : NULL;
	pthread_mutex_lock(&queue_lock);
	*tail = v;
	tail = &v->next;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
}

void fs_inval_entry(uint64_t parent, const char *name) { enqueue(parent, name); }
void fs_inval_attr(uint64_t ino) { enqueue(ino, NULL); }

static struct inval *pop(void)
{
	pthread_mutex_lock(&queue_lock);
	struct inval *v = head;
	if (v && !(head = v->next))
		tail = &head;
	pthread_mutex_unlock(&queue_lock);
	return v;
}

static void send_one(struct inval *v)
{
	int r = 0;
	if (session && v->name)
		r = fuse_lowlevel_notify_inval_entry(session, v->ino, v->name, strlen(v->name));
	else if (session) /* attributes only (offset -1: no page cache) */
		r = fuse_lowlevel_notify_inval_inode(session, v->ino, -1, 0);
	/* ENOENT: the kernel did not have it cached. */
	if (r < 0 && r != -ENOENT)
		log_debug("invalidating %s%s: %s", v->name ? "entry " : "inode ",
			  v->name ? v->name : "", strerror(-r));
	free(v->name);
	free(v);
}

void fs_inval_flush(void)
{
	pthread_mutex_lock(&send_lock);
	for (struct inval *v; (v = pop());)
		send_one(v);
	pthread_mutex_unlock(&send_lock);
}

static void *inval_main(void *arg)
{
	pthread_mutex_lock(&queue_lock);
	while (!stopping) {
		if (!head) {
			pthread_cond_wait(&queue_cond, &queue_lock);
			continue;
		}
		pthread_mutex_unlock(&queue_lock);
		fs_inval_flush();
		pthread_mutex_lock(&queue_lock);
	}
	pthread_mutex_unlock(&queue_lock);
	return NULL;
}

void fs_inval_start(struct fuse_session *se)
{
	session = se;
	stopping = false;
	if (pthread_create(&thread, NULL, inval_main, NULL) == 0)
		running = true;
	else
		log_err("cannot start the invalidation thread: kernel caches may lag");
}

void fs_inval_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&queue_lock);
	stopping = true;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	pthread_join(thread, NULL);
	running = false;
	session = NULL;
	for (struct inval *v; (v = pop());)
		send_one(v);
}
