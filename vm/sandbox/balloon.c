/*
 * vm_balloon — memory/balloon; see balloon.h.  The size read comes from
 * the sandbox's telemetry (kept current by BALLOON_CHANGE events and the
 * stats refresh), never from a QMP round trip of the reader's own.
 */
#include "vm/sandbox/balloon.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/sandbox/sandbox.h"
#include "vm/sandbox/stats.h"

/* Under sb->lock: the balloon device's id, or NULL. */
static const char *balloon_id(struct vm_sandbox *sb)
{
	for (size_t i = 0; i < sb->ndevs; i++)
		if (sb->devs[i]->kind == VM_DEVK_BALLOON)
			return sb->devs[i]->id;
	return NULL;
}

static bool known(struct vm_sandbox *sb, pid_t pid, int64_t *bytes)
{
	pthread_mutex_lock(&sb->tel.lock);
	bool k = sb->tel.pid == pid && sb->tel.balloon_known;
	*bytes = sb->tel.balloon_bytes;
	pthread_mutex_unlock(&sb->tel.lock);
	return k;
}

int vm_balloon_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	bool have = balloon_id(sb) && vm_state_is_live(sb->state) && sb->pid > 0;
	pid_t pid = sb->pid;
	pthread_mutex_unlock(&sb->lock);
	int64_t bytes = 0;
	if (!have)
		return 0;
	if (!known(sb, pid, &bytes) && vm_stats_refresh_kick(sb)) /* no word from QEMU yet */
		vm_stats_refresh_wait(sb, VM_STATS_WAIT_MS);
	if (known(sb, pid, &bytes))
		sbuf_printf(out, "%lld\n", (long long)(bytes >> 20));
	return 0;
}

int vm_balloon_store(struct vm_sandbox *sb, const char *value, const struct cred *who,
		     struct err **e)
{
	long long mib;
	if (util_parse_int(value, -(1LL << 40), 1LL << 40, &mib) < 0)
		return err_set(e, EINVAL, "not a number of MiB: '%.40s'", value);
	pthread_mutex_lock(&sb->op_lock);
	pthread_mutex_lock(&sb->lock);
	const char *id = balloon_id(sb);
	bool live = vm_state_is_live(sb->state);
	long long total = sb->cfg.memory_mib;
	for (size_t i = 0; live && i < sb->ndimms; i++)
		total += sb->dimms[i].size_mib;
	pthread_mutex_unlock(&sb->lock);
	int r = 0;
	if (!id)
		r = err_set(e, ENODEV, "no balloon device (add one: {\"type\":\"balloon\",\"id\":\"b0\"})");
	else if (!live)
		r = err_set(e, EBUSY, "the balloon is set while the sandbox runs");
	else if (mib < 1 || mib > total)
		r = err_set(e, ERANGE, "%lld MiB: the balloon takes 1 to %lld MiB (memory/target)", mib,
			    total);
	cleanup_qmp struct qmp_client *qmp = r == 0 ? vm_sandbox_qmp(sb, e) : NULL;
	if (r == 0 && !qmp)
		r = err_ret(e);
	if (r == 0) {
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "value", json_object_new_int64(mib << 20));
		r = qmp_execute(qmp, "balloon", args, vm_get_settings()->qmp_timeout_ms, NULL, e);
		if (r < 0)
			err_wrap(e, "balloon");
		else
			log_info("%s: balloon target %lld MiB", sb->name, mib);
	}
	pthread_mutex_unlock(&sb->op_lock);
	return r;
}
