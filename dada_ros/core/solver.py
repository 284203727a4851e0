# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Fast fixed-budget solver for the DADA iteration (diffusion, Eq. 1, then adjustment, Eq. 3).

Why it can be faster than the paper's loop without changing the answer
-----------------------------------------------------------------------
Write one diffusion step as ``I + rate * L I`` (``L`` the weighted graph Laplacian of the
coefficients) and the adjustment as a per-block scale ``s_b = source_b / mean_b``. At a
fixed point ``I = s_b (I + rate * L I)`` inside every block ``b``, i.e.
``L I = kappa_b * I`` with one free constant ``kappa_b = (1 - s_b) / (s_b * rate)`` per block
and the block means equal to the source. That set does not depend on ``rate``, so the
solver may pick the step and accelerate the iteration freely; only the speed of getting
there changes. It uses three accelerations, all measured in ``benchmarks/``:

1. **Coarse-to-fine pyramid.** Level ``l`` has ``2**l`` times fewer pixels per axis and block
   factor ``f / 2**l``, with coefficients coarsened as a resistor network; each level starts
   from the bilinear upsampling of the coarser result. Long-range transport happens where
   it is cheap.
2. **Momentum.** ``rate = 1/8`` makes the diffusion operator's spectrum non-negative, which
   lets a heavy extrapolation ``y = x_k + beta (x_k - x_{k-1})`` cut the number of steps by
   roughly the square root; values are kept positive for Eq. 3. Heavy ball's best ``beta``
   is ``(1 - 2 / sqrt(kappa))**2`` for condition number ``kappa``; Eq. 3 pins every block
   mean, so the slowest remaining mode lives inside a block and ``sqrt(kappa)`` grows like
   the level's block factor ``f``: ``beta = (1 - a / f)**2`` per level
   (:func:`level_momentum`). ``a = 0.08`` was chosen on mosaics of the Middlebury training
   scenes (3x2 third-size scenes per 1248x704 frame, 5x3 per 1920x1056, 2x2 resized to
   640x480: edges as dense as a real camera's, none of the test scenes) at x4, x8 and x16:
   the largest distance to the converged RMSE at the default budget fell from 2.4-3.2 %
   (``a = 0.15``, chosen on single 640x480 scenes) to 0.1-2.4 % (issue 21).
3. **Fused, allocation-free steps.** Eq. 1 is a 5-point stencil with precomputed weights
   and precomputed shifted views; Eq. 3 is one row-block sum, one division on the small
   ``(h, w)`` grid (the source is stored pre-multiplied by ``f**2``, so no separate mean or
   mask pass) and one broadcast multiply over a ``(h, f, W)`` view whose innermost axis stays
   contiguous. Buffers and views live as long as the image size does. Coarser levels run
   ``iterations / 2**level`` steps, so the coarse levels together cost about 1/7 of the
   finest one, and a level of block factor 8 runs at most half the budget (x8: 48
   finest-level steps; :func:`level_iterations`).

The last operation at the finest level is always a plain adjustment step, so the block
means equal the source exactly (to float rounding) whatever the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from . import kernels
from .diffusion import EPS, SolveCancelled

#: Step of Eq. 1 used by the accelerated solver; 1/8 keeps the stencil's centre weight >= 1/2.
ACCELERATED_RATE = 0.125
#: Heavy-ball momentum of level ``f``: ``(1 - MOMENTUM_SCALE / f)**2`` (see the docstring).
MOMENTUM_SCALE = 0.08
#: Smallest normalised depth an extrapolated estimate may take (the adjustment divides).
POSITIVE_FLOOR = 1e-3


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
    # vertical links: series along the rows, then the two fine columns in parallel
    resistance = 1.0 / cv.clamp_min(1e-12)
    first = resistance[:, :, 0:-2:2, :]   # interior link of the upper coarse cell
    cross = resistance[:, :, 1::2, :]     # link crossing the coarse boundary
    last = resistance[:, :, 2::2, :]      # interior link of the lower coarse cell
    series = 2.0 / (0.5 * (first + last) + cross)
    cv_coarse = 0.5 * (series[:, :, :, 0::2] + series[:, :, :, 1::2])
    # horizontal links: the same along the columns (no transposed, strided copies)
    resistance = 1.0 / ch.clamp_min(1e-12)
    series = 2.0 / (0.5 * (resistance[..., 0:-2:2] + resistance[..., 2::2])
                    + resistance[..., 1::2])
    ch_coarse = 0.5 * (series[:, :, 0::2, :] + series[:, :, 1::2, :])
    return cv_coarse.contiguous(), ch_coarse.contiguous()


def coarsen_compiled(cv: torch.Tensor, ch: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`coarsen_coefficients` of CPU tensors in one compiled pass (no autograd).

    The torch form makes about ten image-sized temporaries per level (20 ms at 1280x720 on
    one core); :func:`dada_ros.core.kernels.coarsen_links` computes the same sums in one
    pass (equal to float32 rounding).
    """
    batch, _, rows, width = cv.shape
    cv_coarse = torch.empty(batch, 1, (rows + 1) // 2 - 1, width // 2)
    ch_coarse = torch.empty(batch, 1, (rows + 1) // 2, width // 2 - 1)
    for image in range(batch):
        kernels.coarsen_links(cv[image, 0].contiguous().numpy(),
                              ch[image, 0].contiguous().numpy(),
                              cv_coarse[image, 0].numpy(), ch_coarse[image, 0].numpy())
    return cv_coarse, ch_coarse


def pyramid_coefficients(cv: torch.Tensor, ch: torch.Tensor, levels: int,
                         coarsen: Callable[[torch.Tensor, torch.Tensor],
                                           Tuple[torch.Tensor, torch.Tensor]]
                         = coarsen_coefficients) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
    """Coefficients of ``levels`` pyramid levels, fine to coarse (index 0 = the inputs).

    Args:
        cv: ``(B, 1, H-1, W)`` vertical coefficients; coarser levels come from
            :func:`coarsen_coefficients`.
        ch: ``(B, 1, H, W-1)`` horizontal coefficients.
        levels: number of levels (see :func:`level_factors`).
        coarsen: :func:`coarsen_coefficients` or, without autograd on the CPU,
            :func:`coarsen_compiled`.
    """
    cvs, chs = [cv], [ch]
    for _ in range(levels - 1):
        cv_coarse, ch_coarse = coarsen(cvs[-1], chs[-1])
        cvs.append(cv_coarse)
        chs.append(ch_coarse)
    return cvs, chs


def pyramid_inputs(initial: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor, levels: int,
                   coarsen: Callable[[torch.Tensor, torch.Tensor],
                                     Tuple[torch.Tensor, torch.Tensor]] = coarsen_coefficients
                   ) -> Tuple[List[torch.Tensor], List[torch.Tensor], List[torch.Tensor]]:
    """Coefficients and initial estimates of ``levels`` pyramid levels, fine to coarse.

    Args:
        initial: ``(B, 1, H, W)``; coarser levels are 2x2 averages.
        cv: ``(B, 1, H-1, W)``, as for :func:`pyramid_coefficients`.
        ch: ``(B, 1, H, W-1)``.
        levels: number of levels.
        coarsen: as for :func:`pyramid_coefficients`.

    Returns:
        Lists ``cvs``, ``chs``, ``inits`` of length ``levels`` (index 0 = the inputs).
    """
    cvs, chs = pyramid_coefficients(cv, ch, levels, coarsen)
    inits = [initial]
    for _ in range(levels - 1):
        inits.append(F.avg_pool2d(inits[-1], 2))
    return cvs, chs, inits


def level_momentum(factor: float, scale: float = MOMENTUM_SCALE) -> float:
    """Heavy-ball momentum for a level of block factor ``factor``: ``(1 - scale / f)**2``.

    0.85 at f = 1 (only holes move), 0.92 at 2, 0.96 at 4, 0.98 at 8, 0.99 at 16; a
    non-integer size ratio (fractional footprints) uses the same formula.
    """
    return (1.0 - scale / float(factor)) ** 2


#: Block factors whose level runs at most half the budget (:func:`level_iterations`).
HALF_BUDGET_FACTORS = (8,)
#: ... in frames of at least this many pixels (1280x720): the answer of a 640x480 frame
#: (denser edges per pixel) was up to 2.5 % off with half the budget.
HALF_BUDGET_MIN_PIXELS = 1280 * 720


def half_budget_factors(height: int, width: int) -> Tuple[int, ...]:
    """:data:`HALF_BUDGET_FACTORS` for a frame of ``height x width`` pixels, or ``()``."""
    return HALF_BUDGET_FACTORS if height * width >= HALF_BUDGET_MIN_PIXELS else ()


def level_iterations(iterations: int, level: int, factor: Optional[int] = None,
                     half_budget_factors: Tuple[int, ...] = HALF_BUDGET_FACTORS) -> int:
    """Return the steps of pyramid level ``level`` (0 = finest) of block factor ``factor``.

    Half those of the finer level: a level has 4x fewer pixels and half the block factor of
    the finer one, so its slowest mode needs about half the steps (see
    :func:`level_momentum`); on the Middlebury training scenes halving gave the same RMSE as
    half the budget at every coarser level. With ``factor`` given, a level of a block factor
    in :data:`HALF_BUDGET_FACTORS` (8) runs at most half the budget: its heavy momentum
    (0.96) and the two levels below settle it in fewer steps. At x8 that halves the finest
    level's steps (96 -> 48) and kept the RMSE within 0.7 % of the converged one on real
    1280x720 and 1920x1080 frames; the solvers apply it from 1280x720 up
    (:func:`half_budget_factors`). It is measured, not derived: the finest level of x16
    with half the budget was up to +1.35 % off and that of x4 up to +4.9 % (Middlebury
    training scenes), so they keep the full budget; so does the learned two-pass guide
    (``half_budget_factors=()``: its sharper coefficients were up to +10 % off at x8).
    """
    steps = iterations >> level
    if factor is not None and factor in half_budget_factors:
        steps = min(steps, iterations // 2)
    return max(1, steps)


def level_factors(height: int, width: int, factor: int) -> List[int]:
    """Block factors from fine to coarse: halve while the factor stays an even integer."""
    factors = [factor]
    while factors[-1] % 2 == 0 and height % 2 == 0 and width % 2 == 0:
        factors.append(factors[-1] // 2)
        height, width = height // 2, width // 2
    return factors


#: Steps between two polls of a solve's ``cancel`` callback.
CANCEL_POLL_STEPS = 32


def check_cancel(cancel: Optional[Callable[[], bool]]) -> None:
    """Raise :class:`SolveCancelled` when ``cancel`` is given and returns True."""
    if cancel is not None and cancel():
        raise SolveCancelled('solve cancelled (parameter change or shutdown)')


@dataclass
class _PyramidLevel:
    """Buffers of one pyramid level; everything is allocated once per image size."""

    factor: int
    x: torch.Tensor            # (H, W) current estimate x_k (always adjusted)
    x_prev: torch.Tensor       # (H, W) previous estimate x_{k-1}
    y: torch.Tensor            # (H, W) extrapolated point the next step starts from
    w_center: torch.Tensor     # (H, W) stencil weights of Eq. 1
    w_vertical: torch.Tensor   # (H-1, W) rate * cv: rows 1..H-1 of padded_w_vertical
    w_horizontal: torch.Tensor  # (H, W-1) rate * ch: columns 1..W-1 of padded_w_horizontal
    padded_w_vertical: torch.Tensor    # (H+1, W), rows 0 and H zero (the compiled kernel's
    padded_w_horizontal: torch.Tensor  # (H, W+1), columns 0 and W zero   layout, no branches)
    row_sums: torch.Tensor     # (h, W) sums over the f rows of each block row
    block_sums: torch.Tensor   # (h, w)
    block_ratio: torch.Tensor  # (h, w) source / block mean (1 where invalid)
    ratio: torch.Tensor        # (h, W) block_ratio repeated along each block's columns
    source_sums: torch.Tensor  # (h, w) source * f**2: the block sum Eq. 3 aims at (1 if invalid)
    invalid: torch.Tensor      # (h, w) bool
    any_invalid: bool = False  # whether ``invalid`` has a True (else Eq. 3 skips the mask)
    # (2, H+2, W+2) the compiled kernel's pair of extrapolated points in zero borders
    padded_estimates: Optional[torch.Tensor] = None
    # Shifted views of Eq. 1, made once: (destination, weights, neighbour) per direction.
    stencil_views: Tuple[Tuple[Tuple[torch.Tensor, torch.Tensor, torch.Tensor], ...], ...] = ()


def stencil_views(out: torch.Tensor, start: torch.Tensor, w_vertical: torch.Tensor,
                  w_horizontal: torch.Tensor
                  ) -> Tuple[Tuple[torch.Tensor, torch.Tensor, torch.Tensor], ...]:
    """Return the four neighbour terms of Eq. 1 as ``(out, weights, start)`` slice views."""
    return ((out[1:, :], w_vertical, start[:-1, :]),     # from the pixel above
            (out[:-1, :], w_vertical, start[1:, :]),     # from the pixel below
            (out[:, 1:], w_horizontal, start[:, :-1]),   # from the left pixel
            (out[:, :-1], w_horizontal, start[:, 1:]))   # from the right pixel


class PyramidSolver:
    """Coarse-to-fine, momentum-accelerated DADA iteration with a fixed budget.

    ``iterations`` steps (diffusion then adjustment) run at the finest level and half as
    many at every coarser one, at most half of them at a level of block factor 8
    (:func:`level_iterations`), so the work per frame is fixed for a given image size
    and factor: at most about ``iterations * (1 + 1/8 + 1/64 + ...)`` full-resolution steps.
    """

    def __init__(self, rate: float = ACCELERATED_RATE, momentum: Optional[float] = None,
                 kernel: str = 'auto') -> None:
        """``momentum``: one value for every level, or None for :func:`level_momentum`.

        ``kernel``: the ``cpu_kernel`` parameter: on the CPU, ``'auto'`` runs the compiled
        step of :mod:`dada_ros.core.kernels` when numba is installed, ``'numba'`` always
        (``ValueError`` without numba), ``'torch'`` never. CUDA always runs torch.
        """
        if not 0.0 < rate <= 0.125:
            raise ValueError(f'rate must be in (0, 1/8] for a stable accelerated step, got {rate}')
        if momentum is not None and not 0.0 <= momentum < 1.0:
            raise ValueError(f'momentum must be in [0, 1), got {momentum}')
        self.rate = rate
        self.momentum = momentum
        kernels.use_compiled(kernel, torch.device('cpu'))  # checks the name and numba
        self.kernel = kernel
        self._levels: List[_PyramidLevel] = []
        self._key: Tuple[object, ...] = ()
        self.use_cuda_graphs = True
        self._graphs: Dict[Tuple[int, int, bool, float],
                           Tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}

    def _allocate(self, height: int, width: int, factor: int, device: torch.device) -> None:
        key = (height, width, factor, device)
        if key == self._key:
            return

        def buffer(rows: int, cols: int) -> torch.Tensor:
            return torch.empty(rows, cols, device=device, dtype=torch.float32)

        self._levels = []
        self._graphs = {}
        for index, level_factor in enumerate(level_factors(height, width, factor)):
            big_h, big_w = height >> index, width >> index
            h, w = big_h // level_factor, big_w // level_factor
            padded_vertical = torch.zeros(big_h + 1, big_w, device=device)
            padded_horizontal = torch.zeros(big_h, big_w + 1, device=device)
            level = _PyramidLevel(
                factor=level_factor,
                x=buffer(big_h, big_w), x_prev=buffer(big_h, big_w),
                y=buffer(big_h, big_w), w_center=buffer(big_h, big_w),
                w_vertical=padded_vertical[1:big_h], w_horizontal=padded_horizontal[:, 1:big_w],
                padded_w_vertical=padded_vertical, padded_w_horizontal=padded_horizontal,
                row_sums=buffer(h, big_w), block_sums=buffer(h, w), block_ratio=buffer(h, w),
                ratio=buffer(h, big_w), source_sums=buffer(h, w),
                invalid=torch.empty(h, w, device=device, dtype=torch.bool))
            level.stencil_views = tuple(
                stencil_views(out, level.y, level.w_vertical, level.w_horizontal)
                for out in (level.x, level.x_prev))
            self._levels.append(level)
        self._key = key

    def _set_level_inputs(self, level: _PyramidLevel, cv: torch.Tensor, ch: torch.Tensor,
                          source: torch.Tensor, invalid: torch.Tensor,
                          any_invalid: bool) -> None:
        """Stencil weights of Eq. 1 (I' = w_c I + sum_q rate c_pq I_q) and the source."""
        torch.mul(cv, self.rate, out=level.w_vertical)
        torch.mul(ch, self.rate, out=level.w_horizontal)
        if not kernels.use_compiled(self.kernel, level.x.device):  # it makes its own
            center = level.w_center
            center.fill_(1.0)
            center[1:, :] -= level.w_vertical
            center[:-1, :] -= level.w_vertical
            center[:, 1:] -= level.w_horizontal
            center[:, :-1] -= level.w_horizontal
        torch.mul(source, float(level.factor * level.factor), out=level.source_sums)
        level.invalid.copy_(invalid)
        level.source_sums.masked_fill_(invalid, 1.0)
        level.any_invalid = any_invalid

    @staticmethod
    def _diffuse(level: _PyramidLevel, start: torch.Tensor, out: torch.Tensor) -> None:
        """Eq. 1 as a fused 5-point stencil: out = w_c * start + sum of weighted neighbours."""
        torch.mul(level.w_center, start, out=out)
        if start is level.y and out is level.x:
            views = level.stencil_views[0]
        elif start is level.y and out is level.x_prev:
            views = level.stencil_views[1]
        else:
            views = stencil_views(out, start, level.w_vertical, level.w_horizontal)
        for destination, weights, neighbour in views:
            destination.addcmul_(weights, neighbour)

    @staticmethod
    def _adjust(level: _PyramidLevel, image: torch.Tensor) -> None:
        """Eq. 3 in place: scale every block of ``image`` so its mean equals the source.

        Blocks whose source is invalid get the ratio 1 (they stay free).
        """
        f = level.factor
        h, big_w = level.row_sums.shape
        w = big_w // f
        rows = image.view(h, f, big_w)
        torch.sum(rows, dim=1, out=level.row_sums)
        torch.sum(level.row_sums.view(h, w, f), dim=2, out=level.block_sums)
        # source / (mean + EPS) = source f^2 / (sum + EPS f^2), on the small grid
        level.block_sums.add_(EPS * float(f * f))
        torch.div(level.source_sums, level.block_sums, out=level.block_ratio)
        if level.any_invalid:
            level.block_ratio.masked_fill_(level.invalid, 1.0)
        level.ratio.view(h, w, f).copy_(level.block_ratio.view(h, w, 1).expand(h, w, f))
        rows.mul_(level.ratio.view(h, 1, big_w))

    def _iterate(self, level: _PyramidLevel, iterations: int,
                 cancel: Optional[Callable[[], bool]] = None,
                 momentum_scale: float = MOMENTUM_SCALE) -> torch.Tensor:
        """Run ``iterations`` accelerated steps from ``level.x`` (already adjusted).

        Returns the buffer that holds the result (``level.x`` or ``level.x_prev``); the
        sequence of buffers is the same on every call, which lets CUDA graphs replay it.
        ``cancel`` is polled every :data:`CANCEL_POLL_STEPS` steps.
        """
        if kernels.use_compiled(self.kernel, level.x.device):
            return self._iterate_compiled(level, iterations, cancel, momentum_scale)
        current, previous = level.x, level.x_prev
        previous.copy_(current)
        level.y.copy_(current)
        momentum = self.momentum if self.momentum is not None else \
            level_momentum(level.factor, momentum_scale)
        for step in range(iterations):
            if cancel is not None and step % CANCEL_POLL_STEPS == CANCEL_POLL_STEPS - 1:
                check_cancel(cancel)
            current, previous = previous, current
            self._diffuse(level, level.y, current)   # x_k+1 = A(D(y_k)): Eq. 1 ...
            self._adjust(level, current)             # ... then Eq. 3
            # y_k+1 = x_k+1 + momentum * (x_k+1 - x_k), kept positive for Eq. 3
            torch.lerp(previous, current, 1.0 + momentum, out=level.y)
            level.y.clamp_(min=POSITIVE_FLOOR)
        return current

    def _iterate_compiled(self, level: _PyramidLevel, iterations: int,
                          cancel: Optional[Callable[[], bool]],
                          momentum_scale: float) -> torch.Tensor:
        """``_iterate`` with :func:`dada_ros.core.kernels.fused_steps`; returns ``level.x``.

        Same steps, same order of Eq. 1, Eq. 3, momentum and floor; one sweep per step.
        """
        height, width = level.x.shape
        if level.padded_estimates is None:
            level.padded_estimates = torch.zeros(2, height + 2, width + 2)
        padded = level.padded_estimates.numpy()
        padded[0, 1:-1, 1:-1] = level.x.numpy()
        momentum = self.momentum if self.momentum is not None else \
            level_momentum(level.factor, momentum_scale)
        arrays = (level.padded_w_vertical.numpy(), level.padded_w_horizontal.numpy(),
                  level.source_sums.numpy(), level.invalid.numpy(), level.row_sums.numpy(),
                  level.factor, np.float32(momentum), np.float32(POSITIVE_FLOOR),
                  np.float32(EPS * level.factor * level.factor))
        current = 0  # which buffer of the pair holds y
        for done in range(0, iterations, CANCEL_POLL_STEPS):
            if cancel is not None and done > 0:
                check_cancel(cancel)
            steps = min(CANCEL_POLL_STEPS, iterations - done)
            kernels.fused_steps(level.x.numpy(), padded[current], padded[1 - current],
                                *arrays, steps)
            current = (current + steps) % 2
        return level.x

    def _run_level(self, level: _PyramidLevel, iterations: int,
                   cancel: Optional[Callable[[], bool]] = None,
                   momentum_scale: float = MOMENTUM_SCALE) -> torch.Tensor:
        """Run ``_iterate`` eagerly, or on CUDA by replaying a captured CUDA graph.

        The first frame of a size runs eagerly (it doubles as the warm-up that graph
        capture needs) and then records the fixed loop; later frames replay it, so the
        thousands of small kernel launches cost one launch.
        """
        if level.x.device.type != 'cuda' or not self.use_cuda_graphs:
            return self._iterate(level, iterations, cancel, momentum_scale)
        key = (id(level), iterations, level.any_invalid, momentum_scale)
        if key in self._graphs:
            graph, result = self._graphs[key]
            graph.replay()
            return result
        result = self._iterate(level, iterations, None, momentum_scale)  # warm-up + answer
        answer = result.clone()
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):  # records the same buffer sequence, runs nothing
                self._iterate(level, iterations, None, momentum_scale)
            self._graphs[key] = (graph, result)
        except RuntimeError:  # capture unsupported here: stay eager
            self.use_cuda_graphs = False
        result.copy_(answer)
        return result

    def solve(self, initial: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor,
              source: torch.Tensor, valid: torch.Tensor, factor: int,
              iterations: int, cancel: Optional[Callable[[], bool]] = None,
              warm_start: bool = False,
              momentum_scale: float = MOMENTUM_SCALE,
              half_budget: bool = True) -> torch.Tensor:
        """Run the fixed budget and return a new ``(H, W)`` tensor.

        Args:
            initial: ``(H, W)`` float32 positive initial estimate (not modified). With
                ``warm_start`` it is a good estimate whose detail must survive (a first
                solve): every level starts from its own average of ``initial`` plus the
                upsampled *change* the coarser level made to its start (a full
                approximation correction), instead of the upsampled coarser result, which
                would blur the detail of ``initial`` away.
            cv: ``(H-1, W)`` vertical coefficients in (0, 1].
            ch: ``(H, W-1)`` horizontal coefficients in (0, 1].
            source: ``(H/f, W/f)`` positive source depth (any value where invalid).
            valid: ``(H/f, W/f)`` bool.
            factor: integer block factor f.
            iterations: the budget: steps at the finest level, half of them at x8
                (:func:`level_iterations`).
            cancel: polled between levels and every :data:`CANCEL_POLL_STEPS` steps (on
                the CPU); when it returns True, :class:`SolveCancelled` is raised.
            warm_start: see ``initial``.
            momentum_scale: ``a`` of :func:`level_momentum` (smaller = heavier momentum;
                sharper coefficients converge faster with a smaller one).
            half_budget: let :func:`half_budget_factors` of the frame size halve the steps
                of a level (:func:`level_iterations`); False: the full budget.
        """
        height, width = initial.shape
        halved = half_budget_factors(height, width) if half_budget else ()
        self._allocate(height, width, factor, initial.device)
        invalid = ~valid
        any_invalid = bool(invalid.any())
        compiled = kernels.use_compiled(self.kernel, initial.device)
        levels = len(self._levels)
        cvs, chs = pyramid_coefficients(cv[None, None], ch[None, None], levels,
                                        coarsen_compiled if compiled else coarsen_coefficients)
        inits = [initial[None, None]]
        if warm_start:  # every level starts from its own average of ``initial``
            for _ in range(levels - 1):
                inits.append(F.avg_pool2d(inits[-1], 2))
        else:  # only the coarsest does (finer ones start from the coarser answer)
            inits = inits * (levels - 1) + [F.avg_pool2d(inits[0], 1 << (levels - 1))]
        coarser: Optional[torch.Tensor] = None
        for index in reversed(range(len(self._levels))):
            check_cancel(cancel)
            level = self._levels[index]
            self._set_level_inputs(level, cvs[index][0, 0], chs[index][0, 0], source, invalid,
                                   any_invalid)
            start = inits[index][0, 0]
            if coarser is None:
                level.x.copy_(start)
            else:
                level.x.copy_(_upsample(coarser))
                if warm_start:
                    level.x.add_(start).clamp_(min=POSITIVE_FLOOR)
            self._adjust(level, level.x)
            coarser = level.x
            # At block factor 1 the adjustment alone pins every valid pixel: only holes move.
            if level.factor > 1 or any_invalid:
                coarser = self._run_level(
                    level, level_iterations(iterations, index, level.factor, halved), cancel,
                    momentum_scale)
            if warm_start and index > 0:
                coarser = coarser - start  # the correction this level made to its start
        assert coarser is not None
        return coarser.clone()


def _upsample(image: torch.Tensor) -> torch.Tensor:
    """Bilinear 2x upsampling of an ``(h, w)`` tensor to ``(2h, 2w)``."""
    return F.interpolate(image[None, None], scale_factor=2, mode='bilinear',
                         align_corners=False)[0, 0]
