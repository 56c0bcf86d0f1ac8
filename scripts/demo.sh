#!/usr/bin/env bash
# The README's first command: install what is missing, build sandboxfs and
# its built-in guest, mount at ./mnt, create and start a demo sandbox,
# hot-add a vCPU and a disk, and show what the guest saw.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
scripts/deps.sh
step "build"
make -s -j"$(nproc)" all
step "built-in guest (Debian cloud kernel + busybox initramfs)"
make -s guest

MNT=$PWD/mnt
STATE=${STATE_DIR:-/run/sandboxfs-demo}
S=$MNT/demo
if mountpoint -q "$MNT"; then
	step "unmounting the previous demo"
	[ -d "$S" ] && { echo kill > "$S/ctl" 2>/dev/null || true; rmdir "$S"; }
	fusermount3 -u "$MNT"
	sleep 0.5
fi
mkdir -p "$MNT"
step "mount at $MNT"
build/sandboxfs --state-dir="$STATE" --log="$STATE.log" "$MNT"
for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
# A demo sandbox left by an earlier run (the state dir keeps it) starts over.
[ -d "$S" ] && { echo kill > "$S/ctl" 2>/dev/null || true; rmdir "$S"; }
run() { printf '$ %s\n' "$*"; eval "$@"; }
latest() { grep -a '^GUEST cpus=' "$S/console" | tail -n1; }
wait_guest() { # wait_guest REGEX
	for _ in $(seq 240); do latest | grep -Eq "$1" && return 0; sleep 0.25; done
	echo "timed out waiting for the guest to print /$1/"; tail -n 20 "$S/console"; exit 1
}

step "create and start a sandbox"
run "mkdir $S"
run "echo start > $S/ctl"
run "cat $S/state"
echo "(waiting for the guest to boot)"
wait_guest 'ncpus=1 '
run "grep -a '^GUEST boot' $S/console | tail -n1"; latest

step "hot-add a vCPU"
run "echo 2 > $S/cpus/target"
wait_guest 'ncpus=2 '
run "cat $S/cpus/online"

step "hot-add a 64 MiB disk"
truncate -s 64M "$STATE-disk1.img"
run "echo '{\"type\":\"block\",\"id\":\"disk1\",\"file\":\"$STATE-disk1.img\",\"format\":\"raw\"}' > $S/devices/add"
wait_guest 'blk=vda '
for b in "$S"/bridges/*; do run "cat $b"; done

step "what the guest itself says (its serial console)"
latest
echo
echo "The sandbox is still running.  Explore with: ls $S; cat $S/config; tail -f $S/console"
echo "Stop everything with: echo stop > $S/ctl; rmdir $S; fusermount3 -u $MNT"
