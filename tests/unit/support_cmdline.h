/*
 * support_cmdline — a sandbox held as the daemon holds it (config,
 * topology, devices), for the programs that check the QEMU argv
 * vm_cmdline_build makes of it: test_cmdline, test_cmdline_forms,
 * test_cmdline_knobs (x86_64, the uuid set, the topology from the root
 * ports or the whole config) and test_arch, test_arch_rules, test_arch_ops
 * (any architecture, a config that may be refused, the context of a
 * sandbox named "web").  Also the argv assertion and dump they share, the
 * golden argv's context and the nvdimm image of the knobs golden.
 */
#ifndef SANDBOXFS_SUPPORT_CMDLINE_H
#define SANDBOXFS_SUPPORT_CMDLINE_H

#include <stddef.h>

#include "lib/util.h"
#include "tests/unit/golden_knobs.h"
#include "vm/model/config.h"
#include "vm/model/topology.h"
#include "vm/qemu/cmdline.h"

struct vm_device;

/* The daemon's built-in guest, set as the defaults by scmd_defaults. */
#define SCMD_KERNEL "/opt/sandboxfs/guest/vmlinuz"
#define SCMD_INITRD "/opt/sandboxfs/guest/initramfs.cpio.gz"
#define SCMD_QEMU "/usr/bin/qemu-system-x86_64"
#define SCMD_UUID KNOBS_UUID
/* The disk of test_cmdline's golden argv: its path holds a comma. */
#define SCMD_DISK "/tmp/a,b.img"
/* What x86_64 adds to every kernel command line, after console=ttyS0. */
#define SCMD_X86_PARAMS                                                                     \
	"tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 " \
	"i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests "               \
	"net.ifnames=0 panic=1"

/* A sandbox: config, topology and devices, as the daemon holds them. */
struct scmd_sb {
	struct vm_config cfg;
	struct vm_topology topo;
	struct vm_device *devs[16];
	size_t n;
};

/* The context of test_cmdline's golden argv: name "web,1", its console log
 * under /run/sandboxfs (a valid context for any sandbox). */
extern const struct vm_cmdline_ctx scmd_golden_ctx;

/* vm_config_set_defaults with guest kernel SCMD_KERNEL, initrd
 * SCMD_INITRD and no accel. */
void scmd_defaults(void);
/* scmd_defaults, a config with uuid SCMD_UUID and then `extra_json` (NULL:
 * none) merged (both asserted), the topology of its root ports only. */
void scmd_init(struct scmd_sb *s, const char *extra_json);
/* scmd_init, the topology then built from the whole config (bridges too,
 * not only root ports), as the daemon builds it. */
void scmd_init_config(struct scmd_sb *s, const char *extra_json);
/* scmd_defaults, a config from `json` merged over the defaults and the
 * topology of the whole config; the merge's result, its message in
 * msg[0..len) when it failed and msg is non-NULL. */
int scmd_init_json(struct scmd_sb *s, const char *json, char *msg, size_t len);
/* Parse a device and, if it has a PCI function, place it in the first
 * free slot — as the daemon does (vm/sandbox/devices.c admit); an nvdimm
 * image or the vIOMMU takes no bridge slot.  Both asserted (fatal). */
struct vm_device *scmd_add(struct scmd_sb *s, const char *spec);
void scmd_release(struct scmd_sb *s);
/* vm_cmdline_build for a sandbox named "web" with its console log at
 * /run/sandboxfs/web/console.log; its result, the message as
 * scmd_init_json. */
int scmd_build_web(struct scmd_sb *s, struct strv *argv, char *msg, size_t len);

/* The argv is exactly want[0..n) and NULL-terminated. */
void scmd_assert_argv(const struct strv *got, const char *const *want, size_t n);
/* The argv on stderr, one C string literal a line (to paste as a golden). */
void scmd_dump_argv(const struct strv *v);
/* KNOBS_NV_IMG made, 64 MiB sparse (asserted); the caller unlinks it. */
void scmd_make_nv_img(void);

#endif
