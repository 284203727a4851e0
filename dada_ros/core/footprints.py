# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Footprints of low-resolution pixels at any size ratio, and Eq. 3 on them.

When the RGB image is ``H x W`` and the depth of the same field of view ``h x w``, depth
pixel ``(i, j)`` covers the rectangle ``[i H/h, (i+1) H/h) x [j W/w, (j+1) W/w)`` of the RGB
image. With an integer ratio that is a block of whole pixels (the paper's setting); with a
ratio such as 8/3 or 7.5 the rectangle has fractional edges, and an RGB pixel on such an
edge lies partly in two (or, at a corner, four) footprints.

Weights. Along one axis, pixel ``p = [p, p+1)`` overlaps footprint ``i`` by the length
``alpha[p, i]`` (in pixels; ``sum_i alpha[p, i] = 1`` and ``sum_p alpha[p, i] = H/h``); a pixel
overlaps at most two footprints because ``H/h >= 1``. Pixel ``(p, q)`` overlaps footprint
``(i, j)`` by the area ``a = alpha[p, i] * beta[q, j]``, so the area-weighted sum over every
footprint is the separable product ``alpha^T X beta`` (:meth:`Footprints.sums`) and its
transpose spreads per-footprint values back to pixels (:meth:`Footprints.spread`). Both
are computed with two weighted passes per axis, never with dense matrices.

Eq. 3 on footprints. The paper rescales every block by ``source / mean``. With shared
pixels one factor per footprint cannot make every mean exact, so the adjustment is
``x = z / spread(m)``: each pixel is divided by the area-weighted blend of per-footprint
multipliers ``m``, chosen so that every valid footprint's area-weighted mean of ``x`` equals
its source (:func:`harmonic_adjust`, a multiplicative fixed-point iteration on the small
grid). Blending the reciprocal ``1/s`` rather than ``s`` is what keeps the fixed point of
the whole DADA iteration independent of the step size, as in the paper's setting: at a
fixed point ``x = (x + rate L x) / spread(m)``, i.e. ``L x = x * spread((m - 1) / rate)``,
a blend of one constant per footprint whatever the rate, so the accelerated solver
(:mod:`dada_ros.core.fractional`) may use its own step and momentum. With an integer ratio
no pixel is shared, ``m = mean / source`` per block and this is exactly the paper's Eq. 3.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Optional, Tuple

import torch

#: Largest relative error of a footprint mean that :func:`harmonic_adjust` accepts.
ADJUST_TOLERANCE = 1e-6
#: Most multiplier updates of one exact adjustment (it converges in a few at ratios >= 2).
ADJUST_MAX_ITERATIONS = 200


#: Longest period (footprints) handled by the dense periodic pattern; longer: index_add.
MAX_PATTERN_FOOTPRINTS = 32


@dataclass(frozen=True)
class AxisWeights:
    """Overlaps of ``fine`` pixels with ``coarse`` footprints along one axis.

    ``first (fine,)`` long: the footprint a pixel starts in; ``second (fine,)``: the next one
    (clamped to the last footprint where the pixel lies inside ``first``); ``weight (fine,)``
    float32: the overlap with ``first`` in pixels, ``rest = 1 - weight`` that with
    ``second``; ``extent``: pixels per footprint, ``fine / coarse``. The layout repeats every
    ``period`` pixels (``fine / gcd``), which hold ``coarse / gcd`` footprints; ``pattern``
    ``(coarse / gcd, period)`` is that repeating block of overlaps (None when too long), so
    sums and spreads are batched products with it.
    """

    first: torch.Tensor
    second: torch.Tensor
    weight: torch.Tensor
    rest: torch.Tensor
    coarse: int
    extent: float
    self_fraction: float
    pattern: Optional[torch.Tensor]


def axis_weights(fine: int, coarse: int, device: torch.device) -> AxisWeights:
    """Exact overlaps of ``fine`` unit pixels with ``coarse`` equal footprints (integers).

    Footprint ``i`` spans ``[i fine / coarse, (i + 1) fine / coarse)``; the overlaps are
    computed in integer arithmetic (units of ``1 / coarse`` pixel) and are exact rationals.

    Raises:
        ValueError: ``coarse`` is not in ``[1, fine]``.
    """
    if not 1 <= coarse <= fine:
        raise ValueError(f'{coarse} footprints do not fit {fine} pixels (need 1 <= {coarse} '
                         f'<= {fine})')
    pixels = torch.arange(fine, dtype=torch.int64)
    first = pixels * coarse // fine
    # overlap with ``first`` in units of 1/coarse pixel: min(end of pixel, end of footprint)
    ends = torch.minimum((pixels + 1) * coarse, (first + 1) * fine)
    weight = (ends - pixels * coarse).double() / coarse
    second = torch.clamp(first + 1, max=coarse - 1)
    # sum over each footprint of its squared overlaps, over its extent: 1 without sharing
    squares = torch.zeros(coarse, dtype=torch.float64)
    squares.index_add_(0, first, weight * weight)
    squares.index_add_(0, second, (1.0 - weight) ** 2)
    self_fraction = float(squares.min()) * coarse / fine
    divisor = math.gcd(fine, coarse)
    period, count = fine // divisor, coarse // divisor
    pattern = None
    if count <= MAX_PATTERN_FOOTPRINTS:
        dense = torch.zeros(count, period, dtype=torch.float64)
        columns = torch.arange(period)
        dense[first[:period], columns] += weight[:period]
        # the second footprint of the period's last pixel is the next period's first
        inside = second[:period] < count
        dense[second[:period][inside], columns[inside]] += (1.0 - weight[:period])[inside]
        pattern = dense.float().to(device)
    return AxisWeights(first.to(device), second.to(device), weight.float().to(device),
                       (1.0 - weight).float().to(device), coarse, fine / coarse,
                       self_fraction, pattern)


class Footprints:
    """Area weights between an ``(H, W)`` image and the ``(h, w)`` grid of the same view.

    Args:
        fine_shape: ``(H, W)``.
        coarse_shape: ``(h, w)`` with ``1 <= h <= H`` and ``1 <= w <= W``.
        device: where the weights live.
    """

    def __init__(self, fine_shape: Tuple[int, int], coarse_shape: Tuple[int, int],
                 device: torch.device) -> None:
        self.fine_shape = (int(fine_shape[0]), int(fine_shape[1]))
        self.coarse_shape = (int(coarse_shape[0]), int(coarse_shape[1]))
        self.rows = axis_weights(self.fine_shape[0], self.coarse_shape[0], device)
        self.cols = axis_weights(self.fine_shape[1], self.coarse_shape[1], device)
        #: Pixels per footprint (area), ``(H / h) (W / w)``.
        self.area = self.rows.extent * self.cols.extent
        #: Smallest share of a footprint's weight that stays in it (1 without sharing).
        self.self_fraction = self.rows.self_fraction * self.cols.self_fraction

    @property
    def integer(self) -> bool:
        """Whether no pixel is shared (both ratios are integers)."""
        return self.fine_shape[0] % self.coarse_shape[0] == 0 and \
            self.fine_shape[1] % self.coarse_shape[1] == 0

    def sums(self, image: torch.Tensor) -> torch.Tensor:
        """Area-weighted sums ``(..., h, w)`` of ``image (..., H, W)`` over every footprint."""
        return _axis_sums(_axis_sums(image, self.rows, -2), self.cols, -1)

    def means(self, image: torch.Tensor) -> torch.Tensor:
        """Area-weighted means ``(..., h, w)`` of ``image (..., H, W)`` over every footprint."""
        return self.sums(image) / self.area

    def spread(self, values: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Per-footprint ``values (..., h, w)`` blended onto pixels by overlap: ``(..., H, W)``.

        Pixel ``p`` gets ``sum_b a_pb values_b`` with ``a_pb`` its overlap fraction with
        footprint ``b`` (the fractions of one pixel add up to 1). ``out``: a contiguous
        ``(H, W)`` buffer to write into (no image-sized allocation per call).
        """
        by_cols = _axis_spread(values, self.cols, -1)
        pattern = self.rows.pattern
        if out is None or pattern is None or values.dim() != 2:
            result = _axis_spread(by_cols, self.rows, -2)
            return result if out is None else out.copy_(result)
        count, period = pattern.shape
        blocks = by_cols.view(-1, count, by_cols.shape[-1])
        torch.matmul(pattern.t(), blocks, out=out.view(-1, period, out.shape[-1]))
        return out

    def damping(self) -> float:
        """Exponent of the multiplier update of :func:`harmonic_adjust` (1 = undamped).

        The update is a Jacobi iteration whose off-diagonal share is at most
        ``g = (1 - d) / d`` with ``d`` :attr:`self_fraction`; it contracts for ``g < 1``
        (every ratio >= 2) and needs damping ``< 2 / (1 + g)`` otherwise.
        """
        share = (1.0 - self.self_fraction) / self.self_fraction
        return 1.0 if share < 0.9 else 1.8 / (1.0 + share)


def _axis_sums(image: torch.Tensor, axis: AxisWeights, dim: int) -> torch.Tensor:
    """Sum ``image`` along ``dim`` (-2 or -1) over every footprint of ``axis``, weighted."""
    if axis.pattern is not None:
        count, period = axis.pattern.shape
        if dim == -1:  # (..., R, k * period) -> (..., R, k, period) @ pattern^T
            size = image.shape[-1]
            blocks = image.reshape(*image.shape[:-1], size // period, period)
            return torch.matmul(blocks, axis.pattern.t()).reshape(*image.shape[:-1], -1)
        size, cols = image.shape[-2], image.shape[-1]
        blocks = image.reshape(*image.shape[:-2], size // period, period, cols)
        return torch.matmul(axis.pattern, blocks).reshape(*image.shape[:-2], -1, cols)
    shape = list(image.shape)
    shape[dim] = axis.coarse
    out = image.new_zeros(shape)
    view = (-1, 1) if dim == -2 else (-1,)
    out.index_add_(dim, axis.first, image * axis.weight.view(view))
    out.index_add_(dim, axis.second, image * axis.rest.view(view))
    return out


def _axis_spread(values: torch.Tensor, axis: AxisWeights, dim: int) -> torch.Tensor:
    """Transpose of :func:`_axis_sums`: blend per-footprint ``values`` onto pixels."""
    if axis.pattern is not None:
        count, period = axis.pattern.shape
        if dim == -1:
            size = values.shape[-1]
            blocks = values.reshape(*values.shape[:-1], size // count, count)
            return torch.matmul(blocks, axis.pattern).reshape(*values.shape[:-1], -1)
        size, cols = values.shape[-2], values.shape[-1]
        blocks = values.reshape(*values.shape[:-2], size // count, count, cols)
        return torch.matmul(axis.pattern.t(), blocks).reshape(*values.shape[:-2], -1, cols)
    view = (-1, 1) if dim == -2 else (-1,)
    out = values.index_select(dim, axis.first) * axis.weight.view(view)
    return out.add_(values.index_select(dim, axis.second) * axis.rest.view(view))


def sum_ratios(adjusted: torch.Tensor, target_sums: torch.Tensor, invalid: torch.Tensor,
               footprints: Footprints, eps: float) -> torch.Tensor:
    """Area-weighted sums of ``adjusted`` over their targets, ``(..., h, w)``; 1 where invalid."""
    ratios = (footprints.sums(adjusted) + eps) / target_sums
    return ratios.masked_fill_(invalid, 1.0)


def largest_error(ratios: torch.Tensor) -> float:
    """``max |ratio - 1|`` (0 for an empty grid)."""
    return float((ratios - 1.0).abs().max()) if ratios.numel() else 0.0


def update_multipliers(multipliers: torch.Tensor, ratios: torch.Tensor,
                       footprints: Footprints) -> None:
    """``m *= ratios ** damping`` in place (a footprint whose sum is too large divides more)."""
    damping = footprints.damping()
    multipliers.mul_(ratios if damping == 1.0 else ratios.pow(damping))


def harmonic_adjust(image: torch.Tensor, source: torch.Tensor, valid: torch.Tensor,
                    footprints: Footprints, eps: float,
                    multipliers: Optional[torch.Tensor] = None,
                    tolerance: float = ADJUST_TOLERANCE,
                    max_iterations: int = ADJUST_MAX_ITERATIONS
                    ) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """Eq. 3 on fractional footprints: ``z / spread(m)`` with exact area-weighted means.

    Args:
        image: ``(..., H, W)`` positive estimate ``z`` (not modified).
        source: ``(..., h, w)`` positive source (any value where invalid).
        valid: ``(..., h, w)`` bool; invalid footprints keep the multiplier they start with.
        footprints: geometry of ``(H, W)`` and ``(h, w)``.
        eps: added to every area-weighted sum (the update divides by it).
        multipliers: ``(..., h, w)`` start of ``m`` (e.g. the last step's; default all
            ones); not modified.
        tolerance: stop when every valid mean is within this relative error.
        max_iterations: upper bound of multiplier updates.

    Returns:
        The adjusted image, the multipliers it used and the number of updates made.
    """
    m = torch.ones_like(source) if multipliers is None else multipliers.clone()
    target = torch.where(valid, source, torch.ones_like(source)) * footprints.area
    invalid = ~valid
    for updates in range(max_iterations + 1):
        adjusted = image / footprints.spread(m)
        ratios = sum_ratios(adjusted, target, invalid, footprints, eps)
        if updates == max_iterations or largest_error(ratios) <= tolerance:
            break
        update_multipliers(m, ratios, footprints)
    return adjusted, m, updates
