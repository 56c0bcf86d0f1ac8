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
timeout 300 cat "$MNT/a/events" > "$T/events.out" & # ends with a removal or the unmount
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
# proc_state PID: the kernel's one-letter state (T = stopped by a signal).
proc_state() { sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
proc_stopped() { [ "$(proc_state "$1")" = T ]; }
says() { case "$1" in *"$2"*) return 0 ;; esac; return 1; } # says TEXT WANT
# console_bytes SANDBOX: how much the guest has said so far.
console_bytes() { wc -c < "$MNT/$1/console"; }
apid=$(cat "$MNT/a/pid")
check "a has a QEMU pid" [ -n "$apid" -a -d "/proc/$apid" ]
kill -STOP "$apid"
check "a's QEMU is really stopped (SIGSTOP, state T)" wait_for 2 proc_stopped "$apid"
t0=$(ms_now)
out=$( { echo pause > "$MNT/a/ctl"; } 2>&1 ); wrc=$?
t1=$(ms_now)
check "write to the stopped QEMU's sandbox fails ..." [ $wrc -ne 0 ]
check "... with ETIMEDOUT (got: ${out:-success})" says "$out" "Connection timed out"
check "... after a bounded wait ($((t1 - t0)) ms)" [ $((t1 - t0)) -lt 15000 ]
check "error says the QMP command timed out" grep -qi "timed out\|within" "$MNT/a/error"
check "the pause did not take effect: a still reads running" reads_as "$MNT/a/state" running
# QEMU has not answered since: the next change is not sent at all, and
# fails at once instead of waiting out another timeout.
t0=$(ms_now)
out=$( { echo pause > "$MNT/a/ctl"; } 2>&1 ); wrc=$?
t1=$(ms_now)
check "a second pause fails at once with ETIMEDOUT ($((t1 - t0)) ms: nothing sent)" \
	bash -c "[ $wrc -ne 0 ] && [ $((t1 - t0)) -lt 1000 ] && grep -q 'has not answered' '$MNT/a/error'"
broken=0 times=()
for _ in $(seq 20); do
	t0=$(ms_now)
	cat "$MNT/b/state" >/dev/null && ls "$MNT" >/dev/null || broken=$((broken + 1))
	t1=$(ms_now)
	times+=($((t1 - t0)))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
median=${sorted[9]} worst=${sorted[19]}
check "cat b/state + ls succeed while a's QMP hangs" [ $broken -eq 0 ]
# Waiting on a's QMP would take its 5 s timeout: the worst case must stay
# far below that, the typical one fast (the worst alone also measures the
# machine's load: other guests share these cores).
check "... and stay fast (median ${median} ms, worst ${worst} ms)" [ "$median" -le 50 -a "$worst" -le 1000 ]
check "cat a/state itself does not wait for QMP (and says running)" \
	bash -c "[ \"\$(timeout 1 cat '$MNT/a/state')\" = running ]"
check "QEMU is still stopped after all that (the test measured what it claims)" proc_stopped "$apid"
kill -CONT "$apid"
# After SIGCONT QEMU runs the queued QMP `stop`s (their replies come too
# late and are dropped) and its STOP event makes a `paused`; if it had not,
# a fresh pause must succeed and make it `paused`.  Either way the state
# has to become paused, and the guest has to be frozen for real.
paused_or_pause() {
	[ "$(cat "$MNT/a/state")" = paused ] && return 0
	echo pause > "$MNT/a/ctl" 2>/dev/null && [ "$(cat "$MNT/a/state")" = paused ]
}
check "a answers again after SIGCONT: state becomes paused" wait_for 10 paused_or_pause
check "a reads paused" reads_as "$MNT/a/state" paused
# A running guest prints a GUEST line every 0.5 s (slower under load).
c0=$(console_bytes a); sleep 3; c1=$(console_bytes a)
check "the paused guest is silent (console $c0 → $c1 bytes in 3 s)" [ -n "$c0" -a "$c0" = "$c1" ]
check "resume succeeds" bash -c "echo resume > '$MNT/a/ctl'"
check "a reads running" reads_as "$MNT/a/state" running
CONSOLE_FROM=$(console_bytes a)
check "the resumed guest speaks again" wait_for 10 guest_says a 'ncpus=2 '
CONSOLE_FROM=0

# Crash: QEMU killed → crashed within a second, console kept.
cbefore=$(stat -c %s "$MNT/b/console")
bpid=$(cat "$MNT/b/pid")
check "b has a QEMU pid" [ -n "$bpid" -a -d "/proc/$bpid" ]
kill -9 "$bpid"; t0=$(ms_now)
wait_for 1 bash -c "[ \"\$(cat '$MNT/b/state')\" = crashed ]"; t1=$(ms_now)
check "crashed within a second ($((t1 - t0)) ms)" [ "$(cat "$MNT/b/state")" = crashed -a $((t1 - t0)) -le 1000 ]
check "error names the signal" grep -q "signal 9" "$MNT/b/error"
check "console log kept" [ "$(stat -c %s "$MNT/b/console")" -ge "$cbefore" -a "$cbefore" -gt 0 ]

