#!/usr/bin/env bash
# Observability on the real guest: <name>/stats, the root's metrics, and
# the raw <name>/qmp session.
#   - a disk the guest writes 4 MiB to (sbfs.dd) shows it in ID.wr_bytes
#     (and in /metrics), a disk it does not write stays at 0;
#   - a busy guest's (sbfs.busy) vCPU thread and its cgroup's CPU time
#     grow by seconds while an idle guest's vCPU barely moves;
#   - `stats` of a sandbox that never ran reads zeros, no error;
#   - /metrics passes `promtool check metrics` with sandboxes running,
#     paused and created, and states them;
#   - qmp answers query-status (with the caller's id) and query-version,
#     refuses device_add (EPERM, naming devices/add), non-JSON and two
#     objects in one write (EINVAL), over 64 KiB (EINVAL), gathers a
#     command written line by line; it is root's: the sandbox's owner gets
#     EACCES until the daemon runs with --qmp-access=owner;
#   - a SIGSTOPped QEMU: its stats still read at once with a growing
#     stats_age_ms, its qmp write fails ETIMEDOUT after the QMP timeout
#     while the other sandbox's stats and qmp answer; after SIGCONT the
#     same session answers again.
# test-timeout: 600
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
command -v promtool >/dev/null || skip promtool "promtool is not installed (Debian package prometheus; scripts/deps.sh)"
command -v setpriv >/dev/null || skip setpriv "setpriv (util-linux) is not installed"
trap e2e_cleanup EXIT
UA=61011
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
E2E_ARGS="-o allow_other"
e2e_mount
chmod 755 "$T"

stat_of() { awk -v k="$2" '$1 == k {print $2}' "$MNT/$1/stats"; }
A=$MNT/a B=$MNT/b C=$MNT/c
mkdir "$A" "$B" "$C"

# a: two disks; the guest writes to the second (vdb) once it appears.
truncate -s 32M "$T/d1.img" "$T/d2.img"
check "a: config asks the guest for a timed 4 MiB write to vdb" \
	bash -c "echo '{\"kernel_params\":\"sbfs.dd=vdb:4\"}' > '$A/config'"
check "a: cold disk d2 (vda)" bash -c "echo '{\"type\":\"block\",\"id\":\"d2\",\"file\":\"$T/d2.img\"}' > '$A/devices/add'"
check "b: a guest that keeps its vCPU busy" bash -c "echo '{\"kernel_params\":\"sbfs.busy=1\"}' > '$B/config'"

# Never started: the figures that exist, zeros; no error.
check "c (never started): stats reads" cat "$C/stats"
check "... zeros for CPU, memory and uptime" bash -c "[ \"\$(awk '{print \$2}' '$C/stats' | sort -u)\" = 0 ]"
check "... the keys of a sandbox without devices" reads_as "$C/stats" "$(printf 'cpu_usage_usec 0\ncpu_user_usec 0\ncpu_system_usec 0\nrss_bytes 0\nuptime_ms 0')"
check "... and no error" reads_as "$C/error" ""

check "start a" bash -c "echo start > '$A/ctl'"
check "start b" bash -c "echo start > '$B/ctl'"
check "a boots" wait_for 120 guest_says a 'blk=vda '
check "b boots" wait_for 120 guest_says b 'ncpus=1 '

# Disk traffic.
check "a: d2.wr_bytes is 0 before anything wrote" [ "$(stat_of a d2.wr_bytes)" = 0 ]
check "a: hot-add d1 (vdb)" bash -c "echo '{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\"}' > '$A/devices/add'"
dd_done() { tr -d '\r' < "$A/console" | grep -aq '^GUEST dd dev=vdb mib=4 '; }
check "the guest wrote 4 MiB to vdb" wait_for 60 dd_done
echo "# $(tr -d '\r' < "$A/console" | grep -a '^GUEST dd' | tail -n1)"
wr_moved() { [ "$(stat_of a d1.wr_bytes)" -ge 4194304 ]; }
check "a: d1.wr_bytes moved past 4 MiB" wait_for 5 wr_moved
check "a: d1.wr_ops counts the writes" bash -c "[ \"\$(awk '\$1 == \"d1.wr_ops\" {print \$2}' '$A/stats')\" -ge 4 ]"
check "a: d1.wr_total_time_ns is not 0" bash -c "[ \"\$(awk '\$1 == \"d1.wr_total_time_ns\" {print \$2}' '$A/stats')\" -gt 0 ]"
check "a: d2, which nobody wrote, stays at 0" [ "$(stat_of a d2.wr_bytes)" = 0 ]
check "a: the stats are fresh (stats_age_ms < 1500)" bash -c "[ \"\$(awk '\$1 == \"stats_age_ms\" {print \$2}' '$A/stats')\" -lt 1500 ]"
check "a: memory_current_bytes from its cgroup" bash -c "[ \"\$(awk '\$1 == \"memory_current_bytes\" {print \$2}' '$A/stats')\" -gt 10000000 ]"
echo "# a: $(tr '\n' ' ' < "$A/stats")"

