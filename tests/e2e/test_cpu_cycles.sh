#!/usr/bin/env bash
# vCPU unplug and re-plug, cycle after cycle, with a disk hot-added and
# removed in each cycle — what docs/abi.md "Known issues" is about —
# against the QEMU under test (lib.sh: TEST_QEMU_DIR, else /usr/bin), under
# multi-threaded TCG, the guest's console the proof:
#
#   QEMU >= 10.0  CPU_CYCLES cycles (default 3) of: plug a vCPU, the guest
#                 has 2; add a disk, it has vda; unplug the vCPU, it has 1;
#                 remove the disk, it has none — QEMU running throughout.
#                 maxvcpus is CPU_CYCLES + 1, so after the cycles this QEMU
#                 has started maxvcpus vCPUs: the next plug would abort it
#                 (an unplugged vCPU's TCG context is not given back) and is
#                 refused with ENOSPC, QEMU still running; after a stop and
#                 start a plug works again.
#   QEMU < 10.0   the first unplug is refused (EOPNOTSUPP: 7.2 corrupts its
#                 heap there and crashes at the next hotplug); a disk added
#                 and removed afterwards works and QEMU keeps running.
#   both          under single-threaded TCG (accel tcg,thread=single) the
#                 unplug is refused (EOPNOTSUPP: QEMU aborts there).
#
# CPU_CYCLES=N for a longer run.
# test-timeout: 900
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
trap e2e_cleanup EXIT
e2e_mount
N=${CPU_CYCLES:-3}
S=$MNT/c
QV=$(qemu_version "$QEMU_X86")
echo "QEMU $QV ($QEMU_X86), $N cycles"

check "mkdir, maxvcpus $((N + 1))" bash -c "mkdir '$S' && echo '{\"maxvcpus\":$((N + 1)),\"accel\":\"tcg,thread=multi\"}' > '$S/config'"
check "start" bash -c "echo start > '$S/ctl'"
check "guest boots" wait_for 90 guest_says c 'ncpus=1 '
truncate -s 16M "$T/d.img"
DISK="{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d.img\",\"format\":\"raw\"}"

# disk_cycle LABEL: add d1, the guest sees it, remove it, the guest loses it.
disk_cycle() {
	check "$1: add a disk" bash -c "echo '$DISK' > '$S/devices/add'"
	check "$1: the guest has vda" wait_for 30 guest_says c 'blk=vda '
	check "$1: remove it" bash -c "echo d1 > '$S/devices/remove'"
	check "$1: the guest lost it" wait_for 30 guest_says c 'blk=- '
}

if qemu_at_least 10 "$QEMU_X86"; then
	t0=$SECONDS
	for i in $(seq "$N"); do
		check "cycle $i: plug a vCPU" bash -c "echo 2 > '$S/cpus/target'"
		check "cycle $i: the guest has 2 CPUs" wait_for 30 guest_says c 'ncpus=2 '
		disk_cycle "cycle $i"
		check "cycle $i: unplug it" bash -c "echo 1 > '$S/cpus/target'"
		check "cycle $i: the guest has 1 CPU" wait_for 30 guest_says c 'ncpus=1 '
		check "cycle $i: QEMU still running" reads_as "$S/state" running
		[ "$FAILS" -eq 0 ] || break
	done
	echo "QEMU $QV survived $i unplug/re-plug cycles in $((SECONDS - t0)) s"
	pid=$(cat "$S/pid")
	check "started $((N + 1)) = maxvcpus vCPUs: the next plug is ENOSPC" write_expect "$S/cpus/target" 2 "No space left on device"
	check "error says why" grep -q "QEMU $QV under TCG starts at most maxcpus ($((N + 1))) vCPUs" "$S/error"
	check "the same QEMU still runs" bash -c "[ '$(cat "$S/state")' = running ] && [ '$(cat "$S/pid")' = '$pid' ]"
	disk_cycle "after the refusal"
	check "stop" bash -c "echo stop > '$S/ctl'"
	CONSOLE_FROM=$(stat -c %s "$S/console")
	check "start again" bash -c "echo start > '$S/ctl'"
	check "guest boots again" wait_for 90 guest_says c 'ncpus=1 '
	check "a new QEMU plugs again" bash -c "echo 2 > '$S/cpus/target'"
	check "the guest has 2 CPUs" wait_for 30 guest_says c 'ncpus=2 '
else
	check "plug a vCPU" bash -c "echo 2 > '$S/cpus/target'"
	check "the guest has 2 CPUs" wait_for 30 guest_says c 'ncpus=2 '
	check "QEMU $QV: unplug is EOPNOTSUPP" write_expect "$S/cpus/target" 1 "Operation not supported"
	check "error says why" grep -q "QEMU $QV under TCG corrupts its heap" "$S/error"
	disk_cycle "after the refusal"
	check "QEMU still running, 2 CPUs" bash -c "[ '$(cat "$S/state")' = running ] && [ \"\$(cat '$S/cpus/online')\" = 2 ]"
fi
check "stop" bash -c "echo stop > '$S/ctl'"

# Single-threaded TCG: no unplug with either QEMU.
check "accel tcg,thread=single" bash -c "echo '{\"accel\":\"tcg,thread=single\"}' > '$S/config'"
CONSOLE_FROM=$(stat -c %s "$S/console")
check "start" bash -c "echo start > '$S/ctl'"
check "guest boots" wait_for 90 guest_says c 'ncpus=1 '
check "plug a vCPU" bash -c "echo 2 > '$S/cpus/target'"
check "the guest has 2 CPUs" wait_for 30 guest_says c 'ncpus=2 '
check "single-threaded TCG: unplug is EOPNOTSUPP" write_expect "$S/cpus/target" 1 "Operation not supported"
check "error says why" grep -q "single-threaded TCG" "$S/error"
check "QEMU still running" reads_as "$S/state" running
check "stop" bash -c "echo stop > '$S/ctl'"
check "rmdir" rmdir "$S"
echo "cpu-cycles: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
