#!/usr/bin/env bash
# The house rules of the sources, checked without building or running
# anything: scripts/check-layout.py (file and function sizes, the layers,
# no include cycle).  Prints "static: N passed, N failed, 0 skipped".
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0
if scripts/check-layout.py; then
	pass=$((pass + 1)); echo "PASS layout"
else
	fail=$((fail + 1)); echo "FAIL layout"; echo "FAILED layout: scripts/check-layout.py"
fi
echo "static: $pass passed, $fail failed, 0 skipped"
[ $fail -eq 0 ]
