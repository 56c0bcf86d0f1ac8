/*
 * vm_sandbox_qemu — which QEMU a sandbox runs, as the binary says; see
 * sandbox_qemu.h.
 */
#include "vm/sandbox/sandbox_qemu.h"

#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/qemu/probe.h"
#include "vm/qemu/vcpu_rules.h"
#include "vm/sandbox/sandbox.h"

/* The unprivileged identity the daemon's own probes run as. */
#define BINARY_NOBODY 65534

static struct vm_qemu_probe probe_how(uid_t uid, gid_t gid)
{
	const struct vm_settings *s = vm_get_settings();
	struct vm_qemu_probe h = {.uid = uid, .gid = gid, .confine = vm_settings_confined(),
				  .timeout_ms = s->start_timeout_ms};
	if (geteuid() != 0) /* nobody to drop to */
		h.uid = h.gid = 0;
	return h;
}

int vm_sandbox_qemu_caps(struct vm_sandbox *sb, struct vm_qemu_caps *out, char **binary, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	cleanup_free char *bin = xstrdup(vm_config_qemu_binary(&sb->cfg));
	struct vm_qemu_probe how = probe_how(sb->qemu_uid, sb->qemu_gid);
	pthread_mutex_unlock(&sb->lock);
	int r = vm_qemu_caps_get(bin, &how, out, e);
	if (binary)
		*binary = move_ptr(bin);
	return r;
}

void vm_sandbox_qemu_describe(const char *binary, const struct vm_qemu_caps *q, struct sbuf *out)
{
	char v[32];
	sbuf_printf(out, "qemu %s %s\n", q ? vm_qemu_version_str(q, v, sizeof(v)) : "unknown", binary);
}

/* The default QEMU's facts, asked as the daemon's probe identity. */
static bool default_caps(const char **bin, struct vm_qemu_caps *q)
{
	*bin = vm_config_default_qemu(arch_host(), NULL);
	const struct vm_settings *s = vm_get_settings();
	uid_t uid = 0;
	gid_t gid = 0;
	if (s->qemu_mode == VM_QEMU_USER) {
		uid = s->qemu_uid;
		gid = s->qemu_gid;
	} else if (s->qemu_mode == VM_QEMU_RANGE) {
		uid = gid = BINARY_NOBODY;
	}
	struct vm_qemu_probe how = probe_how(uid, gid);
	cleanup_err struct err *e = NULL;
	bool known = **bin && vm_qemu_caps_get(*bin, &how, q, &e) == 0;
	if (!known && e)
		log_warn("the default QEMU: %s", e->msg);
	return known;
}

void vm_sandbox_default_qemu_describe(struct sbuf *out)
{
	const char *bin;
	struct vm_qemu_caps q;
	bool known = default_caps(&bin, &q);
	vm_sandbox_qemu_describe(*bin ? bin : "(none)", known ? &q : NULL, out);
}

void vm_sandbox_default_qemu_version(char *buf, size_t size)
{
	const char *bin;
	struct vm_qemu_caps q;
	if (default_caps(&bin, &q))
		snprintf(buf, size, "%d.%d.%d", q.major, q.minor, q.micro);
	else
		snprintf(buf, size, "unknown");
}

int vm_sandbox_vcpu_check(struct vm_sandbox *sb, int current, int want, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_vcpu_change c = {.accel = sb->cfg.accel, .maxcpus = sb->cfg.maxvcpus,
				   .current = current, .want = want,
				   .started = sb->cpus_started > current ? sb->cpus_started : current};
	int r = vm_vcpu_rules_check(sb->qemu_caps, &c, e);
	pthread_mutex_unlock(&sb->lock);
	return r;
}

void vm_sandbox_qemu_running(struct vm_sandbox *sb, const struct vm_qemu_caps *q, struct qmp_client *qmp)
{
	struct vm_qemu_caps greeted = {0};
	if (!q && qmp) {
		qmp_client_version(qmp, &greeted.major, &greeted.minor, &greeted.micro);
		q = greeted.major > 0 ? &greeted : NULL;
	}
	char v[32] = "unknown", bin[sizeof(q->binary)] = "not probed";
	struct vm_qemu_caps *known = q ? xmalloc(sizeof(*known)) : NULL;
	if (q) {
		*known = *q;
		if (q == &greeted)
			snprintf(known->binary, sizeof(known->binary), "%s", vm_config_qemu_binary(&sb->cfg));
		vm_qemu_version_str(q, v, sizeof(v));
		snprintf(bin, sizeof(bin), "%s", known->binary);
	}
	pthread_mutex_lock(&sb->lock);
	free(sb->qemu_caps);
	sb->qemu_caps = known;
	sb->cpus_started = sb->cfg.vcpus + (int)sb->nhot_cpus;
	pid_t pid = sb->pid;
	pthread_mutex_unlock(&sb->lock);
	log_info("%s: qemu pid %d is QEMU %s (%s)", sb->name, (int)pid, v, bin);
}