# 10,000 hostile writes: every one fails with an errno, nothing changes.
dpid=$DAEMON
fd_count() { local l; l=$(ls "/proc/$dpid/fd") || return 1; echo "$l" | wc -l; }
fds_before=$(fd_count)
qemus_before=$(pgrep -fc "^/usr/bin/qemu-system.*$STATE")
# Every read must succeed: a snapshot of two failed reads is not "unchanged".
snap() {
	local n f
	for n in a b; do
		for f in config state cmdline cpus/target; do cat "$MNT/$n/$f" || return 1; done
		ls "$MNT/$n/devices" || return 1
	done
}
s0=$(snap); check "snapshot of a and b before the hostile writes" [ $? -eq 0 -a -n "$s0" ]
check "a is running, b crashed, before the hostile writes" bash -c "[ \"\$(cat '$MNT/a/state') \$(cat '$MNT/b/state')\" = 'running crashed' ]"
check "5,000 hostile writes to a running sandbox all fail, each with its file's errno" "$H/fsfuzz" "$MNT/a" 5000 1
check "5,000 hostile writes to a crashed sandbox all fail, each with its file's errno" "$H/fsfuzz" "$MNT/b" 5000 2
check "daemon alive and mounted" bash -c "kill -0 $dpid && mountpoint -q '$MNT'"
s1=$(snap); check "snapshot of a and b after" [ $? -eq 0 -a -n "$s1" ]
check "no sandbox changed" [ "$s0" = "$s1" ]
fds_after=$(fd_count)
fds_kept() { [ -n "$fds_before" ] && [ -n "$fds_after" ] && [ "$fds_after" -le "$fds_before" ]; }
check "no fd leaked (${fds_before:-?} → ${fds_after:-?})" fds_kept
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
check "c starts" bash -c "echo start > '$MNT/c/ctl'"
cpid=$(cat "$MNT/c/pid")
check "c has a QEMU pid" [ -n "$cpid" -a -d "/proc/$cpid" ]
# A confined QEMU gets no path to parse at all: the daemon opened the file
# and QEMU names it /dev/fdset/N (the comma escaping of paths in keyval
# options is proven by the unit goldens, where paths do reach the argv).
n=$(tr '\0' '\n' < /proc/$cpid/cmdline | grep -c "inj/a")
check "QEMU's argv holds no such path ($n)" [ "$n" = 0 ]
check "... the disk is an fdset" bash -c "tr '\\0' '\\n' < /proc/$cpid/cmdline | grep -q 'file.filename=/dev/fdset/'"
check "... and QEMU holds that very file, comma and all" bash -c "ls -l /proc/$cpid/fd | grep -qF '$T/inj/a,b.img'"
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
	# Each refusal must come from the mounted sandboxfs, with EACCES, and
	# leave nothing behind (an unmounted $MNT refuses mkdir too).
	"$BIN" -f -o allow_other --state-dir="$STATE" --log="$LOG" "$MNT" & DAEMON=$!
	check "remounted with allow_other" wait_for 5 mounted
	check "another user can read through allow_other" bash -c "[ \"\$(setpriv --reuid=65534 --regid=65534 --clear-groups cat '$MNT/a/state')\" = stopped ]"
	check "another user cannot write ctl (EACCES)" fails_with "Permission denied" as_nobody sh -c "echo start > '$MNT/a/ctl'"
	check "... and a did not start" reads_as "$MNT/a/state" stopped
	check "another user cannot mkdir (EACCES)" fails_with "Permission denied" as_nobody mkdir "$MNT/x"
	check "... and there is no x" gone "$MNT/x"
	fusermount3 -u "$MNT"; wait "$DAEMON"
	"$BIN" -f -o allow_other --owner=65534:65534 --state-dir="$STATE" --log="$LOG" "$MNT" & DAEMON=$!
	check "remounted with --owner" wait_for 5 mounted
	check "with --owner that user can write config" as_nobody sh -c "echo '{\"memory_mib\":160}' > $MNT/a/config"
	check "... and it took effect" grep -q '"memory_mib": 160' "$MNT/a/config"
	fusermount3 -u "$MNT"; wait "$DAEMON"
	"$BIN" -f -o allow_other --private --state-dir="$STATE" --log="$LOG" "$MNT" & DAEMON=$!
	check "remounted with --private" wait_for 5 mounted
	check "with --private another user cannot read (EACCES)" fails_with "Permission denied" as_nobody cat "$MNT/a/state"
	check "... while its owner can" reads_as "$MNT/a/state" stopped
	fusermount3 -u "$MNT"; wait "$DAEMON"; DAEMON=
else
	skip_case nobody-user "no 'nobody' user or setpriv for the permission checks"
fi
# Pollers and event readers are never left stuck when the daemon goes away.
"$BIN" -f --state-dir="$STATE" --log="$LOG" "$MNT" & DAEMON=$!
check "remounted" wait_for 5 mounted
"$H/pollwait" "$MNT/a/state" 60000 >/dev/null 2>&1 & pw=$!
timeout 60 cat "$MNT/a/events" >/dev/null 2>&1 & ev=$!
sleep 0.3
check "a poll() and an events reader are blocked while the daemon lives" bash -c "kill -0 $pw && kill -0 $ev"
kill -9 "$DAEMON"; wait "$DAEMON" 2>/dev/null; DAEMON=
check "a poll() returns when the daemon dies" wait_for 2 bash -c "! kill -0 $pw 2>/dev/null"
check "an events reader returns when the daemon dies" wait_for 2 bash -c "! kill -0 $ev 2>/dev/null"
fusermount3 -uz "$MNT" 2>/dev/null
if pgrep -f "^/usr/bin/qemu-system.*$STATE" >/dev/null; then fail "no qemu left behind"; else ok "no qemu left behind"; fi
echo "reliability: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
