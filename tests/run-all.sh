#!/usr/bin/env bash
# `make check`: the layout rules, unit tests, the same under ASan/UBSan, then the end-to-end
# tests against real QEMU — the system's (/usr/bin) — and then the
# real-QEMU acceptance (ACCEPT_UNITS, ACCEPT_E2E) once more against the
# second QEMU, build/qemu-10 (make qemu-10; QEMU10_DIR to point elsewhere).
# Lists every skip (test, capability, reason) and every failure, then ends
# with one summary line that says how many tests ran against each QEMU:
#     check: N passed, N failed, N skipped; ran against QEMU 7.2.22: N, QEMU 10.0.2: N
# Exits non-zero if anything failed, a runner broke, or nothing passed; and
# under CI=true when no test ran against one of the two QEMUs.
# Time limits, skips, CI=true and the two QEMUs: docs/testing.md.
set -u
cd "$(dirname "$0")/.."
total_pass=0 total_fail=0 total_skip=0
skips=() fails=()
declare -A ran=() # QEMU version -> how many test runs used it (RAN-AGAINST lines)
ACCEPT_UNITS=${ACCEPT_UNITS:-"test_accept test_accept_knobs test_accept_forms test_accept_vhost test_arch_accept test_bugs test_cmdline test_qmp test_qmp_fd test_version"}
ACCEPT_E2E=${ACCEPT_E2E:-"test_slice test_cpu_cycles test_hotplug test_restart test_arch_boot
	test_arch_boot_ppc64le test_arch_boot_s390x test_faults_kill"}
# E2E tests that run against the second QEMU only: QEMU 7.2 under TCG loses
# guest writes across a live migration now and then (docs/deploy.md,
# "Draining a node"); run against 7.2 they exit 77 (qemu-tcg-live-migration).
QEMU10_ONLY_E2E=${QEMU10_ONLY_E2E:-"test_migrate"}
QEMU10_DIR=${QEMU10_DIR:-build/qemu-10/bin}
run() {
	local name=$1; shift
	local log rc line l
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" "$log" | tail -n1)
	while IFS= read -r l; do skips+=("${l#SKIPPED }"); done < <(grep '^SKIPPED ' "$log")
	while IFS= read -r l; do fails+=("${l#FAILED }"); done < <(grep '^FAILED ' "$log")
	while read -r _ l _; do ran[$l]=$((${ran[$l]:-0} + 1)); done < <(grep '^RAN-AGAINST ' "$log")
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
qemu10=$QEMU10_DIR/qemu-system-x86_64
v10=$( [ -x "$qemu10" ] && "$qemu10" --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p')
first=()
for t in tests/e2e/test_*.sh; do
	n=$(basename "$t" .sh)
	[ -n "$v10" ] && [[ " $(echo $QEMU10_ONLY_E2E) " == *" $n "* ]] && continue
	first+=("$t")
done
run e2e tests/run-e2e.sh "${first[@]}"

# The second QEMU: the acceptance again, every test of it against that QEMU
# only (RUN_QEMU_EXPECT; tests/e2e/lib.sh runner_verdict), and the tests
# that need it.
if [ -n "$v10" ]; then
	echo "--- the real-QEMU acceptance against QEMU $v10 ($QEMU10_DIR)"
	units=() scripts=()
	for u in $ACCEPT_UNITS; do units+=("build/unit/$u"); done
	for t in $ACCEPT_E2E $QEMU10_ONLY_E2E; do scripts+=("tests/e2e/$t.sh"); done
	export TEST_QEMU_DIR RUN_QEMU_EXPECT=$v10
	TEST_QEMU_DIR=$(cd "$QEMU10_DIR" && pwd)
	run units tests/run-units.sh "${units[@]}"
	run e2e tests/run-e2e.sh "${scripts[@]}"
	unset TEST_QEMU_DIR RUN_QEMU_EXPECT
elif [ "${CI:-}" = true ]; then
	total_fail=$((total_fail + 1))
	fails+=("qemu-10: $qemu10 is not there (make qemu-10): under CI=true the acceptance must run against QEMU 10 too")
else
	total_skip=$((total_skip + 1))
	skips+=("qemu-10: qemu-10: $qemu10 is not there (make qemu-10): the acceptance ran against the system QEMU only")
fi
if [ "${CI:-}" = true ] && [ "${#ran[@]}" -lt 2 ]; then
	total_fail=$((total_fail + 1))
	fails+=("check: under CI=true tests must run against two QEMUs; they ran against: ${!ran[*]}")
fi
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
against=
for v in $(printf '%s\n' "${!ran[@]}" | sort -V); do against="${against:+$against, }QEMU $v: ${ran[$v]}"; done
echo "check: $total_pass passed, $total_fail failed, $total_skip skipped; ran against ${against:-no QEMU}"
[ "$total_fail" -eq 0 ]
