# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Accelerated DADA iteration for a non-integer size ratio (fractional footprints).

The same scheme as :class:`dada_ros.core.solver.PyramidSolver` (coarse-to-fine levels,
step ``rate = 1/8``, heavy-ball momentum, fixed budget) with Eq. 3 taken on the fractional
footprints of :mod:`dada_ros.core.footprints`: ``x = z / spread(m)``.

* **The multipliers are part of the state.** The exact adjustment finds ``m`` by a
  fixed-point iteration on the low-resolution grid; inside the solver each step makes one
  update of ``m`` (measured on its own answer) instead of iterating it out. ``(x, m)`` is
  stationary exactly when the area-weighted means equal the source and ``x = D(x) /
  spread(m)``, i.e. at the fixed point of the paper's iteration with exact footprint
  means (see :mod:`dada_ros.core.footprints`: that set does not depend on the step). The
  last step of the finest level is an exact adjustment, so the means hold to float
  rounding whatever the budget.
* **Levels.** Level ``l`` halves the image (``pyramid_inputs``: resistor-network
  coefficients, averaged start) while the sides stay even and the footprint stays at least
  :data:`MIN_LEVEL_RATIO` pixels wide; the low-resolution grid is the same at every level,
  so every level has fractional footprints of ratio ``r / 2**l``.
* **Step.** The eager torch step (Eq. 1 as five multiply-adds, the footprint sums and
  spread as small batched products); the compiled kernel of :mod:`dada_ros.core.kernels`
  serves integer ratios only.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from .diffusion import EPS
from .footprints import (Footprints, harmonic_adjust, largest_error, sum_ratios,
                         update_multipliers)
from .solver import (ACCELERATED_RATE, CANCEL_POLL_STEPS, check_cancel, level_iterations,
                     level_momentum, MOMENTUM_SCALE, POSITIVE_FLOOR, pyramid_inputs,
                     stencil_views)

#: A coarser level is used while its footprints stay at least this many pixels wide.
MIN_LEVEL_RATIO = 2.0
#: Multiplier updates of the adjustment that starts a level.
START_UPDATES = 4


def fractional_levels(height: int, width: int, low_shape: Tuple[int, int]) -> List[float]:
    """Size ratios of the levels, fine to coarse: halve while even and wide enough."""
    h, w = low_shape
    ratios = [math.sqrt(height * width / float(h * w))]
    while height % 2 == 0 and width % 2 == 0 and ratios[-1] / 2.0 >= MIN_LEVEL_RATIO \
            and height // 2 >= h and width // 2 >= w:
        height, width = height // 2, width // 2
        ratios.append(ratios[-1] / 2.0)
    return ratios


def is_integer_ratio(fine_shape: Tuple[int, ...], low_shape: Tuple[int, ...]) -> bool:
    """Whether ``(H, W)`` is ``(h, w)`` times one integer (the paper's whole blocks)."""
    big_h, big_w = fine_shape[-2:]
    h, w = low_shape[-2:]
    return big_h % h == 0 and big_w % w == 0 and big_h // h == big_w // w


