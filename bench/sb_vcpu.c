/*
 * sb_vcpu — vCPU hot-add and hot-remove on QEMU 10 (build/qemu-10: QEMU
 * 7.2 under TCG can crash on a hot-add after a vCPU unplug), as
 * `echo N > cpus/target` against the raw QMP commands on a QEMU with the
 * same argv: device_add of the free slot, and device_del + DEVICE_DELETED.
 * The raw client asks query-hotpluggable-cpus once for the slot; the
 * daemon knows its QEMU's slots from its first query (vm/sandbox/cpus.c).
 */
#include "sb.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CPU_RUNS 20
#define QUERY_RUNS 10
/* TCG never frees a vCPU thread's context: every hot-add, even after an
 * unplug, takes one of maxcpus (QEMU 10 asserts n < tcg_max_ctxs). */
#define MAXVCPUS 48

/* The device_add of the lowest free hotpluggable slot; its id in id. */
char *raw_cpu_slot(struct rawq *q, char *id, size_t idlen)
{
	char *reply;
	rq_cmd(q, "{\"execute\":\"query-hotpluggable-cpus\"}", &reply);
	struct json_object *o = json_tokener_parse(reply), *slots;
	free(reply);
	if (!o || !json_object_object_get_ex(o, "return", &slots))
		die("query-hotpluggable-cpus: bad reply");
	char *cmd = NULL;
	for (size_t k = json_object_array_length(slots); k-- > 0 && !cmd;) {
		struct json_object *slot = json_object_array_get_idx(slots, k), *type, *props, *v;
		if (json_object_object_get_ex(slot, "qom-path", &v) ||
		    !json_object_object_get_ex(slot, "type", &type) ||
		    !json_object_object_get_ex(slot, "props", &props))
			continue;
		int n[3] = {0, 0, 0};
		const char *keys[3] = {"socket-id", "core-id", "thread-id"};
		for (int i = 0; i < 3; i++)
			if (json_object_object_get_ex(props, keys[i], &v))
				n[i] = json_object_get_int(v);
		snprintf(id, idlen, "cpu-%d-%d-%d", n[0], n[1], n[2]);
		struct json_object *args = json_object_new_object(), *c = json_object_new_object();
		json_object_object_add(args, "driver", json_object_get(type));
		json_object_object_add(args, "id", json_object_new_string(id));
		json_object_object_foreach(props, key, val)
			json_object_object_add(args, key, json_object_get(val));
		json_object_object_add(c, "execute", json_object_new_string("device_add"));
		json_object_object_add(c, "arguments", args);
		cmd = strdup(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
		json_object_put(c);
	}
	json_object_put(o);
	if (!cmd)
		die("raw guest: no free vCPU slot");
	return cmd;
}

static double raw_cpu_remove(struct rawq *q, const char *id)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"%s\"}}", id);
	double t0 = now_us();
	rq_cmd(q, cmd, NULL);
	rq_wait_deleted(q, id);
	return now_us() - t0;
}

int phase_vcpu(const char *mnt, const char *tmp)
{
	const char *q10 = getenv("SBBENCH_QEMU10");
	if (!q10 || access(q10, X_OK) < 0) {
		info("vcpu_error", "QEMU 10 is not built (make qemu-10): vCPU hot-add/remove not measured");
		return 0;
	}
	const char *sb = "bench-cpu";
	char cfg[1200], con[1024], sock[1024], log[1024], id[64];
	snprintf(cfg, sizeof(cfg), "{\"qemu\": \"%s\", \"maxvcpus\": %d}\n", q10, MAXVCPUS);
	sb_mkdir(mnt, sb, cfg);
	snprintf(con, sizeof(con), "%s/raw-cpu-console.log", tmp);
	snprintf(sock, sizeof(sock), "%s/raw-cpu.qmp", tmp);
	snprintf(log, sizeof(log), "%s/raw-cpu-qemu.log", tmp);
	char **argv = raw_argv(mnt, sb, con);
	struct rawvm raw = {0};
	progress("vCPU: starting two QEMU 10 guests with the same argv");
	raw_start(&raw, argv, sock, log);
	sb_ctl(mnt, sb, "start\n");
	char *scon = path_of(mnt, sb, "console"), *target = path_of(mnt, sb, "cpus/target");
	wait_booted(scon, con);
	char *add = raw_cpu_slot(raw.q, id, sizeof(id));
	struct samples a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
	progress("vCPU: hot-add/remove x%d", CPU_RUNS);
	long m = probe_mark();
	for (int i = 0; i < CPU_RUNS; i++) {
		BOTH(i, s_add(&a, timed_write(target, "2\n")), s_add(&b, raw_timed(raw.q, add)));
		/* Each guest onlines its new vCPU before it can give it back. */
		wait_status(scon, con, "ncpus=2");
		BOTH(i, s_add(&c, timed_write(target, "1\n")), s_add(&d, raw_cpu_remove(raw.q, id)));
		wait_status(scon, con, "ncpus=1");
	}
	/* What the daemon sent before it kept its QEMU's slots: query + add. */
	for (int i = 0; i < QUERY_RUNS; i++) {
		double t0 = now_us();
		char *cmd = raw_cpu_slot(raw.q, id, sizeof(id));
		rq_cmd(raw.q, cmd, NULL);
		s_add(&e, now_us() - t0);
		free(cmd);
		wait_status(con, con, "ncpus=2");
		raw_cpu_remove(raw.q, id);
		wait_status(con, con, "ncpus=1");
	}
	report_pair("control", "vCPU hot-add", &a, &b);
	report("control", "vCPU hot-add", "raw query-hotpluggable-cpus + device_add", &e);
	report_pair("control", "vCPU hot-remove", &c, &d);
	probe_report(m, "cpus/target 2", "vCPU hot-add");
	probe_report(m, "cpus/target 1", "vCPU hot-remove");
	sb_ctl(mnt, sb, "stop\n");
	raw_quit(&raw);
	sb_rmdir(mnt, sb);
	free_argv(argv);
	free(add), free(scon), free(target);
	return 0;
}
