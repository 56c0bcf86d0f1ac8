/*
 * sb.h — what the parts of sbbench share (bench/sb_*.c): samples and
 * records, file operations as a shell's echo and cat do them, the raw QMP
 * client and raw QEMU, the libfuse floor mounts (bench/floorfs.c), the
 * daemon's probe lines (lib/probe.h), and the phases.
 */
#ifndef SBBENCH_SB_H
#define SBBENCH_SB_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define QMP_TIMEOUT_MS 30000
#define BOOT_TIMEOUT_S 300

/* ---- samples and records (stdout: R/I lines, see sbbench.c; sb_record.c) ---- */
struct samples {
	double *v;
	size_t n, cap;
};
void s_add(struct samples *s, double us);
double pct(struct samples *s, double p); /* sorts */
double median(struct samples *s);
/* R sec op var n median p90; the samples are freed. */
void report(const char *sec, const char *op, const char *var, struct samples *s);
/* Both sides of one op, sampled pairwise (BOTH): each side's report,
 * then "overhead (paired)": the median of sandboxfs_i - raw_i, the
 * overhead with the drift both samples of a pair share taken out. */
void report_pair(const char *sec, const char *op, struct samples *sfs, struct samples *raw);
void info(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double now_us(void);

/* Which side goes first alternates sample by sample: the guest that just
 * took an op competes for the host CPUs while the other side's op runs,
 * and neither side should always pay it. */
#define BOTH(i, sfs, raw)           \
	do {                        \
		if ((i) % 2 == 0) { \
			sfs;        \
			raw;        \
		} else {            \
			raw;        \
			sfs;        \
		}                   \
	} while (0)

/* ---- files, sandboxes, consoles (sb_files.c) ---- */
int fs_write(const char *path, const char *s);
ssize_t fs_read(const char *path, char *buf, size_t len);
double timed_write(const char *path, const char *s);
double timed_read(const char *path);
/* opendir + readdir to the end + closedir; at least `want` entries. */
double timed_ls(const char *dir, int want);
void must_write(const char *path, const char *s);
char *path_of(const char *mnt, const char *sb, const char *file);
void sb_mkdir(const char *mnt, const char *sb, const char *config);
void sb_ctl(const char *mnt, const char *sb, const char *verb);
void sb_rmdir(const char *mnt, const char *sb);
long rss_kib(pid_t pid);
bool console_says(const char *path, const char *what);
/* Both consoles say the guest is up ("GUEST cpus="). */
void wait_booted(const char *a, const char *b);
/* Both guests' latest status line (every 0.5 s) says `what` ("ncpus=2"). */
void wait_status(const char *a, const char *b, const char *what);

/* ---- raw QMP and raw QEMU (sb_raw.c) ---- */
struct rawq {
	int fd;
	char buf[1 << 16];
	size_t len;
	char *stash[64]; /* DEVICE_DELETED events read while waiting for a reply */
	int nstash;
};
struct rawvm {
	pid_t pid;
	struct rawq *q;
	char *cg[3]; /* its cgroup in each v1 hierarchy (SBBENCH_CGROUP) */
};
char *rq_line(struct rawq *q);
/* Send a command, wait for its reply (*ret: the reply line, malloc'd). */
void rq_cmd(struct rawq *q, const char *cmd, char **ret);
/* The same, passing fd with SCM_RIGHTS (getfd, add-fd). */
void rq_cmd_fd(struct rawq *q, const char *cmd, int fd, char **ret);
void rq_wait_deleted(struct rawq *q, const char *id);
double raw_timed(struct rawq *q, const char *cmd);
/* The argv sandboxfs would run (its cmdline file), the console moved to con. */
char **raw_argv(const char *mnt, const char *sb, const char *con);
/* The device_add of a raw QEMU's lowest free vCPU slot (sb_vcpu.c); its id in id. */
char *raw_cpu_slot(struct rawq *q, char *id, size_t idlen);
void free_argv(char **argv);
/* exec argv with a bound QMP socket as fd 3, greeting, qmp_capabilities;
 * in a cgroup of its own beside the daemon's QEMUs' (SBBENCH_CGROUP, the
 * daemon's --cgroup-parent), made before and removed after, as the
 * daemon does for each QEMU. */
void raw_start(struct rawvm *vm, char **argv, const char *sock, const char *log);
void raw_quit(struct rawvm *vm);
/* The same, timing the `quit` round trip and what follows (waitpid, the
 * cgroup removed) apart. */
void raw_quit_timed(struct rawvm *vm, double *quit_us, double *exit_us);
void kill_raw(void);

/* ---- the libfuse floor (bench/floorfs.c; mounted by sb_files.c) ---- */
/* Mount floorfs (build/bench/floorfs-cached when cached) on dir serving
 * one file `name` with exactly `contents`; the mounts go at exit. */
void floor_mount(const char *dir, const char *name, const char *contents, bool cached);
void floor_umount_all(void);
/* Every floor daemon's threads on `cpu` (-1: on all; sb_place.c). */
void floor_place(int cpu);

/* ---- placement (sb_place.c) ---- */
/* Every thread of pid on `cpu` (-1: on all CPUs). */
void place_process(pid_t pid, int cpu);
/* The placement rows can be measured: SBBENCH_DAEMON set, 2 CPUs or more. */
bool place_possible(void);
/* The client on client_cpu, the sandboxfs daemon and the floors on fs_cpu
 * (-1: anywhere). */
void place_set(int client_cpu, int fs_cpu);

/* ---- the daemon's probe lines (SBBENCH_LOG; sb_record.c) ---- */
/* Where the daemon's log ends now. */
long probe_mark(void);
/* The probe lines of `op` logged since `mark`, summarised as records
 * R breakdown <label> <component> n median p90. */
void probe_report(long mark, const char *op, const char *label);

/* ---- the phases ---- */
int phase_reads(const char *mnt, const char *tmp);
int phase_control(const char *mnt, const char *tmp);
int phase_vcpu(const char *mnt, const char *tmp);
int phase_start(const char *mnt, const char *tmp);
int phase_scale(const char *mnt, const char *tmp, pid_t daemon, int n, int nrun);
int phase_conc(const char *mnt, const char *tmp);

#endif
