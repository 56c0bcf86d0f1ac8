#!/usr/bin/env bash
# Runs the CUnit test programs given as arguments, one after the other, each
# under a time limit (UNIT_TIMEOUT seconds, default 300; UNIT_TIMEOUT_<name>
# for one program; a longer need declared in its source as
# "test-timeout: SECONDS"); prints one verdict line per program, the skips
# and failures, and "units: N passed, N failed, N skipped".
#
# Exit 0 passed, 77 skipped (SKIP-PROGRAM line), anything else or a timeout
# failed.  Each SKIP-CASE line of a program adds one skipped case.  Under
# CI=true a skip is a failure unless its capability is in tests/skip-allowed.
# Exits non-zero if anything failed or nothing passed.  docs/testing.md.
set -u
. "$(dirname "$0")/e2e/lib.sh"
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
RUN_LIMIT_VAR="UNIT_TIMEOUT or UNIT_TIMEOUT_<program>"
for t in "$@"; do
	name=$(basename "$t")
	limit=$(test_limit "$name" "$ROOT/tests/unit/$name.c" "$UNIT_TIMEOUT" UNIT_TIMEOUT)
	log=$(mktemp)
	run_limited "$t" "$limit" "$log" "$t"; rc=$?
	runner_verdict "$t" "$rc" "$log"
	[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || tail -n 60 "$log"
	grep -E '^\s+(asserts|tests)\s' "$log" | sed "s|^|    $name: |"
	rm -f "$log"
done
runner_summary units
