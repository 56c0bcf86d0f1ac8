/*
 * vm_migration — migration over QMP; see migration.h.  Every command is
 * built with json-c; capabilities are named exactly as QEMU 7.2 and 10
 * both know them ("events", "return-path", "auto-converge",
 * "x-ignore-shared", "multifd").
 */
#include "vm/qemu/migration.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "qmp/qmp_client.h"

static void cap(struct json_object *list, const char *name, bool on)
{
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "capability", json_object_new_string(name));
	json_object_object_add(c, "state", json_object_new_boolean(on));
	json_object_array_add(list, c);
}

int vm_migration_prepare(struct qmp_client *qmp, const struct vm_migration_setup *s,
			 int timeout_ms, struct err **e)
{
	struct json_object *caps = json_object_new_array();
	cap(caps, "events", true);
	cap(caps, "return-path", s->return_path);
	cap(caps, "auto-converge", s->auto_converge);
	cap(caps, "x-ignore-shared", s->ignore_shared);
	cap(caps, "multifd", s->multifd_channels > 0);
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "capabilities", caps);
	int r = qmp_execute(qmp, "migrate-set-capabilities", args, timeout_ms, NULL, e);
	if (r < 0)
		return err_wrap(e, "migrate-set-capabilities");
	args = json_object_new_object();
	if (s->multifd_channels > 0)
		json_object_object_add(args, "multifd-channels", json_object_new_int(s->multifd_channels));
	if (s->max_bandwidth > 0)
		json_object_object_add(args, "max-bandwidth", json_object_new_int64(s->max_bandwidth));
	if (s->downtime_limit_ms > 0)
		json_object_object_add(args, "downtime-limit", json_object_new_int64(s->downtime_limit_ms));
	if (json_object_object_length(args) == 0) {
		json_object_put(args);
		return 0;
	}
	r = qmp_execute(qmp, "migrate-set-parameters", args, timeout_ms, NULL, e);
	return r < 0 ? err_wrap(e, "migrate-set-parameters") : 0;
}

int vm_migration_tune(struct qmp_client *qmp, long long max_bandwidth, int downtime_limit_ms,
		      int timeout_ms, struct err **e)
{
	struct vm_migration_setup s = {.max_bandwidth = max_bandwidth,
				       .downtime_limit_ms = downtime_limit_ms};
	struct json_object *args = json_object_new_object();
	if (s.max_bandwidth > 0)
		json_object_object_add(args, "max-bandwidth", json_object_new_int64(s.max_bandwidth));
	if (s.downtime_limit_ms > 0)
		json_object_object_add(args, "downtime-limit", json_object_new_int64(s.downtime_limit_ms));
	int r = qmp_execute(qmp, "migrate-set-parameters", args, timeout_ms, NULL, e);
	return r < 0 ? err_wrap(e, "migrate-set-parameters") : 0;
}

int vm_migration_start(struct qmp_client *qmp, const char *uri, bool incoming, int timeout_ms,
		       struct err **e)
{
	const char *cmd = incoming ? "migrate-incoming" : "migrate";
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string(uri));
	int r = qmp_execute(qmp, cmd, args, timeout_ms, NULL, e);
	return r < 0 ? err_wrap(e, "%s %s", cmd, uri) : 0;
}

int vm_migration_start_fd(struct qmp_client *qmp, const char *name, int fd, bool incoming,
			  int timeout_ms, struct err **e)
{
	struct json_object *a = json_object_new_object();
	json_object_object_add(a, "fdname", json_object_new_string(name));
	int r = qmp_execute_fd(qmp, "getfd", a, fd, timeout_ms, NULL, e);
	if (r < 0)
		return err_wrap(e, "getfd %s", name);
	cleanup_free char *uri = xasprintf("fd:%s", name);
	r = vm_migration_start(qmp, uri, incoming, timeout_ms, e);
	if (r < 0) { /* QEMU did not take the descriptor: close its copy */
		a = json_object_new_object();
		json_object_object_add(a, "fdname", json_object_new_string(name));
		cleanup_err struct err *ce = NULL;
		qmp_execute(qmp, "closefd", a, timeout_ms, NULL, &ce);
	}
	return r;
}

int vm_migration_cancel(struct qmp_client *qmp, int timeout_ms, struct err **e)
{
	int r = qmp_execute(qmp, "migrate_cancel", NULL, timeout_ms, NULL, e);
	return r < 0 ? err_wrap(e, "migrate_cancel") : 0;
}

int vm_migration_query(struct qmp_client *qmp, int timeout_ms, struct vm_migration_progress *p,
		       struct err **e)
{
	cleanup_json struct json_object *ret = NULL;
	int r = qmp_execute(qmp, "query-migrate", NULL, timeout_ms, &ret, e);
	if (r < 0)
		return err_wrap(e, "query-migrate");
	*p = (struct vm_migration_progress){0};
	const char *st = util_json_str(ret, "status");
	snprintf(p->status, sizeof(p->status), "%s", st ? st : "none");
	struct json_object *ram = NULL;
	json_object_object_get_ex(ret, "ram", &ram);
	p->total = util_json_int0(ram, "total");
	p->transferred = util_json_int0(ram, "transferred");
	p->remaining = util_json_int0(ram, "remaining");
	p->dirty_rate = util_json_int0(ram, "dirty-pages-rate");
	p->downtime_ms = util_json_int0(ret, "downtime");
	p->total_ms = util_json_int0(ret, "total-time");
	if (!strcmp(p->status, "completed"))
		p->percent = 100;
	else if (p->total > 0)
		p->percent = (int)((p->total - p->remaining) * 100 / p->total);
	const char *desc = util_json_str(ret, "error-desc");
	snprintf(p->error, sizeof(p->error), "%s", desc ? desc : "");
	return 0;
}

bool vm_migration_over(const char *status)
{
	return !strcmp(status, "completed") || !strcmp(status, "failed") ||
	       !strcmp(status, "cancelled");
}

static int addr_host(const char *h, size_t n, struct err **e)
{
	if (n == 0)
		return err_set(e, EINVAL, "tcp: needs a host: tcp:HOST:PORT");
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']' || strspn(h + 1, "0123456789abcdefABCDEF:.") != n - 2)
			return err_set(e, EINVAL, "tcp: '%.*s' is not an [IPv6] address", (int)n, h);
		return 0;
	}
	if (n > 253 || strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") < n)
		return err_set(e, EINVAL, "tcp: '%.*s' is not a host name or address", (int)n, h);
	return 0;
}

int vm_migration_parse_addr(const char *addr, int *port, struct err **e)
{
	if (strncmp(addr, "tcp:", 4) != 0)
		return err_set(e, EINVAL, "'%.64s': only tcp:HOST:PORT addresses are supported", addr);
	const char *h = addr + 4;
	const char *colon = strrchr(h, ':');
	if (h[0] == '[') { /* the port's colon comes after the bracket */
		const char *close = strchr(h, ']');
		colon = close && close[1] == ':' ? close + 1 : NULL;
	}
	if (!colon || !colon[1])
		return err_set(e, EINVAL, "'%.64s': tcp: without a port (tcp:HOST:PORT)", addr);
	int r = addr_host(h, (size_t)(colon - h), e);
	if (r < 0)
		return r;
	long long p;
	const char *ps = colon + 1;
	if (ps[0] == '0' || util_parse_int(ps, 1, 65535, &p) < 0 || ps[0] == '-')
		return err_set(e, EINVAL, "'%.64s': the port must be 1 to 65535", addr);
	*port = (int)p;
	return 0;
}
