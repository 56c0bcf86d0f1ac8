/*
 * vm_qemu_version — what a QEMU binary is, asked of the binary itself and
 * never guessed from its path: its version (QMP query-version), the target
 * it emulates (query-target) and its machine types, with the versioned
 * type each alias stands for (query-machines: q35 is pc-q35-7.2 in 7.2 and
 * pc-q35-10.0 in 10.0).
 *
 * vm/qemu/probe asks the binary and caches the answers.  These facts are
 * what the command line builder (vm/qemu/cmdline) and the
 * vCPU rules (vm/qemu/vcpu_rules) choose by; docs/design.md lists what
 * differs between the QEMUs this tree is tested with (7.2 and 10.0).
 */
#ifndef SANDBOXFS_VM_QEMU_VERSION_H
#define SANDBOXFS_VM_QEMU_VERSION_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/util.h"

struct json_object;

#define VM_QEMU_ALIASES_MAX 16

/* A machine type alias and the versioned type it resolves to. */
struct vm_qemu_alias {
	char alias[32]; /* "q35" */
	char name[48];  /* "pc-q35-10.0" */
};

/* One binary's facts (plain data: copied by value). */
struct vm_qemu_caps {
	char binary[256];  /* the path that was probed, as given */
	int major, minor, micro;
	char package[96];  /* "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1" ("" when none) */
	char target[24];   /* query-target: "x86_64", "aarch64", "ppc64", "s390x" */
	struct vm_qemu_alias aliases[VM_QEMU_ALIASES_MAX];
	size_t naliases;
	/* Every machine type name and alias, each followed by one space;
	 * machines_all false when the list did not fit (then nothing is
	 * refused for not being in it). */
	char machines[4096];
	bool machines_all;
};

/* The facts from QMP replies (the "return" members of query-version,
 * query-target and query-machines; target and machines may be NULL: not
 * known).  EIO when the version reply lacks qemu.major/minor/micro. */
int vm_qemu_caps_parse(const char *binary, struct json_object *version, struct json_object *target,
		       struct json_object *machines, struct vm_qemu_caps *out, struct err **e);

/* Version at least major.minor. */
bool vm_qemu_at_least(const struct vm_qemu_caps *q, int major, int minor);
/* "10.0.2" into buf (size >= 32). */
const char *vm_qemu_version_str(const struct vm_qemu_caps *q, char *buf, size_t size);
/* The versioned type `machine` (an alias or a type name) is in this
 * binary, or NULL when it has none by that name. */
const char *vm_qemu_machine_type(const struct vm_qemu_caps *q, const char *machine);
/* The target the system emulator `binary` is named for: the part after
 * "qemu-system-" of its file name ("x86_64" of /usr/bin/qemu-system-x86_64),
 * or NULL. */
const char *vm_qemu_target_of(const char *binary);
/* Whether the binary can run the config: EINVAL when it emulates another
 * target than `want_target` (NULL: not checked) or has no machine type
 * `machine`, naming the binary, its version and what it has. */
int vm_qemu_caps_check(const struct vm_qemu_caps *q, const char *want_target, const char *machine,
		       struct err **e);

#endif
