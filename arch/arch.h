/*
 * arch — per-architecture rules behind one ops table (as Kata's qemuArch).
 *
 * Each architecture lives in its own file (arch_x86_64.c, arch_aarch64.c,
 * arch_ppc64le.c, arch_s390x.c) and exports one `const struct arch_ops`.  The config's `arch` key selects it; the default
 * is the host's.  Nothing outside arch/ may test an architecture by name:
 * bus names, driver suffixes (-pci / -ccw), machine options, kernel
 * parameter lists and which devices a machine can take are all asked here.
 */
#ifndef SANDBOXFS_ARCH_H
#define SANDBOXFS_ARCH_H

#include <stdbool.h>

#include "lib/err.h"

/*
 * What the architecture rules judge about a VM: a narrow, data-only view of
 * its config, filled by the config model.  arch/ is a leaf: it sees this
 * struct and lib/, never the config model's functions.
 */
struct arch_vm {
	const char *machine;         /* "q35" */
	const char *accel;           /* "tcg,thread=multi" */
	const char *machine_options; /* "gic-version=3,..." */
	int threads;                 /* SMP threads per core */
	int memory_mib, maxmem_mib, memory_slots;
	int npflash;                 /* pflash images */
	int root_ports, pci_bridges, pcie_pci_bridges;
};

struct arch_ops {
	const char *name;            /* "x86_64" */
	const char *default_machine; /* "q35" */
	/* Default QEMU binary for a machine type; NULL → unknown machine type. */
	const char *(*qemu_binary)(const char *machine);
	const char *default_cpu;     /* NULL: QEMU's default */
	const char *const *kernel_params;        /* arch defaults, NULL-terminated */
	const char *const *kernel_params_debug;
	const char *const *kernel_params_nodebug;
	/* Added to the debug / non-debug lists when a root image is used. */
	const char *const *kernel_params_systemd_debug;
	const char *const *kernel_params_systemd_nodebug;
	/* Guest root device of an image seen as virtio-blk / as nvdimm. */
	const char *root_dev_blk;    /* "/dev/vda1" */
	const char *root_dev_nvdimm; /* "/dev/pmem0p1" */
	const char *console_device;  /* guest serial console, e.g. "ttyS0" */
	/* Hotplug bridges: driver, parent bus, first PCI address on it. */
	const char *bridge_driver;   /* "pcie-root-port" */
	const char *bridge_bus;      /* "pcie.0" */
	int bridge_first_addr;       /* 2 */
	int bridge_slots;            /* slots per bridge: 1 for a root port */
	const char *blk_driver;      /* "virtio-blk-pci" */
	/* Highest maxvcpus accepted for this config (accel-dependent). */
	int (*max_vcpus)(const struct arch_vm *vm);
	/* Arch-specific validation of a complete config; EINVAL + message. */
	int (*validate)(const struct arch_vm *vm, struct err **e);

	/* ---- the full config model (issue 3) ---- */
	/* Root PCI bus of a machine ("pcie.0" on q35, "pci.0" on pc). */
	const char *(*root_bus)(const char *machine);
	/* Highest PCI device number bridges may take on the root bus. */
	int (*root_last_addr)(const char *machine);
	/* Suffix of virtio transport drivers: "-pci" ("-ccw" on s390x). */
	const char *virtio_suffix;
	/* Default -global list (NULL-terminated). */
	const char *const *default_globals;
	/* Default machine options for a machine under an accelerator (the
	 * config's "accel" value); NULL op: none. */
	const char *(*machine_options)(const char *machine, const char *accel);
	/* Machine option that enables NVDIMM ("nvdimm=on"), NULL: none. */
	const char *nvdimm_option;
	/* vIOMMU driver ("intel-iommu") and the machines that take it; NULL
	 * driver: no vIOMMU on this arch. */
	const char *iommu_driver;
	bool (*iommu_supported)(const char *machine); /* NULL: no machine */
	/* Whether -rtc driftfix=slew is meaningful here. */
	bool rtc_driftfix;

