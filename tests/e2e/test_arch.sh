#!/usr/bin/env bash
# Foreign architectures through the file interface, no guest boot: a
# sandbox whose config says "arch":"aarch64" shows the aarch64 command line
# on this host (cat cmdline); ppc64le and s390x likewise, s390x with its CCW
# subchannel set under bridges/ and devno addresses; the per-architecture
# rules come back from write() as EINVAL with the rule in `error`.
set -u
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip root "needs root (mounting FUSE)"
[ -c /dev/fuse ] || skip /dev/fuse "no /dev/fuse on this machine"
command -v fusermount3 >/dev/null || skip fusermount3 "fusermount3 is not installed (scripts/deps.sh)"
[ -x "$BIN" ] || skip sandboxfs-binary "sandboxfs not built (make all)"
trap e2e_cleanup EXIT
e2e_mount

has_line() { grep -qxF -- "$2" "$1"; }
# argv0 SANDBOX: the binary its cmdline runs (line 2: line 1 is "# qemu
# VERSION BINARY"); header_names SANDBOX BINARY: line 1 names it with the
# version it answers to.
argv0() { sed -n 2p "$1/cmdline"; }
header_names() { [ "$(head -n1 "$1/cmdline")" = "# qemu $(qemu_version "$2") $2" ]; }
has_text() { grep -qF -- "$2" "$1"; }
# lacks_text FILE TEXT: FILE reads, and TEXT is not in it (a failed read
# is not an absence).
lacks_text() { local c; c=$(cat "$1") || return 1; ! grep -qF -- "$2" <<<"$c"; }

# aarch64
A=$MNT/arm
check "mkdir arm" mkdir "$A"
check "config arch aarch64" bash -c "echo '{\"arch\":\"aarch64\"}' > '$A/config'"
check "config follows: machine virt" grep -q '"machine": "virt"' "$A/config"
check "config follows: qemu-system-aarch64" grep -qF "\"qemu\": \"$QEMU_DIR/qemu-system-aarch64\"" "$A/config"
check "cmdline's first line: its version and binary" header_names "$A" "$QEMU_DIR/qemu-system-aarch64"
check "cmdline starts with qemu-system-aarch64" [ "$(argv0 "$A")" = "$QEMU_DIR/qemu-system-aarch64" ]
check "cmdline machine virt, gic-version=3 under TCG" has_line "$A/cmdline" "virt,usb=off,gic-version=3"
check "cmdline -cpu max" bash -c "grep -A1 -x -- -cpu '$A/cmdline' | grep -qx max"
check "cmdline kernel params as Kata's arm64" has_text "$A/cmdline" "console=ttyAMA0 console=hvc0 console=hvc1 iommu.passthrough=0"
check "no x86 -global on aarch64" lacks_text "$A/cmdline" kvm-pit
check "cmdline root ports on pcie.0" has_line "$A/cmdline" "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2"
check "bridges/rp0 is a pcie-root-port" has_line "$A/bridges/rp0" "type pcie-root-port"
check "kvm on a foreign arch is EINVAL" write_expect "$A/config" '{"accel":"kvm"}' "Invalid argument"
check "error names the kvm rule" grep -q "kvm runs guests of the host's architecture" "$A/error"
check "9 vCPUs on GICv2 is EINVAL" write_expect "$A/config" '{"machine_options":"usb=off,gic-version=2","maxvcpus":9}' "Invalid argument"
check "error names the GICv2 rule" grep -q "GICv2 supports at most 8 vCPUs" "$A/error"
check "one pflash image is EINVAL" write_expect "$A/config" '{"pflash":["/fw/code.fd"]}' "Invalid argument"
check "error names the pflash rule" grep -q "two pflash images needed for aarch64" "$A/error"
check "unknown machine type is EINVAL" write_expect "$A/config" '{"machine":"q35"}' "Invalid argument"
check "error says unknown machine type" grep -q "unknown machine type: q35" "$A/error"
check "a vIOMMU on aarch64 is EINVAL" write_expect "$A/devices/add" '{"type":"iommu","id":"vi"}' "Invalid argument"
check "error names the vIOMMU rule" grep -q "aarch64 does not support a vIOMMU" "$A/error"
check "cmdline still aarch64 after the bad writes" [ "$(argv0 "$A")" = "$QEMU_DIR/qemu-system-aarch64" ]

# ppc64le
P=$MNT/ppc
check "mkdir ppc" mkdir "$P"
check "config arch ppc64le" bash -c "echo '{\"arch\":\"ppc64le\"}' > '$P/config'"
check "cmdline starts with qemu-system-ppc64" [ "$(argv0 "$P")" = "$QEMU_DIR/qemu-system-ppc64" ]
check "cmdline's first line names qemu-system-ppc64" header_names "$P" "$QEMU_DIR/qemu-system-ppc64"
check "cmdline machine pseries" has_line "$P/cmdline" "pseries,usb=off,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off"
check "bridges/pb0 is a pci-bridge on pci.0" bash -c "grep -qx 'type pci-bridge' '$P/bridges/pb0' && grep -qx 'bus pci.0' '$P/bridges/pb0'"
check "memory not a multiple of 256 MiB is EINVAL" write_expect "$P/config" '{"memory_mib":300}' "Invalid argument"
check "error names the pseries memory rule" grep -q "multiple of 256 MiB" "$P/error"

# s390x: the CCW subchannel set under bridges/
Z=$MNT/z
D=$T/disk1.img
truncate -s 8M "$D"
check "mkdir z" mkdir "$Z"
check "config arch s390x" bash -c "echo '{\"arch\":\"s390x\"}' > '$Z/config'"
check "cmdline starts with qemu-system-s390x" [ "$(argv0 "$Z")" = "$QEMU_DIR/qemu-system-s390x" ]
check "bridges/ has the CCW set only" [ "$(ls "$Z/bridges")" = ccw ]
check "bridges/ccw is the CCW set" has_line "$Z/bridges/ccw" "type ccw"
check "add a disk" bash -c "echo '{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$D\"}' > '$Z/devices/add'"
check "the disk's addr is its devno" [ "$(cat "$Z/devices/d1/addr")" = fe.0.0000 ]
check "bridges/ccw lists the devno" has_line "$Z/bridges/ccw" "devno fe.0.0000 d1"
check "cmdline has virtio-blk-ccw at the devno" has_line "$Z/cmdline" "virtio-blk-ccw,id=d1,drive=drive-d1,devno=fe.0.0000"
check "root ports on s390x are EINVAL" write_expect "$Z/config" '{"root_ports":1}' "Invalid argument"
check "error names the CCW rule" grep -q "s390x has no PCI bridges" "$Z/error"
check "back to x86_64: the disk moves to rp0" bash -c "echo '{\"arch\":\"x86_64\"}' > '$Z/config'"
check "x86 addr" [ "$(cat "$Z/devices/d1/addr")" = 02/00 ]
check "x86 cmdline" [ "$(argv0 "$Z")" = "$QEMU_DIR/qemu-system-x86_64" ]

check "rmdir the sandboxes" rmdir "$A" "$P" "$Z"
check "they are gone" bash -c "mountpoint -q '$MNT' && [ -z \"\$(ls '$MNT' | grep -vx 'README\|version\|metrics')\" ] && [ -r '$MNT/version' ]"
echo "arch: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
