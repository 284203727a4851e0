# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Parameter count and CPU latency of the learned guide at 640x480.

Run from the repository root: ``python benchmarks/bench_learned_guide.py [--weights PATH]``.
Times ``LearnedGuide.coefficients`` (network + coefficients) and, for comparison, the
unlearned ``RgbGuide``, with 1 and 2 torch threads; prints the median and the minimum of
``--repeats`` runs after a warm-up. ``--whole`` instead times the whole
``DepthUpsampler.up`` call of ``model='learned'`` and ``model='rgb'`` alternately on a real
640x480 RGB-D frame (NYUv2 from ``../shared``, x8 block-average input) and prints the ratio
of the medians, the CPU budget of issue 12 (<= 1.5). Not a test: timings depend on the
machine's load; the alternation makes the ratio robust to it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import sys
import time
from typing import Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core import DepthUpsampler  # noqa: E402
from dada_ros.core.guides import RgbGuide  # noqa: E402
from dada_ros.core.models import LearnedGuide, load_learned_guide  # noqa: E402
from dada_ros.training.builders import parameter_count  # noqa: E402
from dada_ros.training.datasets import load_rgbd_frames, make_sample  # noqa: E402
import torch  # noqa: E402


def timings(fn: Callable[[], object], repeats: int) -> List[float]:
    """Wall times in ms of ``repeats`` calls after two warm-up calls."""
    fn()
    fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(1000.0 * (time.perf_counter() - start))
    return out


def whole_call_ratio(weights: str, repeats: int, threads: List[int]) -> int:
    """Print median whole-call times of learned and rgb and their ratio, per thread count."""
    rgb, source, _ = make_sample(load_rgbd_frames()[0], 8)
    learned = DepthUpsampler(model='learned', weights=weights, device='cpu')
    plain = DepthUpsampler(model='rgb', device='cpu')
    for count in threads:
        torch.set_num_threads(count)
        times: dict = {'learned': [], 'rgb': []}
        for _ in range(2):
            learned.up(rgb, source)
            plain.up(rgb, source)
        for _ in range(repeats):
            for name, upsampler in (('learned', learned), ('rgb', plain)):
                start = time.perf_counter()
                upsampler.up(rgb, source)
                times[name].append(1000.0 * (time.perf_counter() - start))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f'threads={count}: learned {med["learned"]:.1f} ms, rgb {med["rgb"]:.1f} ms '
              f'(medians of {repeats}), ratio {med["learned"] / med["rgb"]:.2f}', flush=True)
    return 0


def main() -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', default='', help='checkpoint (empty = packaged)')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--whole', action='store_true',
                        help='time whole up() calls of learned vs rgb, alternately')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    args = parser.parse_args()
    if args.whole:
        return whole_call_ratio(args.weights, args.repeats, args.threads)
    guide = load_learned_guide(args.weights)
    network = guide.feature_extractor if isinstance(guide, LearnedGuide) else guide
    print(f'learned guide ({guide.arch}): {parameter_count(guide)} parameters '
          f'({parameter_count(network)} in the network)')
    gen = torch.Generator().manual_seed(0)
    rgb = torch.randn(1, 3, args.height, args.width, generator=gen)
    initial = 0.5 + torch.rand(1, 1, args.height, args.width, generator=gen)
    rgb_guide = RgbGuide()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.inference_mode():
            for name, fn in (('learned', lambda: guide.coefficients(rgb, initial)),
                             ('rgb', lambda: rgb_guide.coefficients(rgb, initial))):
                t = timings(fn, args.repeats)
                print(f'{name:8s} {args.width}x{args.height} threads={threads}: median '
                      f'{statistics.median(t):.1f} ms, min {min(t):.1f} ms', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
