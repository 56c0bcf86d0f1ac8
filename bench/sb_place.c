/*
 * sb_place — where the scheduler puts the threads of a read's round trip,
 * fixed for the placement rows of §1: the client (this thread), every
 * thread of the sandboxfs daemon (SBBENCH_DAEMON, its pid) and of the
 * libfuse floor's daemons pinned to given CPUs, and let go again.  The
 * QEMUs are left where they are.  On a virtual machine a round trip
 * between two CPUs wakes an idle one each way, so a loop whose two ends
 * happen to share a CPU and one whose ends do not differ by that much
 * for reasons neither filesystem controls.
 */
#include "sb.h"

#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void cpus_of(int cpu, cpu_set_t *set)
{
	CPU_ZERO(set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	for (long i = 0; i < n; i++)
		if (cpu < 0 || i == cpu)
			CPU_SET((int)i, set);
}

/* Every thread of pid on `cpu` (-1: on all). */
void place_process(pid_t pid, int cpu)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		die("%s: cannot list the threads", dir);
	cpu_set_t set;
	cpus_of(cpu, &set);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			sched_setaffinity((pid_t)atoi(de->d_name), sizeof(set), &set); /* gone: fine */
	closedir(d);
}

bool place_possible(void)
{
	return getenv("SBBENCH_DAEMON") && sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

void place_set(int client_cpu, int fs_cpu)
{
	cpu_set_t set;
	cpus_of(client_cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die("sched_setaffinity: cannot pin the client");
	place_process((pid_t)atoi(getenv("SBBENCH_DAEMON")), fs_cpu);
	floor_place(fs_cpu);
}
