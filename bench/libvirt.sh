#!/usr/bin/env bash
# libvirt.sh MNT TMP — sandboxfs vs libvirt, as a shell user drives each
# (`bench/run --libvirt`, `make bench LIBVIRT=1`).
#
# Installs Debian's libvirt-daemon, libvirt-daemon-driver-qemu and
# libvirt-clients if missing, then runs a private libvirtd in its own mount
# namespace: /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt
# and /var/cache/libvirt are bind-mounted from TMP (and /etc/passwd, /etc/group
# with a libvirt-qemu entry added), so the host's libvirt state is neither
# used nor touched.  Its qemu.conf runs QEMU as root with no
# cgroups, no namespaces, no security driver, console to a file (no virtlogd).
# The domain is the sandboxfs default guest: same kernel, initrd, kernel
# command line, q35, TCG, 256 MiB, 4 PCIe root ports.
#
# Both sides are timed the same way, with bash's $EPOCHREALTIME: virsh is a
# program, so `cat state` is run as a program too; the sandboxfs writes are
# bash's builtin echo, as a user types them.  Prints sbbench records
# (R libvirt OP virsh|sandboxfs N MEDIAN_US P90_US); on failure one
# "I libvirt_error WHY" record and exit 0, so the rest of the bench stands.
set -u
MNT=$1 TMP=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${SBBENCH_LIBVIRT_RUNS:-20}
LV=$TMP/libvirt
URI="qemu:///system?socket=$LV/run/libvirt-sock"
DOM=sbbench
S=$MNT/bench-lv
LVPID=

say() { printf '== libvirt: %s\n' "$*" >&2; }
give_up() { printf 'I\tlibvirt_error\t%s\n' "$*"; say "not measured: $*"; exit 0; }
virsh_() { virsh -q -c "$URI" "$@"; }

cleanup() {
	if [ -n "$LVPID" ]; then
		virsh_ destroy "$DOM" >/dev/null 2>&1
		kill "$LVPID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$LVPID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$LVPID" 2>/dev/null
	fi
	if [ -d "$S" ]; then
		case $(cat "$S/state" 2>/dev/null) in running | paused) echo kill > "$S/ctl" ;; esac
		rmdir "$S" 2>/dev/null
	fi
}
trap cleanup EXIT

if ! command -v virsh >/dev/null || [ ! -x /usr/sbin/libvirtd ]; then
	say "installing libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients (Debian)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 &&
		  apt-get install -y -q --no-install-recommends libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients >/dev/null 2>&1; } ||
		give_up "apt-get could not install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients"
fi
[ -x /usr/sbin/libvirtd ] || give_up "/usr/sbin/libvirtd is missing after installing libvirt-daemon"
command -v unshare >/dev/null || give_up "unshare (util-linux) is missing"

# ---- a private libvirtd
mkdir -p "$LV"/{etc/qemu/networks,run,lib,log,cache}
cat > "$LV/etc/libvirtd.conf" <<EOF
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$LV/log/libvirtd.log"
EOF
cat > "$LV/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOF
# The package's config files that libvirtd reads besides those two.
for f in /etc/libvirt/*.conf; do
	[ -e "$LV/etc/$(basename "$f")" ] || cp "$f" "$LV/etc/" 2>/dev/null
done
# Debian's QEMU driver looks its default user up before reading qemu.conf;
# that user comes with libvirt-daemon-system.  Lend it one in the namespace.
cp /etc/passwd "$LV/passwd"
cp /etc/group "$LV/group"
getent passwd libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' >> "$LV/passwd"
getent group libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:' >> "$LV/group"
getent group kvm >/dev/null || echo 'kvm:x:64056:' >> "$LV/group"
unshare -m --propagation private bash -c '
	set -e
	LV=$1
	mount --bind "$LV/passwd" /etc/passwd
	mount --bind "$LV/group" /etc/group
	mount --bind "$LV/etc" /etc/libvirt
	mount --bind "$LV/run" /run/libvirt 2>/dev/null || { mkdir -p /run/libvirt; mount --bind "$LV/run" /run/libvirt; }
	mkdir -p /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
	mount --bind "$LV/lib" /var/lib/libvirt
	mount --bind "$LV/log" /var/log/libvirt
	mount --bind "$LV/cache" /var/cache/libvirt
	exec /usr/sbin/libvirtd --config "$LV/etc/libvirtd.conf"
' libvirtd-ns "$LV" > "$LV/libvirtd.out" 2>&1 &
LVPID=$!
for _ in $(seq 100); do
	[ -S "$LV/run/libvirt-sock" ] && virsh_ version >/dev/null 2>&1 && break
	kill -0 "$LVPID" 2>/dev/null || break
	sleep 0.1
done
virsh_ version >/dev/null 2>&1 || give_up "libvirtd did not come up: $(tail -n 3 "$LV/libvirtd.out" "$LV/log/libvirtd.log" 2>/dev/null | tr '\n' ' ' | cut -c1-300)"
printf 'I\tlibvirt_version\t%s\n' "$(virsh_ version 2>/dev/null | sed -n 's/^Running against daemon: //p; s/^Using library: //p' | head -n1)"

# ---- the same guest on both sides
G=$ROOT/build/guest
MAXV=$((RUNS + 4))
mkdir "$S" || give_up "mkdir $S failed"
echo "{\"maxvcpus\": $MAXV}" > "$S/config" || give_up "config write failed"
APPEND=$(sed -n '/^-append$/{n;p}' "$S/cmdline")
[ -n "$APPEND" ] || give_up "no -append in $S/cmdline"
ports=
for i in 1 2 3 4; do ports="$ports<controller type='pci' model='pcie-root-port'/>"; done
cat > "$LV/dom.xml" <<EOF
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static' current='1'>$MAXV</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$G/vmlinuz</kernel>
    <initrd>$G/initramfs.cpio.gz</initrd>
    <cmdline>$APPEND</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='pci' model='pcie-root'/>
    $ports
    <controller type='usb' model='none'/>
    <serial type='file'><source path='$LV/console.log'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
virsh_ define "$LV/dom.xml" >/dev/null 2>"$LV/define.err" || give_up "virsh define: $(head -c 300 "$LV/define.err")"

# ---- timing helpers
declare -A SAMPLES
us() { local t=${1/./}; echo $((10#$t)); }
# timed OP SIDE CMD...: run CMD, record its wall time.
timed() {
	local op=$1 side=$2; shift 2
	local t0=$EPOCHREALTIME
	"$@" >/dev/null 2>>"$LV/errors" || give_up "$op ($side) failed: $* — $(tail -n 2 "$LV/errors" | tr '\n' ' ' | cut -c1-300)"
	local t1=$EPOCHREALTIME
	SAMPLES[$op/$side]+="$(( $(us "$t1") - $(us "$t0") )) "
}
w() { echo "$2" > "$1"; }
# both I A B: run A then B on even I, B then A on odd I (neither side always
# pays for the other guest still digesting its op).
both() { if (( $1 % 2 == 0 )); then eval "$2"; eval "$3"; else eval "$3"; eval "$2"; fi; }
summarise() {
	local key op side
	for key in "${!SAMPLES[@]}"; do
		op=${key%/*} side=${key##*/}
		printf '%s\n' ${SAMPLES[$key]} | sort -n | awk -v op="$op" -v side="$side" '
			{ v[NR] = $1 }
			END {
				m = int(NR * 0.5 + 0.999999); p = int(NR * 0.9 + 0.999999)
				printf "R\tlibvirt\t%s\t%s\t%d\t%.1f\t%.1f\n", op, side, NR, v[m], v[p]
			}'
	done
}

