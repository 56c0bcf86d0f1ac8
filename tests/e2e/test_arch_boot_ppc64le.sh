#!/usr/bin/env bash
# test_arch_boot.sh for ppc64le: see there.
exec bash "$(dirname "$0")/test_arch_boot.sh" ppc64le
