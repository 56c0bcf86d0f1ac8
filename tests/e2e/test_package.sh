#!/usr/bin/env bash
# The Debian package, end to end: build it from a clean `git clone` of this
# tree (dpkg-buildpackage -b -us -uc; lintian must report no error), install
# it with apt, build the built-in guest with the documented command, mount
# through mount(8) (-t fuse.sandboxfs ... -o state_dir=..., and an fstab
# line), boot a sandbox until the guest says "GUEST boot ok", stop the
# daemon as systemctl restart would (KillMode=process: SIGTERM to the daemon
# alone) and see the next one re-adopt the running guest, unmount, purge,
# and find nothing left: no file of dpkg -L, no state, no user, no process.
#
# Skipped (77) only when the build dependencies cannot be installed, or
# when a sandboxfs package is installed already (the test would purge it).
# Installs the package on this machine for the duration of the test.
set -u
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (apt-get install, mounting FUSE)"
[ -c /dev/fuse ] || skip "no /dev/fuse on this machine"
if dpkg-query -W -f='${Status}' sandboxfs 2>/dev/null | grep -q "ok installed"; then
	skip "a sandboxfs package is installed on this machine; the test would purge it"
fi
export DEBIAN_FRONTEND=noninteractive
T=$(mktemp -d /tmp/sandboxfs-pkg.XXXXXX)
MNT=$T/mnt STATE=$T/state LOG=$T/daemon.log
GUESTDIR=/var/lib/sandboxfs/guest
t0=$SECONDS
say() { echo "# $*"; }
q() { "$@" >>"$T/quiet.log" 2>&1; }   # a check's command, its output to a log