# vCPU time: b spins, a idles.
a0=$(stat_of a vcpu0_usec) b0=$(stat_of b vcpu0_usec) bc0=$(stat_of b cpu_usage_usec)
sleep 4
a1=$(stat_of a vcpu0_usec) b1=$(stat_of b vcpu0_usec) bc1=$(stat_of b cpu_usage_usec)
da=$((a1 - a0)) db=$((b1 - b0)) dbc=$((bc1 - bc0))
echo "# over 4 s: a vcpu0 +${da} us, b vcpu0 +${db} us, b cgroup +${dbc} us (2 cores shared with other jobs)"
check "b's busy vCPU ran at least 1.5 s of 4" [ "$db" -ge 1500000 ]
check "... over 3 times the idle a's" [ "$db" -gt $((3 * da)) ]
check "b's cgroup CPU time grew at least as much" [ "$dbc" -ge $((db * 9 / 10)) ]

# The states for /metrics: a running, b paused, c created.
check "pause b" bash -c "echo pause > '$B/ctl'"
check "/metrics passes promtool check metrics" bash -c "cat '$MNT/metrics' | promtool check metrics"
metric() { grep -qxF "$1" "$MNT/metrics" || { echo "  no line '$1' in metrics"; return 1; }; }
check "... a is running" metric 'sandboxfs_state{sandbox="a",state="running"} 1'
check "... b is paused" metric 'sandboxfs_state{sandbox="b",state="paused"} 1'
check "... c is created" metric 'sandboxfs_state{sandbox="c",state="created"} 1'
check "... a's d1 write counter" bash -c "awk -F'} ' '/^sandboxfs_block_write_bytes_total\\{sandbox=\"a\",device=\"d1\"/ {exit !(\$2 >= 4194304)}' '$MNT/metrics'"
check "... counters have HELP and TYPE" grep -qx '# TYPE sandboxfs_cpu_usage_seconds_total counter' "$MNT/metrics"
check "... c's slot count, from the record" metric 'sandboxfs_slots_free{sandbox="c"} 4'
check "resume b" bash -c "echo resume > '$B/ctl'"

# qmp: a session per open file.
exec 3<>"$A/qmp"
echo '{"execute":"query-status","id":"mine-1"}' >&3
check "qmp: query-status answers running, with the caller's id" \
	bash -c "cat <&3 | jq -e '.return.status == \"running\" and .id == \"mine-1\"' >/dev/null"
echo '{"execute":"query-version"}' >&3
check "qmp: query-version answers QEMU's version" bash -c "cat <&3 | jq -e '.return.qemu.major >= 7' >/dev/null"
check "qmp: device_add is EPERM" fails_with "Operation not permitted" \
	bash -c "echo '{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-rng-pci\",\"id\":\"r\"}}' >&3"
check "... error names devices/add" grep -q "device_add: refused.*use devices/add" "$A/error"
check "... and nothing was added" bash -c "[ \"\$(ls '$A/devices' | tr '\n' ' ')\" = 'add d1 d2 remove ' ]"
check "qmp: quit is EPERM too (ctl)" fails_with "Operation not permitted" bash -c "echo '{\"execute\":\"quit\"}' >&3"
check "qmp: non-JSON is EINVAL" fails_with "Invalid argument" bash -c "echo 'query-status' >&3"
check "qmp: two objects in one write are EINVAL" fails_with "Invalid argument" \
	bash -c "printf '%s' '{\"execute\":\"query-status\"}{\"execute\":\"query-name\"}' >&3"
