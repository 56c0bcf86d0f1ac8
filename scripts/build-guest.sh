#!/bin/bash
# build-guest.sh — build sandboxfs's built-in default guest.
#
#   scripts/build-guest.sh OUTDIR [ARCH]
#
# ARCH is the guest's architecture: x86_64 (default) or aarch64.
# Produces OUTDIR/vmlinuz (the Debian cloud kernel, taken from its .deb
# without installing anything; on aarch64 the plain arm64 Image, gunzipped
# should the package ship it compressed) and OUTDIR/initramfs.cpio.gz (newc,
# gzip): busybox-static with applet symlinks, /init = scripts/guest-init, and the
# virtio driver modules the daemon's hotplug needs, with /etc/modules.order
# listing them in dependency order (computed here from modules.dep) so that
# init can insmod them one by one.
#
# Work files (downloaded .deb, unpacked kernel, staging tree) live in
# OUTDIR/.work; the .deb is kept there so a rebuild needs no network.
# If both outputs are newer than this script and guest-init, nothing is done.
#
# A guest of a foreign architecture (aarch64 on an amd64 host) takes its
# packages from the Debian architecture of that name (arm64): this script
# adds it to dpkg's foreign architectures if missing (dpkg --add-architecture,
# then apt-get update) and only downloads and unpacks its .debs, kernel and
# busybox-static alike; nothing is installed.  The applet list comes from the
# host's busybox (which must be the same Debian version for a faithful list;
# an extra symlink is harmless, the guest says "applet not found" if used).
#
# Environment: GUEST_KERNEL_META  kernel metapackage
#                                 (default linux-image-cloud-amd64, or
#                                 linux-image-cloud-arm64 for aarch64)
#              SOURCE_DATE_EPOCH  timestamp stored in the cpio (default 0)

set -euo pipefail

usage() { echo "usage: $0 OUTDIR [x86_64|aarch64]" >&2; exit 2; }
[ $# -eq 1 ] || [ $# -eq 2 ] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
init_src=$here/guest-init
out=$1
case ${2:-x86_64} in
x86_64)  debarch=amd64 ;;
aarch64) debarch=arm64 ;;
*)       usage ;;
esac
meta=${GUEST_KERNEL_META:-linux-image-cloud-$debarch}
epoch=${SOURCE_DATE_EPOCH:-0}

say() { echo "guest: $*"; }
die() { echo "guest: error: $*" >&2; exit 1; }

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
	dpkg --add-architecture "$debarch"
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
	if apt-get "${apt_opts[@]}" update >/dev/null 2>"$work/apt.err"; then
		pkg=$(resolve_pkg || true)
		[ -n "$pkg" ] || die "cannot resolve the kernel package behind $meta"
		deb=$(cached_deb "${pkg%:*}_")
	else
		# Offline: any kernel fetched before will do.
		deb=$(cached_deb linux-image-)
		[ -n "$deb" ] || { cat "$work/apt.err" >&2; die "apt-get update failed"; }
		say "apt-get update failed; using cached $(basename "$deb")"
	fi
	if [ -z "$deb" ]; then
		say "downloading kernel $pkg ..."
		download "$pkg" || { cat "$work/apt.err" >&2; die "apt-get download $pkg failed"; }
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
kimg=$root/boot/vmlinuz-$kver
[ -f "$kimg" ] || die "no boot/vmlinuz-$kver in $deb"
mdir=$root/lib/modules/$kver
depmod -b "$root" "$kver"

# --- busybox of a foreign guest architecture -------------------------------

# The host's static busybox (checked above) runs here and lists the applets;
# a foreign guest gets its own architecture's busybox-static, from its .deb.
guest_busybox=$busybox
if [ -n "$qual" ]; then
	bdeb=$(cached_deb busybox-static_)
	if [ -z "$bdeb" ]; then
		say "downloading busybox-static$qual ..."
		download "busybox-static$qual" ||
			{ cat "$work/apt.err" >&2; die "apt-get download busybox-static$qual failed"; }
		bdeb=$(cached_deb busybox-static_)
		[ -n "$bdeb" ] || die "apt-get download left no busybox-static_*.deb in $work"
	else
		say "using cached $(basename "$bdeb")"
	fi
	for d in "$work"/busybox-static_*.deb; do [ "$d" = "$bdeb" ] || rm -f "$d"; done
	rm -rf "$work/busybox"
	dpkg-deb -x "$bdeb" "$work/busybox"
	guest_busybox=$work/busybox/bin/busybox
	[ -f "$guest_busybox" ] || die "no bin/busybox in $bdeb"
fi

# --- modules: closure and load order --------------------------------------

# Wanted modules; "?" marks optional ones (skipped with a note if the
# kernel lacks them). Names use "_"; files may use "-" (virtio-rng.ko).
# A vhost-user backend is invisible to the guest: virtio_blk drives
# virtio-blk and vhost-user-blk alike, virtio_net virtio-net, vhost-net and
# vhost-user-net, virtiofs (on fuse) vhost-user-fs.
wanted=(
	virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
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
# a gzip'd one, but a plain Image suits every loader).  bzImage is never gzip.
if [ "$(od -An -tx1 -N2 "$kimg" | tr -d ' ')" = 1f8b ]; then
	gzip -dc "$kimg" >"$out/vmlinuz.tmp"
else
	cp "$kimg" "$out/vmlinuz.tmp"
fi
mv -f "$out/vmlinuz.tmp" "$out/vmlinuz"
mv -f "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
rm -rf "$root" "$stage" "$work/apt.err" "$work/busybox"
say "done: $out/vmlinuz ($kver), $out/initramfs.cpio.gz ($(du -k "$out/initramfs.cpio.gz" | cut -f1) KiB)"
