#!/usr/bin/env bash
# The state directory as an operator's bad day leaves it:
#   - full (a small tmpfs, filled): every state-changing write fails with
#     ENOSPC and changes nothing — config, cold and hot device adds, vCPUs,
#     mkdir — while kill still works; after a restart nothing a refused
#     write claimed is there, and the kill is;
#   - a state file cut short and one of random bytes: both sandboxes stay
#     visible as `broken` with the reason, their names reserved (mkdir is
#     EEXIST), the files kept; the running QEMU of one is found and ended
#     with `kill`, and rmdir removes them (the files stay aside);
#   - a sandbox named with a leading '.' survives a restart, its QEMU kept;
#   - invalid UTF-8 and lone surrogate escapes are EINVAL, config stays JSON;
#   - the events stream resumes after a restart from the line a reader saw.
# test-timeout: 600
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
command -v python3 >/dev/null || skip python3 "python3 is not installed (scripts/deps.sh)"
SMALL=
cleanup() { e2e_cleanup_mounts; e2e_cleanup; }
e2e_cleanup_mounts() {
	mountpoint -q "$MNT" && { for d in "$MNT"/*/ "$MNT"/.h/; do echo kill > "$d/ctl" 2>/dev/null; done; }
	[ -n "$SMALL" ] && { fusermount3 -u "$MNT" 2>/dev/null; wait "$DAEMON" 2>/dev/null; umount "$SMALL" 2>/dev/null; }
	return 0
}
trap cleanup EXIT
e2e_mount
restart() { # restart SIGNAL
	kill "-$1" "$DAEMON"; wait "$DAEMON" 2>/dev/null; fusermount3 -uz "$MNT" 2>/dev/null
	e2e_mount_again
}

# --- a full state directory ---------------------------------------------
fusermount3 -u "$MNT"; wait "$DAEMON"
SMALL=$STATE
mount -t tmpfs -o size=6m tmpfs "$SMALL" || skip tmpfs "cannot mount a small tmpfs for the state"
e2e_mount_again
mkdir "$MNT/c" "$MNT/e"
echo '{"memory_mib":128}' > "$MNT/c/config"
echo '{"memory_mib":128,"maxvcpus":2}' > "$MNT/e/config"
check "start e" bash -c "echo start > $MNT/e/ctl"
check "e boots" wait_for 90 guest_says e 'ncpus=1 '
dd if=/dev/zero of="$SMALL/filler" bs=64k 2>/dev/null
check "the state directory is full" bash -c "! dd if=/dev/zero of=$SMALL/more bs=4k count=1 2>/dev/null"
NOSPC="No space left on device"
check "a config write is ENOSPC" fails_with "$NOSPC" bash -c "echo '{\"memory_mib\":160}' > $MNT/c/config"
check "... and the config is as it was" grep -q '"memory_mib": 128' "$MNT/c/config"
check "... error says the state directory is full" grep -q "full" "$MNT/c/error"
check "a cold device add is ENOSPC" fails_with "$NOSPC" bash -c "echo '{\"type\":\"rng\",\"id\":\"r1\"}' > $MNT/c/devices/add"
check "... and there is no r1" gone "$MNT/c/devices/r1"
check "mkdir is ENOSPC" fails_with "$NOSPC" mkdir "$MNT/x"
nothing_of_x() { gone "$MNT/x" && [ ! -e "$SMALL/x" ]; }
check "... and leaves nothing" nothing_of_x
check "a hot-add is ENOSPC" fails_with "$NOSPC" bash -c "echo '{\"type\":\"rng\",\"id\":\"r2\"}' > $MNT/e/devices/add"
runs_without_r2() { gone "$MNT/e/devices/r2" && [ "$(cat "$MNT/e/state")" = running ]; }
check "... and the guest runs on without it" runs_without_r2
check "a vCPU hot-add is ENOSPC" fails_with "$NOSPC" bash -c "echo 2 > $MNT/e/cpus/target"
check "... cpus/hotplugged stays empty" bash -c "[ -z \"\$(cat $MNT/e/cpus/hotplugged)\" ]"
check "pause works on a full disk (the state file does not hold it)" bash -c "echo pause > $MNT/e/ctl"
check "... e is paused" reads_as "$MNT/e/state" paused
check "... and resume" bash -c "echo resume > $MNT/e/ctl && [ \"\$(cat $MNT/e/state)\" = running ]"
check "kill still works on a full disk" bash -c "echo kill > $MNT/e/ctl"
check "... e is stopped" wait_for 10 reads_as "$MNT/e/state" stopped
restart TERM
check "after a restart c's config is as it was" grep -q '"memory_mib": 128' "$MNT/c/config"
check "... c has no r1" gone "$MNT/c/devices/r1"
check "... there is no x" gone "$MNT/x"
check "... the kill was kept: e is stopped" reads_as "$MNT/e/state" stopped
rm -f "$SMALL/filler"
check "with room again, the config write works" bash -c "echo '{\"memory_mib\":160}' > $MNT/c/config"
for s in c e; do rmdir "$MNT/$s"; done
fusermount3 -u "$MNT"; wait "$DAEMON"; umount "$SMALL"; SMALL=
e2e_mount_again

# --- broken state files ----------------------------------------------------
mkdir "$MNT/y" "$MNT/z"
echo '{"memory_mib":128}' > "$MNT/y/config"
check "start y" bash -c "echo start > $MNT/y/ctl"
check "y boots" wait_for 90 guest_says y 'ncpus=1 '
qy=$(cat "$MNT/y/pid")
restart TERM # y's QEMU runs on
f=$STATE/y/sandbox.json
head -c $(( $(stat -c %s "$f") / 2 )) "$f" > "$f.cut" && mv "$f.cut" "$f"
head -c 3000 /dev/urandom > "$STATE/z/sandbox.json"
restart TERM
check "a state file cut short leaves y visible" bash -c "ls $MNT | grep -qx y"
check "... and broken" reads_as "$MNT/y/state" broken
check "... error says why" grep -q "could not be loaded" "$MNT/y/error"
check "... and that its QEMU (pid $qy) still runs" grep -q "pid $qy, still runs" "$MNT/y/error"
check "... which it still says after a refused read" bash -c "! cat $MNT/y/config 2>/dev/null; grep -q 'pid $qy, still runs' $MNT/y/error"
check "random bytes leave z visible and broken" reads_as "$MNT/z/state" broken
check "z's name is kept: mkdir z is EEXIST" fails_with "File exists" mkdir "$MNT/z"
check "y's config cannot be read (EIO)" fails_with "Input/output error" cat "$MNT/y/config"
check "y's file is kept aside" test -s "$STATE/y/sandbox.json.broken"
check "start on a broken sandbox is EBUSY" fails_with "Device or resource busy" bash -c "echo start > $MNT/y/ctl"
check "kill ends y's QEMU" bash -c "echo kill > $MNT/y/ctl"
check "... which is gone" wait_for 10 bash -c "! kill -0 $qy 2>/dev/null"
check "... and so is its cgroup" wait_for 5 bash -c "! ls -d /sys/fs/cgroup/*/$CG_PARENT/sb-y /sys/fs/cgroup/$CG_PARENT/sb-y 2>/dev/null"
check "... and y stays broken" reads_as "$MNT/y/state" broken
check "rmdir removes y and z" bash -c "rmdir $MNT/y $MNT/z"
check "... their files stay in the state directory" bash -c "ls $STATE | grep -q '^y.sandbox.json.broken' && ls $STATE | grep -q '^z.sandbox.json.broken'"

# --- a name with a leading dot ----------------------------------------------
mkdir "$MNT/.h"
echo '{"memory_mib":128}' > "$MNT/.h/config"
check "start .h" bash -c "echo start > $MNT/.h/ctl"
qh=$(cat "$MNT/.h/pid")
restart TERM
check ".h is there after a restart" bash -c "ls -a $MNT | grep -qx .h"
check "... still running its QEMU" bash -c "[ \"\$(cat $MNT/.h/state)\" = running ] && [ \"\$(cat $MNT/.h/pid)\" = $qh ]"
echo kill > "$MNT/.h/ctl"

# --- text that is not UTF-8 -------------------------------------------------
mkdir "$MNT/u"
check "invalid UTF-8 in a config string is EINVAL" fails_with "Invalid argument" bash -c "printf '{\"name\":\"\\xc3\\x28\"}' > $MNT/u/config"
check "... and so is \\xff in kernel_params" fails_with "Invalid argument" bash -c "printf '{\"kernel_params\":\"\\xff\"}' > $MNT/u/config"
check "... and an overlong encoding" fails_with "Invalid argument" bash -c "printf '{\"name\":\"\\xc0\\xaf\"}' > $MNT/u/config"
check "a lone surrogate escape is EINVAL" fails_with "Invalid argument" bash -c "printf '{\"name\":\"\\\\ud800\"}' > $MNT/u/config"
check "a proper pair is fine" bash -c "printf '{\"name\":\"\\\\ud83d\\\\ude00x\"}' > $MNT/u/config"
check "config is still valid JSON" python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$MNT/u/config"

# --- events across a restart --------------------------------------------------
for k in 1 2 3; do echo '{"memory_mib":'$((128 + k * 2))'}' > "$MNT/u/config"; echo start > "$MNT/u/ctl"; echo kill > "$MNT/u/ctl"; done
last=$(tail -n 1 "$STATE/u/events.jsonl" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["seq"])')
check "event lines are numbered ($last so far)" [ "${last:-0}" -ge 6 ]
restart TERM
resume() { # resume N: the first line read after writing N to an open events file
	python3 - "$MNT/u/events" "$1" <<'EOF'
import json, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, sys.argv[2].encode())
print(json.loads(os.read(fd, 65536).decode().splitlines()[0])["seq"])
EOF
}
check "a reader resumes after line $((last - 2)) across the restart" test "$(resume $((last - 2)))" = $((last - 1))
check "past the last line is ERANGE" fails_with "Numerical result out of range" bash -c "echo $((last + 99)) > $MNT/u/events"
rmdir "$MNT/u"
echo "faults-disk: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
