/*
 * stats_refresh — the asynchronous refresh of a sandbox's telemetry (see
 * stats.h and telemetry.h).
 *
 * A snapshot that finds the sample older than VM_STATS_FRESH_MS starts a
 * detached thread for that sandbox (at most one at a time) and goes on;
 * a `stats` read waits for it briefly.  The thread asks QEMU, each within
 * the QMP timeout: query-cpus-fast (the vCPU threads), query-blockstats
 * (matched to devices by node-name drive-<id>: with -blockdev the
 * `device` member is empty), query-balloon (with a balloon device); and
 * reads the NICs' host counters from /proc/thread-self/net/dev — in the
 * sandbox's network namespace when it has one (the thread enters it;
 * setns changes only the calling thread, which ends right after).  The
 * QMP figures are stored only when every command answered, so a QEMU that
 * stops answering leaves the last sample in place and its age grows.
 */
#include "vm/sandbox/stats.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "lib/cred.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"

struct refresh_job {
	struct vm_sandbox *sb;      /* a reference */
	struct qmp_client *qmp;     /* a reference */
	pid_t pid;
	bool blocks, balloon;
	struct strv nic_ids, nic_ifnames;
	char *netns;                /* the config's namespace path, or NULL */
	struct cred netns_owner;
};

struct refresh_result {
	struct vm_tel_vcpu *vcpus;
	size_t nvcpus;
	struct vm_tel_block *blocks;
	size_t nblocks;
	struct vm_tel_net *nets;
	size_t nnets;
	bool nets_read;
	bool balloon_known;
	int64_t balloon_bytes;
};

static int query(struct refresh_job *j, const char *cmd, struct json_object **ret)
{
	cleanup_err struct err *e = NULL;
	int r = qmp_execute(j->qmp, cmd, NULL, vm_get_settings()->qmp_timeout_ms, ret, &e);
	if (r < 0)
		log_debug("%s: stats: %s: %s", j->sb->name, cmd, e->msg);
	return r;
}

static int get_vcpus(struct refresh_job *j, struct refresh_result *res)
{
	cleanup_json struct json_object *ret = NULL;
	if (query(j, "query-cpus-fast", &ret) < 0 || !json_object_is_type(ret, json_type_array))
		return -1;
	size_t n = json_object_array_length(ret);
	res->vcpus = xcalloc(n + 1, sizeof(*res->vcpus));
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(ret, i);
		int64_t idx, tid;
		if (util_json_int(c, "cpu-index", &idx) == 0 && util_json_int(c, "thread-id", &tid) == 0)
			res->vcpus[res->nvcpus++] = (struct vm_tel_vcpu){(int)idx, (int)tid};
	}
	return 0;
}

static int get_blocks(struct refresh_job *j, struct refresh_result *res)
{
	cleanup_json struct json_object *ret = NULL;
	if (query(j, "query-blockstats", &ret) < 0 || !json_object_is_type(ret, json_type_array))
		return -1;
	size_t n = json_object_array_length(ret);
	res->blocks = xcalloc(n + 1, sizeof(*res->blocks));
	for (size_t i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(ret, i), *st;
		const char *node = util_json_str(b, "node-name");
		if (!node || strncmp(node, "drive-", 6) != 0 || !json_object_object_get_ex(b, "stats", &st))
			continue;
		struct vm_tel_block *o = &res->blocks[res->nblocks++];
		snprintf(o->id, sizeof(o->id), "%s", node + 6);
		o->rd_bytes = util_json_int0(st, "rd_bytes");
		o->wr_bytes = util_json_int0(st, "wr_bytes");
		o->rd_ops = util_json_int0(st, "rd_operations");
		o->wr_ops = util_json_int0(st, "wr_operations");
		o->flush_ops = util_json_int0(st, "flush_operations");
		o->rd_ns = util_json_int0(st, "rd_total_time_ns");
		o->wr_ns = util_json_int0(st, "wr_total_time_ns");
	}
	return 0;
}

static int get_balloon(struct refresh_job *j, struct refresh_result *res)
{
	cleanup_json struct json_object *ret = NULL;
	int64_t actual;
	/* DeviceNotActive until the guest's driver is up: not a failure */
	if (query(j, "query-balloon", &ret) == 0 && util_json_int(ret, "actual", &actual) == 0) {
		res->balloon_known = true;
		res->balloon_bytes = actual;
	}
	return 0;
}

/* /proc/thread-self/net/dev: "IF: rxbytes rxpkts errs drop ... txbytes
 * txpkts errs drop ..." — the host side, turned to the guest's view. */
