# Shared helpers for the end-to-end tests: mount a fresh sandboxfs on a
# temporary directory, drive it with echo/cat, read the guest's console.
# Sourced by tests/e2e/test_*.sh.  Exit 77 = the machine lacks a capability.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/build/sandboxfs
GUEST=$ROOT/build/guest
FAILS=0

skip() { echo "SKIP: $*"; exit 77; }
ok() { echo "ok - $*"; }
fail() {
	echo "FAIL - $*"; FAILS=$((FAILS + 1))
	# A failed wait on the guest: show what it said instead.
	[ -n "${MNT:-}" ] && for c in "$MNT"/*/console; do
		[ -r "$c" ] && echo "  $(basename "$(dirname "$c")") last said: $(tr -d '\r' < "$c" | grep -a '^GUEST cpus=' | tail -n1)"
	done 2>/dev/null
}
check() { # check DESC CMD...
	local d=$1; shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}

e2e_requirements() {
	[ "$(id -u)" = 0 ] || skip "needs root (mounting FUSE, running QEMU)"
	[ -c /dev/fuse ] || skip "no /dev/fuse on this machine"
	command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
	[ -x /usr/bin/qemu-system-x86_64 ] || skip "qemu-system-x86_64 is not installed"
	[ -r "$GUEST/vmlinuz" ] && [ -r "$GUEST/initramfs.cpio.gz" ] || skip "built-in guest missing (make guest)"
	[ -x "$BIN" ] || skip "sandboxfs not built"
}

# e2e_mount: start the daemon on $MNT with state in $STATE.
e2e_mount() {
	T=$(mktemp -d /tmp/sandboxfs-e2e.XXXXXX)
	MNT=$T/mnt STATE=$T/state LOG=$T/daemon.log
	mkdir -p "$MNT"
	# E2E_WRAP runs the daemon under a tool, e.g. E2E_WRAP="valgrind --log-file=/tmp/vg.%p".
	${E2E_WRAP:-} "$BIN" -f --state-dir="$STATE" --log="$LOG" "$MNT" &
	DAEMON=$!
	for _ in $(seq 400); do mountpoint -q "$MNT" && return 0; sleep 0.05; done
	echo "daemon did not mount; log:"; cat "$LOG"; exit 1
}

e2e_cleanup() {
	if [ -n "${MNT:-}" ] && mountpoint -q "$MNT"; then
		for d in "$MNT"/*/; do
			[ -d "$d" ] && [ "$(cat "$d/state" 2>/dev/null)" = running ] && echo kill > "$d/ctl" 2>/dev/null
		done
		fusermount3 -u "$MNT" 2>/dev/null
	fi
	[ -n "${DAEMON:-}" ] && wait "$DAEMON" 2>/dev/null
	if [ "$FAILS" -ne 0 ] && [ -n "${LOG:-}" ]; then echo "--- daemon log"; tail -n 80 "$LOG"; fi
	[ -n "${T:-}" ] && rm -rf "$T"
}

# write_expect FILE VALUE ERRTEXT: the write must fail with that strerror text.
write_expect() {
	local out
	out=$( { echo "$2" > "$1"; } 2>&1 )
	case "$out" in *"$3"*) return 0 ;; esac
	echo "  write '$2' > $1 gave: ${out:-success}; wanted: $3"
	return 1
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local t=$1; shift
	local end=$((SECONDS + t))
	while [ $SECONDS -le $end ]; do "$@" && return 0; sleep 0.25; done
	return 1
}

# The guest prints "GUEST cpus=.. ncpus=N blk=.. net=.. mem=.." every 0.5 s.
# guest_says SANDBOX PATTERN: the latest such line (after byte offset
# ${CONSOLE_FROM:-0}) matches the extended regex PATTERN.
guest_line() { tail -c +$(( ${CONSOLE_FROM:-0} + 1 )) "$MNT/$1/console" | tr -d '\r' | grep -a '^GUEST cpus=' | tail -n1; }
guest_says() { guest_line "$1" | grep -Eq "$2"; }
