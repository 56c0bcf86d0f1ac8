/*
 * test_obs — observability and live tuning against a fake QMP peer, with
 * faults: the throttle grammar and rules (vm/model/throttle), the raw QMP
 * session's checks and refusals, the stats refresh (figures, a silent
 * QEMU that only ages them), the Prometheus rendering, a disk's size and
 * throttle and the balloon as QMP sees them.  The real QEMU and guest
 * prove the effects in tests/e2e/test_stats.sh and test_tuning.sh.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_fakeqmp.h"
#include "vm/model/throttle.h"
#include "vm/qemu/process.h"
#include "vm/sandbox/balloon.h"
#include "vm/sandbox/blockctl.h"
#include "vm/sandbox/devices.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/metrics.h"
#include "vm/sandbox/qmp_session.h"
#include "vm/sandbox/sandbox.h"
#include "vm/sandbox/stats.h"

static struct fakeqmp fq;
static struct vm_sandbox *sb;
static char state_dir[] = "/tmp/sandboxfs-test-obs.XXXXXX";
static char disk_path[256];
static bool silent;          /* the fake QEMU answers nothing */
static const char *reply_of; /* answer this command with `reply` */
static const char *reply;

static const char *handler(struct fakeqmp *f, const char *cmd, struct json_object *args)
{
	static char buf[1024];
	if (silent && strcmp(cmd, "qmp_capabilities"))
		return FAKEQMP_SILENT;
	if (reply_of && !strcmp(cmd, reply_of))
		return reply;
	if (!strcmp(cmd, "query-cpus-fast")) {
		/* this very thread stands in for the vCPU thread */
		snprintf(buf, sizeof(buf), "{\"return\": [{\"cpu-index\": 0, \"thread-id\": %d, "
			 "\"qom-path\": \"/machine/unattached/device[0]\"}]}", (int)getpid());
		return buf;
	}
	if (!strcmp(cmd, "query-blockstats"))
		return "{\"return\": [{\"device\": \"\", \"node-name\": \"drive-d1\", \"qdev\": "
		       "\"/machine/peripheral/d1/virtio-backend\", \"stats\": {\"rd_bytes\": 512, "
		       "\"wr_bytes\": 12345, \"rd_operations\": 1, \"wr_operations\": 3, "
		       "\"flush_operations\": 2, \"rd_total_time_ns\": 10, \"wr_total_time_ns\": 20}}]}";
	if (!strcmp(cmd, "query-balloon"))
		return "{\"return\": {\"actual\": 268435456}}";
	if (!strcmp(cmd, "query-status"))
		return "{\"return\": {\"status\": \"running\", \"running\": true}}";
	return "{\"return\": {}}";
}

static void setup(void)
{
	silent = false;
	reply_of = reply = NULL;
	int cfd = fakeqmp_start(&fq, handler, NULL);
	sb = vm_sandbox_alloc("o");
	util_mkdir_p(sb->rundir, 0700);
	struct qmp_client *c = NULL;
	struct err *e = NULL;
	struct qmp_callbacks cb;
	vm_lifecycle_qmp_callbacks(sb, &cb);
	sb->pid = getpid();
	sb->start_time = vm_process_start_time(getpid());
	CU_ASSERT_FATAL(qmp_client_open(cfd, &cb, 2000, &c, &e) == 0);
	sb->qmp = c;
	sb->state = VM_RUNNING;
}

static void teardown(void)
{
	/* a refresh thread may still hold its references: wait for it */
	vm_stats_refresh_wait(sb, 3000);
	vm_sandbox_put(sb);
	fakeqmp_stop(&fq);
	sb = NULL;
}

static int add(const char *json)
{
	struct err *e = NULL;
	int r = vm_devices_add_store(sb, json, &cred_root, &e);
	if (r < 0)
		fprintf(stderr, "  add: %s\n", e->msg);
	err_free(&e);
	return r;
}

static char *disk_json(const char *id, const char *extra)
{
	return xasprintf("{\"type\":\"block\",\"id\":\"%s\",\"file\":\"%s\"%s}", id, disk_path,
			 extra ? extra : "");
}

/* ---- throttle: the model ---- */

