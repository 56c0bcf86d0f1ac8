#!/usr/bin/env bash
# The command line as users type it: every daemon option as --opt VALUE,
# --opt=VALUE and -o opt=VALUE mounts and takes effect (state directory,
# owner, private, a relative path with the daemon in the background);
# --help is usage on stdout and exit 0; an unknown option is one line on
# stderr and exit 2; --version names sandboxfs, libfuse and QEMU; every
# option of --help is in the man page.
set -u
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (mounting FUSE)"
[ -c /dev/fuse ] || skip "no /dev/fuse on this machine"
command -v fusermount3 >/dev/null || skip "fusermount3 is not installed"
[ -x "$BIN" ] || skip "sandboxfs not built"
T=$(mktemp -d /tmp/sandboxfs-opts.XXXXXX)
MNT=$T/mnt LOG=$T/daemon.log
mkdir -p "$MNT"
cleanup() {
	mountpoint -q "$MNT" && fusermount3 -u "$MNT"
	[ -n "${DAEMON:-}" ] && wait "$DAEMON" 2>/dev/null
	if [ "$FAILS" -ne 0 ] && [ -r "$LOG" ]; then echo "--- daemon log"; tail -n 40 "$LOG"; fi
	rm -rf "$T"
}
trap cleanup EXIT
QV=
[ -x /usr/bin/qemu-system-x86_64 ] &&
	QV=$(/usr/bin/qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p')

version_says() { [ "$(sed -n 2p "$MNT/version")" = "$1" ]; }
# mounted_with DESC STATE ARGS...: the daemon mounts $MNT with ARGS (in the
# foreground) and a new sandbox's state lands in STATE.
mounted_with() {
	local d=$1 state=$2; shift 2
	"$BIN" -f "$@" "$MNT" 2>>"$LOG" &
	DAEMON=$!
	if ! wait_for 10 mountpoint -q "$MNT"; then
		fail "$d: did not mount"; kill "$DAEMON" 2>/dev/null; wait "$DAEMON"; DAEMON=; return
	fi
	mkdir "$MNT/x"
	check "$d: mounts, state in DIR" test -f "$state/x/sandbox.json"
	[ -z "$QV" ] || check "$d: version says qemu $QV /usr/bin/qemu-system-x86_64" \
		version_says "qemu $QV /usr/bin/qemu-system-x86_64"
	rmdir "$MNT/x"
	fusermount3 -u "$MNT"
	wait "$DAEMON"; DAEMON=
}
mounted_with "--state-dir DIR" "$T/s1" --state-dir "$T/s1" --log "$LOG"
mounted_with "--state-dir=DIR" "$T/s2" --state-dir="$T/s2" --log="$LOG"
mounted_with "-o state_dir=DIR" "$T/s3" -o "state_dir=$T/s3,log=$LOG"
mounted_with "-ostate_dir=DIR,allow_other" "$T/s4" "-ostate_dir=$T/s4,allow_other"

# SIGTERM and SIGHUP unmount and exit 0, also once writes have moved the
# reading of the FUSE device to another thread (fs/fs_work.c: the reader
# of the moment must hear the signal).  (SIGINT: a background job of a
# script ignores it, and libfuse leaves an ignored signal alone.)
for sig in TERM HUP; do
	"$BIN" -f --state-dir "$T/s-sig" --log "$LOG" "$MNT" 2>>"$LOG" &
	DAEMON=$!
	if ! wait_for 10 mountpoint -q "$MNT"; then
		fail "SIG$sig: did not mount"; kill "$DAEMON" 2>/dev/null; wait "$DAEMON"; DAEMON=; continue
	fi
	mkdir "$MNT/sig" && echo '{"memory_mib":96}' > "$MNT/sig/config" && rmdir "$MNT/sig"
	kill -"$sig" "$DAEMON"
	check "SIG$sig after writes: the daemon exits within 5 s" wait_for 5 bash -c "! kill -0 $DAEMON 2>/dev/null"
	wait "$DAEMON"
	rc=$?
	DAEMON=
	check "... with status 0 (it was $rc)" [ "$rc" = 0 ]
	check "... and the mount is gone" bash -c "! mountpoint -q '$MNT'"
done

# --owner / -o owner=, --private / -o private: ownership and modes.
owner_private() { # owner_private DESC ARGS...
	local d=$1; shift
	"$BIN" -f --state-dir "$T/state-own" --log "$LOG" "$@" "$MNT" &
	DAEMON=$!
	if wait_for 10 mountpoint -q "$MNT"; then
		check "$d: owner 123:456, mode 0440" \
			test "$(stat -c '%u:%g %a' "$MNT/version")" = "123:456 440"
		fusermount3 -u "$MNT"
	else
		fail "$d: did not mount"; kill "$DAEMON" 2>/dev/null
	fi
	wait "$DAEMON"; DAEMON=
}
owner_private "--owner UID:GID --private" --owner 123:456 --private
owner_private "-o owner=UID:GID,private" -o owner=123:456,private

# A relative --state-dir and --log with the daemon in the background
# (which chdirs to /): both resolve against the caller's directory.
(cd "$T" && "$BIN" --state-dir rel-state --log rel.log "$MNT")
if wait_for 10 mountpoint -q "$MNT"; then
	mkdir "$MNT/y"
	check "background, relative --state-dir: state beside the caller" test -f "$T/rel-state/y/sandbox.json"
	check "background, relative --log: log beside the caller" grep -q mounted "$T/rel.log"
	rmdir "$MNT/y"
	fusermount3 -u "$MNT"
else
	fail "background mount with relative paths did not mount"
fi

# --help: usage on stdout, nothing on stderr, exit 0 (no mount point needed).
out=$("$BIN" --help 2>"$T/err"); rc=$?
check "--help exits 0" test "$rc" = 0
check "--help prints usage on stdout" grep -q '^usage: .*MOUNTPOINT' <<<"$out"
check "--help says nothing on stderr" test ! -s "$T/err"
check "-h is --help" test "$("$BIN" -h 2>&1)" = "$out"
for o in "--state-dir DIR" "--guest-dir DIR" "--owner UID:GID" "-o OPT" "state_dir=DIR" "stop_on_exit" "allow_other"; do
	check "--help lists '$o'" grep -qF -- "$o" <<<"$out"
done

# Unknown and malformed options: exactly one line on stderr, exit 2.
one_line_exit2() { # one_line_exit2 DESC PATTERN ARGS...
	local d=$1 pat=$2; shift 2
	"$BIN" "$@" >"$T/out" 2>"$T/err"; local rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] && [ ! -s "$T/out" ] &&
	   grep -q -- "$pat" "$T/err" && grep -q -- "--help" "$T/err"; then
		ok "$d: exit 2, one line: $(cat "$T/err")"
	else
		fail "$d: exit $rc, stderr: $(cat "$T/err"), stdout: $(head -c 200 "$T/out")"
	fi
}
one_line_exit2 "--bogus" "'--bogus'" --bogus "$MNT"
one_line_exit2 "--bogus=1" "'--bogus'" --bogus=1 "$MNT"
one_line_exit2 "-x" "'-x'" -x "$MNT"
one_line_exit2 "--state-dir without a value" "'--state-dir' needs a value" --state-dir
one_line_exit2 "--stop-on-exit=1" "'--stop-on-exit' takes no value" --stop-on-exit=1 "$MNT"
one_line_exit2 "-o state_dir (no value)" "'-o state_dir' needs a value" -o state_dir "$MNT"
one_line_exit2 "--owner nobody" "UID:GID" --owner nobody "$MNT"
one_line_exit2 "three arguments" "too many arguments" a b c
one_line_exit2 "no mount point" "no mount point" --state-dir "$T/s"
check "nothing was mounted by the failures" test ! -e "$T/s"

