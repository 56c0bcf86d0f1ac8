#!/usr/bin/env bash
# Installs what sandboxfs needs to build, test and run (Debian 12, as root).
# Quiet when everything is present already.  qemu-system-arm/-ppc/-misc
# (aarch64, ppc64le, s390x — s390x lives in qemu-system-misc on Debian 12)
# are for the per-architecture real-QEMU acceptance (test_arch_accept);
# libclang-rt-dev holds libFuzzer (only recommended by clang).  The
# packaging and deployment tests (test_package, test_deploy) need debhelper
# and lintian (dpkg-buildpackage), git (a clean clone), python3-yaml (the
# Kubernetes manifests), buildah with an OCI runtime (crun) and debootstrap
# (the Containerfile, from a base image made of Debian packages here).
# prometheus brings promtool, which checks the metrics file (test_stats);
# jq reads the raw QMP replies in the e2e tests.
# `make qemu-10` (QEMU 10.0 from bookworm-backports, which `make check`
# tests against too) needs apt, dpkg-dev and debian-archive-keyring (the
# key its apt source is signed by).
set -euo pipefail
PKGS=(build-essential pkg-config libfuse3-dev fuse3 libjson-c-dev libcunit1-dev
      qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-misc busybox-static cpio kmod gzip procps util-linux iproute2 valgrind clang libclang-rt-dev python3
      debhelper lintian git python3-yaml buildah crun debootstrap dpkg-dev debian-archive-keyring
      prometheus jq
      ${EXTRA_PKGS:-})
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: all present"
