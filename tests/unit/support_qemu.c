/* support_qemu — see support_qemu.h. */
#include "tests/unit/support_qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

int sqemu_listen(const char *path)
{
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	int hl = fcntl(lfd, F_DUPFD_CLOEXEC, 64);
	close(lfd);
	return hl;
}

void sqemu_argv_paused(const struct strv *built, struct strv *argv)
{
	for (size_t i = 0; i < built->n; i++) {
		if (!strcmp(built->v[i], "-kernel") || !strcmp(built->v[i], "-initrd") ||
		    !strcmp(built->v[i], "-append")) {
			i++;
			continue;
		}
		strv_add(argv, built->v[i]);
	}
	strv_add(argv, "-S");
}

pid_t sqemu_spawn(char *const *argv, int qmp_fd, const char *log, const struct vm_fdplan *plan,
		  const int *fds)
{
	int logfd = log ? open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	pid_t pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
		int null = open("/dev/null", O_RDWR);
		if (null >= 0)
			dup2(null, 0);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		if (qmp_fd == VM_QMP_FD)
			fcntl(qmp_fd, F_SETFD, 0);
		else if (dup2(qmp_fd, VM_QMP_FD) < 0)
			_exit(126);
		for (size_t i = 0; plan && i < plan->n; i++)
			if (dup2(fds[i], plan->v[i].num) < 0)
				_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(qmp_fd);
	if (logfd >= 0)
		close(logfd);
	return pid;
}

int sqemu_connect(const char *sock, int timeout_ms, const char *label, const char *log,
		  const struct strv *argv, struct qmp_client **c)
{
	cleanup_err struct err *e = NULL;
	int r = qmp_client_connect(sock, NULL, timeout_ms, c, &e);
	if (r < 0) {
		cleanup_free char *out = log ? util_read_file(log, NULL) : NULL;
		fprintf(stderr, "\n  %s%sQEMU refused the argv: %s\n%s\n", label ? label : "",
			label ? ": " : "", e->msg, out ? out : "");
		for (size_t i = 0; argv && i < argv->n; i++)
			fprintf(stderr, "  %s\n", argv->v[i]);
	}
	return r;
}

int sqemu_reap(pid_t pid, int timeout_ms, int *status)
{
	int st = 0;
	int64_t deadline = util_now_ms() + timeout_ms;
	pid_t w;
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 && util_now_ms() < deadline)
		usleep(10000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (status)
		*status = st;
	return w == 0 ? -1 : 0;
}

int sqemu_stop(struct qmp_client *c, pid_t pid, int *status)
{
	if (c) {
		json_object_put(sqemu_qmp(c, "quit", NULL, 5000));
		qmp_client_unref(c);
	}
	return sqemu_reap(pid, 5000, status);
}

struct json_object *sqemu_qmp(struct qmp_client *c, const char *cmd, struct json_object *args,
			      int timeout_ms)
{
	struct json_object *ret = NULL;
	cleanup_err struct err *e = NULL;
	cleanup_free char *shown = xstrdup(args ? json_object_to_json_string(args) : "");
	if (qmp_execute(c, cmd, args, timeout_ms, &ret, &e) < 0) {
		fprintf(stderr, "\n  QMP %s %s: %s\n", cmd, shown, e->msg);
		return NULL;
	}
	return ret ? ret : json_object_new_object();
}

struct json_object *sqemu_qom_get(struct qmp_client *c, const char *path, const char *prop,
				  int timeout_ms)
{
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "path", json_object_new_string(path));
	json_object_object_add(a, "property", json_object_new_string(prop));
	return sqemu_qmp(c, "qom-get", a, timeout_ms);
}

const char *sqemu_jstr(struct json_object *o, const char *k)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

bool sqemu_query_pci(struct qmp_client *c, int timeout_ms, struct json_object **pci,
		     struct json_object **devices)
{
	*pci = sqemu_qmp(c, "query-pci", NULL, timeout_ms);
	struct json_object *bus0 = *pci ? json_object_array_get_idx(*pci, 0) : NULL;
	*devices = NULL;
	return bus0 && json_object_object_get_ex(bus0, "devices", devices);
}

bool sqemu_bridge_placed(struct json_object *devices, const struct vm_topology *t, int b,
			 const char *label)
{
	bool found = false;
	for (size_t i = 0; devices && i < json_object_array_length(devices); i++) {
		struct json_object *dv = json_object_array_get_idx(devices, i), *slot;
		if (!strcmp(sqemu_jstr(dv, "qdev_id"), t->bridges[b].id))
			found = json_object_object_get_ex(dv, "slot", &slot) &&
				json_object_get_int(slot) == t->bridges[b].addr;
	}
	if (!found)
		fprintf(stderr, "\n  %s%sbridge %s not at 00:%02x.0\n", label ? label : "",
			label ? ": " : "", t->bridges[b].id, t->bridges[b].addr);
	return found;
}

int sqemu_make_file(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int r = ftruncate(fd, size);
	close(fd);
	return r;
}

static int make_tap(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int r = ioctl(fd, TUNSETIFF, &ifr);
	if (r == 0)
		r = ioctl(fd, TUNSETPERSIST, 1);
	close(fd);
	return r;
}

bool sqemu_netns_with_tap(const char *tap)
{
	if (unshare(CLONE_NEWNET) < 0 || make_tap(tap) < 0) {
		printf("SKIP: cannot create a network namespace with a tap (%s)\n", strerror(errno));
		return false;
	}
	return true;
}
