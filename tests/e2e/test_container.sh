#!/usr/bin/env bash
# The tree bind-mounted into a container-like environment (a mount and pid
# namespace of its own, as a management container has), driven from inside
# by an unprivileged uid that owns one sandbox: it starts it, hot-adds its
# own disk (the guest sees it), and is refused a root-only file.
# test-timeout: 300
set -u
. "$(dirname "$0")/lib.sh"
e2e_requirements
command -v unshare >/dev/null || skip unshare "unshare (util-linux) is not installed"
trap e2e_cleanup EXIT

U=61003
E2E_ARGS="-o allow_other"
e2e_mount
chmod 755 "$T"
mkdir -m 700 "$T/home"; chown $U:$U "$T/home"
truncate -s 32M "$T/home/disk.img"; chown $U:$U "$T/home/disk.img"; chmod 600 "$T/home/disk.img"
truncate -s 8M "$T/secret.img"; chmod 600 "$T/secret.img"
mkdir "$MNT/c"; chown $U:$U "$MNT/c"
mkdir "$T/ctr"

# Inside: a private mount namespace and pid namespace; the tree bound at
# $T/ctr; everything after the bind runs as $U.
cat > "$T/inside.sh" <<INSIDE
set -u
c=$T/ctr/c
echo start > \$c/ctl || exit 11
for _ in \$(seq 360); do grep -aq '^GUEST cpus=.*ncpus=1 ' \$c/console && break; sleep 0.25; done
grep -aq '^GUEST cpus=.*ncpus=1 ' \$c/console || exit 12
echo '{"type":"block","id":"d1","file":"$T/home/disk.img"}' > \$c/devices/add || exit 13
for _ in \$(seq 120); do tail -n 2 \$c/console | grep -aq 'blk=vda ' && break; sleep 0.25; done
tail -n 2 \$c/console | grep -aq 'blk=vda ' || exit 14
out=\$( { echo '{"type":"block","id":"s","file":"$T/secret.img"}' > \$c/devices/add; } 2>&1 ) && exit 15
case \$out in *"Permission denied"*) ;; *) echo "refusal said: \$out"; exit 16 ;; esac
[ "\$(cat \$c/state)" = running ] || exit 17
echo inside-ok
INSIDE
chmod 755 "$T/inside.sh"
out=$(unshare --mount --pid --fork --propagation private bash -c \
	"mount --bind '$MNT' '$T/ctr' && exec setpriv --reuid=$U --regid=$U --clear-groups bash '$T/inside.sh'" 2>&1)
rc=$?
check "inside the container, uid $U starts its sandbox, hot-adds its disk (the guest sees it), and is refused a root-only file (exit $rc)" \
	bash -c "[ $rc = 0 ] && echo '$out' | grep -q inside-ok"
[ $rc = 0 ] || echo "  inside said: $out"
check "outside, the guest sees the disk too" guest_says c 'blk=vda '
check "the refusal is in error" grep -q "secret.img" "$MNT/c/error"
check "the container is gone, the tree still mounted here" mounted
echo "container: $FAILS failure(s)"
[ "$FAILS" -eq 0 ]
