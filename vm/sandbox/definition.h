/*
 * vm_definition — the whole sandbox as one JSON object (libvirt's
 * dumpxml/define): its config with the versioned machine type, every
 * device spec with the bridge slot it sits on, while a QEMU runs the
 * hot-added vCPUs and DIMMs, and — for the reader's information — who owns
 * it and whose rights open its host paths.
 *
 * Writing one to a sandbox that is not running replaces its config and
 * devices at once, validated as a whole against this daemon (every path
 * opened as the writer, every device placed, the command line built):
 * all or nothing.  The sandbox keeps its own uuid (a copy is another VM);
 * the definition's uuid is remembered for `incoming`, which takes it (a
 * migration is the same VM).  The writer becomes the owner of every path
 * it names; ownership itself is never taken from a definition.
 *
 * Grammar (the keys `cat definition` prints, in this order):
 *
 *   definition := "{" "definition": 1, "config": CONFIG, "devices": [SPEC*],
 *                 "slots": {ID: {"bus": BRIDGE, "slot": N}*},
 *                 "hot_cpus": [{"id","socket","core","thread"}*],
 *                 "dimms": [{"id","size_mib"}*],
 *                 "owner": {"uid","gid"} | null, "rights": {...} "}"
 *   CONFIG     := what `config` takes, every key (missing keys default)
 *   SPEC       := what `devices/add` takes
 *
 * Only "config" is required; "owner" and "rights" are ignored on write;
 * "hot_cpus" and "dimms" are kept for the next `incoming`.
 */
#ifndef SANDBOXFS_VM_DEFINITION_H
#define SANDBOXFS_VM_DEFINITION_H

#include "lib/cred.h"
#include "lib/err.h"
#include "lib/util.h"
#include "vm/sandbox/sandbox.h"

struct json_object;

#define VM_DEFINITION_VERSION 1

/* The `definition` file. */
int vm_definition_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_definition_store(struct vm_sandbox *sb, const char *json, const struct cred *who,
			struct err **e);

/* The machine type a definition records: while QEMU runs, the one it
 * runs (QMP qom-get /machine type); else what the configured binary makes
 * of the configured machine ("q35" → "pc-q35-7.2"), or the machine as
 * configured when the binary cannot say.  A heap string. */
char *vm_definition_machine(struct vm_sandbox *sb);
/* The definition object with `machine` as its machine type (new
 * reference); takes sb->lock. */
struct json_object *vm_definition_json(struct vm_sandbox *sb, const char *machine);
/* The same as text, pretty-printed, ending in a newline (a heap string). */
char *vm_definition_text(struct json_object *def);

/* A definition checked against this daemon, ready to install. */
struct vm_definition {
	struct vm_config cfg;
	struct vm_topology topo;
	struct vm_device **devs;
	size_t ndevs;
	struct vm_cpu *cpus;
	size_t ncpus;
	struct vm_dimm *dimms;
	size_t ndimms;
	char *uuid;  /* the definition's own */
	struct cred owner; /* whose rights open its paths */
};
enum vm_definition_mode {
	VM_DEFINITION_COPY,    /* a definition write: everything from it */
	VM_DEFINITION_RESTORE, /* a restore: the sandbox keeps its arch and QEMU binary */
};
/* Parse and check `o` for sandbox `sb` as written by `who` (under op_lock,
 * not sb->lock: paths are opened as the writer).  EINVAL for a malformed
 * definition, the errno of a check otherwise (EACCES, ENOENT naming the
 * path, ENOSPC a slot, EEXIST a device id twice). */
int vm_definition_prepare(struct vm_sandbox *sb, struct json_object *o, const struct cred *who,
			  enum vm_definition_mode mode, struct vm_definition *out, struct err **e);
/* Replace the sandbox's config and devices with `d` (emptied), the
 * writer's rights for every path, and commit.  Under op_lock. */
void vm_definition_install(struct vm_sandbox *sb, struct vm_definition *d, const struct cred *who);
/* Exchange the sandbox's config, devices, rights and pending hot state
 * with `d` (no commit): twice puts everything back.  Under op_lock. */
void vm_definition_swap(struct vm_sandbox *sb, struct vm_definition *d);
void vm_definition_release(struct vm_definition *d);

/* Hot-added vCPUs and DIMMs as the definition writes them (new
 * references) and back (EINVAL naming the entry). */
struct json_object *vm_definition_cpus_json(const struct vm_cpu *c, size_t n);
struct json_object *vm_definition_dimms_json(const struct vm_dimm *d, size_t n);
int vm_definition_cpus_parse(struct json_object *a, struct vm_cpu **out, size_t *n, struct err **e);
int vm_definition_dimms_parse(struct json_object *a, struct vm_dimm **out, size_t *n,
			      struct err **e);

#endif
