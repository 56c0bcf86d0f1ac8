#!/usr/bin/env bash
# The deployment files: deploy/kubernetes/*.yaml parse (python3-yaml) and
# hold every value docs/deploy.md's field tables promise, the DaemonSet's
# pieces agree with each other (mount point, probe, state dir, the
# --cgroup-parent in the mounted cgroup hierarchy) and its arguments parse with the
# daemon; then the Containerfile builds with buildah from a clean clone and
# the image runs the DaemonSet's command line: mounts, answers the liveness
# probe, boots the built-in guest, unmounts with the preStop command.
#
# The image part is skipped (77, reason printed) where buildah cannot
# build here; the manifest checks run regardless.
set -u
. "$(dirname "$0")/lib.sh"
DS=$ROOT/deploy/kubernetes/sandboxfs-daemonset.yaml
POD=$ROOT/deploy/kubernetes/consumer-pod.yaml
DOC=$ROOT/docs/deploy.md
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed (scripts/deps.sh installs it)"
T=$(mktemp -d /tmp/sandboxfs-deploy.XXXXXX)
IMAGE=localhost/sandboxfs:e2e-$$
BASE=localhost/sandboxfs-e2e-base:bookworm
CTR=
cleanup() {
	[ -n "$CTR" ] && buildah rm "$CTR" >/dev/null 2>&1
	buildah rmi "$IMAGE" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT

# --- the manifests against the doc -------------------------------------------

# Prints "ok - ..." / "FAIL - ..." lines; the field tables follow
# "<!-- fields: FILE -->" in the doc: | `path` | `value` | what for |.
python3 - "$ROOT" "$DOC" >"$T/fields.out" <<'EOF'
import re, sys, yaml
root, doc = sys.argv[1], sys.argv[2]

def get(obj, path):
    # a.b["x.y"].c[name=foo]: keys, quoted keys, list items by field.
    for tok in re.findall(r'\["([^"]+)"\]|\[([a-z]+)=([^\]]+)\]|([^.\[\]]+)', path):
        qkey, fld, val, key = tok
        if fld:
            obj = next(i for i in obj if i.get(fld) == val)
        else:
            obj = obj[qkey or key]
    return obj

text = open(doc).read()
for m in re.finditer(r'<!-- fields: (\S+) -->\n((?:\|.*\n)+)', text):
    path = m.group(1)
    manifest = yaml.safe_load(open(f"{root}/{path}"))
    rows = [r for r in m.group(2).splitlines()[2:]]
    # The doc's abbreviations: C (the daemon container), V (the volumes).
    abbr = {"C": 'spec.template.spec.containers[name=sandboxfs]', "V": 'spec.template.spec.volumes'}
    for r in rows:
        cells = [c.strip() for c in r.strip().strip('|').split('|')]
        field, value = cells[0].strip('`'), cells[1].strip('`')
        full = re.sub(r'^([CV])(?=[.\[])', lambda a: abbr[a.group(1)], field)
        want = yaml.safe_load(value)
        try:
            got = get(manifest, full)
        except (KeyError, StopIteration, TypeError, IndexError):
            print(f"FAIL - {path}: {field} is missing (doc says {value})")
            continue
        if got == want:
            print(f"ok - {path}: {field} = {value}")
        else:
            print(f"FAIL - {path}: {field} is {got!r}, doc says {value}")
    print(f"rows {path} {len(rows)}")
EOF
sed -n '/^\(ok\|FAIL\) - /p' "$T/fields.out"
FAILS=$((FAILS + $(grep -c '^FAIL' "$T/fields.out")))
for f in sandboxfs-daemonset.yaml consumer-pod.yaml; do
	n=$(awk -v f="deploy/kubernetes/$f" '$1 == "rows" && $2 == f { print $3 }' "$T/fields.out")
	check "the doc has a field table for $f (${n:-0} rows)" test "${n:-0}" -ge 4
done

# The pieces agree, and the args are the daemon's.
python3 - "$DS" "$POD" >"$T/cross.out" <<'EOF'
import sys, yaml
ds, pod = (yaml.safe_load(open(f)) for f in sys.argv[1:3])
spec = ds["spec"]["template"]["spec"]
c = next(x for x in spec["containers"] if x["name"] == "sandboxfs")
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["name"]: m for m in c["volumeMounts"]}
args = c["args"]
mnt = args[-1]
def check(desc, cond):
    print(("ok - " if cond else "FAIL - ") + desc)
