#!/bin/bash
# build-guest.sh — build sandboxfs's built-in default guest.
#
#   scripts/build-guest.sh OUTDIR [ARCH]
#
# ARCH is the guest's architecture: x86_64 (default), aarch64, ppc64le or
# s390x.  Produces OUTDIR/vmlinuz (the Debian kernel, taken from its .deb
# without installing anything: the cloud flavour on x86_64 and aarch64, the
# only flavour Debian has on ppc64el and s390x; whatever QEMU's -kernel takes
# on that machine: bzImage, the plain arm64 Image gunzipped should the
# package ship it compressed, the pseries ELF vmlinux, the s390x image) and
# OUTDIR/initramfs.cpio.gz (newc, gzip): busybox-static with applet symlinks,
# /init = scripts/guest-init, and the virtio driver modules the daemon's
# hotplug needs, with /etc/modules.order listing them in dependency order
# (computed here from modules.dep) so that init can insmod them one by one.
# What a kernel must have built in (its console driver, s390x's virtio-ccw
# transport) is checked against the package's config-* file.
#
# Work files (downloaded .deb, unpacked kernel, staging tree) live in
# OUTDIR/.work; the .deb is kept there so a rebuild needs no network.
# If both outputs are newer than this script and guest-init, nothing is done.
#
# A guest of a foreign architecture (aarch64, ppc64le or s390x on an amd64
# host) takes its packages from the Debian architecture of that name (arm64,
# ppc64el, s390x): this script adds it to dpkg's foreign architectures if
# missing (dpkg --add-architecture, then apt-get update) and only downloads
# and unpacks its .debs, kernel, busybox-static and (ppc64le) drmgr with its
# libraries alike; nothing is installed.  The applet list comes from the
# host's busybox (which must be the same Debian version for a faithful list;
# an extra symlink is harmless, the guest says "applet not found" if used).
#
# Exit status: 0 built (or up to date); 3 the packages cannot be had on
# this machine — no such package for that architecture, the architecture
# cannot be added to dpkg, or the archive is unreachable with nothing cached
# — with a line "guest: unavailable: REASON" on stderr (tests skip on it);
# 2 usage; 1 any other failure (a bug, a broken package: tests fail on it).
#
# Environment: GUEST_KERNEL_META  kernel metapackage (default
#                                 linux-image-cloud-amd64 for x86_64,
#                                 linux-image-cloud-arm64 for aarch64,
#                                 linux-image-powerpc64le for ppc64le,
#                                 linux-image-s390x for s390x)
#              SOURCE_DATE_EPOCH  timestamp stored in the cpio (default 0)

set -euo pipefail
# A failing command ends the script with 1 whatever its own status (dpkg-deb
# says 2), except 3, which only unavailable() gives (also from a $(...)).
trap 'rc=$?; [ "$rc" -eq 3 ] || rc=1; exit "$rc"' ERR

usage() { echo "usage: $0 OUTDIR [x86_64|aarch64|ppc64le|s390x]" >&2; exit 2; }
[ $# -eq 1 ] || [ $# -eq 2 ] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
init_src=$here/guest-init
out=$1
# Per architecture: Debian architecture, kernel metapackage, the kernel
# image's name in the package's /boot, the virtio transport modules, the
# CONFIG_ options that must be =y (console driver; s390x's virtio-ccw is
# bool, so modules.builtin does not list it), and guest programs beyond
# busybox (with the .debs they and their libraries come from).
#
# pseries PCI hotplug needs one: QEMU's spapr machine is the hotplug handler
# of every PCI device under its host bridge, behind a pci-bridge too (SHPC is
# never involved; Debian's ppc64el kernel has no shpchp anyway).  It raises
# an RTAS hotplug event, which Linux leaves to userspace (on a full install
# rtas_errd runs "drmgr -c pci -a|-r -s DRC_INDEX -n"); guest-init does the
# same with drmgr from powerpc-ibm-utils, which uses the rpaphp and
# rpadlpar_io modules.  CPU and memory hotplug are handled in the kernel.
guest_debs=() guest_progs=()
case ${2:-x86_64} in
x86_64)
	debarch=amd64 dmeta=linux-image-cloud-amd64 kfile=vmlinuz
	transport=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci)
	builtin_cfg=(DEVTMPFS SERIAL_8250_CONSOLE) ;;
