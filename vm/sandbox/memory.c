/*
 * vm_memory — memory size and hotplug; see memory.h.
 *
 * The target is the total in MiB.  While running, growing it adds one
 * pc-dimm backed by a memory-backend-ram object (object-add, device_add; a
 * failed device_add deletes the object again); shrinking removes the most
 * recently added DIMMs, each after DEVICE_DELETED, and only by whole DIMMs.
 * Hot-added memory must fit the config's memory_slots and maxmem_mib
 * (ERANGE past maxmem, ENOSPC with no slot left) and come in multiples of
 * the guest's memory block size (VM_MEMORY_BLOCK_MIB, or the arch's larger
 * alignment), or the guest could not online it.  Architectures without
 * memory hotplug (s390x) refuse with EOPNOTSUPP.  While not running, target
 * sets the boot memory.
 */
#include "vm/sandbox/memory.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/configure.h"
#include "vm/sandbox/sandbox.h"

#define VM_MEMORY_BLOCK_MIB 128 /* Linux's memory block size on x86_64 and arm64 */

static int hot_mib(const struct vm_sandbox *sb)
{
	int n = 0;
	for (size_t i = 0; i < sb->ndimms; i++)
		n += sb->dimms[i].size_mib;
	return n;
}

/* The lowest dimm number not in use. */
static int next_dimm(const struct vm_sandbox *sb)
{
	for (int n = 0;; n++) {
		char id[32];
		snprintf(id, sizeof(id), "dimm%d", n);
		bool used = false;
		for (size_t i = 0; i < sb->ndimms && !used; i++)
			used = !strcmp(sb->dimms[i].id, id);
		if (!used)
			return n;
	}
}

static int dimm_add(struct vm_sandbox *sb, struct qmp_client *qmp, int size_mib, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	pthread_mutex_lock(&sb->lock);
	struct vm_dimm d = {.size_mib = size_mib};
	snprintf(d.id, sizeof(d.id), "dimm%d", next_dimm(sb));
	pthread_mutex_unlock(&sb->lock);
	char mem[40];
	snprintf(mem, sizeof(mem), "mem-%s", d.id);

	struct json_object *obj = json_object_new_object();
	json_object_object_add(obj, "qom-type", json_object_new_string("memory-backend-ram"));
	json_object_object_add(obj, "id", json_object_new_string(mem));
	json_object_object_add(obj, "size", json_object_new_int64((int64_t)size_mib << 20));
	if (qmp_execute(qmp, "object-add", obj, tmo, NULL, e) < 0)
		return err_wrap(e, "object-add %s", mem);
	struct json_object *dev = json_object_new_object();
	json_object_object_add(dev, "driver", json_object_new_string("pc-dimm"));
	json_object_object_add(dev, "id", json_object_new_string(d.id));
	json_object_object_add(dev, "memdev", json_object_new_string(mem));
	if (qmp_execute(qmp, "device_add", dev, tmo, NULL, e) < 0) {
		err_wrap(e, "device_add %s", d.id);
		struct json_object *del = json_object_new_object();
		json_object_object_add(del, "id", json_object_new_string(mem));
		cleanup_err struct err *de = NULL;
		if (qmp_execute(qmp, "object-del", del, tmo, NULL, &de) < 0)
			log_err("%s: rollback object-del %s: %s", sb->name, mem, de->msg);
		return err_ret(e);
	}
	pthread_mutex_lock(&sb->lock);
	sb->dimms = xrealloc(sb->dimms, (sb->ndimms + 1) * sizeof(*sb->dimms));
	sb->dimms[sb->ndimms++] = d;
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: hot-added %d MiB as %s", sb->name, size_mib, d.id);
	vm_sandbox_commit_outcome(sb); /* QEMU lists it too (reconcile_hot.c) */
	return 0;
}

static int dimm_remove(struct vm_sandbox *sb, struct qmp_client *qmp, struct err **e)
{
	int tmo = vm_get_settings()->qmp_timeout_ms;
	pthread_mutex_lock(&sb->lock);
	struct vm_dimm d = sb->dimms[sb->ndimms - 1];
	int wait_ms = sb->cfg.remove_timeout_ms;
	sb->dimms[sb->ndimms - 1].removing = true;
	pthread_mutex_unlock(&sb->lock);
	/* On disk as removing before QEMU hears of it (write-ahead). */
	if (!d.removing && vm_sandbox_save(sb, e) < 0) {
		pthread_mutex_lock(&sb->lock);
		sb->dimms[sb->ndimms - 1].removing = false;
		pthread_mutex_unlock(&sb->lock);
		return err_ret(e);
	}
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string(d.id));
	cleanup_err struct err *de = NULL;
	/* ENODEV: QEMU has no such DIMM any more (a late unplug completed): gone. */
	if (qmp_execute(qmp, "device_del", args, tmo, NULL, &de) < 0 && de->code != ENODEV &&
	    !d.removing) {
		pthread_mutex_lock(&sb->lock);
		sb->dimms[sb->ndimms - 1].removing = false;
		pthread_mutex_unlock(&sb->lock);
		return err_set(e, de->code, "device_del %s: %s", d.id, de->msg);
	}
	if (!(de && de->code == ENODEV) &&
	    qmp_wait_event(qmp, "DEVICE_DELETED", "device", d.id, wait_ms, NULL, e) < 0) {
		pthread_mutex_lock(&sb->lock);
		sb->settling = true; /* followed when the guest releases it */
		pthread_mutex_unlock(&sb->lock);
		return err_wrap(e, "the guest did not release %s (it could not "
				   "offline that memory yet); it goes when the guest does, or write again",
				   d.id);
	}
	char mem[40];
	snprintf(mem, sizeof(mem), "mem-%s", d.id);
	struct json_object *del = json_object_new_object();
	json_object_object_add(del, "id", json_object_new_string(mem));
	cleanup_err struct err *oe = NULL;
	if (qmp_execute(qmp, "object-del", del, tmo, NULL, &oe) < 0)
		log_err("%s: object-del %s: %s", sb->name, mem, oe->msg);
	pthread_mutex_lock(&sb->lock);
	sb->ndimms--;
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: hot-removed %s (%d MiB)", sb->name, d.id, d.size_mib);
	vm_sandbox_commit_outcome(sb); /* `removing` on disk: gone from QEMU, gone */
	return 0;
}

