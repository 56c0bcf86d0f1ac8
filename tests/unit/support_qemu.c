/* support_qemu — see support_qemu.h. */
#include "tests/unit/support_qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/qemu/probe.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

/* ---- which QEMU ---- */

char *sqemu_binary(const char *name)
{
	const char *dir = getenv("TEST_QEMU_DIR");
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	return xasprintf("%s/%s", dir && *dir ? dir : "/usr/bin", base);
}

const char *const *sqemu_dirs(void)
{
	static const char *dirs[2];
	dirs[0] = getenv("TEST_QEMU_DIR");
	return dirs[0] && *dirs[0] ? dirs : NULL;
}

const struct vm_qemu_caps *sqemu_qemu(const char *binary)
{
	static struct {
		char *binary;
		struct vm_qemu_caps caps;
	} seen[8];
	static size_t nseen;
	for (size_t i = 0; i < nseen; i++)
		if (!strcmp(seen[i].binary, binary))
			return &seen[i].caps;
	struct vm_qemu_caps q;
	cleanup_err struct err *e = NULL;
	if (nseen == ARRAY_SIZE(seen) || vm_qemu_caps_get(binary, NULL, &q, &e) < 0) {
		fprintf(stderr, "\n  %s: %s\n", binary, e ? e->msg : "too many binaries");
		return NULL;
	}
	char v[32];
	printf("\nQEMU-USED %s %s\n", vm_qemu_version_str(&q, v, sizeof(v)), binary);
	fflush(stdout);
	seen[nseen].binary = xstrdup(binary);
	seen[nseen].caps = q;
	return &seen[nseen++].caps;
}

bool sqemu_caps_from(const char *binary, const char *version, const char *target,
		     const char *machines, struct vm_qemu_caps *q)
{
	cleanup_json struct json_object *v = json_tokener_parse(version);
	cleanup_json struct json_object *t = target ? json_tokener_parse(target) : NULL;
	cleanup_json struct json_object *m = machines ? json_tokener_parse(machines) : NULL;
	cleanup_err struct err *e = NULL;
	if (vm_qemu_caps_parse(binary, v, t, m, q, &e) == 0)
		return true;
	fprintf(stderr, "\n  %s: %s\n", binary, e->msg);
	return false;
}

/* ---- starting it ---- */

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
		if (plan && null >= 0) {
			/* The launcher's placement (vm/qemu/process.c does the same). */
			vm_fds_child_place(null, logfd >= 0 ? logfd : 1, qmp_fd, plan, fds);
			execv(argv[0], argv);
			_exit(127);
		}
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
		unit_skip("netns", "cannot create a network namespace with a tap (%s)", strerror(errno));
		return false;
	}
	return true;
}

int sqemu_pid_open_count(pid_t pid, const char *path)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		char link[320], target[4096];
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += !strcmp(target, path);
		}
	}
	closedir(d);
	return n;
}

bool sqemu_have_dev(const char *label, const char *dev, const char *module)
{
	if (access(dev, R_OK | W_OK) == 0) {
		printf("%s: %s present\n", label, dev);
		return true;
	}
	cleanup_free char *cmd = xasprintf("modprobe %s >/dev/null 2>&1", module);
	int rc = system(cmd);
	bool ok = access(dev, R_OK | W_OK) == 0;
	printf("%s: %s %s after `modprobe %s` (exit %d)\n", label, dev,
	       ok ? "present" : "still absent", module, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
	return ok;
}

#define HUGE_DIR "/dev/hugepages"
#define OVERCOMMIT "/proc/sys/vm/nr_overcommit_hugepages"
static bool huge_mounted;
static int huge_guard = -1;     /* write end: its EOF tells the guardian to restore */
static pid_t huge_guardian = -1;

static long read_long(const char *path)
{
	cleanup_free char *s = util_read_file(path, NULL);
	return s ? strtol(s, NULL, 10) : -1;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int r = fprintf(f, "%ld\n", v) > 0 ? 0 : -1;
	return fclose(f) == 0 ? r : -1;
}

/* The host changes (the surplus pages, a directory made) are undone by a
 * guardian process in the host's mount namespace when the test ends, by
 * sqemu_hugepages_end or by dying (even by SIGKILL): it waits for EOF on
 * a pipe only the test holds. */
static void huge_start_guardian(int pages, bool made_dir)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		char b;
		while (read(p[0], &b, 1) > 0)
			;
		long over = read_long(OVERCOMMIT);
		if (pages && over >= pages)
			write_long(OVERCOMMIT, over - pages);
		(void)made_dir; /* the directory stays: see sqemu_hugepages_begin */
		_exit(0);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return;
	}
	huge_guard = p[1];
	huge_guardian = pid;
}

