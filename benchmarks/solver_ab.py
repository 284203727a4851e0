# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Whole ``up()`` with the pyramid solver of a git revision vs this checkout's, side by side.

Run from the repository root (with ../shared/data beside it)::

    .venv/bin/python benchmarks/solver_ab.py --revision 7f84a01 --size 1280x720 --factor 8

The solver and kernel modules of ``--revision`` are written to a temporary package and
plugged into a second ``DepthUpsampler`` (same guide, same inputs); the two and the
paper's loop (in slices of 1128 iterations, scaled to 9024) are called in turn, so all see
the same machine load. Prints medians, the ratio after / before and both speed-ups.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

from dada_ros.core import DepthUpsampler
import numpy as np
from solver_benchmark import block_average, load_scene, PAPER_ITERATIONS, rmse
import torch

SLICE = PAPER_ITERATIONS // 8


def solver_at(revision: str, folder: Path) -> type:
    """Return ``PyramidSolver`` of ``revision`` (its solver.py and kernels.py).

    Its ``solve`` drops the keywords that revision does not know (this checkout's
    ``DepthUpsampler`` may pass newer ones).
    """
    package = folder / 'solver_at_revision'
    package.mkdir()
    (package / '__init__.py').write_text('')
    for name in ('solver', 'kernels'):
        text = subprocess.run(['git', 'show', f'{revision}:dada_ros/core/{name}.py'],
                              check=True, capture_output=True, text=True).stdout
        text = text.replace('from .diffusion import', 'from dada_ros.core.diffusion import')
        (package / f'{name}.py').write_text(text)
    sys.path.insert(0, str(folder))
    base = importlib.import_module('solver_at_revision.solver').PyramidSolver
    known = inspect.signature(base.solve).parameters

    class Before(base):  # type: ignore[misc, valid-type]
        def solve(self, *args: Any, **keywords: Any) -> torch.Tensor:
            return super().solve(*args, **{k: v for k, v in keywords.items() if k in known})

    return Before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--revision', required=True, help='git revision of the "before"')
    parser.add_argument('--size', default='1280x720')
    parser.add_argument('--factor', type=int, default=8)
    parser.add_argument('--scene', default='books_big')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0 = default)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split('x'))
    rgb, gt = load_scene(args.scene, (width, height))
    low = block_average(gt, args.factor)
    with tempfile.TemporaryDirectory() as folder:
        before = DepthUpsampler(model='rgb', device='cpu')
        before._pyramid = solver_at(args.revision, Path(folder))()
        after = DepthUpsampler(model='rgb', device='cpu')
        paper = DepthUpsampler(model='rgb', device='cpu', solver='reference', iterations=SLICE)
        runs = {'before': before, 'after': after, 'paper': paper}
        for up in runs.values():  # compile and size everything first
            up(rgb, low)
        times: Dict[str, List[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name in ('before', 'after', 'paper', 'after', 'before'):
                start = time.perf_counter()
                runs[name](rgb, low)
                times[name].append((time.perf_counter() - start) * 1e3)
        median = {name: statistics.median(values) for name, values in times.items()}
        paper_ms = median['paper'] * PAPER_ITERATIONS / SLICE
        errors = {name: rmse(runs[name](rgb, low), gt) for name in ('before', 'after')}
    print(f'{args.size} x{args.factor} {args.scene}, {torch.get_num_threads()} threads, '
          f'{args.rounds} rounds: before ({args.revision}) {median["before"]:.1f} ms, after '
          f'{median["after"]:.1f} ms, after / before {median["after"] / median["before"]:.3f}; '
          f'paper loop {paper_ms:.0f} ms: {paper_ms / median["before"]:.0f}x before, '
          f'{paper_ms / median["after"]:.0f}x after; RMSE {errors["before"]:.4f} -> '
          f'{errors["after"]:.4f}')
    assert np.isfinite(list(errors.values())).all()


if __name__ == '__main__':
    main()
