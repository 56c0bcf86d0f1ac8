#!/usr/bin/env bash
# A network namespace per sandbox: the daemon stays in its own namespace
# and opens a sandbox's taps in the one its config names (netns), as the
# writer: an unprivileged owner attaches the tap it owns there (the guest
# gets eth0), and is refused one it does not own and one that does not
# exist (only root creates taps).
# test-timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
command -v ip >/dev/null || skip ip "iproute2 is not installed"
NS=sbfs-e2e-$$
ip netns add "$NS" 2>/dev/null || skip netns "cannot create a network namespace ($NS)"
cleanup() { e2e_cleanup; ip netns del "$NS" 2>/dev/null; }
trap cleanup EXIT

U=61004
ip netns exec "$NS" ip tuntap add tapu mode tap user $U || fail "make tapu in $NS"
ip netns exec "$NS" ip tuntap add tapr mode tap user 0 || fail "make tapr in $NS"
# Up, so the carrier shows: NO-CARRIER until a queue is attached.
ip netns exec "$NS" ip link set tapu up || fail "set tapu up in $NS"
check "no tapu in the daemon's own namespace" bash -c "! ip link show tapu 2>/dev/null"

E2E_ARGS="-o allow_other"
e2e_mount
chmod 755 "$T"
mkdir "$MNT/n"; chown $U:$U "$MNT/n"
as() { setpriv --reuid=$U --regid=$U --clear-groups "$@"; }
check "the owner puts n in $NS" as bash -c "echo '{\"netns\":\"/run/netns/$NS\"}' > $MNT/n/config"
check "a file that is no network namespace is EINVAL" fails_with "Invalid argument" \
	as bash -c "echo '{\"netns\":\"/proc/self/status\"}' > $MNT/n/config"
check "a tap of someone else's is EACCES" fails_with "Permission denied" \
	as bash -c "echo '{\"type\":\"net\",\"id\":\"r\",\"ifname\":\"tapr\"}' > $MNT/n/devices/add"
check "... and error says only an owned tap may be attached" grep -q "only a tap it owns" "$MNT/n/error"
check "a tap that does not exist is EACCES (root alone creates taps)" fails_with "Permission denied" \
	as bash -c "echo '{\"type\":\"net\",\"id\":\"x\",\"ifname\":\"tapnew\"}' > $MNT/n/devices/add"
check "no tap was created" bash -c "! ip netns exec $NS ip link show tapnew 2>/dev/null"
check "the owner adds the tap it owns" as bash -c "echo '{\"type\":\"net\",\"id\":\"u\",\"ifname\":\"tapu\"}' > $MNT/n/devices/add"
check "tapu has no queue attached before start (NO-CARRIER)" \
	bash -c "ip netns exec $NS ip link show tapu | grep -q NO-CARRIER"
check "start" as bash -c "echo start > $MNT/n/ctl"
check "the guest has eth0" wait_for 90 guest_says n 'net=eth0 '
qn=$(cat "$MNT/n/pid")
check "QEMU holds the tap of $NS (tun fd)" bash -c "ls -l /proc/$qn/fd | grep -q /dev/net/tun"
check "tapu in $NS has QEMU's queue attached (LOWER_UP)" bash -c "ip netns exec $NS ip link show tapu | grep -q LOWER_UP"
check "stop" as bash -c "echo stop > $MNT/n/ctl"
echo "netns: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
