#!/usr/bin/env bash
# Runs every tests/e2e/test_*.sh; exit 77 from a test means the machine
# lacks a capability (the test prints which).
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0
for t in tests/e2e/test_*.sh; do
	echo "=== $t"
	bash "$t"; rc=$?
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $t" ;;
	77) skip=$((skip + 1)); echo "SKIP $t" ;;
	*) fail=$((fail + 1)); echo "FAIL $t (exit $rc)" ;;
	esac
done
echo "e2e: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
