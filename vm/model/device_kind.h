/*
 * device_kind — the device model's tables, internal to vm/model/: the key
 * types of a spec, one row per device type (its keys, fixup and builder),
 * and the per-type builders (device_build.c) that expand a device into
 * its parts.
 */
#ifndef SANDBOXFS_VM_DEVICE_KIND_H
#define SANDBOXFS_VM_DEVICE_KIND_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"

struct json_object;

enum vm_dk_type { DK_STR, DK_PATH, DK_ENUM, DK_INT, DK_BOOL, DK_ID, DK_MAC, DK_BDF, DK_HEX16,
	       DK_TAG, DK_IFNAME, DK_PORT };

struct vm_device_key {
	const char *key;
	enum vm_dk_type t;
	bool required;
	const char *sdef;          /* string default; NULL: "" */
	long long idef, min, max;  /* DK_INT / DK_BOOL */
	const char *const *choices;
};

#define K_PATH(k, req) { k, DK_PATH, req }
#define K_BOOL(k, def) { k, DK_BOOL, false, NULL, def, 0, 1 }
#define K_INT(k, req, def, lo, hi) { k, DK_INT, req, NULL, def, lo, hi }
#define K_ENUM(k, def, c) { k, DK_ENUM, false, def, 0, 0, 0, c }

typedef int (*vm_device_build_fn)(const struct vm_device *d, const struct vm_dev_env *env,
				  struct vm_dev_parts *p, struct err **e);

struct vm_device_kind {
	const char *type;
	enum vm_dev_kind kind;
	const struct vm_device_key *keys;
	size_t nkeys;
	/* Defaults that depend on other keys, cross-key rules. */
	int (*fixup)(struct json_object *spec, const char *id, struct err **e);
	vm_device_build_fn build;
	const char *file_key; /* copied to d->file (checked readable) */
	bool pci;
};

/* Fill `spec` from the written object `o`: every key of the kind, typed
 * and checked, defaults filled in, then the kind's fixup (device_spec.c). */
int vm_device_spec_normalize(const struct vm_device_kind *k, struct json_object *o,
			     const char *id, struct json_object *spec, struct err **e);
/* The string member `key` of o, or NULL when absent; EINVAL if present but
 * not a string, or if it holds a NUL or a control character. */
int vm_device_spec_string(struct json_object *o, const char *key, const char **out,
			  struct err **e);

/* The builders (device_build.c), one per kind. */
int vm_device_build_block(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_image(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_serial(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_9p(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_vfs(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_vhu(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_vsock(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_net(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_vfio(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_rng(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_iommu(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);
int vm_device_build_balloon(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e);

#endif
