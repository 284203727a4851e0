# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Choose the depth weight of the unlearned guide on the 640x480 RGB-D frames of ../shared.

Run from the repository root (with ../shared/data beside it)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/guide_depth_weight.py

For each candidate depth channel (``mean``: depth / mean, the former ``model: rgb``;
``std xW``: W * depth / std, W = 1 is the paper's GAD) it runs the deployed pyramid solver
at the default budget and at a converged budget on the frames of
:data:`dada_ros.training.datasets.RGBD_FRAMES` (NYUv2, TUM, SUN RGB-D, ICL-NUIM; no Middlebury
test scene) at x4, x8, x16, with the block average of the depth as input, and prints the
mean RMSE relative to GAD (< 1 = better) per factor and budget.
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from dada_ros.core import DepthUpsampler
from dada_ros.core.diffusion import coefficients, K_DEFAULT
from dada_ros.core.guides import Guide, RgbGuide
from dada_ros.training.datasets import (errors, load_rgbd_frames, load_scenes, make_sample,
                                        training_scene_names)
import numpy as np
import torch


class MeanNormalisedGuide:
    """The former ``model: rgb``: RGB + depth / mean(depth) (kept only for this comparison)."""

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Coefficients of ``[rgb, initial]`` (``initial`` has a mean of about one)."""
        return coefficients(torch.cat([rgb, initial], 1), K_DEFAULT)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', type=float, nargs='+', default=[0.5, 1, 1.5, 2, 3, 4])
    parser.add_argument('--factors', type=int, nargs='+', default=[4, 8, 16])
    parser.add_argument('--converged', type=int, default=1024,
                        help='budget taken as converged (pyramid solver)')
    parser.add_argument('--converged-weights', type=float, nargs='*', default=[1.0],
                        help='weights (and the mean guide) also run at --converged')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--frames', choices=('rgbd', 'middlebury'), default='rgbd',
                        help="'rgbd': the 640x480 RGB-D frames; 'middlebury': the Middlebury "
                        'training scenes (view 1; never the held-out test scenes), a check')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    frames = load_rgbd_frames() if args.frames == 'rgbd' \
        else load_scenes(names=training_scene_names())
    guides: Dict[str, Guide] = {'mean': MeanNormalisedGuide()}
    weights = sorted(set(args.weights) | {1.0})  # 1 = GAD, the reference of the table
    guides.update({f'std x{w:g}': RgbGuide(depth_weight=w) for w in weights})
    budgets = {'default': None, f'x{args.converged}': args.converged}
    rmse: Dict[Tuple[str, str, int], List[float]] = {}
    for factor in args.factors:
        samples = [make_sample(frame, factor) for frame in frames]
        for name, guide in guides.items():
            for budget, iterations in budgets.items():
                if iterations is not None and name != 'mean' and not any(
                        name == f'std x{w:g}' for w in args.converged_weights):
                    continue
                upsampler = DepthUpsampler(model='rgb', device='cpu', guide=guide)
                if iterations is not None:
                    upsampler.iterations = iterations
                rmse[(name, budget, factor)] = [
                    errors(upsampler.up(rgb, np.nan_to_num(source, nan=0.0)), gt)[0]
                    for rgb, source, gt in samples]
                print(name, budget, factor, np.round(rmse[(name, budget, factor)], 4)[:6],
                      flush=True)
    print(f'frames: {", ".join(f.name for f in frames)}')
    print('mean over frames of RMSE / RMSE of GAD (std x1) at the same budget')
    header = ' '.join(f'{b}:x{f}' for f in args.factors for b in budgets)
    print(f'{"guide":10s} {header}')
    for name in guides:
        cells = []
        for factor in args.factors:
            for budget in budgets:
                if (name, budget, factor) not in rmse:
                    cells.append('   -  ')
                    continue
                ratio = np.mean(np.array(rmse[(name, budget, factor)])
                                / np.array(rmse[('std x1', budget, factor)]))
                cells.append(f'{ratio:.4f}')
        print(f'{name:10s} ' + ' '.join(cells))
    print('default budget vs converged (own), mean ratio:')
    for name in (n for n in guides if (n, f'x{args.converged}', args.factors[0]) in rmse):
        converged = f'x{args.converged}'
        cells = [f'{np.mean(np.array(rmse[(name, "default", f)]) / np.array(rmse[(name, converged, f)])):.4f}'  # noqa: E501
                 for f in args.factors]
        print(f'{name:10s} ' + ' '.join(cells))
    return 0


if __name__ == '__main__':
    sys.exit(main())
