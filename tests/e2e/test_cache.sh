#!/usr/bin/env bash
# The kernel caches the tree's names and attributes (docs/abi.md
# "Caching"): everything a write or a state change changes must be seen by
# the very next read, stat or lookup all the same — a config write, a
# state change, a device or bridge that appears or goes, a sandbox removed
# and made again, a chown; the console's size as it grows; poll() still
# wakes.  And callers stuck on one sandbox, however many, never hold up
# another sandbox or `ls` (fs/fs_work.h).
# test-timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
trap e2e_cleanup EXIT
e2e_mount
H=$ROOT/build/helpers
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

mkdir "$MNT/a"
# Every file looked up and stat'ed once: their names and attributes are
# in the kernel's cache from here on.
for f in state config cmdline ctl pid error console cpus/target memory/target devices bridges; do
	stat "$MNT/a/$f" >/dev/null
done
ls -l "$MNT/a" "$MNT/a/bridges" >/dev/null

# A write, then the read right after it.
echo '{"vcpus": 2, "maxvcpus": 6}' > "$MNT/a/config"
check "config read right after the write shows it" grep -q '"vcpus": 2,' "$MNT/a/config"
check "... and cpus/target follows" reads_as "$MNT/a/cpus/target" 2
echo 3 > "$MNT/a/cpus/target"
check "cpus/target read right after its write" reads_as "$MNT/a/cpus/target" 3
# config is rendered once per change (vm_sandbox.cfg_text): every path
# that changes it is seen by the next read.
check "config read after a cpus/target write (stopped) shows vcpus 3" grep -q '"vcpus": 3,' "$MNT/a/config"
check "a rejected config write is refused" bash -c "! echo '{\"vcpus\": 99}' > '$MNT/a/config' 2>/dev/null"
check "... and config still reads vcpus 3" grep -q '"vcpus": 3,' "$MNT/a/config"

# Bridges: a config write makes and removes names the kernel had cached.
reads_as_ls "$MNT/a/bridges" "rp0 rp1 rp2 rp3" || fail "four root ports by default: $(ls "$MNT/a/bridges")"
stat "$MNT/a/bridges/rp3" >/dev/null
echo '{"root_ports": 2}' > "$MNT/a/config"
check "a bridge that went is gone at once for stat (cached before)" gone "$MNT/a/bridges/rp3"
check "... and for cat" bash -c "! cat '$MNT/a/bridges/rp3' 2>/dev/null"
check "... and ls" reads_as_ls "$MNT/a/bridges" "rp0 rp1"
echo '{"root_ports": 4}' > "$MNT/a/config"
check "a bridge that comes back is there at once" bash -c "stat '$MNT/a/bridges/rp3' >/dev/null && grep -q . '$MNT/a/bridges/rp3'"

# Devices (cold: the sandbox is not running): appear, are cached, go.
truncate -s 1M "$T/d1.img"
echo "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\"}" > "$MNT/a/devices/add"
check "a device added is there at once" reads_as "$MNT/a/devices/d1/state" configured
stat "$MNT/a/devices/d1" "$MNT/a/devices/d1/spec" >/dev/null
echo d1 > "$MNT/a/devices/remove"
check "a device removed is gone at once for stat (cached before)" gone "$MNT/a/devices/d1"
check "... its files too" gone "$MNT/a/devices/d1/spec"
check "... and ls devices lists only add and remove" reads_as_ls "$MNT/a/devices" "add remove"
echo "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\",\"readonly\":true}" > "$MNT/a/devices/add"
check "the same id added again shows the new device" grep -q '"readonly":true' "$MNT/a/devices/d1/spec"
echo d1 > "$MNT/a/devices/remove"

# chown: every file of the sandbox changes owner, cached attributes too.
check "a's files are root's before" [ "$(stat -c %u "$MNT/a/state")" = 0 ]
chown 4321:4321 "$MNT/a"
check "chown shows at once on a file whose attributes were cached" [ "$(stat -c %u:%g "$MNT/a/state")" = 4321:4321 ]
check "... and on a subdirectory's" [ "$(stat -c %u "$MNT/a/cpus/target")" = 4321 ]
chown 0:0 "$MNT/a"
check "... and back" [ "$(stat -c %u "$MNT/a/config")" = 0 ]

