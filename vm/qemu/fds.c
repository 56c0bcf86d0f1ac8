/*
 * vm_fds — the descriptors the daemon hands a QEMU; see fds.h.
 */
#include "vm/qemu/fds.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "lib/cred.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "vm/model/parts.h"
#include "vm/qemu/cmdline.h"

/*
 * Taps and macvtaps are reached from a thread of their own, which enters
 * the sandbox's network namespace (setns changes the calling thread only)
 * and, for a non-root writer, takes the writer's uid, gid and groups with
 * the raw system calls (which change the calling thread only), losing
 * every capability: the kernel itself then decides, as for the writer,
 * whether the tap may be attached (its tun owner or group, never a new one
 * without CAP_NET_ADMIN) and the macvtap's /dev/tapN opened.  The thread
 * ends with its credentials; the daemon's other threads never change.
 */
struct fds_net_job {
	const struct vm_fd *f;
	int netns_fd;
	int fd;
	struct err *err;
};

static int fds_net_identity(const struct vm_fd *f, struct err **e)
{
	if (cred_is_root(&f->cred))
		return 0;
	const struct cred *c = &f->cred;
	if (syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) < 0 ||
	    syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0 ||
	    syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0)
		return err_sys(e, errno, "%s: take the identity of uid %u", f->name, (unsigned)c->uid);
	return 0;
}

/* `tun`: /dev/net/tun, opened in the namespace (a tun file belongs to the
 * namespace it was opened in) and before the identity changed (the node
 * may be root's alone; what counts is the attach, TUNSETIFF, as the
 * writer). */
static int fds_net_open(const struct vm_fd *f, int tun, struct err **e)
{
	if (f->src == VM_FD_MACVTAP) {
		unsigned idx = if_nametoindex(f->name);
		if (!idx)
			return err_sys(e, errno, "macvtap %s", f->name);
		char p[32];
		snprintf(p, sizeof(p), "/dev/tap%u", idx);
		int fd = open(p, O_RDWR | O_CLOEXEC);
		return fd < 0 ? err_sys(e, errno, "macvtap %s: open %s as uid %u", f->name, p,
					(unsigned)f->cred.uid) : fd;
	}
	int fd = tun;
	struct ifreq ifr = {0};
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (f->multi_queue ? IFF_MULTI_QUEUE : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", f->name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;
		close(fd);
		if (err == EPERM && !cred_is_root(&f->cred))
			return err_set(e, EACCES, "tap %s: uid %u may attach only a tap it owns "
				       "(ip tuntap add %s mode tap user UID), never create one",
				       f->name, (unsigned)f->cred.uid, f->name);
		return err_sys(e, err, "tap %s: TUNSETIFF", f->name);
	}
	return fd;
}

