#!/usr/bin/env bash
# test_arch_boot.sh for s390x: see there.
exec bash "$(dirname "$0")/test_arch_boot.sh" s390x
