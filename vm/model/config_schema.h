/*
 * config_schema — the config model's key table, internal to vm/model/.
 *
 * One row per key (config_schema.c) drives parsing, validation, defaults,
 * the live flag and the JSON read-back (config.c), so a new key is one row.
 */
#ifndef SANDBOXFS_VM_CONFIG_SCHEMA_H
#define SANDBOXFS_VM_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "vm/model/config.h"

enum vm_config_type { CFG_STRING, CFG_INT, CFG_BOOL, CFG_STRV };

#define VM_CONFIG_STRV_MAX 16

struct vm_config_key {
	const char *key;
	enum vm_config_type type;
	size_t off;
	long long min, max;     /* CFG_INT static range */
	bool live;              /* may change while running */
	long long idef;         /* CFG_INT / CFG_BOOL default */
	const char *sdef;       /* CFG_STRING static default */
	/* CFG_STRING dynamic default (heap string); sees the keys above it. */
	char *(*sdef_fn)(const struct vm_config *cfg);
	/* CFG_STRV dynamic default (heap vector); NULL: empty. */
	char **(*vdef_fn)(const struct vm_config *cfg);
	/* CFG_INT dynamic default; sees the keys above it. */
	int (*idef_fn)(const struct vm_config *cfg);
	/* Extra rule on the complete config; sees every key. */
	int (*check)(const struct vm_config *cfg, const struct vm_config_key *k, struct err **e);
	/* Effective value of a string key ("" resolved); NULL: stored value. */
	const char *(*effective)(const struct vm_config *cfg);
	bool keep;              /* never re-defaulted (the uuid) */
};

#define CFG_FIELD(cfg, k, T) (*(T *)((char *)(cfg) + (k)->off))
#define CFG_CFIELD(cfg, k, T) (*(const T *)((const char *)(cfg) + (k)->off))
#define CFG_CVFIELD(cfg, k) (*(char **const *)((const char *)(cfg) + (k)->off))

extern const struct vm_config_key vm_config_schema[];
extern const size_t vm_config_schema_len;
const struct vm_config_key *vm_config_schema_find(const char *key);
/* Effective value of a string key: its `effective` op, else the stored
 * string ("" when unset). */
const char *vm_config_schema_effective(const struct vm_config *cfg, const struct vm_config_key *k);

/* The rules of the keys (config_rules.c). */
int vm_config_check_abs_path(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_opt_path(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_arch(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_machine(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_accel(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_cpu_model(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_vcpus(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_maxvcpus(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_uuid(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_machine_options(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_accelerators(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_smp(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_maxmem(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_rtc_base(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_rtc_clock(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_driftfix(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_globals(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_vga(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_pflash(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);
int vm_config_check_daemonize(const struct vm_config *cfg, const struct vm_config_key *k,
			 struct err **e);

int vm_config_check_cpu_max(const struct vm_config *cfg, const struct vm_config_key *k,
			    struct err **e);

/* NULL-terminated string lists (config.c). */
char **vm_config_strv_dup(char *const *v);
void vm_config_strv_free(char **v);
bool vm_config_strv_eq(char *const *a, char *const *b);

/* config_qemu.c: the --qemu-dir directories (copied; NULL: none), and
 * what an empty `qemu` key means for the architecture's binary `arch_bin`:
 * that name in the first directory holding it, else arch_bin itself. */
void vm_config_qemu_dirs_set(const char *const *dirs);
const char *vm_config_qemu_default(const char *arch_bin);

#endif