static void get_nets(struct refresh_job *j, struct refresh_result *res)
{
	if (!j->nic_ids.n)
		return;
	if (j->netns) {
		cleanup_err struct err *e = NULL;
		cleanup_close int fd = cred_open(&j->netns_owner, j->netns, O_RDONLY, &e);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			log_debug("%s: stats: netns %s: %s", j->sb->name, j->netns,
				  fd < 0 ? e->msg : strerror(errno));
			return;
		}
	}
	cleanup_free char *text = util_read_file("/proc/thread-self/net/dev", NULL);
	if (!text)
		return;
	res->nets = xcalloc(j->nic_ids.n + 1, sizeof(*res->nets));
	for (size_t i = 0; i < j->nic_ids.n; i++) {
		struct vm_tel_net *o = &res->nets[res->nnets++];
		snprintf(o->id, sizeof(o->id), "%s", j->nic_ids.v[i]);
		for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			char name[32];
			long long v[16];
			if (sscanf(l, " %31[^:]: %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
				   name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
				   &v[9], &v[10], &v[11]) != 13 || strcmp(name, j->nic_ifnames.v[i]))
				continue;
			/* host rx = guest tx */
			*o = (struct vm_tel_net){.rx_bytes = v[8], .rx_packets = v[9], .rx_drops = v[11],
						 .tx_bytes = v[0], .tx_packets = v[1], .tx_drops = v[3]};
			snprintf(o->id, sizeof(o->id), "%s", j->nic_ids.v[i]);
		}
	}
	res->nets_read = true;
}

static void store(struct refresh_job *j, struct refresh_result *res, bool qmp_ok)
{
	struct vm_telemetry *t = &j->sb->tel;
	pthread_mutex_lock(&t->lock);
	if (t->pid != j->pid)
		vm_telemetry_reset_locked(t, j->pid);
	if (qmp_ok) {
		free(t->vcpus);
		t->vcpus = move_ptr(res->vcpus);
		t->nvcpus = res->nvcpus;
		free(t->blocks);
		t->blocks = move_ptr(res->blocks);
		t->nblocks = res->nblocks;
		if (res->balloon_known) {
			t->balloon_known = true;
			t->balloon_bytes = res->balloon_bytes;
		}
		t->sampled_ms = util_now_ms();
	}
	if (res->nets_read) {
		free(t->nets);
		t->nets = move_ptr(res->nets);
		t->nnets = res->nnets;
		t->has_nets = true;
	}
	t->inflight = false;
	t->refreshes++;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void job_free(struct refresh_job *j)
{
	qmp_client_unref(j->qmp);
	vm_sandbox_put(j->sb);
	strv_release(&j->nic_ids);
	strv_release(&j->nic_ifnames);
	free(j->netns);
	free(j);
}

static void *refresh_main(void *arg)
{
	struct refresh_job *j = arg;
	struct refresh_result res = {0};
	bool ok = get_vcpus(j, &res) == 0;
	if (ok && j->blocks)
		ok = get_blocks(j, &res) == 0;
	if (ok && j->balloon)
		get_balloon(j, &res);
	get_nets(j, &res);
	store(j, &res, ok);
	free(res.vcpus);
	free(res.blocks);
	free(res.nets);
	job_free(j);
	return NULL;
}

/* Under sb->lock: what the refresh of this QEMU asks for. */
static struct refresh_job *job_new(struct vm_sandbox *sb)
{
	struct refresh_job *j = xcalloc(1, sizeof(*j));
	j->pid = sb->pid;
	for (size_t i = 0; i < sb->ndevs; i++) {
		const struct vm_device *d = sb->devs[i];
		j->blocks |= vm_device_is_block(d);
		j->balloon |= d->kind == VM_DEVK_BALLOON;
		if (d->kind == VM_DEVK_NET) {
			strv_add(&j->nic_ids, d->id);
			strv_add(&j->nic_ifnames, vm_device_str(d, "ifname"));
		}
	}
	if (*sb->cfg.netns) {
		j->netns = xstrdup(sb->cfg.netns);
		j->netns_owner = sb->cfg_owner;
	}
	return j;
}

bool vm_stats_refresh_kick(struct vm_sandbox *sb)
{
	struct vm_telemetry *t = &sb->tel;
	pthread_mutex_lock(&sb->lock);
	pid_t pid = sb->pid;
	bool live = vm_state_is_live(sb->state) && pid > 0 && sb->qmp;
	pthread_mutex_lock(&t->lock);
	bool fresh = t->pid == pid && t->sampled_ms > 0 &&
		     util_now_ms() - t->sampled_ms < VM_STATS_FRESH_MS;
	bool start = live && !fresh && !t->inflight;
	bool running = t->inflight || start;
	if (start)
		t->inflight = true;
	pthread_mutex_unlock(&t->lock);
	struct refresh_job *j = NULL;
	if (start) {
		j = job_new(sb);
		j->sb = vm_sandbox_ref(sb);
		j->qmp = qmp_client_ref(sb->qmp);
	}
	pthread_mutex_unlock(&sb->lock);
	if (!j)
		return running;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t th;
	int r = pthread_create(&th, &attr, refresh_main, j);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		log_warn("%s: stats: cannot start a refresh: %s", sb->name, strerror(r));
		struct refresh_result none = {0};
		store(j, &none, false);
		job_free(j);
		return false;
	}
	return true;
}

void vm_stats_refresh_wait(struct vm_sandbox *sb, int wait_ms)
{
	struct vm_telemetry *t = &sb->tel;
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += wait_ms / 1000;
	dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->lock);
	while (t->inflight)
		if (pthread_cond_timedwait(&t->cond, &t->lock, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&t->lock);
}
