/* fs_memory — the memory/ directory: target, max, slots, hotplugged, balloon. */
#include "fs/fs.h"

#include "vm/sandbox/balloon.h"
#include "vm/sandbox/memory.h"

static const struct fs_node memory_nodes[] = {
	FS_ATTR_RW(target, vm_memory_target, "wanted MiB (DIMM hotplug while running)"),
	FS_ATTR_RO(max, vm_memory_max, "the ceiling in MiB (maxmem_mib)"),
	FS_ATTR_RO(slots, vm_memory_slots, "DIMM slots: used total"),
	FS_ATTR_RO(hotplugged, vm_memory_hotplugged, "hot-added DIMMs: id MiB [removing]"),
	FS_ATTR_RW_SLOW(balloon, vm_balloon, "MiB the guest keeps through its balloon device"),
};

const struct fs_dir fs_memory_dir = {FS_DIR(memory_nodes)};
