/*
 * golden_qemu — what two real QEMUs answered over QMP, recorded with the
 * probe (vm/qemu/probe) and trimmed: Debian 12's qemu-system-x86_64 7.2.22
 * and bookworm-backports' 10.0.2 (make qemu-10).  query-machines keeps the
 * aliased types and a few others (7.2 lists 59, 10.0 65).  For the units
 * that need a QEMU's facts without running one: test_version (parsing,
 * checks, the vCPU rules) and test_cmdline (the golden argv for both).
 */
#ifndef SANDBOXFS_GOLDEN_QEMU_H
#define SANDBOXFS_GOLDEN_QEMU_H

#define GOLDEN_QEMU72_VERSION \
	"{\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}"
#define GOLDEN_QEMU10_VERSION \
	"{\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, \"package\": \"Debian 1:10.0.2+ds-2+deb13u1~bpo12+1\"}"
#define GOLDEN_QEMU_TARGET_X86 "{\"arch\": \"x86_64\"}"
#define GOLDEN_QEMU_TARGET_PPC "{\"arch\": \"ppc64\"}"

#define GOLDEN_QEMU72_MACHINES                                                                     \
	"[{\"hotpluggable-cpus\": false, \"name\": \"none\", \"numa-mem-supported\": false, "       \
	"\"cpu-max\": 1, \"deprecated\": false, \"default-ram-id\": \"ram\"}, "                   \
	"{\"hotpluggable-cpus\": true, \"name\": \"isapc\", \"numa-mem-supported\": false, "        \
	"\"default-cpu-type\": \"486-x86_64-cpu\", \"cpu-max\": 1, \"deprecated\": false, "       \
	"\"default-ram-id\": \"pc.ram\"}, "                                                        \
	"{\"hotpluggable-cpus\": true, \"name\": \"pc-q35-7.2\", \"numa-mem-supported\": false, "   \
	"\"default-cpu-type\": \"qemu64-x86_64-cpu\", \"cpu-max\": 288, \"deprecated\": false, "  \
	"\"default-ram-id\": \"pc.ram\", \"alias\": \"q35\"}, "                                    \
	"{\"hotpluggable-cpus\": false, \"name\": \"microvm\", \"numa-mem-supported\": false, "     \
	"\"default-cpu-type\": \"qemu64-x86_64-cpu\", \"cpu-max\": 288, \"deprecated\": false, "  \
	"\"default-ram-id\": \"microvm.ram\"}, "                                                   \
	"{\"hotpluggable-cpus\": true, \"name\": \"pc-i440fx-7.2\", \"numa-mem-supported\": false, "\
	"\"default-cpu-type\": \"qemu64-x86_64-cpu\", \"is-default\": true, \"cpu-max\": 255, "   \
	"\"deprecated\": false, \"default-ram-id\": \"pc.ram\", \"alias\": \"pc\"}]"

#define GOLDEN_QEMU10_MACHINES                                                                     \
	"[{\"hotpluggable-cpus\": false, \"name\": \"none\", \"numa-mem-supported\": false, "       \
	"\"acpi\": false, \"cpu-max\": 1, \"deprecated\": false, \"default-ram-id\": \"ram\"}, "  \
	"{\"hotpluggable-cpus\": true, \"name\": \"pc-q35-10.0\", \"numa-mem-supported\": false, "  \
	"\"default-cpu-type\": \"qemu64-x86_64-cpu\", \"acpi\": true, \"cpu-max\": 4096, "        \
	"\"deprecated\": false, \"default-ram-id\": \"pc.ram\", \"alias\": \"q35\"}, "             \
	"{\"hotpluggable-cpus\": true, \"name\": \"isapc\", \"numa-mem-supported\": false, "        \
	"\"default-cpu-type\": \"486-x86_64-cpu\", \"acpi\": true, \"cpu-max\": 1, "              \
	"\"deprecated\": false, \"default-ram-id\": \"pc.ram\"}, "                                 \
	"{\"hotpluggable-cpus\": true, \"name\": \"pc-i440fx-10.0\", \"numa-mem-supported\": false, "\
	"\"default-cpu-type\": \"qemu64-x86_64-cpu\", \"acpi\": true, \"is-default\": true, "     \
	"\"cpu-max\": 255, \"deprecated\": false, \"default-ram-id\": \"pc.ram\", \"alias\": \"pc\"}, " \
	"{\"hotpluggable-cpus\": false, \"name\": \"microvm\", \"numa-mem-supported\": false, "     \
	"\"default-cpu-type\": \"qemu64-x86_64-cpu\", \"acpi\": true, \"cpu-max\": 288, "         \
	"\"deprecated\": false, \"default-ram-id\": \"microvm.ram\"}]"

#endif
