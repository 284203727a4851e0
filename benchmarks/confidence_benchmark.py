# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
r"""Does the confidence output rank the errors? RMSE per confidence bin on real data.

For every case the dense depth is computed with ``DepthUpsampler``, its confidence with
:func:`dada_ros.core.confidence.depth_confidence`, and the errors against the ground truth
are pooled per confidence bin over all frames of a set:

* ``middlebury xF``: the Middlebury 2005/2006 training scenes (never the test scenes
  Aloe, Art, Books, Moebius, Rocks2), block-averaged low-res input at factor F, errors in
  disparity pixels over all ground-truth pixels;
* ``kitti lidar-like``: the KITTI frames with semi-dense ground truth, a LiDAR-like 5 %
  sampling as sparse input, errors in metres at the held-out ground-truth pixels;
* ``kitti velodyne``: real Velodyne scans projected into the camera, 20 % of the scan's
  pixels held out (fixed seed) and scored, metres.

Usage (from the repository root)::

    python benchmarks/confidence_benchmark.py [--model rgb] [--iterations 96] \\
        [--threads 1] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
import sys
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core import DepthUpsampler  # noqa: E402, I100
from dada_ros.core.confidence import depth_confidence  # noqa: E402
from dada_ros.training import lidar  # noqa: E402
from dada_ros.training.datasets import (load_scenes, make_sample,  # noqa: E402
                                        training_scene_names)

BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)
#: (name, rgb, input depth, ground truth, scored mask)
Case = Tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def middlebury_cases(factor: int) -> List[Case]:
    """Training scenes only, with their block-averaged low-res input."""
    cases = []
    for scene in load_scenes(names=training_scene_names()):
        rgb, source, gt = make_sample(scene, factor)
        cases.append((scene.name, rgb, source, gt, np.isfinite(gt)))
    return cases


def kitti_like_cases() -> List[Case]:
    """KITTI semi-dense ground truth, LiDAR-like sampled; scored at the held-out pixels."""
    cases = []
    for frame in lidar.kitti_gt_frames():
        sparse, held_out = lidar.sparse_from_gt(frame)
        cases.append((frame.name, frame.rgb, sparse, frame.depth, held_out))
    return cases


def velodyne_cases(held_fraction: float = 0.2, seed: int = 0) -> List[Case]:
    """Real projected scans; a random 20 % of the scan's pixels are held out and scored."""
    rng = np.random.default_rng(seed)
    cases = []
    for frame in lidar.kitti_lidar_frames():
        valid = np.isfinite(frame.depth)
        held = valid & (rng.random(valid.shape) < held_fraction)
        sparse = np.where(held, np.nan, frame.depth).astype(np.float32)
        cases.append((frame.name, frame.rgb, sparse, frame.depth, held))
    return cases


Row = Tuple[str, int, float, float]


def binned(cases: Iterable[Case], upsampler: DepthUpsampler) -> List[Row]:
    """Pool the errors of all cases per confidence bin: (bin, pixels, RMSE, MAE)."""
    errors: Dict[int, List[np.ndarray]] = {index: [] for index in range(len(BINS) - 1)}
    for _, rgb, depth, gt, scored in cases:
        dense = upsampler.up(rgb, depth)
        confidence = depth_confidence(dense, depth)
        mask = scored & np.isfinite(dense)
        difference = (dense[mask] - gt[mask]).astype(np.float64)
        index = np.clip(np.digitize(confidence[mask], BINS) - 1, 0, len(BINS) - 2)
        for bin_index in errors:
            errors[bin_index].append(difference[index == bin_index])
    rows = []
    for bin_index, parts in errors.items():
        values = np.concatenate(parts)
        label = f'{BINS[bin_index]:.1f}-{min(BINS[bin_index + 1], 1.0):.1f}'
        if values.size == 0:
            rows.append((label, 0, float('nan'), float('nan')))
            continue
        rows.append((label, int(values.size), float(np.sqrt(np.mean(values ** 2))),
                     float(np.mean(np.abs(values)))))
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    """Print the table of error per confidence bin for every data set."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default='rgb', choices=('rgb', 'learned'))
    parser.add_argument('--iterations', type=int, default=96)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--markdown', type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sets: List[Tuple[str, str, Callable[[], List[Case]]]] = [
        (f'middlebury x{f} (disparity px)', 'lowres', functools.partial(middlebury_cases, f))
        for f in (8, 16)]
    sets += [('kitti lidar-like 5 % (m)', 'sparse', kitti_like_cases),
             ('kitti velodyne, 20 % held out (m)', 'sparse', velodyne_cases)]
    lines = [f'model {args.model}, iterations {args.iterations}', '',
             '| data | confidence | share of pixels | RMSE | MAE |', '|---|---|---|---|---|']
    for name, mode, make in sets:
        upsampler = DepthUpsampler(model=args.model, iterations=args.iterations, device='cpu',
                                   depth_mode=mode)
        rows = binned(make(), upsampler)
        total = sum(row[1] for row in rows)
        for label, count, rmse, mae in rows:
            lines.append(f'| {name} | {label} | {100.0 * count / max(total, 1):.1f} % '
                         f'| {rmse:.3f} | {mae:.3f} |')
        print('\n'.join(lines[-len(rows):]), flush=True)
    text = '\n'.join(lines) + '\n'
    if args.markdown is not None:
        args.markdown.write_text(text)
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