static void *fds_net_thread(void *arg)
{
	struct fds_net_job *j = arg;
	int tun = -1;
	if (j->netns_fd >= 0 && setns(j->netns_fd, CLONE_NEWNET) < 0) {
		j->fd = err_sys(&j->err, errno, "%s: enter the network namespace", j->f->name);
		return NULL;
	}
	if (j->f->src == VM_FD_TUN && (tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0) {
		j->fd = err_sys(&j->err, errno, "open /dev/net/tun");
		return NULL;
	}
	j->fd = fds_net_identity(j->f, &j->err);
	if (j->fd == 0)
		j->fd = fds_net_open(j->f, tun, &j->err);
	else if (tun >= 0)
		close(tun);
	return NULL;
}

static int fds_open_net(const struct vm_fd *f, const struct vm_fds_ctx *ctx, struct err **e)
{
	struct fds_net_job j = {.f = f, .netns_fd = ctx ? ctx->netns_fd : -1, .fd = -1};
	/* The thread is there to keep setns and the identity change to
	 * itself: with neither to make (root's tap, no namespace), the open is
	 * the same on this thread, without a thread's start-up. */
	if (j.netns_fd < 0 && cred_is_root(&f->cred)) {
		fds_net_thread(&j);
	} else {
		pthread_t t;
		int r = pthread_create(&t, NULL, fds_net_thread, &j);
		if (r)
			return err_sys(e, r, "pthread_create");
		pthread_join(t, NULL);
	}
	if (j.fd < 0) {
		int code = err_code(j.err);
		err_set(e, code, "%s", j.err ? j.err->msg : "tap: failed");
		err_free(&j.err);
		return -code;
	}
	return j.fd;
}

/* Could QEMU open this inode itself (through /proc/self/fd)? */
static bool fds_qemu_reads(int fd, const struct vm_fds_ctx *q)
{
	struct stat st;
	if (!q || q->qemu_uid == 0)
		return true;
	if (fstat(fd, &st) < 0)
		return false;
	mode_t bit = st.st_uid == q->qemu_uid ? S_IRUSR : st.st_gid == q->qemu_gid ? S_IRGRP : S_IROTH;
	return (st.st_mode & bit) != 0;
}

/* A sealed in-memory copy of the file behind `fd` (a kernel, an initrd
 * only its writer may read): QEMU reads the copy through /proc/self/fd,
 * and what it reads is what the writer's descriptor held. */
static int fds_memfd_copy(int fd, const char *name, struct err **e)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_sys(e, errno, "fstat %s", name);
	cleanup_close int m = memfd_create("sandboxfs-copy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (m < 0)
		return err_sys(e, errno, "memfd_create");
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(m, fd, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			return err_sys(e, n < 0 ? errno : EIO, "copy %s", name);
	}
	if (fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return err_sys(e, errno, "seal the copy of %s", name);
	return move_fd(m);
}

static int fds_open_file(const struct vm_fd *f, const struct vm_fds_ctx *q, struct err **e)
{
	int fd = cred_open(&f->cred, f->name, f->flags, e);
	if (fd < 0 || f->ref != VM_FD_REF_PROC || fds_qemu_reads(fd, q))
		return fd;
	int copy = fds_memfd_copy(fd, f->name, e);
	close(fd);
	return copy;
}

static int fds_open_one(const struct vm_fd *f, const struct vm_fds_ctx *q, struct err **e)
{
	int fd = -1;
	switch (f->src) {
	case VM_FD_PATH:
		fd = open(f->name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, errno, "open %s", f->name);
		break;
	case VM_FD_TUN:
	case VM_FD_MACVTAP:
		fd = fds_open_net(f, q, e);
		break;
	case VM_FD_FILE:
		fd = fds_open_file(f, q, e);
		break;
	case VM_FD_CONNECT:
		fd = cred_connect(&f->cred, f->name, e);
		break;
	case VM_FD_LISTEN:
		fd = cred_listen(&f->cred, f->name, e);
		break;
	case VM_FD_MEMFD: /* the daemon's: no path a writer named */
		fd = memfd_create(f->name, MFD_CLOEXEC);
		if (fd < 0)
			return err_sys(e, errno, "memfd_create %s", f->name);
		if (ftruncate(fd, f->size) < 0) {
			int err = errno;
			close(fd);
			return err_sys(e, err, "memfd %s: size %lld", f->name, f->size);
		}
		break;
	}
	if (fd < 0)
		return fd;
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	int err = errno;
	close(fd);
	if (high < 0)
		return err_sys(e, err, "fcntl F_DUPFD");
	return high;
}

/* May `c` write to the socket inode `st` (its owner, group or other bits)? */
static bool fds_may_write(const struct cred *c, const struct stat *st)
{
	if (cred_is_root(c) || st->st_uid == c->uid)
		return cred_is_root(c) || (st->st_mode & S_IWUSR);
	bool group = st->st_gid == c->gid;
	for (int i = 0; !group && i < c->ngroups; i++)
		group = st->st_gid == c->groups[i];
	return (st->st_mode & (group ? S_IWGRP : S_IWOTH)) != 0;
}

/* A socket the writer names: reachable with their rights (an O_PATH open
 * as them walks the directories), and writable by them.  Nothing connects
 * (a backend such as virtiofsd serves one connection, then exits). */
static int fds_check_socket(const struct vm_fd *f, bool later, struct err **e)
{
	const char *path = f->name;
	cleanup_free char *dir = NULL;
	struct stat st;
	/* A backend that starts later (a device added cold): its socket may
	 * not exist yet; then its directory is what the writer must reach. */
	bool absent = f->src == VM_FD_CONNECT && later && stat(path, &st) < 0 && errno == ENOENT;
	if (f->src == VM_FD_LISTEN || absent) { /* the directory must be the writer's */
		dir = xstrdup(path);
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0'; /* a socket in / */
		else if (slash)
			*slash = '\0';
		path = dir;
	}
	cleanup_close int fd = cred_open(&f->cred, path, O_PATH, e);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return err_sys(e, errno, "stat %s", path);
	if (absent) /* search permission down to it was the walk */
		return 0;
	if (f->src == VM_FD_CONNECT && !S_ISSOCK(st.st_mode))
		return err_set(e, ENOTSOCK, "%s is not a socket", path);
	if (!fds_may_write(&f->cred, &st))
		return err_set(e, EACCES, "%s: uid %u may not %s it", path, (unsigned)f->cred.uid,
			       f->src == VM_FD_LISTEN ? "create a socket in" : "connect to");
	return 0;
}

int vm_fds_check(const struct vm_fdplan *plan, const struct vm_fds_ctx *ctx, struct err **e)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < plan->n; i++) {
		const struct vm_fd *f = &plan->v[i];
		switch (f->src) {
		case VM_FD_FILE:
		case VM_FD_TUN:
		case VM_FD_MACVTAP: { /* a tap attached and let go again is as it was */
			int fd = f->src == VM_FD_FILE ? cred_open(&f->cred, f->name, f->flags, e)
						      : fds_open_net(f, ctx, e);
			if (fd >= 0)
				close(fd);
			r = fd < 0 ? fd : 0;
			break;
		}
		case VM_FD_CONNECT:
		case VM_FD_LISTEN:
			r = fds_check_socket(f, ctx && ctx->backends_later, e);
			break;
		case VM_FD_PATH:
		case VM_FD_MEMFD:
			break;
		}
	}
	return r;
}

