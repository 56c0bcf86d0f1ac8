/*
 * vm_config — the sandbox configuration model.
 *
 * A config is a typed struct described by one static schema table (key,
 * type, default, limits, whether it may change while running).  The table
 * drives parsing, validation, defaults and the JSON read-back, so a new key
 * is one table row.  Writes are JSON objects merged into the current config
 * (keys replace); unknown keys, wrong types and out-of-range values are
 * EINVAL with a message naming the key; nothing changes on failure.
 */
#ifndef SANDBOXFS_VM_CONFIG_H
#define SANDBOXFS_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"

struct json_object;

struct vm_config {
	char *arch;          /* "x86_64" */
	char *qemu;          /* binary path; default per arch + machine */
	char *machine;       /* "q35" */
	char *accel;         /* "tcg,thread=multi" | "tcg,thread=single" | "tcg" | "kvm" */
	char *cpu_model;     /* "" = QEMU/arch default */
	int vcpus;           /* boot vCPUs, 1..maxvcpus */
	int maxvcpus;        /* 1..arch max */
	int memory_mib;      /* 64..1048576 */
	char *kernel;        /* absolute path; default: the built-in guest */
	char *initrd;        /* absolute path or "" */
	char *kernel_params; /* user params, appended last so they win */
	bool debug;
	int root_ports;      /* hotplug root ports / bridges, 0..32 */
	char *uuid;          /* generated at creation */
	int remove_timeout_ms; /* DEVICE_DELETED wait, live-changeable */

	/* ---- the full model (issue 3): machine ---- */
	char *machine_options;      /* extra -machine options, "k=v,..." */
	char *machine_accelerators; /* Kata MachineAccelerators: appended */
	char *name;                 /* -name guest=; "" = the sandbox name */
	int sockets;                /* 0 = maxvcpus / (cores * threads) */
	int cores, threads;
	int memory_slots;           /* -m slots=; 0 = none */
	int maxmem_mib;             /* -m maxmem=; 0 = none */
	char *rtc_base;             /* utc | localtime | YYYY-MM-DD[THH:MM:SS] */
	char *rtc_clock;            /* host | rt | vm */
	char *rtc_driftfix;         /* slew | none */
	char **globals;             /* -global each; NULL-terminated */
	char *vga;                  /* none | std | virtio | cirrus */
	char *bios;                 /* "" or absolute path */
	char **pflash;              /* absolute paths, at most 2 */
	/* knobs */
	bool no_user_config, nodefaults, nographic, daemonize;
	bool hugepages, mem_prealloc, mem_shared, realtime, mlock;
	int iothreads;              /* -object iothread,id=iothread<N> */
	bool disable_modern;        /* Kata nestedRun: virtio legacy only */
	/* topology beyond the hotplug root ports */
	int pci_bridges;            /* pci-bridge on the root bus */
	int pcie_pci_bridges;       /* pcie-pci-bridge on the root bus */
	bool bridge_shpc;           /* shpc= of pci-bridges */
	/* the sandbox's cgroup, live-changeable */
	char *cpu_max;              /* "max" | "QUOTA PERIOD" (µs, cgroup v2 cpu.max) */
	int memory_max_mib;         /* QEMU as a whole, guest RAM and overhead; 0: none */
	int pids_max;               /* 0: none */
	char *netns;                /* network namespace the taps are in ("" the daemon's) */
	/* live migration (a migrate's source; both sides for the capabilities) */
	int max_bandwidth_mib;      /* MiB/s; 0: QEMU's default */
	int downtime_limit_ms;      /* the pause allowed at the end; 0: QEMU's default */
	bool auto_converge;         /* throttle vCPUs until it converges */
	int multifd_channels;       /* parallel channels; 0: one stream */
	/* guest RAM in a file (a memfd the daemon makes, mapped shared): what
	 * x-ignore-shared leaves out of a template's stream */
	bool memory_file;
};

