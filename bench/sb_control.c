/*
 * sb_control — the control path: every op as a file write on a running
 * sandbox, against the same QMP commands sent by a raw client to a QEMU
 * started with the very same argv (its `cmdline`), interleaved sample by
 * sample; with the daemon's own breakdown of each op (its probe lines:
 * queueing, each QMP round trip, waits for the guest, the state file),
 * the FUSE write floor (floorfs open+write+close, phase_reads), and what a
 * disk-backed state directory would add (an atomic write with fsync,
 * measured apart on tmpfs and on disk).
 *
 * The raw side sends exactly what the daemon sends, descriptors included:
 * a disk is opened by the client and handed over with add-fd (the daemon
 * does so because QEMU runs as its own uid and must not open a caller's
 * path itself), a tap is opened and handed over with getfd.
 */
#include "sb.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define LONG_RUNS 40 /* disk add/remove: more samples against noise */
#define PAUSE_RUNS 200 /* pause/resume: cheap, and the closest to the FUSE floor */
#define MEM_RUNS 20  /* DIMMs: one slot each (memory_slots) */
#define DIMM_MIB 128 /* the guest's memory block size: the smallest DIMM */
#define SETTLE_US 100000 /* after a hotplug pair: the guests finish probing */
#define NIC_RUNS 40

struct cp {
	const char *mnt, *tmp, *sb;
	struct rawvm raw;
	char img_s[1024], img_r[1024];
	char tap_s[16], tap_r[16];
};

/* "fdset-id": N of an add-fd reply. */
static int fdset_of(const char *reply)
{
	const char *p = strstr(reply, "\"fdset-id\":");
	if (!p)
		die("add-fd: no fdset-id in %s", reply);
	return atoi(p + strlen("\"fdset-id\":"));
}

/* add-fd of the image (opened here, as the daemon opens it as the writer),
 * blockdev-add on /dev/fdset/N, device_add on rp0: what devices/add sends. */
static double raw_disk_add(struct cp *c, int *set)
{
	double t0 = now_us();
	int fd = open(c->img_r, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", c->img_r, strerror(errno));
	char *reply, cmd[1024];
	rq_cmd_fd(c->raw.q, "{\"execute\":\"add-fd\",\"arguments\":{\"opaque\":\"d1 file\"}}", fd, &reply);
	close(fd);
	*set = fdset_of(reply);
	free(reply);
	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"drive-d1\","
		 "\"read-only\":false,\"file\":{\"driver\":\"file\",\"filename\":\"/dev/fdset/%d\","
		 "\"read-only\":false}}}", *set);
	rq_cmd(c->raw.q, cmd, NULL);
	rq_cmd(c->raw.q, "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\","
		      "\"id\":\"d1\",\"drive\":\"drive-d1\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}", NULL);
	return now_us() - t0;
}

/* device_del, DEVICE_DELETED, blockdev-del, remove-fd: what devices/remove sends. */
static double raw_disk_remove(struct cp *c, int set)
{
	double t0 = now_us();
	char cmd[256];
	rq_cmd(c->raw.q, "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"d1\"}}", NULL);
	rq_wait_deleted(c->raw.q, "d1");
	rq_cmd(c->raw.q, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"drive-d1\"}}", NULL);
	snprintf(cmd, sizeof(cmd), "{\"execute\":\"remove-fd\",\"arguments\":{\"fdset-id\":%d}}", set);
	rq_cmd(c->raw.q, cmd, NULL);
	return now_us() - t0;
}

/* object-add memory-backend-ram + device_add pc-dimm: what memory/target sends. */
static double raw_mem_add(struct cp *c, int k, int mib)
{
	char a[512], b[512];
	snprintf(a, sizeof(a), "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"memory-backend-ram\","
		 "\"id\":\"mem-dimm%d\",\"size\":%lld}}", k, (long long)mib << 20);
	snprintf(b, sizeof(b), "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"pc-dimm\","
		 "\"id\":\"dimm%d\",\"memdev\":\"mem-dimm%d\"}}", k, k);
	double t0 = now_us();
	rq_cmd(c->raw.q, a, NULL);
	rq_cmd(c->raw.q, b, NULL);
	return now_us() - t0;
}

/* The tap opened as the daemon opens it (pass_fds), then getfd, netdev_add,
 * device_add: what devices/add sends for {"type":"net","pass_fds":true}. */
static double raw_nic_add(struct cp *c)
{
	double t0 = now_us();
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", c->tap_r);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("tap %s: %s", c->tap_r, strerror(errno));
	rq_cmd_fd(c->raw.q, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"fd-n1-0\"}}", fd, NULL);
	close(fd);
	rq_cmd(c->raw.q, "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"net-n1\","
		      "\"fd\":\"fd-n1-0\"}}", NULL);
	rq_cmd(c->raw.q, "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\","
		      "\"id\":\"n1\",\"netdev\":\"net-n1\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}", NULL);
	return now_us() - t0;
}

