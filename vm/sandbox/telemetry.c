/*
 * vm_telemetry — the record of what a sandbox's QEMU last reported; see
 * telemetry.h.
 */
#include "vm/sandbox/telemetry.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void vm_telemetry_init(struct vm_telemetry *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
}

void vm_telemetry_reset_locked(struct vm_telemetry *t, pid_t pid)
{
	free(t->vcpus);
	free(t->blocks);
	free(t->nets);
	t->vcpus = NULL;
	t->blocks = NULL;
	t->nets = NULL;
	t->nvcpus = t->nblocks = t->nnets = 0;
	t->has_nets = false;
	t->balloon_known = false;
	t->balloon_bytes = 0;
	t->sampled_ms = 0;
	t->pid = pid;
}

void vm_telemetry_release(struct vm_telemetry *t)
{
	vm_telemetry_reset_locked(t, 0);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
}

void vm_telemetry_event(struct vm_telemetry *t, pid_t pid, const char *name,
			struct json_object *ev)
{
	struct json_object *data, *actual;
	if (strcmp(name, "BALLOON_CHANGE") != 0 || !json_object_object_get_ex(ev, "data", &data) ||
	    !json_object_object_get_ex(data, "actual", &actual) ||
	    !json_object_is_type(actual, json_type_int))
		return;
	pthread_mutex_lock(&t->lock);
	if (t->pid != pid)
		vm_telemetry_reset_locked(t, pid);
	t->balloon_known = true;
	t->balloon_bytes = json_object_get_int64(actual);
	pthread_mutex_unlock(&t->lock);
}