/* Under op_lock, while running: hot-add or hot-remove DIMMs to reach want. */
static int set_target_live(struct vm_sandbox *sb, long long want, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	const struct arch_ops *a = vm_config_arch(&sb->cfg);
	int align = a && a->memory_align_mib > VM_MEMORY_BLOCK_MIB ? a->memory_align_mib : VM_MEMORY_BLOCK_MIB;
	bool can = a && a->memory_hotplug;
	int boot = sb->cfg.memory_mib, maxmem = sb->cfg.maxmem_mib, slots = sb->cfg.memory_slots;
	int current = boot + hot_mib(sb);
	int used = (int)sb->ndimms;
	pthread_mutex_unlock(&sb->lock);

	if (want == current)
		return 0;
	if (want < boot)
		return err_set(e, ERANGE, "%lld MiB is below the boot memory %d MiB", want, boot);
	if (!can)
		return err_set(e, EOPNOTSUPP, "the %s architecture has no memory hotplug",
			       a ? a->name : "?");
	if (want > current) {
		if (want > maxmem)
			return err_set(e, ERANGE, "%lld MiB exceeds maxmem_mib %d", want, maxmem);
		long long add = want - current;
		if (add % align)
			return err_set(e, EINVAL, "memory is added in multiples of %d MiB "
				       "(the guest's memory block size); %lld MiB is not", align, add);
		if (used >= slots)
			return err_set(e, ENOSPC, "no free memory slot (%d of memory_slots %d in use)",
				       used, slots);
		cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
		return qmp ? dimm_add(sb, qmp, (int)add, e) : err_ret(e);
	}
	/* Shrink by whole DIMMs, newest first. */
	pthread_mutex_lock(&sb->lock);
	int drop = 0, left = current;
	size_t k = sb->ndimms;
	while (left > want && k > 0)
		left -= sb->dimms[--k].size_mib, drop++;
	pthread_mutex_unlock(&sb->lock);
	if (left != want)
		return err_set(e, EINVAL, "memory is removed by whole DIMMs; %lld MiB is not "
			       "reachable", want);
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
	if (!qmp)
		return err_ret(e);
	for (int i = 0; i < drop; i++)
		if (dimm_remove(sb, qmp, e) < 0)
			return err_ret(e);
	return 0;
}

int vm_memory_target_store(struct vm_sandbox *sb, const char *value, const struct cred *who,
			struct err **e)
{
	long long want;
	int r = util_parse_int(value, 0, 1LL << 30, &want);
	if (r == -EINVAL)
		return err_set(e, EINVAL, "not a number of MiB: '%.32s'", value);
	if (r < 0)
		return err_set(e, ERANGE, "out of range");
	if ((r = vm_op_begin(sb, "memory/target", VM_OP_CHANGES, e)) < 0)
		return r;
	pthread_mutex_lock(&sb->lock);
	bool live = vm_state_is_live(sb->state);
	pthread_mutex_unlock(&sb->lock);
	if (live)
		r = set_target_live(sb, want, e);
	vm_op_end(sb);
	if (!live) {
		/* Not running: the boot size, validated like a config write. */
		cleanup_free char *json = xasprintf("{\"memory_mib\": %lld}", want);
		r = vm_configure_store(sb, json, who, e);
	}
	return r;
}

int vm_memory_target_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	int n = sb->cfg.memory_mib + (vm_state_is_live(sb->state) ? hot_mib(sb) : 0);
	pthread_mutex_unlock(&sb->lock);
	sbuf_printf(out, "%d\n", n);
	return 0;
}

int vm_memory_hotplugged_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	for (size_t i = 0; i < sb->ndimms; i++)
		sbuf_printf(out, "%s %d%s\n", sb->dimms[i].id, sb->dimms[i].size_mib,
			    sb->dimms[i].removing ? " removing" : "");
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

int vm_memory_slots_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	sbuf_printf(out, "%zu %d\n", sb->ndimms, sb->cfg.memory_slots);
	pthread_mutex_unlock(&sb->lock);
	return 0;
}

int vm_memory_max_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	int max = sb->cfg.maxmem_mib ? sb->cfg.maxmem_mib : sb->cfg.memory_mib;
	pthread_mutex_unlock(&sb->lock);
	sbuf_printf(out, "%d\n", max);
	return 0;
}
