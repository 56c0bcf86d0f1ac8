/*
 * sb_start — start and stop: `echo start > ctl` returning (QEMU spawned in
 * its cgroup as its own uid, QMP negotiated, watched, saved) against raw:
 * bind a socket, exec the same argv with it as fd 3, greeting +
 * qmp_capabilities; `echo stop > ctl` (quit, the exit seen, saved) against
 * raw quit + waitpid.  Interleaved, with the daemon's breakdown.
 */
#include "sb.h"

#include <stdio.h>
#include <stdlib.h>

#define START_RUNS 120 /* both sides swing by 10% from run to run: the medians need many */

int phase_start(const char *mnt, const char *tmp)
{
	const char *sb = "bench-start";
	sb_mkdir(mnt, sb, NULL);
	char con[1024], sock[1024], log[1024];
	snprintf(con, sizeof(con), "%s/raw-st-console.log", tmp);
	snprintf(sock, sizeof(sock), "%s/raw-st.qmp", tmp);
	snprintf(log, sizeof(log), "%s/raw-st-qemu.log", tmp);
	char **argv = raw_argv(mnt, sb, con);
	char *ctl = path_of(mnt, sb, "ctl");
	struct samples a = {0}, b = {0}, c = {0}, d = {0}, q = {0}, x = {0};
	progress("start/stop x%d", START_RUNS);
	long m = probe_mark();
	for (int i = 0; i < START_RUNS; i++) {
		struct rawvm raw = {0};
		double t0, t1, qu, ex;
		BOTH(i,
		     {
			     s_add(&a, timed_write(ctl, "start\n"));
			     s_add(&c, timed_write(ctl, "stop\n"));
		     },
		     {
			     t0 = now_us();
			     raw_start(&raw, argv, sock, log);
			     t1 = now_us();
			     raw_quit_timed(&raw, &qu, &ex);
			     s_add(&b, t1 - t0);
			     s_add(&d, now_us() - t1);
			     s_add(&q, qu);
			     s_add(&x, ex);
		     });
	}
	report("start", "start", "sandboxfs", &a);
	report("start", "start", "raw", &b);
	report("start", "stop", "sandboxfs", &c);
	report("start", "stop", "raw", &d);
	report("start", "stop: quit", "raw", &q);
	report("start", "stop: exit", "raw", &x);
	probe_report(m, "ctl start", "start");
	probe_report(m, "ctl stop", "stop");
	sb_rmdir(mnt, sb);
	free(ctl);
	free_argv(argv);
	return 0;
}
