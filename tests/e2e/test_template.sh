#!/usr/bin/env bash
# VM templates (Kata's VM factory, on files): a sandbox started with
# memory_file is saved as a template (device state only, x-ignore-shared,
# its RAM a file beside it); 8 clones restore from it, each its own uuid,
# every clone's guest answers on its console, none can change the
# template; QEMU 7.2 refuses to clone (EOPNOTSUPP); removing the template
# while clones run is safe.  Needs QEMU 10 (make qemu-10): a clone maps
# the template read-only and private (memory-backend-file rom=off, 8.2).
# test-timeout: 600
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
Q10=$ROOT/build/qemu-10/bin/qemu-system-x86_64
[ -x "$Q10" ] || skip qemu-10 "QEMU 10 is not unpacked (make qemu-10): a clone needs QEMU >= 8.2"
trap e2e_cleanup EXIT
e2e_mount
D=$T/template
N=8

field() { guest_line "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
up_gt() { local u; u=$(field "$1" up); [ -n "$u" ] && [ "$u" -gt "$2" ]; }

mkdir "$MNT/t" "$MNT/plain"
echo "{\"memory_file\":true,\"qemu\":\"$Q10\"}" > "$MNT/t/config"
check "memory_file gives a file-backed shared RAM" bash -c "grep -q '^memory-backend-file,id=dimm1,size=256M,mem-path=/proc/self/fd/[0-9]*,share=on$' '$MNT/t/cmdline'"
check "memory_file with hugepages is EINVAL" write_expect "$MNT/t/config" '{"hugepages":true}' "Invalid argument"
echo start > "$MNT/t/ctl"
echo "{\"qemu\":\"$Q10\"}" > "$MNT/plain/config"
echo start > "$MNT/plain/ctl"
check "the template's guest boots" wait_for 90 guest_says t 'ncpus=1 '
boot=$(field t boot)
check "save DIR template of a sandbox without memory_file is EINVAL" \
	write_expect "$MNT/plain/ctl" "save $T/nope template" "Invalid argument"
check "... error says memory_file" grep -q memory_file "$MNT/plain/error"
echo stop > "$MNT/plain/ctl"
truncate -s 16M "$T/w1.img"
echo "{\"type\":\"block\",\"id\":\"w1\",\"file\":\"$T/w1.img\"}" > "$MNT/t/devices/add"
check "save DIR template with a writable disk is EINVAL" write_expect "$MNT/t/ctl" "save $T/nope template" "Invalid argument"
check "... error says every clone would write it" grep -q "every clone" "$MNT/t/error"
check "... the template still runs" reads_as "$MNT/t/state" running
check "... its disk can go" bash -c "echo w1 > '$MNT/t/devices/remove'"
check "save DIR template succeeds" bash -c "echo 'save $D template' > '$MNT/t/ctl'"
check "the template sandbox is saved" reads_as "$MNT/t/state" saved
check "the template holds state, definition, manifest, memory" bash -c \
	"[ -s '$D/state' ] && [ -s '$D/definition' ] && [ -s '$D/manifest' ] && [ -s '$D/memory' ]"
check "its state is device state only (< 4 MiB: RAM left out)" [ "$(stat -c %s "$D/state")" -lt 4194304 ]
check "its RAM file is the guest's 256 MiB" [ "$(stat -c %s "$D/memory")" = 268435456 ]
check "... sparse: the zero pages are holes" [ "$(du -k "$D/memory" | cut -f1)" -lt 200000 ]
check "the template directory is read-only" bash -c "[ \"\$(stat -c %a '$D')\" = 555 ] && [ \"\$(stat -c %a '$D/memory')\" = 444 ]"
sum=$(md5sum < "$D/memory")

mkdir "$MNT/old"
check "a clone on QEMU 7.2 is EOPNOTSUPP" write_expect "$MNT/old/ctl" "restore $D" "Operation not supported"
check "... error names the QEMU it needs" grep -q "QEMU 8.2" "$MNT/old/error"
check "... nothing started" bash -c "[ \"\$(cat '$MNT/old/state')\" = created ] && [ -z \"\$(cat '$MNT/old/pid')\" ]"

for i in $(seq $N); do
	mkdir "$MNT/c$i"
	echo "{\"qemu\":\"$Q10\"}" > "$MNT/c$i/config"
	check "clone c$i restores" bash -c "echo 'restore $D' > '$MNT/c$i/ctl'"
done
for i in $(seq $N); do
	check "c$i runs the template's guest (boot id $boot)" wait_for 30 guest_says c$i "boot=$boot "
done
up=$(field c$N up)
for i in $(seq $N); do
	check "c$i's guest goes on (uptime past $up s)" wait_for 20 up_gt c$i "$up"
done
check "the $N clones have $N uuids of their own" bash -c \
	"[ \$(grep -h uuid '$MNT'/c*/config '$MNT/t/config' | sort -u | wc -l) = $((N + 1)) ]"
check "each clone maps the template's RAM private" bash -c \
	"for i in \$(seq $N); do grep -q 'rw-p .* $D/memory\$' /proc/\$(cat '$MNT'/c\$i/pid)/maps || exit 1; done"
echo '{"type":"rng","id":"r0"}' > "$MNT/c1/devices/add"
check "a clone diverges: a device hot-added to c1" reads_as "$MNT/c1/devices/r0/state" attached
check "... not to c2" gone "$MNT/c2/devices/r0"
check "no clone changed the template's RAM" [ "$(md5sum < "$D/memory")" = "$sum" ]

chmod u+w "$D"
check "removing the template while clones run succeeds" rm -rf "$D"
CONSOLE_FROM=$(stat -c %s "$MNT/c1/console")
check "... and the clones run on" wait_for 10 guest_says c1 "boot=$boot "
CONSOLE_FROM=0
check "rmdir of the template's sandbox succeeds" rmdir "$MNT/t"
for i in $(seq $N); do echo stop > "$MNT/c$i/ctl"; done
exit $FAILS
