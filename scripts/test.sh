#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# The whole test suite: set-up (idempotent), then pytest over test/ with DDS kept on this
# machine (scripts/localhost.sh). Fails on any test failure and when no test ran; on
# success pytest's summary ('N passed ...') is the last line. Then, on a full run,
# scripts/conformance.sh (colcon build + colcon test in a temporary workspace, the node
# tests under ROS 2 Jazzy from .venv-jazzy, made by scripts/setup_jazzy.sh); pytest's
# summary is printed again at the end. DADA_SKIP_CONFORMANCE=1 leaves it out.
# Extra arguments go to pytest (and skip the conformance part), e.g. `bash scripts/test.sh -k sync`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/setup_jazzy.sh   # second venv with ROS 2 Jazzy for the cross-distro tests

echo "[test] .venv/bin/python -m pytest test -q $*"
summary_file=$(mktemp)
trap 'rm -f "$summary_file"' EXIT
set +e
bash scripts/localhost.sh env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE \
  .venv/bin/python -m pytest test -q "$@" | tee "$summary_file"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -eq 5 ]; then
  echo "[test] FAILED: no tests ran" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "[test] FAILED (pytest exit code $rc)" >&2
  exit "$rc"
fi

# ROS conformance (colcon build/test in a temporary workspace, installed node, Jazzy node
# tests): on the full run only, not when pytest arguments select a subset.
if [ "$#" -eq 0 ] && [ -z "${DADA_SKIP_CONFORMANCE:-}" ]; then
  echo "[test] bash scripts/conformance.sh"
  bash scripts/localhost.sh bash scripts/conformance.sh
  # Leave the main pytest run's summary ('N passed ...') as the last line.
  tail -n 1 "$summary_file"
fi