static void test_throttle_grammar(void)
{
	struct vm_throttle t, base = {0};
	struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_throttle_parse("bps_total 1048576\niops_read 10", NULL, &t, &e), 0);
	CU_ASSERT_EQUAL(t.v[VM_THR_BPS_TOTAL], 1048576);
	CU_ASSERT_EQUAL(t.v[VM_THR_IOPS_READ], 10);
	/* merged: the keys given replace theirs */
	base = t;
	CU_ASSERT_EQUAL(vm_throttle_parse("iops_read 20", &base, &t, &e), 0);
	CU_ASSERT_EQUAL(t.v[VM_THR_BPS_TOTAL], 1048576);
	CU_ASSERT_EQUAL(t.v[VM_THR_IOPS_READ], 20);
	/* empty clears */
	CU_ASSERT_EQUAL(vm_throttle_parse("", &base, &t, &e), 0);
	CU_ASSERT_TRUE(vm_throttle_is_none(&t));
	static const struct { const char *in, *msg; } bad[] = {
		{ "bps_totl 5", "unknown key 'bps_totl'" },
		{ "bps_total -5", "bps_total: -5 is negative" },
		{ "bps_total 5x", "bps_total: not a number" },
		{ "bps_total", "not KEY VALUE" },
		{ "bps_total  5", "bps_total: not a number" },
		{ "bps_total 5\nbps_total 6", "bps_total: given twice" },
		{ "bps_total 2000000000000000", "bps_total: 2000000000000000 is above" },
		{ "bps_total_max 100", "bps_total_max: a burst needs its limit bps_total" },
		{ "bps_total 100\nbps_total_max 50", "bps_total_max: 50 is below bps_total 100" },
		{ "bps_total 100\nbps_write 5", "bps_write: cannot be combined with bps_total" },
		{ "iops_total_max 9\niops_total 5\niops_read_max 1", "iops_read_max: cannot be combined" },
		{ "group a b", "group: 'a b' is not" },
		{ "bps_read 1\n", "not KEY VALUE" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct vm_throttle keep = {.v = {7}};
		int r = vm_throttle_parse(bad[i].in, NULL, &keep, &e);
		CU_ASSERT_EQUAL(r, -EINVAL);
		CU_ASSERT_EQUAL(keep.v[0], 7); /* untouched */
		if (!e || !strstr(e->msg, bad[i].msg))
			fprintf(stderr, "  '%s': got '%s', want '%s'\n", bad[i].in, e ? e->msg : "ok",
				bad[i].msg);
		CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, bad[i].msg));
		err_free(&e);
	}
	/* merged rules: a total set before forbids a read limit now */
	base = (struct vm_throttle){0};
	base.v[VM_THR_BPS_TOTAL] = 100;
	CU_ASSERT_EQUAL(vm_throttle_parse("bps_read 10", &base, &t, &e), -EINVAL);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_throttle_parse("bps_total 0\nbps_read 10", &base, &t, &e), 0);
	CU_ASSERT_EQUAL(t.v[VM_THR_BPS_READ], 10);
}

static void test_throttle_forms(void)
{
	struct vm_throttle t;
	struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_throttle_parse("bps_total 1000\nbps_total_max 4000\ngroup g1", NULL,
						&t, &e), 0);
	cleanup_sbuf struct sbuf out = {0};
	vm_throttle_render(&t, &out);
	CU_ASSERT_STRING_EQUAL(out.s, "iops_total 0\niops_read 0\niops_write 0\nbps_total 1000\n"
				      "bps_read 0\nbps_write 0\niops_total_max 0\niops_read_max 0\n"
				      "iops_write_max 0\nbps_total_max 4000\nbps_read_max 0\n"
				      "bps_write_max 0\ngroup g1\n");
	/* what is read can be written back */
	struct vm_throttle back;
	cleanup_free char *text = xstrndup(out.s, out.len - 1);
	CU_ASSERT_EQUAL(vm_throttle_parse(text, NULL, &back, &e), 0);
	CU_ASSERT_EQUAL(memcmp(&back, &t, sizeof(t)), 0);
	cleanup_json struct json_object *q = vm_throttle_qmp_args(&t, "/machine/peripheral/d1/virtio-backend");
	CU_ASSERT_STRING_EQUAL(json_object_to_json_string_ext(q, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE),
			       "{\"id\":\"/machine/peripheral/d1/virtio-backend\",\"iops\":0,"
			       "\"iops_rd\":0,\"iops_wr\":0,\"bps\":1000,\"bps_rd\":0,\"bps_wr\":0,"
			       "\"bps_max\":4000,\"group\":\"g1\"}");
	cleanup_json struct json_object *j = vm_throttle_to_json(&t);
	struct vm_throttle from;
	CU_ASSERT_EQUAL(vm_throttle_from_json(j, &from, &e), 0);
	CU_ASSERT_EQUAL(memcmp(&from, &t, sizeof(t)), 0);
	cleanup_json struct json_object *badj = json_tokener_parse("{\"bps_total\": -1}");
	CU_ASSERT_EQUAL(vm_throttle_from_json(badj, &from, &e), -EINVAL);
	err_free(&e);
}

