#!/usr/bin/env bash
# Confinement, tried as hostile tenants would: two unprivileged uids this
# test makes up (A 61001, B 61002, no accounts needed), a tree mounted with
# allow_other, each tenant driving the sandbox root handed them with chown.
#   - a tenant's own `qemu` is refused and never executed;
#   - root-only files as a disk, a kernel, a 9p share, a console file, and
#     a symlink to one, are EACCES with the path in `error`; nothing added;
#   - the tenant's own disk works: the guest sees it;
#   - QEMU runs as its own uid (not 0), Seccomp 2, in its own cgroup (not
#     the daemon's); cpu_max / memory_max_mib written live land in the
#     cgroup; a guest eating past memory_max_mib ends crashed, the reason
#     named; QEMU A cannot read B's disk or console log, nor signal B;
#   - delegation: A drives a, B gets EACCES on a; both survive a restart.
# test-timeout: 600
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
command -v setpriv >/dev/null || skip setpriv "setpriv (util-linux) is not installed"
trap e2e_cleanup EXIT

UA=61001 UB=61002
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
E2E_ARGS="-o allow_other"
e2e_mount
chmod 755 "$T"
mkdir "$T/a-home" "$T/b-home"; chown $UA:$UA "$T/a-home"; chown $UB:$UB "$T/b-home"; chmod 700 "$T/a-home" "$T/b-home"

# root creates two sandboxes and hands them over
mkdir "$MNT/a" "$MNT/b"
check "chown hands a to A" chown $UA:$UA "$MNT/a"
check "chown hands b to B" chown $UB:$UB "$MNT/b"
check "a's files are A's" [ "$(stat -c %u "$MNT/a/ctl")" = $UA ]
check "A may not chown (root only)" fails_with "Operation not permitted" as $UA chown $UA "$MNT/b"

# a tenant's own binary as qemu
cat > "$T/a-home/evil.sh" <<EOF
#!/bin/sh
touch $T/a-home/EXECUTED
exec /usr/bin/qemu-system-x86_64 "\$@"
EOF
chown $UA:$UA "$T/a-home/evil.sh"; chmod 755 "$T/a-home/evil.sh"
check "a tenant's qemu binary is EPERM" fails_with "Operation not permitted" \
	as $UA bash -c "echo '{\"qemu\":\"$T/a-home/evil.sh\"}' > $MNT/a/config"
check "... error says which directories are allowed" grep -q "not under a directory the operator allows" "$MNT/a/error"
check "... and the config did not take it" bash -c "! grep -q evil '$MNT/a/config'"
check "the system QEMU may be chosen" as $UA bash -c "echo '{\"qemu\":\"/usr/bin/qemu-system-x86_64\"}' > $MNT/a/config"

# root-only things, named by A
secret=$T/secret.img; truncate -s 16M "$secret"; chmod 600 "$secret"
rootdir=$T/rootonly; mkdir -m 700 "$rootdir"
rootlog=$T/root.log; touch "$rootlog"; chmod 644 "$rootlog"
ln -s "$secret" "$T/a-home/link.img"; chown -h $UA:$UA "$T/a-home/link.img"
cp "$GUEST/vmlinuz" "$T/kernel"; chmod 600 "$T/kernel"
refuse() { # refuse DESC FILE JSON
	check "$1 is EACCES" fails_with "Permission denied" as $UA bash -c "echo '$3' > $MNT/a/$2"
	check "... error names the path" grep -q "$4" "$MNT/a/error"
}
refuse "a root-only file as a disk" devices/add "{\"type\":\"block\",\"id\":\"s\",\"file\":\"$secret\"}" "$secret"
refuse "a symlink to it" devices/add "{\"type\":\"block\",\"id\":\"s\",\"file\":\"$T/a-home/link.img\"}" "link.img"
refuse "a 9p share of a root-only dir" devices/add "{\"type\":\"9p\",\"id\":\"p\",\"path\":\"$rootdir\"}" "$rootdir"
refuse "a console file A cannot write" devices/add "{\"type\":\"console\",\"id\":\"c\",\"file\":\"$rootlog\"}" "$rootlog"
refuse "a root-only kernel" config "{\"kernel\":\"$T/kernel\"}" "$T/kernel"
check "nothing was added" reads_as_ls "$MNT/a/devices" "add remove"
check "the kernel stayed the built-in one" grep -q "\"kernel\": \"$GUEST/vmlinuz\"" "$MNT/a/config"

