#!/usr/bin/env bash
# Reliability and security through the mounted fs: poll() on state, the
# events stream, crash detection within a second, a SIGSTOPped QEMU that
# must not stall anyone else, 10,000 hostile writes, option injection,
# permissions for other users, and a bind mount in another mount namespace.
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
trap e2e_cleanup EXIT
e2e_mount
H=$ROOT/build/helpers
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

mkdir "$MNT/a" "$MNT/b"
echo '{"memory_mib":128}' > "$MNT/a/config"
echo '{"memory_mib":128}' > "$MNT/b/config"

# poll(): a reader blocked on state wakes when the sandbox starts.
"$H/pollwait" "$MNT/a/state" 20000 > "$T/poll.out" &
pw=$!
timeout 30 cat "$MNT/a/events" > "$T/events.out" &
ev=$!
sleep 0.3
echo start > "$MNT/a/ctl"
wait $pw; rc=$?
check "poll() on state woke with the new state" [ $rc -eq 0 -a "$(cat "$T/poll.out")" = running ]
echo start > "$MNT/b/ctl"
check "a boots" wait_for 90 guest_says a 'ncpus=1 '
check "b boots" wait_for 90 guest_says b 'ncpus=1 '
echo 2 > "$MNT/a/cpus/target"
check "events streams the state change" wait_for 5 grep -q '"SANDBOX_STATE".*"running"' "$T/events.out"
check "events streams QMP events (vCPU hotplug)" wait_for 10 grep -q '"ACPI_DEVICE_OST"' "$T/events.out"
kill $ev 2>/dev/null; wait $ev 2>/dev/null

# A SIGSTOPped QEMU: writes time out, other sandboxes and ls are unaffected.
apid=$(cat "$MNT/a/pid")
kill -STOP "$apid"
t0=$(ms_now)
out=$( { echo pause > "$MNT/a/ctl"; } 2>&1 )
t1=$(ms_now)
check "write to the stopped QEMU's sandbox fails with ETIMEDOUT" bash -c "echo '$out' | grep -q 'timed out'"
check "... after a bounded wait ($((t1 - t0)) ms)" [ $((t1 - t0)) -lt 15000 ]
check "error says the QMP command timed out" grep -qi "timed out\|within" "$MNT/a/error"
echo pause > "$MNT/a/ctl" 2>/dev/null &
slow=$!
sleep 0.2
worst=0
for _ in $(seq 20); do
	t0=$(ms_now); cat "$MNT/b/state" >/dev/null; ls "$MNT" >/dev/null; t1=$(ms_now)
	[ $((t1 - t0)) -gt $worst ] && worst=$((t1 - t0))
done
check "cat b/state + ls stay fast while a's QMP hangs (worst ${worst} ms)" [ $worst -le 50 ]
check "cat a/state itself does not wait for QMP" timeout 1 cat "$MNT/a/state"
kill -CONT "$apid"
wait $slow 2>/dev/null
check "a answers again after SIGCONT" wait_for 10 bash -c "[ \"\$(cat '$MNT/a/state')\" = paused ] || echo pause > '$MNT/a/ctl'"
echo resume > "$MNT/a/ctl" 2>/dev/null

# Crash: QEMU killed → crashed within a second, console kept.
cbefore=$(stat -c %s "$MNT/b/console")
bpid=$(cat "$MNT/b/pid")
kill -9 "$bpid"; t0=$(ms_now)
wait_for 1 bash -c "[ \"\$(cat '$MNT/b/state')\" = crashed ]"; t1=$(ms_now)
check "crashed within a second ($((t1 - t0)) ms)" [ "$(cat "$MNT/b/state")" = crashed -a $((t1 - t0)) -le 1000 ]
check "error names the signal" grep -q "signal 9" "$MNT/b/error"
check "console log kept" [ "$(stat -c %s "$MNT/b/console")" -ge "$cbefore" -a "$cbefore" -gt 0 ]

# 10,000 hostile writes: every one fails with an errno, nothing changes.
dpid=$DAEMON
fds_before=$(ls /proc/$dpid/fd | wc -l)
qemus_before=$(pgrep -fc "^/usr/bin/qemu-system.*$STATE")
snap() { for n in a b; do cat "$MNT/$n/config" "$MNT/$n/state" "$MNT/$n/cmdline" "$MNT/$n/cpus/target"; ls "$MNT/$n/devices"; done; }
s0=$(snap)
check "5,000 hostile writes to a running sandbox all fail" "$H/fsfuzz" "$MNT/a" 5000 1
check "5,000 hostile writes to a crashed sandbox all fail" "$H/fsfuzz" "$MNT/b" 5000 2
check "daemon alive" kill -0 "$dpid"
check "no sandbox changed" [ "$s0" = "$(snap)" ]
check "no fd leaked ($fds_before → $(ls /proc/$dpid/fd | wc -l))" [ "$(ls /proc/$dpid/fd | wc -l)" -le "$fds_before" ]
check "no QEMU leaked" [ "$(pgrep -fc "^/usr/bin/qemu-system.*$STATE")" = "$qemus_before" ]

