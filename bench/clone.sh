#!/usr/bin/env bash
# bench/clone.sh [N] — VM templates against cold boots, side by side in one
# run (issue 13's targets), on QEMU 10 (build/qemu-10: a clone needs
# memory-backend-file rom=off, QEMU >= 8.2) and the built-in guest, TCG.
#
#   1. a template: start a sandbox with memory_file, wait for the guest's
#      first status line, `save DIR template`;
#   2. N cold boots, one after the other: `echo start > ctl` until the
#      guest's first "GUEST cpus=" status line on its console; then, all N
#      running and idle, the sum of their QEMUs' PSS (smaps_rollup); stop;
#   3. N clones, one after the other: `echo restore DIR > ctl` until a
#      status line of the guest appears (the guest resumes in its loop,
#      which prints every 0.5 s: the same point as 2.); then the sum of
#      their PSS; stop.
# Writes bench/results/clone.md (the table, the targets: clone-to-responsive
# ≥ 5× faster than a cold boot to the same point, summed PSS of N clones
# ≤ 50% of N cold boots) and bench/results/clone.tsv (every sample).  Other
# jobs may share this machine; both sides run under the same conditions.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/sandboxfs
Q10=$ROOT/build/qemu-10/bin/qemu-system-x86_64
RESULTS=${SBBENCH_RESULTS:-$ROOT/bench/results}
N=${1:-8}

