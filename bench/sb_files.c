/*
 * sb_files — file operations as a shell's echo, cat and ls do them, a
 * sandbox's directory and ctl, the daemon's RSS, the guests' consoles, and
 * the libfuse floor mounts (build/bench/floorfs) beside sandboxfs.
 */
#include "sb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- file operations, as a shell's echo, cat and ls do them ----------- */

int fs_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* open, read to EOF, close — what cat does. */
ssize_t fs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	ssize_t n;
	while ((n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	int r = n < 0 ? -errno : 0;
	close(fd);
	buf[got] = '\0';
	return r < 0 ? r : (ssize_t)got;
}

double timed_write(const char *path, const char *s)
{
	double t0 = now_us();
	int r = fs_write(path, s);
	double t1 = now_us();
	if (r < 0)
		die("echo '%.*s' > %s: %s", (int)strcspn(s, "\n"), s, path, strerror(-r));
	return t1 - t0;
}

double timed_read(const char *path)
{
	char buf[4096];
	double t0 = now_us();
	ssize_t r = fs_read(path, buf, sizeof(buf));
	double t1 = now_us();
	if (r < 0)
		die("cat %s: %s", path, strerror((int)-r));
	return t1 - t0;
}

void must_write(const char *path, const char *s)
{
	int r = fs_write(path, s);
	if (r < 0)
		die("echo '%.*s' > %s: %s", (int)strcspn(s, "\n"), s, path, strerror(-r));
}

double timed_ls(const char *dir, int want)
{
	double t0 = now_us();
	DIR *d = opendir(dir);
	if (!d)
		die("opendir %s: %s", dir, strerror(errno));
	int cnt = 0;
	while (readdir(d))
		cnt++;
	closedir(d);
	double t = now_us() - t0;
	if (cnt < want)
		die("ls %s: %d entries, expected %d", dir, cnt, want);
	return t;
}

/* ---- a sandbox's directory, its ctl; the daemon's RSS ------------------ */

char * path_of(const char *mnt, const char *sb, const char *file)
{
	char *p;
	if (asprintf(&p, "%s/%s/%s", mnt, sb, file) < 0)
		die("out of memory");
	return p;
}

void sb_mkdir(const char *mnt, const char *sb, const char *config)
{
	char *d = path_of(mnt, sb, "");
	if (mkdir(d, 0755) < 0)
		die("mkdir %s: %s", d, strerror(errno));
	free(d);
	if (config) {
		char *c = path_of(mnt, sb, "config");
		must_write(c, config);
		free(c);
	}
}

void sb_ctl(const char *mnt, const char *sb, const char *verb)
{
	char *c = path_of(mnt, sb, "ctl");
	must_write(c, verb);
	free(c);
}

void sb_rmdir(const char *mnt, const char *sb)
{
	char *d = path_of(mnt, sb, "");
	if (rmdir(d) < 0)
		die("rmdir %s: %s", d, strerror(errno));
	free(d);
}

long rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		die("%s: %s", path, strerror(errno));
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- the guests' consoles ---------------------------------------------- */

/* The guest's console says it is up (the built-in guest's status line). */
bool console_says(const char *path, const char *what)
{
	static char buf[1 << 20];
	ssize_t n = fs_read(path, buf, sizeof(buf));
	return n > 0 && strstr(buf, what);
}

void wait_booted(const char *a, const char *b)
{
	double t0 = now_us();
	while (!console_says(a, "GUEST cpus=") || !console_says(b, "GUEST cpus=")) {
		if (now_us() - t0 > BOOT_TIMEOUT_S * 1e6)
			die("guests did not boot in %d s (%s, %s)", BOOT_TIMEOUT_S, a, b);
		usleep(200000);
	}
	info("guest_boot_s", "%.1f", (now_us() - t0) / 1e6);
}

/* The last "GUEST cpus=" status line of a console says `what`. */
static bool console_last_has(const char *path, const char *what)
{
	static char buf[1 << 20];
	ssize_t n = fs_read(path, buf, sizeof(buf));
	if (n <= 0)
		return false;
	char *last = NULL;
	for (char *p = buf; (p = strstr(p, "GUEST cpus=")); p++)
		last = p;
	if (!last)
		return false;
	char *nl = strchr(last, '\n');
	if (!nl)
		return false; /* a line being written */
	*nl = '\0';
	return strstr(last, what) != NULL;
}

void wait_status(const char *a, const char *b, const char *what)
{
	double t0 = now_us();
	while (!console_last_has(a, what) || !console_last_has(b, what)) {
		if (now_us() - t0 > 60e6)
			die("the guests' status did not say %s within 60 s", what);
		usleep(50000);
	}
}

/* ---- the floor mounts ---------------------------------------------------- */

static char *floor_dirs[16];
static pid_t floor_pids[16];
static int nfloors;

void floor_place(int cpu)
{
	for (int i = 0; i < nfloors; i++)
		place_process(floor_pids[i], cpu);
}

void floor_mount(const char *dir, const char *name, const char *contents, bool cached)
{
	const char *bdir = getenv("SBBENCH_BUILD") ? getenv("SBBENCH_BUILD") : "build/bench";
	char *bin, *nm, *ct;
	if (asprintf(&bin, "%s/%s", bdir, cached ? "floorfs-cached" : "floorfs") < 0 ||
	    asprintf(&nm, "--name=%s", name) < 0 || asprintf(&ct, "--contents=%s", contents) < 0)
		die("out of memory");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	if (nfloors == 16)
		die("too many floor mounts");
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0), dup2(nul, 1), dup2(nul, 2); /* 3.14 warns of its own default */
		execl(bin, bin, "-f", nm, ct, dir, (char *)NULL);
		_exit(127);
	}
	free(bin), free(nm), free(ct);
	floor_dirs[nfloors] = strdup(dir);
	floor_pids[nfloors++] = pid;
	char *probe = path_of(dir, name, "");
	probe[strlen(probe) - 1] = '\0'; /* DIR/NAME */
	for (int i = 0; i < 200; i++) {
		char buf[16];
		if (fs_read(probe, buf, sizeof(buf)) >= 0) {
			free(probe);
			return;
		}
		usleep(20000);
	}
	die("floorfs did not mount on %s", dir);
}

void floor_umount_all(void)
{
	for (int i = 0; i < nfloors; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			execlp("fusermount3", "fusermount3", "-u", "-q", floor_dirs[i], (char *)NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
		waitpid(floor_pids[i], NULL, 0);
		free(floor_dirs[i]);
	}
	nfloors = 0;
}
