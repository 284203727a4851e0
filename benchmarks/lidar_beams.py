# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
r"""Sparser LiDARs: DADA sparse vs linear and nearest on 64-, 32- and 16-beam KITTI scans.

The nine KITTI object frames of ``../shared/data/kitti_object_lidar`` and
``kitti_object_lidar_extra`` (:func:`dada_ros.training.lidar.kitti_scans`). A 32- or 16-beam
pattern keeps every 2nd or 4th laser ring of the real 64-beam scan (rings derived from the
scan, :func:`dada_ros.training.lidar.ring_indices`; split ``s`` keeps the rings
``s mod every``). The kept scan is projected into the colour camera, 20 % of its pixels are
held out (:func:`dada_ros.training.lidar.hold_out_points`, seed ``s``), the rest is completed
and the held-out pixels are scored against their measured depth (the protocol of
``benchmarks/sparse_benchmark.py --sets scan``).

The frames are split once, by name, into *selection* frames (:data:`SELECTION`: the two
frames of ``kitti_object_lidar`` on which the sparse path was first built, and one extra
frame), on which settings of the completion are chosen, and *report* frames (the other
six), which are only reported. Per beam count and frame set the table gives the geometric
mean over frames and splits of each method's RMSE relative to linear interpolation, the
pooled RMSE (metres) and the mean milliseconds per frame.

Usage (from the repository root)::

    python benchmarks/lidar_beams.py [--beams 64,32,16] [--splits 3] [--frames report] \\
        [--iterations N] [--threads 1] [--markdown FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core import DepthUpsampler  # noqa: E402, I100
from dada_ros.core.params import BY_NAME  # noqa: E402
from dada_ros.training import completion_baselines as baselines  # noqa: E402
from dada_ros.training import lidar  # noqa: E402

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: Frames on which settings are chosen; the others are only reported.
SELECTION = ('kitti_object_lidar/training/000000', 'kitti_object_lidar/training/000001',
             'kitti_object_lidar_extra/avod_training/000003')
#: Beams of the real scans (HDL-64E) and the ring step that gives each simulated count.
RING_STEP = {64: 1, 32: 2, 16: 4}


def select_scans(which: str) -> List[lidar.KittiScan]:
    """``which`` in ``selection``, ``report``, ``all``: those KITTI scans."""
    scans = lidar.kitti_scans()
    if which == 'all':
        return scans
    chosen = [scan for scan in scans if (scan.name in SELECTION) == (which == 'selection')]
    return chosen


def beam_cases(scans: Sequence[lidar.KittiScan], beams: int, splits: int,
               fraction: float = 0.2) -> List[Tuple[str, np.ndarray, np.ndarray, np.ndarray,
                                                    np.ndarray]]:
    """``(name, rgb, sparse input, scan depth, held-out mask)`` per scan and split."""
    every = RING_STEP[beams]
    cases = []
    for scan in scans:
        for seed in range(splits):
            frame = scan.frame(lidar.keep_rings(scan.points, every, seed % every))
            sparse, held_out = lidar.hold_out_points(frame.depth, fraction, seed)
            cases.append((f'{scan.name}/split{seed}', scan.rgb, sparse, frame.depth, held_out))
    return cases


def methods(iterations: Optional[int]) -> Dict[str, Method]:
    """DADA sparse (``model: rgb``, the node's defaults) and the two interpolations."""
    budget = BY_NAME['iterations'].default if iterations is None else iterations
    upsampler = DepthUpsampler(model='rgb', device='cpu', depth_mode='sparse',
                               iterations=int(budget))
    return {
        'DADA sparse (rgb)': upsampler.up,
        'linear (griddata)': lambda rgb, depth: baselines.linear_fill(depth),
        'nearest': lambda rgb, depth: baselines.nearest_fill(depth),
    }


def score(cases: Sequence[Tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
          table: Dict[str, Method]) -> Dict[str, Tuple[float, float, float]]:
    """Per method: (geometric mean of RMSE / linear RMSE, pooled RMSE m, ms per case)."""
    errors: Dict[str, List[float]] = {name: [] for name in table}
    squared = dict.fromkeys(table, 0.0)
    seconds = dict.fromkeys(table, 0.0)
    count = 0
    for _, rgb, sparse, depth, held in cases:
        for name, method in table.items():
            start = time.perf_counter()
            out = method(rgb, sparse)
            seconds[name] += time.perf_counter() - start
            error = out[held].astype(np.float64) - depth[held]
            errors[name].append(float(np.sqrt(np.mean(error ** 2))))
            squared[name] += float(np.sum(error ** 2))
        count += int(held.sum())
    linear = np.array(errors['linear (griddata)'])
    return {name: (float(np.exp(np.mean(np.log(np.array(values) / linear)))),
                   float(np.sqrt(squared[name] / count)), 1e3 * seconds[name] / len(cases))
            for name, values in errors.items()}


def report(beams: Sequence[int], frame_sets: Sequence[str], splits: int,
           iterations: Optional[int]) -> List[str]:
    """Return the markdown table, one row per beam count, frame set and method."""
    table = methods(iterations)
    lines = ['| beams | frames | method | RMSE / linear (geo. mean) | pooled RMSE m | '
             'input px | ms/frame |', '|---|---|---|---|---|---|---|']
    for which in frame_sets:
        scans = select_scans(which)
        for count in beams:
            cases = beam_cases(scans, count, splits)
            density = np.mean([np.isfinite(case[2]).sum() for case in cases])
            for name, (ratio, rmse, ms) in score(cases, table).items():
                lines.append(f'| {count} | {which} ({len(scans)}x{splits}) | {name} | '
                             f'{ratio:.3f} | {rmse:.3f} | {density:.0f} | {ms:.0f} |')
            print(lines[-3], lines[-2], lines[-1], sep='\n', flush=True)
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and print (and optionally write) the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--beams', default='64,32,16', help='comma-separated: 64, 32, 16')
    parser.add_argument('--frames', default='selection,report',
                        help='comma-separated frame sets: selection, report, all')
    parser.add_argument('--splits', type=int, default=3, help='held-out splits per frame')
    parser.add_argument('--iterations', type=int, default=None,
                        help=f"DADA budget (default: the node's, "
                             f"{BY_NAME['iterations'].default})")
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--markdown', type=Path, help='also write the table to this file')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    beams = [int(value) for value in args.beams.split(',')]
    if any(value not in RING_STEP for value in beams):
        parser.error(f'beams must be among {sorted(RING_STEP)}')
    lines = report(beams, args.frames.split(','), args.splits, args.iterations)
    text = '\n'.join(lines) + '\n'
    print('\n' + text)
    if args.markdown:
        args.markdown.write_text(text, encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
