#!/bin/bash
# fetch-qemu.sh — a second QEMU (10.0, from bookworm-backports) beside the
# system's 7.2, unpacked into a directory and never installed.
#
#   scripts/fetch-qemu.sh [OUTDIR [GUESTDIR]]     (`make qemu-10`:
#                                                  build/qemu-10 build/guest)
#
# 1. Adds bookworm-backports as an apt source in its own file,
#    /etc/apt/sources.list.d/sandboxfs-backports.sources, unless some source
#    already provides it.  The archive's Release says NotAutomatic: yes /
#    ButAutomaticUpgrades: yes, so apt gives it priority 100: nothing is
#    installed or upgraded from it unless asked for by name.  Checked: the
#    priority apt-cache policy shows is <= 100, and apt's candidate for
#    qemu-system-x86 is still not the backports version.
# 2. Lets apt's resolver say what 10.0 needs (a simulated install from
#    backports, nothing installed): the QEMU packages and whatever they want
#    newer than the system has.  `apt-get download`s exactly those, at the
#    versions apt chose, and `dpkg -x`es them into OUTDIR.
# 3. Checks: `ldd` finds every library of every OUTDIR/usr/bin/qemu-system-*
#    and every module (with OUTDIR's own library dirs first: the opengl
#    module needs libvirglrenderer1, libva2, ... which a host with 7.2 need
#    not have; they come from bookworm and are unpacked too), and the
#    four the arch tables use report version 10.  With GUESTDIR (the
#    built-in guest: vmlinuz, initramfs.cpio.gz), boots it under TCG on q35
#    until the console prints "GUEST boot ok" (at most 90 s).
# 4. Writes OUTDIR/env (what a caller must set) and OUTDIR/bin/qemu-system-
#    {x86_64,aarch64,ppc64,s390x}: wrappers that set it and pass the -L
#    options.  This QEMU's paths are compiled in (it is not relocatable:
#    `-L help` lists /usr/share/qemu, /usr/share/seabios, /usr/lib/ipxe/qemu),
#    so without them it would load 7.2's firmware and 7.2's modules:
#      -L OUTDIR/usr/share/qemu -L OUTDIR/usr/share/seabios
#         10.0's ROMs and the SeaBIOS 1.16.3 it depends on, searched before
#         the system's (with 7.2's SeaBIOS 1.16.2 the guest takes ~35 s to
#         boot instead of ~4 s);
#      QEMU_MODULE_DIR=OUTDIR/usr/lib/<multiarch>/qemu
#         its own modules ("Only modules from the same build can be loaded").
#
# Environment: QEMU_SUITE    the suite to take QEMU from (default bookworm-backports)
#              QEMU_PKGS     the packages (default: the list below)
#              QEMU_REFRESH  ask apt again even when OUTDIR holds a QEMU 10
#                            already (else that is all: make check runs this)
# The downloaded .debs stay in OUTDIR/.debs: a rerun needs no network.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../build/qemu-10}
guest=${2:+$(cd "$2" && pwd)}
suite=${QEMU_SUITE:-bookworm-backports}
# 10.0 split the display modules out of qemu-system-common (where 7.2 has
# them): without -modules-opengl, 10.0 finds 7.2's ui-opengl.so in the
# system module dir and prints "Only modules from the same build can be
# loaded" at every start.
# shellcheck disable=SC2206 # a word list
pkgs=(${QEMU_PKGS:-qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-misc
	qemu-system-common qemu-system-data qemu-system-modules-opengl qemu-system-modules-spice})
list=/etc/apt/sources.list.d/sandboxfs-backports.sources
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

say() { echo "qemu-10: $*"; }
die() { echo "qemu-10: error: $*" >&2; exit 1; }
apt_opts=(-q -o APT::Sandbox::User=root)

