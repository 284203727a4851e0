# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Guided completion of sparse depth (depth at the RGB size with most pixels invalid).

This is DADA's idea carried over to sparse support. In the low-resolution case the
adjustment step (Eq. 3) makes every block of the output average to its source pixel; with
sparse depth each measured pixel is its own "block", so the adjustment becomes a
Dirichlet constraint: measured pixels keep their values exactly and only the other pixels
follow the anisotropic diffusion (Eq. 1) whose coefficients come from the guide
(``upsampler.guide``: ImageNet-normalised RGB plus a depth estimate, or the learned
features). The depth estimate given to the guide is the nearest-measurement fill: it
jumps where neighbouring measurements disagree and is flat where they agree, so depth
edges block the diffusion as RGB edges do (a smooth fill would blur them away).

Two steps adapt this to real LiDAR scans (measured on the KITTI Velodyne held-out protocol
of ``benchmarks/sparse_benchmark.py``, cross-checked on the KITTI semi-dense ground truth
and on NYU holes; README, "Sparse depth"):

* **Scan-line bridging** (:func:`bridge_rows`). A spinning LiDAR sweeps its beams along the
  image rows: consecutive samples of one beam sit 1-2 px apart along a row, the next beam
  4-6 px above or below, and with the LiDAR mounted apart from the camera, a neighbouring
  beam often hit another surface (it sees past the camera's occlusion boundaries). So
  the best evidence for a pixel on a scan line is the beam's own samples beside it. Two
  consecutive measurements of one row that are less than :data:`BRIDGE_SPACINGS` mean
  spacings apart and agree within :data:`BRIDGE_TOLERANCE` (relative) are joined by linear
  interpolation, and the joined pixels are held fixed like measurements. Pairs that
  disagree (a depth edge inside the row) give the pixels between them the same
  interpolation as their *start* at the finest level, not as a constraint: where the guide
  shows an edge the diffusion moves them little and they keep the blend of the two sides
  (the least-squares guess when the guide cannot tell the side); elsewhere the diffusion
  takes over.
* **Edge support** (:func:`edge_support`). The guide's coefficients are relaxed towards 1
  where the measurements around a pixel span less than :data:`SUPPORT_RANGE` ``[0]``
  (relative) and kept as they are above ``[1]``: RGB edges only stop the diffusion where the
  depth could have an edge. Texture on a smooth surface (road, grass) otherwise stalls the
  explicit diffusion far from its Dirichlet values.

Speed comes from a coarse-to-fine scheme with a fixed budget:

1. Depth is normalised by the mean of the valid measurements (the caller's array is not
   touched) and the image is padded to a multiple of ``2**(levels - 1)``.
2. The measurements are averaged into a pyramid: a cell of a coarser level is fixed to the
   mean of the measurements inside it, cells without any stay free.
3. The guide's coefficients are coarsened like a resistor network
   (:func:`dada_ros.core.solver.coarsen_coefficients`), so an edge that cuts a coarse link
   keeps it weak.
4. The coarsest level starts from a nearest-measurement fill; every level runs
   ``iterations`` diffusion steps with its fixed cells held, then is upsampled bilinearly
   as the start of the next finer level (fixed cells reset to their values).

The work is the same for every frame of a given size, about ``4/3 * iterations``
full-resolution stencil steps, all in preallocated buffers. Each step is a convex
combination of neighbouring values (Eq. 1 with ``rate * 4 < 1`` and ``c <= 1``), so the
output stays within the range of the measurements. The diffusion is deliberately the
paper's explicit step rather than an accelerated solver: on the KITTI LiDAR-like tests the
coarse-to-fine result after a moderate budget scores better than the fully converged
harmonic interpolation, which leaks through textured regions (measured while building it:
held-out RMSE 0.97 m at 64 steps vs 1.01 m at 256 on frame 0000000005).

Output rules: measured pixels are bit-exactly ``float32(depth)``; with ``fill_holes``
false, pixels farther than :func:`hole_distance` from every measurement are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, List, Optional, Tuple

import cv2
import numpy as np
from scipy import ndimage
import torch
import torch.nn.functional as F

from . import kernels
from .diffusion import LAMBDA
from .guides import RgbGuide, SelfGuidedGuide
from .inputs import check_arrays, rgb_features
from .solver import coarsen_coefficients

#: Smallest side of the coarsest pyramid level.
MIN_COARSE_SIDE = 8
#: Most pyramid levels.
MAX_LEVELS = 8
#: With ``fill_holes`` false a pixel is left NaN when its nearest measurement is farther
#: than this many times the mean spacing ``sqrt(H * W / measurements)`` of the measurements.
HOLE_SPACINGS = 2.0
#: Smallest such distance in pixels.
HOLE_MIN_DISTANCE = 2.0
#: Row bridging joins two consecutive measurements of one image row when they are at most
#: this many mean spacings ``sqrt(H * W / measurements)`` apart ...
BRIDGE_SPACINGS = 3.0
#: ... and differ by at most this fraction of the nearer one (one surface, not an edge).
BRIDGE_TOLERANCE = 0.05
#: Share of the nearest-measurement fill in the start of the finest level at free pixels
#: (the rest: the upsampled coarser level). Chosen on 3 KITTI frames with 64, 32 and 16 beams
#: (0, 0.5, 1 tried; ``benchmarks/lidar_beams.py``): 0 loses to linear interpolation at 16
#: beams, 1 at 32 beams.
NEAREST_START = 0.5
#: Relative depth range of the measurements around a pixel below which the guide's
#: coefficients are replaced by 1 (a smooth surface) and above which they are kept as they
#: are (a possible depth edge); linear in between.
SUPPORT_RANGE: Tuple[float, float] = (0.05, 0.2)
#: Smallest side of the window of :func:`edge_support` (it grows with the mean spacing).
SUPPORT_MIN_WINDOW = 9


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
        """The compiled kernel's inputs: ``rate * c`` once per link and the free pixels.

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


def _nearest_fill(values: np.ndarray, valid: np.ndarray, with_distance: bool = False,
                  kernel: str = 'auto') -> Tuple[np.ndarray, np.ndarray]:
    """Nearest-valid fill of a 2-D array and (optionally) the distance to it in pixels.

    The exact Euclidean feature transform: the compiled separable one of
    :func:`dada_ros.core.kernels.nearest_indices` (3-4x faster than scipy's at 640x480 and
    1280x720, the same nearest pixels) unless ``kernel`` (the ``cpu_kernel`` parameter) is
    ``'torch'`` or numba is missing, then scipy's. (OpenCV's labelled distance transform
    is as fast but approximate: it picks a farther measurement at near-ties, which on the
    KITTI scans cost 1-3 % held-out RMSE through the guide's depth channel.)
    """
    if kernels.use_compiled(kernel, torch.device('cpu')) and valid.any():
        shape = valid.shape
        rows, cols, scratch = (np.empty(shape, np.int32) for _ in range(3))
        kernels.nearest_indices(np.ascontiguousarray(valid), rows, cols, scratch)
        distance = np.hypot(rows - np.arange(shape[0])[:, None],
                            cols - np.arange(shape[1])[None, :]) if with_distance \
            else np.zeros(0)
        return values[rows, cols], distance
    result = ndimage.distance_transform_edt(~valid, return_distances=with_distance,
                                            return_indices=True)
    distance, (rows, cols) = result if with_distance else (np.zeros(0), result)
    return values[rows, cols], distance


def mean_spacing(height: int, width: int, measurements: int) -> float:
    """Mean distance between measurements in pixels: ``sqrt(H * W / measurements)``."""
    return math.sqrt(height * width / max(measurements, 1))


def bridge_rows(depth: np.ndarray, valid: np.ndarray, max_gap: int,
                tolerance: float = BRIDGE_TOLERANCE) -> Tuple[np.ndarray, np.ndarray]:
    """Join consecutive measurements of each image row that agree (scan-line bridging).

    Two measurements ``(r, c1)`` and ``(r, c2)`` with no measurement between them,
    ``1 < c2 - c1 <= max_gap`` and ``|d2 - d1| <= tolerance * min(d1, d2)`` fill the pixels
    between them by linear interpolation in the column.

    Args:
        depth: ``(H, W)`` float32, any value where not ``valid``.
        valid: ``(H, W)`` bool measurements.
        max_gap: largest column distance of a joined pair (pixels).
        tolerance: largest relative depth difference of a joined pair.

    Returns:
        ``(bridged, filled)``: a new float32 array with the joined pixels set (other pixels
        as in ``depth``) and the mask of measured or joined pixels.
    """
    rows, cols = np.nonzero(valid)  # row-major, so consecutive entries of a row are neighbours
    values = depth[rows, cols]
    gap = np.diff(cols)
    near = np.minimum(values[:-1], values[1:])
    joined = (rows[1:] == rows[:-1]) & (gap > 1) & (gap <= max_gap) \
        & (np.abs(np.diff(values)) <= tolerance * near)
    bridged = depth.astype(np.float32, copy=True)
    filled = valid.copy()
    if not joined.any():
        return bridged, filled
    start = np.nonzero(joined)[0]
    inner = gap[start] - 1  # pixels strictly between the pair
    pair = np.repeat(np.arange(len(start)), inner)
    step = np.arange(len(pair)) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    first = start[pair]
    weight = step / gap[first]
    bridged[rows[first], cols[first] + step] = \
        values[first] + (values[first + 1] - values[first]) * weight
    filled[rows[first], cols[first] + step] = True
    return bridged, filled


def bridge_scan_lines(depth: np.ndarray, valid: np.ndarray, max_gap: int,
                      tolerance: float = BRIDGE_TOLERANCE) -> Tuple[np.ndarray, np.ndarray]:
    """Scan-line bridging (:func:`bridge_rows`) that follows a line onto the next row.

    A projected LiDAR ring is a curve: where it steps from row ``r`` to ``r +- 1`` the
    measurement at ``(r, c1)`` has no partner on its own row, and the pixels of the step are
    left to the diffusion, which mixes in the rings above and below (their distance grows
    with fewer beams). Here a measurement without a partner on its row within ``max_gap``
    joins the nearest measurement to its right on the row above (or, without one there, on
    the row below), with the same depth rule; the pixels between take the
    linear interpolation in the column, on the first row up to half way and on the second
    after it. Pairs on one row are those of :func:`bridge_rows`.

    Args:
        depth: ``(H, W)`` float32, any value where not ``valid``.
        valid: ``(H, W)`` bool measurements.
        max_gap: largest column distance of a joined pair (pixels).
        tolerance: largest relative depth difference of a joined pair.

    Returns:
        ``(bridged, filled)``: a new float32 array with the joined pixels set (other pixels
        as in ``depth``) and the mask of measured or joined pixels.
    """
    if depth.shape != valid.shape or depth.ndim != 2 or valid.dtype != np.bool_:
        raise ValueError(f'depth and valid must be (H, W) with valid bool, got {depth.shape}, '
                         f'{valid.shape} {valid.dtype}')
    height, width = valid.shape
    rows, cols = np.nonzero(valid)  # row-major
    values = depth[rows, cols]
    key = rows.astype(np.int64) * width + cols
    partner = np.zeros(len(rows), dtype=np.int64)
    gap = np.full(len(rows), max_gap + 1, dtype=np.int64)  # no partner yet
    for offset in (0, -1, 1):  # the own row first: a neighbour row only where it has none
        target = rows + offset
        found = np.minimum(np.searchsorted(key, target * width + cols, side='right'),
                           len(rows) - 1)
        candidate = np.where((rows[found] == target) & (cols[found] > cols),
                             cols[found] - cols, max_gap + 1)
        better = (candidate < gap) & (gap > max_gap)
        partner[better] = found[better]
        gap[better] = candidate[better]
    joined = (gap > 1) & (gap <= max_gap) \
        & (np.abs(values[partner] - values) <= tolerance * np.minimum(values, values[partner]))
    bridged = depth.astype(np.float32, copy=True)
    filled = valid.copy()
    start = np.nonzero(joined)[0]
    if not len(start):
        return bridged, filled
    inner = gap[start] - 1  # pixels strictly between the pair
    pair = np.repeat(np.arange(len(start)), inner)
    step = np.arange(len(pair)) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    first, second = start[pair], partner[start][pair]
    row = np.where(2 * step < gap[first], rows[first], rows[second])
    col = cols[first] + step
    between = ~valid[row, col]  # a step pair may pass a measurement of the other row
    value = values[first] + (values[second] - values[first]) * (step / gap[first])
    bridged[row[between], col[between]] = value[between]
    filled[row[between], col[between]] = True
    return bridged, filled


def edge_support(nearest: np.ndarray, window: int,
                 limits: Tuple[float, float] = SUPPORT_RANGE) -> np.ndarray:
    """Whether the measurements around each pixel could hold a depth edge, in [0, 1].

    The relative range ``(max - min) / min`` of the nearest-measurement fill over a
    ``window x window`` neighbourhood, mapped linearly from ``limits[0]`` (0: one smooth
    surface) to ``limits[1]`` (1: an edge).

    Args:
        nearest: ``(H, W)`` positive float32 nearest-measurement fill.
        window: side of the square neighbourhood (pixels).
        limits: relative ranges mapped to 0 and 1.

    Returns:
        ``(H, W)`` float32.
    """
    # The max / min over the window with the border replicated (scipy's mode 'nearest');
    # OpenCV's morphology gives the same values about 40x faster (odd windows).
    if window % 2 == 0:
        raise ValueError(f'window must be odd, got {window}')
    square = np.ones((window, window), np.uint8)
    source = np.ascontiguousarray(nearest, dtype=np.float32)
    high = cv2.dilate(source, square, borderType=cv2.BORDER_REPLICATE)
    low = cv2.erode(source, square, borderType=cv2.BORDER_REPLICATE)
    spread = (high - low) / np.maximum(low, np.float32(1e-6))
    return np.clip((spread - limits[0]) / (limits[1] - limits[0]), 0.0, 1.0).astype(np.float32)


def supported_coefficients(cv: torch.Tensor, ch: torch.Tensor,
                           support: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Relax coefficients towards 1 where no depth edge is supported.

    ``c' = 1 - s * (1 - c)`` with ``s`` the larger support of the two pixels of a link.

    Args:
        cv: ``(H-1, W)`` vertical coefficients in (0, 1].
        ch: ``(H, W-1)`` horizontal coefficients.
        support: ``(H, W)`` from :func:`edge_support`.
    """
    support_v = torch.maximum(support[1:, :], support[:-1, :])
    support_h = torch.maximum(support[:, 1:], support[:, :-1])
    return 1.0 - support_v * (1.0 - cv), 1.0 - support_h * (1.0 - ch)


def _check(rgb: np.ndarray, depth: np.ndarray) -> None:
    check_arrays(rgb, depth)
    if depth.shape != rgb.shape[:2]:
        raise ValueError(f'sparse depth {depth.shape} must have the rgb size {rgb.shape[:2]}')


def hole_distance(height: int, width: int, measurements: int) -> float:
    """Distance (pixels) beyond which ``fill_holes`` false leaves a pixel NaN.

    ``max(HOLE_MIN_DISTANCE, HOLE_SPACINGS * sqrt(H * W / measurements))``: twice the mean
    spacing of the measurements, so the gaps of a regular pattern are filled and the regions
    no sensor ray reached (sky above a LiDAR, large holes of a structured-light camera) are
    not.
    """
    return max(HOLE_MIN_DISTANCE, HOLE_SPACINGS * mean_spacing(height, width, measurements))


@torch.inference_mode()
def complete_sparse(upsampler: Any, rgb: np.ndarray, depth: np.ndarray,
                    iterations: Optional[int] = None) -> np.ndarray:
    """Complete sparse ``depth`` guided by ``rgb``.

    Args:
        upsampler: the :class:`~dada_ros.core.DepthUpsampler` whose ``guide``, ``device``
            and ``params`` (``iterations``, ``fill_holes``, ``solver``) are used; the solver
            buffers are kept on it between calls.
        rgb: ``(H, W, 3)`` uint8 image in RGB order.
        depth: ``(H, W)`` float depth, any positive unit; NaN, Inf and values <= 0 are
            invalid. Not modified.
        iterations: budget of this call (default: the upsampler's ``iterations``).

    Returns:
        ``(H, W)`` float32 depth in the unit of ``depth``. Measured pixels hold exactly
        ``float32(depth)``. All NaN when no pixel is valid. With ``fill_holes`` false,
        pixels farther than :func:`hole_distance` from every measurement are NaN.
        ``solver`` 'reference' runs the plain iteration at full resolution only, starting
        from the nearest fill (slow to converge; for comparison).
    """
    _check(rgb, depth)
    with np.errstate(invalid='ignore'):
        depth32 = depth.astype(np.float32)  # a copy: the caller's array is never touched
        valid = np.isfinite(depth32) & (depth32 > 0)
    height, width = depth32.shape
    count = int(valid.sum())
    if count == 0:
        return np.full((height, width), np.nan, dtype=np.float32)
    scale = float(depth32[valid].astype(np.float64).mean())
    depth32[~valid] = 0.0
    spacing = mean_spacing(height, width, count)
    # Scan-line bridging: joined pixels are held like measurements (module docstring).
    max_gap = int(BRIDGE_SPACINGS * spacing)
    bridged, fixed = bridge_scan_lines(depth32, valid, max_gap)
    normalised = bridged / np.float32(scale)
    # Pairs that disagree only give the start of the finest level (module docstring).
    blended, hinted = bridge_scan_lines(depth32, valid, max_gap, math.inf)
    hinted &= ~fixed
    fill_holes = bool(upsampler.params['fill_holes'])
    kernel = upsampler.params['cpu_kernel']
    nearest, _ = _nearest_fill(normalised, fixed, kernel=kernel)

    device = upsampler.device
    reference = upsampler.params.get('solver') == 'reference'
    solver = upsampler.sparse_solvers.get(reference)
    if solver is None:  # kept on the upsampler: its buffers are reused frame to frame
        solver = upsampler.sparse_solvers[reference] = SparseSolver(
            max_levels=1 if reference else MAX_LEVELS)
    solver.kernel = kernel
    solver.set_measurements(torch.from_numpy(normalised).to(device),
                            torch.from_numpy(fixed).to(device))

    # The depth feature of the guide is the nearest fill: sharp where the measurements
    # jump, flat where they agree, so depth edges stop the diffusion as RGB edges do.
    nearest_t = torch.from_numpy(nearest).to(device)
    guide, rgb_t = upsampler.guide, rgb_features(rgb, device)
    if isinstance(guide, (RgbGuide, SelfGuidedGuide)) and guide.depth_weight > 0:
        # The depth feature here is the nearest fill, whose steps between measurement cells
        # are not scene edges: keep its channel at depth / mean (weight 1 on a mean-one
        # input), not the standardised, stronger channel of the low-res path, which would
        # make those steps barriers (measured: 7 % instead of 15 % below linear on the scans).
        spread = torch.full((1, 1, 1, 1), guide.depth_weight, device=device)
        cv, ch = guide.coefficients(rgb_t, nearest_t[None, None], spread=spread)
    else:
        cv, ch = guide.coefficients(rgb_t, nearest_t[None, None])
    # The window spans the gaps left after bridging (between scan lines for a LiDAR).
    fixed_spacing = mean_spacing(height, width, int(fixed.sum()))
    window = max(SUPPORT_MIN_WINDOW, 2 * math.ceil(fixed_spacing) + 1)
    support = torch.from_numpy(edge_support(nearest, window)).to(device)
    cv, ch = supported_coefficients(cv[0, 0].to(torch.float32), ch[0, 0].to(torch.float32),
                                    support)
    padded_h, padded_w = solver.padded_shape
    pad = (0, padded_w - width, 0, padded_h - height)
    cv = F.pad(cv[None, None], pad, value=1.0)[0, 0]
    ch = F.pad(ch[None, None], pad, value=1.0)[0, 0]
    # The other free pixels start the finest level half from the nearest measurement
    # (:data:`NEAREST_START`): with few beams the upsampled coarse levels mix in the rings
    # above and below at the pixels of a line's own gaps.
    blended = np.where(hinted, blended, nearest * np.float32(scale))
    hint_values = F.pad(torch.from_numpy(blended / np.float32(scale)).to(device)[None, None],
                        pad)[0, 0]
    hint_mask = F.pad(torch.from_numpy(hinted).to(device)[None, None], pad)[0, 0]
    if reference:
        start = F.pad(nearest_t[None, None], pad, mode='replicate')[0, 0]
        start = torch.where(hint_mask, hint_values, start)
    else:
        values, coarse_fixed = solver.coarsest()
        start_np, _ = _nearest_fill(values.cpu().numpy(), coarse_fixed.cpu().numpy(),
                                    kernel=kernel)
        start = torch.from_numpy(start_np).to(device)
    budget = int(upsampler.params['iterations']) if iterations is None else int(iterations)
    result = solver.solve(cv, ch, start, budget, hint=(hint_values, hint_mask),
                          start_share=NEAREST_START)

    out = (result[:height, :width] * scale).cpu().numpy().astype(np.float32)
    # The step is a convex combination, so only rounding can leave the measured range.
    np.clip(out, depth32[valid].min(), depth32[valid].max(), out=out)
    out[valid] = depth32[valid]
    if not fill_holes:
        _, distance = _nearest_fill(depth32, valid, with_distance=True, kernel=kernel)
        out[distance > hole_distance(height, width, count)] = np.nan
    return out