# Option injection: a comma in a path is escaped, ids with , = or newline rejected.
mkdir "$T/inj"; truncate -s 8M "$T/inj/a,b.img"
mkdir "$MNT/c"
echo '{"memory_mib":128}' > "$MNT/c/config"
check "a path with a comma is accepted" bash -c "echo '{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/inj/a,b.img\"}' > '$MNT/c/devices/add'"
check "id with a comma is EINVAL" write_expect "$MNT/c/devices/add" "{\"type\":\"block\",\"id\":\"x,drive=y\",\"file\":\"$T/inj/a,b.img\"}" "Invalid argument"
check "id with = is EINVAL" write_expect "$MNT/c/devices/add" "{\"type\":\"block\",\"id\":\"x=y\",\"file\":\"$T/inj/a,b.img\"}" "Invalid argument"
check "id with a newline is EINVAL" write_expect "$MNT/c/devices/add" "{\"type\":\"block\",\"id\":\"x\\ny\",\"file\":\"$T/inj/a,b.img\"}" "Invalid argument"
check "kernel_params with a newline is EINVAL" write_expect "$MNT/c/config" '{"kernel_params":"a\nb"}' "Invalid argument"
echo start > "$MNT/c/ctl"
cpid=$(cat "$MNT/c/pid")
n=$(tr '\0' '\n' < /proc/$cpid/cmdline | grep -c "inj/a")
check "QEMU got the path as exactly one argument" [ "$n" = 1 ]
check "... with the comma doubled" bash -c "tr '\\0' '\\n' < /proc/$cpid/cmdline | grep -q 'file.filename=$T/inj/a,,b.img'"
check "the guest sees the disk" wait_for 90 guest_says c 'blk=vda '
echo kill > "$MNT/c/ctl"

# Bind mount into another mount namespace (what a management container does).
mkdir "$T/bind"
check "readable through a bind mount in a new mount namespace" \
	unshare -m --propagation private sh -c "mount --bind '$MNT' '$T/bind' && [ \"\$(cat '$T/bind/a/state')\" = running ]"

for n in a b; do echo kill > "$MNT/$n/ctl" 2>/dev/null; done
fusermount3 -u "$MNT"; wait "$DAEMON"; DAEMON=

# Other users: allow_other lets them read; only the owner writes.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	chmod 755 "$T"
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	"$BIN" -f -o allow_other --state-dir="$STATE" --log="$LOG" "$MNT" & DAEMON=$!
	wait_for 5 mountpoint -q "$MNT"
	check "another user can read through allow_other" as_nobody cat "$MNT/a/state"
	check "another user cannot write ctl (EACCES)" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo start > $MNT/a/ctl' 2>&1 | grep -q 'Permission denied'"
	check "another user cannot mkdir" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups mkdir $MNT/x 2>&1 | grep -q 'Permission denied'"
	fusermount3 -u "$MNT"; wait "$DAEMON"
	"$BIN" -f -o allow_other --owner=65534:65534 --state-dir="$STATE" --log="$LOG" "$MNT" & DAEMON=$!
	wait_for 5 mountpoint -q "$MNT"
	check "with --owner that user can write config" as_nobody sh -c "echo '{\"memory_mib\":160}' > $MNT/a/config"
	check "... and it took effect" grep -q '"memory_mib": 160' "$MNT/a/config"
	fusermount3 -u "$MNT"; wait "$DAEMON"
	"$BIN" -f -o allow_other --private --state-dir="$STATE" --log="$LOG" "$MNT" & DAEMON=$!
	wait_for 5 mountpoint -q "$MNT"
	check "with --private another user cannot read" bash -c "setpriv --reuid=65534 --regid=65534 --clear-groups cat $MNT/a/state 2>&1 | grep -q 'Permission denied'"
	fusermount3 -u "$MNT"; wait "$DAEMON"; DAEMON=
else
	echo "SKIP part: no 'nobody' user or setpriv for the permission checks"
fi
# Pollers and event readers are never left stuck when the daemon goes away.
"$BIN" -f --state-dir="$STATE" --log="$LOG" "$MNT" & DAEMON=$!
wait_for 5 mountpoint -q "$MNT"
"$H/pollwait" "$MNT/a/state" 60000 >/dev/null 2>&1 & pw=$!
timeout 60 cat "$MNT/a/events" >/dev/null 2>&1 & ev=$!
sleep 0.3
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null; DAEMON=
check "a poll() returns when the daemon dies" wait_for 2 bash -c "! kill -0 $pw 2>/dev/null"
check "an events reader returns when the daemon dies" wait_for 2 bash -c "! kill -0 $ev 2>/dev/null"
fusermount3 -uz "$MNT" 2>/dev/null
if pgrep -f "^/usr/bin/qemu-system.*$STATE" >/dev/null; then fail "no qemu left behind"; else ok "no qemu left behind"; fi
echo "reliability: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
