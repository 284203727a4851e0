#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# Set-up (idempotent) and the main job: the real dada_node upsamples the embedded RGB-D
# sample over ROS topics; prints latency and accuracy, writes out/ (preview PNG + .ply).
# Arguments go to dada_demo, e.g. `bash scripts/demo.sh --frames 5 --factor 16`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec bash scripts/localhost.sh env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE .venv/bin/dada_demo "$@"