/* ---- raw QMP ---- */

static int session(const char *text, char **out)
{
	struct err *e = NULL;
	*out = NULL;
	int r = vm_qmp_session_execute(sb, text, out, &e);
	if (r < 0 && e)
		fprintf(stderr, "    (%s)\n", e->msg);
	err_free(&e);
	return r;
}

static void test_qmp_session(void)
{
	setup();
	char *out;
	CU_ASSERT_EQUAL(session("{\"execute\":\"query-status\",\"id\":{\"mine\":[1]}}\n", &out), 0);
	CU_ASSERT_STRING_EQUAL(out ? out : "", "{\"return\":{\"status\":\"running\",\"running\":true},"
					       "\"id\":{\"mine\":[1]}}\n");
	free(out);
	/* no id given, none returned (the daemon's own never shows) */
	CU_ASSERT_EQUAL(session("{\"execute\":\"query-name\",\"arguments\":{}}", &out), 0);
	CU_ASSERT_STRING_EQUAL(out ? out : "", "{\"return\":{}}\n");
	free(out);
	/* a QMP error is an answer */
	reply_of = "query-name";
	reply = "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}}";
	CU_ASSERT_EQUAL(session("{\"execute\":\"query-name\"}", &out), 0);
	CU_ASSERT_STRING_EQUAL(out ? out : "", "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"nope\"}}\n");
	free(out);
	int sent = fq.nlog;
	static const char *const refused[] = {
		"device_add", "device_del", "blockdev-add", "blockdev-del", "netdev_add", "netdev_del",
		"object-add", "object-del", "quit", "stop", "cont", "migrate", "migrate-incoming",
		"migrate_set_speed", "balloon", "qmp_capabilities", "add-fd", "getfd",
		"block_set_io_throttle", "chardev-add",
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		cleanup_free char *cmd = xasprintf("{\"execute\":\"%s\",\"arguments\":{}}", refused[i]);
		struct err *e = NULL;
		CU_ASSERT_EQUAL(vm_qmp_session_execute(sb, cmd, &out, &e), -EPERM);
		CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "use "));
		err_free(&e);
	}
	static const char *const bad[] = {
		"query-status", "", "[]", "{}", "{\"execute\":5}", "{\"execute\":\"\"}",
		"{\"execute\":\"query-status\"}{\"execute\":\"query-name\"}",
		"{\"execute\":\"query-status\"} x", "{\"execute\":\"query-status\",\"foo\":1}",
		"{\"execute\":\"query-status\",\"arguments\":[]}", "{\"exec-oob\":\"query-status\"}",
		"{\"execute\":\"query-status\"", "\"query-status\"",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (session(bad[i], &out) != -EINVAL)
			fprintf(stderr, "  '%s' was not EINVAL\n", bad[i]);
		CU_ASSERT_EQUAL(session(bad[i], &out), -EINVAL);
	}
	CU_ASSERT_EQUAL(fq.nlog, sent); /* nothing of that reached QEMU */
	/* a silent QEMU: ETIMEDOUT; then the session goes on */
	silent = true;
	CU_ASSERT_EQUAL(session("{\"execute\":\"query-status\"}", &out), -ETIMEDOUT);
	silent = false;
	reply_of = NULL;
	CU_ASSERT_EQUAL(session("{\"execute\":\"query-status\",\"id\":3}", &out), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "\"id\":3"));
	free(out);
	/* not running: EBUSY */
	sb->state = VM_STOPPED;
	CU_ASSERT_EQUAL(session("{\"execute\":\"query-status\"}", &out), -EBUSY);
	sb->state = VM_RUNNING;
	teardown();
}

/* ---- stats ---- */

static const char *stat_line(const char *text, const char *key)
{
	static char v[64];
	size_t n = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, n) && l[n] == ' ') {
			snprintf(v, sizeof(v), "%.*s", (int)strcspn(l + n + 1, "\n"), l + n + 1);
			return v;
		}
	return NULL;
}