static double raw_nic_remove(struct cp *c)
{
	double t0 = now_us();
	rq_cmd(c->raw.q, "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"n1\"}}", NULL);
	rq_wait_deleted(c->raw.q, "n1");
	rq_cmd(c->raw.q, "{\"execute\":\"netdev_del\",\"arguments\":{\"id\":\"net-n1\"}}", NULL);
	return now_us() - t0;
}

static void sh(const char *fmt, const char *arg)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), fmt, arg);
	if (system(cmd) != 0)
		die("%s failed", cmd);
}

/* The state as the daemon keeps it, against QEMU asked (query-status):
 * what libvirt's ceiling for a state read is measured against. */
static void state_read(struct cp *c)
{
	char *st = path_of(c->mnt, c->sb, "state");
	struct samples a = {0}, b = {0};
	progress("control: state read x%d", 10 * LONG_RUNS);
	for (int i = 0; i < 10 * LONG_RUNS; i++)
		BOTH(i, s_add(&a, timed_read(st)), s_add(&b, raw_timed(c->raw.q, "{\"execute\":\"query-status\"}")));
	report_pair("control", "state read", &a, &b);
	free(st);
}

/* The FUSE floor of a write in the pattern of the pauses: hello's
 * open + write + close after the same idle gap (a CPU woken from idle is
 * part of each round trip on a virtual machine; back to back, §1, it is
 * not). */
static char *ctl_floor(struct cp *c)
{
	char dir[1100], *path;
	snprintf(dir, sizeof(dir), "%s/floor-ctl", c->tmp);
	floor_mount(dir, "ctl", "", false);
	if (asprintf(&path, "%s/ctl", dir) < 0)
		die("out of memory");
	return path;
}

static void pause_resume(struct cp *c)
{
	char *ctl = path_of(c->mnt, c->sb, "ctl"), *floor = ctl_floor(c);
	struct samples a = {0}, b = {0}, d = {0}, e = {0}, f = {0};
	progress("control: pause/resume x%d, and the write floor after the same idle gap", PAUSE_RUNS);
	long m = probe_mark();
	for (int i = 0; i < PAUSE_RUNS; i++) {
		BOTH(i, s_add(&a, timed_write(ctl, "pause\n")), s_add(&b, raw_timed(c->raw.q, "{\"execute\":\"stop\"}")));
		BOTH(i, s_add(&d, timed_write(ctl, "resume\n")), s_add(&e, raw_timed(c->raw.q, "{\"execute\":\"cont\"}")));
		usleep(SETTLE_US / 10);
		s_add(&f, timed_write(floor, "pause\n"));
		usleep(SETTLE_US / 10);
	}
	report_pair("control", "pause", &a, &b);
	report_pair("control", "resume", &d, &e);
	report("control", "write floor after idle", "floor", &f);
	free(floor);
	probe_report(m, "ctl pause", "pause");
	probe_report(m, "ctl resume", "resume");
	free(ctl);
}

static void disks(struct cp *c)
{
	char *add = path_of(c->mnt, c->sb, "devices/add"), *rem = path_of(c->mnt, c->sb, "devices/remove");
	char spec[2048];
	snprintf(spec, sizeof(spec),
		 "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"%s\",\"format\":\"raw\",\"readonly\":false}\n", c->img_s);
	struct samples a = {0}, b = {0}, d = {0}, e = {0};
	progress("control: disk hot-add/remove x%d", LONG_RUNS);
	long m = probe_mark();
	int set = -1;
	for (int i = 0; i < LONG_RUNS; i++) {
		BOTH(i, s_add(&a, timed_write(add, spec)), s_add(&b, raw_disk_add(c, &set)));
		usleep(SETTLE_US);
		BOTH(i, s_add(&d, timed_write(rem, "d1\n")), s_add(&e, raw_disk_remove(c, set)));
		usleep(SETTLE_US);
	}
	report_pair("control", "disk hot-add", &a, &b);
	report_pair("control", "disk hot-remove", &d, &e);
	probe_report(m, "devices/add", "disk hot-add");
	probe_report(m, "devices/remove d1", "disk hot-remove");
	free(add), free(rem);
}

static void memory(struct cp *c, int base_mib)
{
	char *target = path_of(c->mnt, c->sb, "memory/target");
	struct samples a = {0}, b = {0};
	progress("control: memory hot-add (%d MiB DIMMs) x%d", DIMM_MIB, MEM_RUNS);
	long m = probe_mark();
	for (int i = 0; i < MEM_RUNS; i++) {
		char v[32];
		snprintf(v, sizeof(v), "%d\n", base_mib + DIMM_MIB * (i + 1));
		BOTH(i, s_add(&a, timed_write(target, v)), s_add(&b, raw_mem_add(c, i, DIMM_MIB)));
		usleep(SETTLE_US);
	}
	report_pair("control", "memory hot-add", &a, &b);
	probe_report(m, "memory/target", "memory hot-add");
	free(target);
}