const char *sqemu_hugepages_begin(int pages)
{
	struct stat st;
	bool made_dir = false;
	/* A directory this makes is left in place (empty, as systemd's
	 * dev-hugepages.mount would leave it): removing it while another test
	 * program has its private hugetlbfs mounted there would detach that
	 * mount, and that program's QEMU would then write its guest RAM into a
	 * regular file /dev/hugepages on devtmpfs. */
	if (stat(HUGE_DIR, &st) < 0) {
		if (mkdir(HUGE_DIR, 0755) < 0 && errno != EEXIST) {
			printf("hugepages: cannot create %s (%s)\n", HUGE_DIR, strerror(errno));
			return NULL;
		}
		made_dir = true;
	} else if (!S_ISDIR(st.st_mode)) {
		printf("hugepages: %s is not a directory (a stray file of %lld bytes, left by a QEMU "
		       "whose mem-path had no hugetlbfs): remove it\n", HUGE_DIR, (long long)st.st_size);
		return NULL;
	}
	long over = read_long(OVERCOMMIT);
	int added = over >= 0 && write_long(OVERCOMMIT, over + pages) == 0 ? pages : 0;
	huge_start_guardian(added, made_dir);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("hugepages: no private mount namespace (%s)\n", strerror(errno));
		return NULL;
	}
	if (added && mount("hugetlbfs", HUGE_DIR, "hugetlbfs", MS_NOSUID | MS_NODEV, "pagesize=2M") == 0) {
		huge_mounted = true;
		return "hugetlbfs";
	}
	printf("hugepages: no hugetlbfs with surplus 2 MiB pages (%s): a tmpfs stands in at %s\n",
	       strerror(errno), HUGE_DIR);
	if (mount("tmpfs", HUGE_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") == 0) {
		huge_mounted = true;
		return "tmpfs";
	}
	printf("hugepages: cannot mount a tmpfs at %s either (%s)\n", HUGE_DIR, strerror(errno));
	return NULL;
}

void sqemu_hugepages_end(void)
{
	if (huge_mounted && umount(HUGE_DIR) == 0)
		huge_mounted = false;
	if (huge_guard >= 0) {
		close(huge_guard);
		huge_guard = -1;
		waitpid(huge_guardian, NULL, 0);
		huge_guardian = -1;
	}
}

/* ---- a sandbox started for real ---- */

void sqemu_sb_init(struct sqemu_sb *s, const char *dir, const char *label)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->label, sizeof(s->label), "%s", label);
	s->qlog = xasprintf("%s/%s.qemu.log", dir, label);
	s->qsock = xasprintf("%s/%s.qmp", dir, label);
	s->pid = -1;
	struct vm_defaults defs = { .guest_kernel = "/nonexistent/vmlinuz", .guest_initrd = "",
				    .qemu_dirs = sqemu_dirs() };
	vm_config_set_defaults(&defs);
	vm_config_init(&s->cfg);
}

bool sqemu_sb_merge(struct sqemu_sb *s, const char *json)
{
	cleanup_err struct err *e = NULL;
	if (vm_config_merge(&s->cfg, json, false, &e) == 0)
		return true;
	fprintf(stderr, "\n  %s: config %s: %s\n", s->label, json, e->msg);
	return false;
}