die() { printf 'clone bench: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (mounting FUSE, running QEMU)"
[ -x "$BIN" ] || die "build first: make all guest"
[ -x "$Q10" ] || die "QEMU 10 is not unpacked: make qemu-10"
[ -r "$ROOT/build/guest/vmlinuz" ] || die "built-in guest missing: make guest"

T=$(mktemp -d /tmp/sbclone.XXXXXX)
MNT=$T/mnt DAEMON=
mkdir -p "$MNT" "$RESULTS"
cleanup() {
	set +e
	if mountpoint -q "$MNT"; then
		for d in "$MNT"/*/; do [ -n "$(cat "$d/pid" 2>/dev/null)" ] && echo kill > "$d/ctl"; done
		fusermount3 -u "$MNT"
	fi
	[ -n "$DAEMON" ] && wait "$DAEMON" 2>/dev/null
	rmdir /sys/fs/cgroup/*/sbclone-$$ /sys/fs/cgroup/sbclone-$$ 2>/dev/null
	chmod -R u+w "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
"$BIN" -f --state-dir="$T/state" --log="$T/daemon.log" --cgroup-parent=sbclone-$$ "$MNT" &
DAEMON=$!
for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
mountpoint -q "$MNT" || die "the daemon did not mount"

now() { echo "${EPOCHREALTIME/./}"; } # µs
# responsive NAME: wait (20 ms steps, 60 s at most) for a guest status line.
responsive() {
	local i
	for i in $(seq 3000); do
		grep -aq '^GUEST cpus=' "$MNT/$1/console" 2>/dev/null && return 0
		sleep 0.02
	done
	die "$1: the guest never answered"
}
pss_kib() { # the summed PSS of the QEMUs of the sandboxes given
	local s=0 n p
	for n in "$@"; do
		p=$(cat "$MNT/$n/pid")
		s=$((s + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
	done
	echo $s
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
CFG="{\"memory_mib\":256,\"memory_file\":true,\"qemu\":\"$Q10\"}"

# 1. The template.
mkdir "$MNT/tpl"
echo "$CFG" > "$MNT/tpl/config"
t0=$(now); echo start > "$MNT/tpl/ctl"; responsive tpl; t1=$(now)
sleep 1
echo "save $T/template template" > "$MNT/tpl/ctl"; t2=$(now)
tpl_boot=$((t1 - t0)) tpl_save=$((t2 - t1))
printf 'kind\tsample\tresponsive_us\n' > "$T/clone.tsv"

# 2. Cold boots.
cold=()
for i in $(seq "$N"); do
	mkdir "$MNT/cold$i"; echo "$CFG" > "$MNT/cold$i/config"
	t0=$(now); echo start > "$MNT/cold$i/ctl"; responsive "cold$i"; t1=$(now)
	printf 'cold\t%d\t%d\n' "$i" $((t1 - t0)) >> "$T/clone.tsv"
	cold+=("cold$i")
done
sleep 3
cold_pss=$(pss_kib "${cold[@]}")
for n in "${cold[@]}"; do echo stop > "$MNT/$n/ctl"; done

# 3. Clones.
clones=()
for i in $(seq "$N"); do
	mkdir "$MNT/clone$i"; echo "{\"qemu\":\"$Q10\"}" > "$MNT/clone$i/config"
	t0=$(now); echo "restore $T/template" > "$MNT/clone$i/ctl"; responsive "clone$i"; t1=$(now)
	printf 'clone\t%d\t%d\n' "$i" $((t1 - t0)) >> "$T/clone.tsv"
	clones+=("clone$i")
done
sleep 3
clone_pss=$(pss_kib "${clones[@]}")
same=$(for n in "${clones[@]}"; do grep -a '^GUEST cpus=' "$MNT/$n/console" | tail -n1 | sed 's/.* boot=\([^ ]*\).*/\1/'; done | sort -u | wc -l)
for n in "${clones[@]}"; do echo stop > "$MNT/$n/ctl"; done

cold_ms=$(awk -F'\t' '$1 == "cold" {print $3 / 1000}' "$T/clone.tsv" | median)
clone_ms=$(awk -F'\t' '$1 == "clone" {print $3 / 1000}' "$T/clone.tsv" | median)
speedup=$(awk -v c="$cold_ms" -v k="$clone_ms" 'BEGIN {printf "%.1f", c / k}')
ratio=$(awk -v c="$cold_pss" -v k="$clone_pss" 'BEGIN {printf "%.1f", 100 * k / c}')
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN {ok = op == ">=" ? v >= t : v <= t; print ok ? "**met**" : "**NOT met**"}'; }
cp "$T/clone.tsv" "$RESULTS/clone.tsv"
cat > "$RESULTS/clone.md" <<EOF
# VM templates: clones against cold boots

Produced by \`bench/clone.sh $N\` on $(date -u +%Y-%m-%dT%H:%MZ), one run, both sides on this machine
($(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; other jobs may share it),
$("$Q10" --version | head -n1), TCG, the built-in guest, 256 MiB, sandboxfs $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null).

"Responsive" is the guest's first status line on its console (\`GUEST cpus=…\`, printed every
0.5 s by its init) after the write that starts it: \`echo start > ctl\` for a cold boot,
\`echo restore DIR > ctl\` of the template for a clone.  PSS is the sum over the $N QEMUs
(\`/proc/PID/smaps_rollup\`), all $N running and idle, 3 s after the last one answered.

| | cold boot | clone | ratio | target | |
|---|---|---|---|---|---|
| to responsive, median of $N (ms) | $cold_ms | $clone_ms | ${speedup}× faster | ≥ 5× | $(verdict "$speedup" 5 ">=") |
| summed PSS of $N (MiB) | $((cold_pss / 1024)) | $((clone_pss / 1024)) | ${ratio}% | ≤ 50% | $(verdict "$ratio" 50 "<=") |

The template: booted to responsive in $((tpl_boot / 1000)) ms, saved in $((tpl_save / 1000)) ms
(\`save DIR template\`: device state only, $(du -k "$T/template/state" | cut -f1) KiB, and its RAM file,
$(du -k "$T/template/memory" | cut -f1) KiB allocated of $(( $(stat -c %s "$T/template/memory") / 1024 )) KiB: zero pages stay holes).
Every clone ran the template's guest: $same distinct boot id(s) among the $N clones' consoles.
Each sample is in \`clone.tsv\` (µs).
EOF
cat "$RESULTS/clone.md"
