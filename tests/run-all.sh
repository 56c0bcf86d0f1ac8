#!/usr/bin/env bash
# `make check`: unit tests, the same under ASan/UBSan, then the end-to-end
# tests against real QEMU.  Ends with one summary line.
set -u
cd "$(dirname "$0")/.."
total_pass=0 total_fail=0 total_skip=0
run() {
	local name=$1; shift
	local log; log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	local line; line=$(grep -E "^$name: [0-9]+ passed" "$log" | tail -n1)
	rm -f "$log"
	if [ -z "$line" ]; then total_fail=$((total_fail + 1)); return; fi
	set -- $line
	total_pass=$((total_pass + $2)); total_fail=$((total_fail + $4)); total_skip=$((total_skip + $6))
}
run units tests/run-units.sh build/unit/test_*
echo "--- the same under AddressSanitizer + UndefinedBehaviorSanitizer"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run units tests/run-units.sh build/unit-san/test_*
unset ASAN_OPTIONS UBSAN_OPTIONS
run e2e tests/run-e2e.sh
echo
echo "check: $total_pass passed, $total_fail failed, $total_skip skipped"
[ $total_fail -eq 0 ]
