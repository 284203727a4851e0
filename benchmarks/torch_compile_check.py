# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Measure whether ``torch.compile`` pays for the solver's inner step on this machine.

Times one accelerated step (Eq. 1 stencil, Eq. 3 adjustment, momentum) at 640x480, x8:
the eager fused step of :class:`dada_ros.core.solver.PyramidSolver` against the same step
written functionally and compiled by TorchInductor. Prints compile time and ms per step
(wall and process CPU time, which is less sensitive to other load)::

    .venv/bin/python benchmarks/torch_compile_check.py --threads 2
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, Tuple

from dada_ros.core.solver import level_momentum, POSITIVE_FLOOR, PyramidSolver
import torch


def functional_step(height: int, width: int, factor: int) -> Callable[..., Tuple[torch.Tensor,
                                                                                 torch.Tensor]]:
    """Build the solver's step without out= buffers, as TorchInductor prefers it."""
    h, w = height // factor, width // factor

    def step(y: torch.Tensor, previous: torch.Tensor, w_center: torch.Tensor,
             w_vertical: torch.Tensor, w_horizontal: torch.Tensor, source: torch.Tensor,
             invalid: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        zero_row = y.new_zeros(1, width)
        zero_col = y.new_zeros(height, 1)
        out = (w_center * y
               + torch.cat([zero_row, w_vertical * y[:-1]], 0)
               + torch.cat([w_vertical * y[1:], zero_row], 0)
               + torch.cat([zero_col, w_horizontal * y[:, :-1]], 1)
               + torch.cat([w_horizontal * y[:, 1:], zero_col], 1))
        rows = out.view(h, factor, width)
        sums = rows.sum(1).view(h, w, factor).sum(2) + 1e-8 * float(factor * factor)
        block_ratio = torch.where(invalid, torch.ones_like(sums), source / sums)
        ratio = block_ratio.view(h, w, 1).expand(h, w, factor).reshape(h, width)
        x = (rows * ratio.view(h, 1, width)).view(height, width)
        return x, torch.lerp(previous, x, 1.0 + level_momentum(8)).clamp_min(POSITIVE_FLOOR)

    return step


def per_step_ms(function: Callable[[], object], steps: int) -> Tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        function()
    return ((time.perf_counter() - wall) * 1e3 / steps,
            (time.process_time() - cpu) * 1e3 / steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--steps', type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    height, width, factor = 480, 640, 8
    generator = torch.Generator().manual_seed(0)
    solver = PyramidSolver(kernel='torch')  # the eager torch step is what is compared
    initial = torch.rand(height, width, generator=generator) + 1.0
    cv = 0.5 * torch.rand(height - 1, width, generator=generator)
    ch = 0.5 * torch.rand(height, width - 1, generator=generator)
    source = torch.rand(height // factor, width // factor, generator=generator) + 1.0
    valid = torch.ones_like(source, dtype=torch.bool)
    with torch.inference_mode():
        solver.solve(initial, cv, ch, source, valid, factor, 2)
        level = solver._levels[0]
        inputs = (level.y, level.x, level.w_center, level.w_vertical, level.w_horizontal,
                  level.source_sums, level.invalid)
        start = time.perf_counter()
        compiled = torch.compile(functional_step(height, width, factor), dynamic=False,
                                 fullgraph=True)
        compiled(*inputs)
        compile_s = time.perf_counter() - start
        for name, function in (('eager fused (solver)', lambda: solver._iterate(level, 1)),
                               ('torch.compile', lambda: compiled(*inputs))):
            function()
            wall, cpu = per_step_ms(function, args.steps)
            print(f'{name:22s} {wall:6.3f} ms/step wall, {cpu:6.3f} ms/step CPU')
    print(f'compile time {compile_s:.1f} s, {args.threads} threads')


if __name__ == '__main__':
    main()