aarch64)
	debarch=arm64 dmeta=linux-image-cloud-arm64 kfile=vmlinuz
	transport=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci)
	builtin_cfg=(DEVTMPFS SERIAL_AMBA_PL011_CONSOLE) ;;
ppc64le)
	debarch=ppc64el dmeta=linux-image-powerpc64le kfile=vmlinux
	transport=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
		rpaphp rpadlpar_io)
	builtin_cfg=(DEVTMPFS PPC_PSERIES HVC_CONSOLE HOTPLUG_CPU PPC_RTAS_DAEMON)
	guest_debs=(powerpc-ibm-utils librtas2 libnuma1 libc6)
	guest_progs=(usr/sbin/drmgr) ;;
s390x)
	debarch=s390x dmeta=linux-image-s390x kfile=vmlinuz
	transport=(virtio_ring virtio)
	builtin_cfg=(DEVTMPFS S390_GUEST SCLP_VT220_CONSOLE HOTPLUG_CPU) ;;
*)	usage ;;
esac
meta=${GUEST_KERNEL_META:-$dmeta}
epoch=${SOURCE_DATE_EPOCH:-0}

say() { echo "guest: $*"; }
die() { echo "guest: error: $*" >&2; exit 1; }
unavailable() { echo "guest: unavailable: $*" >&2; exit 3; }

[ -r "$init_src" ] || die "missing $init_src"

# Up to date?
if [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ] &&
   [ "$out/vmlinuz" -nt "${BASH_SOURCE[0]}" ] && [ "$out/vmlinuz" -nt "$init_src" ] &&
   [ "$out/initramfs.cpio.gz" -nt "${BASH_SOURCE[0]}" ] &&
   [ "$out/initramfs.cpio.gz" -nt "$init_src" ]; then
	exit 0
fi

for tool in apt-cache apt-get dpkg dpkg-deb depmod cpio gzip; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
# Foreign guest architecture: packages are named pkg:arch.
qual=
[ "$debarch" = "$(dpkg --print-architecture)" ] || qual=:$debarch
case $meta in *:*) ;; *) meta=$meta$qual ;; esac
busybox=
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi
done
[ -n "$busybox" ] || die "a static busybox is needed (apt-get install busybox-static)"

mkdir -p "$out/.work"
out=$(cd "$out" && pwd)
work=$out/.work
# apt-get download would drop privileges to _apt, which may not be able to
# write here (and warns about it): stay root for this private download.
apt_opts=(-q -o APT::Sandbox::User=root)

# Foreign guest architecture: let apt see its packages (once; the stale
# package lists are then refreshed by the download logic below).
if [ -n "$qual" ] && ! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
	say "adding dpkg foreign architecture $debarch ..."
	dpkg --add-architecture "$debarch" 2>"$work/apt.err" ||
		unavailable "dpkg cannot add architecture $debarch: $(head -n1 "$work/apt.err")"
fi

# --- kernel package -------------------------------------------------------