# Already unpacked and answering as QEMU 10: nothing to do, no apt query
# (make check runs this every time).  QEMU_REFRESH=1 asks apt again.
if [ -z "${QEMU_REFRESH:-}" ] && compgen -G "$out/.stamp-*" >/dev/null &&
	"$out/bin/qemu-system-x86_64" --version 2>/dev/null | grep -q '^QEMU emulator version 10\.'; then
	say "already unpacked: $out ($("$out/bin/qemu-system-x86_64" --version | head -n1))"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "needs root (it adds an apt source and runs apt-get update)"
mkdir -p "$out/.debs"
out=$(cd "$out" && pwd)
debs=$out/.debs

# --- 1. the apt source ------------------------------------------------------

has_suite() { apt-cache policy 2>/dev/null | grep -q " $suite/main "; }
if ! has_suite; then
	if [ ! -f "$list" ]; then
		mirror=$(sed -n 's|^URIs: *\([^ ]*/debian\)/\?$|\1|p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
		say "adding $suite (${mirror:-http://deb.debian.org/debian}) as $list"
		cat >"$list" <<EOF
# Added by sandboxfs scripts/fetch-qemu.sh: QEMU 10.0 is downloaded from
# here and unpacked into a build directory, never installed.  Backports has
# priority 100 (NotAutomatic/ButAutomaticUpgrades): nothing installs or
# upgrades from it unless asked for by name.  Remove this file to drop it.
Types: deb
URIs: ${mirror:-http://deb.debian.org/debian}
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	fi
	say "apt-get update ..."
	apt-get "${apt_opts[@]}" update >"$debs/apt.log" 2>&1 || { cat "$debs/apt.log" >&2; die "apt-get update failed"; }
	has_suite || die "apt sees no $suite after adding $list"
fi

# Priority: backports must stay opt-in.
prio=$(apt-cache policy | awk -v s=" $suite/main " 'index($0, s) { print $1; exit }')
[ "$prio" -le 100 ] || die "$suite has priority $prio (> 100): something pins it; refusing"

bpo_version() {  # $1 = package: its version in $suite, or nothing
	apt-cache madison "$1" 2>/dev/null | awk -F' *[|] *' -v s="$suite/" 'index($3, s) { print $2; exit }'
}
v=$(bpo_version qemu-system-x86)
[ -n "$v" ] || die "no qemu-system-x86 in $suite"
cand=$(apt-cache policy qemu-system-x86 | awk '$1 == "Candidate:" { print $2 }')
if [ "$cand" = "$v" ]; then
	die "apt's candidate for qemu-system-x86 is the $suite version $v: an upgrade would replace the system QEMU"
fi
say "$suite has QEMU $v (system candidate stays $cand)"

# --- 2. download ------------------------------------------------------------

stamp=$out/.stamp-$v
if [ -f "$stamp" ] && [ -x "$out/usr/bin/qemu-system-x86_64" ]; then
	say "already unpacked: $out (QEMU $v)"
	exit 0
fi

# apt's own resolver decides what else 10.0 needs: a simulated install from
# $suite (nothing is installed) lists every package to add or upgrade, at
# the version it would take: with 7.2 installed, the QEMU packages, the
# qemu-system-misc split (riscv, s390x) and the firmware they want newer
# (seabios, opensbi).  Those, and only those, are downloaded and unpacked.
mapfile -t inst < <(apt-get -s -q -t "$suite" install --no-install-recommends "${pkgs[@]}" 2>"$debs/apt.log" |
	sed -n 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\?(\([^ ]*\) .*/\1=\3/p')
[ ${#inst[@]} -gt 0 ] || { cat "$debs/apt.log" >&2; die "apt-get -s install ${pkgs[*]} from $suite found nothing to take"; }

debfile() {      # $1 = name=version: the .deb apt-get download names it
	local n=${1%%=*} ver=${1#*=} f
	f=("$debs/${n}_${ver/:/%3a}_"*.deb)
	[ -f "${f[0]:-}" ] && echo "${f[0]}"
}
shopt -s nullglob
cd "$debs"
for nv in "${inst[@]}"; do
	[ -n "$(debfile "$nv")" ] && continue
	say "downloading ${nv/=/ } ..."
	apt-get "${apt_opts[@]}" download "$nv" >>"$debs/apt.log" 2>&1 ||
		{ tail -n 20 "$debs/apt.log" >&2; die "apt-get download $nv failed"; }
done
# Only the versions in use stay.
keep=$(for nv in "${inst[@]}"; do debfile "$nv"; done)
for f in "$debs"/*.deb; do grep -qxF "$f" <<<"$keep" || rm -f "$f"; done

# --- unpack -------------------------------------------------------------------

rm -rf "${out:?}/usr" "${out:?}/etc" "${out:?}/lib" "$out"/.stamp-*
for nv in "${inst[@]}"; do
	dpkg-deb -x "$(debfile "$nv")" "$out"
done
# The packages' /etc (qemu-ifup, vulkan's empty *.d layer dirs) is never
# read by the unpacked QEMU, whose /etc paths are compiled in; and the
# Makefile includes every *.d under build/ as a dependency file.
rm -rf "${out:?}/etc"

# --- 3. checks ----------------------------------------------------------------

libdirs=
for d in "$out/usr/lib/$multiarch" "$out/lib/$multiarch"; do
	compgen -G "$d/*.so*" >/dev/null && libdirs=${libdirs:+$libdirs:}$d
done
missing=$(for b in "$out"/usr/bin/qemu-system-* "$out/usr/lib/$multiarch"/qemu/*.so; do
	LD_LIBRARY_PATH=$libdirs ldd "$b" | awk -v b="${b##*/}" '/not found/ { print b ": " $1 }'
done)
[ -z "$missing" ] || die "libraries not found:"$'\n'"$missing"

# --- 4. how to run it ---------------------------------------------------------

moddir=$out/usr/lib/$multiarch/qemu
{
	echo "# What a caller sets to run the QEMU $v in $out"
	echo "# (scripts/fetch-qemu.sh; docs/deploy.md).  Sourced by $out/bin/*."
	[ -z "$libdirs" ] || echo "LD_LIBRARY_PATH=$libdirs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}; export LD_LIBRARY_PATH"
	echo "QEMU_MODULE_DIR=$moddir; export QEMU_MODULE_DIR"
	echo "QEMU10_L=\"-L $out/usr/share/qemu -L $out/usr/share/seabios\""
} >"$out/env"
# shellcheck source=/dev/null
. "$out/env"
rm -f "$out"/qemu-system-*-10
mkdir -p "$out/bin"
for a in x86_64 aarch64 ppc64 s390x; do
	b=$out/usr/bin/qemu-system-$a
	# shellcheck disable=SC2086 # QEMU10_L is a list of words
	got=$("$b" $QEMU10_L --version | head -n1)
	case $got in "QEMU emulator version 10."*) ;; *) die "${b##*/} says: $got" ;; esac
	cat >"$out/bin/qemu-system-$a" <<EOF
#!/bin/sh
# QEMU $v from $suite, unpacked by scripts/fetch-qemu.sh.
. "$out/env"
exec "$b" \$QEMU10_L "\$@"
EOF
	chmod 0755 "$out/bin/qemu-system-$a"
done
got=$("$out/bin/qemu-system-x86_64" --version | head -n1)

# --- the built-in guest boots -------------------------------------------------

if [ -n "$guest" ]; then
	log=$out/.boot.log
	t0=$(date +%s%N)
	"$out/bin/qemu-system-x86_64" -machine q35 -accel tcg -m 512 -nographic -no-reboot \
		-kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" \
		-append 'console=ttyS0 panic=-1' </dev/null >"$log" 2>&1 &
	qpid=$!
	booted=
	for _ in $(seq 360); do
		grep -aq 'GUEST boot ok' "$log" && { booted=1; break; }
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.25
	done
	kill "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	[ -n "$booted" ] || { tail -n 20 "$log" >&2; die "the built-in guest did not boot under $got"; }
	say "the built-in guest booted (q35, TCG) in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
fi
touch "$stamp"
say "done: $got"
say "run it as $out/bin/qemu-system-x86_64 (a wrapper), or see $out/env"