# ---- start / stop (destroy), both guests left stopped
say "start / stop x$RUNS"
for i in $(seq "$RUNS"); do
	both "$i" 'timed start virsh virsh_ start "$DOM"' 'timed start sandboxfs w "$S/ctl" start'
	both "$i" 'timed stop virsh virsh_ destroy "$DOM"' 'timed stop sandboxfs w "$S/ctl" stop'
done

# ---- running guests: state, vCPU and disk hotplug
say "booting both guests"
virsh_ start "$DOM" >/dev/null || give_up "virsh start failed"
echo start > "$S/ctl" || give_up "ctl start failed"
for _ in $(seq 900); do
	grep -aq 'GUEST cpus=' "$LV/console.log" 2>/dev/null && grep -aq 'GUEST cpus=' "$S/console" && break
	sleep 0.2
done
grep -aq 'GUEST cpus=' "$LV/console.log" || give_up "the libvirt guest did not boot"
say "state read x$RUNS, disk add/remove x$RUNS, vCPU add x$RUNS"
for i in $(seq "$RUNS"); do
	both "$i" 'timed "state read" virsh virsh_ domstate "$DOM"' 'timed "state read" sandboxfs cat "$S/state"'
done
# What a guest costs and does: libvirt's every stats group vs the stats file.
for i in $(seq "$RUNS"); do
	both "$i" 'timed "stats read" virsh virsh_ domstats "$DOM"' 'timed "stats read" sandboxfs cat "$S/stats"'
done
truncate -s 16M "$LV/lv.img" "$LV/sfs.img"
spec="{\"type\":\"block\",\"id\":\"d1\",\"file\":\"$LV/sfs.img\",\"format\":\"raw\",\"readonly\":false}"
for i in $(seq "$RUNS"); do
	both "$i" 'timed "disk hot-add" virsh virsh_ attach-disk "$DOM" "$LV/lv.img" vda --targetbus virtio --subdriver raw --live' \
		'timed "disk hot-add" sandboxfs w "$S/devices/add" "$spec"'
	both "$i" 'timed "disk hot-remove" virsh virsh_ detach-disk "$DOM" vda --live' \
		'timed "disk hot-remove" sandboxfs w "$S/devices/remove" d1
	# libvirt answers detach-disk before QEMU's DEVICE_DELETED when the
	# guest is slow; wait until the target is free again.
	for _ in $(seq 100); do virsh_ domblklist "$DOM" | grep -q ' vda ' || break; sleep 0.05; done
done
for i in $(seq "$RUNS"); do
	both "$i" 'timed "vCPU hot-add" virsh virsh_ setvcpus "$DOM" $((i + 1)) --live' \
		'timed "vCPU hot-add" sandboxfs w "$S/cpus/target" $((i + 1))'
done
summarise
printf 'I\tlibvirt_note\t%s\n' "libvirt’s detach-disk may return before the guest has released the disk (it waits up to 5 s, then reports the request as sent); sandboxfs’s devices/remove returns after DEVICE_DELETED and blockdev-del."
