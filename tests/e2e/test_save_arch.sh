#!/usr/bin/env bash
# Save and restore on the other architectures' real guests under TCG
# (build/guest-ARCH): each boots with a disk, hot-adds a vCPU where its
# machine can (ppc64le, s390x; aarch64 virt cannot in QEMU 7.2), is saved
# and restored into a new sandbox of its architecture; the guest goes on
# (the same boot id, its disk, its CPUs).  Checks the architecture rules
# against each QEMU: the versioned machine type QEMU reports
# (virt-7.2, pseries-7.2, s390-ccw-virtio-7.2) and, for a template, the
# x-ignore-shared capability the arch tables record (aarch64: none), and
# ppc64le's oldest QEMU for it (10.0: a pseries guest restored by QEMU 7.2
# under TCG never resumes, so 7.2 is refused; the save runs on QEMU 10).
#
#   bash tests/e2e/test_save_arch.sh [ARCH...]   (default: aarch64 ppc64le s390x)
# test-timeout: 900
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
ARCHS=${*:-aarch64 ppc64le s390x}
trap e2e_cleanup EXIT
e2e_mount

field() { guest_line "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
declare -A BIN=([aarch64]=qemu-system-aarch64 [ppc64le]=qemu-system-ppc64 [s390x]=qemu-system-s390x)
declare -A MACHINE=([aarch64]=virt-7.2 [ppc64le]=pseries-7.2 [s390x]=s390-ccw-virtio-7.2)
declare -A HOTCPU=([aarch64]=0 [ppc64le]=1 [s390x]=1)
declare -A QEMU=([aarch64]="" [ppc64le]="$ROOT/build/qemu-10/bin/qemu-system-ppc64" [s390x]="")

for a in $ARCHS; do
	if [ ! -x "/usr/bin/${BIN[$a]}" ]; then skip_case "${BIN[$a]}" "$a not tried: no /usr/bin/${BIN[$a]}"; continue; fi
	if [ ! -r "$ROOT/build/guest-$a/vmlinuz" ]; then skip_case "guest-$a" "$a not tried: make guest-$a"; continue; fi
	q=${QEMU[$a]}
	if [ -n "$q" ] && [ ! -x "$q" ]; then skip_case qemu-10 "$a not tried: it needs QEMU 10 (make qemu-10)"; continue; fi
	S=$MNT/$a R=$MNT/$a-restored
	mkdir "$S" "$R"
	echo "{\"arch\":\"$a\",\"memory_mib\":512,\"qemu\":\"$q\"}" > "$S/config"
	echo "{\"arch\":\"$a\",\"qemu\":\"$q\"}" > "$R/config"
	truncate -s 32M "$T/$a.img"
	echo "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/$a.img\"}" > "$S/devices/add"
	echo start > "$S/ctl"
	check "$a: the guest boots with its disk" wait_for 240 guest_says "$a" 'ncpus=1 blk=vda '
	want='ncpus=1 blk=vda'
	if [ "${HOTCPU[$a]}" = 1 ]; then
		echo 2 > "$S/cpus/target"
		check "$a: the guest onlines a hot-added vCPU" wait_for 60 guest_says "$a" 'ncpus=2 '
		want='ncpus=2 blk=vda'
	fi
	if [ "$a" = ppc64le ]; then # the arch table: not with hot-added vCPUs
		check "$a: save with a hot-added vCPU is EOPNOTSUPP" write_expect "$S/ctl" "save $T/no-$a" "Operation not supported"
		check "... and it runs on" reads_as "$S/state" running
		# A QEMU 10 pseries whose vCPU was unplugged aborts in a save
		# (qemu_mutex_lock_impl: mutex->initialized): boot afresh.
		echo stop > "$S/ctl"
		echo start > "$S/ctl"
		check "$a: the guest boots again, without the hot-added vCPU" wait_for 240 guest_says "$a" 'ncpus=1 blk=vda '
		want='ncpus=1 blk=vda'
	fi
	boot=$(field "$a" boot)
	[ -n "$q" ] && MACHINE[$a]=${MACHINE[$a]%-7.2}-10.0
	check "$a: QEMU runs machine ${MACHINE[$a]}" grep -q "\"machine\": \"${MACHINE[$a]}\"" "$S/definition"
	check "$a: save succeeds" bash -c "echo 'save $T/sv-$a' > '$S/ctl'"
	check "$a: saved" reads_as "$S/state" saved
	check "$a: an x86_64 sandbox cannot restore it (EINVAL)" bash -c \
		"mkdir '$MNT/x-$a' && ! echo 'restore $T/sv-$a' > '$MNT/x-$a/ctl' 2>/dev/null && grep -q 'architecture $a' '$MNT/x-$a/error'"
	if [ -n "$q" ]; then
		mkdir "$MNT/old-$a"; echo "{\"arch\":\"$a\"}" > "$MNT/old-$a/config"
		check "$a: restore with QEMU 7.2 is EOPNOTSUPP" write_expect "$MNT/old-$a/ctl" "restore $T/sv-$a" "Operation not supported"
		check "... error names QEMU 10.0" grep -q "from QEMU 10.0 on" "$MNT/old-$a/error"
	fi
	check "$a: restore into a new $a sandbox succeeds" bash -c "echo 'restore $T/sv-$a' > '$R/ctl'"
	check "$a: the restored guest goes on: boot id $boot, $want" wait_for 60 guest_says "$a-restored" "$want .* boot=$boot "
	echo stop > "$R/ctl"
	echo '{"memory_file":true}' > "$S/config"
	if [ "$a" = aarch64 ]; then # the arch table: no x-ignore-shared
		echo start > "$S/ctl"
		check "$a: save DIR template is EOPNOTSUPP (no x-ignore-shared)" \
			write_expect "$S/ctl" "save $T/tpl-$a template" "Operation not supported"
		echo stop > "$S/ctl"
	fi
done
exit $FAILS
