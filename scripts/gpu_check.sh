#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# The GPU check in one command (about 4-5 minutes on a CUDA machine):
#   1. the CUDA tests (test/test_cuda.py: device selection, CUDA-graph replay equal to eager,
#      out-of-memory handling, dada_node with device:=cuda);
#   2. the solver benchmark on CUDA (paper loop vs pyramid, 640x480 and 1280x720, x4-x16);
#   3. the node latency benchmark on CUDA (640x480 and 1280x720, x8, model rgb);
#   4. the sparse path beside the low-res path on CUDA (640x480 and 1280x720, x8: the embedded
#      sample scene of dada_ros.tools.sample seen by a simulated 64-beam LiDAR; no data needed);
# and writes one markdown report (default out/gpu_check.md) with a table per step.
#
#   bash scripts/gpu_check.sh [REPORT.md]
#
# Exit code: 0 when every step passed, 1 when one failed, 2 when there is no CUDA device
# (nothing is run then). Python: $PYTHON, else .venv/bin/python, else python3.
set -u
cd "$(dirname "$0")/.."
REPORT=${1:-out/gpu_check.md}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if ! "$PYTHON" - <<'EOF' >"$WORK/device.txt" 2>&1
import sys
import torch
if not torch.cuda.is_available():
    sys.exit(f'torch {torch.__version__} (CUDA build: {torch.version.cuda}) sees no CUDA device')
props = torch.cuda.get_device_properties(0)
print(f'{props.name}, {props.total_memory / 2**30:.0f} GiB, {torch.cuda.device_count()} '
      f'device(s), torch {torch.__version__}, CUDA {torch.version.cuda}')
EOF
then
    echo "gpu_check: no CUDA device, nothing run: $(tail -n 1 "$WORK/device.txt")" >&2
    echo "gpu_check: run this script on a machine with an NVIDIA GPU and a CUDA build of torch." >&2
    exit 2
fi
DEVICE=$(tail -n 1 "$WORK/device.txt")
echo "gpu_check: $DEVICE"
mkdir -p "$(dirname "$REPORT")"
status=0

step() {  # step NAME TIMEOUT_S COMMAND... ; output in $WORK/NAME.log, result in $WORK/NAME.rc
    local name=$1 limit=$2
    shift 2
    echo "gpu_check: $name ..."
    local start=$SECONDS
    timeout "$limit" "$@" >"$WORK/$name.log" 2>&1
    local rc=$?
    echo "$rc $((SECONDS - start))" >"$WORK/$name.rc"
    [ "$rc" -eq 0 ] || { status=1; echo "gpu_check: $name FAILED (exit $rc)"; tail -n 20 "$WORK/$name.log"; }
}

step tests 120 bash scripts/localhost.sh "$PYTHON" -m pytest test/test_cuda.py -v -rA \
    -p no:cacheprovider --junitxml="$WORK/tests.xml"
step solver 150 "$PYTHON" benchmarks/solver_benchmark.py --device cuda --no-curves \
    --no-roofline --repeats 5 --converged-iterations 1000 --markdown "$WORK/solver.md"
step node 90 bash scripts/localhost.sh "$PYTHON" benchmarks/node_latency.py --device cuda \
    --frames 20
step node_720 90 bash scripts/localhost.sh "$PYTHON" benchmarks/node_latency.py --device cuda \
    --frames 20 --width 1280 --height 720
step sparse 120 "$PYTHON" - "$WORK/sparse.md" <<'EOF'
# The sparse path beside the low-res path on CUDA, same scene and budget, fastest of 5.
import sys
import time

import numpy as np
import torch

from dada_ros.core import DepthUpsampler
from dada_ros.tools.sample import block_average, sample_scene
from dada_ros.training.lidar import lidar_like_mask

lines = ['| size | scan density | low-res up() ms | sparse up() ms | sparse / low-res |',
         '|---|---|---|---|---|']
for width, height in ((640, 480), (1280, 720)):
    rgb, gt, k = sample_scene(height, width)
    mask = lidar_like_mask(np.isfinite(gt), k[0, 0], k[1, 1], k[0, 2], k[1, 2])
    sparse = np.where(mask, gt, np.nan).astype(np.float32)
    low = block_average(gt, 8)
    best = {}
    for mode, depth in (('lowres', low), ('sparse', sparse)):
        upsampler = DepthUpsampler(model='rgb', device='cuda', depth_mode=mode)
        times = []
        for _ in range(6):
            torch.cuda.synchronize()
            start = time.perf_counter()
            out = upsampler(rgb, depth)
            torch.cuda.synchronize()
            times.append(1e3 * (time.perf_counter() - start))
        if not np.isfinite(out).all():
            sys.exit(f'{mode} {width}x{height}: non-finite output')
        if mode == 'sparse' and not np.array_equal(out[mask], sparse[mask]):
            sys.exit(f'sparse {width}x{height}: measured pixels not kept')
        best[mode] = min(times[1:])
    lines.append(f"| {width}x{height} | {100 * mask.mean():.1f} % | {best['lowres']:.1f} | "
                 f"{best['sparse']:.1f} | {best['sparse'] / best['lowres']:.2f} |")
open(sys.argv[1], 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
EOF

"$PYTHON" - "$WORK" "$REPORT" "$DEVICE" <<'EOF'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

work, report, device = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
lines = [f'# GPU check ({device})', '', '| step | result | seconds |', '|---|---|---|']
for name in ('tests', 'solver', 'node', 'node_720', 'sparse'):
    rc, seconds = (work / f'{name}.rc').read_text().split()
    lines.append(f"| {name} | {'ok' if rc == '0' else f'FAILED (exit {rc})'} | {seconds} |")
lines += ['', '## CUDA tests', '', '| test | result |', '|---|---|']
xml = work / 'tests.xml'
if xml.is_file():
    for case in ET.parse(xml).getroot().iter('testcase'):
        outcome = 'passed'
        for tag in ('failure', 'error', 'skipped'):
            element = case.find(tag)
            if element is not None:
                outcome = f"{tag}: {(element.get('message') or '')[:120]}"
        lines.append(f"| {case.get('name')} | {outcome} |")
solver = work / 'solver.md'
lines += ['', '## Solver on CUDA (`benchmarks/solver_benchmark.py --device cuda`)', '',
          solver.read_text() if solver.is_file() else 'not produced: see the log below']
for name, size in (('node', ''), ('node_720', ' --width 1280 --height 720')):
    node_log = (work / f'{name}.log').read_text(errors='replace').splitlines()
    table = [line for line in node_log if line.startswith('|') or line[:1].isdigit()]
    lines += ['', f'## Node on CUDA (`benchmarks/node_latency.py --device cuda{size}`)', '']
    lines += table or ['not produced; last log lines:', '```', *node_log[-15:], '```']
sparse = work / 'sparse.md'
lines += ['', '## Sparse path beside the low-res path on CUDA (x8, sample scene)', '',
          sparse.read_text() if sparse.is_file() else 'not produced: see the log above']
report.write_text('\n'.join(lines) + '\n')
print(f'gpu_check: report written to {report}')
EOF
exit $status
