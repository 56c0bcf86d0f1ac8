/*
 * sbbench — the timing loops behind `make bench` (driven by bench/run).
 *
 * Every figure is measured side by side in one run, the two sides
 * interleaved sample by sample so that machine noise hits both alike:
 *
 *   sbbench reads    MNT TMP          cat of state, cpus/online, config vs
 *                                     libfuse's hello (direct_io) beside it
 *   sbbench control  MNT TMP          each control write vs raw QMP (same argv)
 *   sbbench vcpu     MNT TMP          vCPU hot-add/remove on QEMU 10
 *   sbbench start    MNT TMP          `ctl start`/`stop` vs exec → QMP negotiated
 *   sbbench scale    MNT TMP PID N R  N sandboxes, R of them running paused
 *   sbbench conc     MNT TMP          16 writers + 16 readers of a stuck sandbox
 *
 * The sandboxfs side is what a shell user's `echo`/`cat` costs in syscalls:
 * open + write + close (or open + read to EOF + close) on the file.  The raw
 * side is a QEMU started by this program with the very argv sandboxfs shows
 * in `cmdline` (the console redirected to TMP), its QMP socket handed over
 * as fd 3 exactly as the daemon does, driven over the already-open
 * connection with the same QMP commands the daemon sends.
 *
 * Environment: SBBENCH_LOG (the daemon's log: its probe lines give the
 * breakdown), SBBENCH_STATE (its state directory), SBBENCH_BUILD (where
 * floorfs is), SBBENCH_QEMU10 (the QEMU 10 wrapper).
 *
 * Output, one record a line, tab-separated, on stdout:
 *   R <section> <op> <variant> <n> <median_us> <p90_us>
 *   I <key> <value>
 * Progress goes to stderr.
 */
#include "sb.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void at_exit(void)
{
	floor_umount_all();
	kill_raw();
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	atexit(at_exit);
	if (argc >= 7 && !strcmp(argv[1], "scale"))
		return phase_scale(argv[2], argv[3], (pid_t)atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	static const struct {
		const char *name;
		int (*fn)(const char *mnt, const char *tmp);
	} phases[] = {
		{"reads", phase_reads}, {"control", phase_control}, {"vcpu", phase_vcpu},
		{"start", phase_start}, {"conc", phase_conc},
	};
	for (size_t i = 0; argc >= 4 && i < sizeof(phases) / sizeof(phases[0]); i++)
		if (!strcmp(argv[1], phases[i].name))
			return phases[i].fn(argv[2], argv[3]);
	fprintf(stderr, "usage: sbbench reads|control|vcpu|start|conc MNT TMP\n"
			"       sbbench scale MNT TMP DAEMON_PID N_SANDBOXES N_RUNNING\n");
	return 2;
}