bool sqemu_sb_add(struct sqemu_sb *s, const char *spec)
{
	cleanup_err struct err *e = NULL;
	if (!s->topo) {
		vm_config_topology(&s->cfg, &s->t);
		s->topo = true;
	}
	struct vm_device *d = NULL;
	if (s->n >= sizeof(s->devs) / sizeof(s->devs[0]) || vm_device_parse(spec, &d, &e) < 0) {
		fprintf(stderr, "\n  %s: device %s: %s\n", s->label, spec, e ? e->msg : "too many");
		return false;
	}
	s->devs[s->n++] = d;
	if (vm_device_is_pci(d) && vm_topology_alloc(&s->t, d->id, &d->bridge, &d->slot, &e) < 0) {
		fprintf(stderr, "\n  %s: device %s: %s\n", s->label, d->id, e->msg);
		return false;
	}
	return true;
}

bool sqemu_sb_build(struct sqemu_sb *s, const char *name, const char *console_log)
{
	cleanup_err struct err *e = NULL;
	if (!s->topo) {
		vm_config_topology(&s->cfg, &s->t);
		s->topo = true;
	}
	struct vm_cmdline_ctx ctx = { .name = name, .console_log = console_log, .fds = &s->plan,
				      .qemu = sqemu_qemu(vm_config_qemu_binary(&s->cfg)) };
	if (vm_cmdline_build(&s->cfg, &s->t, s->devs, s->n, &ctx, &s->built, &e) < 0) {
		fprintf(stderr, "\n  %s: build: %s\n", s->label, e->msg);
		return false;
	}
	sqemu_argv_paused(&s->built, &s->argv);
	return true;
}

bool sqemu_sb_start(struct sqemu_sb *s)
{
	cleanup_err struct err *e = NULL;
	int fds[64];
	if (s->plan.n > sizeof(fds) / sizeof(fds[0]) || vm_fds_open(&s->plan, NULL, fds, &e) < 0) {
		fprintf(stderr, "\n  %s: open the descriptors: %s\n", s->label, e ? e->msg : "too many");
		return false;
	}
	int hl = sqemu_listen(s->qsock);
	if (hl < 0) {
		fprintf(stderr, "\n  %s: listen on %s: %s\n", s->label, s->qsock, strerror(errno));
		vm_fds_close(&s->plan, fds);
		return false;
	}
	s->pid = sqemu_spawn(s->argv.v, hl, s->qlog, &s->plan, fds);
	vm_fds_close(&s->plan, fds);
	if (s->pid < 0)
		return false;
	return sqemu_connect(s->qsock, 20000, s->label, s->qlog, &s->argv, &s->c) == 0;
}

bool sqemu_sb_has(const struct sqemu_sb *s, const char *opt, const char *val)
{
	for (size_t i = 0; i < s->argv.n; i++)
		if (!strcmp(s->argv.v[i], opt) &&
		    (!val ? i + 1 >= s->argv.n || s->argv.v[i + 1][0] == '-'
			  : i + 1 < s->argv.n && !strcmp(s->argv.v[i + 1], val)))
			return true;
	return false;
}

char *sqemu_sb_log(const struct sqemu_sb *s)
{
	char *log = util_read_file(s->qlog, NULL);
	return log ? log : xstrdup("");
}

void sqemu_sb_release(struct sqemu_sb *s)
{
	if (s->pid > 0 && sqemu_stop(s->c, s->pid, NULL) < 0)
		fprintf(stderr, "\n  %s: QEMU did not quit, killed\n", s->label);
	s->c = NULL;
	s->pid = -1;
	for (size_t i = 0; i < s->n; i++)
		vm_device_free(s->devs[i]);
	s->n = 0;
	vm_fdplan_release(&s->plan);
	if (s->topo)
		vm_topology_release(&s->t);
	s->topo = false;
	vm_config_release(&s->cfg);
	strv_release(&s->built);
	strv_release(&s->argv);
	unlink(s->qsock);
	free(s->qlog);
	free(s->qsock);
	s->qlog = s->qsock = NULL;
}
