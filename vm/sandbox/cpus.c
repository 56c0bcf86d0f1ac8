/*
 * vm_cpus — vCPU count and hotplug; see cpus.h.
 *
 * The target while running: adding asks QEMU for the free hotpluggable
 * slots (query-hotpluggable-cpus, entries without a qom-path; asked once
 * per QEMU process and kept, those hot-added since counting as taken, and
 * asked again only after a failed add or the unplug of a vCPU QEMU had
 * when it was asked) and
 * device_adds one vCPU per slot, in order; removing unplugs the most
 * recently added vCPUs first and waits for DEVICE_DELETED.  A target above
 * maxcpus is clamped with a note in `error` (Kata's behaviour); one below the
 * boot count is ERANGE.  While not running, target sets the boot count.
 */
#include "vm/sandbox/cpus.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/sandbox_qemu.h"
#include "vm/sandbox/sandbox.h"

/* Drop the cached slots (an unplug, a failed add: ask QEMU again). */
static void slots_forget(struct vm_sandbox *sb)
{
	pthread_mutex_lock(&sb->lock);
	json_object_put(move_ptr(sb->cpu_slots));
	pthread_mutex_unlock(&sb->lock);
}

/* The vCPU a slot's props place (socket, core, thread) and its id. */
static struct vm_cpu slot_cpu(struct json_object *props)
{
	struct vm_cpu cpu = {.socket = util_json_int0(props, "socket-id"),
			     .core = util_json_int0(props, "core-id"),
			     .thread = util_json_int0(props, "thread-id")};
	snprintf(cpu.id, sizeof(cpu.id), "cpu-%d-%d-%d", cpu.socket, cpu.core, cpu.thread);
	return cpu;
}

/* A vCPU `id` unplugged: the kept slots stay right when they listed its
 * slot free (plugged since, by us: hot_cpus says it is taken, and now it
 * is not); listed occupied (QEMU had it when asked), they are asked again. */
static void slots_unplugged(struct vm_sandbox *sb, const char *id)
{
	pthread_mutex_lock(&sb->lock);
	bool stale = false;
	size_t n = sb->cpu_slots ? json_object_array_length(sb->cpu_slots) : 0;
	for (size_t k = 0; k < n && !stale; k++) {
		struct json_object *slot = json_object_array_get_idx(sb->cpu_slots, k), *props;
		stale = json_object_object_get_ex(slot, "props", &props) && !strcmp(slot_cpu(props).id, id) &&
			json_object_object_get_ex(slot, "qom-path", NULL);
	}
	if (stale)
		json_object_put(move_ptr(sb->cpu_slots));
	pthread_mutex_unlock(&sb->lock);
}

/* QEMU's hotpluggable vCPU slots: asked once per QEMU process, then kept
 * (a running QEMU's slots do not change; which are taken, we know). */
static int slots_get(struct vm_sandbox *sb, struct qmp_client *qmp, struct json_object **out,
		     struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	bool cached = sb->cpu_slots && sb->cpu_slots_pid == sb->pid && sb->cpu_slots_start == sb->start_time;
	*out = cached ? json_object_get(sb->cpu_slots) : NULL;
	pid_t pid = sb->pid;
	unsigned long long start = sb->start_time;
	pthread_mutex_unlock(&sb->lock);
	if (cached)
		return 0;
	int r = qmp_execute(qmp, "query-hotpluggable-cpus", NULL, vm_get_settings()->qmp_timeout_ms, out, e);
	if (r < 0)
		return err_wrap(e, "query-hotpluggable-cpus");
	if (!json_object_is_type(*out, json_type_array)) {
		json_object_put(move_ptr(*out));
		return err_set(e, EIO, "query-hotpluggable-cpus returned no list");
	}
	pthread_mutex_lock(&sb->lock);
	json_object_put(sb->cpu_slots);
	sb->cpu_slots = json_object_get(*out);
	sb->cpu_slots_pid = pid;
	sb->cpu_slots_start = start;
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

/* Hot-added by us since the slots were listed? */
static bool slot_taken(struct vm_sandbox *sb, const char *id)
{
	pthread_mutex_lock(&sb->lock);
	bool taken = false;
	for (size_t i = 0; i < sb->nhot_cpus && !taken; i++)
		taken = !strcmp(sb->hot_cpus[i].id, id);
	pthread_mutex_unlock(&sb->lock);
	return taken;
}

static int cpus_add(struct vm_sandbox *sb, struct qmp_client *qmp, int count, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	cleanup_json struct json_object *slots = NULL;
	int r = slots_get(sb, qmp, &slots, e);
	if (r < 0)
		return r;
	/* QEMU lists slots highest first; plug in ascending order. */
	size_t n = json_object_array_length(slots);
	for (size_t k = n; k-- > 0 && count > 0;) {
		struct json_object *slot = json_object_array_get_idx(slots, k);
		struct json_object *type, *props, *qom;
		if (json_object_object_get_ex(slot, "qom-path", &qom))
			continue; /* occupied */
		if (!json_object_object_get_ex(slot, "type", &type) ||
		    !json_object_object_get_ex(slot, "props", &props))
			continue;
		struct vm_cpu cpu = slot_cpu(props);
		if (slot_taken(sb, cpu.id))
			continue;

		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "driver", json_object_get(type));
		json_object_object_add(args, "id", json_object_new_string(cpu.id));
		/* Pass exactly the topology properties QEMU listed for this slot. */
		json_object_object_foreach(props, key, val)
			json_object_object_add(args, key, json_object_get(val));
		r = qmp_execute(qmp, "device_add", args, tmo, NULL, e);
		if (r < 0) {
			slots_forget(sb);
			return err_wrap(e, "device_add %s", cpu.id);
		}
		pthread_mutex_lock(&sb->lock);
		sb->hot_cpus = xrealloc(sb->hot_cpus, (sb->nhot_cpus + 1) * sizeof(*sb->hot_cpus));
		sb->hot_cpus[sb->nhot_cpus++] = cpu;
		sb->cpus_started++;
		pthread_mutex_unlock(&sb->lock);
		vm_sandbox_commit_outcome(sb); /* QEMU lists it too (reconcile_hot.c) */
		log_info("%s: hot-added vCPU %s", sb->name, cpu.id);
		count--;
	}
	if (count > 0)
		return err_set(e, ENOSPC, "no free vCPU slot left");
	return 0;
}

