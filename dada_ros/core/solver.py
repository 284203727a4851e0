# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Fast fixed-budget solver for the diffusion + adjustment iteration.

The paper iterates Eq. 1 (diffusion) and Eq. 3 (adjustment) thousands of times because
information must travel across whole blocks at one pixel per iteration. This solver runs
the *same* iteration coarse-to-fine over a pyramid: at level ``l`` the image is
``2**l`` times smaller and the block factor ``f / 2**l``, so long-range transport is cheap;
each level starts from the upsampled result of the coarser one and the finest level only
has to settle short-range detail. The last operation is always an adjustment step, so
the block means equal the source exactly.

Per iteration the diffusion step is fused into a 5-point stencil with precomputed
weights (one multiply and four multiply-adds) and the adjustment step into one block
sum and one broadcast multiply; all buffers are allocated once per image size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F

from .diffusion import EPS, LAMBDA


def coarsen_coefficients(cv: torch.Tensor, ch: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Coefficients of the 2x coarser grid, treating c as conductances of a resistor network.

    A coarse vertical link joins the centres of two 2x2 cells: per fine column it passes
    half an interior link, the crossing link and another half interior link in series
    (resistances ``1/c`` add); the two fine columns are in parallel (conductances average
    over the doubled width). An edge in the guide that cuts a coarse link keeps it weak.

    Args:
        cv: ``(B, 1, H-1, W)`` with H and W even.
        ch: ``(B, 1, H, W-1)``.

    Returns:
        ``(B, 1, H/2-1, W/2)`` and ``(B, 1, H/2, W/2-1)``.
    """
    def coarsen_vertical(c: torch.Tensor) -> torch.Tensor:
        resistance = 1.0 / c.clamp_min(1e-12)
        first = resistance[:, :, 0:-2:2, :]   # interior link of the upper coarse cell
        cross = resistance[:, :, 1::2, :]     # link crossing the coarse boundary
        last = resistance[:, :, 2::2, :]      # interior link of the lower coarse cell
        series = 2.0 / (0.5 * first + cross + 0.5 * last)
        return 0.5 * (series[:, :, :, 0::2] + series[:, :, :, 1::2])

    cv_coarse = coarsen_vertical(cv)
    ch_coarse = coarsen_vertical(ch.transpose(2, 3)).transpose(2, 3)
    return cv_coarse.contiguous(), ch_coarse.contiguous()


@dataclass
class _Level:
    """Buffers and stencil weights of one pyramid level."""

    factor: int
    image: torch.Tensor        # (H, W) current estimate
    scratch: torch.Tensor      # (H, W) result of the stencil
    w_center: torch.Tensor     # (H, W)
    w_up: torch.Tensor         # (H-1, W): weight of pixel (i-1, j) in row i >= 1
    w_down: torch.Tensor       # (H-1, W): weight of pixel (i+1, j) in row i <= H-2
    w_left: torch.Tensor       # (H, W-1)
    w_right: torch.Tensor      # (H, W-1)
    block_sum: torch.Tensor    # (h, w)
    ratio: torch.Tensor        # (h, w)


class PyramidSolver:
    """Coarse-to-fine diffusion with the same iterations at every level.

    ``iterations`` steps (diffusion then adjustment) run at every level, so the work is
    fixed for a given image size: about ``iterations * 4/3`` full-resolution steps.
    """

    def __init__(self, rate: float = LAMBDA) -> None:
        self.rate = rate
        self._levels: List[_Level] = []
        self._key: Tuple[object, ...] = ()

    @staticmethod
    def level_factors(height: int, width: int, factor: int) -> List[int]:
        """Block factors from fine to coarse: halve while the factor stays an even integer."""
        factors = [factor]
        while factors[-1] % 2 == 0 and height % 2 == 0 and width % 2 == 0:
            factors.append(factors[-1] // 2)
            height, width = height // 2, width // 2
        return factors

    def _allocate(self, height: int, width: int, factor: int, device: torch.device) -> None:
        key = (height, width, factor, device)
        if key == self._key:
            return
        self._levels = []
        for level, level_factor in enumerate(self.level_factors(height, width, factor)):
            h, w = height >> level, width >> level
            new = dict(device=device, dtype=torch.float32)
            self._levels.append(_Level(
                factor=level_factor,
                image=torch.empty(h, w, **new), scratch=torch.empty(h, w, **new),
                w_center=torch.empty(h, w, **new),
                w_up=torch.empty(h - 1, w, **new), w_down=torch.empty(h - 1, w, **new),
                w_left=torch.empty(h, w - 1, **new), w_right=torch.empty(h, w - 1, **new),
                block_sum=torch.empty(h // level_factor, w // level_factor, **new),
                ratio=torch.empty(h // level_factor, w // level_factor, **new)))
        self._key = key

    def _set_weights(self, level: _Level, cv: torch.Tensor, ch: torch.Tensor) -> None:
        """Stencil weights of Eq. 1: I' = w_c I + sum over neighbours of rate * c * I_q."""
        torch.mul(cv, self.rate, out=level.w_up)
        level.w_down.copy_(level.w_up)
        torch.mul(ch, self.rate, out=level.w_left)
        level.w_right.copy_(level.w_left)
        center = level.w_center
        center.fill_(1.0)
        center[1:, :] -= level.w_up
        center[:-1, :] -= level.w_down
        center[:, 1:] -= level.w_left
        center[:, :-1] -= level.w_right

    def _iterate(self, level: _Level, source: torch.Tensor, invalid: torch.Tensor,
                 iterations: int) -> None:
        image, out = level.image, level.scratch
        f = level.factor
        h, w = level.block_sum.shape
        inv_area = 1.0 / float(f * f)
        out_blocks = out.view(h, f, w, f)
        image_blocks = image.view(h, f, w, f)
        ratio_view = level.ratio.view(h, 1, w, 1)
        for _ in range(iterations):
            # Eq. 1, fused: out = w_c * I + w_up * I[i-1] + w_down * I[i+1] + ...
            torch.mul(level.w_center, image, out=out)
            out[1:, :].addcmul_(level.w_up, image[:-1, :])
            out[:-1, :].addcmul_(level.w_down, image[1:, :])
            out[:, 1:].addcmul_(level.w_left, image[:, :-1])
            out[:, :-1].addcmul_(level.w_right, image[:, 1:])
            # Eq. 3: I = out * source / blockmean(out); blocks without a source stay free.
            torch.sum(out_blocks, dim=(1, 3), out=level.block_sum)
            level.block_sum.mul_(inv_area).add_(EPS)
            torch.div(source, level.block_sum, out=level.ratio)
            level.ratio.masked_fill_(invalid, 1.0)
            torch.mul(out_blocks, ratio_view, out=image_blocks)

    def _adjust(self, level: _Level, source: torch.Tensor, invalid: torch.Tensor) -> None:
        self._iterate_adjust_only(level, source, invalid)

    @staticmethod
    def _iterate_adjust_only(level: _Level, source: torch.Tensor, invalid: torch.Tensor) -> None:
        f = level.factor
        h, w = level.block_sum.shape
        blocks = level.image.view(h, f, w, f)
        torch.sum(blocks, dim=(1, 3), out=level.block_sum)
        level.block_sum.mul_(1.0 / float(f * f)).add_(EPS)
        torch.div(source, level.block_sum, out=level.ratio)
        level.ratio.masked_fill_(invalid, 1.0)
        blocks.mul_(level.ratio.view(h, 1, w, 1))

    def solve(self, initial: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor,
              source: torch.Tensor, valid: torch.Tensor, factor: int,
              iterations: int) -> torch.Tensor:
        """Run the fixed budget and return a new ``(H, W)`` tensor.

        Args:
            initial: ``(H, W)`` positive initial estimate (not modified).
            cv: ``(H-1, W)`` vertical coefficients in (0, 1].
            ch: ``(H, W-1)`` horizontal coefficients in (0, 1].
            source: ``(H/f, W/f)`` positive source depth (any value where invalid).
            valid: ``(H/f, W/f)`` bool.
            factor: integer block factor f.
            iterations: steps per pyramid level.
        """
        height, width = initial.shape
        self._allocate(height, width, factor, initial.device)
        invalid = ~valid
        # Coefficients and initial estimates of every level, fine to coarse.
        cvs, chs, inits = [cv[None, None]], [ch[None, None]], [initial[None, None]]
        for _ in self._levels[1:]:
            cv_c, ch_c = coarsen_coefficients(cvs[-1], chs[-1])
            cvs.append(cv_c)
            chs.append(ch_c)
            inits.append(F.avg_pool2d(inits[-1], 2))
        coarser: torch.Tensor | None = None
        for index in reversed(range(len(self._levels))):
            level = self._levels[index]
            self._set_weights(level, cvs[index][0, 0], chs[index][0, 0])
            if coarser is None:
                level.image.copy_(inits[index][0, 0])
            else:
                level.image.copy_(F.interpolate(coarser[None, None], scale_factor=2,
                                                mode='bilinear', align_corners=False)[0, 0])
                self._adjust(level, source, invalid)
            self._iterate(level, source, invalid, iterations)
            coarser = level.image
        return self._levels[0].image.clone()


def _shape_key(*tensors: torch.Tensor) -> Dict[str, Tuple[int, ...]]:
    return {str(i): tuple(t.shape) for i, t in enumerate(tensors)}
