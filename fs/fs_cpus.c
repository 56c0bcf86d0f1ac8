/* fs_cpus — the cpus/ directory: target, online, max, hotplugged. */
#include "fs/fs.h"

#include "vm/sandbox/cpus.h"

static const struct fs_node cpus_nodes[] = {
	FS_ATTR_RW(target, vm_cpus_target, "wanted vCPUs (hotplug while running)"),
	FS_ATTR_RO(online, vm_cpus_online, "vCPUs QEMU has online"),
	FS_ATTR_RO(max, vm_cpus_max, "the ceiling (maxvcpus)"),
	FS_ATTR_RO(hotplugged, vm_cpus_hotplugged, "hot-added vCPUs: id socket core thread"),
};

const struct fs_dir fs_cpus_dir = {FS_DIR(cpus_nodes)};
