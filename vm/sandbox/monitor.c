/*
 * vm_monitor — notices QEMU processes exiting.
 *
 * One thread waits on an epoll set of pidfds (one per running sandbox), so
 * a QEMU killed or crashing is seen at once, not on the next poll tick.  It
 * reaps our own children and hands the status to the exit callback given
 * at start (the lifecycle's), never calling up by name.
 * Where pidfd_open is unavailable (old kernels, valgrind), the watched
 * process is checked every 250 ms instead.
 */
#include "vm/sandbox/monitor.h"

#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "lib/log.h"
#include "vm/qemu/process.h"
#include "vm/sandbox/sandbox.h"

static int mon_epfd = -1;
static int mon_wakefd = -1;
static pthread_t mon_thread;
static vm_monitor_exit_fn mon_exited;
static bool mon_running;
static bool mon_stopping;
/* Sandboxes registered (each holds a reference), to release at stop. */
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vm_sandbox **mon_watched;
static size_t mon_n;

static void watched_remove(struct vm_sandbox *sb)
{
	pthread_mutex_lock(&mon_lock);
	for (size_t i = 0; i < mon_n; i++)
		if (mon_watched[i] == sb) {
			mon_watched[i] = mon_watched[--mon_n];
			break;
		}
	pthread_mutex_unlock(&mon_lock);
}

/* Has a sandbox watched without a pidfd lost its process? */
static bool gone_without_pidfd(struct vm_sandbox *sb, int *status, bool *have)
{
	pthread_mutex_lock(&sb->lock);
	pid_t pid = sb->pid;
	bool child = sb->child;
	unsigned long long start = sb->start_time;
	pthread_mutex_unlock(&sb->lock);
	if (pid <= 0)
		return true;
	if (child) {
		*have = waitpid(pid, status, WNOHANG) == pid;
		return *have;
	}
	return vm_process_start_time(pid) != start;
}

static void check_unwatched(void)
{
	pthread_mutex_lock(&mon_lock);
	size_t n = mon_n;
	struct vm_sandbox **list = xcalloc(n + 1, sizeof(*list));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (mon_watched[i]->pidfd < 0)
			list[k++] = vm_sandbox_ref(mon_watched[i]);
	pthread_mutex_unlock(&mon_lock);
	for (size_t i = 0; i < k; i++) {
		int status = 0;
		bool have = false;
		if (gone_without_pidfd(list[i], &status, &have)) {
			watched_remove(list[i]);
			mon_exited(list[i], status, have);
			vm_sandbox_put(list[i]); /* the watch's reference */
		}
		vm_sandbox_put(list[i]);
	}
	free(list);
}

static bool any_unwatched(void)
{
	bool any = false;
	pthread_mutex_lock(&mon_lock);
	for (size_t i = 0; i < mon_n && !any; i++)
		any = mon_watched[i]->pidfd < 0;
	pthread_mutex_unlock(&mon_lock);
	return any;
}

static void *monitor_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(mon_epfd, evs, 16, any_unwatched() ? 250 : -1);
		if (n == 0) {
			check_unwatched();
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("monitor: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct vm_sandbox *sb = evs[i].data.ptr;
			if (!sb) { /* wake-up: stop, or re-evaluate the timeout */
				uint64_t v;
				if (read(mon_wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_err("monitor: wake read: %s", strerror(errno));
				if (__atomic_load_n(&mon_stopping, __ATOMIC_SEQ_CST))
					return NULL;
				continue;
			}
			pthread_mutex_lock(&sb->lock);
			int pidfd = sb->pidfd;
			pid_t pid = sb->pid;
			bool child = sb->child;
			pthread_mutex_unlock(&sb->lock);
			if (pidfd >= 0)
				epoll_ctl(mon_epfd, EPOLL_CTL_DEL, pidfd, NULL);
			int status = 0;
			bool have = false;
			if (child && pid > 0)
				have = waitpid(pid, &status, 0) == pid;
			watched_remove(sb);
			mon_exited(sb, status, have);
			vm_sandbox_put(sb);
		}
	}
}

int vm_monitor_start(vm_monitor_exit_fn exited, struct err **e)
{
	mon_exited = exited;
	mon_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (mon_epfd < 0)
		return err_sys(e, errno, "epoll_create1");
	mon_wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mon_wakefd < 0)
		return err_sys(e, errno, "eventfd");
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(mon_epfd, EPOLL_CTL_ADD, mon_wakefd, &ev) < 0)
		return err_sys(e, errno, "epoll_ctl");
	int r = pthread_create(&mon_thread, NULL, monitor_main, NULL);
	if (r)
		return err_sys(e, r, "pthread_create");
	mon_running = true;
	return 0;
}

void vm_monitor_stop(void)
{
	if (!mon_running)
		return;
	uint64_t one = 1;
	__atomic_store_n(&mon_stopping, true, __ATOMIC_SEQ_CST);
	if (write(mon_wakefd, &one, sizeof(one)) < 0)
		log_err("monitor: wake: %s", strerror(errno));
	pthread_join(mon_thread, NULL);
	mon_running = false;
	pthread_mutex_lock(&mon_lock);
	for (size_t i = 0; i < mon_n; i++)
		vm_sandbox_put(mon_watched[i]);
	free(mon_watched);
	mon_watched = NULL;
	mon_n = 0;
	pthread_mutex_unlock(&mon_lock);
	close(mon_wakefd);
	close(mon_epfd);
	mon_wakefd = mon_epfd = -1;
}

int vm_monitor_watch(struct vm_sandbox *sb, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	int pidfd = sb->pidfd;
	pthread_mutex_unlock(&sb->lock);
	pthread_mutex_lock(&mon_lock);
	mon_watched = xrealloc(mon_watched, (mon_n + 1) * sizeof(*mon_watched));
	mon_watched[mon_n++] = vm_sandbox_ref(sb);
	pthread_mutex_unlock(&mon_lock);
	if (pidfd < 0) {
		/* Checked every 250 ms instead; wake the thread to start doing so. */
		uint64_t one = 1;
		if (write(mon_wakefd, &one, sizeof(one)) < 0)
			return err_sys(e, errno, "monitor wake");
		return 0;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = sb};
	if (epoll_ctl(mon_epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
		int r = err_sys(e, errno, "epoll_ctl pidfd");
		watched_remove(sb);
		vm_sandbox_put(sb);
		return r;
	}
	return 0;
}
