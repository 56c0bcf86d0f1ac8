#!/usr/bin/env bash
# Runs CUnit test programs given as arguments; prints one line per program
# and exits non-zero if any failed.  77 from a program means skipped.
set -u
pass=0 fail=0 skip=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $t"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $t"
	else
		fail=$((fail + 1)); echo "FAIL $t (exit $rc)"; printf '%s\n' "$out" | tail -n 60
	fi
	printf '%s\n' "$out" | grep -E '^\s+(asserts|tests)\s' | sed "s|^|    $(basename "$t"): |"
done
echo "units: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