int vm_fds_open(const struct vm_fdplan *plan, const struct vm_fds_ctx *qemu, int *out,
		struct err **e)
{
	for (size_t i = 0; i < plan->n; i++) {
		int fd = fds_open_one(&plan->v[i], qemu, e);
		if (fd < 0) {
			for (size_t j = 0; j < i; j++)
				close(out[j]);
			return fd;
		}
		out[i] = fd;
	}
	return 0;
}

void vm_fds_close(const struct vm_fdplan *plan, int *fds)
{
	for (size_t i = 0; i < plan->n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

void vm_fds_child_place(int null_fd, int log_fd, int listen_fd, const struct vm_fdplan *plan,
			const int *fds)
{
	/* Lift every source above every target number first, so that no
	 * dup2() can clobber a source not yet placed. */
	int top = VM_QMP_FD;
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].num > top)
			top = plan->v[i].num;
	int base = top + 1 > 64 ? top + 1 : 64;
	null_fd = fcntl(null_fd, F_DUPFD, base);
	log_fd = fcntl(log_fd, F_DUPFD, base);
	listen_fd = fcntl(listen_fd, F_DUPFD, base);
	if (null_fd < 0 || log_fd < 0 || listen_fd < 0)
		_exit(126);
	int lifted[64];
	if (plan->n > 64)
		_exit(126);
	for (size_t i = 0; i < plan->n; i++)
		if ((lifted[i] = fcntl(fds[i], F_DUPFD, base)) < 0)
			_exit(126);
	if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
	    dup2(listen_fd, VM_QMP_FD) < 0)
		_exit(126);
	for (size_t i = 0; i < plan->n; i++)
		if (dup2(lifted[i], plan->v[i].num) < 0)
			_exit(126);
	syscall(SYS_close_range, (unsigned)top + 1, ~0U, 0);
}

/* ---- to a running QEMU ---- */

struct fds_bound {
	const char *owner;
	const int64_t *set_of; /* per plan entry: its fdset id, or -1 */
};

static char *fds_qmp_ref(const struct vm_fd *f, size_t k, void *opaque)
{
	const struct fds_bound *b = opaque;
	return xasprintf("/dev/fdset/%lld", (long long)b->set_of[k]);
}

/* Keys whose value names descriptors by number ("4" or "4:5"). */
static bool fds_is_fd_key(const char *k)
{
	return !strcmp(k, "fd") || !strcmp(k, "fds") || !strcmp(k, "vhostfd") || !strcmp(k, "vhostfds") ||
	       !strcmp(k, "str"); /* a chardev's fd address (chardev-add's nested form) */
}

/* "4:5" -> "fd-OWNER-0:fd-OWNER-1" by the plan's numbering; NULL when no
 * token is a number of the plan. */
static char *fds_rename(const char *nums, const char *owner, const struct vm_fdplan *plan)
{
	struct sbuf out = {0};
	cleanup_free char *copy = xstrdup(nums);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		long long num;
		bool found = false;
		for (size_t i = 0; util_parse_int(tok, 0, INT32_MAX, &num) == 0 && i < plan->n; i++)
			if (plan->v[i].ref == VM_FD_REF_NUM && plan->v[i].num == num) {
				sbuf_printf(&out, "%sfd-%s-%zu", out.len ? ":" : "", owner, i);
				found = true;
			}
		if (!found) {
			sbuf_release(&out);
			return NULL;
		}
	}
	return out.len ? sbuf_steal(&out) : NULL;
}

