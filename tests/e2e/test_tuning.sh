#!/usr/bin/env bash
# Live tuning on the real guest: the balloon, a disk's size, a disk's I/O
# limits.  The guest (sbfs.dd=vda:4:1) writes 4 MiB to vda with O_DIRECT
# over and over and times each run on its console; its status line shows
# MemTotal and each disk's size in sectors.
#   - not running / wrong device: size and throttle of a balloon read
#     empty and refuse writes (EOPNOTSUPP); size is EBUSY; the balloon
#     is EBUSY; bad throttle lines are EINVAL naming the key and change
#     nothing;
#   - balloon down by 64 MiB: the guest's MemTotal drops by 64 MiB (no
#     deflate-on-oom), memory/balloon and stats say 192; back up: MemTotal
#     is back; out of range is ERANGE;
#   - size: a 32 MiB disk grown to 64 MiB is seen by the guest
#     (/sys/block/vdb/size); smaller is EINVAL unless "shrink"; a
#     read-only disk is EOPNOTSUPP;
#   - throttle: bps_total 1 MiB/s makes the 4 MiB write take >= 3 s (from
#     a few tens of ms); QEMU's own query-block shows the limit; the limit
#     is persisted, applied again at the next start (the first write after
#     boot is slow again), and an empty write clears it.
# test-timeout: 600
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
trap e2e_cleanup EXIT
e2e_mount
S=$MNT/t
mkdir "$S"
truncate -s 32M "$T/d1.img" "$T/d2.img"
truncate -s 16M "$T/ro.img"
add() { echo "$1" > "$S/devices/add"; }
check "config: the guest times 4 MiB writes to vda" bash -c "echo '{\"kernel_params\":\"sbfs.dd=vda:4:1\"}' > '$S/config'"
check "disk d1 (vda, the one written)" add "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$T/d1.img\"}"
check "disk d2 (vdb, the one resized)" add "{\"type\":\"block\",\"id\":\"d2\",\"file\":\"$T/d2.img\"}"
check "read-only disk ro (vdc)" add "{\"type\":\"block\",\"id\":\"ro\",\"file\":\"$T/ro.img\",\"readonly\":true}"
check "a balloon device" add '{"type":"balloon","id":"bal"}'
check "a second balloon is EINVAL" write_expect "$S/devices/add" '{"type":"balloon","id":"bal2"}' "Invalid argument"

# Before start, and on what is no disk.
check "bal/size reads empty" reads_as "$S/devices/bal/size" ""
check "bal/throttle reads empty" reads_as "$S/devices/bal/throttle" ""
check "bal/size write is EOPNOTSUPP" write_expect "$S/devices/bal/size" 64M "not supported"
check "bal/throttle write is EOPNOTSUPP" write_expect "$S/devices/bal/throttle" "bps_total 1" "not supported"
check "d2/size shows the image's bytes" reads_as "$S/devices/d2/size" 33554432
check "d2/size write while not running is EBUSY" write_expect "$S/devices/d2/size" 64M "busy"
check "memory/balloon is empty while not running" reads_as "$S/memory/balloon" ""
check "memory/balloon write while not running is EBUSY" write_expect "$S/memory/balloon" 192 "busy"
zeros=$(cat "$S/devices/d1/throttle")
bad_throttle() { # DESC VALUE KEY
	check "throttle: $1 is EINVAL" write_expect "$S/devices/d1/throttle" "$2" "Invalid argument"
	check "... error names $3" grep -q "throttle: $3" "$S/error"
	check "... nothing changed" reads_as "$S/devices/d1/throttle" "$zeros"
}
bad_throttle "an unknown key" "bps_totl 5" "unknown key 'bps_totl'"
bad_throttle "a negative number" "bps_total -5" "bps_total: -5 is negative"
bad_throttle "not a number" "iops_total 1e3" "iops_total: not a number"
bad_throttle "a burst without its limit" "bps_total_max 100" "bps_total_max: a burst needs its limit"
printf 'bps_read 5\nbps_read 6\n' > "$T/twice"
check "throttle: a key given twice in one write (cat) is EINVAL" fails_with "Invalid argument" bash -c "cat '$T/twice' > '$S/devices/d1/throttle'"
check "... error names it" grep -q "throttle: bps_read: given twice" "$S/error"
check "... nothing changed" reads_as "$S/devices/d1/throttle" "$zeros"
check "throttle: bps_total 2000" bash -c "echo 'bps_total 2000' > '$S/devices/d1/throttle'"
check "throttle: a burst below its limit is EINVAL" write_expect "$S/devices/d1/throttle" "bps_total_max 1000" "Invalid argument"
check "... error names the key" grep -q "bps_total_max: 1000 is below bps_total 2000" "$S/error"
check "throttle: bps_read beside bps_total is EINVAL" write_expect "$S/devices/d1/throttle" "bps_read 10" "Invalid argument"
check "... error names the key" grep -q "bps_read: cannot be combined with bps_total" "$S/error"
check "throttle still bps_total 2000 only" bash -c "[ \"\$(grep -v ' 0\$' '$S/devices/d1/throttle')\" = 'bps_total 2000' ]"
check "an empty write clears it" bash -c "echo > '$S/devices/d1/throttle'"
check "... all zero again" reads_as "$S/devices/d1/throttle" "$zeros"

check "start" bash -c "echo start > '$S/ctl'"
check "guest boots with three disks" wait_for 120 guest_says t 'blk=vda,vdb,vdc '
check "guest sees their sizes" wait_for 10 guest_says t ' sizes=vda:65536,vdb:65536,vdc:32768 '