daemon_pids() { # the installed daemons serving $MNT
	local p
	for p in $(pgrep -x sandboxfs); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/bin/sandboxfs ] &&
			tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF " $MNT" && echo "$p"
	done
}
cleanup() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		for c in "$MNT"/*/ctl; do [ -e "$c" ] && echo kill >"$c" 2>/dev/null; done
		umount "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	fi
	for p in $(daemon_pids); do kill "$p" 2>/dev/null; done
	# A QEMU of ours left behind (its state dir is in $T).
	for p in $(pgrep -f "qemu-system.*$STATE/" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	if dpkg-query -W -f='${Status}' sandboxfs 2>/dev/null | grep -q installed; then
		apt-get purge -y -qq sandboxfs >/dev/null 2>&1
	fi
	if [ "$FAILS" -ne 0 ]; then
		[ -r "$LOG" ] && { echo "--- daemon log"; tail -n 40 "$LOG"; }
		[ -r "$T/build.log" ] && { echo "--- build log (tail)"; tail -n 30 "$T/build.log"; }
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# --- build dependencies ------------------------------------------------------

command -v git >/dev/null || apt-get install -y -qq git >/dev/null 2>&1 || skip "git cannot be installed"
git clone -q "$ROOT" "$T/src" || { fail "git clone $ROOT"; exit 1; }
if ! (cd "$T/src" && dpkg-checkbuilddeps 2>/dev/null); then
	say "installing the build dependencies"
	apt-get install -y -qq --no-install-recommends dpkg-dev lintian >/dev/null 2>&1 &&
	(cd "$T/src" && apt-get build-dep -y -qq ./ >"$T/deps.log" 2>&1) ||
		skip "the build dependencies cannot be installed: $(tail -n 1 "$T/deps.log" 2>/dev/null)"
fi
command -v lintian >/dev/null || apt-get install -y -qq lintian >/dev/null 2>&1

# --- build ---------------------------------------------------------------------

b0=$SECONDS
if (cd "$T/src" && dpkg-buildpackage -b -us -uc) >"$T/build.log" 2>&1; then
	ok "dpkg-buildpackage -b -us -uc from a clean clone ($((SECONDS - b0)) s)"
else
	fail "dpkg-buildpackage failed"; exit 1
fi
debs=("$T"/sandboxfs_*.deb)
check "it made sandboxfs_*.deb" test -f "${debs[0]}"
if command -v lintian >/dev/null; then
	lintian --pedantic -I "$T"/sandboxfs_*.changes >"$T/lintian.log" 2>&1
	sed 's/^/  lintian: /' "$T/lintian.log" | grep -v 'root privileges'
	check "lintian reports no error" bash -c "! grep -q '^E:' '$T/lintian.log'"
	check "lintian reports no warning (all fixed or explained in debian/)" \
		bash -c "! grep -q '^W:' '$T/lintian.log'"
fi

# --- install -------------------------------------------------------------------

if apt-get install -y -qq "${debs[0]}" >"$T/install.log" 2>&1; then
	ok "apt-get install ./$(basename "${debs[0]}")"
else
	cat "$T/install.log"; fail "apt-get install"; exit 1
fi
dpkg -L sandboxfs | sort >"$T/files"
check "/usr/bin/sandboxfs --version" q /usr/bin/sandboxfs --version
/usr/bin/sandboxfs --version | sed 's/^/  /'
check "man page installed" test -f /usr/share/man/man1/sandboxfs.1.gz
check "sandboxfs.service installed" test -f /lib/systemd/system/sandboxfs.service
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify sandboxfs.service" \
		q systemd-analyze verify /lib/systemd/system/sandboxfs.service
fi
check "system user sandboxfs-qemu created" q getent passwd sandboxfs-qemu
check "the daemon's built-in guest dir is $GUESTDIR" \
	bash -c "/usr/bin/sandboxfs --help | grep -qF '$GUESTDIR'"

# --- the built-in guest, with the documented command -------------------------

# The kernel .deb `make guest` fetched, if any, saves a download.
mkdir -p "$GUESTDIR/.work"
cp "$ROOT"/build/guest/.work/linux-image-*.deb "$GUESTDIR/.work/" 2>/dev/null
if /usr/lib/sandboxfs/build-guest.sh "$GUESTDIR" >"$T/guest.log" 2>&1; then
	ok "/usr/lib/sandboxfs/build-guest.sh $GUESTDIR: $(tail -n 1 "$T/guest.log")"
else
	cat "$T/guest.log"; fail "build-guest.sh"; exit 1
fi

# --- mount(8), boot -------------------------------------------------------------

mkdir -p "$MNT"
check "mount -t fuse.sandboxfs none MNT -o state_dir=..." \
	mount -t fuse.sandboxfs none "$MNT" -o "state_dir=$STATE,log=$LOG"
check "mounted as fuse.sandboxfs" bash -c "findmnt -n -o FSTYPE '$MNT' | grep -qx fuse.sandboxfs"
check "version answers" grep -q '^sandboxfs ' "$MNT/version"
mkdir "$MNT/a"
check "a new sandbox's kernel is the installed guest" grep -qF "$GUESTDIR/vmlinuz" "$MNT/a/config"
echo start >"$MNT/a/ctl"
booted() { tr -d '\r' <"$MNT/a/console" | grep -aq '^GUEST boot ok'; }
check "the guest boots: GUEST boot ok" wait_for 120 booted
qpid=$(cat "$MNT/a/pid")

# systemctl restart with KillMode=process: SIGTERM to the daemon alone.
pids=$(daemon_pids)
check "one daemon serves the mount" test "$(wc -w <<<"$pids")" = 1
kill -TERM $pids
gone() { ! kill -0 "$1" 2>/dev/null; }
check "the daemon exits on SIGTERM" wait_for 20 gone "$pids"
check "and unmounts" bash -c "! mountpoint -q '$MNT'"
check "its guest keeps running" kill -0 "$qpid"
# The same mount again, as an fstab line (mount -T: this file, not /etc/fstab).
echo "none $MNT fuse.sandboxfs state_dir=$STATE,log=$LOG,allow_other,nofail 0 0" >"$T/fstab"
check "mount through an fstab line" mount -T "$T/fstab" "$MNT"
check "the next daemon re-adopts it: running, same pid" \
	bash -c "[ \"\$(cat '$MNT/a/state')\" = running ] && [ \"\$(cat '$MNT/a/pid')\" = '$qpid' ]"

echo kill >"$MNT/a/ctl"
stopped() { [ "$(cat "$MNT/a/state")" != running ]; }
check "kill stops it" wait_for 20 stopped
rmdir "$MNT/a"
check "umount" umount "$MNT"
pids=$(daemon_pids)
[ -z "$pids" ] || wait_for 20 gone $pids
check "no daemon left" test -z "$(daemon_pids)"

# --- purge ------------------------------------------------------------------------

check "apt-get purge -y sandboxfs" q apt-get purge -y -qq sandboxfs
left=$(while read -r f; do
	[ -d "$f" ] && continue
	[ -e "$f" ] || [ -L "$f" ] && echo "$f"
done <"$T/files")
check "every file dpkg -L listed is gone${left:+ (left: $left)}" test -z "$left"
check "/usr/lib/sandboxfs is gone" test ! -e /usr/lib/sandboxfs
check "/var/lib/sandboxfs (state, guest) is gone" test ! -e /var/lib/sandboxfs
check "/etc/default/sandboxfs is gone" test ! -e /etc/default/sandboxfs
check "user sandboxfs-qemu is gone" bash -c "! getent passwd sandboxfs-qemu"
check "group sandboxfs-qemu is gone" bash -c "! getent group sandboxfs-qemu"
no_qemu_left() { ! pgrep -f "qemu-system.*$STATE/" >/dev/null; }
check "no QEMU of the test left" no_qemu_left
say "test_package: $((SECONDS - t0)) s"
[ "$FAILS" -eq 0 ]
