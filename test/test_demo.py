# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""End-to-end test of ``dada_demo``: the real node in a child process, real topics."""

from __future__ import annotations

import os
from pathlib import Path
import re
import subprocess
import sys
from typing import List

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_demo(args: List[str], timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Run ``python -m dada_ros.tools.demo`` with DDS kept on this machine."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROS_LOCALHOST_ONLY'] = '1'
    env.pop('_ROS_WHEELS_BOOTSTRAP_COMPLETE', None)
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    domain = str(1 + (os.getpid() + len(args)) % 100)
    return subprocess.run([sys.executable, '-m', 'dada_ros.tools.demo', '--domain-id', domain]
                          + args,
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / 'out'
    result = run_demo(['--frames', '3', '--factor', '8', '--iterations', '16', '--out', str(out)])
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    frames = re.findall(r'frame (\d)/3: latency +([\d.]+) ms \| DADA RMSE ([\d.]+) m MAE '
                        r'([\d.]+) m \| bicubic RMSE ([\d.]+) m MAE ([\d.]+) m \| points yes',
                        result.stdout)
    assert [f[0] for f in frames] == ['1', '2', '3'], log
    for _, latency, rmse, mae, cubic_rmse, cubic_mae in frames:
        assert float(latency) > 0
        # Guided upsampling must beat bicubic on the sample and be accurate in absolute terms.
        assert float(rmse) < float(cubic_rmse) and float(mae) < float(cubic_mae)
        assert float(rmse) < 0.1
    preview = cv2.imread(str(out / 'demo_preview.png'))
    assert preview is not None and preview.shape[1] == 4 * 640 and preview.shape[0] > 480
    data = (out / 'demo_points.ply').read_bytes()
    header, _, body = data.partition(b'end_header\n')
    count = int(re.search(rb'element vertex (\d+)', header).group(1))  # type: ignore[union-attr]
    assert count == 640 * 480  # the sample has depth everywhere
    assert len(body) == count * 15
    vertices = np.frombuffer(body, dtype=[('x', '<f4'), ('y', '<f4'), ('z', '<f4'),
                                          ('r', 'u1'), ('g', 'u1'), ('b', 'u1')])
    assert 0.8 < float(vertices['z'].min()) and float(vertices['z'].max()) < 4.2
    assert int(vertices['r'].astype(int).sum()) > 0  # coloured cloud from the points topic


def test_demo_reports_a_node_that_cannot_start(tmp_path: Path) -> None:
    # iterations above the parameter's maximum: the node refuses to start.
    result = run_demo(['--frames', '1', '--iterations', '1000000000', '--timeout', '60',
                       '--out', str(tmp_path)], timeout=200)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'FAILED' in result.stderr and 'dada_node' in result.stderr


@pytest.mark.parametrize('args', [['--input', '/nonexistent/scene'], ['--frames', '0']])
def test_demo_rejects_bad_arguments(args: List[str], tmp_path: Path) -> None:
    result = run_demo(args + ['--out', str(tmp_path)], timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr


def test_demo_on_a_middlebury_scene(tmp_path: Path) -> None:
    scene = ROOT.parent / 'shared' / 'data' / 'middlebury_2005_2006_thirdsize' / 'Art'
    if not (ROOT.parent / 'shared').exists():
        pytest.skip('../shared (real data beside the checkout) is absent')
    assert scene.is_dir(), f'{scene} is missing from ../shared/data'
    result = run_demo(['--input', str(scene), '--frames', '1', '--iterations', '16',
                       '--out', str(tmp_path)])
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r'DADA RMSE ([\d.]+) m, MAE [\d.]+ m, coverage [\d.]+% \| bicubic RMSE '
                      r'([\d.]+) m', result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) < float(match.group(2))
    assert (tmp_path / 'demo_preview.png').exists() and (tmp_path / 'demo_points.ply').exists()