class FractionalSolver:
    """Coarse-to-fine, momentum-accelerated DADA iteration on fractional footprints.

    ``solve`` has the signature of :meth:`dada_ros.core.solver.PyramidSolver.solve`; the
    geometry comes from the shapes of ``initial`` and ``source``.
    """

    def __init__(self, rate: float = ACCELERATED_RATE) -> None:
        if not 0.0 < rate <= 0.125:
            raise ValueError(f'rate must be in (0, 1/8] for a stable accelerated step, got {rate}')
        self.rate = rate
        self._footprints: Dict[Tuple[object, ...], Footprints] = {}

    def footprints(self, fine_shape: Tuple[int, int], low_shape: Tuple[int, int],
                   device: torch.device) -> Footprints:
        """Return the geometry of one level (made once per size)."""
        key = (fine_shape, low_shape, device)
        if key not in self._footprints:
            if len(self._footprints) > 16:  # sizes come and go: keep the cache small
                self._footprints.clear()
            self._footprints[key] = Footprints(fine_shape, low_shape, device)
        return self._footprints[key]

    def _diffuse(self, image: torch.Tensor, weights: Tuple[torch.Tensor, torch.Tensor,
                                                           torch.Tensor]) -> torch.Tensor:
        """Eq. 1 as a 5-point stencil: ``w_c * image + sum of weighted neighbours``."""
        center, vertical, horizontal = weights
        out = center * image
        for destination, weight, neighbour in stencil_views(out, image, vertical, horizontal):
            destination.addcmul_(weight, neighbour)
        return out

    def _weights(self, cv: torch.Tensor, ch: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        vertical, horizontal = cv * self.rate, ch * self.rate
        center = torch.ones(ch.shape[0], cv.shape[1], device=cv.device)
        center[1:, :] -= vertical
        center[:-1, :] -= vertical
        center[:, 1:] -= horizontal
        center[:, :-1] -= horizontal
        return center, vertical, horizontal

    def _iterate(self, x: torch.Tensor, m: torch.Tensor, weights: Tuple[torch.Tensor, ...],
                 target: torch.Tensor, invalid: torch.Tensor, footprints: Footprints,
                 steps: int, momentum: float, cancel: Optional[Callable[[], bool]]
                 ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Run ``steps`` accelerated steps from ``x``; returns the last diffused ``z`` and ``x``.

        Each step makes one update of ``m`` (in place), measured on ``z`` divided by the
        previous blend, and divides ``z`` by the new blend. (Measuring on the step's own
        answer instead, one update behind, lets the update act like an integrator that
        heavy-ball momentum drives unstable.) Six image-sized buffers are made once per
        call and reused by every step: fresh ones cost page faults.
        """
        center, vertical, horizontal = weights
        diffused, measured, blend, extrapolated = (torch.empty_like(x) for _ in range(4))
        pair = [x.clone(), torch.empty_like(x)]  # previous and current answers
        extrapolated.copy_(x)
        footprints.spread(m, out=blend)
        views = stencil_views(diffused, extrapolated, vertical, horizontal)
        current = 0
        for step in range(steps):
            if cancel is not None and step % CANCEL_POLL_STEPS == CANCEL_POLL_STEPS - 1:
                check_cancel(cancel)
            torch.mul(center, extrapolated, out=diffused)                          # Eq. 1
            for destination, weight, neighbour in views:
                destination.addcmul_(weight, neighbour)
            # Eq. 3: one multiplier update, then z / spread(m)
            torch.div(diffused, blend, out=measured)
            update_multipliers(m, sum_ratios(measured, target, invalid, footprints, EPS),
                               footprints)
            footprints.spread(m, out=blend)
            previous, current = pair[current], 1 - current
            torch.div(diffused, blend, out=pair[current])
            # y_k+1 = x_k+1 + momentum * (x_k+1 - x_k), kept positive for Eq. 3
            torch.lerp(previous, pair[current], 1.0 + momentum, out=extrapolated)
            extrapolated.clamp_(min=POSITIVE_FLOOR)
        return diffused, pair[current]

    def solve(self, initial: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor,
              source: torch.Tensor, valid: torch.Tensor, factor: float,
              iterations: int, cancel: Optional[Callable[[], bool]] = None,
              warm_start: bool = False,
              momentum_scale: float = MOMENTUM_SCALE) -> torch.Tensor:
        """Run the fixed budget and return a new ``(H, W)`` tensor.

        Args:
            initial: ``(H, W)`` float32 positive initial estimate (not modified); with
                ``warm_start`` a first answer whose detail must survive (see
                :meth:`dada_ros.core.solver.PyramidSolver.solve`).
            cv: ``(H-1, W)`` vertical coefficients in (0, 1].
            ch: ``(H, W-1)`` horizontal coefficients in (0, 1].
            source: ``(h, w)`` positive source depth (any value where invalid), the same
                field of view as ``initial``: ``H / h = W / w``, any ratio >= 1.
            valid: ``(h, w)`` bool.
            factor: the size ratio ``H / h`` (checked against the shapes).
            iterations: steps at the finest level (half at every coarser one).
            cancel: polled between levels and every few steps; raises
                :class:`~dada_ros.core.diffusion.SolveCancelled` when it returns True.
            warm_start: start every level from its average of ``initial`` plus the upsampled
                correction of the coarser level.
            momentum_scale: ``a`` of :func:`dada_ros.core.solver.level_momentum`.

        Returns:
            ``(H, W)``; area-weighted footprint means equal the source where it is valid.
        """
        height, width = initial.shape
        low_shape = (int(source.shape[0]), int(source.shape[1]))
        if cv.shape != (height - 1, width) or ch.shape != (height, width - 1) \
                or valid.shape != source.shape or source.dim() != 2:
            raise ValueError(f'inconsistent shapes: initial {tuple(initial.shape)}, cv '
                             f'{tuple(cv.shape)}, ch {tuple(ch.shape)}, source '
                             f'{tuple(source.shape)}, valid {tuple(valid.shape)}')
        if abs(factor - height / low_shape[0]) > 1e-6 * factor:
            raise ValueError(f'factor {factor} does not match {height}x{width} over '
                             f'{low_shape[0]}x{low_shape[1]}')
        ratios = fractional_levels(height, width, low_shape)
        cvs, chs, inits = pyramid_inputs(initial[None, None], cv[None, None], ch[None, None],
                                         len(ratios))
        target = torch.where(valid, source, torch.ones_like(source))
        invalid = ~valid
        coarser: Optional[torch.Tensor] = None
        result: Optional[torch.Tensor] = None
        for index in reversed(range(len(ratios))):
            check_cancel(cancel)
            start = inits[index][0, 0]
            footprints = self.footprints((start.shape[0], start.shape[1]), low_shape,
                                         initial.device)
            if coarser is None:
                x = start
            else:
                x = F.interpolate(coarser[None, None], scale_factor=2, mode='bilinear',
                                  align_corners=False)[0, 0]
                if warm_start:
                    x = (x + start).clamp_(min=POSITIVE_FLOOR)
            # a few updates suffice at the start: every step makes one more
            x, m, _ = harmonic_adjust(x, source, valid, footprints, EPS,
                                      max_iterations=START_UPDATES)
            weights = self._weights(cvs[index][0, 0], chs[index][0, 0])
            diffused, x = self._iterate(
                x, m, weights, target * footprints.area, invalid, footprints,
                level_iterations(iterations, index),
                level_momentum(ratios[index], momentum_scale), cancel)
            if index == 0:  # the last operation: Eq. 3 with exact means
                result, _, _ = harmonic_adjust(diffused, source, valid, footprints, EPS, m)
            coarser = x - start if warm_start else x
        assert result is not None
        return result


def footprint_errors(image: torch.Tensor, source: torch.Tensor, valid: torch.Tensor) -> float:
    """Largest relative error of the area-weighted footprint means of ``image (H, W)``."""
    footprints = Footprints((image.shape[-2], image.shape[-1]),
                            (source.shape[-2], source.shape[-1]), image.device)
    target = torch.where(valid, source, torch.ones_like(source)) * footprints.area
    return largest_error(sum_ratios(image, target, ~valid, footprints, 0.0))