static void test_stats(void)
{
	setup();
	/* "QEMU" (this process) has used some CPU: /proc counts in 10 ms ticks */
	for (int64_t t0 = util_now_ms(); util_now_ms() - t0 < 50;)
		;
	cleanup_free char *d1 = disk_json("d1", NULL);
	CU_ASSERT_EQUAL(add(d1), 0);
	CU_ASSERT_EQUAL(add("{\"type\":\"balloon\",\"id\":\"bal\"}"), 0);
	struct err *e = NULL;
	cleanup_sbuf struct sbuf out = {0};
	CU_ASSERT_EQUAL(vm_stats_show(sb, &out, &e), 0);
	CU_ASSERT_STRING_EQUAL(stat_line(out.s, "d1.wr_bytes") ?: "", "12345");
	CU_ASSERT_STRING_EQUAL(stat_line(out.s, "d1.wr_ops") ?: "", "3");
	CU_ASSERT_STRING_EQUAL(stat_line(out.s, "d1.flush_ops") ?: "", "2");
	CU_ASSERT_STRING_EQUAL(stat_line(out.s, "balloon_actual_mib") ?: "", "256");
	CU_ASSERT_PTR_NOT_NULL(stat_line(out.s, "vcpu0_usec"));
	CU_ASSERT_TRUE(atoll(stat_line(out.s, "cpu_usage_usec") ?: "0") > 0);
	CU_ASSERT_TRUE(atoll(stat_line(out.s, "rss_bytes") ?: "0") > 0);
	CU_ASSERT_TRUE(atoll(stat_line(out.s, "stats_age_ms") ?: "9999") < 1000);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "query-blockstats", NULL), 1);
	/* fresh: no second round trip */
	sbuf_release(&out);
	vm_stats_show(sb, &out, &e);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "query-blockstats", NULL), 1);
	/* A BALLOON_CHANGE event moves the balloon without a query. */
	fakeqmp_event(&fq, "{\"event\": \"BALLOON_CHANGE\", \"data\": {\"actual\": 201326592}}");
	usleep(200000);
	sbuf_release(&out);
	CU_ASSERT_EQUAL(vm_balloon_show(sb, &out, &e), 0);
	CU_ASSERT_STRING_EQUAL(out.s ?: "", "192\n");
	/* A silent QEMU: the read still returns at once, the figures age. */
	silent = true;
	pthread_mutex_lock(&sb->tel.lock);
	sb->tel.sampled_ms -= 2000;
	pthread_mutex_unlock(&sb->tel.lock);
	int64_t t0 = util_now_ms();
	sbuf_release(&out);
	vm_stats_show(sb, &out, &e);
	int64_t took = util_now_ms() - t0;
	CU_ASSERT_TRUE(took < VM_STATS_WAIT_MS + 200);
	CU_ASSERT_TRUE(atoll(stat_line(out.s, "stats_age_ms") ?: "0") >= 2000);
	CU_ASSERT_STRING_EQUAL(stat_line(out.s, "d1.wr_bytes") ?: "", "12345"); /* the last ones */
	silent = false;
	vm_stats_refresh_wait(sb, 3000); /* its query times out after 1 s */
	/* Not running: zeros, no QEMU figures. */
	sb->state = VM_STOPPED;
	sbuf_release(&out);
	CU_ASSERT_EQUAL(vm_stats_show(sb, &out, &e), 0);
	CU_ASSERT_STRING_EQUAL(out.s, "cpu_usage_usec 0\ncpu_user_usec 0\ncpu_system_usec 0\nrss_bytes 0\n"
				      "d1.rd_bytes 0\nd1.wr_bytes 0\nd1.rd_ops 0\nd1.wr_ops 0\n"
				      "d1.flush_ops 0\nd1.rd_total_time_ns 0\nd1.wr_total_time_ns 0\n"
				      "uptime_ms 0\n");
	sb->state = VM_RUNNING;
	teardown();
}

/* ---- metrics ---- */

