#!/usr/bin/env bash
# The slice test again with the daemon under valgrind memcheck: no memory
# error and nothing definitely lost, over a whole mount → boot → hotplug →
# crash → restart → unmount run.
set -u
. "$(dirname "$0")/lib.sh"
# test-timeout: 1200 (the slice under valgrind on a loaded 2-core machine)
command -v valgrind >/dev/null || skip valgrind "valgrind is not installed (scripts/deps.sh)"
e2e_requirements
VG=$(mktemp -d "${E2E_TMPDIR:-/tmp}/sandboxfs-vg.XXXXXX")
trap 'rm -rf "$VG"' EXIT
E2E_WRAP="valgrind --child-silent-after-fork=yes --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --log-file=$VG/vg.%p" \
	bash "$(dirname "$0")/test_slice.sh" > "$VG/slice.out" 2>&1
rc=$?
# The slice skipped (it says why): so does this test.
if [ $rc -eq 77 ]; then grep -m1 '^SKIP-' "$VG/slice.out"; exit 77; fi
grep '^SKIP-CASE ' "$VG/slice.out" # parts the slice left out count here too
check "the slice passes with the daemon under valgrind" [ $rc -eq 0 ]
check "... and ran its checks ($(grep -c '^ok - ' "$VG/slice.out") ok, $(grep -c '^FAIL - ' "$VG/slice.out") failed)" \
	bash -c "grep -q '^ok - ' '$VG/slice.out' && ! grep -q '^FAIL - ' '$VG/slice.out'"
[ $rc -eq 0 ] || tail -n 30 "$VG/slice.out"
# The daemon's own log is the one valgrind finished (QEMU's forks before
# exec are silent).
log=
for f in "$VG"/vg.*; do
	[ -r "$f" ] && grep -q "Command: $BIN" "$f" && grep -q "ERROR SUMMARY" "$f" && { log=$f; break; }
done
check "valgrind ran the daemon to its end" [ -n "$log" ]
if [ -n "$log" ]; then
	check "no memory errors" grep -q "ERROR SUMMARY: 0 errors" "$log"
	check "nothing definitely lost" bash -c "grep -q 'definitely lost: 0 bytes' '$log' || grep -q 'All heap blocks were freed' '$log'"
	[ "$FAILS" -eq 0 ] || cat "$log"
fi
echo "valgrind: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
