#!/usr/bin/env bash
# `make check`: the layout rules, unit tests, the same under ASan/UBSan, then the end-to-end
# tests against real QEMU.  Lists every skip (test, capability, reason) and
# every failure, then ends with one summary line:
#     check: N passed, N failed, N skipped
# Exits non-zero if anything failed, a runner broke, or nothing passed.
# Time limits, skips and CI=true: docs/testing.md.
set -u
cd "$(dirname "$0")/.."
total_pass=0 total_fail=0 total_skip=0
skips=() fails=()
run() {
	local name=$1; shift
	local log rc line l
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" "$log" | tail -n1)
	while IFS= read -r l; do skips+=("${l#SKIPPED }"); done < <(grep '^SKIPPED ' "$log")
	while IFS= read -r l; do fails+=("${l#FAILED }"); done < <(grep '^FAILED ' "$log")
	rm -f "$log"
	if [ -z "$line" ]; then
		total_fail=$((total_fail + 1)); fails+=("$name: the runner ended without its summary line (exit $rc)")
		return
	fi
	set -- $line
	total_pass=$((total_pass + $2)); total_fail=$((total_fail + $4)); total_skip=$((total_skip + $6))
	if [ "$rc" -ne 0 ] && [ "$4" -eq 0 ]; then
		total_fail=$((total_fail + 1)); fails+=("$name: the runner exited $rc")
	fi
}
run static tests/run-static.sh
run units tests/run-units.sh build/unit/test_*
echo "--- the same under AddressSanitizer + UndefinedBehaviorSanitizer"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run units tests/run-units.sh build/unit-san/test_*
unset ASAN_OPTIONS UBSAN_OPTIONS
run e2e tests/run-e2e.sh
if [ "$total_pass" -eq 0 ] && [ "$total_fail" -eq 0 ]; then
	total_fail=1; fails+=("check: nothing passed")
fi
echo
[ "${CI:-}" = true ] && echo "CI=true: a skip fails unless its capability is in tests/skip-allowed"
if [ ${#fails[@]} -gt 0 ]; then
	echo "failed (${#fails[@]}):"
	for f in "${fails[@]}"; do echo "  $f"; done
fi
if [ ${#skips[@]} -gt 0 ]; then
	echo "skipped (${#skips[@]}), as test: capability: reason:"
	for s in "${skips[@]}"; do echo "  $s"; done
else
	echo "skipped: none"
fi
echo "check: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
