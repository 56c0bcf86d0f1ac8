/*
 * vm_registry — every sandbox of the daemon by name: create (mkdir),
 * destroy (rmdir), look up, list, and the names nobody may take.
 */
#ifndef SANDBOXFS_VM_REGISTRY_H
#define SANDBOXFS_VM_REGISTRY_H

#include "lib/err.h"
#include "lib/util.h"

struct vm_sandbox;


/* Names a sandbox may not take beyond the grammar (the fs root's own
 * files); a NULL-terminated list that stays valid. */
void vm_registry_reserve(const char *const *names);
/* EINVAL unless `name` is a valid, unreserved sandbox name. */
int vm_registry_check_name(const char *name, struct err **e);

/* mkdir: a sandbox owned by its creator (by the daemon's --owner when
 * root creates it). */
struct cred;
int vm_registry_create(const char *name, const struct cred *who, struct err **e);
/* chown: root hands the sandbox to uid/gid ((uid_t)-1, (gid_t)-1: keep). */
int vm_registry_chown(const char *name, uid_t uid, gid_t gid, struct err **e);
int vm_registry_destroy(const char *name, struct err **e);
/* A reference to the named sandbox, NULL when there is none. */
struct vm_sandbox *vm_registry_get(const char *name);
/* Names of all sandboxes, sorted (strv owned by caller). */
void vm_registry_names(struct strv *out);
/* Add a sandbox object built elsewhere (loaded from disk); the registry
 * takes the reference.  EEXIST when the name is taken. */
int vm_registry_add(struct vm_sandbox *sb, struct err **e);
/* Drop every sandbox (the daemon is exiting; their QEMUs stay as they are). */
void vm_registry_clear(void);

#endif