# The console's size is never cached: the guest's writes show at once.
s0=$(stat -c %s "$MNT/a/console")
printf 'one line of console\n' >> "$STATE/a/console.log"
check "the console's size follows its log at once ($s0 → $(stat -c %s "$MNT/a/console"))" \
	[ "$(stat -c %s "$MNT/a/console")" -eq $((s0 + 20)) ]
check "... and it reads" grep -q 'one line of console' "$MNT/a/console"

# A sandbox removed and made again: a new one, not the cached old one.
rmdir "$MNT/a"
check "a removed sandbox's files are gone at once" gone "$MNT/a/state"
mkdir "$MNT/a"
check "made again: the new sandbox's config (vcpus 1)" grep -q '"vcpus": 1,' "$MNT/a/config"
check "... and its state" reads_as "$MNT/a/state" created

# State changes and poll().
echo '{"memory_mib": 128}' > "$MNT/a/config"
"$H/pollwait" "$MNT/a/state" 20000 > "$T/poll.out" &
pw=$!
sleep 0.3
echo start > "$MNT/a/ctl"
check "state read right after start says running" reads_as "$MNT/a/state" running
wait $pw; rc=$?
check "poll() on state woke with the new state" [ $rc -eq 0 -a "$(cat "$T/poll.out")" = running ]
check "pid reads at once" [ -n "$(cat "$MNT/a/pid")" ]
echo pause > "$MNT/a/ctl"
check "state read right after pause says paused" reads_as "$MNT/a/state" paused
echo resume > "$MNT/a/ctl"
check "... and after resume, running" reads_as "$MNT/a/state" running

# Many callers stuck on one sandbox: every other one, and ls, go on.
mkdir "$MNT/b"
echo '{"memory_mib": 128}' > "$MNT/b/config"
echo start > "$MNT/b/ctl"
apid=$(cat "$MNT/a/pid")
kill -STOP "$apid"
# Readers of events wait (like tail -f) until a line comes; a write waits
# for QEMU's answer until it times out (then the next ones fail fast).
stuck=()
for _ in $(seq 40); do timeout 30 head -n 1 "$MNT/a/events" >/dev/null 2>&1 & stuck+=($!); done
for _ in $(seq 8); do (echo pause > "$MNT/a/ctl") 2>/dev/null & done
sleep 1
check "the stuck readers are still waiting (the test measures what it claims)" kill -0 "${stuck[0]}"
worst=0 broken=0
for _ in $(seq 10); do
	t0=$(ms_now)
	{ ls "$MNT" >/dev/null && cat "$MNT/b/state" >/dev/null && echo pause > "$MNT/b/ctl" &&
	  echo resume > "$MNT/b/ctl" && cat "$MNT/a/state" >/dev/null; } 2>/dev/null || broken=$((broken + 1))
	t=$(( $(ms_now) - t0 )); [ $t -gt $worst ] && worst=$t
done
check "with 48 callers stuck on a, ls, b's reads and writes and a's state all work" [ $broken -eq 0 ]
check "... without waiting for a's QEMU (worst ${worst} ms of 10 rounds)" [ $worst -lt 2000 ]
check "... while a's readers still wait" kill -0 "${stuck[39]}"
kill -CONT "$apid"
# A line on a's events (its state changing) answers every parked read.
a_paused() {
	[ "$(cat "$MNT/a/state")" = paused ] && return 0
	echo pause > "$MNT/a/ctl" 2>/dev/null
	[ "$(cat "$MNT/a/state")" = paused ]
}
check "a answers again after SIGCONT (paused)" wait_for 15 a_paused
ended() { local p; for p in "${stuck[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
check "... and its 40 events readers got their line and ended" wait_for 10 ended
for p in "${stuck[@]}"; do wait "$p" 2>/dev/null; done
echo kill > "$MNT/a/ctl"
echo kill > "$MNT/b/ctl"

[ "$FAILS" -eq 0 ]
