# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Autograd-friendly twin of the run-time pyramid solver, for training only.

:func:`solve_differentiable` runs the same levels, coarsening, budget, momentum and
positivity floor as :meth:`dada_ros.core.solver.PyramidSolver.solve` with plain
out-of-place operations, so a loss on its answer reaches the coefficients of every level.
It allocates per step; the node and the API use :class:`~dada_ros.core.solver.PyramidSolver`.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ..core.diffusion import adjust_step, diffuse_step
from ..core.solver import (ACCELERATED_RATE, half_budget_factors, level_factors,
                           level_iterations, level_momentum, MOMENTUM_SCALE, POSITIVE_FLOOR,
                           pyramid_inputs)

__all__ = ['solve_differentiable']


def solve_differentiable(initial: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor,
                         source: torch.Tensor, valid: torch.Tensor, factor: int,
                         iterations: int, rate: float = ACCELERATED_RATE,
                         momentum: Optional[float] = None,
                         warm_start: bool = False,
                         momentum_scale: float = MOMENTUM_SCALE,
                         half_budget: bool = True) -> torch.Tensor:
    """Batched, autograd-friendly twin of :meth:`PyramidSolver.solve` (used for training).

    Same levels, coarsening, budget, momentum and positivity floor, written with plain
    out-of-place operations, so the loss reaches the coefficients of every level: the
    coarse levels carry the long-range part of the answer (see the module docstring) and
    training through them teaches the network what the deployed solver does with its
    features. It allocates per step: use :class:`PyramidSolver` for inference.

    Args:
        initial: ``(B, 1, H, W)`` positive initial estimate.
        cv: ``(B, 1, H-1, W)`` and ``ch``: ``(B, 1, H, W-1)`` coefficients in (0, 1].
        source: ``(B, 1, H/f, W/f)`` positive source (any value where invalid).
        valid: ``(B, 1, H/f, W/f)`` bool.
        factor: integer block factor f.
        iterations: the budget (:func:`level_iterations` gives each level's steps).
        warm_start: start every level from its average of ``initial`` plus the upsampled
            correction of the coarser level (see :meth:`PyramidSolver.solve`).
        momentum_scale: ``a`` of :func:`level_momentum` (when ``momentum`` is None).
        half_budget: as in :meth:`PyramidSolver.solve`.

    Returns:
        ``(B, 1, H, W)``; block means equal the source where it is valid.
    """
    if initial.dim() != 4 or initial.shape[1] != 1:
        raise ValueError(f'initial must be (B, 1, H, W), got {tuple(initial.shape)}')
    height, width = initial.shape[-2:]
    factors = level_factors(height, width, factor)
    halved = half_budget_factors(height, width) if half_budget else ()
    cvs, chs, inits = pyramid_inputs(initial, cv, ch, len(factors))
    any_invalid = bool((~valid).any())
    estimate: Optional[torch.Tensor] = None
    for index in reversed(range(len(factors))):
        level_factor = factors[index]
        if estimate is None:
            estimate = inits[index]
        else:
            estimate = F.interpolate(estimate, scale_factor=2, mode='bilinear',
                                     align_corners=False)
            if warm_start:
                estimate = (estimate + inits[index]).clamp_min(POSITIVE_FLOOR)
        estimate = adjust_step(estimate, source, valid, level_factor)
        # At block factor 1 the adjustment alone pins every pixel (as in PyramidSolver.solve)
        steps = level_iterations(iterations, index, level_factor, halved) \
            if level_factor > 1 or any_invalid else 0
        beta = momentum if momentum is not None else level_momentum(level_factor,
                                                                    momentum_scale)
        extrapolated = estimate
        for _ in range(steps):
            # x_k+1 = Eq. 3 (Eq. 1 (y_k)); y_k+1 = x_k+1 + momentum (x_k+1 - x_k), positive
            current = adjust_step(diffuse_step(extrapolated, cvs[index], chs[index], rate),
                                  source, valid, level_factor)
            extrapolated = (current + beta * (current - estimate)).clamp_min(
                POSITIVE_FLOOR)
            estimate = current
        if warm_start and index > 0:
            estimate = estimate - inits[index]  # the correction this level made
    assert estimate is not None
    return estimate
