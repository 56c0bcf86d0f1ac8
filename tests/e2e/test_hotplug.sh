#!/usr/bin/env bash
# Hotplug breadth with the real guest: two virtio-blk disks, a scsi-hd on
# its own virtio-scsi controller and a tap NIC (the daemon runs in a private
# network namespace, so QEMU's tap never touches the host's network) are
# hot-added (onto multifunction root ports) and the guest lists vda, vdb,
# sda and eth0; they are removed in
# another order and the guest loses each while bridges/ frees the slots;
# 256 MiB of memory is hot-added and the guest's MemTotal grows, then shrinks.
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
command -v unshare >/dev/null || skip unshare "unshare (util-linux) is not installed"
unshare -n true 2>/dev/null || skip netns "cannot create a network namespace here"
trap e2e_cleanup EXIT
E2E_WRAP="unshare -n" e2e_mount
S=$MNT/hp
mkdir "$S"
# 40 root ports do not fit one per PCI device: they are packed eight
# functions to a device, so every hotplug below lands on a function of a
# multifunction slot (rp0 at 02.0, rp1 at 02.1, ...).
check "config: 40 root ports, 2 DIMM slots" bash -c "echo '{\"root_ports\":40,\"memory_slots\":2,\"maxmem_mib\":1024}' > '$S/config'"
check "start" bash -c "echo start > '$S/ctl'"
check "guest boots" wait_for 90 guest_says hp 'ncpus=1 '
mem0=$(guest_line hp | sed 's/.* mem=\([0-9]*\).*/\1/')
check "the guest reports its MemTotal ($mem0 kB)" bash -c "[[ '$mem0' =~ ^[0-9]+\$ ]]"

for n in d1 d2 s1; do truncate -s 32M "$T/$n.img"; done
add() { echo "$1" > "$S/devices/add"; }
# The guest names virtio disks in probe order: wait for each before the
# next, so d1 is vda and d2 is vdb whatever the load.
check "hot-add virtio-blk d1" add "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\"}"
check "guest sees vda" wait_for 30 guest_says hp 'blk=vda '
check "hot-add virtio-blk d2" add "{\"type\":\"block\",\"id\":\"d2\",\"file\":\"$T/d2.img\"}"
check "guest sees vdb" wait_for 30 guest_says hp 'blk=vda,vdb '
check "hot-add scsi-hd s1" add "{\"type\":\"block\",\"id\":\"s1\",\"file\":\"$T/s1.img\",\"interface\":\"scsi\",\"scsi_id\":0,\"lun\":0}"
check "hot-add a tap NIC n1" add '{"type":"net","id":"n1","ifname":"sbxtap0","mac":"52:54:00:12:34:56"}'
check "guest lists sda, vda, vdb and eth0" wait_for 30 guest_says hp 'blk=sda,vda,vdb net=eth0 '
check "each device holds its own root port" [ "$(cat "$S"/bridges/* | grep -c '^slot 0 [a-z]')" = 4 ]
check "s1 is addressed bridge.function/slot" [ "$(cat "$S/devices/s1/addr")" = 02.2/00 ]
check "rp2 is function 2 of device 02" grep -qx "addr 02.2" "$S/bridges/rp2"
check "a 9p device cannot be hot-added (EOPNOTSUPP)" write_expect "$S/devices/add" "{\"type\":\"9p\",\"id\":\"p\",\"path\":\"$T\"}" "not supported"

rm_dev() { echo "$1" > "$S/devices/remove"; }
check "remove d1 first" rm_dev d1
check "guest lost vda" wait_for 30 guest_says hp 'blk=sda,vdb net=eth0 '
check "remove the NIC" rm_dev n1
check "guest lost eth0" wait_for 30 guest_says hp 'blk=sda,vdb net=- '
check "remove the scsi disk" rm_dev s1
check "guest lost sda" wait_for 30 guest_says hp 'blk=vdb net=- '
check "remove d2" rm_dev d2
check "guest has no disk left" wait_for 30 guest_says hp 'blk=- net=- '
check "every slot free again" [ "$(cat "$S"/bridges/* | grep -c '^slot 0 -$')" = 40 ]
check "no device left (devices/ lists add and remove only)" bash -c "l=\$(ls '$S/devices') && [ \"\$(echo \$l)\" = 'add remove' ]"

# A NIC whose tap descriptors the daemon opens and hands over with getfd.
check "hot-add a 2-queue NIC with pass_fds" add '{"type":"net","id":"n2","ifname":"sbxtap1","queues":2,"pass_fds":true}'
check "guest sees eth0 again" wait_for 30 guest_says hp 'net=eth0 '
check "remove it" rm_dev n2
check "guest lost it" wait_for 30 guest_says hp 'net=- '

# Memory.
check "memory/target shows the boot size" reads_as "$S/memory/target" 256
check "hot-add 256 MiB" bash -c "echo 512 > '$S/memory/target'"
mem_grew() { local m; m=$(guest_line hp | sed 's/.* mem=\([0-9]*\).*/\1/'); [ $((m - mem0)) -eq 262144 ]; }
check "guest MemTotal grew by 256 MiB" wait_for 30 mem_grew
check "one DIMM listed" reads_as "$S/memory/hotplugged" "dimm0 256"
check "past maxmem is ERANGE" write_expect "$S/memory/target" 2048 "Numerical result out of range"
check "not a multiple of the block size is EINVAL" write_expect "$S/memory/target" 600 "Invalid argument"
check "shrink back to the boot size" bash -c "echo 256 > '$S/memory/target'"
check "guest MemTotal back" wait_for 30 guest_says hp " mem=$mem0( |\$)"

check "stop" bash -c "echo stop > '$S/ctl'"
fusermount3 -u "$MNT"; wait "$DAEMON"; DAEMON=
if pgrep -f "^/usr/bin/qemu-system.*$STATE" >/dev/null; then fail "no qemu left behind"; else ok "no qemu left behind"; fi
echo "hotplug: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