static void test_metrics_render(void)
{
	struct vm_tel_block blk = {.id = "d1", .wr_bytes = 4096, .rd_ns = 1500000000};
	struct vm_stats_vcpu vc = {.index = 0, .usec = 2500000};
	struct vm_stats s[2] = {
		{.name = "a\"b\\c", .state = VM_RUNNING, .live = true, .cpu_usec = 1000001,
		 .blocks = &blk, .nblocks = 1, .vcpus = &vc, .nvcpus = 1, .sampled = true,
		 .age_ms = 1500, .slots_free = 3, .memory_mib = 256},
		{.name = "idle", .state = VM_CREATED, .cpu_usec = 77, .blocks = &blk, .nblocks = 1},
	};
	cleanup_sbuf struct sbuf out = {0};
	vm_metrics_render(&out, s, 2, "0.1.0", "7.2.22");
	const char *o = out.s;
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_build_info{version=\"0.1.0\",qemu=\"7.2.22\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_state{sandbox=\"a\\\"b\\\\c\",state=\"running\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_state{sandbox=\"idle\",state=\"created\"} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_cpu_usage_seconds_total{sandbox=\"a\\\"b\\\\c\"} 1.000001\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_vcpu_seconds_total{sandbox=\"a\\\"b\\\\c\",vcpu=\"0\"} 2.500000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_block_write_bytes_total{sandbox=\"a\\\"b\\\\c\",device=\"d1\"} 4096\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_block_read_time_seconds_total{sandbox=\"a\\\"b\\\\c\",device=\"d1\"} 1.500000000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_stats_age_seconds{sandbox=\"a\\\"b\\\\c\"} 1.500\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_memory_boot_bytes{sandbox=\"a\\\"b\\\\c\"} 268435456\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(o, "sandboxfs_slots_free{sandbox=\"idle\"} 0\n"));
	/* a sandbox without QEMU has no QEMU figures */
	CU_ASSERT_PTR_NULL(strstr(o, "sandboxfs_cpu_usage_seconds_total{sandbox=\"idle\"}"));
	CU_ASSERT_PTR_NULL(strstr(o, "{sandbox=\"idle\",device="));
	CU_ASSERT_PTR_NULL(strstr(o, "sandboxfs_memory_cgroup_bytes{")); /* none had one */
	/* every family: HELP then TYPE, once, before its samples; counters end in _total */
	int families = 0;
	for (const char *l = o; *l; l = strchr(l, '\n') + 1) {
		if (!strncmp(l, "# TYPE ", 7)) {
			families++;
			char name[128], type[16];
			CU_ASSERT_EQUAL(sscanf(l, "# TYPE %127s %15s", name, type), 2);
			size_t n = strlen(name);
			if (!strcmp(type, "counter"))
				CU_ASSERT_TRUE(n > 6 && !strcmp(name + n - 6, "_total"));
			cleanup_free char *help = xasprintf("# HELP %s ", name);
			CU_ASSERT_PTR_NOT_NULL(strstr(o, help));
			cleanup_free char *again = xasprintf("\n# TYPE %s ", name);
			CU_ASSERT_PTR_NULL(strstr(l + 1, again));
		}
	}
	CU_ASSERT_TRUE(families >= 30);
}

/* ---- disks and the balloon, live ---- */

static int store(int (*fn)(struct vm_sandbox *, const char *, const char *, const struct cred *,
			   struct err **), const char *id, const char *v)
{
	struct err *e = NULL;
	int r = fn(sb, id, v, &cred_root, &e);
	if (r < 0)
		fprintf(stderr, "    (%s)\n", e->msg);
	err_free(&e);
	return r;
}