resolve_pkg() {
	apt-cache depends "$meta" 2>/dev/null |
		awk '$1 ~ /^\|?Depends:$/ && $2 ~ /^linux-image-/ { print $2; exit }'
}
download() {     # $1 = package[:arch]; into $work, quietly unless it fails
	(cd "$work" && apt-get "${apt_opts[@]}" download "$1" >/dev/null 2>"$work/apt.err")
}
cached_deb() {   # newest cached .deb whose name starts with $1, if any
	local d=("$work/$1"*.deb)
	[ ${#d[@]} -eq 0 ] || echo "${d[-1]}"
}
# apt_failed WHAT: apt-get just failed doing WHAT (its stderr in apt.err).
# The archive having no such package, or being out of reach, means the
# guest cannot be had here (exit 3); anything else is an error (exit 1).
apt_failed() {
	local e=$work/apt.err why
	if why=$(grep -m1 -E "Unable to locate package|has no installation candidate|Can't select (candidate )?version|Can't find a source to download|No packages found" "$e"); then
		unavailable "$1: $why"
	elif why=$(grep -m1 -E "Temporary failure resolving|Could not resolve|Could not connect|Unable to connect|Network is unreachable|Connection timed out|No route to host|Failed to fetch" "$e"); then
		unavailable "$1: archive unreachable: $why"
	fi
	cat "$e" >&2
	die "$1 failed"
}
# no_candidate: apt knows no installable version of $meta (after an update).
no_candidate() {
	! apt-cache policy "$meta" 2>/dev/null | grep -q 'Candidate: [^(]'
}

shopt -s nullglob
pkg=$(resolve_pkg || true)
deb=
[ -z "$pkg" ] || deb=$(cached_deb "${pkg%:*}_")
if [ -n "$deb" ]; then
	say "using cached $(basename "$deb")"
elif [ -n "$pkg" ] && { say "downloading kernel $pkg ..."; download "$pkg"; }; then
	deb=$(cached_deb "${pkg%:*}_")
else
	# Package lists missing or stale: refresh once, resolve again, retry.
	say "refreshing package lists (apt-get update) ..."
	# Guests built in parallel (make -j) would race for apt's lists lock:
	# one update at a time.
	if flock /tmp/.sandboxfs-apt-update.lock \
		apt-get "${apt_opts[@]}" update >/dev/null 2>"$work/apt.err"; then
		pkg=$(resolve_pkg || true)
		if [ -z "$pkg" ]; then
			no_candidate && unavailable "no package $meta in the archive"
			die "cannot resolve the kernel package behind $meta"
		fi
		deb=$(cached_deb "${pkg%:*}_")
	else
		# Offline: any kernel fetched before will do.
		deb=$(cached_deb linux-image-)
		[ -n "$deb" ] || apt_failed "apt-get update"
		say "apt-get update failed; using cached $(basename "$deb")"
	fi
	if [ -z "$deb" ]; then
		say "downloading kernel $pkg ..."
		download "$pkg" || apt_failed "apt-get download $pkg"
		deb=$(cached_deb "${pkg%:*}_")
	fi
fi
[ -n "$deb" ] || die "apt-get download left no ${pkg%:*}_*.deb in $work"
# Keep only the .deb in use.
for d in "$work"/linux-image-*.deb; do [ "$d" = "$deb" ] || rm -f "$d"; done

say "unpacking kernel ..."
root=$work/kernel
rm -rf "$root"
mkdir -p "$root"
dpkg-deb -x "$deb" "$root"

vers=("$root"/lib/modules/*)
[ ${#vers[@]} -eq 1 ] || die "expected one module tree in $deb"
kver=$(basename "${vers[0]}")
kimg=$root/boot/$kfile-$kver
[ -f "$kimg" ] || die "no boot/$kfile-$kver in $deb"
mdir=$root/lib/modules/$kver
kcfg=$root/boot/config-$kver
[ -f "$kcfg" ] || die "no boot/config-$kver in $deb"
for c in "${builtin_cfg[@]}"; do
	grep -qx "CONFIG_$c=y" "$kcfg" || die "$kver lacks CONFIG_$c=y (needed built in)"
done
depmod -b "$root" "$kver"

# --- busybox of a foreign guest architecture -------------------------------

# The host's static busybox (checked above) runs here and lists the applets;
# a foreign guest gets its own architecture's busybox-static, from its .deb.
fetch_deb() {    # $1 = package (no arch): its cached or downloaded .deb path
	local d
	d=$(cached_deb "$1_")
	if [ -z "$d" ]; then
		say "downloading $1$qual ..." >&2
		download "$1$qual" || apt_failed "apt-get download $1$qual"
		d=$(cached_deb "$1_")
		[ -n "$d" ] || die "apt-get download left no $1_*.deb in $work"
	else
		say "using cached $(basename "$d")" >&2
	fi
	for o in "$work/$1"_*.deb; do [ "$o" = "$d" ] || rm -f "$o"; done
	echo "$d"
}

guest_busybox=$busybox
if [ -n "$qual" ]; then
	bdeb=$(fetch_deb busybox-static)
	rm -rf "$work/busybox"
	dpkg-deb -x "$bdeb" "$work/busybox"
	guest_busybox=$work/busybox/bin/busybox
	[ -f "$guest_busybox" ] || die "no bin/busybox in $bdeb"
fi

# --- guest programs beyond busybox ----------------------------------------

# Unpacked into $work/userland; each program is copied with the closure of
# its DT_NEEDED libraries and its ELF interpreter, found in that tree
# (symlinks there are followed inside the tree, never on the host).
if [ ${#guest_progs[@]} -gt 0 ]; then
	uland=$work/userland
	rm -rf "$uland"
	mkdir -p "$uland"
	for p in "${guest_debs[@]}"; do
		d=$(fetch_deb "$p")
		dpkg-deb -x "$d" "$uland"
	done
fi
in_tree() {      # $1 = absolute path in $uland: its real file there, or fail
	local p=$1 t n=0
	while [ -L "$uland$p" ] && [ $n -lt 20 ]; do
		t=$(readlink "$uland$p")
		case $t in /*) p=$t ;; *) p=$(dirname "$p")/$t ;; esac
		n=$((n + 1))
	done
	[ -f "$uland$p" ] && echo "$p"
}
libdirs=()
declare -A copied=() staged=()
copy_elf() {     # $1 = absolute path (in the guest) of an ELF file to stage
	local p=$1 real lib dir found
	[ -z "${copied[$p]:-}" ] || return 0
	copied[$p]=1
	real=$(in_tree "$p") || die "$p: not in ${guest_debs[*]}"
	mkdir -p "$stage$(dirname "$p")"
	if [ -n "${staged[$real]:-}" ]; then     # same file by another name
		ln -s "${staged[$real]}" "$stage$p"
		return 0
	fi
	staged[$real]=$p
	cp "$uland$real" "$stage$p"
	local interp
	interp=$(readelf -l "$uland$real" 2>/dev/null |
		sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
	[ -z "$interp" ] || copy_elf "$interp"
	for lib in $(readelf -d "$uland$real" 2>/dev/null |
		sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		found=
		for dir in "${libdirs[@]}"; do
			if in_tree "$dir/$lib" >/dev/null; then found=$dir/$lib; break; fi
		done
		[ -n "$found" ] || die "$p needs $lib, found in none of ${guest_debs[*]}"
		copy_elf "$found"
	done
}

# --- modules: closure and load order --------------------------------------

# Wanted modules; "?" marks optional ones (skipped with a note if the
# kernel lacks them). Names use "_"; files may use "-" (virtio-rng.ko).
# A vhost-user backend is invisible to the guest: virtio_blk drives
# virtio-blk and vhost-user-blk alike, virtio_net virtio-net, vhost-net and
# vhost-user-net, virtiofs (on fuse) vhost-user-fs.
wanted=(
	"${transport[@]}"
	virtio_blk
	scsi_common scsi_mod sd_mod virtio_scsi
	failover net_failover virtio_net
	virtio_console
	virtio_rng
	vmw_vsock_virtio_transport
	'?9pnet_virtio' '?9p'
	fuse virtiofs
	'?virtio_balloon' '?virtio_mem'
)

declare -A mpath=() mdeps=() builtin=()
modname() { local b=${1##*/}; b=${b%%.ko*}; echo "${b//-/_}"; }

while IFS= read -r line; do
	f=${line%%:*}
	mpath[$(modname "$f")]=$f
	mdeps[$(modname "$f")]=${line#*:}
done <"$mdir/modules.dep"
while IFS= read -r f; do
	builtin[$(modname "$f")]=1
done <"$mdir/modules.builtin"

declare -A seen=()
order=()
visit() {        # depth-first, dependencies first
	local m=$1 d
	[ -z "${seen[$m]:-}" ] || return 0
	seen[$m]=1
	for d in ${mdeps[$m]}; do visit "$(modname "$d")"; done
	order+=("$m")
}
skipped=()
for w in "${wanted[@]}"; do
	m=${w#\?}
	if [ -n "${mpath[$m]:-}" ]; then
		visit "$m"
	elif [ -n "${builtin[$m]:-}" ]; then
		:               # built into the kernel
	elif [ "$w" != "$m" ]; then
		skipped+=("$m")
	else
		die "module $m is neither built in nor shipped by $pkg"
	fi
done
[ ${#skipped[@]} -eq 0 ] || say "note: not in $kver, skipped: ${skipped[*]}"

# --- initramfs -------------------------------------------------------------

say "building initramfs (${#order[@]} modules) ..."
stage=$work/initramfs
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt}
chmod 1777 "$stage/tmp"
cp "$guest_busybox" "$stage/bin/busybox"
while IFS= read -r a; do
	[ "$a" = bin/busybox ] && continue
	[ -e "$stage/$a" ] || [ -L "$stage/$a" ] && continue
	rel=$(realpath -m --relative-to="$stage/$(dirname "$a")" "$stage/bin/busybox")
	ln -s "$rel" "$stage/$a"
done < <("$busybox" --list-full | sort)
install -m 0755 "$init_src" "$stage/init"
if [ ${#guest_progs[@]} -gt 0 ]; then
	command -v readelf >/dev/null || die "readelf not found (apt-get install binutils)"
	# Debian's multiarch directories (lib/powerpc64le-linux-gnu ...) first.
	libdirs=()
	for d in "$uland"/lib/*-linux-gnu* "$uland"/usr/lib/*-linux-gnu*; do
		[ -d "$d" ] && libdirs+=("${d#"$uland"}")
	done
	libdirs+=(/lib64 /usr/lib64 /lib /usr/lib)
	for p in "${guest_progs[@]}"; do copy_elf "/$p"; done
	mkdir -p "$stage"/var/{lock,log,run}       # drmgr's lock and log
fi
# Console node, so init has stdio before devtmpfs is mounted.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

mod_dst=$stage/lib/modules/$kver
mkdir -p "$mod_dst"
: >"$stage/etc/modules.order"
for m in "${order[@]}"; do
	src=${mpath[$m]}
	dst=${src%.ko*}.ko
	mkdir -p "$mod_dst/$(dirname "$dst")"
	case $src in
	*.ko)     cp "$mdir/$src" "$mod_dst/$dst" ;;
	*.ko.xz)  xz -dc "$mdir/$src" >"$mod_dst/$dst" ;;
	*.ko.zst) zstd -qdc "$mdir/$src" >"$mod_dst/$dst" ;;
	*.ko.gz)  gzip -dc "$mdir/$src" >"$mod_dst/$dst" ;;
	*)        die "unknown module format: $src" ;;
	esac
	echo "/lib/modules/$kver/$dst" >>"$stage/etc/modules.order"
done
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ ! -f "$mdir/$f" ] || cp "$mdir/$f" "$mod_dst/"
done
depmod -b "$stage" "$kver"        # lets modprobe work in the guest too

find "$stage" -exec touch -h -d "@$epoch" {} +
(cd "$stage" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) |
	gzip -9 -n >"$out/initramfs.cpio.gz.tmp"
# The arm64 Image goes out plain (Debian 12 ships it so; QEMU would also take
# a gzip'd one, but a plain Image suits every loader).  bzImage, the ppc64el
# ELF vmlinux and the s390x image are never gzip.
if [ "$(od -An -tx1 -N2 "$kimg" | tr -d ' ')" = 1f8b ]; then
	gzip -dc "$kimg" >"$out/vmlinuz.tmp"
else
	cp "$kimg" "$out/vmlinuz.tmp"
fi
mv -f "$out/vmlinuz.tmp" "$out/vmlinuz"
mv -f "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
rm -rf "$root" "$stage" "$work/apt.err" "$work/busybox" "$work/userland"
say "done: $out/vmlinuz ($kver), $out/initramfs.cpio.gz ($(du -k "$out/initramfs.cpio.gz" | cut -f1) KiB)"
