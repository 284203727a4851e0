# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The solver of the sparse path: guided diffusion with measured pixels held, coarse to fine.

Used by :func:`dada_ros.core.sparse.complete_sparse`. :class:`SparseSolver` keeps its
buffers per image size and device; the diffusion step is Eq. 1 of the paper with the
measured pixels as Dirichlet constraints in place of Eq. 3 (there is no low-resolution
block to adjust: the measurements are the pixels themselves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import torch
import torch.nn.functional as F

from . import kernels
from .diffusion import LAMBDA
from .solver import coarsen_coefficients

__all__ = ['MAX_LEVELS', 'MIN_COARSE_SIDE', 'SparseSolver']

#: Smallest side of the coarsest pyramid level.
MIN_COARSE_SIDE = 8
#: Most pyramid levels.
MAX_LEVELS = 8


@dataclass
class _SparseLevel:
    """Buffers of one pyramid level (``h x w``, the padded size halved ``level`` times)."""

    image: torch.Tensor      # (h, w) current estimate
    scratch: torch.Tensor    # (h, w) result of the stencil
    w_center: torch.Tensor   # (h, w) weight of the pixel itself; 1 at fixed cells
    w_up: torch.Tensor       # (h-1, w) weight of (i-1, j) in row i >= 1; 0 at fixed cells
    w_down: torch.Tensor     # (h-1, w) weight of (i+1, j) in row i <= h-2
    w_left: torch.Tensor     # (h, w-1)
    w_right: torch.Tensor    # (h, w-1)
    values: torch.Tensor     # (h, w) measured depth (cell mean on coarse levels), else 0
    count: torch.Tensor      # (h, w) number of measurements in the cell
    fixed: torch.Tensor      # (h, w) bool: the cell holds a measurement
    # The compiled kernel's layout (made on its first use): a pair of estimates in zero
    # borders (2, h+2, w+2), one weight per link, (h+1, w) and (h, w+1) with zero border
    # rows / columns, and the free (not fixed) pixels as uint8 (h, w).
    padded: Optional[torch.Tensor] = None
    w_vertical: Optional[torch.Tensor] = None
    w_horizontal: Optional[torch.Tensor] = None
    free: Optional[torch.Tensor] = None


class SparseSolver:
    """Coarse-to-fine guided diffusion with measured pixels as Dirichlet constraints.

    Buffers are allocated once per image size and device.

    Args:
        rate: diffusion rate lambda of Eq. 1.
        max_levels: most pyramid levels (1 = plain full-resolution iteration).
    """

    def __init__(self, rate: float = LAMBDA, max_levels: int = MAX_LEVELS) -> None:
        if not 0.0 < rate <= 0.25:
            raise ValueError(f'rate must be in (0, 0.25] for a stable step, got {rate}')
        self.rate = rate
        self.max_levels = max_levels
        #: The ``cpu_kernel`` parameter (see :class:`dada_ros.core.solver.PyramidSolver`).
        self.kernel = 'auto'
        self._levels: List[_SparseLevel] = []
        self._key: Tuple[object, ...] = ()

    def level_count(self, height: int, width: int) -> int:
        """Pyramid levels for an image: halve while the short side stays >= 8."""
        levels = 1
        side = min(height, width)
        while levels < self.max_levels and side / 2 ** levels >= MIN_COARSE_SIDE:
            levels += 1
        return levels

    def _allocate(self, height: int, width: int, device: torch.device) -> None:
        key = (height, width, device)
        if key == self._key:
            return
        self._levels = []
        levels = self.level_count(height, width)
        multiple = 2 ** (levels - 1)
        padded_h = -(-height // multiple) * multiple
        padded_w = -(-width // multiple) * multiple
        new: Any = {'device': device, 'dtype': torch.float32}
        for level in range(levels):
            h, w = padded_h >> level, padded_w >> level
            self._levels.append(_SparseLevel(
                image=torch.empty(h, w, **new), scratch=torch.empty(h, w, **new),
                w_center=torch.empty(h, w, **new),
                w_up=torch.empty(h - 1, w, **new), w_down=torch.empty(h - 1, w, **new),
                w_left=torch.empty(h, w - 1, **new), w_right=torch.empty(h, w - 1, **new),
                values=torch.empty(h, w, **new), count=torch.empty(h, w, **new),
                fixed=torch.empty(h, w, device=device, dtype=torch.bool)))
        self._key = key

    @property
    def padded_shape(self) -> Tuple[int, int]:
        """Size of the finest level (the image padded to a multiple of the pyramid step)."""
        height, width = self._levels[0].image.shape
        return int(height), int(width)

    def set_measurements(self, depth: torch.Tensor, valid: torch.Tensor) -> None:
        """Average the measurements into every level.

        Args:
            depth: ``(H, W)`` float32 normalised depth, any value where invalid.
            valid: ``(H, W)`` bool.
        """
        height, width = depth.shape
        self._allocate(height, width, depth.device)
        finest = self._levels[0]
        finest.values.zero_()
        finest.count.zero_()
        finest.values[:height, :width] = torch.where(valid, depth, torch.zeros_like(depth))
        finest.count[:height, :width] = valid
        for fine, coarse in zip(self._levels[:-1], self._levels[1:]):
            # sums over 2x2 cells: ``values`` holds sums until the division below
            torch.mul(F.avg_pool2d(fine.values[None, None], 2)[0, 0], 4.0, out=coarse.values)
            torch.mul(F.avg_pool2d(fine.count[None, None], 2)[0, 0], 4.0, out=coarse.count)
        for level in self._levels:
            torch.gt(level.count, 0, out=level.fixed)
            level.values.div_(level.count.clamp(min=1.0))

    def _set_weights(self, level: _SparseLevel, cv: torch.Tensor, ch: torch.Tensor) -> None:
        """Stencil of Eq. 1 (``I' = w_c I + sum rate * c * I_q``), identity at fixed cells."""
        if kernels.use_compiled(self.kernel, level.image.device):
            self._set_link_weights(level, cv, ch)
            return
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
        fixed = level.fixed
        level.w_up.masked_fill_(fixed[1:, :], 0.0)
        level.w_down.masked_fill_(fixed[:-1, :], 0.0)
        level.w_left.masked_fill_(fixed[:, 1:], 0.0)
        level.w_right.masked_fill_(fixed[:, :-1], 0.0)
        center.masked_fill_(fixed, 1.0)

    def _set_link_weights(self, level: _SparseLevel, cv: torch.Tensor, ch: torch.Tensor) -> None:
        """Set the compiled kernel's inputs: ``rate * c`` once per link and the free pixels.

        Three passes instead of the eleven of the per-direction weights above.
        """
        height, width = level.image.shape
        if level.padded is None or level.w_vertical is None or level.w_horizontal is None \
                or level.free is None:
            level.padded = torch.zeros(2, height + 2, width + 2)
            level.w_vertical = torch.zeros(height + 1, width)
            level.w_horizontal = torch.zeros(height, width + 1)
            level.free = torch.empty(height, width, dtype=torch.uint8)
        torch.mul(cv, self.rate, out=level.w_vertical[1:height])
        torch.mul(ch, self.rate, out=level.w_horizontal[:, 1:width])
        torch.logical_not(level.fixed, out=level.free)

    def _iterate(self, level: _SparseLevel, iterations: int) -> None:
        if kernels.use_compiled(self.kernel, level.image.device):  # one pass per step
            assert level.padded is not None and level.w_vertical is not None \
                and level.w_horizontal is not None and level.free is not None
            padded = level.padded.numpy()
            padded[0, 1:-1, 1:-1] = level.image.numpy()
            odd = kernels.masked_stencil_steps(padded[0], padded[1], level.w_vertical.numpy(),
                                               level.w_horizontal.numpy(), level.free.numpy(),
                                               iterations)
            level.image.numpy()[...] = padded[1 if odd else 0, 1:-1, 1:-1]
            return
        image, out = level.image, level.scratch
        for _ in range(iterations):
            torch.mul(level.w_center, image, out=out)
            out[1:, :].addcmul_(level.w_up, image[:-1, :])
            out[:-1, :].addcmul_(level.w_down, image[1:, :])
            out[:, 1:].addcmul_(level.w_left, image[:, :-1])
            out[:, :-1].addcmul_(level.w_right, image[:, 1:])
            image, out = out, image
        if image is not level.image:
            level.image.copy_(image)

    def solve(self, cv: torch.Tensor, ch: torch.Tensor, start: torch.Tensor,
              iterations: int,
              hint: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
              start_share: float = 0.0) -> torch.Tensor:
        """Run the fixed budget after :meth:`set_measurements`.

        Args:
            cv: ``(Hp-1, Wp)`` vertical coefficients of the padded size, in (0, 1].
            ch: ``(Hp, Wp-1)`` horizontal coefficients.
            start: ``(h, w)`` start of the coarsest level (e.g. a nearest fill).
            iterations: diffusion steps per level.
            hint: optional ``(values, mask)``, both ``(Hp, Wp)``: free pixels in ``mask``
                start the finest level from ``values`` instead of the upsampled coarser
                result.
            start_share: the other free pixels start the finest level from
                ``start_share * values + (1 - start_share) * upsampled`` (needs ``hint``).

        Returns:
            The finest ``(Hp, Wp)`` estimate (a view of an internal buffer).
        """
        cvs, chs = [cv[None, None]], [ch[None, None]]
        for _ in self._levels[1:]:
            cv_c, ch_c = coarsen_coefficients(cvs[-1], chs[-1])
            cvs.append(cv_c)
            chs.append(ch_c)
        for index in reversed(range(len(self._levels))):
            level = self._levels[index]
            self._set_weights(level, cvs[index][0, 0], chs[index][0, 0])
            if index == len(self._levels) - 1:
                level.image.copy_(start)
            else:
                up = F.interpolate(self._levels[index + 1].image[None, None], scale_factor=2,
                                   mode='bilinear', align_corners=False)[0, 0]
                if index == 0 and hint is not None:
                    mixed = up if start_share == 0.0 else torch.lerp(up, hint[0], start_share)
                    up = torch.where(hint[1], hint[0], mixed)
                torch.where(level.fixed, level.values, up, out=level.image)
            self._iterate(level, iterations)
        return self._levels[0].image

    def coarsest(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Values and fixed mask of the coarsest level."""
        return self._levels[-1].values, self._levels[-1].fixed