/* Daemon-wide defaults the config falls back on (set once by main). */
struct vm_defaults {
	const char *guest_kernel;  /* built-in guest kernel */
	const char *guest_initrd;  /* built-in guest initramfs */
	const char *accel;         /* default accelerator */
	/* Where an empty `qemu` key finds the arch's binary (--qemu-dir):
	 * the first directory holding it; NULL-terminated, NULL: where the
	 * architecture table says (/usr/bin). */
	const char *const *qemu_dirs;
};
void vm_config_set_defaults(const struct vm_defaults *d);
/* When the config's kernel is its architecture's built-in guest and that
 * is not built: the architecture (make guest-ARCH); else NULL. */
const char *vm_config_builtin_missing(const struct vm_config *cfg);
/* Is PATH the config's architecture's built-in guest kernel (or, with
 * initrd, initramfs)?  The daemon's own files, not a writer's. */
bool vm_config_is_builtin(const struct vm_config *cfg, const char *path, bool initrd);

/* Fill every field with its default (uuid freshly generated). */
void vm_config_init(struct vm_config *cfg);
void vm_config_release(struct vm_config *cfg);
/* Deep copy; `dst` is written without being released first. */
void vm_config_copy(struct vm_config *dst, const struct vm_config *src);

/*
 * Merge the JSON object text `json` into `cfg`.  When `running`, a key that
 * is not live-changeable and whose value differs is EBUSY.  Validation of
 * the merged result (e.g. vcpus <= maxvcpus, arch rules) runs before
 * anything is committed; on failure cfg is untouched.
 */
int vm_config_merge(struct vm_config *cfg, const char *json, bool running, struct err **e);
/* Validate a whole config (ranges, cross-key rules, arch rules). */
int vm_config_validate(const struct vm_config *cfg, struct err **e);
/* The effective config with every default filled in (new reference). */
struct json_object *vm_config_to_json(const struct vm_config *cfg);
/* Restore a config saved with vm_config_to_json (used for persisted state).
 * Keys missing from `o` take their defaults.  `cfg` must hold a config
 * (vm_config_init, or zero-filled); on success its old contents are
 * released and replaced, on failure it is untouched. */
int vm_config_from_json(struct vm_config *cfg, struct json_object *o, struct err **e);

struct arch_ops;
struct arch_vm;
struct vm_topology;
struct vm_topology_want;
/* The config's architecture ops; NULL only for a config that did not
 * validate (unknown arch). */
const struct arch_ops *vm_config_arch(const struct vm_config *cfg);
/* Effective QEMU binary: cfg->qemu, or the arch's binary for the machine
 * (in the first vm_defaults.qemu_dirs directory holding it) when cfg->qemu
 * is "" ("" if neither is known). */
const char *vm_config_qemu_binary(const struct vm_config *cfg);
/* What an empty `qemu` means for an architecture and machine (NULL: the
 * architecture's default machine): as above; "" when neither is known. */
const char *vm_config_default_qemu(const char *arch, const char *machine);
/* The machine family the rules judge: "q35" for "q35" and "pc-q35-7.2". */
const char *vm_config_machine_family(const struct vm_config *cfg);
/* Effective CPU model: cfg->cpu_model, or the arch default; "" = QEMU's. */
const char *vm_config_cpu_model(const struct vm_config *cfg);
/* Strictly parse `text` as one JSON object (trailing whitespace allowed,
 * anything else after it is an error).  EINVAL "not a JSON object (...)"
 * otherwise.  *out gets a new reference.  Shared with
 * vm_device_parse. */
int vm_config_parse_object(const char *text, struct json_object **out, struct err **e);

/* The narrow views the architecture rules and the topology take. */
struct arch_vm vm_config_arch_vm(const struct vm_config *cfg);
struct vm_topology_want vm_config_topology_want(const struct vm_config *cfg);
/* The whole topology the config asks for (bridges, empty slots). */
void vm_config_topology(const struct vm_config *cfg, struct vm_topology *t);

/* Whether two configs name different host paths (qemu, kernel, initrd,
 * bios, pflash, netns). */
bool vm_config_paths_differ(const struct vm_config *a, const struct vm_config *b);

/* Effective SMP sockets (sockets, or maxvcpus / (cores * threads)). */
int vm_config_sockets(const struct vm_config *cfg);
/* Number of entries of a NULL-terminated string list (NULL: 0). */
size_t vm_config_strv_len(char *const *v);

#endif
