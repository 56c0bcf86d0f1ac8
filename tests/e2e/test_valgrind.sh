#!/usr/bin/env bash
# The slice test again with the daemon under valgrind memcheck: no memory
# error and nothing definitely lost, over a whole mount → boot → hotplug →
# crash → restart → unmount run.
set -u
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || skip "valgrind is not installed"
e2e_requirements
VG=$(mktemp -d /tmp/sandboxfs-vg.XXXXXX)
trap 'rm -rf "$VG"' EXIT
E2E_WRAP="valgrind --child-silent-after-fork=yes --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --log-file=$VG/vg.%p" \
	bash "$(dirname "$0")/test_slice.sh" > "$VG/slice.out" 2>&1
rc=$?
check "the slice passes with the daemon under valgrind" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 30 "$VG/slice.out"
# The daemon's own log is the one valgrind finished (QEMU's forks before
# exec are silent).
log=$(grep -l "ERROR SUMMARY" $(grep -l "Command: $BIN" "$VG"/vg.*) 2>/dev/null | head -n1)
check "valgrind ran the daemon" [ -n "$log" ]
check "no memory errors" grep -q "ERROR SUMMARY: 0 errors" "$log"
check "nothing definitely lost" bash -c "grep -q 'definitely lost: 0 bytes' '$log' || grep -q 'All heap blocks were freed' '$log'"
[ "$FAILS" -eq 0 ] || cat "$log"
echo "valgrind: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
