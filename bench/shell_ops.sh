#!/usr/bin/env bash
# shell_ops.sh SANDBOX_DIR RUNS DISK_IMAGE — the control-path ops as a shell
# user types them, timed with bash's $EPOCHREALTIME around builtins only
# (echo, read: no fork), so the figure is the shell's syscalls plus the
# daemon.  Prints "op<TAB>microseconds" lines for sbbench to summarise.
# The sandbox must be running and have no device "d1".
set -eu
S=$1 RUNS=$2 IMG=$3

us() { local t=${1/./}; echo $((10#$t)); }

spec="{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$IMG\",\"format\":\"raw\",\"readonly\":false}"
for _ in $(seq "$RUNS"); do
	t0=$EPOCHREALTIME; read -r _ < "$S/state"; t1=$EPOCHREALTIME
	printf 'state read\t%d\n' $(( $(us "$t1") - $(us "$t0") ))
	t0=$EPOCHREALTIME; echo pause > "$S/ctl"; t1=$EPOCHREALTIME
	printf 'pause\t%d\n' $(( $(us "$t1") - $(us "$t0") ))
	t0=$EPOCHREALTIME; echo resume > "$S/ctl"; t1=$EPOCHREALTIME
	printf 'resume\t%d\n' $(( $(us "$t1") - $(us "$t0") ))
	t0=$EPOCHREALTIME; echo "$spec" > "$S/devices/add"; t1=$EPOCHREALTIME
	printf 'disk hot-add\t%d\n' $(( $(us "$t1") - $(us "$t0") ))
	t0=$EPOCHREALTIME; echo d1 > "$S/devices/remove"; t1=$EPOCHREALTIME
	printf 'disk hot-remove\t%d\n' $(( $(us "$t1") - $(us "$t0") ))
done
