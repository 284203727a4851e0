#!/usr/bin/env bash
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
#
# The GPU check in one command (about 3-4 minutes on a CUDA machine):
#   1. the CUDA tests (test/test_cuda.py: device selection, CUDA-graph replay equal to eager,
#      out-of-memory handling, dada_node with device:=cuda);
#   2. the solver benchmark on CUDA (paper loop vs pyramid, 640x480 and 1280x720, x4-x16);
#   3. the node latency benchmark on CUDA (640x480 x8, model rgb);
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

"$PYTHON" - "$WORK" "$REPORT" "$DEVICE" <<'EOF'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

work, report, device = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
lines = [f'# GPU check ({device})', '', '| step | result | seconds |', '|---|---|---|']
for name in ('tests', 'solver', 'node'):
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
node_log = (work / 'node.log').read_text(errors='replace').splitlines()
table = [line for line in node_log if line.startswith('|') or line.startswith('640')]
lines += ['', '## Node on CUDA (`benchmarks/node_latency.py --device cuda`)', '']
lines += table or ['not produced; last log lines:', '```', *node_log[-15:], '```']
report.write_text('\n'.join(lines) + '\n')
print(f'gpu_check: report written to {report}')
EOF
exit $status
