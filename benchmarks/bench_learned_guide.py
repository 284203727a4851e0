# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Parameter count and CPU latency of the learned guide at 640x480.

Run from the repository root: ``python benchmarks/bench_learned_guide.py [--weights PATH]``.
Times ``LearnedGuide.coefficients`` (network + coefficients) and, for comparison, the
unlearned ``RgbGuide``, with 1 and 2 torch threads; prints the median and the minimum of
``--repeats`` runs after a warm-up. Not a test: timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import statistics
import sys
import time
from typing import Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core.guides import RgbGuide  # noqa: E402
from dada_ros.core.models import load_learned_guide, parameter_count  # noqa: E402
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


def main() -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', default='', help='checkpoint (empty = packaged)')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=640)
    args = parser.parse_args()
    guide = load_learned_guide(args.weights)
    print(f'learned guide: {parameter_count(guide)} parameters '
          f'({parameter_count(guide.feature_extractor)} in the network)')
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
