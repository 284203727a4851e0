# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_eval``: RMSE and MAE per factor of DADA and classical baselines on real scenes.

``python -m dada_ros.training.evaluate`` evaluates on the held-out Middlebury scenes
(:data:`dada_ros.training.datasets.VALIDATION_SCENES`, view 1) at x4/x8/x16/x32: bicubic,
guided filter, fast global smoother (parameters tuned on the training scenes), the paper's
unlearned guided anisotropic diffusion (GAD: RGB + depth / std, :class:`GadGuide`),
unlearned DADA (``model='rgb'``), learned DADA, all three at the default budget and, with
``--full-budget``, also with the paper's budget (``solver='reference'``,
``iterations=9024``; about 4 s per image and factor each). Errors are in disparity units
(FullSize px) on the top-left crop divisible by the factor, over the known ground-truth
pixels; the low-resolution input is the block average ignoring unknown pixels.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .baselines import BASELINES
from .datasets import (errors, FACTORS, list_scenes, load_scenes, make_sample, middlebury_dir,
                       Scene, VALIDATION_SCENES)
from ..core.guides import GadGuide
from ..core.upsampler import DepthUpsampler

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: The paper's full budget: 8000 gradient-free + 1024 steps.
FULL_BUDGET = 9024


def gad_upsampler(**params: Any) -> DepthUpsampler:
    """Return a ``DepthUpsampler`` with the paper's GAD features (:class:`GadGuide`)."""
    return DepthUpsampler.from_params({'model': 'rgb', **params}, guide=GadGuide())


def methods(weights: str, full_budget: bool, device: str,
            include: Optional[Sequence[str]] = None) -> Dict[str, Method]:
    """Return the methods to compare, by display name."""
    table: Dict[str, Method] = dict(BASELINES)
    table['GAD (paper)'] = gad_upsampler(device=device).up
    table['DADA rgb'] = DepthUpsampler(model='rgb', device=device).up
    table['DADA learned'] = DepthUpsampler(model='learned', weights=weights, device=device).up
    if full_budget:
        reference = {'device': device, 'solver': 'reference', 'iterations': FULL_BUDGET}
        table[f'GAD (paper), reference x{FULL_BUDGET}'] = gad_upsampler(**reference).up
        table[f'DADA rgb, reference x{FULL_BUDGET}'] = DepthUpsampler.from_params(
            {'model': 'rgb', **reference}).up
        table[f'DADA learned, reference x{FULL_BUDGET}'] = DepthUpsampler.from_params(
            {'model': 'learned', 'weights': weights, **reference}).up
    if include:
        table = {k: v for k, v in table.items() if k in include}
    return table


def evaluate(scenes: Sequence[Scene], table: Dict[str, Method],
             factors: Sequence[int]) -> Dict[Tuple[str, int], Tuple[float, float]]:
    """Mean RMSE and MAE over ``scenes`` for every method and factor."""
    result: Dict[Tuple[str, int], Tuple[float, float]] = {}
    for factor in factors:
        samples = [make_sample(scene, factor) for scene in scenes]
        for name, method in table.items():
            rmse: List[float] = []
            mae: List[float] = []
            for rgb, source, gt in samples:
                r, m = errors(method(rgb, source), gt)
                rmse.append(r)
                mae.append(m)
            result[(name, factor)] = (float(np.mean(rmse)), float(np.mean(mae)))
    return result


def markdown(result: Dict[Tuple[str, int], Tuple[float, float]], factors: Sequence[int],
             names: Sequence[str]) -> str:
    """Format a markdown table: one row per method, ``RMSE / MAE`` per factor."""
    header = '| method | ' + ' | '.join(f'x{f} RMSE / MAE' for f in factors) + ' |'
    lines = [header, '|---|' + '---|' * len(factors)]
    for name in names:
        cells = [f'{result[(name, f)][0]:.3f} / {result[(name, f)][1]:.3f}' for f in factors]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog='dada_eval', description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=None,
                        help='folder of scenes in the Middlebury layout (<Scene>/view1.png, '
                        'disp1.png); default ../shared/data/middlebury_2005_2006_thirdsize')
    parser.add_argument('--scenes', nargs='*', default=None,
                        help='scene names (default: the held-out validation scenes when '
                        'they exist in --data, else every scene)')
    parser.add_argument('--factors', type=int, nargs='+', default=list(FACTORS))
    parser.add_argument('--weights', default='', help='learned weights (empty = packaged)')
    parser.add_argument('--full-budget', action=argparse.BooleanOptionalAction, default=True,
                        help=f'also run GAD and both DADA guides with the reference solver '
                        f'x{FULL_BUDGET}')
    parser.add_argument('--methods', nargs='*', default=None, help='only these methods')
    parser.add_argument('--markdown', type=Path, default=None, help='also write the table here')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=1)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print the table; returns the exit code."""
    args = parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    root = args.data or middlebury_dir()
    names = args.scenes
    if not names:
        available = list_scenes(root)
        names = [n for n in VALIDATION_SCENES if n in available] or available
    scenes = load_scenes(root, names)
    table = methods(args.weights, args.full_budget, args.device, args.methods)
    result = evaluate(scenes, table, args.factors)
    text = (f'Scenes ({len(scenes)}): {", ".join(s.name for s in scenes)}; errors in the '
            'units of the ground truth (mean over scenes).\n\n'
            + markdown(result, args.factors, list(table)))
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
