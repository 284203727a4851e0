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
frames of ``kitti_object_lidar`` on which the sparse path was first built and the first
three ``avod_training`` frames), on which settings of the completion are chosen, and
*report* frames (the other four, from three sources), which are only reported; ``all``
pools the nine. Per beam count and frame set the table gives the geometric mean over
frames and splits of each method's RMSE relative to linear interpolation, the pooled RMSE
(metres) and the mean milliseconds per frame. With 32 and 16 beams a second ratio scores
the same outputs on the pixels of the rings that were *not* kept (the real scan's depth
there): the held-out pixels all lie on kept scan lines, so a completion that only follows
its lines could score well there and badly between them; this column shows it.

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
             'kitti_object_lidar_extra/avod_training/000003',
             'kitti_object_lidar_extra/avod_training/000004',
             'kitti_object_lidar_extra/avod_training/000005')
#: Beams of the real scans (HDL-64E) and the ring step that gives each simulated count.
RING_STEP = {64: 1, 32: 2, 16: 4}


def select_scans(which: str) -> List[lidar.KittiScan]:
    """``which`` in ``selection``, ``report``, ``all``: those KITTI scans."""
    scans = lidar.kitti_scans()
    if which == 'all':
        return scans
    chosen = [scan for scan in scans if (scan.name in SELECTION) == (which == 'selection')]
    return chosen


#: ``(name, rgb, sparse input, depth, held-out mask, dropped-ring mask)``: ``depth`` is the
#: whole scan's, scored at the held-out pixels and at those of the rings not kept.
Case = Tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def beam_cases(scans: Sequence[lidar.KittiScan], beams: int, splits: int,
               fraction: float = 0.2) -> List[Case]:
    """One :data:`Case` per scan and split."""
    every = RING_STEP[beams]
    cases = []
    for scan in scans:
        whole = scan.frame().depth
        for seed in range(splits):
            kept = scan.frame(lidar.keep_rings(scan.points, every, seed % every)).depth
            sparse, held_out = lidar.hold_out_points(kept, fraction, seed)
            on_kept = np.isfinite(kept) & (kept > 0)
            # where a kept and a dropped point share a pixel the kept one is scored
            depth = np.where(on_kept, kept, whole)
            dropped = np.isfinite(whole) & (whole > 0) & ~on_kept
            cases.append((f'{scan.name}/split{seed}', scan.rgb, sparse, depth, held_out,
                          dropped))
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


def _rmse(out: np.ndarray, depth: np.ndarray, mask: np.ndarray) -> float:
    return float(np.sqrt(np.mean((out[mask].astype(np.float64) - depth[mask]) ** 2)))


def _geometric_ratio(values: Sequence[float], linear: Sequence[float]) -> float:
    if not len(values):
        return float('nan')
    return float(np.exp(np.mean(np.log(np.array(values) / np.array(linear)))))


def score(cases: Sequence[Case],
          table: Dict[str, Method]) -> Dict[str, Tuple[float, float, float, float]]:
    """Score every method on every case.

    Returns:
        Per method: (geometric mean of RMSE / linear RMSE on the held-out pixels, pooled RMSE
        m, ms per case, the same ratio on the pixels of dropped rings (NaN without any)).
    """
    errors: Dict[str, List[float]] = {name: [] for name in table}
    between: Dict[str, List[float]] = {name: [] for name in table}
    squared = dict.fromkeys(table, 0.0)
    seconds = dict.fromkeys(table, 0.0)
    count = 0
    for _, rgb, sparse, depth, held, dropped in cases:
        for name, method in table.items():
            start = time.perf_counter()
            out = method(rgb, sparse)
            seconds[name] += time.perf_counter() - start
            errors[name].append(_rmse(out, depth, held))
            squared[name] += errors[name][-1] ** 2 * int(held.sum())
            if dropped.any():
                between[name].append(_rmse(out, depth, dropped))
        count += int(held.sum())
    linear, linear_between = errors['linear (griddata)'], between['linear (griddata)']
    return {name: (_geometric_ratio(values, linear), float(np.sqrt(squared[name] / count)),
                   1e3 * seconds[name] / len(cases),
                   _geometric_ratio(between[name], linear_between))
            for name, values in errors.items()}


def report(beams: Sequence[int], frame_sets: Sequence[str], splits: int,
           iterations: Optional[int]) -> List[str]:
    """Return the markdown table, one row per beam count, frame set and method."""
    table = methods(iterations)
    lines = ['| beams | frames | method | RMSE / linear (geo. mean) | pooled RMSE m | '
             'dropped rings: RMSE / linear | input px | ms/frame |',
             '|---|---|---|---|---|---|---|---|']
    for which in frame_sets:
        scans = select_scans(which)
        for count in beams:
            cases = beam_cases(scans, count, splits)
            density = np.mean([np.isfinite(case[2]).sum() for case in cases])
            for name, (ratio, rmse, ms, dropped) in score(cases, table).items():
                lines.append(f'| {count} | {which} ({len(scans)}x{splits}) | {name} | '
                             f'{ratio:.3f} | {rmse:.3f} | {dropped:.3f} | {density:.0f} | '
                             f'{ms:.0f} |')
            print(lines[-3], lines[-2], lines[-1], sep='\n', flush=True)
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and print (and optionally write) the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--beams', default='64,32,16', help='comma-separated: 64, 32, 16')
    parser.add_argument('--frames', default='selection,report,all',
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