/* Every fd key's numbers in the commands, recursively, to getfd names. */
static void fds_rename_numbers(struct json_object *o, const char *owner,
			       const struct vm_fdplan *plan)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			fds_rename_numbers(json_object_array_get_idx(o, i), owner, plan);
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, key, val) {
		if (!json_object_is_type(val, json_type_string)) {
			fds_rename_numbers(val, owner, plan);
			continue;
		}
		char *names = fds_is_fd_key(key) ? fds_rename(json_object_get_string(val), owner, plan) : NULL;
		if (names) {
			json_object_object_add(o, key, json_object_new_string(names));
			free(names);
		}
	}
}

/* getfd one descriptor as "fd-OWNER-K", or add-fd it into a new fdset. */
static int fds_send(struct qmp_client *qmp, const char *owner, const struct vm_fd *f, size_t k,
		    int fd, int64_t *set, int timeout_ms, struct err **e)
{
	struct json_object *a = json_object_new_object();
	if (f->ref != VM_FD_REF_FDSET) {
		cleanup_free char *name = xasprintf("fd-%s-%zu", owner, k);
		json_object_object_add(a, "fdname", json_object_new_string(name));
		return qmp_execute_fd(qmp, "getfd", a, fd, timeout_ms, NULL, e);
	}
	cleanup_free char *opaque = xasprintf("%s %s", owner, f->name);
	json_object_object_add(a, "opaque", json_object_new_string(opaque));
	cleanup_json struct json_object *ret = NULL;
	int r = qmp_execute_fd(qmp, "add-fd", a, fd, timeout_ms, &ret, e);
	if (r == 0 && util_json_int(ret, "fdset-id", set) < 0)
		r = err_set(e, EIO, "add-fd: no fdset-id in the reply");
	return r;
}

int vm_fds_pass_qmp(struct qmp_client *qmp, const char *owner, const struct vm_fdplan *plan,
		    const struct vm_fds_ctx *qemu, struct json_object *cmds,
		    struct vm_fds_passed *passed, int timeout_ms, struct err **e)
{
	*passed = (struct vm_fds_passed){0};
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].ref == VM_FD_REF_PROC)
			return err_set(e, EOPNOTSUPP, "%s can be handed to QEMU only at start",
				       plan->v[i].name);
	if (!plan->n)
		return 0;
	int *fds = xcalloc(plan->n, sizeof(int));
	int64_t *set_of = xcalloc(plan->n, sizeof(int64_t));
	int r = vm_fds_open(plan, qemu, fds, e);
	bool opened = r == 0;
	for (size_t i = 0; r == 0 && i < plan->n; i++) {
		set_of[i] = -1;
		if (plan->v[i].ref == VM_FD_REF_FDSET && passed->nsets == VM_FDS_SETS_MAX)
			r = err_set(e, E2BIG, "more than %d files for one device", VM_FDS_SETS_MAX);
		else
			r = fds_send(qmp, owner, &plan->v[i], i, fds[i], &set_of[i], timeout_ms, e);
		if (r == 0 && plan->v[i].ref == VM_FD_REF_FDSET)
			passed->sets[passed->nsets++] = set_of[i];
		else if (r == 0)
			passed->names = i + 1;
	}
	if (opened)
		vm_fds_close(plan, fds); /* QEMU holds its own copies now */
	if (r == 0) {
		struct fds_bound b = {owner, set_of};
		vm_fdplan_bind(cmds, plan, fds_qmp_ref, &b);
		fds_rename_numbers(cmds, owner, plan);
	}
	free(set_of);
	free(fds);
	return r;
}

void vm_fds_close_qmp(struct qmp_client *qmp, const char *owner, const struct vm_fds_passed *p,
		      int timeout_ms)
{
	for (size_t i = 0; i < p->names; i++) {
		cleanup_free char *name = xasprintf("fd-%s-%zu", owner, i);
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "fdname", json_object_new_string(name));
		cleanup_err struct err *e = NULL;
		qmp_execute(qmp, "closefd", a, timeout_ms, NULL, &e);
	}
	for (size_t i = 0; i < p->nsets; i++) {
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "fdset-id", json_object_new_int64(p->sets[i]));
		cleanup_err struct err *e = NULL;
		qmp_execute(qmp, "remove-fd", a, timeout_ms, NULL, &e);
	}
}
