# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Benchmark table of the ``deep_guide`` (issue 24): accuracy on unseen scenes and CPU time.

Run from the repository root::

    python benchmarks/deep_guide_benchmark.py --weights runs/deep_guide/best.pt [--quick]

Sections (RMSE, mean over frames; every method sees the same inputs):

1. RGB-D-D, the held-out TEST part of ``../shared/data/rgbdd_test_split``
   (:func:`dada_ros.training.deep_guide.rgbdd_split`; never read by training or
   selection), x4/x8/x16, RMSE in cm over the whole 512x384 frame:
   a. block-average input (the DADA paper's protocol);
   b. bicubic downsampling of the ground truth (PIL, float) as the input (the published
      protocol of this data set).
2. The Middlebury test scenes (Aloe, Art, Books, Moebius, Rocks2; view 1), block-average
   input, x4-x32, disparity px (as ``dada_eval``).
3. The three NYUv2 frames of ``../shared`` (sensor depth with holes as ground truth,
   block-average input), x4-x16, cm.

Columns: bicubic, guided filter, FGS (:mod:`dada_ros.training.baselines`), the paper's GAD
(:func:`dada_ros.training.evaluate.gad_upsampler`), ``model: rgb``, the packaged
``learned`` (``--shipped``, default the packaged file) and the candidate (``--weights``).
Then the time of whole ``DepthUpsampler`` calls (the NYUv2 frame resized to ``--sizes``, x8),
candidate, ``rgb`` and shipped alternating in one process, medians of the process CPU time
and of the wall time, with ``--time-threads``.
``--quick``: every third RGB-D-D test frame (for a fast look; the table uses all).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import sys
import time
from typing import Callable, Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core import DepthUpsampler  # noqa: E402
from dada_ros.training.baselines import BASELINES  # noqa: E402
from dada_ros.training.datasets import (crop_to_factor, errors, load_rgbd_frames,  # noqa: E402
                                        load_scenes, make_sample, middlebury_dir, Scene,
                                        VALIDATION_SCENES)
from dada_ros.training.deep_guide import load_rgbdd, rgbdd_names, rgbdd_split  # noqa: E402
from dada_ros.training.evaluate import gad_upsampler  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scipy.ndimage import distance_transform_edt  # noqa: E402
import torch  # noqa: E402

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]
Sample = Tuple[np.ndarray, np.ndarray, np.ndarray]