# dd runs: "GUEST dd dev=vda mib=4 ms=N seq=K"
dd_lines() { tr -d '\r' < "$S/console" | grep -a '^GUEST dd dev=vda '; }
last_seq() { dd_lines | tail -n1 | sed 's/.* seq=//'; }
dd_ms() { dd_lines | awk -v k="seq=$1" '$NF == k {sub("ms=", "", $5); print $5}'; }
seq_at_least() { [ "$(last_seq)" -ge "$1" ] 2>/dev/null; }
check "the guest's timed writes run" wait_for 30 seq_at_least 2
fast=$(dd_ms "$(last_seq)")
echo "# unthrottled: 4 MiB in $fast ms"
check "unthrottled, 4 MiB take under 3 s ($fast ms)" [ "$fast" -lt 3000 ]

# Size.
check "grow d2 to 64 MiB" bash -c "echo 64M > '$S/devices/d2/size'"
check "d2/size reads 67108864" reads_as "$S/devices/d2/size" 67108864
check "the guest sees vdb grown (131072 sectors)" wait_for 15 guest_says t ' sizes=vda:65536,vdb:131072,vdc:32768 '
check "smaller is EINVAL" write_expect "$S/devices/d2/size" 32M "Invalid argument"
check "... error says how to shrink" grep -q 'write "33554432 shrink"' "$S/error"
check "not a multiple of 512 is EINVAL" write_expect "$S/devices/d2/size" 70000000 "Invalid argument"
check "not a size is EINVAL" write_expect "$S/devices/d2/size" big "Invalid argument"
check "shrink to 48 MiB with shrink" bash -c "echo '48M shrink' > '$S/devices/d2/size'"
check "the guest sees vdb at 98304 sectors" wait_for 15 guest_says t ' sizes=vda:65536,vdb:98304,vdc:32768 '
check "a read-only disk's size is EOPNOTSUPP" write_expect "$S/devices/ro/size" 32M "not supported"

# Throttle, live.
s0=$(last_seq)
check "throttle d1 to 1 MiB/s" bash -c "echo 'bps_total 1048576' > '$S/devices/d1/throttle'"
check "QEMU applies it (query-block bps)" bash -c "exec 3<>'$S/qmp'; echo '{\"execute\":\"query-block\"}' >&3; cat <&3 | jq -e '.return[] | select(.inserted[\"node-name\"] == \"drive-d1\") | .inserted.bps == 1048576' >/dev/null"
check "a write begun after it runs" wait_for 40 seq_at_least $((s0 + 2))
slow=$(dd_ms $((s0 + 2)))
echo "# at 1 MiB/s: 4 MiB in $slow ms"
check "throttled, 4 MiB take at least 3 s ($slow ms)" [ "$slow" -ge 3000 ]
check "stats: d1.wr_bytes counts the writes" bash -c "[ \"\$(awk '\$1 == \"d1.wr_bytes\" {print \$2}' '$S/stats')\" -ge $(( (s0 + 2) * 4194304 )) ]"

# Balloon.
mem0=$(guest_line t | sed 's/.* mem=\([0-9]*\).*/\1/')
check "balloon to 192 MiB (64 MiB back from the guest)" bash -c "echo 192 > '$S/memory/balloon'"
mem_is() { [ "$(guest_line t | sed 's/.* mem=\([0-9]*\).*/\1/')" = "$1" ]; }
check "the guest's MemTotal drops by 64 MiB ($mem0 kB - 65536)" wait_for 30 mem_is $((mem0 - 65536))
check "memory/balloon reads 192" wait_for 5 reads_as "$S/memory/balloon" 192
check "stats: balloon_actual_mib 192" bash -c "grep -qx 'balloon_actual_mib 192' '$S/stats'"
check "above memory/target is ERANGE" write_expect "$S/memory/balloon" 300 "Numerical result out of range"
check "0 is ERANGE" write_expect "$S/memory/balloon" 0 "Numerical result out of range"
check "not a number is EINVAL" write_expect "$S/memory/balloon" lots "Invalid argument"
check "balloon back to 256" bash -c "echo 256 > '$S/memory/balloon'"
check "the guest's MemTotal is back" wait_for 30 mem_is "$mem0"

# Persisted, applied again at start.
check "the limit is in sandbox.json" grep -q '"bps_total": 1048576' "$STATE/t/sandbox.json"
check "stop" bash -c "echo stop > '$S/ctl'"
check "the limit is still there" grep -qx 'bps_total 1048576' "$S/devices/d1/throttle"
CONSOLE_FROM=$(stat -c %s "$S/console")
check "start again" bash -c "echo start > '$S/ctl'"
check "QEMU has the limit again (query-block bps)" bash -c "exec 3<>'$S/qmp'; echo '{\"execute\":\"query-block\"}' >&3; cat <&3 | jq -e '.return[] | select(.inserted[\"node-name\"] == \"drive-d1\") | .inserted.bps == 1048576' >/dev/null"
dd_lines() { tail -c +$((CONSOLE_FROM + 1)) "$S/console" | tr -d '\r' | grep -a '^GUEST dd dev=vda '; }
check "the first write after boot runs" wait_for 120 seq_at_least 1
first=$(dd_ms 1)
echo "# after a restart: 4 MiB in $first ms"
check "... throttled again: at least 3 s ($first ms)" [ "$first" -ge 3000 ]
check "clear the limit (empty write)" bash -c "echo > '$S/devices/d1/throttle'"
s1=$(last_seq)
check "a write begun after it runs" wait_for 40 seq_at_least $((s1 + 2))
fast2=$(dd_ms $((s1 + 2)))
check "unthrottled again: under 3 s ($fast2 ms)" [ "$fast2" -lt 3000 ]
check "stop" bash -c "echo stop > '$S/ctl'"
echo "tuning: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