check(f"DaemonSet mounts on its tree volume ({mnt})", mounts["tree"]["mountPath"] == mnt)
check("the liveness probe reads the mount's version",
      c["livenessProbe"]["exec"]["command"] == ["cat", f"{mnt}/version"])
check("preStop unmounts the mount point", c["lifecycle"]["preStop"]["exec"]["command"][-1] == mnt)
sd = args[args.index("--state-dir") + 1]
check(f"--state-dir {sd} is the state hostPath's mount", mounts["state"]["mountPath"] == sd)
for dev in ("fuse", "kvm"):
    check(f"/dev/{dev} mounted from the host's", mounts[dev]["mountPath"] == f"/dev/{dev}"
          and vols[dev]["hostPath"]["path"] == f"/dev/{dev}")
check("selector matches the pod template's labels",
      ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items())
pvols = {v["name"]: v for v in pod["spec"]["volumes"]}
check("the consumer mounts the DaemonSet's tree hostPath",
      pvols["sandboxes"]["hostPath"]["path"] == vols["tree"]["hostPath"]["path"])
check("the consumer shares the images path", pvols["images"]["hostPath"]["path"] == vols["images"]["hostPath"]["path"]
      and next(m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == "images")["mountPath"]
      == mounts["images"]["mountPath"])
print("ARGS " + "\x1f".join(args))
print("CMD " + "\x1f".join(c["command"]))
EOF
sed -n '/^\(ok\|FAIL\) - /p' "$T/cross.out"
FAILS=$((FAILS + $(grep -c '^FAIL' "$T/cross.out")))
IFS=$'\x1f' read -r -a ARGS <<<"$(sed -n 's/^ARGS //p' "$T/cross.out")"
check "the cgroup parent the args name is made in the mounted cgroup hierarchy" \
	bash -c "grep -A1 '^ *- \"--cgroup-parent\"' '$DS' | grep -q sandboxfs-guests && grep -q 'mountPath: /sys/fs/cgroup' '$DS'"
if [ -x "$BIN" ]; then
	check "the DaemonSet's args parse with the daemon (${ARGS[*]})" \
		bash -c '"$0" "$@" --help >/dev/null' "$BIN" "${ARGS[@]}"
fi

# --- the image ------------------------------------------------------------------

image_skip() { [ "$FAILS" -eq 0 ] || exit 1; skip "$*"; }
[ "$(id -u)" = 0 ] || image_skip "the image build needs root here (no rootless buildah setup)"
command -v buildah >/dev/null || image_skip "buildah is not installed (scripts/deps.sh installs it)"
command -v git >/dev/null || image_skip "git is not installed"
git clone -q "$ROOT" "$T/src" || { fail "git clone $ROOT"; exit 1; }