def bicubic_sample(scene: Scene, factor: int) -> Sample:
    """``(rgb, source, gt)`` with the source = PIL bicubic downsampling of the ground truth.

    The published RGB-D-D protocol (e.g. DCTNet, SGNet): ``Image.resize(..., BICUBIC)`` of
    the float depth. A few frames have holes (0 in the PNG, NaN here): for the input only,
    they are filled from the nearest valid pixel; errors are over the valid pixels.
    """
    rgb = np.ascontiguousarray(crop_to_factor(scene.rgb, factor))
    gt = np.ascontiguousarray(crop_to_factor(scene.disparity, factor))
    filled = gt
    if not np.isfinite(gt).all():
        _, (rows, cols) = distance_transform_edt(~np.isfinite(gt), return_indices=True)
        filled = gt[rows, cols]
    h, w = gt.shape
    small = Image.fromarray(filled.astype(np.float32), mode='F').resize(
        (w // factor, h // factor), Image.Resampling.BICUBIC)
    return rgb, np.asarray(small, dtype=np.float32), gt


def table(scenes: Sequence[Scene], methods: Dict[str, Method], factors: Sequence[int],
          sample: Callable[[Scene, int], Sample], unit: float) -> Dict[Tuple[str, int], float]:
    """Mean RMSE (times ``unit``) per method and factor."""
    out: Dict[Tuple[str, int], float] = {}
    for factor in factors:
        samples = [sample(scene, factor) for scene in scenes]
        for name, method in methods.items():
            out[(name, factor)] = unit * float(np.mean(
                [errors(method(rgb, source), gt)[0] for rgb, source, gt in samples]))
        print(f'  x{factor} done', file=sys.stderr, flush=True)
    return out


def markdown(result: Dict[Tuple[str, int], float], names: Sequence[str],
             factors: Sequence[int], reference: str = 'rgb') -> str:
    """Rows = methods, columns = factors; the last two rows: candidate and shipped vs rgb."""
    lines = ['| method | ' + ' | '.join(f'x{f}' for f in factors) + ' |',
             '|---|' + '---|' * len(factors)]
    for name in names:
        lines.append(f'| {name} | '
                     + ' | '.join(f'{result[(name, f)]:.3f}' for f in factors) + ' |')
    for name in [n for n in names[-2:] if n != reference]:
        lines.append(f'| {name} vs {reference} | ' + ' | '.join(
            f'{100.0 * (result[(name, f)] / result[(reference, f)] - 1.0):+.1f} %'
            for f in factors) + ' |')
    return '\n'.join(lines)


def resized_sample(scene: Scene, size: Tuple[int, int], factor: int) -> Sample:
    """Return ``make_sample`` of ``scene`` resized to ``size = (width, height)``.

    RGB bicubic, depth nearest (holes stay holes).
    """
    width, height = size
    rgb = np.asarray(Image.fromarray(scene.rgb).resize(size, Image.Resampling.BICUBIC))
    depth = np.asarray(Image.fromarray(scene.disparity.astype(np.float32), mode='F').resize(
        size, Image.Resampling.NEAREST), dtype=np.float32)
    return make_sample(Scene(f'{scene.name}@{width}x{height}', rgb, depth), factor)


def timing(methods: Dict[str, DepthUpsampler], repeats: int, threads: Sequence[int],
           sizes: Sequence[Tuple[int, int]]) -> str:
    """Medians of whole calls at x8 (the NYUv2 frame resized), alternating in one process.

    Two clocks: the process CPU time (``time.process_time``: all threads, the budget of
    issue 24; least disturbed by other processes on a loaded machine) and the wall time.
    """
    frame = load_rgbd_frames()[0]
    lines = ['| size | threads | ' + ' | '.join(f'{k} CPU ms' for k in methods)
             + ' | candidate / rgb CPU | shipped / rgb CPU | candidate / rgb wall |',
             '|---|---|' + '---|' * (len(methods) + 3)]
    for size in sizes:
        rgb, source, _ = resized_sample(frame, size, 8)
        for count in threads:
            torch.set_num_threads(count)
            cpu: Dict[str, List[float]] = {k: [] for k in methods}
            wall: Dict[str, List[float]] = {k: [] for k in methods}
            for upsampler in methods.values():
                upsampler(rgb, source)
            for _ in range(repeats):
                for name, upsampler in methods.items():
                    start_cpu, start = time.process_time(), time.perf_counter()
                    upsampler(rgb, source)
                    cpu[name].append(1000.0 * (time.process_time() - start_cpu))
                    wall[name].append(1000.0 * (time.perf_counter() - start))
            med = {k: statistics.median(v) for k, v in cpu.items()}
            med_wall = {k: statistics.median(v) for k, v in wall.items()}
            lines.append(f'| {size[0]}x{size[1]} | {count} | '
                         + ' | '.join(f'{v:.1f}' for v in med.values())
                         + f' | {med["candidate"] / med["rgb"]:.2f}'
                         + f' | {med["learned (shipped)"] / med["rgb"]:.2f}'
                         + f' | {med_wall["candidate"] / med_wall["rgb"]:.2f} |')
            print(lines[-1], file=sys.stderr, flush=True)
    return '\n'.join(lines)


def main() -> int:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', required=True, help='candidate deep_guide checkpoint')
    parser.add_argument('--shipped', default='', help='packaged learned weights to compare')
    parser.add_argument('--quick', action='store_true', help='every third RGB-D-D test frame')
    parser.add_argument('--sections', nargs='+', default=['rgbdd', 'middlebury', 'nyu', 'time'],
                        choices=['rgbdd', 'middlebury', 'nyu', 'time'])
    parser.add_argument('--only', nargs='+', default=None,
                        help='only these columns (e.g. candidate, to add a checkpoint to an '
                        'earlier table of the same frames)')
    parser.add_argument('--protocols', nargs='+', default=['block', 'bicubic'],
                        choices=['block', 'bicubic'], help='RGB-D-D input protocols')
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--sizes', nargs='+', default=['512x384', '640x480', '1280x720'],
                        help='image sizes of the time section (WIDTHxHEIGHT)')
    parser.add_argument('--time-threads', type=int, nargs='+', default=[1, 2],
                        help='torch threads of the time section')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads of the accuracy sections')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    upsamplers = {'GAD (paper)': gad_upsampler(device='cpu'),
                  'rgb': DepthUpsampler(model='rgb', device='cpu'),
                  'learned (shipped)': DepthUpsampler(model='learned', weights=args.shipped,
                                                      device='cpu'),
                  'candidate': DepthUpsampler(model='learned', weights=args.weights,
                                              device='cpu')}
    methods: Dict[str, Method] = {**BASELINES, **upsamplers}
    if args.only:
        methods = {k: v for k, v in methods.items() if k in args.only or k == 'rgb'}
    names = list(methods)
    if 'rgbdd' in args.sections:
        test = rgbdd_split(rgbdd_names())['test']
        test = test[::3] if args.quick else test
        frames = load_rgbdd(test)
        protocols = [p for p in (('block average', make_sample),
                                 ('bicubic downsampling', bicubic_sample))
                     if p[0].split()[0] in args.protocols]
        for title, sample in protocols:
            result = table(frames, methods, (4, 8, 16), sample, 0.1)
            print(f'\nRGB-D-D held-out test part ({len(frames)} frames), {title} input, '
                  'RMSE cm\n\n' + markdown(result, names, (4, 8, 16)), flush=True)
    if 'middlebury' in args.sections:
        scenes = load_scenes(middlebury_dir(), VALIDATION_SCENES)
        result = table(scenes, methods, (4, 8, 16, 32), make_sample, 1.0)
        print(f'\nMiddlebury test scenes ({len(scenes)}, view 1), block average, RMSE '
              'disparity px\n\n' + markdown(result, names, (4, 8, 16, 32)), flush=True)
    if 'nyu' in args.sections:
        frames = [f for f in load_rgbd_frames() if f.name.startswith('nyu_demo/')]
        result = table(frames, methods, (4, 8, 16), make_sample, 100.0)
        print(f'\nNYUv2 frames ({len(frames)}, 640x480, sensor depth with holes), block '
              'average, RMSE cm\n\n' + markdown(result, names, (4, 8, 16)), flush=True)
    if 'time' in args.sections:
        timed = {'candidate': upsamplers['candidate'], 'rgb': upsamplers['rgb'],
                 'learned (shipped)': upsamplers['learned (shipped)']}
        sizes = [(int(v.split('x')[0]), int(v.split('x')[1])) for v in args.sizes]
        print('\nTime of whole calls, NYUv2 frame resized, x8, alternating, medians of '
              f'{args.repeats}\n\n' + timing(timed, args.repeats, args.time_threads, sizes),
              flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
