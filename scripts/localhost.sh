#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# Run a command with DDS kept on this machine: localhost-only discovery variables always,
# and, when the kernel allows it, inside a fresh network namespace that has nothing but a
# loopback interface (so no packet can leave, and concurrent runs cannot see each other).
# Usage: scripts/localhost.sh CMD [ARGS...]   (DADA_NO_NETNS=1 skips the namespace)
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOCALHOST_ONLY=1

if [ -z "${DADA_NO_NETNS:-}" ]; then
  for flags in -n -rn; do
    if unshare "$flags" sh -c 'ip link set lo up' >/dev/null 2>&1; then
      echo "[localhost] loopback-only network namespace (unshare $flags)" >&2
      exec unshare "$flags" sh -c 'ip link set lo up && exec "$@"' sh "$@"
    fi
  done
fi
echo "[localhost] no network namespace; localhost-only DDS variables only" >&2
exec "$@"