# No registry here, only Debian's archive: the base image is made with
# debootstrap (kept in buildah's storage as $BASE for the next run).
if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
	command -v debootstrap >/dev/null || image_skip "debootstrap is not installed (scripts/deps.sh installs it)"
	mirror=$(sed -n 's|^URIs: *\([^ ]*/debian\)/\?$|\1|p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
	echo "# debootstrap bookworm (${mirror:-http://deb.debian.org/debian}) for the base image"
	debootstrap --variant=minbase bookworm "$T/root" "${mirror:-http://deb.debian.org/debian}" \
		>"$T/debootstrap.log" 2>&1 ||
		image_skip "debootstrap cannot reach Debian's archive: $(tail -n 1 "$T/debootstrap.log")"
	rm -rf "$T/root"/var/cache/apt/archives/*.deb "$T/root"/var/lib/apt/lists/*
	c=$(buildah from scratch) && m=$(buildah mount "$c") &&
		tar -C "$T/root" -cf - . | tar -C "$m" -xf - && buildah umount "$c" >/dev/null &&
		buildah commit -q "$c" "$BASE" >/dev/null && buildah rm "$c" >/dev/null ||
		image_skip "buildah cannot make an image from a directory here"
	rm -rf "$T/root"
fi

# RUN steps: an OCI runtime first; crun refuses hybrid cgroup v1/v2 hosts
# ("cgroups in hybrid mode not supported"), where chroot isolation (no
# cgroups of its own) still builds.
iso=oci
probe=$(buildah from "$BASE" 2>&1) || image_skip "buildah from $BASE: $probe"
if ! why=$(buildah run --isolation oci "$probe" -- true 2>&1); then
	iso=chroot
	echo "# OCI isolation fails here ($(tr '\n' ' ' <<<"$why" | cut -c1-160)); using chroot isolation"
	why=$(buildah run --isolation chroot "$probe" -- true 2>&1) ||
		{ buildah rm "$probe" >/dev/null; image_skip "buildah cannot run a build step here: $why"; }
fi
buildah rm "$probe" >/dev/null

b0=$SECONDS
if buildah bud --isolation "$iso" --network host --build-arg "BASE=$BASE" \
	-t "$IMAGE" -f "$T/src/Containerfile" "$T/src" >"$T/bud.log" 2>&1; then
	ok "buildah bud -f Containerfile ($iso isolation, $((SECONDS - b0)) s, $(buildah images --format '{{.Size}}' "$IMAGE"))"
else
	tail -n 30 "$T/bud.log"; fail "buildah bud -f Containerfile"; exit 1
fi

# The DaemonSet's command line in the image (in the background, as its -f
# would keep the container's main process), its probe, a guest, its preStop.
CTR=$(buildah from "$IMAGE")
CMD=$(sed -n 's/^CMD //p' "$T/cross.out")
cat >"$T/src/pod.sh" <<EOF
set -u
# A privileged pod's cgroup mounts are writable; buildah stacks its
# read-only /sys over the volume, so the writable ones are made again.
for m in \$(awk '\$9 ~ /^cgroup2?\$/ { print \$5 }' /proc/self/mountinfo | sort -u); do
	mount -o remount,bind,rw "\$m" 2>/dev/null
done
mkdir -p ${ARGS[-1]}
$CMD ${ARGS[*]} >/tmp/daemon.log 2>&1 &
# Whatever fails below, the daemon goes with the pod (no process left).
trap 'fusermount3 -u ${ARGS[-1]} 2>/dev/null; kill \$! 2>/dev/null' EXIT
for i in \$(seq 100); do mountpoint -q ${ARGS[-1]} && break; sleep 0.1; done
cat ${ARGS[-1]}/version || { cat /tmp/daemon.log; exit 1; }
ls /var/lib/sandboxfs/guest
mkdir ${ARGS[-1]}/a && echo start > ${ARGS[-1]}/a/ctl || { cat ${ARGS[-1]}/a/error /tmp/daemon.log; exit 1; }
for i in \$(seq 240); do grep -aq 'GUEST boot ok' ${ARGS[-1]}/a/console && break; sleep 0.25; done
grep -a 'GUEST boot ok' ${ARGS[-1]}/a/console | tr -d '\r'
sed 's/^/cgroup: /' ${ARGS[-1]}/a/cgroup
echo kill > ${ARGS[-1]}/a/ctl
for i in \$(seq 80); do [ "\$(cat ${ARGS[-1]}/a/state)" != running ] && break; sleep 0.25; done
rmdir ${ARGS[-1]}/a
fusermount3 -u ${ARGS[-1]} && echo unmounted
wait
EOF
buildah copy "$CTR" "$T/src/pod.sh" /pod.sh >/dev/null
# The cgroup volume of the DaemonSet: the host's hierarchy, writable.
buildah run --isolation "$iso" --cap-add CAP_SYS_ADMIN --volume /sys/fs/cgroup:/sys/fs/cgroup:rw,rbind \
	"$CTR" -- timeout 120 sh /pod.sh >"$T/run.log" 2>&1
sed 's/^/  image: /' "$T/run.log"
check "the image's daemon mounts and answers the liveness probe" grep -q '^sandboxfs ' "$T/run.log"
check "the image has the built-in guest" grep -q '^initramfs.cpio.gz' "$T/run.log"
check "a guest boots in the image" grep -q '^GUEST boot ok' "$T/run.log"
check "the guest's QEMU ran in the node's sandboxfs-guests/sb-a cgroup" \
	grep -Eq '^cgroup: [a-z]+ /sys/fs/cgroup/([a-z]+/)?sandboxfs-guests/sb-a$' "$T/run.log"
check "... which is gone with it" bash -c '! ls -d /sys/fs/cgroup/*/sandboxfs-guests/sb-a /sys/fs/cgroup/sandboxfs-guests/sb-a 2>/dev/null | grep -q .'
check "the preStop command unmounts" grep -q '^unmounted' "$T/run.log"

rmdir /sys/fs/cgroup/*/sandboxfs-guests /sys/fs/cgroup/sandboxfs-guests 2>/dev/null
[ "$FAILS" -eq 0 ]
