/*
 * sb_reads — the read path at the FUSE floor: open + read to EOF + close of
 * `state`, `cpus/online` and `config` of a running sandbox, each against
 * the same loop on libfuse's hello example built with direct_io
 * (bench/floorfs.c) serving a file of exactly the same bytes, mounted
 * beside sandboxfs; hello as shipped (kernel_cache: page-cache hits), a
 * tmpfs file and a sysfs file for context; and the FUSE write floor,
 * open + write + close on floorfs.  All interleaved in one loop.  Then
 * the same loop with the threads placed (sb_place.c): all on one CPU, and
 * the client apart from both filesystems.
 */
#include "sb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_RUNS 2000

struct rfile {
	const char *file;   /* below the sandbox */
	const char *name;   /* the floor's file name */
	char *sfs, *floor;  /* paths */
	struct samples a, b;
};

static void floor_for(struct rfile *f, const char *mnt, const char *tmp, const char *sb, int i)
{
	char buf[65536], dir[1024];
	f->sfs = path_of(mnt, sb, f->file);
	ssize_t n = fs_read(f->sfs, buf, sizeof(buf));
	if (n < 0)
		die("cat %s: %s", f->sfs, strerror((int)-n));
	snprintf(dir, sizeof(dir), "%s/floor-%d", tmp, i);
	floor_mount(dir, f->name, buf, false);
	if (asprintf(&f->floor, "%s/%s", dir, f->name) < 0)
		die("out of memory");
	info("read_bytes", "%s %zd", f->file, n);
}

static void loop(struct rfile *f, size_t nf, const char *label, int runs, bool extras,
		 const char *cached, const char *shm, const char *wfloor)
{
	struct samples c = {0}, t = {0}, y = {0}, w = {0};
	const char *sys = "/sys/devices/system/cpu/online";
	for (int i = 0; i < runs; i++) {
		for (size_t k = 0; k < nf; k++) {
			BOTH(i, s_add(&f[k].a, timed_read(f[k].sfs)), s_add(&f[k].b, timed_read(f[k].floor)));
		}
		if (extras) {
			s_add(&c, timed_read(cached));
			s_add(&t, timed_read(shm));
			s_add(&y, timed_read(sys));
			s_add(&w, timed_write(wfloor, "pause\n"));
		}
	}
	for (size_t k = 0; k < nf; k++) {
		char op[128];
		snprintf(op, sizeof(op), "%s%s", f[k].file, label);
		report("reads", op, "sandboxfs", &f[k].a);
		report("reads", op, "floor", &f[k].b);
	}
	if (extras) {
		report("reads", "hello as shipped (kernel_cache)", "context", &c);
		report("reads", "tmpfs file", "context", &t);
		report("reads", "sysfs file", "context", &y);
		report("reads", "write floor", "floor", &w);
	}
}

int phase_reads(const char *mnt, const char *tmp)
{
	const char *sb = "bench-rd";
	sb_mkdir(mnt, sb, NULL);
	progress("reads: starting a sandbox (reads of a running one)");
	sb_ctl(mnt, sb, "start\n");
	char *con = path_of(mnt, sb, "console");
	wait_booted(con, con);
	struct rfile f[3] = {{.file = "state", .name = "state"},
			     {.file = "cpus/online", .name = "online"},
			     {.file = "config", .name = "config"}};
	for (int i = 0; i < 3; i++)
		floor_for(&f[i], mnt, tmp, sb, i);
	char cdir[1024], cached[1100], shm[256], buf[64];
	fs_read(f[0].sfs, buf, sizeof(buf));
	snprintf(cdir, sizeof(cdir), "%s/floor-cached", tmp);
	floor_mount(cdir, "state", buf, true);
	snprintf(cached, sizeof(cached), "%s/state", cdir);
	snprintf(shm, sizeof(shm), "/dev/shm/sbbench-%d", (int)getpid());
	int fd = open(shm, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
		die("%s: %s", shm, strerror(errno));
	close(fd);

	progress("reads: running sandbox, interleaved with the floor x%d", READ_RUNS);
	loop(f, 3, "", READ_RUNS, true, cached, shm, f[0].floor);

	/* Placement: both ends of every round trip on one CPU, then the
	 * client on CPU 0 and both filesystems on CPU 1 (sb_place.c). */
	if (place_possible()) {
		progress("reads: running sandbox, the client and both filesystems on one CPU x%d", READ_RUNS / 2);
		place_set(0, 0);
		loop(f, 3, " (one CPU)", READ_RUNS / 2, false, NULL, NULL, NULL);
		progress("reads: running sandbox, the client on CPU 0, both filesystems on CPU 1 x%d", READ_RUNS / 2);
		place_set(0, 1);
		loop(f, 3, " (across CPUs)", READ_RUNS / 2, false, NULL, NULL, NULL);
		place_set(-1, -1);
	}

	/* The same of a stopped sandbox (cpus/online then asks no QEMU). */
	sb_ctl(mnt, sb, "stop\n");
	progress("reads: stopped sandbox x%d", READ_RUNS / 2);
	loop(f, 3, " (stopped sandbox)", READ_RUNS / 2, false, NULL, NULL, NULL);
	unlink(shm);
	floor_umount_all();
	sb_rmdir(mnt, sb);
	for (int i = 0; i < 3; i++)
		free(f[i].sfs), free(f[i].floor);
	free(con);
	return 0;
}