/*
 * A vCPU's unplug completes with DEVICE_DELETED; QEMU 7.2 names it by the
 * vCPU's id or only by the path of a child (".../<id>/lapic"), so match
 * either.
 */
static bool cpu_deleted(struct json_object *ev, void *opaque)
{
	const char *id = opaque;
	struct json_object *data, *v;
	if (!json_object_object_get_ex(ev, "data", &data))
		return false;
	if (json_object_object_get_ex(data, "device", &v) && json_object_is_type(v, json_type_string) &&
	    !strcmp(json_object_get_string(v), id))
		return true;
	if (!json_object_object_get_ex(data, "path", &v) || !json_object_is_type(v, json_type_string))
		return false;
	char prefix[64];
	int n = snprintf(prefix, sizeof(prefix), "/machine/peripheral/%s", id);
	const char *path = json_object_get_string(v);
	return !strncmp(path, prefix, (size_t)n) && (path[n] == '\0' || path[n] == '/');
}

static int cpus_remove(struct vm_sandbox *sb, struct qmp_client *qmp, int count, struct err **e)
{
	const struct vm_settings *set = vm_get_settings();
	while (count-- > 0) {
		pthread_mutex_lock(&sb->lock);
		if (!sb->nhot_cpus) {
			pthread_mutex_unlock(&sb->lock);
			return err_set(e, ERANGE, "no hot-added vCPU left to remove");
		}
		struct vm_cpu cpu = sb->hot_cpus[sb->nhot_cpus - 1];
		int tmo = sb->cfg.remove_timeout_ms;
		sb->hot_cpus[sb->nhot_cpus - 1].removing = true;
		pthread_mutex_unlock(&sb->lock);
		/* On disk as removing before QEMU hears of it (write-ahead). */
		if (!cpu.removing && vm_sandbox_save(sb, e) < 0) {
			pthread_mutex_lock(&sb->lock);
			sb->hot_cpus[sb->nhot_cpus - 1].removing = false;
			pthread_mutex_unlock(&sb->lock);
			return err_ret(e);
		}

		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "id", json_object_new_string(cpu.id));
		cleanup_err struct err *de = NULL;
		int r = qmp_execute(qmp, "device_del", args, set->qmp_timeout_ms, NULL, &de);
		if (r < 0 && (de->code == ETIMEDOUT || de->code == ECONNRESET)) {
			pthread_mutex_lock(&sb->lock);
			sb->settling = true; /* QEMU may unplug it yet: ask it next time */
			pthread_mutex_unlock(&sb->lock);
		}
		/* ENODEV: QEMU has no such vCPU any more (an unplug that completed
		 * after an earlier wait gave up): it is gone.  EIO: an unplug in
		 * flight already; wait for it. */
		if (r < 0 && de->code != ENODEV && de->code != EIO)
			return err_set(e, de->code, "device_del %s: %s", cpu.id, de->msg);
		if (!(r < 0 && de->code == ENODEV))
			r = qmp_wait_event_match(qmp, "DEVICE_DELETED", cpu_deleted, cpu.id, tmo, NULL, e);
		else
			r = 0;
		if (r < 0) {
			pthread_mutex_lock(&sb->lock);
			sb->settling = true; /* followed when the guest releases it */
			pthread_mutex_unlock(&sb->lock);
			return err_wrap(e, "waiting for the guest to release %s (it goes when the guest "
					   "does)", cpu.id);
		}
		pthread_mutex_lock(&sb->lock);
		sb->nhot_cpus--;
		pthread_mutex_unlock(&sb->lock);
		slots_unplugged(sb, cpu.id);
		vm_sandbox_commit_outcome(sb); /* `removing` on disk: gone from QEMU, gone */
		log_info("%s: hot-removed vCPU %s", sb->name, cpu.id);
	}
	return 0;
}

