/* support_qmprec — see support_qmprec.h. */
#include "tests/unit/support_qmprec.h"

#include "lib/err.h"
#include "lib/util.h"
#include "qmp/qmp_client.h"
#include "tests/unit/support_qmppeer.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

void qrec_fini(struct qrec *r)
{
	pthread_mutex_destroy(&r->m);
}

void qrec_init(struct qrec *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->m, NULL);
	atomic_init(&r->done, 0);
}

void qrec_event(void *opaque, const char *name, struct json_object *ev)
{
	struct qrec *r = opaque;
	pthread_mutex_lock(&r->m);
	if (r->nev < 16) {
		snprintf(r->names[r->nev], sizeof(r->names[0]), "%s", name);
		struct json_object *data, *dev;
		if (json_object_object_get_ex(ev, "data", &data) &&
		    json_object_object_get_ex(data, "device", &dev))
			snprintf(r->devices[r->nev], sizeof(r->devices[0]), "%s", json_object_get_string(dev));
	}
	r->nev++;
	if (r->has_caller && pthread_equal(r->caller, pthread_self()))
		r->nev_on_caller++;
	struct qmp_client *ex = r->exec_from_cb, *un = r->unref_in_event;
	r->exec_from_cb = NULL;
	r->unref_in_event = NULL;
	pthread_mutex_unlock(&r->m);
	if (ex) {
		cleanup_err struct err *e = NULL;
		int rc = qmp_execute(ex, "never-sent", NULL, 1000, NULL, &e);
		pthread_mutex_lock(&r->m);
		r->exec_rc = rc;
		pthread_mutex_unlock(&r->m);
	}
	if (un) {
		qmp_client_unref(un);
		atomic_store(&r->done, 1);
	}
}

void qrec_closed(void *opaque, const char *why)
{
	struct qrec *r = opaque;
	pthread_mutex_lock(&r->m);
	r->nclosed++;
	snprintf(r->why, sizeof(r->why), "%s", why ? why : "(null)");
	struct qmp_client *un = r->unref_in_closed;
	r->unref_in_closed = NULL;
	pthread_mutex_unlock(&r->m);
	if (un) {
		qmp_client_unref(un);
		atomic_store(&r->done, 1);
	}
}

int qrec_nclosed(struct qrec *r)
{
	pthread_mutex_lock(&r->m);
	int n = r->nclosed;
	pthread_mutex_unlock(&r->m);
	return n;
}

struct qmp_client *qrec_open(struct qpeer *f, struct qrec *r)
{
	struct qmp_callbacks cb = {.event = qrec_event, .closed = qrec_closed, .opaque = r};
	struct qmp_client *c = NULL;
	cleanup_err struct err *e = NULL;
	int rc = qmp_client_open(f->cfd, r ? &cb : NULL, 3000, &c, &e);
	f->cfd = -1;
	CU_ASSERT_EQUAL(rc, 0);
	if (rc < 0)
		fprintf(stderr, "\nqmp_client_open: %s\n", e ? e->msg : "?");
	CU_ASSERT_PTR_NOT_NULL(c);
	return c;
}

const char *qrec_jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

long long qrec_jint(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
		return (long long)json_object_get_int64(v);
	return -999;
}

void *qrec_exec_thread(void *arg)
{
	struct qrec_exec *j = arg;
	cleanup_err struct err *e = NULL;
	cleanup_json struct json_object *ret = NULL;
	int64_t t0 = util_now_ms();
	j->rc = qmp_execute(j->c, j->cmd, j->args, j->timeout_ms, &ret, &e);
	j->elapsed_ms = util_now_ms() - t0;
	j->code = err_code(e);
	snprintf(j->who, sizeof(j->who), "%s", qrec_jstr(ret, "who"));
	return NULL;
}

void *qrec_wait_thread(void *arg)
{
	struct qrec_wait *j = arg;
	int64_t t0 = util_now_ms();
	j->rc = qmp_wait_event(j->c, j->name, NULL, NULL, j->timeout_ms, NULL, NULL);
	j->elapsed_ms = util_now_ms() - t0;
	return NULL;
}
