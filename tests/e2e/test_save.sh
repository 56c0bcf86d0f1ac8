#!/usr/bin/env bash
# Save and restore on the real guest: `save DIR` of a running sandbox with
# a hot-added vCPU and disk → state saved, QEMU gone → `restore DIR` into a
# new sandbox → the guest continues (the same boot id, a larger uptime,
# its two CPUs and its disk), then into the saved one itself, and with
# QEMU 10 from a save of QEMU 7.2 (the versioned machine type).  Bad input
# and a full disk fail with their errno and leave the guest running.
# test-timeout: 600
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
trap 'mountpoint -q "$T/full" && umount -l "$T/full"; e2e_cleanup' EXIT
e2e_mount
A=$MNT/a B=$MNT/b Q10=$ROOT/build/qemu-10/bin/qemu-system-x86_64

# field NAME KEY: the value of KEY=... in the guest's last status line.
field() { guest_line "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
# up_gt NAME N: the guest of NAME says an uptime above N seconds.
up_gt() { local u; u=$(field "$1" up); [ -n "$u" ] && [ "$u" -gt "$2" ]; }

mkdir "$A"
echo '{"memory_mib":256,"maxvcpus":4}' > "$A/config"
echo start > "$A/ctl"
check "a boots" wait_for 90 guest_says a 'ncpus=1 '
truncate -s 32M "$T/d1.img"
echo 2 > "$A/cpus/target"
echo "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\"}" > "$A/devices/add"
check "a sees the hot-added vCPU and disk" wait_for 30 guest_says a 'ncpus=2 blk=vda '
boot=$(field a boot)
check "the guest has a boot id ($boot)" [ -n "$boot" ]

# Bad input: the errno, a message, and the sandbox runs on.
check "save of a relative DIR is EINVAL" write_expect "$A/ctl" "save rel/dir" "Invalid argument"
check "save without DIR is EINVAL" write_expect "$A/ctl" "save" "Invalid argument"
check "save DIR junk is EINVAL" write_expect "$A/ctl" "save $T/x junk" "Invalid argument"
mkdir "$T/exists"
check "save into an existing DIR is EEXIST" write_expect "$A/ctl" "save $T/exists" "File exists"
check "... error says so" grep -q "exists" "$A/error"
check "restore while running is EBUSY" write_expect "$A/ctl" "restore $T/exists" "Device or resource busy"
check "save DIR template of a sandbox without mem_shared is EINVAL" \
	write_expect "$A/ctl" "save $T/tpl template" "Invalid argument"
check "... nothing was made" gone "$T/tpl"
check "a still runs" reads_as "$A/state" running

# A disk too small: ENOSPC, nothing left behind, the guest goes on.
mkdir "$T/full"
mount -t tmpfs -o size=8m tmpfs "$T/full"
check "save onto a full filesystem is ENOSPC" write_expect "$A/ctl" "save $T/full/s" "No space left on device"
check "... error says the disk is full" grep -q "full" "$A/error"
check "... the partial save is removed" bash -c "[ -z \"\$(ls -A '$T/full')\" ]"
check "... a still runs" reads_as "$A/state" running
up=$(field a up)
check "... and its guest goes on" wait_for 10 up_gt a "$up"
umount "$T/full"

# The save.
pid=$(cat "$A/pid")
up=$(field a up)
check "save DIR succeeds" bash -c "echo 'save $T/sv' > '$A/ctl'"
check "state is saved" reads_as "$A/state" saved
check "pid is empty" reads_as "$A/pid" ""
check "QEMU is gone" wait_for 5 bash -c "! [ -d /proc/$pid ]"
check "migration says the save completed" bash -c "grep -qx 'status completed' '$A/migration' && grep -qx 'role save' '$A/migration'"
check "the save holds state, definition, manifest" bash -c "[ -s '$T/sv/state' ] && [ -s '$T/sv/definition' ] && [ -s '$T/sv/manifest' ]"
check "the saved definition has the versioned machine" grep -q '"machine": "pc-q35-7.2"' "$T/sv/definition"
check "... and the hot-added vCPU" grep -q '"cpu-1-0-0"' "$T/sv/definition"
check "ctl offers start and restore when saved" bash -c "grep -q restore '$A/ctl' && grep -q start '$A/ctl'"

# Restore: bad input first.
mkdir "$B"
check "restore of a relative DIR is EINVAL" write_expect "$B/ctl" "restore sv" "Invalid argument"
check "restore of a missing DIR is ENOENT" write_expect "$B/ctl" "restore $T/nothing" "No such file or directory"
check "restore of a directory that is no save is EINVAL" write_expect "$B/ctl" "restore $T/exists" "Invalid argument"
check "... error says it is no save" grep -q "not a save" "$B/error"
mkdir "$MNT/arm"
echo '{"arch":"aarch64"}' > "$MNT/arm/config"
check "restore of an x86_64 save into an aarch64 sandbox is EINVAL" write_expect "$MNT/arm/ctl" "restore $T/sv" "Invalid argument"
check "... error names the architectures" grep -q "architecture x86_64" "$MNT/arm/error"
check "... and it is still created" reads_as "$MNT/arm/state" created
cp -a "$T/sv" "$T/sv-moved"
sed -i "s|$T/d1.img|$T/gone.img|" "$T/sv-moved/definition"
check "restore whose disk is missing is ENOENT" write_expect "$B/ctl" "restore $T/sv-moved" "No such file or directory"
check "... error names the path" grep -q "gone.img" "$B/error"
check "... nothing started" bash -c "[ \"\$(cat '$B/state')\" = created ] && [ -z \"\$(cat '$B/pid')\" ]"
check "... and b's definition is its own still" reads_as_ls "$B/devices" "add remove"

# Restore into a new sandbox.
check "restore DIR into a new sandbox succeeds" bash -c "echo 'restore $T/sv' > '$B/ctl'"
check "b runs" reads_as "$B/state" running
check "b lists the hot-added vCPU" reads_as "$B/cpus/hotplugged" "cpu-1-0-0 1 0 0"
check "b has the disk d1 on a's slot" reads_as "$B/devices/d1/bus" rp0
check "b's guest is a's: the same boot id, later uptime, 2 CPUs, vda" \
	wait_for 20 guest_says b "ncpus=2 blk=vda .* boot=$boot "
check "... its uptime goes on past $up s" wait_for 10 up_gt b "$up"
check "b has a uuid of its own" bash -c "[ \"\$(grep uuid '$A/config')\" != \"\$(grep uuid '$B/config')\" ]"
check "hotplug works after the restore" bash -c "echo 3 > '$B/cpus/target'"
check "b's guest sees 3 CPUs" wait_for 30 guest_says b 'ncpus=3 '
echo stop > "$B/ctl"

# Restore into the saved sandbox itself.
check "restore DIR into the saved sandbox succeeds" bash -c "echo 'restore $T/sv' > '$A/ctl'"
CONSOLE_FROM=$(stat -c %s "$A/console")
check "a runs its guest again, the same boot id" wait_for 20 guest_says a "ncpus=2 blk=vda .* boot=$boot "
echo stop > "$A/ctl"
CONSOLE_FROM=0

# Save of QEMU 7.2, restore with QEMU 10: the versioned machine runs.
if [ -x "$Q10" ]; then
	mkdir "$MNT/q10"
	echo "{\"qemu\":\"$Q10\"}" > "$MNT/q10/config"
	check "restore of the 7.2 save with QEMU 10 succeeds" bash -c "echo 'restore $T/sv' > '$MNT/q10/ctl'"
	check "... QEMU 10 runs it" bash -c "tr '\0' ' ' < /proc/\$(cat '$MNT/q10/pid')/cmdline | grep -q qemu-10"
	check "... machine pc-q35-7.2" grep -q '"machine": "pc-q35-7.2"' "$MNT/q10/definition"
	check "... and the guest goes on: the same boot id" wait_for 20 guest_says q10 "ncpus=2 blk=vda .* boot=$boot "
	echo stop > "$MNT/q10/ctl"
else
	skip_case qemu-10 "QEMU 10 is not unpacked (make qemu-10): the 7.2 → 10 restore was not tried"
fi

# A cold start after a restore is a new boot.
echo start > "$B/ctl"
check "a cold start boots anew" wait_for 90 guest_says b 'ncpus=1 '
check "... with a new boot id" [ "$(field b boot)" != "$boot" ]
echo stop > "$B/ctl"
exit $FAILS
