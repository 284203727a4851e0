#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# The whole test suite: set-up (idempotent), then pytest over test/ with DDS kept on this
# machine (scripts/localhost.sh). Fails on any test failure and when no test ran; on
# success pytest's summary ('N passed ...') is the last line.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k sync`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh

echo "[test] .venv/bin/python -m pytest test -q $*"
set +e
bash scripts/localhost.sh env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE \
  .venv/bin/python -m pytest test -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "[test] FAILED: no tests ran" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "[test] FAILED (pytest exit code $rc)" >&2
  exit "$rc"
fi
