# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
r"""Sparse depth completion benchmark: DADA sparse vs nearest, linear and morphological.

Runs every method on the same real frames and prints a markdown table (RMSE and MAE on
held-out pixels, the RMSE relative to linear interpolation, milliseconds per frame,
whether measured pixels are kept bit-exactly) with the machine info:

* ``scan``: real KITTI Velodyne scans (``kitti_object_lidar``) projected into the colour
  camera with the calibration; 20 % of the pixels hit by the scan are held out
  (:func:`dada_ros.training.lidar.hold_out_points`, ``--splits`` random splits per frame), the
  rest is completed and the held-out pixels are scored against their measured depth.
* ``kitti``: the KITTI frames with semi-dense ground truth (``metric3d_kitti_nyu_demo``);
  the input is a LiDAR-like sampling of about 5 % of the ground-truth pixels
  (:func:`dada_ros.training.lidar.lidar_like_mask`), the other ground-truth pixels are scored.
* ``nyu``: the NYUv2 frames (raw depth with holes); 150 extra 12x12 holes are punched
  into the measured area with a fixed seed and scored.

* ``speed``: the sparse path beside the low-res path at 640x480 and 1280x720, measured
  side by side in one process (interleaved, fastest of ``--repeats``): a real KITTI scan
  projected with the intrinsics scaled to the size (the sparse input) and the same frame's
  nearest fill at 1/8 of the size (the low-res input), the same RGB, budget and guide; with
  the time of the sparse path's set-up stages (nearest fills, bridging, levels).

Usage (from the repository root)::

    python benchmarks/sparse_benchmark.py [--sets scan,kitti,nyu,speed] [--splits 5] \\
        [--iterations N] [--threads 2] [--repeats 3] [--markdown FILE]

The data is read from ``../shared/data`` beside the checkout.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import platform
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core import DepthUpsampler  # noqa: E402, I100
from dada_ros.core import sparse as sparse_core  # noqa: E402
from dada_ros.core.params import BY_NAME  # noqa: E402
from dada_ros.core.sparse_solver import SparseSolver  # noqa: E402
from dada_ros.training import completion_baselines as baselines  # noqa: E402
from dada_ros.training import lidar  # noqa: E402

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: (frame name, rgb, sparse input, ground truth or None, held-out mask or None)
Case = Tuple[str, np.ndarray, np.ndarray, Optional[np.ndarray], Optional[np.ndarray]]


def kitti_cases() -> List[Case]:
    """KITTI ground-truth frames with a LiDAR-like 5 % sampling as input."""
    cases: List[Case] = []
    for frame in lidar.kitti_gt_frames():
        sparse, held_out = lidar.sparse_from_gt(frame)
        cases.append((frame.name, frame.rgb, sparse, frame.depth, held_out))
    return cases


def nyu_cases(seed: int = 0, holes: int = 150, size: int = 12) -> List[Case]:
    """NYU frames with extra square holes punched into the measured area."""
    rng = np.random.default_rng(seed)
    cases: List[Case] = []
    for frame in lidar.nyu_frames():
        valid = np.isfinite(frame.depth)
        held = np.zeros_like(valid)
        height, width = valid.shape
        for _ in range(holes):
            row = int(rng.integers(0, height - size))
            col = int(rng.integers(0, width - size))
            held[row:row + size, col:col + size] = True
        held &= valid
        punched = np.where(held, np.nan, frame.depth).astype(np.float32)
        cases.append((frame.name, frame.rgb, punched, frame.depth, held))
    return cases


def scan_cases(splits: int = 5, fraction: float = 0.2) -> List[Case]:
    """Real projected Velodyne scans, ``fraction`` of the scan pixels held out per split."""
    cases: List[Case] = []
    for frame in lidar.kitti_lidar_frames():
        for seed in range(splits):
            sparse, held_out = lidar.hold_out_points(frame.depth, fraction, seed)
            cases.append((f'{frame.name}/split{seed}', frame.rgb, sparse, frame.depth,
                          held_out))
    return cases


def methods(iterations: int, device: str) -> Tuple[Dict[str, Method], List[str]]:
    """Return the methods to compare and notes on those that are unavailable."""
    table: Dict[str, Method] = {
        'nearest': lambda rgb, depth: baselines.nearest_fill(depth),
        'linear (griddata)': lambda rgb, depth: baselines.linear_fill(depth),
        'morphological (ip_basic-style)': lambda rgb, depth: baselines.morphological_fill(depth),
    }
    notes: List[str] = []
    for model in ('rgb', 'learned'):
        try:
            upsampler = DepthUpsampler(model=model, iterations=iterations, device=device,
                                       depth_mode='sparse')
        except (ValueError, FileNotFoundError, RuntimeError) as error:
            notes.append(f'DADA sparse ({model}) not available: {error}')
            continue
        table[f'DADA sparse ({model})'] = upsampler.up
    return table, notes


def kept(out: np.ndarray, depth: np.ndarray) -> bool:
    """Whether every valid input pixel equals ``float32(depth)`` bit-exactly."""
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth) & (depth > 0)
    return bool(np.array_equal(out[valid], depth[valid].astype(np.float32)))


def run(cases: Sequence[Case], table: Dict[str, Method],
        repeats: int) -> List[Tuple[str, ...]]:
    """Score every method on every case; one row per method over all cases.

    The RMSE is over all held-out pixels of all cases together; ``vs linear`` is its ratio
    to the RMSE of linear interpolation.
    """
    rows = []
    scores: Dict[str, float] = {}
    for name, method in table.items():
        squared, absolute, count, times, all_kept = 0.0, 0.0, 0, [], True
        for _, rgb, depth, gt, held in cases:
            start = time.perf_counter()
            out = method(rgb, depth)  # warm-up (allocations, caches)
            best = time.perf_counter() - start
            # very slow methods (> 5 s) are timed once: the warm-up run
            for _ in range(repeats if best < 5.0 else 0):
                start = time.perf_counter()
                out = method(rgb, depth)
                best = min(best, time.perf_counter() - start)
            times.append(best)
            all_kept &= kept(out, depth)
            if gt is not None and held is not None:
                error = out[held].astype(np.float64) - gt[held]
                squared += float(np.sum(error ** 2))
                absolute += float(np.sum(np.abs(error)))
                count += int(held.sum())
        scores[name] = float(np.sqrt(squared / count)) if count else float('nan')
        rmse = f'{scores[name]:.3f}' if count else '-'
        mae = f'{absolute / count:.3f}' if count else '-'
        rows.append((name, rmse, mae, f'{1e3 * float(np.mean(times)):.1f}',
                     'yes' if all_kept else 'no', str(len(cases))))
    linear = scores.get('linear (griddata)', float('nan'))
    return [row[:2] + (f'{scores[row[0]] / linear:.3f}' if np.isfinite(linear) else '-',)
            + row[2:] for row in rows]


#: Sizes of the speed comparison (width, height).
SPEED_SIZES = ((640, 480), (1280, 720))


def scaled_scan(width: int, height: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a real KITTI scan seen by a ``width x height`` camera: ``(rgb, sparse, low)``.

    The colour image is resized and the projection matrix scaled with it, so the scan keeps
    the pattern of a real spinning LiDAR at this size; ``low`` is the nearest fill of the
    scan, area-averaged to 1/8 of the size (the low-res path's input for the same frame).
    """
    root = lidar.require_shared_data() / 'kitti_object_lidar' / 'training'
    scan = sorted((root / 'velodyne').glob('*.bin'))[0]
    rgb = lidar._read_rgb(root / 'image_2' / f'{scan.stem}.png')
    calib = dict(lidar.read_kitti_calib(root / 'calib' / f'{scan.stem}.txt'))
    projection = calib['P2'].copy()
    projection[0] *= width / rgb.shape[1]
    projection[1] *= height / rgb.shape[0]
    calib['P2'] = projection
    sparse = lidar.project_velodyne(lidar.read_velodyne(scan), calib, (height, width))
    resized = np.ascontiguousarray(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))
    low = cv2.resize(baselines.nearest_fill(sparse), (width // 8, height // 8),
                     interpolation=cv2.INTER_AREA)
    return resized, sparse, low


def fastest(functions: Dict[str, Callable[[], object]], repeats: int) -> Dict[str, float]:
    """Fastest time (ms) of each function over ``repeats`` interleaved rounds (after one)."""
    best = dict.fromkeys(functions, float('inf'))
    for round_ in range(repeats + 1):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            if round_ > 0:
                best[name] = min(best[name], 1e3 * (time.perf_counter() - start))
    return best


def scan_line_stage(values: np.ndarray, valid: np.ndarray, spacing: float) -> None:
    """Run the sparse path's scan-line work: line test, bridging (pairs once), line ends."""
    gap = int(sparse_core.BRIDGE_SPACINGS * spacing)
    sparse_core.scan_lines(valid)
    _, _, _, joined = sparse_core.bridge_scan_lines_both(values, valid, gap,
                                                         sparse_core.BRIDGE_TOLERANCE)
    sparse_core.line_ends(values, joined, int(sparse_core.END_SPACINGS * spacing))


def speed_lines(iterations: int, device: str, repeats: int) -> List[str]:
    """Time the sparse path beside the low-res path, and the sparse set-up stages (markdown)."""
    lines = ['| size | scan density | low-res up() ms | sparse up() ms | sparse / low-res | '
             'nearest fill: scipy EDT / compiled ms | bridging + line ends ms | levels ms |',
             '|---|---|---|---|---|---|---|---|']
    for width, height in SPEED_SIZES:
        rgb, sparse, low = scaled_scan(width, height)
        upsampler = DepthUpsampler(model='rgb', iterations=iterations, device=device)
        valid = np.isfinite(sparse)
        values = np.where(valid, sparse, 0.0).astype(np.float32)
        spacing = sparse_core.mean_spacing(height, width, int(valid.sum()))
        solver = SparseSolver()
        depth_t, valid_t = torch.from_numpy(values), torch.from_numpy(valid)
        times = fastest({
            'lowres': lambda: upsampler(rgb, low),
            'sparse': lambda: upsampler(rgb, sparse),
            'edt': lambda: sparse_core.ndimage.distance_transform_edt(~valid,
                                                                      return_indices=True),
            'labels': lambda: sparse_core._nearest_fill(values, valid, kernel='auto'),
            'bridge': lambda: scan_line_stage(values, valid, spacing),
            'levels': lambda: solver.set_measurements(depth_t, valid_t),
        }, repeats)
        lines.append(
            f'| {width}x{height} | {100 * valid.mean():.1f} % | {times["lowres"]:.1f} | '
            f'{times["sparse"]:.1f} | {times["sparse"] / times["lowres"]:.2f} | '
            f'{times["edt"]:.1f} / {times["labels"]:.1f} | {times["bridge"]:.1f} | '
            f'{times["levels"]:.1f} |')
    return lines


def machine_info(threads: int, device: str) -> List[str]:
    """Lines describing the machine and the software."""
    cpu = platform.processor() or 'unknown CPU'
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    load = ', '.join(f'{v:.2f}' for v in os.getloadavg()) if hasattr(os, 'getloadavg') else '?'
    return [f'- machine: {cpu}, {os.cpu_count()} logical cores, load average {load}',
            f'- python {platform.python_version()}, torch {torch.__version__}, '
            f'numpy {np.__version__}, torch threads {threads}, device {device}']


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark and print (and optionally write) the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iterations', type=int, default=BY_NAME['iterations'].default,
                        help='DADA iteration budget per pyramid level (default: the node '
                             'default)')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed runs per frame after a warm-up (the fastest counts)')
    parser.add_argument('--device', default='cpu', help="torch device for DADA ('cpu')")
    parser.add_argument('--markdown', type=Path, help='also write the report to this file')
    parser.add_argument('--sets', default='scan,kitti,nyu',
                        help='comma-separated data sets: scan, kitti, nyu, speed')
    parser.add_argument('--splits', type=int, default=5,
                        help='random held-out splits per frame of the scan set')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lidar.require_shared_data()

    table, notes = methods(args.iterations, args.device)
    lines = ['# Sparse depth completion benchmark', '']
    lines += machine_info(args.threads, args.device)
    lines += [f'- DADA budget: {args.iterations} iterations per pyramid level, '
              "solver 'pyramid' (coarse-to-fine, measured pixels fixed)", '']
    lines += [f'- {note}' for note in notes]
    sets: Dict[str, Tuple[str, Callable[[], List[Case]]]] = {
        'scan': ('KITTI Velodyne scans, 20 % of the scan pixels held out and scored '
                 f'({args.splits} splits per frame, metres)', lambda: scan_cases(args.splits)),
        'kitti': ('KITTI, LiDAR-like ~5 % of the GT pixels as input, held-out GT scored '
                  '(metres)', kitti_cases),
        'nyu': ('NYUv2, 150 punched 12x12 holes scored (metres)', nyu_cases),
    }
    for key in args.sets.split(','):
        if key == 'speed':
            lines += ['', '## speed: the sparse path beside the low-res path (x8), model rgb, '
                      f'{args.iterations} iterations, fastest of {args.repeats}', '']
            lines += speed_lines(args.iterations, args.device, args.repeats)
            continue
        if key not in sets:
            parser.error(f'unknown set {key!r}; known: {", ".join(sets)}')
        title, make_cases = sets[key]
        cases = make_cases()
        if not cases:
            continue
        height, width = cases[0][1].shape[:2]
        density = np.mean([np.isfinite(c[2]).mean() for c in cases])
        frames = len({c[0].split('/split')[0] for c in cases})
        lines += ['', f'## {key}: {title}', '',
                  f'{len(cases)} cases ({frames} frames), {width}x{height}, input density '
                  f'{100 * density:.1f} % of the pixels', '',
                  '| method | RMSE | vs linear | MAE | ms/frame | measured kept | cases |',
                  '|---|---|---|---|---|---|---|']
        for row in run(cases, table, args.repeats):
            lines.append('| ' + ' | '.join(row) + ' |')
    report = '\n'.join(lines) + '\n'
    print(report)
    if args.markdown:
        args.markdown.write_text(report, encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
