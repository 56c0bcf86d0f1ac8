# Shared helpers for the end-to-end tests: mount a fresh sandboxfs on a
# temporary directory, drive it with echo/cat, read the guest's console.
# Sourced by tests/e2e/test_*.sh, and by the runners (tests/run-units.sh,
# tests/run-e2e.sh) for the skip policy and the per-test time limit at the
# end of this file.  docs/testing.md describes both.
#
# Skips: `skip CAPABILITY REASON...` ends the test with exit 77 after one
# line "SKIP-PROGRAM CAPABILITY: REASON"; `skip_case CAPABILITY REASON...`
# prints "SKIP-CASE CAPABILITY: REASON" for a part left out and goes on.
# CAPABILITY is one word naming what the machine lacks.  The runner counts
# both; under CI=true a skip whose capability is not in tests/skip-allowed
# is a failure.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/build/sandboxfs
GUEST=$ROOT/build/guest
FAILS=0
# The QEMU under test (docs/testing.md, "Two QEMUs"): $TEST_QEMU_DIR's
# (tests/run-all.sh's pass against QEMU 10 sets build/qemu-10/bin), else
# the system's.  e2e_mount makes it the daemon's default (--qemu-dir), so
# every sandbox with an empty `qemu` key runs it.
QEMU_DIR=${TEST_QEMU_DIR:-/usr/bin}
QEMU_X86=$QEMU_DIR/qemu-system-x86_64
# qemu_version BINARY: "X.Y.Z", as its --version prints it.
qemu_version() { "$1" --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p'; }
# qemu_at_least MAJOR BINARY: its version is MAJOR.0 or later.
qemu_at_least() { local v; v=$(qemu_version "$2"); [ -n "$v" ] && [ "${v%%.*}" -ge "$1" ]; }

# A capability is one word without ':' (the separator of the skip line).
skip_word() { local w=${1:-unnamed}; w=${w//[[:space:]:]/-}; echo "${w:-unnamed}"; }
skip() { # skip CAPABILITY REASON...  (one argument: an unnamed capability)
	[ $# -ge 2 ] || set -- unnamed "$@"
	echo "SKIP-PROGRAM $(skip_word "$1"): ${*:2}"
	exit 77
}
skip_case() { # skip_case CAPABILITY REASON...
	echo "SKIP-CASE $(skip_word "$1"): ${*:2}"
}
ok() { echo "ok - $*"; }
fail() {
	echo "FAIL - $*"; FAILS=$((FAILS + 1))
	# A failed wait on the guest: show what it said instead.
	local c n
	[ -n "${MNT:-}" ] && for c in "$MNT"/*/console; do
		[ -r "$c" ] || continue
		n=$(basename "$(dirname "$c")")
		echo "  $n last said: $(tr -d '\r' < "$c" | grep -a '^GUEST cpus=' | tail -n1)"
		# The first failure: its kernel's last words too (an oops, a stall).
		[ "$FAILS" -eq 1 ] && tail -c 20000 "$c" | tr -d '\r' | grep -av '^GUEST' | tail -n 12 | sed "s|^|  $n kernel: |"
	done 2>/dev/null
}
check() { # check DESC CMD...
	local d=$1; shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}

e2e_requirements() {
	[ "$(id -u)" = 0 ] || skip root "needs root (mounting FUSE, running QEMU)"
	[ -c /dev/fuse ] || skip /dev/fuse "no /dev/fuse on this machine"
	command -v fusermount3 >/dev/null || skip fusermount3 "fusermount3 is not installed (scripts/deps.sh)"
	[ -x "$QEMU_X86" ] || skip qemu-system-x86_64 "$QEMU_X86 is not installed (scripts/deps.sh; make qemu-10)"
	[ -r "$GUEST/vmlinuz" ] && [ -r "$GUEST/initramfs.cpio.gz" ] || skip guest "built-in guest missing (make guest)"
	[ -x "$BIN" ] || skip sandboxfs-binary "sandboxfs not built (make all)"
}

# e2e_mount: start the daemon on $MNT with state in $STATE.  The temporary
# tree lives under $E2E_TMPDIR when the runner gives one (so that it can
# sweep what a killed test left), else under /tmp.
e2e_mount() {
	T=$(mktemp -d "${E2E_TMPDIR:-/tmp}/sandboxfs-e2e.XXXXXX")
	MNT=$T/mnt STATE=$T/state LOG=$T/daemon.log
	# Its own cgroup parent: tests running side by side (and sandboxes of
	# the same name in them) never share a QEMU cgroup.
	CG_PARENT=sandboxfs-e2e-${T##*.}
	# Named for the runner, which fails a test that leaves one of its
	# sandboxes' cgroups behind (tests/run-e2e.sh).
	[ -n "${E2E_TMPDIR:-}" ] && echo "$CG_PARENT" >> "$E2E_TMPDIR/cgroup-parents"
	mkdir -p "$MNT"
	e2e_mount_again
}

# e2e_mount_again: the daemon once more on the same $MNT and $STATE (after
# an unmount or a kill), with the options in E2E_ARGS.
e2e_mount_again() {
	# E2E_WRAP runs the daemon under a tool, e.g. E2E_WRAP="valgrind --log-file=/tmp/vg.%p".
	# shellcheck disable=SC2086
	${E2E_WRAP:-} "$BIN" -f --state-dir="$STATE" --log="$LOG" --cgroup-parent="${CG_PARENT:-sandboxfs}" \
		${TEST_QEMU_DIR:+--qemu-dir="$TEST_QEMU_DIR:/usr/bin"} ${E2E_ARGS:-} "$MNT" &
	DAEMON=$!
	for _ in $(seq 400); do mountpoint -q "$MNT" && return 0; sleep 0.05; done
	echo "daemon did not mount; log:"; cat "$LOG"; exit 1
}

e2e_cleanup() {
	if [ -n "${MNT:-}" ] && mountpoint -q "$MNT"; then
		for d in "$MNT"/*/; do
			case $(cat "$d/state" 2>/dev/null) in running | paused) echo kill > "$d/ctl" 2>/dev/null ;; esac
		done
		fusermount3 -u "$MNT" 2>/dev/null
	fi
	if [ -n "${DAEMON:-}" ]; then
		# A daemon that does not exit after its unmount is a failure, not a hang.
		for _ in $(seq 120); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.25; done
		if kill -0 "$DAEMON" 2>/dev/null; then
			fail "the daemon (pid $DAEMON) did not exit within 30 s of its unmount"
			kill -9 "$DAEMON" 2>/dev/null
		fi
		wait "$DAEMON" 2>/dev/null
	fi
	qemu_used "${LOG:-}"
	if [ "$FAILS" -ne 0 ] && [ -n "${LOG:-}" ]; then echo "--- daemon log"; tail -n 80 "$LOG"; fi
	# E2E_KEEP=1 keeps the test's directory (daemon log, state) to look at.
	if [ -n "${T:-}" ] && [ "${E2E_KEEP:-0}" = 1 ]; then echo "kept: $T"; elif [ -n "${T:-}" ]; then rm -rf "$T"; fi
	[ -n "${CG_PARENT:-}" ] && rmdir /sys/fs/cgroup/*/"$CG_PARENT" /sys/fs/cgroup/"$CG_PARENT" 2>/dev/null
	return 0
}

# qemu_used LOG: one "QEMU-USED VERSION BINARY" line for each QEMU the
# daemon of LOG started ("qemu pid N is QEMU V (BINARY)"); the runners
# count the tests that ran against each version by these lines.
qemu_used() {
	[ -r "$1" ] || return 0
	sed -n 's/.*: qemu pid [0-9]* is QEMU \([0-9.]*\) (\(.*\))$/QEMU-USED \1 \2/p' "$1" | sort -u
}

# mounted: the sandboxfs of this test is mounted at $MNT (and answers).
mounted() { mountpoint -q "$MNT" && [ -r "$MNT/version" ]; }

# write_expect FILE VALUE ERRTEXT: the write must fail with that strerror text.
write_expect() {
	local out
	if out=$( { echo "$2" > "$1"; } 2>&1 ); then
		echo "  write '$2' > $1 succeeded; wanted: $3"
		return 1
	fi
	case "$out" in *"$3"*) return 0 ;; esac
	echo "  write '$2' > $1 gave: $out; wanted: $3"
	return 1
}

# fails_with ERRTEXT CMD...: CMD must fail (non-zero exit) and say ERRTEXT
# (a strerror text) on stdout/stderr, on a mounted fs.
fails_with() {
	local want=$1 out; shift
	if out=$("$@" 2>&1); then
		echo "  $* succeeded; wanted: $want"
		return 1
	fi
	case "$out" in *"$want"*) ;; *) echo "  $* gave: $out; wanted: $want"; return 1 ;; esac
	mounted || { echo "  (and $MNT is not mounted)"; return 1; }
}

# gone PATH: PATH does not exist, on a mounted fs (an unmounted one hides
# everything).
gone() { mounted && [ ! -e "$1" ]; }

# reads_as FILE WANT: FILE reads successfully and its content is exactly WANT
# (trailing newlines aside); `reads_as FILE ""` asserts an empty file.
reads_as() {
	local got
	got=$(cat "$1") || { echo "  cat $1 failed"; return 1; }
	[ "$got" = "$2" ] && return 0
	echo "  $1 reads '$got'; wanted '$2'"
	return 1
}

# reads_as_ls DIR "NAMES": `ls DIR` lists exactly those (space separated).
reads_as_ls() {
	local got
	got=$(ls "$1" | tr '\n' ' ') || { echo "  ls $1 failed"; return 1; }
	[ "${got% }" = "$2" ] && return 0
	echo "  ls $1 gives '${got% }'; wanted '$2'"
	return 1
}

# wait_for SECONDS CMD...: poll until CMD succeeds; 1 when it never did.
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

# ---------------------------------------------------------------------
# For the runners (tests/run-units.sh, tests/run-e2e.sh).

# The skip allow-list: tests/skip-allowed, one capability per line.
SKIP_ALLOWED_FILE=$ROOT/tests/skip-allowed
# skip_allowed CAPABILITY: may a CI machine lack it?
skip_allowed() {
	local cap=$1 c _
	while read -r c _; do
		case "$c" in '' | '#'*) continue ;; esac
		[ "$c" = "$cap" ] && return 0
	done < "$SKIP_ALLOWED_FILE"
	return 1
}
in_ci() { [ "${CI:-}" = true ]; }

# skip_records LOG: the skips a test's output reports, one per line as
# "KIND CAPABILITY REASON" (KIND is CASE or PROGRAM).  An older-style
# "SKIP: reason" / "SKIP part: reason" line counts as a CASE of capability
# "unnamed".
skip_records() {
	sed -nE -e 's/^SKIP-(CASE|PROGRAM) ([^ :]+): ?(.*)$/\1 \2 \3/p' \
		-e 's/^[[:space:]]*SKIP(:| )[[:space:]]*(.*)$/CASE unnamed \2/p' "$1"
}

# The verdict of one program or script, into the runner's counters
# R_PASS R_FAIL R_SKIP and the lists R_SKIPS / R_FAILS ("NAME: text" lines):
#   exit 0   passed; each skip line adds one skipped case;
#   exit 77  one skipped program, however many lines explain it (listed
#            together; none: an unnamed capability);
#   else     failed (a timeout is a failure); its skip lines still count.
# Under CI=true a skip whose capability is not in tests/skip-allowed fails
# the program instead of counting as skipped.
R_PASS=0 R_FAIL=0 R_SKIP=0 R_SKIPS=() R_FAILS=()
runner_verdict() { # runner_verdict NAME RC LOG
	local name=$1 rc=$2 log=$3 kind cap reason verdict r denied=0 allowed=0 whole=
	local -a recs=()
	mapfile -t recs < <(skip_records "$log")
	if [ "$rc" -eq 77 ] && [ ${#recs[@]} -eq 0 ]; then
		recs=("PROGRAM unnamed exit 77 without a SKIP line")
	fi
	for r in "${recs[@]}"; do
		read -r kind cap reason <<<"$r"
		if in_ci && ! skip_allowed "$cap"; then
			denied=$((denied + 1))
			R_FAILS+=("$name: skip of '$cap' is not allowed under CI=true (not in tests/skip-allowed): $reason")
			echo "FAIL $name: skipped for '$cap' ($reason), and CI=true allows only the capabilities in tests/skip-allowed"
		else
			allowed=$((allowed + 1))
			if [ "$rc" -eq 77 ]; then
				whole="${whole:+$whole; }$cap: $reason"
			else
				R_SKIPS+=("$name: $cap: $reason")
				R_SKIP=$((R_SKIP + 1))
			fi
		fi
	done
	# Which QEMUs it ran against (QEMU-USED lines: tests/unit/support_qemu.h,
	# qemu_used below); a pass against one QEMU (RUN_QEMU_EXPECT, set by
	# tests/run-all.sh) must have run that one and no other.
	local used v
	used=$(grep -o 'QEMU-USED [0-9][0-9.]*' "$log" | cut -d' ' -f2 | sort -u)
	if [ -n "${RUN_QEMU_EXPECT:-}" ] && [ "$rc" -eq 0 ] && [ "$used" != "$RUN_QEMU_EXPECT" ]; then
		denied=$((denied + 1))
		R_FAILS+=("$name: this pass is against QEMU $RUN_QEMU_EXPECT, and it ran '${used//$'\n'/ }'")
		echo "FAIL $name: this pass is against QEMU $RUN_QEMU_EXPECT, and it ran '${used//$'\n'/ }'"
	fi
	if [ "$rc" -ne 77 ]; then
		for v in $used; do echo "RAN-AGAINST $v $name"; done
	fi
	if [ "$denied" -gt 0 ] && [ "$rc" -eq 0 -o "$rc" -eq 77 ]; then
		verdict=FAIL
	elif [ "$rc" -eq 0 ]; then
		verdict=PASS
	elif [ "$rc" -eq 77 ]; then
		verdict=SKIP
	else
		verdict=FAIL
	fi
	case $verdict in
	PASS) R_PASS=$((R_PASS + 1))
	      if [ "$allowed" -gt 0 ]; then echo "PASS $name ($allowed skipped inside)"; else echo "PASS $name"; fi ;;
	SKIP) R_SKIP=$((R_SKIP + 1)); R_SKIPS+=("$name: $whole"); echo "SKIP $name ($whole)" ;;
	FAIL) R_FAIL=$((R_FAIL + 1))
	      # the summary names the first failed check, so a cut log still says why
	      local first; first=$(grep -a -m1 -E '^(FAIL - |not ok )' "$log" | cut -c1-200)
	      [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] ||
		      R_FAILS+=("$name: $(fail_reason "$rc")${first:+; first: $first}")
	      echo "FAIL $name ($(fail_reason "$rc"))" ;;
	esac
}
fail_reason() {
	case $1 in
	0 | 77) echo "a skip CI does not allow, or the wrong QEMU" ;;
	124) echo "timed out" ;;
	*) echo "exit $1" ;;
	esac
}

# runner_summary SUITE: the suite's lines for tests/run-all.sh, then its
# closing line; returns 1 when anything failed or nothing passed at all
# (a run where everything was skipped tested nothing).
runner_summary() {
	local s
	if [ "$R_PASS" -eq 0 ] && [ "$R_FAIL" -eq 0 ]; then
		R_FAIL=$((R_FAIL + 1))
		R_FAILS+=("$1: nothing passed: every test was skipped (or there was none)")
		echo "FAIL $1: nothing passed, every test was skipped (or there was none)"
	fi
	for s in "${R_SKIPS[@]}"; do echo "SKIPPED $s"; done
	for s in "${R_FAILS[@]}"; do echo "FAILED $s"; done
	echo "$1: $R_PASS passed, $R_FAIL failed, $R_SKIP skipped"
	[ "$R_FAIL" -eq 0 ]
}

# test_limit NAME SOURCE DEFAULT PREFIX: the time limit, in seconds, of one
# test: the environment's ${PREFIX}_NAME if set (e.g. E2E_TIMEOUT_test_slice);
# else the larger of DEFAULT and what SOURCE declares on a line
# "test-timeout: SECONDS" (in a comment, within its first 40 lines).
test_limit() {
	local name=$1 src=$2 def=$3 var="${4}_${1//[^A-Za-z0-9_]/_}" want=
	if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
	[ -r "$src" ] && want=$(head -n 40 "$src" | sed -nE 's/.*test-timeout: *([0-9]+).*/\1/p' | head -n1)
	if [ -n "$want" ] && [ "$want" -gt "$def" ]; then echo "$want"; else echo "$def"; fi
}

# descendants PID: "pid start-time" of every process below PID.
descendants() {
	ps -e -o pid=,ppid=,lstart= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1; st = $3; for (i = 4; i <= NF; i++) st = st "_" $i; start[$1] = st }
		END { n = split(kids[root], q, " ")
		      while (n > 0) { p = q[n--]; print p, start[p]
		                      m = split(kids[p], k, " "); for (i = 1; i <= m; i++) q[++n] = k[i] } }'
}
# alive PID START: that very process (not a reused pid, not a zombie) lives.
alive() {
	local st s
	st=$(ps -o lstart= -p "$1" 2>/dev/null) || return 1
	s=$(ps -o stat= -p "$1" 2>/dev/null)
	case "$s" in Z*) return 1 ;; esac
	st=$(echo $st | tr ' ' _)
	[ "$st" = "$2" ]
}

# run_note LOG TEXT: a line of the runner's own into the test's log (and on
# stdout too when the log is streamed, since the stream has ended).
run_note() { echo "$2" >> "$1"; [ "${RUN_STREAM:-0}" = 1 ] && echo "$2"; return 0; }

# run_limited NAME LIMIT LOG CMD...: run CMD, its output to LOG (and copied
# to stdout as it comes when RUN_STREAM=1), under coreutils timeout in a
# process group of its own: after LIMIT seconds the group gets SIGTERM, 10 s
# later SIGKILL, and the run says so naming NAME and the limit.  Whatever
# CMD started that left the group (QEMU runs in its own session) and still
# runs after it is killed too, by pid.  Returns CMD's status, 124 when it
# timed out, or 1 when it left processes behind.
run_limited() {
	local name=$1 limit=$2 log=$3; shift 3
	local seen tail_pid= rc t0=$SECONDS p st left=0
	seen=$(mktemp)
	: > "$log"
	timeout --kill-after=10 "$limit" "$@" > "$log" 2>&1 < /dev/null &
	local tpid=$!
	[ "${RUN_STREAM:-0}" = 1 ] && { tail -n +1 -f --pid="$tpid" "$log" & tail_pid=$!; }
	local n=0
	while kill -0 "$tpid" 2>/dev/null; do
		descendants "$tpid" >> "$seen"
		# Often at first (most unit programs take well under a second), then
		# twice a second.
		if [ $((n += 1)) -le 10 ]; then sleep 0.1; else sleep 0.5; fi
	done
	wait "$tpid"; rc=$?
	[ -n "$tail_pid" ] && wait "$tail_pid"
	if [ "$rc" -eq 124 ] || { [ "$rc" -eq 137 ] && [ $((SECONDS - t0)) -ge "$limit" ]; }; then
		run_note "$log" "TIMEOUT $name: still running after its limit of ${limit} s; killed with its process group"
		run_note "$log" "  (raise it with ${RUN_LIMIT_VAR:-its timeout variable} or a 'test-timeout: SECONDS' line in the test; docs/testing.md)"
		rc=124
	fi
	# What escaped the process group: give it 3 s to finish, then kill it.
	local -a stray=()
	for _ in 1 2 3 4; do
		stray=()
		while read -r p st; do
			[ -n "$p" ] && alive "$p" "$st" && stray+=("$p $st")
		done < <(sort -u "$seen")
		[ ${#stray[@]} -eq 0 ] && break
		[ "$rc" -eq 124 ] && break
		sleep 1
	done
	for s in "${stray[@]}"; do
		read -r p st <<<"$s"
		alive "$p" "$st" || continue
		run_note "$log" "LEFTOVER $name: pid $p ($(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-160)) still ran after the test; killed"
		kill -KILL "$p" 2>/dev/null
		left=$((left + 1))
	done
	rm -f "$seen"
	[ "$rc" -eq 0 ] && [ "$left" -gt 0 ] && rc=1
	return "$rc"
}
