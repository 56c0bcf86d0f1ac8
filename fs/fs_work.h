/*
 * fs_work — where a request that may wait is served (internal to fs/).
 *
 * One thread at a time reads the FUSE device, and it never waits on QEMU,
 * the disk or an operation in progress: lookups, attributes, directory
 * listings, opens and reads of snapshot files, poll() and the events
 * stream (whose reads are parked, fs_notify.c) are answered on it at once.
 * What may wait — every write (a control command: QMP round trips, waits
 * for the guest, the state file), mkdir, rmdir, chown (the state file),
 * the open of a file whose content QEMU is asked for (FS_SLOW) — is a
 * job, run by a pool of worker threads that answers the request itself;
 * the reader runs the job it made itself, having handed the reading to
 * a worker that was idle.
 *
 * Jobs run in lanes: one per sandbox (and one for the registry: mkdir,
 * rmdir, chown).  At most FS_WORK_LANE_MAX jobs of one lane run at once;
 * more wait in the lane, in order, holding no thread (an interrupt, ^C,
 * ends such a wait with EINTR).  So callers stuck on one sandbox hold at
 * most FS_WORK_LANE_MAX threads, whatever their number, and every other
 * sandbox, `ls` and every read go on.
 */
#ifndef SANDBOXFS_FS_WORK_H
#define SANDBOXFS_FS_WORK_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 35
#endif
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/stat.h>

#define FS_WORK_LANE_MAX 4

struct fs_job {
	struct fs_job *next;
	struct fs_lane *lane;
	fuse_req_t req;
	void (*fn)(struct fs_job *j); /* runs on a worker; answers req */
	/* What the request said (each job uses what it needs). */
	fuse_ino_t ino;
	struct fuse_file_info fi;
	char *data;                   /* bytes written, or a name */
	size_t size;
	off_t off;
	struct stat attr;
	int to_set;
	/* The bench's breakdown (lib/probe.h): what it is, when it came. */
	char op[240];
	int64_t t_recv;
};

/* A job for `req` (freed after fn ran, with its data). */
struct fs_job *fs_job_new(fuse_req_t req, void (*fn)(struct fs_job *j));
/* Run it in the lane of `key` (a sandbox; NULL: the registry's). */
void fs_work_submit(const void *key, struct fs_job *j);
/* Serve the session until it is unmounted or exits (fuse_session_loop's
 * part: 0, or the errno of a failed read): this thread reads the device
 * first; see fs_work.c for how the reading moves between threads. */
int fs_work_serve(struct fuse_session *se);
/* At the end of the session: the waiting jobs get ENOTCONN, the running
 * ones finish, the threads exit. */
void fs_work_stop(void);

#endif