check "... error says one command per write" grep -q "one command per write" "$A/error"
big=$(head -c 70000 /dev/zero | tr '\0' x)
check "qmp: a command over 64 KiB is EINVAL" fails_with "Invalid argument" \
	bash -c "printf '{\"execute\":\"query-status\",\"id\":\"%s\"}' '$big' >&3"
echo '{"execute":"query-name",
"id":2}' >&3
check "qmp: a command written line by line is gathered" bash -c "[ \"\$(cat <&3)\" = '{\"return\":{\"name\":\"a\"},\"id\":2}' ]"
check "qmp: the session is still usable" bash -c "echo '{\"execute\":\"query-status\"}' >&3 && cat <&3 | grep -q running"
echo pause > "$A/ctl"; echo resume > "$A/ctl"
check "qmp: events (STOP, RESUME just now) never appear in the session" bash -c "[ -z \"\$(cat <&3)\" ]"
check "... they are in events" bash -c "exec 4<'$A/events'; echo pause > '$A/ctl'; echo resume > '$A/ctl'; timeout 5 head -n 4 <&4 | grep -q '\"STOP\"'"
exec 3>&-
check "qmp: opened read-only is EACCES" fails_with "Permission denied" cat "$A/qmp"

# Who may: root only by default, even the sandbox's owner is refused.
check "hand b to uid $UA" chown $UA:$UA "$B"
check "b's owner may not open b/qmp (root's by default)" fails_with "Permission denied" \
	as $UA bash -c "exec 3<>'$B/qmp'"
check "... error names --qmp-access" grep -q -- "--qmp-access=owner" "$B/error"

# A stuck QEMU: a's stats read at once, its qmp times out, b carries on.
qa=$(cat "$A/pid")
exec 3<>"$A/qmp"
kill -STOP "$qa"
sleep 2
t0=$(date +%s%N); cat "$A/stats" > "$T/stuck.stats"; t1=$(date +%s%N)
check "stuck a: stats reads within 1 s ($(( (t1 - t0) / 1000000 )) ms)" [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
sleep 2
check "stuck a: stats_age_ms grows past 1.5 s" bash -c "[ \"\$(awk '\$1 == \"stats_age_ms\" {print \$2}' '$A/stats')\" -gt 1500 ]"
( sleep 1; t=$(date +%s%N); cat "$B/stats" >/dev/null; echo $(( ($(date +%s%N) - t) / 1000000 )) > "$T/b.ms" ) &
bpid=$!
check "stuck a: qmp write is ETIMEDOUT" fails_with "Connection timed out" bash -c "echo '{\"execute\":\"query-status\"}' >&3"
wait "$bpid"
check "... meanwhile b's stats read at once ($(cat "$T/b.ms") ms)" [ "$(cat "$T/b.ms")" -lt 1000 ]
check "... and b's qmp answers" bash -c "exec 4<>'$B/qmp'; echo '{\"execute\":\"query-status\"}' >&4; cat <&4 | grep -q '\"running\":true'"
kill -CONT "$qa"
check "after SIGCONT the same session answers" \
	wait_for 10 bash -c "echo '{\"execute\":\"query-status\",\"id\":9}' >&3 && cat <&3 | grep -q '\"id\":9'"
exec 3>&-

# --qmp-access=owner: the owner may (b's QEMU lives on across the restart).
fusermount3 -u "$MNT"; wait "$DAEMON"; DAEMON=
E2E_ARGS="-o allow_other --qmp-access=owner" e2e_mount_again
check "after a restart with --qmp-access=owner, b's owner gets answers" \
	as $UA bash -c "exec 3<>'$B/qmp'; echo '{\"execute\":\"query-status\"}' >&3; cat <&3 | grep -q '\"status\":\"running\"'"
check "... but not on a, which is not theirs" fails_with "Permission denied" as $UA bash -c "exec 3<>'$A/qmp'"
check "--qmp-access takes only root or owner" bash -c "! '$BIN' --qmp-access=all '$T/x' 2>/dev/null"

for s in a b; do echo stop > "$MNT/$s/ctl"; done
echo "stats: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
