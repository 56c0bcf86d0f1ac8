#!/usr/bin/env bash
# Daemon restart: three running sandboxes with hot-added vCPUs and disks
# survive SIGTERM and SIGKILL of the daemon; the next daemon re-adopts their
# QEMUs, every file reads byte-identical, hotplug still works and the guest
# console goes on.  A QEMU that died meanwhile shows `crashed`.
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
trap e2e_cleanup EXIT
e2e_mount

# Every readable file of every sandbox but the console (which grows),
# events (a stream), qmp (a session: no snapshot to read) and the live
# figures (stats, metrics: CPU time and uptime move; test_stats checks
# them), as one text: names and contents.  Only successful reads
# count: a file that fails to read (even the same way twice) makes the
# snapshot fail, saying which on stderr.  Write-only files (devices/add,
# devices/remove: mode 0200) are not read.
snapshot() {
	local f out list bad=0
	list=$(cd "$MNT" && find . -type f -perm -u=r ! -name console ! -name events ! -name qmp \
		! -name stats ! -name metrics | sort) || return 1
	[ -n "$list" ] || { echo "  snapshot: no file under $MNT" >&2; return 1; }
	for f in $list; do
		if out=$(cat "$MNT/$f" 2>&1); then
			printf '== %s\n%s\n' "$f" "$out"
		else
			echo "  snapshot: reading $f failed: $out" >&2
			bad=1
		fi
	done
	return $bad
}
# the_same BEFORE AFTER: identical, else the first differences.
the_same() {
	[ "$1" = "$2" ] && return 0
	diff <(echo "$1") <(echo "$2") | head -20
	return 1
}
restart_daemon() { # restart_daemon SIGNAL
	kill "-$1" "$DAEMON"; wait "$DAEMON" 2>/dev/null
	# After SIGKILL the mount is left dead ("transport endpoint not connected").
	fusermount3 -uz "$MNT" 2>/dev/null
	e2e_mount_again
	check "the daemon is back and mounted after SIG$1" wait_for 5 mounted
}

for n in a b c; do
	mkdir "$MNT/$n"
	echo '{"memory_mib":192}' > "$MNT/$n/config"
	echo start > "$MNT/$n/ctl"
done
for n in a b c; do check "$n boots" wait_for 90 guest_says $n 'ncpus=1 '; done
for n in a b c; do
	truncate -s 16M "$T/$n.img"
	echo 2 > "$MNT/$n/cpus/target"
	echo "{\"type\":\"block\",\"id\":\"disk-$n\",\"file\":\"$T/$n.img\"}" > "$MNT/$n/devices/add"
done
for n in a b c; do check "$n sees 2 CPUs and vda" wait_for 30 guest_says $n 'ncpus=2 blk=vda '; done
pids=$(cat "$MNT"/{a,b,c}/pid | tr '\n' ' ')
check "three QEMU pids ($pids)" [ "$(echo $pids | wc -w)" = 3 ]
before=$(snapshot); check "every file reads before SIGTERM" [ $? -eq 0 ]

# 1. SIGTERM: QEMUs keep running, the next daemon re-adopts them.
restart_daemon TERM
check "QEMUs survived SIGTERM of the daemon" bash -c "[ -n '$pids' ] && for p in $pids; do [ -d /proc/\$p ] || exit 1; done"
after=$(snapshot); check "every file reads after SIGTERM + restart" [ $? -eq 0 ]
check "every file byte-identical after SIGTERM + restart" the_same "$before" "$after"
check "... and they say running, as before" bash -c "[ \"\$(cat '$MNT'/{a,b,c}/state | sort -u)\" = running ]"
CONSOLE_FROM=$(stat -c %s "$MNT/a/console")
check "the guest console goes on" wait_for 10 guest_says a 'ncpus=2 '
check "hotplug works after re-adoption" bash -c "echo 3 > '$MNT/a/cpus/target'"
check "guest a sees 3 CPUs" wait_for 30 guest_says a 'ncpus=3 '
truncate -s 16M "$T/a2.img"
check "disk hot-add after re-adoption" bash -c "echo '{\"type\":\"block\",\"id\":\"disk-a2\",\"file\":\"$T/a2.img\"}' > '$MNT/a/devices/add'"
check "guest a sees vdb" wait_for 30 guest_says a 'blk=vda,vdb '

# 2. SIGKILL: no clean shutdown, the state on disk is still consistent.
# b is paused: the state file records a live QEMU as running, paused or
# not, and the next daemon asks QEMU.
check "pause b" bash -c "echo pause > '$MNT/b/ctl'"
check "... its state file says running (a restart asks QEMU)" grep -q '"state": "running"' "$STATE/b/sandbox.json"
before=$(snapshot); check "every file reads before SIGKILL" [ $? -eq 0 ]
restart_daemon KILL
after=$(snapshot); check "every file reads after SIGKILL + restart" [ $? -eq 0 ]
check "every file byte-identical after SIGKILL + restart" the_same "$before" "$after"
check "b is paused, as QEMU says" reads_as "$MNT/b/state" paused
check "resume b" bash -c "echo resume > '$MNT/b/ctl'"
check "hotplug works after SIGKILL" bash -c "echo 3 > '$MNT/b/cpus/target'"
check "guest b sees 3 CPUs" wait_for 30 guest_says b 'ncpus=3 '

# 3. A QEMU that dies while no daemon runs shows crashed.
kill -TERM "$DAEMON"; wait "$DAEMON" 2>/dev/null; DAEMON=
cpid=$(grep -o '"pid": [0-9]*' "$STATE/c/sandbox.json" | grep -o '[0-9]*$')
check "c's pid is on disk ($cpid)" [ -n "$cpid" ]
check "c's QEMU is killed while no daemon runs" kill -9 "$cpid"
"$BIN" -f --state-dir="$STATE" --log="$LOG" "$MNT" &
DAEMON=$!
check "the daemon is back and mounted" wait_for 5 mounted
check "c shows crashed" reads_as "$MNT/c/state" crashed
check "c's error says it was lost" grep -q "lost while sandboxfs was not running" "$MNT/c/error"
check "a is still running" reads_as "$MNT/a/state" running
# This daemon has the default --cgroup-parent: a's QEMU stays in the cgroup
# it runs in (under the test's parent), which goes with it at stop.
check "a's cgroup is the one its QEMU runs in ($CG_PARENT/sb-a)" grep -q "/$CG_PARENT/sb-a\$" "$MNT/a/cgroup"
check "... as the log says" grep -q "a: qemu pid [0-9]* stays in its cgroup under $CG_PARENT" "$LOG"
check "c can be started again" bash -c "echo start > '$MNT/c/ctl'"

for n in a b c; do echo stop > "$MNT/$n/ctl"; done
check "all stopped" [ "$(cat "$MNT"/{a,b,c}/state | sort -u)" = stopped ]
cgs() { ls -d /sys/fs/cgroup/*/"$CG_PARENT"/sb-* /sys/fs/cgroup/"$CG_PARENT"/sb-* 2>/dev/null; }
check "... and their cgroups are gone, though made under another parent" [ -z "$(cgs)" ]
fusermount3 -u "$MNT"; wait "$DAEMON"; DAEMON=
if pgrep -f "^/usr/bin/qemu-system.*$STATE" >/dev/null; then fail "no qemu left behind"; else ok "no qemu left behind"; fi
echo "restart: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