static void nics(struct cp *c)
{
	char *add = path_of(c->mnt, c->sb, "devices/add"), *rem = path_of(c->mnt, c->sb, "devices/remove");
	char spec[512];
	snprintf(spec, sizeof(spec), "{\"type\":\"net\",\"id\":\"n1\",\"ifname\":\"%s\",\"pass_fds\":true}\n", c->tap_s);
	struct samples a = {0}, b = {0}, d = {0}, e = {0};
	progress("control: NIC hot-add/remove x%d", NIC_RUNS);
	long m = probe_mark();
	for (int i = 0; i < NIC_RUNS; i++) {
		BOTH(i, s_add(&a, timed_write(add, spec)), s_add(&b, raw_nic_add(c)));
		usleep(SETTLE_US);
		BOTH(i, s_add(&d, timed_write(rem, "n1\n")), s_add(&e, raw_nic_remove(c)));
		usleep(SETTLE_US);
	}
	report_pair("control", "NIC hot-add", &a, &b);
	report_pair("control", "NIC hot-remove", &d, &e);
	probe_report(m, "devices/add", "NIC hot-add");
	probe_report(m, "devices/remove n1", "NIC hot-remove");
	free(add), free(rem);
}

/* The daemon's atomic save of a state-file-sized text in `dir`: temp
 * file, fsync, rename, fsync of the directory (lib/util.c; on tmpfs,
 * without the fsyncs, as the daemon does there). */
static double atomic_save(const char *dir, const char *text, bool sync)
{
	char tmp[1200], path[1200];
	snprintf(tmp, sizeof(tmp), "%s/sbbench-save.tmp", dir);
	snprintf(path, sizeof(path), "%s/sbbench-save.json", dir);
	double t0 = now_us();
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) < 0 || (sync && fsync(fd) < 0) || close(fd) < 0 ||
	    rename(tmp, path) < 0)
		die("save in %s: %s", dir, strerror(errno));
	int dfd = sync ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	double t = now_us() - t0;
	unlink(path);
	return t;
}

static void persist_cost(struct cp *c)
{
	const char *state = getenv("SBBENCH_STATE");
	char *cfg = path_of(c->mnt, c->sb, "config"), text[16384];
	ssize_t n = fs_read(cfg, text, sizeof(text));
	free(cfg);
	if (n < 0 || !state)
		return;
	/* About the size of sandbox.json: the config and a little more. */
	struct samples a = {0}, b = {0};
	progress("control: the state file's atomic save, tmpfs vs disk x%d", LONG_RUNS);
	for (int i = 0; i < LONG_RUNS; i++) {
		s_add(&a, atomic_save(state, text, false));
		s_add(&b, atomic_save(c->tmp, text, true));
	}
	report("persist", "atomic save", "state dir", &a);
	report("persist", "atomic save", "disk", &b);
}

int phase_control(const char *mnt, const char *tmp)
{
	struct cp c = {.mnt = mnt, .tmp = tmp, .sb = "bench-cp"};
	const int base_mib = 256;
	char cfg[256];
	snprintf(cfg, sizeof(cfg), "{\"memory_mib\": %d, \"memory_slots\": %d, \"maxmem_mib\": %d}\n",
		 base_mib, MEM_RUNS + 2, base_mib + DIMM_MIB * (MEM_RUNS + 2));
	sb_mkdir(mnt, c.sb, cfg);
	char con[1024], sock[1024], log[1024];
	snprintf(con, sizeof(con), "%s/raw-cp-console.log", tmp);
	snprintf(sock, sizeof(sock), "%s/raw-cp.qmp", tmp);
	snprintf(log, sizeof(log), "%s/raw-cp-qemu.log", tmp);
	snprintf(c.img_s, sizeof(c.img_s), "%s/sfs-disk.img", tmp);
	snprintf(c.img_r, sizeof(c.img_r), "%s/raw-disk.img", tmp);
	for (const char *img = c.img_s; img; img = img == c.img_s ? c.img_r : NULL) {
		int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, 16 << 20) < 0)
			die("%s: %s", img, strerror(errno));
		close(fd);
	}
	/* bench/run removes these if we die: its pid is the tag. */
	int tag = getenv("SBBENCH_TAG") ? atoi(getenv("SBBENCH_TAG")) : (int)getpid();
	snprintf(c.tap_s, sizeof(c.tap_s), "sbb%05ds", tag % 100000);
	snprintf(c.tap_r, sizeof(c.tap_r), "sbb%05dr", tag % 100000);
	sh("ip tuntap add dev %s mode tap vnet_hdr", c.tap_s);
	sh("ip tuntap add dev %s mode tap vnet_hdr", c.tap_r);
	char **argv = raw_argv(mnt, c.sb, con);
	progress("control: starting the sandboxfs guest and a raw QEMU with the same argv");
	raw_start(&c.raw, argv, sock, log);
	sb_ctl(mnt, c.sb, "start\n");
	char *sconsole = path_of(mnt, c.sb, "console");
	wait_booted(sconsole, con);

	state_read(&c);
	pause_resume(&c);
	disks(&c);
	nics(&c);
	memory(&c, base_mib);
	persist_cost(&c);

	progress("control: stopping both guests");
	sb_ctl(mnt, c.sb, "stop\n");
	raw_quit(&c.raw);
	sb_rmdir(mnt, c.sb);
	sh("ip link del %s", c.tap_s);
	sh("ip link del %s", c.tap_r);
	free_argv(argv);
	free(sconsole);
	return 0;
}
