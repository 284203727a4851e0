#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# Idempotent set-up of the project's virtual environment in <repo>/.venv:
#   1. create .venv with the system python3 when it is missing (an existing one is kept),
#   2. install the CPU build of torch FIRST, pinned (so nothing can pull a CUDA build later),
#   3. install the ROS 2 Kilted wheels from PyPI (rclpy and the message packages),
#   4. pip install -e '.[test,bag,colcon,fast]' with torch held by a constraints file (colcon:
#      scripts/conformance.sh builds and tests the package with colcon; fast: numba, the
#      compiled CPU step of the solver, which the tests compare with the torch step),
#   5. the optional 'authors' extra (segmentation-models-pytorch, for the DADA authors'
#      checkpoints) without letting pip replace torch: torchvision (the release paired with
#      torch), timm and segmentation-models-pytorch with --no-deps, their pure-Python
#      dependencies normally. A failure here is only a warning.
# Steps 2-5 run only when the requirements stamp (this script + setup.py + python version)
# changed or an import check fails. Environment knobs:
#   PYTHON=python3.X             interpreter for a new .venv (default python3)
#   DADA_TORCH_SPEC=torch==...   torch requirement (default: the local CPU wheel 2.13.0+cpu)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# shellcheck source=scripts/torch_first.sh
source "$ROOT/scripts/torch_first.sh"
VENV="$ROOT/.venv"
PY=${PYTHON:-python3}
TORCH_SPEC=${DADA_TORCH_SPEC:-torch==2.13.0+cpu}
ROS_WHEELS=(
  ros-rclpy==9.1.2
  ros-sensor-msgs==5.5.1
  ros-std-msgs==5.5.1
  ros-diagnostic-msgs==5.5.1
  ros-builtin-interfaces==2.3.0
  ros-rmw-fastrtps-cpp==9.3.3
)
STAMP="$VENV/.dada_ros_setup.stamp"

# A child python of this venv must not inherit the ROS bootstrapper state of another one.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE || true

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PY --version 2>&1)"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
want=$({ cat "$ROOT/scripts/setup.sh" "$ROOT/scripts/torch_first.sh" "$ROOT/setup.py"; "$VPY" --version; echo "$TORCH_SPEC"; } \
       | sha256sum | cut -d' ' -f1)

check() {
  env -u LD_LIBRARY_PATH "$VPY" - <<'PY' >/dev/null 2>&1
import importlib.util, sys
import torch, numpy, cv2, scipy, yaml, pytest, pytest_timeout, hypothesis, numba  # noqa: F401
import mypy, ament_flake8, ament_pep257, colcon_core  # noqa: F401
import rclpy, sensor_msgs.msg, std_msgs.msg, diagnostic_msgs.msg  # noqa: F401
spec = importlib.util.find_spec('dada_ros')
sys.exit(0 if spec is not None else 1)
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && check \
   && [ -x "$VENV/bin/dada_demo" ]; then
  echo "[setup] $VENV is up to date"
  exit 0
fi

PIP=("$VPY" -m pip --disable-pip-version-check)
echo "[setup] installing build tools"
"${PIP[@]}" install -q 'pip>=23' 'setuptools>=64' wheel

CONSTRAINTS="$VENV/dada_ros-constraints.txt"
install_torch_first "$VPY" "$TORCH_SPEC" "$CONSTRAINTS" setup

echo "[setup] installing ROS 2 Kilted wheels: ${ROS_WHEELS[*]}"
"${PIP[@]}" install -q -c "$CONSTRAINTS" "${ROS_WHEELS[@]}"

echo "[setup] installing dada_ros (editable) with test extras"
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-build-isolation --use-pep517 -e "$ROOT[test,bag,colcon,fast]"

# torch 2.N.P pairs with torchvision 0.(N+15).P. Whatever build PyPI has (CUDA) is fine
# with a CPU torch: dada_ros.core.models.import_smp works around its compiled ops.
TORCHVISION_SPEC=$("$VPY" - <<'PY' || true
import re
from importlib.metadata import version
m = re.match(r'2\.(\d+)\.(\d+)', version('torch'))
print(f'torchvision==0.{int(m.group(1)) + 15}.{m.group(2)}' if m else '')
PY
)
echo "[setup] installing the optional 'authors' extra (${TORCHVISION_SPEC:-no torchvision}," \
     "timm, segmentation-models-pytorch) without dependencies that could replace torch"
if [ -z "$TORCHVISION_SPEC" ] \
   || ! "${PIP[@]}" install -q -c "$CONSTRAINTS" huggingface-hub safetensors pillow tqdm \
   || ! "${PIP[@]}" install -q -c "$CONSTRAINTS" --no-deps "$TORCHVISION_SPEC" 'timm>=0.9,<2' \
        'segmentation-models-pytorch>=0.3,<1'; then
  echo "[setup] WARNING: could not install the optional 'authors' extra; only the DADA" >&2
  echo "[setup] authors' checkpoints need it (the test of their layout will skip)." >&2
fi

if ! check; then
  echo "[setup] ERROR: the environment does not import (torch, cv2, rclpy, dada_ros...)" >&2
  exit 1
fi
echo "$want" > "$STAMP"
echo "[setup] done: $("$VPY" -c 'import torch; print("torch", torch.__version__)')"
