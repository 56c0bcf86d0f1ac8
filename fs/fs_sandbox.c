/*
 * fs_sandbox — the files of one sandbox directory: config, cmdline, ctl,
 * state, pid, error, cgroup, stats, console, events, qmp, definition,
 * migration, and the cpus/ memory/ devices/ bridges/ subdirectories.
 */
#include "fs/fs.h"

#include "vm/sandbox/configure.h"
#include "vm/sandbox/ctl.h"
#include "vm/sandbox/qmp_session.h"
#include "vm/sandbox/definition.h"
#include "vm/sandbox/migrate.h"
#include "vm/sandbox/sandbox.h"
#include "vm/sandbox/stats.h"

static const struct fs_node sandbox_nodes[] = {
	{ "config", FS_RW, .sb_show = vm_configure_show, .sb_store = vm_configure_store,
	  .flags = FS_JSON, .help = "JSON config; a write merges keys (see `cat config`)" },
	FS_ATTR_RO_SLOW(cmdline, vm_sandbox_cmdline, "# qemu VERSION BINARY, then the argv the config builds, one per line"),
	{ "definition", FS_RW, .sb_show = vm_definition_show, .sb_store = vm_definition_store,
	  .flags = FS_JSON,
	  .help = "the whole sandbox as one JSON object; a write replaces config and devices" },
	FS_ATTR_RW(ctl, vm_ctl, "write a verb; read: the verbs the state allows"),
	{ "state", FS_RO, .sb_show = vm_sandbox_state_show, .flags = FS_POLL_STATE,
	  .help = "the sandbox's state; poll() wakes when it changes" },
	FS_ATTR_RO(pid, vm_sandbox_pid, "QEMU's pid while it runs"),
	FS_ATTR_RO(error, vm_sandbox_error, "the last failure message"),
	FS_ATTR_RO(cgroup, vm_sandbox_cgroup, "the cgroup(s) QEMU runs in: key path lines"),
	FS_ATTR_RO_SLOW(stats, vm_stats, "CPU, memory, disk and NIC figures: key value lines"),
	FS_ATTR_RO(migration, vm_migrate, "the last save, restore or migration: key value lines"),
	{ "console", FS_RO, .flags = FS_STREAM, .help = "guest serial console (tail -f works)" },
	{ "events", FS_RW, .flags = FS_EVENTS,
	  .help = "numbered QMP events and state changes, one JSON line each; write N to resume" },
	{ "qmp", FS_RW_OWNER, .flags = FS_SESSION | FS_JSON, .sb_session = vm_qmp_session_execute,
	  .help = "raw QMP (root's): open read-write, write a command, read its reply" },
	FS_SUBDIR(cpus, fs_cpus_dir, "vCPUs"),
	FS_SUBDIR(memory, fs_memory_dir, "memory"),
	FS_SUBDIR(devices, fs_devices_dir, "devices"),
	FS_SUBDIR(bridges, fs_bridges_dir, "hotplug bridges and their slots"),
};

const struct fs_dir fs_sandbox_dir = {FS_DIR(sandbox_nodes)};
