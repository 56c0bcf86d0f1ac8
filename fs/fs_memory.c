/* fs_memory — the memory/ directory: target, max, slots, hotplugged. */
#include "fs/fs.h"

#include "vm/sandbox/memory.h"

static const struct fs_node memory_nodes[] = {
	FS_ATTR_RW(target, vm_memory_target, "wanted MiB (DIMM hotplug while running)"),
	FS_ATTR_RO(max, vm_memory_max, "the ceiling in MiB (maxmem_mib)"),
	FS_ATTR_RO(slots, vm_memory_slots, "DIMM slots: used total"),
	FS_ATTR_RO(hotplugged, vm_memory_hotplugged, "hot-added DIMMs: id MiB [removing]"),
};

const struct fs_dir fs_memory_dir = {FS_DIR(memory_nodes)};
