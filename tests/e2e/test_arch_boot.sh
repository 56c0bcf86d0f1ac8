#!/usr/bin/env bash
# A real aarch64 guest under TCG, through echo and cat only: the Debian
# arm64 cloud kernel (downloaded and unpacked, never installed) with the
# project's busybox initramfs (build/guest-aarch64, `make guest-aarch64`,
# built here if missing) boots in an "arch":"aarch64" sandbox on this host;
# its console (PL011 ttyAMA0, fed by -serial) shows the GUEST lines; a
# 32 MiB virtio-blk disk hot-added through devices/add lands on a
# pcie-root-port and the guest sees vda; removing it makes vda go.  Then
# stop, rmdir, unmount, and no QEMU is left.
#
# The virt machine's PCIe hotplug is native (pciehp), whose unplug waits out
# the 5 s attention-button delay before the guest releases the device;
# aarch64's default remove_timeout_ms (15000) covers it.
set -u
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (mounting FUSE, running QEMU)"
[ -c /dev/fuse ] || skip "no /dev/fuse on this machine"
command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
[ -x /usr/bin/qemu-system-aarch64 ] || skip "qemu-system-aarch64 is not installed (apt-get install qemu-system-arm)"
[ -x "$BIN" ] || skip "sandboxfs not built"

AGUEST=$ROOT/build/guest-aarch64
# make is a no-op when the guest is up to date; it needs the network (or
# the .debs cached in $AGUEST/.work) only when it has something to build.
if ! make -s -C "$ROOT" guest-aarch64 >"/tmp/sandboxfs-guest-aarch64.$$.log" 2>&1; then
	if [ -r "$AGUEST/vmlinuz" ] && [ -r "$AGUEST/initramfs.cpio.gz" ]; then
		echo "# make guest-aarch64 failed; using the existing $AGUEST"
	else
		tail -n 5 "/tmp/sandboxfs-guest-aarch64.$$.log"
		rm -f "/tmp/sandboxfs-guest-aarch64.$$.log"
		skip "cannot build the aarch64 guest (arm64 packages not fetchable?)"
	fi
fi
rm -f "/tmp/sandboxfs-guest-aarch64.$$.log"

trap e2e_cleanup EXIT
e2e_mount
S=$MNT/arm
t0=$SECONDS

check "mkdir arm" mkdir "$S"
check "config: aarch64 with the aarch64 guest" bash -c "echo '{\"arch\":\"aarch64\",\"kernel\":\"$AGUEST/vmlinuz\",\"initrd\":\"$AGUEST/initramfs.cpio.gz\",\"memory_mib\":256}' > '$S/config'"
check "aarch64's default removal wait covers PCIe's 5 s button delay" grep -q '"remove_timeout_ms": 15000' "$S/config"
check "cmdline starts with qemu-system-aarch64" [ "$(head -n1 "$S/cmdline")" = /usr/bin/qemu-system-aarch64 ]
check "cmdline runs TCG" grep -qx 'tcg,thread=multi' "$S/cmdline"
check "the kernel's console is the PL011 the serial feeds" bash -c "grep -qx chardev:console '$S/cmdline' && grep -q '^console=ttyAMA0 ' '$S/cmdline'"

check "start" bash -c "echo start > '$S/ctl'"
check "state is running" [ "$(cat "$S/state")" = running ]
check "pid is a live qemu-system-aarch64" grep -q qemu-system-aarch64 "/proc/$(cat "$S/pid")/cmdline"
tb=$SECONDS
check "aarch64 guest boots (GUEST line on the console)" wait_for 120 guest_says arm 'ncpus=1 blk=- '
boot=$((SECONDS - tb))
check "guest loaded its modules" bash -c "grep -aq '^GUEST boot ok' '$S/console' && ! grep -aq 'modprobe-failed' '$S/console'"

truncate -s 32M "$T/d1.img"
th=$SECONDS
check "hot-add a 32 MiB virtio-blk disk" bash -c "echo '{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\",\"format\":\"raw\"}' > '$S/devices/add'"
check "guest sees vda" wait_for 60 guest_says arm 'blk=vda '
add=$((SECONDS - th))
check "the disk sits on rp0" bash -c "[ \"\$(cat '$S/devices/d1/bus')\" = rp0 ] && grep -qx 'slot 0 d1' '$S/bridges/rp0'"
th=$SECONDS
check "remove d1" bash -c "echo d1 > '$S/devices/remove'"
check "guest lost vda" wait_for 30 guest_says arm 'blk=- '
del=$((SECONDS - th))
check "device dir gone" [ ! -e "$S/devices/d1" ]
check "slot is free again" grep -qx "slot 0 -" "$S/bridges/rp0"

pid=$(cat "$S/pid")
check "stop" bash -c "echo stop > '$S/ctl'"
check "state stopped" [ "$(cat "$S/state")" = stopped ]
check "qemu is gone" [ ! -e "/proc/$pid" ]
check "rmdir" rmdir "$S"
check "sandbox gone" [ ! -e "$S" ]

fusermount3 -u "$MNT"
wait "$DAEMON"; DAEMON=
if pgrep -f "^/usr/bin/qemu-system.*$STATE" >/dev/null; then fail "no qemu left behind"; else ok "no qemu left behind"; fi
echo "arch_boot: boot ${boot}s, hot-add ${add}s, remove ${del}s, total $((SECONDS - t0))s; $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