int vm_cpus_target_store(struct vm_sandbox *sb, const char *value, const struct cred *who,
			struct err **e)
{
	long long want;
	int r = util_parse_int(value, 0, 1 << 20, &want);
	if (r == -EINVAL)
		return err_set(e, EINVAL, "not a number: '%.32s'", value);
	if (r < 0 || want < 1)
		return err_set(e, ERANGE, "must be at least 1");

	if ((r = vm_op_begin(sb, "cpus/target", VM_OP_CHANGES, e)) < 0)
		return r;
	pthread_mutex_lock(&sb->lock);
	int max = sb->cfg.maxvcpus;
	int boot = sb->cfg.vcpus;
	bool live = vm_state_is_live(sb->state);
	int current = boot + (int)sb->nhot_cpus;
	bool clamped = want > max;
	if (clamped) {
		free(sb->error);
		sb->error = xasprintf("vCPU target %lld exceeds maxcpus %d; clamped to %d", want, max, max);
		log_warn("%s: %s", sb->name, sb->error);
		want = max;
	}
	if (!live) {
		sb->cfg.vcpus = (int)want;
		vm_sandbox_config_changed_locked(sb);
	}
	pthread_mutex_unlock(&sb->lock);
	/* Running and not clamped, nothing changed yet: each hot-add or
	 * removal commits its own (a save less per write). */
	if (!live || clamped)
		vm_sandbox_commit(sb);
	if (!live) {
		vm_op_end(sb);
		return 0;
	}

	const struct arch_ops *a = vm_config_arch(&sb->cfg);
	if (want < boot) {
		r = err_set(e, ERANGE, "%lld is below the boot vCPU count %d", want, boot);
	} else if (want != current && a && a->cpus_cold) {
		r = err_set(e, EOPNOTSUPP, "%s has no vCPU hotplug: set the count while the sandbox "
			    "is stopped", a->name);
	} else if (want < current && a && a->cpus_fixed) {
		r = err_set(e, EOPNOTSUPP, "%s cannot unplug vCPUs", a->name);
	} else if (want == current) {
		r = 0;
	} else if ((r = vm_sandbox_vcpu_check(sb, current, (int)want, e)) == 0) {
		/* what this QEMU survives (vm/qemu/vcpu_rules) */
		cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
		if (!qmp)
			r = err_ret(e);
		else if (want > current)
			r = cpus_add(sb, qmp, (int)want - current, e);
		else
			r = cpus_remove(sb, qmp, current - (int)want, e);
	}
	vm_op_end(sb);
	return r;
}

int vm_cpus_target_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	int n = sb->cfg.vcpus + (vm_state_is_live(sb->state) ? (int)sb->nhot_cpus : 0);
	pthread_mutex_unlock(&sb->lock);
	sbuf_printf(out, "%d\n", n);
	return 0;
}

int vm_cpus_online_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	pthread_mutex_unlock(&sb->lock);
	if (!live) {
		sbuf_add(out, "0\n");
		return 0;
	}
	/* What QEMU has, as the daemon keeps it current (each hot-add and
	 * removal, reconciled after any unknown outcome): no QMP at open. */
	pthread_mutex_lock(&sb->lock);
	int n = sb->cfg.vcpus + (int)sb->nhot_cpus;
	pthread_mutex_unlock(&sb->lock);
	sbuf_printf(out, "%d\n", n);
	return 0;
}

int vm_cpus_max_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	sbuf_printf(out, "%d\n", sb->cfg.maxvcpus);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

int vm_cpus_hotplugged_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	for (size_t i = 0; i < sb->nhot_cpus; i++) {
		const struct vm_cpu *c = &sb->hot_cpus[i];
		sbuf_printf(out, "%s %d %d %d%s\n", c->id, c->socket, c->core, c->thread,
			    c->removing ? " removing" : "");
	}
	pthread_mutex_unlock(&sb->lock);
	return 0;
}