	/* ---- four architectures (issue 4) ---- */
	/* CPU model for a config when cpu_model is ""; NULL op: default_cpu. */
	const char *(*cpu_model)(const struct arch_vm *vm);
	/* Why max_vcpus is what it is ("GICv2 supports at most 8 vCPUs");
	 * NULL op or NULL result: no reason beyond the range. */
	const char *(*max_vcpus_rule)(const struct arch_vm *vm);
	/* Hotplug bridges a config gets by default (the root_ports key). */
	int default_bridges;
	/* Default DEVICE_DELETED wait (ms; 0: ARCH_REMOVE_TIMEOUT_MS): native
	 * PCIe hotplug (aarch64 virt) has the guest wait 5 s after the
	 * attention button. */
	int remove_timeout_ms;
	/* Devices sit on CCW subchannels (devno fe.0.xxxx), not on PCI: the
	 * topology is one "ccw" set whose slots are device numbers. */
	bool ccw;
	/* Capabilities (Kata types.Capabilities). */
	unsigned caps;
	/* Memory hotplug (pc-dimm: memory_slots / maxmem) is possible. */
	bool memory_hotplug;
	/* Hot-added vCPUs cannot be unplugged again (s390x, QEMU 7.2:
	 * device_del says "CPU hot unplug not supported on this machine"). */
	bool cpus_fixed;
	/* No vCPU hotplug at all (aarch64 virt: QEMU answers "'query-hotpluggable-cpus'
	 * is not enabled"): the count is set while the sandbox is stopped. */
	bool cpus_cold;
	/* Memory sizes (memory_mib, maxmem_mib) must be multiples of this (MiB);
	 * 0: no rule. */
	int memory_align_mib;
	/* The x-ignore-shared migration capability is supported (Kata skips
	 * it silently where it is not). */
	bool ignore_shared;
	/* 9p shares get multidevs=remap (Kata: not on arm64). */
	bool p9_multidevs;

	/* ---- save, restore, migration (issue 13) ---- */
	/* Versioned machine types, pairs {PREFIX, FAMILY, ..., NULL}: the type
	 * PREFIX<major>.<minor> ("pc-q35-7.2") is one version of the machine
	 * FAMILY ("q35") and obeys its rules; a saved or migrated sandbox
	 * records the version it ran, so another QEMU runs the same machine. */
	const char *const *machine_versions;
	/* The oldest QEMU (major * 100 + minor) that saves, restores and
	 * migrates this architecture's guests; 0: any.  pseries: 1000 — under
	 * QEMU 7.2 TCG a restored guest never resumes, and a 7.2 save does not
	 * load into 10 (the interrupt controller's state differs). */
	int migration_qemu_min;
	/* A guest with hot-added vCPUs cannot be saved or migrated: pseries
	 * (QEMU 10, TCG): restored with its hot-added core re-created, the
	 * guest prints once and stalls. */
	bool migration_no_hot_cpus;
};

/* Capability bits of arch_ops.caps. */
#define ARCH_CAP_MULTIQUEUE 0x2u
#define ARCH_CAP_FS_SHARING 0x4u

#define ARCH_REMOVE_TIMEOUT_MS 5000

/* The initialisers every architecture shares (Kata's qemuArchBase): the
 * kernel parameter lists, the guest's root devices, the capabilities.  An
 * arch table starts with it and sets only what is its own. */
#define ARCH_OPS_DEFAULTS                                              \
	.kernel_params_debug = arch_kparams_debug,                     \
	.kernel_params_nodebug = arch_kparams_nodebug,                 \
	.kernel_params_systemd_debug = arch_kparams_systemd_debug,     \
	.kernel_params_systemd_nodebug = arch_kparams_systemd_nodebug, \
	.root_dev_blk = "/dev/vda1",                                   \
	.root_dev_nvdimm = "/dev/pmem0p1",                             \
	.caps = ARCH_CAP_MULTIQUEUE | ARCH_CAP_FS_SHARING

/* Kata's architecture-independent kernel parameter lists (qemu_arch_base.go
 * kernelParamsDebug/NonDebug, kernelParamsSystemdDebug/NonDebug). */
extern const char *const arch_kparams_debug[];
extern const char *const arch_kparams_nodebug[];
extern const char *const arch_kparams_systemd_debug[];
extern const char *const arch_kparams_systemd_nodebug[];
/* Whether the config's accelerator is TCG ("tcg", "tcg,thread=..."). */
bool arch_accel_is_tcg(const char *accel);

extern const struct arch_ops arch_x86_64;
extern const struct arch_ops arch_aarch64;
extern const struct arch_ops arch_ppc64le;
extern const struct arch_ops arch_s390x;

/* Whether the machine takes the arch's vIOMMU (false without one). */
bool arch_iommu_supported(const struct arch_ops *a, const char *machine);
/* The arch's default machine options for a machine and accelerator. */
const char *arch_machine_options(const struct arch_ops *a, const char *machine,
				 const char *accel);

/* The machine family of a machine type: FAMILY for a versioned type of
 * the arch's machine_versions, else the type itself ("q35" stays). */
const char *arch_machine_family(const struct arch_ops *a, const char *machine);
/* Whether `machine` is a versioned type (PREFIX<major>.<minor>). */
bool arch_machine_versioned(const struct arch_ops *a, const char *machine);

/* Look an architecture up by name; NULL if unknown. */
const struct arch_ops *arch_lookup(const char *name);
/* The host's architecture name ("x86_64", "aarch64", ...). */
const char *arch_host(void);

#endif