# --version: sandboxfs, libfuse, the QEMU it found.
v=$("$BIN" --version 2>&1); rc=$?
echo "$v" | sed 's/^/  /'
check "--version exits 0" test "$rc" = 0
check "--version names sandboxfs" grep -Eq '^sandboxfs [0-9]+\.[0-9]+' <<<"$v"
check "--version names libfuse $(pkg-config --modversion fuse3 2>/dev/null)" grep -Eq '^libfuse [0-9]+\.[0-9]+' <<<"$v"
[ -z "$QV" ] || check "--version names QEMU $QV, the default" grep -Fxq "qemu $QV /usr/bin/qemu-system-x86_64 (default, $(uname -m) guests)" <<<"$v"
q10=$ROOT/build/qemu-10/bin/qemu-system-x86_64
if [ -x "$q10" ]; then
	V10=$("$q10" --version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p')
	check "--version names the QEMU $V10 beside the binary" grep -Fxq "qemu $V10 $q10 ($(uname -m) guests)" <<<"$v"
	v=$("$BIN" --version --qemu-dir="$ROOT/build/qemu-10/bin:/usr/bin" 2>&1)
	check "--qemu-dir first: QEMU $V10 is the default" grep -Fxq "qemu $V10 $q10 (default, $(uname -m) guests)" <<<"$v"
fi

# One list: every long option --help shows is in the man page.
man=$ROOT/docs/sandboxfs.1
for o in $(grep -E '^  -' <<<"$out" | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
	check "man page documents $o" grep -qF -- "$(sed 's/-/\\-/g' <<<"$o")" "$man"
done

[ "$FAILS" -eq 0 ]
