/*
 * vm_fds — the descriptors the daemon hands a QEMU; see fds.h.
 */
#include "vm/qemu/fds.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "vm/model/parts.h"
#include "vm/qemu/cmdline.h"

static int fds_open_one(const struct vm_fd *f, struct err **e)
{
	int fd = -1;
	switch (f->src) {
	case VM_FD_PATH:
		fd = open(f->name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, errno, "open %s", f->name);
		break;
	case VM_FD_TUN: {
		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, errno, "open /dev/net/tun");
		struct ifreq ifr = {0};
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
				(f->multi_queue ? IFF_MULTI_QUEUE : 0);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", f->name);
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			int err = errno;
			close(fd);
			return err_sys(e, err, "tap %s: TUNSETIFF", f->name);
		}
		break;
	}
	case VM_FD_MACVTAP: {
		char p[128];
		snprintf(p, sizeof(p), "/sys/class/net/%s/ifindex", f->name);
		cleanup_free char *idx = util_read_file(p, NULL);
		if (!idx)
			return err_sys(e, errno, "macvtap %s: %s", f->name, p);
		snprintf(p, sizeof(p), "/dev/tap%d", atoi(idx));
		fd = open(p, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, errno, "macvtap %s: open %s", f->name, p);
		break;
	}
	}
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	int err = errno;
	close(fd);
	if (high < 0)
		return err_sys(e, err, "fcntl F_DUPFD");
	return high;
}

int vm_fds_open(const struct vm_fdplan *plan, int *out, struct err **e)
{
	for (size_t i = 0; i < plan->n; i++) {
		int fd = fds_open_one(&plan->v[i], e);
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

/* Keys whose value names descriptors by number ("4" or "4:5"). */
static bool fds_is_fd_key(const char *k)
{
	return !strcmp(k, "fd") || !strcmp(k, "fds") || !strcmp(k, "vhostfd") || !strcmp(k, "vhostfds");
}

static void fds_name(char *buf, size_t len, const char *owner, size_t k)
{
	snprintf(buf, len, "fd-%s-%zu", owner, k);
}

/* "4:5" -> "fd-OWNER-0:fd-OWNER-1" by the plan's numbering. */
static char *fds_rename(const char *nums, const char *owner, const struct vm_fdplan *plan)
{
	struct sbuf out = {0};
	cleanup_free char *copy = xstrdup(nums);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		int num = atoi(tok);
		for (size_t i = 0; i < plan->n; i++)
			if (plan->v[i].num == num)
				sbuf_printf(&out, "%sfd-%s-%zu", out.len ? ":" : "", owner, i);
	}
	return sbuf_steal(&out);
}

static int fds_getfd(struct qmp_client *qmp, const char *owner, const struct vm_fdplan *plan,
		     size_t *passed, int timeout_ms, struct err **e)
{
	int *fds = xcalloc(plan->n, sizeof(int));
	int r = vm_fds_open(plan, fds, e);
	if (r < 0) {
		free(fds);
		return r;
	}
	for (size_t i = 0; r == 0 && i < plan->n; i++) {
		char name[64];
		fds_name(name, sizeof(name), owner, i);
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "fdname", json_object_new_string(name));
		r = qmp_execute_fd(qmp, "getfd", a, fds[i], timeout_ms, NULL, e);
		if (r == 0)
			(*passed)++;
		else
			err_wrap(e, "getfd");
	}
	vm_fds_close(plan, fds); /* QEMU holds its own copies now */
	free(fds);
	return r;
}

int vm_fds_pass_qmp(struct qmp_client *qmp, const char *owner, const struct vm_fdplan *plan,
		    struct json_object *cmds, size_t *passed, int timeout_ms, struct err **e)
{
	*passed = 0;
	if (!plan->n)
		return 0;
	int r = fds_getfd(qmp, owner, plan, passed, timeout_ms, e);
	if (r < 0)
		return r;
	for (size_t c = 0; c < json_object_array_length(cmds); c++) {
		struct json_object *args;
		if (!json_object_object_get_ex(json_object_array_get_idx(cmds, c), "arguments", &args))
			continue;
		json_object_object_foreach(args, key, val) {
			if (!fds_is_fd_key(key) || !json_object_is_type(val, json_type_string))
				continue;
			char *names = fds_rename(json_object_get_string(val), owner, plan);
			json_object_object_add(args, key, json_object_new_string(names));
			free(names);
		}
	}
	return 0;
}

void vm_fds_close_qmp(struct qmp_client *qmp, const char *owner, size_t passed, int timeout_ms)
{
	for (size_t i = 0; i < passed; i++) {
		char name[64];
		fds_name(name, sizeof(name), owner, i);
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "fdname", json_object_new_string(name));
		cleanup_err struct err *e = NULL;
		qmp_execute(qmp, "closefd", a, timeout_ms, NULL, &e);
	}
}
