#!/usr/bin/env bash
# Runs the end-to-end tests (every tests/e2e/test_*.sh, or the ones given as
# arguments), one after the other, each under a time limit (E2E_TIMEOUT
# seconds, default 900; E2E_TIMEOUT_<name> for one test; a longer need
# declared in the script as "# test-timeout: SECONDS"); its output is shown
# as it comes.  Ends with the skips, the failures and "e2e: N passed, N
# failed, N skipped".
#
# Exit 77 from a test: the machine lacks a capability (its SKIP-PROGRAM line
# says which); SKIP-CASE lines add skipped cases.  Under CI=true a skip is a
# failure unless its capability is in tests/skip-allowed.  Each test gets a
# temporary directory of its own (E2E_TMPDIR, where lib.sh's e2e_mount makes
# its tree); whatever a test leaves there — a FUSE mount, a QEMU — is
# removed afterwards and fails the test.  docs/testing.md.
set -u
cd "$(dirname "$0")/.."
. tests/e2e/lib.sh
E2E_TIMEOUT=${E2E_TIMEOUT:-900}
RUN_LIMIT_VAR="E2E_TIMEOUT or E2E_TIMEOUT_<test>"

# sweep DIR NAME: unmount and kill what the test left under DIR; 1 if any.
sweep() {
	local dir=$1 name=$2 m p left=0
	for p in $(pgrep -f -- "$dir/"); do
		echo "LEFTOVER $name: pid $p ($(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-160)) still ran after the test; killed"
		kill -KILL "$p" 2>/dev/null; left=1
	done
	# Mount points are the fifth field of mountinfo, deepest first.
	for m in $(awk '{print $5}' /proc/self/mountinfo | grep -F -- "$dir/" | sort -r); do
		echo "LEFTOVER $name: $m still mounted after the test; unmounted"
		umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null; left=1
	done
	# A sandbox's cgroup under the test's parent outlives its QEMU only when
	# the daemon failed to remove it (a QEMU killed above may take a moment).
	local cg d
	for cg in $(cat "$dir/cgroup-parents" 2>/dev/null); do
		for d in /sys/fs/cgroup/*/"$cg"/sb-* /sys/fs/cgroup/"$cg"/sb-*; do
			[ -d "$d" ] || continue
			echo "LEFTOVER $name: cgroup ${d#/sys/fs/cgroup/} was left behind; removed"
			for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$d" 2>/dev/null && break; sleep 0.2; done
			left=1
		done
		rmdir /sys/fs/cgroup/*/"$cg" /sys/fs/cgroup/"$cg" 2>/dev/null
	done
	if awk '{print $5}' /proc/self/mountinfo | grep -qF -- "$dir/"; then
		echo "LEFTOVER $name: cannot unmount everything under $dir; left in place"
		return 1
	fi
	rm -rf "$dir"
	return $left
}

[ $# -gt 0 ] || set -- tests/e2e/test_*.sh
for t in "$@"; do
	echo "=== $t"
	name=$(basename "$t" .sh)
	limit=$(test_limit "$name" "$t" "$E2E_TIMEOUT" E2E_TIMEOUT)
	log=$(mktemp)
	dir=$(mktemp -d /tmp/sandboxfs-run.XXXXXX)
	chmod 755 "$dir" # tests hand paths below it to other users (nobody)
	E2E_TMPDIR=$dir RUN_STREAM=1 run_limited "$t" "$limit" "$log" bash "$t"; rc=$?
	if ! sweep "$dir" "$t" >> "$log"; then
		grep '^LEFTOVER' "$log" | tail -n 20
		[ "$rc" -eq 0 ] && rc=1
	fi
	runner_verdict "$t" "$rc" "$log"
	rm -f "$log"
done
runner_summary e2e
