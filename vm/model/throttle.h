/*
 * vm_throttle — a disk's I/O limits, as `devices/<id>/throttle` takes and
 * shows them and as QMP block_set_io_throttle applies them.  Pure data and
 * rules (no QEMU, no I/O): parse, check, render, the QMP arguments, and
 * the persisted JSON form.
 */
#ifndef SANDBOXFS_VM_THROTTLE_H
#define SANDBOXFS_VM_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "lib/util.h"

struct json_object;

/* The keys, in the order they are shown: a limit per second, then the
 * burst each allows (_max); QEMU's names in vm_throttle_keys[].qmp. */
enum vm_throttle_key {
	VM_THR_IOPS_TOTAL, VM_THR_IOPS_READ, VM_THR_IOPS_WRITE,
	VM_THR_BPS_TOTAL, VM_THR_BPS_READ, VM_THR_BPS_WRITE,
	VM_THR_IOPS_TOTAL_MAX, VM_THR_IOPS_READ_MAX, VM_THR_IOPS_WRITE_MAX,
	VM_THR_BPS_TOTAL_MAX, VM_THR_BPS_READ_MAX, VM_THR_BPS_WRITE_MAX,
	VM_THR_NKEYS
};

/* QEMU's ceiling of a throttle value (THROTTLE_VALUE_MAX). */
#define VM_THROTTLE_VALUE_MAX 1000000000000000LL
#define VM_THROTTLE_GROUP_MAX 31

struct vm_throttle {
	int64_t v[VM_THR_NKEYS]; /* 0: no limit */
	char group[VM_THROTTLE_GROUP_MAX + 1]; /* "": the disk's own */
};

struct vm_throttle_keydef {
	const char *name; /* ours: iops_total ... */
	const char *qmp;  /* QEMU's: iops ... */
};
extern const struct vm_throttle_keydef vm_throttle_keys[VM_THR_NKEYS];

/* Parse a write: flat "KEY VALUE" lines (one space, decimal values >= 0,
 * `group NAME`, `group ` for none), each key at most once, merged into
 * `base` (NULL: no limits): the keys given replace theirs, the others
 * keep their values, so a shell writing line by line sets key by key; an
 * empty text clears everything.  The rules are checked on the merged
 * result.  EINVAL naming the key: unknown key, duplicate, not a number,
 * negative, above QEMU's ceiling, a *_total with its *_read or *_write,
 * a _max without its base or below it, a bad group name.  *out is
 * untouched on failure. */
int vm_throttle_parse(const char *text, const struct vm_throttle *base, struct vm_throttle *out,
		      struct err **e);
/* The rules of vm_throttle_parse over a whole setting. */
int vm_throttle_check(const struct vm_throttle *t, struct err **e);
/* Every limit as "KEY VALUE" lines, then "group NAME" when one is set;
 * t NULL: all zero. */
void vm_throttle_render(const struct vm_throttle *t, struct sbuf *out);
bool vm_throttle_is_none(const struct vm_throttle *t);
/* block_set_io_throttle's arguments for the device at QOM path `qom`
 * (new reference). */
struct json_object *vm_throttle_qmp_args(const struct vm_throttle *t, const char *qom);
/* The persisted form {"bps_total": N, ..., "group": "..."} (only what is
 * set) and back (checked like a write; EINVAL otherwise). */
struct json_object *vm_throttle_to_json(const struct vm_throttle *t);
int vm_throttle_from_json(struct json_object *o, struct vm_throttle *out, struct err **e);

#endif