# A's own disk, hot-added
truncate -s 32M "$T/a-home/own.img"; chown $UA:$UA "$T/a-home/own.img"; chmod 600 "$T/a-home/own.img"
check "A starts a" as $UA bash -c "echo start > $MNT/a/ctl"
check "a's guest boots" wait_for 90 guest_says a 'ncpus=1 '
check "A hot-adds their own disk" as $UA bash -c "echo '{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/a-home/own.img\"}' > $MNT/a/devices/add"
check "the guest sees it" wait_for 30 guest_says a 'blk=vda '
check "the tenant's script never ran" [ ! -e "$T/a-home/EXECUTED" ]

qa=$(cat "$MNT/a/pid")
check "QEMU's uid is not 0" bash -c "awk '/^Uid:/ {exit \$2 == 0}' /proc/$qa/status"
check "QEMU runs under seccomp (Seccomp: 2)" grep -Eq '^Seccomp:[[:space:]]+2$' /proc/$qa/status
check "QEMU's cgroup differs from the daemon's" bash -c "[ \"\$(grep memory /proc/$qa/cgroup)\" != \"\$(grep memory /proc/$DAEMON/cgroup)\" ]"
check "the cgroup file names it" grep -q "sb-a" "$MNT/a/cgroup"
cg_mem=$(awk '$1 == "memory" || $1 == "path" {print $2}' "$MNT/a/cgroup")
cg_cpu=$(awk '$1 == "cpu" || $1 == "path" {print $2}' "$MNT/a/cgroup")
check "A sets cpu_max and memory_max_mib live" as $UA bash -c "echo '{\"cpu_max\":\"50000 100000\",\"memory_max_mib\":900}' > $MNT/a/config"
check "... cpu quota in the cgroup" bash -c "grep -qx 50000 '$cg_cpu/cpu.cfs_quota_us' 2>/dev/null || grep -q '^50000 100000' '$cg_cpu/cpu.max'"
check "... memory limit in the cgroup" bash -c "grep -qx $((900 << 20)) '$cg_mem/memory.limit_in_bytes' 2>/dev/null || grep -qx $((900 << 20)) '$cg_mem/memory.max'"

# delegation: B cannot drive a
check "B's write to a's ctl is EACCES" fails_with "Permission denied" as $UB bash -c "echo stop > $MNT/a/ctl"
check "B's device add to a is EACCES" fails_with "Permission denied" as $UB bash -c "echo x > $MNT/a/devices/remove"
check "a still runs" reads_as "$MNT/a/state" running

# QEMU A against B's things
truncate -s 16M "$T/b-home/b.img"; chown $UB:$UB "$T/b-home/b.img"; chmod 600 "$T/b-home/b.img"
check "B starts b with their disk" as $UB bash -c "echo '{\"type\":\"block\",\"id\":\"bd\",\"file\":\"$T/b-home/b.img\"}' > $MNT/b/devices/add && echo start > $MNT/b/ctl"
check "b's guest boots" wait_for 90 guest_says b 'blk=vda '
qb=$(cat "$MNT/b/pid")
uqa=$(awk '/^Uid:/ {print $2}' /proc/$qa/status); uqb=$(awk '/^Uid:/ {print $2}' /proc/$qb/status)
check "the two QEMUs have their own uids ($uqa, $uqb)" [ "$uqa" != "$uqb" ]
check "QEMU A's uid cannot read B's disk" fails_with "Permission denied" as "$uqa" cat "$T/b-home/b.img"
check "... nor b's console log" fails_with "Permission denied" as "$uqa" cat "$STATE/b/console.log"
check "... nor signal QEMU B" fails_with "Operation not permitted" as "$uqa" kill -0 "$qb"

# a guest that grows past its memory limit
check "stop a" as $UA bash -c "echo stop > $MNT/a/ctl"
check "a guest eating 600 MiB of 768 under a 300 MiB limit" as $UA bash -c "echo '{\"memory_mib\":768,\"memory_max_mib\":300,\"kernel_params\":\"sbfs.eat=600\"}' > $MNT/a/config && echo start > $MNT/a/ctl"
check "... ends crashed" wait_for 90 bash -c "[ \"\$(cat '$MNT/a/state')\" = crashed ]"
check "... and error says it was the memory limit" grep -q "memory limit" "$MNT/a/error"

# ownership survives a restart
fusermount3 -u "$MNT"; wait "$DAEMON"
e2e_mount_again
check "after a restart a is still A's" [ "$(stat -c %u "$MNT/a/ctl")" = $UA ]
check "... b still B's" [ "$(stat -c %u "$MNT/b/ctl")" = $UB ]
check "... and B still cannot drive a" fails_with "Permission denied" as $UB bash -c "echo start > $MNT/a/ctl"
check "b's QEMU was re-adopted" reads_as "$MNT/b/state" running
echo "confine: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
