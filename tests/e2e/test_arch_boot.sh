#!/usr/bin/env bash
# A real guest of another architecture under TCG, through echo and cat
# only: the Debian kernel of that architecture (downloaded and unpacked,
# never installed) with the project's busybox initramfs
# (build/guest-ARCH, `make guest-ARCH`, built here when out of date) boots
# in an "arch":ARCH sandbox on this host; its console (what -serial feeds)
# shows the GUEST lines; a 32 MiB virtio-blk disk hot-added through
# devices/add lands on the first hotplug slot and the guest sees vda;
# removing it makes vda go; where the machine hot-plugs vCPUs, `echo 2 >
# cpus/target` gives the guest a second online CPU.  Then stop, rmdir,
# unmount, and no QEMU is left.
#
#   bash tests/e2e/test_arch_boot.sh [aarch64|ppc64le|s390x]   (default aarch64;
#   test_arch_boot_ppc64le.sh and test_arch_boot_s390x.sh run the others)
#
# Per architecture:
#   aarch64  virt, PL011 ttyAMA0; disk on pcie-root-port rp0.  PCIe hotplug
#            is native (pciehp), whose unplug waits out the 5 s
#            attention-button delay; aarch64's default remove_timeout_ms
#            (15000) covers it.  No vCPU hotplug on virt in QEMU 7.2.
#   ppc64le  pseries, spapr-vty hvc0; disk behind pci-bridge pb0, which
#            QEMU's spapr DRC hotplug handles (an RTAS event the guest's
#            init hands to drmgr, see scripts/guest-init); vCPU hotplug is
#            in-kernel DLPAR.
#   s390x    s390-ccw-virtio, SCLP ttysclp0; disk on the CCW set (css fe),
#            found by the kernel's channel subsystem; vCPU hotplug through
#            SCLP, the new CPU onlined by init.
#
# Skips (exit 77) only for what the machine lacks: root, /dev/fuse, the
# QEMU binary, or the guest's packages in the archive (build-guest.sh's
# "unavailable", exit 3: no such package for that architecture, the
# architecture cannot be added, the archive unreachable with nothing
# cached).  Any other failure to build the guest is a FAIL.  With CI=true no
# skip is allowed: it exits 1 with the reason instead.
set -u
. "$(dirname "$0")/lib.sh"
# lib.sh's skip names the capability; under CI=true the runner fails any
# skip whose capability is not in tests/skip-allowed (none of these are).

ARCH=${1:-aarch64}
RMFIX=      # "yes": a default removal wait below RMWAIT is raised (and said)
case $ARCH in
aarch64)
	QBIN=$QEMU_DIR/qemu-system-aarch64 QPKG=qemu-system-arm NAME=arm
	CONSOLE=ttyAMA0 MEM=256 BRIDGE=rp0 INSLOT='slot 0 d1' FREESLOT='slot 0 -'
	ACCEL= RMWAIT=15000 CPUPLUG= ;;
ppc64le)
	QBIN=$QEMU_DIR/qemu-system-ppc64 QPKG=qemu-system-ppc NAME=ppc
	CONSOLE=hvc0 MEM=512 BRIDGE=pb0 INSLOT='slot 0 d1' FREESLOT='slot 0 -'
	ACCEL=tcg RMWAIT=30000 CPUPLUG=yes RMFIX=yes ;;
s390x)
	QBIN=$QEMU_DIR/qemu-system-s390x QPKG=qemu-system-misc NAME=s390
	CONSOLE=ttysclp0 MEM=512 BRIDGE=ccw INSLOT='devno fe.0.0000 d1' FREESLOT='free 256'
	ACCEL=tcg RMWAIT=5000 CPUPLUG=yes ;;
*)
	echo "usage: $0 [aarch64|ppc64le|s390x]"; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || skip root "needs root (mounting FUSE, running QEMU)"
[ -c /dev/fuse ] || skip /dev/fuse "no /dev/fuse on this machine"
command -v fusermount3 >/dev/null || skip fusermount3 "fusermount3 is not installed"
[ -x "$QBIN" ] || skip "$(basename "$QBIN")" "$(basename "$QBIN") is not installed (apt-get install $QPKG)"
[ -x "$BIN" ] || { echo "FAIL - sandboxfs not built ($BIN; make)"; exit 1; }

AG=$ROOT/build/guest-$ARCH
# make is a no-op when the guest is up to date; it needs the network (or
# the .debs cached in $AG/.work) only when it has something to build.
blog=$(mktemp /tmp/sandboxfs-guest-$ARCH.XXXXXX)
tm=$SECONDS
if ! make -s -C "$ROOT" "guest-$ARCH" >"$blog" 2>&1; then
	why=$(grep -m1 '^guest: unavailable: ' "$blog")
	if [ -n "$why" ]; then
		rm -f "$blog"
		skip "guest-$ARCH" "cannot build the $ARCH guest here: ${why#guest: unavailable: }"
	fi
	tail -n 20 "$blog"
	rm -f "$blog"
	echo "FAIL - make guest-$ARCH failed (not for want of a package: see above)"
	exit 1
fi
rm -f "$blog"
build=$((SECONDS - tm))

trap e2e_cleanup EXIT
e2e_mount
S=$MNT/$NAME
t0=$SECONDS

