#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# Idempotent set-up of a second virtual environment, <repo>/.venv-jazzy, with the ROS 2
# Jazzy wheels from PyPI (rclpy 7.1.6 and the Jazzy message packages) instead of Kilted:
#   1. create .venv-jazzy with the system python3 when it is missing (an existing one is kept),
#   2. install the CPU build of torch FIRST, pinned (so nothing can pull a CUDA build later),
#   3. install the Jazzy wheels (ros-jazzy-rclpy==7.1.6, sensor_msgs, std_msgs, ...),
#   4. pip install -e . plus pytest and hypothesis, with torch held by a constraints file.
# It is used by scripts/conformance.sh (node tests under Jazzy) and test/test_jazzy_interop.py
# (a Jazzy client talks to a Kilted dada_node and the reverse). Steps 2-4 run only when the
# stamp (this script + setup.py + python version) changed or an import check fails.
# Environment knobs: PYTHON=python3.X, DADA_TORCH_SPEC=torch==... (as for scripts/setup.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# shellcheck source=scripts/torch_first.sh
source "$ROOT/scripts/torch_first.sh"
VENV="$ROOT/.venv-jazzy"
PY=${PYTHON:-python3}
TORCH_SPEC=${DADA_TORCH_SPEC:-torch==2.13.0+cpu}
JAZZY_WHEELS=(
  ros-jazzy-rclpy==7.1.6
  ros-jazzy-rmw-fastrtps-cpp==8.4.3
  ros-jazzy-sensor-msgs==5.3.6
  ros-jazzy-std-msgs==5.3.6
  ros-jazzy-diagnostic-msgs==5.3.6
  ros-jazzy-builtin-interfaces==2.0.3
  ros-jazzy-lifecycle-msgs==2.0.3
)
STAMP="$VENV/.dada_ros_setup.stamp"

# This script may be started from a python of the Kilted .venv: do not inherit its ROS
# bootstrapper state (library path and the "done" marker).
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE LD_LIBRARY_PATH || true

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup-jazzy] creating $VENV with $($PY --version 2>&1)"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
want=$({ cat "$ROOT/scripts/setup_jazzy.sh" "$ROOT/scripts/torch_first.sh" "$ROOT/setup.py"; "$VPY" --version; \
         echo "$TORCH_SPEC"; } | sha256sum | cut -d' ' -f1)

check() {
  "$VPY" - <<'PY' >/dev/null 2>&1
import importlib.metadata as md
import sys
import torch, numpy, cv2, pytest, pytest_timeout  # noqa: F401
import rclpy, sensor_msgs.msg, std_msgs.msg, diagnostic_msgs.msg  # noqa: F401
import dada_ros.core  # noqa: F401
sys.exit(0 if md.version('ros-rclpy').startswith('7.') else 1)
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && check; then
  echo "[setup-jazzy] $VENV is up to date"
  exit 0
fi

PIP=("$VPY" -m pip --disable-pip-version-check)
echo "[setup-jazzy] installing build tools"
"${PIP[@]}" install -q 'pip>=23' 'setuptools>=64,<80' wheel

CONSTRAINTS="$VENV/dada_ros-constraints.txt"
install_torch_first "$VPY" "$TORCH_SPEC" "$CONSTRAINTS" setup-jazzy

echo "[setup-jazzy] installing ROS 2 Jazzy wheels: ${JAZZY_WHEELS[*]}"
"${PIP[@]}" install -q -c "$CONSTRAINTS" "${JAZZY_WHEELS[@]}"

echo "[setup-jazzy] installing dada_ros (editable), pytest, pytest-timeout and hypothesis"
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-build-isolation --use-pep517 -e "$ROOT" \
  'pytest>=7,<10' 'pytest-timeout>=2.2,<3' 'hypothesis>=6.80,<7'

if ! check; then
  echo "[setup-jazzy] ERROR: $VENV does not import torch, rclpy 7 (Jazzy), dada_ros" >&2
  exit 1
fi
echo "$want" > "$STAMP"
echo "[setup-jazzy] done: $("$VPY" -c 'import importlib.metadata as m; print("rclpy", m.version("ros-rclpy"))')"