static void test_disk_controls(void)
{
	setup();
	cleanup_free char *d1 = disk_json("d1", NULL);
	cleanup_free char *s1 = disk_json("s1", ",\"interface\":\"scsi\"");
	cleanup_free char *ro = disk_json("ro", ",\"readonly\":true");
	CU_ASSERT_EQUAL(add(d1), 0);
	CU_ASSERT_EQUAL(add(s1), 0);
	CU_ASSERT_EQUAL(add(ro), 0);
	CU_ASSERT_EQUAL(add("{\"type\":\"balloon\",\"id\":\"r\",\"deflate_on_oom\":true}"), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"driver\":\"virtio-balloon-pci\",\"id\":\"r\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "device_add", "\"deflate-on-oom\":true"), 1);
	CU_ASSERT_EQUAL(add("{\"type\":\"balloon\",\"id\":\"bal2\"}"), -EINVAL);
	CU_ASSERT_EQUAL(store(vm_blockctl_throttle_store, "d1", "bps_total 1048576"), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "block_set_io_throttle",
				      "\"id\":\"/machine/peripheral/d1/virtio-backend\""), 1);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "block_set_io_throttle", "\"bps\":1048576"), 1);
	CU_ASSERT_EQUAL(store(vm_blockctl_throttle_store, "s1", "iops_total 100"), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "block_set_io_throttle", "\"id\":\"s1\""), 1);
	/* refused before QMP: nothing sent, nothing recorded */
	CU_ASSERT_EQUAL(store(vm_blockctl_throttle_store, "d1", "bps_read 5"), -EINVAL);
	CU_ASSERT_EQUAL(store(vm_blockctl_throttle_store, "r", "bps_total 5"), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "block_set_io_throttle", NULL), 2);
	/* QEMU refuses: nothing recorded */
	reply_of = "block_set_io_throttle";
	reply = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}";
	CU_ASSERT_EQUAL(store(vm_blockctl_throttle_store, "d1", "bps_total 5"), -EIO);
	CU_ASSERT_EQUAL(vm_devices_find(sb, "d1")->throttle->v[VM_THR_BPS_TOTAL], 1048576);
	reply_of = NULL;
	/* applied again at start: one command per throttled disk */
	vm_blockctl_apply_all(sb);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "block_set_io_throttle", NULL), 5);
	/* size */
	CU_ASSERT_EQUAL(store(vm_blockctl_size_store, "d1", "2M"), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "block_resize", "\"node-name\":\"drive-d1\",\"size\":2097152"), 1);
	CU_ASSERT_EQUAL(store(vm_blockctl_size_store, "d1", "512K"), -EINVAL); /* the image is 1 MiB */
	CU_ASSERT_EQUAL(store(vm_blockctl_size_store, "d1", "512K shrink"), 0);
	CU_ASSERT_EQUAL(store(vm_blockctl_size_store, "d1", "1000"), -EINVAL);
	CU_ASSERT_EQUAL(store(vm_blockctl_size_store, "d1", "1M"), 0); /* the same: nothing sent */
	CU_ASSERT_EQUAL(store(vm_blockctl_size_store, "ro", "2M"), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(store(vm_blockctl_size_store, "r", "2M"), -EOPNOTSUPP);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "block_resize", NULL), 2);
	struct err *e = NULL;
	cleanup_sbuf struct sbuf out = {0};
	CU_ASSERT_EQUAL(vm_blockctl_size_show(sb, "d1", &out, &e), 0);
	CU_ASSERT_STRING_EQUAL(out.s, "1048576\n");
	sbuf_release(&out);
	CU_ASSERT_EQUAL(vm_blockctl_size_show(sb, "r", &out, &e), 0);
	CU_ASSERT_PTR_NULL(out.s);
	/* balloon (r): a live QEMU, 1..target */
	CU_ASSERT_EQUAL(vm_balloon_store(sb, "200", &cred_root, &e), 0);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "balloon", "\"value\":209715200"), 1);
	CU_ASSERT_EQUAL(vm_balloon_store(sb, "257", &cred_root, &e), -ERANGE);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_balloon_store(sb, "0", &cred_root, &e), -ERANGE);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_balloon_store(sb, "x", &cred_root, &e), -EINVAL);
	err_free(&e);
	teardown();
}

static void test_no_balloon(void)
{
	setup();
	struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_balloon_store(sb, "100", &cred_root, &e), -ENODEV);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "no balloon device"));
	err_free(&e);
	CU_ASSERT_EQUAL(fakeqmp_count(&fq, "balloon", NULL), 0);
	teardown();
}

int main(void)
{
	if (!mkdtemp(state_dir))
		return 1;
	snprintf(disk_path, sizeof(disk_path), "%s/disk.img", state_dir);
	FILE *f = fopen(disk_path, "w");
	if (!f || ftruncate(fileno(f), 1 << 20) < 0)
		return 1;
	fclose(f);
	struct vm_settings set = {.state_dir = state_dir, .qmp_timeout_ms = 1000};
	vm_settings_apply(&set);
	vm_config_set_defaults(&(struct vm_defaults){.guest_kernel = "/boot/vmlinuz", .guest_initrd = ""});
	static const struct unit_test tests[] = {
		{ "throttle: grammar, merge, every rule names its key", test_throttle_grammar },
		{ "throttle: render round-trips, QMP arguments, persisted form", test_throttle_forms },
		{ "qmp session: ids, errors as answers, refusals, bad input, a silent QEMU", test_qmp_session },
		{ "stats: QMP figures, a fresh sample is reused, BALLOON_CHANGE, a silent QEMU ages", test_stats },
		{ "metrics: families, labels escaped, live-only samples", test_metrics_render },
		{ "disks and balloon: throttle by QOM path, resize, EOPNOTSUPP, ERANGE", test_disk_controls },
		{ "balloon: ENODEV without a balloon device", test_no_balloon },
	};
	int rc = unit_main("obs", tests, ARRAY_SIZE(tests));
	if (unit_rm_rf(state_dir) < 0)
		fprintf(stderr, "could not remove %s\n", state_dir);
	return rc;
}