check "mkdir $NAME" mkdir "$S"
check "config: $ARCH with the $ARCH guest" bash -c "echo '{\"arch\":\"$ARCH\",\"kernel\":\"$AG/vmlinuz\",\"initrd\":\"$AG/initramfs.cpio.gz\"${ACCEL:+,\"accel\":\"$ACCEL\"},\"memory_mib\":$MEM}' > '$S/config'"
rmdef=$(sed -n 's/^ *"remove_timeout_ms": \([0-9]*\),*$/\1/p' "$S/config")
if [ -n "$RMFIX" ] && [ "${rmdef:-0}" -lt "$RMWAIT" ]; then
	# ppc64le: the guest's drmgr takes 2.5-12 s under TCG to release a PCI
	# device once the RTAS event reaches it (25 s with a busy guest); an
	# arch default below RMWAIT would leave it too little room.
	echo "# $ARCH's default removal wait ${rmdef:-?} ms is too short for drmgr; configuring $RMWAIT"
	check "removal wait raised to $RMWAIT ms" bash -c "echo '{\"remove_timeout_ms\":$RMWAIT}' > '$S/config'"
fi
check "$ARCH's removal wait is $RMWAIT ms" grep -q "\"remove_timeout_ms\": $RMWAIT" "$S/config"
check "cmdline names $(basename "$QBIN") and its version" [ "$(head -n1 "$S/cmdline")" = "# qemu $(qemu_version "$QBIN") $QBIN" ]
check "cmdline runs $(basename "$QBIN")" [ "$(sed -n 2p "$S/cmdline")" = "$QBIN" ]
check "cmdline runs TCG" grep -qE '^tcg(,|$)' "$S/cmdline"
check "the kernel's console is the $CONSOLE the serial feeds" bash -c "grep -qx chardev:console '$S/cmdline' && grep -qE '(^| )console=$CONSOLE( |\$)' '$S/cmdline'"

check "start" bash -c "echo start > '$S/ctl'"
check "state is running" [ "$(cat "$S/state")" = running ]
check "pid is a live $(basename "$QBIN")" grep -q "$(basename "$QBIN")" "/proc/$(cat "$S/pid")/cmdline"
tb=$SECONDS
check "$ARCH guest boots (GUEST line on the console)" wait_for 120 guest_says "$NAME" 'ncpus=1 blk=- '
boot=$((SECONDS - tb))
check "guest loaded its modules" bash -c "grep -aq '^GUEST boot ok' '$S/console' && ! grep -aq 'modprobe-failed' '$S/console'"
check "status line ends in up= boot= fs= sizes= avail=" guest_says "$NAME" ' mem=[0-9]+ up=[0-9]+ boot=[0-9a-f]{8} fs=- sizes=- avail=[0-9]+$'
echo "# $NAME said: $(guest_line "$NAME")"

truncate -s 32M "$T/d1.img"
th=$SECONDS
check "hot-add a 32 MiB virtio-blk disk" bash -c "echo '{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\",\"format\":\"raw\"}' > '$S/devices/add'"
check "guest sees vda" wait_for 60 guest_says "$NAME" 'blk=vda '
add=$((SECONDS - th))
check "the disk sits on $BRIDGE" bash -c "[ \"\$(cat '$S/devices/d1/bus')\" = $BRIDGE ] && grep -qx '$INSLOT' '$S/bridges/$BRIDGE'"
th=$(date +%s%N)
check "remove d1" bash -c "echo d1 > '$S/devices/remove'"
rmw=$((($(date +%s%N) - th) / 1000000))
check "guest lost vda" wait_for 30 guest_says "$NAME" 'blk=- '
del=$((($(date +%s%N) - th) / 1000000000))
check "device dir gone" [ ! -e "$S/devices/d1" ]
check "slot is free again" grep -qx "$FREESLOT" "$S/bridges/$BRIDGE"
check "no hotplug helper failed in the guest" bash -c "! grep -aq '^GUEST drmgr-failed' '$S/console'"

cpu=-
if [ -n "$CPUPLUG" ]; then
	tc=$SECONDS
	check "hot-add a vCPU (cpus/target 2)" bash -c "echo 2 > '$S/cpus/target'"
	check "QEMU has 2 vCPUs" [ "$(cat "$S/cpus/online")" = 2 ]
	check "one vCPU in cpus/hotplugged" [ "$(wc -l < "$S/cpus/hotplugged")" = 1 ]
	check "guest onlines the second CPU" wait_for 60 guest_says "$NAME" 'cpus=0-1 ncpus=2 '
	cpu=$((SECONDS - tc))s
fi
check "boot id unchanged through the hotplugs" bash -c "[ \$(tr -d '\r' < '$S/console' | grep -a '^GUEST cpus=' | grep -o ' boot=[0-9a-f]*' | sort -u | wc -l) = 1 ]"

pid=$(cat "$S/pid")
check "stop" bash -c "echo stop > '$S/ctl'"
check "state stopped" [ "$(cat "$S/state")" = stopped ]
check "qemu is gone" [ ! -e "/proc/$pid" ]
check "rmdir" rmdir "$S"
check "sandbox gone" [ ! -e "$S" ]

fusermount3 -u "$MNT"
wait "$DAEMON"; DAEMON=
if pgrep -f "qemu-system.*$STATE" >/dev/null; then fail "no qemu left behind"; else ok "no qemu left behind"; fi
echo "arch_boot $ARCH: build ${build}s, boot ${boot}s, hot-add ${add}s, remove ${del}s (the write ${rmw} ms), vCPU add $cpu, total $((SECONDS - t0))s; $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
