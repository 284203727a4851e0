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

Three steps adapt this to real LiDAR scans (measured on the KITTI Velodyne held-out protocol
of ``benchmarks/sparse_benchmark.py`` and ``benchmarks/lidar_beams.py``, cross-checked on the
KITTI semi-dense ground truth and on NYU holes; README, "Sparse depth"). Whether the input
is a scan at all is read from the measurements (:func:`scan_lines`), never from a beam table;
the second step and a weaker depth channel (:data:`LINE_DEPTH_WEIGHT`) apply to scans only:

* **Scan-line bridging** (:func:`bridge_scan_lines`). A spinning LiDAR sweeps its beams
  along the image rows: consecutive samples of one beam sit 1-2 px apart along a row, the
  next beam 4-20 px above or below, and with the LiDAR mounted apart from the camera, a
  neighbouring beam often hit another surface (it sees past the camera's occlusion
  boundaries). So the best evidence for a pixel on a scan line is the beam's own samples
  beside it. Two consecutive measurements of one row (or of a line stepping to the next
  row, where its own row has no partner) that are less than :data:`BRIDGE_SPACINGS` mean
  spacings apart and agree within :data:`BRIDGE_TOLERANCE` (relative) are joined by linear
  interpolation, and the joined pixels are held fixed like measurements. Pairs that
  disagree (a depth edge inside the row) give the pixels between them the same
  interpolation as their *start* at the finest level, not as a constraint: where the guide
  shows an edge the diffusion moves them little and they keep the blend of the two sides
  (the least-squares guess when the guide cannot tell the side); elsewhere the diffusion
  takes over. (Holding the blends too scored 3-4 % better on the held-out scan pixels,
  but worse between the lines and across clear colour edges: not kept.)
* **Line ends** (:func:`line_ends`). A free pixel within :data:`END_SPACINGS` mean spacings
  of the end of a joined run on its row starts the finest level from the run's end value
  (a start, not a constraint): a projected line steps between rows, so the pixels just past
  a run's end are mostly the same line, but past an object's outline they are not, and the
  diffusion (stopped by the guide's edges) settles those.
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

import math
from typing import Tuple

import cv2
import numpy as np
from scipy import ndimage
import torch
import torch.nn.functional as F

from . import kernels
from .guides import Guide, RgbGuide, SelfGuidedGuide
from .inputs import check_arrays, rgb_features
from .sparse_solver import SparseSolver

#: With ``fill_holes`` false a pixel is left NaN when its nearest measurement is farther
#: than this many times the mean spacing ``sqrt(H * W / measurements)`` of the measurements.
HOLE_SPACINGS = 2.0
#: Smallest such distance in pixels.
HOLE_MIN_DISTANCE = 2.0
#: Scan-line bridging joins two consecutive measurements of one image row (or of a line
#: stepping to the next row) when they are at most this many mean spacings
#: ``sqrt(H * W / measurements)`` apart (4 tried on the selection frames of
#: ``benchmarks/lidar_beams.py``: 1-2 % lower held-out RMSE at 64 beams, 1-2 % higher on the
#: pixels of dropped rings) ...
BRIDGE_SPACINGS = 3.0
#: ... and differ by at most this fraction of the nearer one (one surface, not an edge).
BRIDGE_TOLERANCE = 0.05
#: The measurements lie on scan lines when the median gap between consecutive
#: measurements of a row is at most this many mean spacings (:func:`scan_lines`). Uniformly
#: scattered samples give about ``0.69 / sqrt(density)`` (at least about 0.7); measured:
#: registered depth of ``benchmarks/camera_table.py`` 0.78-1.13, depth with holes 0.83-0.88,
#: the KITTI scans 0.27 (16 beams) to 0.57 (64 beams).
LINE_GAP_RATIO = 0.65
#: On scan lines, free pixels at most this many mean spacings along a row past the end of a
#: joined run start the finest level from the run's end value (:func:`line_ends`). Chosen on
#: the selection frames of ``benchmarks/lidar_beams.py`` (0.5, 1, 2, 3, 4 tried; held as
#: constraints instead, they cost 5-25 % on the pixels of dropped rings).
END_SPACINGS = 2.0
#: Weight of the depth channel (the nearest fill over the mean depth) beside the colour
#: channels in the guide's coefficients for sparse input ...
SPARSE_DEPTH_WEIGHT = 1.0
#: ... and on scan lines, where the nearest fill's steps half way between two lines are no
#: edges (0.25, 0.5, 1, 2 tried on the selection frames of ``benchmarks/lidar_beams.py``).
LINE_DEPTH_WEIGHT = 0.5
#: Share of the nearest-measurement fill in the start of the finest level at free pixels
#: (the rest: the upsampled coarser level). Chosen on KITTI selection frames with 64, 32 and
#: 16 beams (0, 0.25, 0.5, 0.75, 1 tried; ``benchmarks/lidar_beams.py``).
NEAREST_START = 0.5
#: Relative depth range of the measurements around a pixel below which the guide's
#: coefficients are replaced by 1 (a smooth surface) and above which they are kept as they
#: are (a possible depth edge); linear in between.
SUPPORT_RANGE: Tuple[float, float] = (0.05, 0.2)
#: Smallest side of the window of :func:`edge_support` (it grows with the mean spacing).
SUPPORT_MIN_WINDOW = 9


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


def scan_lines(valid: np.ndarray, ratio: float = LINE_GAP_RATIO) -> bool:
    """Whether the measurements lie on scan lines along the image rows (a spinning LiDAR).

    Derived from the mask alone, no beam layout: the median column gap between consecutive
    measurements of a row is at most ``ratio`` times :func:`mean_spacing`. Samples on lines
    sit closer along their line than the mean spacing (which also spans the gaps between
    lines); scattered samples, a regular grid or dense depth with holes do not.

    Args:
        valid: ``(H, W)`` bool measurements.
        ratio: largest median row gap in mean spacings.
    """
    if valid.ndim != 2 or valid.dtype != np.bool_:
        raise ValueError(f'valid must be (H, W) bool, got {valid.shape} {valid.dtype}')
    rows, cols = np.nonzero(valid)  # row-major
    same_row = rows[1:] == rows[:-1]
    if not same_row.any():
        return False
    gap = float(np.median(np.diff(cols)[same_row]))
    return gap <= ratio * mean_spacing(valid.shape[0], valid.shape[1], len(rows))


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
    _check_mask(depth, valid)
    return _apply_joins(depth, valid, _scan_line_joins(depth, valid, max_gap), tolerance)


def bridge_scan_lines_both(depth: np.ndarray, valid: np.ndarray, max_gap: int,
                           tolerance: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
    """:func:`bridge_scan_lines` with ``tolerance`` and with every pair, pairs found once.

    Returns:
        ``(bridged, filled)`` of ``tolerance`` and ``(blended, joined)`` of an infinite one.
    """
    _check_mask(depth, valid)
    joins = _scan_line_joins(depth, valid, max_gap)
    return _apply_joins(depth, valid, joins, tolerance) + _apply_joins(depth, valid, joins,
                                                                       math.inf)


def _check_mask(depth: np.ndarray, valid: np.ndarray) -> None:
    if depth.shape != valid.shape or depth.ndim != 2 or valid.dtype != np.bool_:
        raise ValueError(f'depth and valid must be (H, W) with valid bool, got {depth.shape}, '
                         f'{valid.shape} {valid.dtype}')


#: The pixels of every scan-line join: ``(row, col, value, difference, nearer)``, the last
#: two the absolute depth difference and the nearer depth of the pixel's pair.
Joins = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _scan_line_joins(depth: np.ndarray, valid: np.ndarray, max_gap: int) -> Joins:
    """Pair every measurement with its partner (:func:`bridge_scan_lines`), any depths."""
    height, width = valid.shape
    rows, cols = np.nonzero(valid)  # row-major
    values = depth[rows, cols]
    key = rows.astype(np.int64) * width + cols
    count = len(rows)
    # the own row first: the partner is the next measurement in row-major order
    partner = np.minimum(np.arange(1, count + 1, dtype=np.int64), count - 1)
    gap = np.full(count, max_gap + 1, dtype=np.int64)  # no partner yet
    same_row = rows[partner] == rows
    same_row[-1:] = False
    gap[same_row] = np.minimum(cols[partner] - cols, max_gap + 1)[same_row]
    for offset in (-1, 1):  # a neighbour row only where the own row has none (dense input:
        # few pixels, so the searches stay cheap at 1280x720)
        todo = np.nonzero(gap > max_gap)[0]
        target = rows[todo] + offset
        found = np.minimum(np.searchsorted(key, target * width + cols[todo], side='right'),
                           count - 1)
        candidate = np.where((rows[found] == target) & (cols[found] > cols[todo]),
                             cols[found] - cols[todo], max_gap + 1)
        better = candidate <= max_gap
        partner[todo[better]] = found[better]
        gap[todo[better]] = candidate[better]
    start = np.nonzero((gap > 1) & (gap <= max_gap))[0]
    inner = gap[start] - 1  # pixels strictly between the pair
    pair = np.repeat(np.arange(len(start)), inner)
    step = np.arange(len(pair)) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    first, second = start[pair], partner[start][pair]
    row = np.where(2 * step < gap[first], rows[first], rows[second])
    col = cols[first] + step
    between = ~valid[row, col]  # a step pair may pass a measurement of the other row
    value = values[first] + (values[second] - values[first]) * (step / gap[first])
    difference = np.abs(values[second] - values[first])
    nearer = np.minimum(values[first], values[second])
    return (row[between], col[between], value[between], difference[between],
            nearer[between])


def _apply_joins(depth: np.ndarray, valid: np.ndarray, joins: Joins,
                 tolerance: float) -> Tuple[np.ndarray, np.ndarray]:
    """Set the joined pixels of pairs that differ by at most ``tolerance`` of the nearer."""
    row, col, value, difference, nearer = joins
    keep = difference <= tolerance * nearer
    bridged = depth.astype(np.float32, copy=True)
    filled = valid.copy()
    bridged[row[keep], col[keep]] = value[keep]
    filled[row[keep], col[keep]] = True
    return bridged, filled


def line_ends(bridged: np.ndarray, filled: np.ndarray, length: int,
              kernel: str = 'auto') -> Tuple[np.ndarray, np.ndarray]:
    """Extend every run of filled pixels of a row by its end value, ``length`` px each way.

    Where the extensions of two runs meet, the nearer run's value wins (the left one at a
    tie).

    Args:
        bridged: ``(H, W)`` float32 values at the ``filled`` pixels.
        filled: ``(H, W)`` bool measured or joined pixels.
        length: most pixels past a run's end (0: no extension).
        kernel: ``cpu_kernel``: the compiled row scan
            (:func:`dada_ros.core.kernels.line_ends`) unless ``'torch'`` or numba is
            missing, then numpy (the same result, about 40x slower at 1280x720).

    Returns:
        ``(values, extended)``: float32 ``(H, W)`` values at the extended pixels (0
        elsewhere) and the bool mask of the extended pixels (never a ``filled`` one).
    """
    if bridged.shape != filled.shape or filled.ndim != 2 or filled.dtype != np.bool_:
        raise ValueError(f'bridged and filled must be (H, W) with filled bool, got '
                         f'{bridged.shape}, {filled.shape} {filled.dtype}')
    if kernels.use_compiled(kernel, torch.device('cpu')):
        values = np.empty(filled.shape, np.float32)
        extended = np.empty(filled.shape, np.bool_)
        kernels.line_ends(np.ascontiguousarray(bridged, dtype=np.float32),
                          np.ascontiguousarray(filled), int(length), values, extended)
        return values, extended
    width = filled.shape[1]
    columns = np.arange(width, dtype=np.int64)
    # the column of the last filled pixel at or left of each pixel, and the next at or right
    left = np.maximum.accumulate(np.where(filled, columns, -width - length - 1), axis=1)
    right = np.minimum.accumulate(np.where(filled, columns, 2 * width + length + 1)[:, ::-1],
                                  axis=1)[:, ::-1]
    from_left, from_right = columns - left, right - columns
    use_left = from_left <= from_right
    distance = np.where(use_left, from_left, from_right)
    extended = ~filled & (distance <= length)
    source = np.clip(np.where(use_left, left, right), 0, width - 1)
    values = np.where(extended, np.take_along_axis(bridged, source, axis=1), 0.0)
    return values.astype(np.float32), extended


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
def complete_sparse(rgb: np.ndarray, depth: np.ndarray, guide: Guide, solver: SparseSolver,
                    iterations: int, *, device: torch.device = torch.device('cpu'),
                    fill_holes: bool = True, kernel: str = 'auto',
                    reference: bool = False) -> np.ndarray:
    """Complete sparse ``depth`` guided by ``rgb``.

    Args:
        rgb: ``(H, W, 3)`` uint8 image in RGB order.
        depth: ``(H, W)`` float depth, any positive unit; NaN, Inf and values <= 0 are
            invalid. Not modified.
        guide: gives the coefficients (Eq. 1) from the RGB and the nearest fill.
        solver: the :class:`SparseSolver` whose buffers are reused frame to frame (the
            caller keeps it, e.g. :class:`~dada_ros.core.upsampler.DepthUpsampler`).
        iterations: budget of this call (finest-level steps).
        device: where the guide and the solver run.
        fill_holes: without it, pixels farther than :func:`hole_distance` from every
            measurement are NaN.
        kernel: ``cpu_kernel`` (``'auto'``, ``'numba'`` or ``'torch'``).
        reference: the plain iteration at full resolution only, starting from the nearest
            fill (slow to converge; for comparison); ``solver`` must have one level.

    Returns:
        ``(H, W)`` float32 depth in the unit of ``depth``. Measured pixels hold exactly
        ``float32(depth)``. All NaN when no pixel is valid.
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
    # Scan-line bridging: joined pixels that agree are held like measurements, the others
    # only start the finest level (module docstring).
    spacing = mean_spacing(height, width, count)
    lines = scan_lines(valid)
    max_gap = int(BRIDGE_SPACINGS * spacing)
    bridged, fixed, blended, joined = bridge_scan_lines_both(depth32, valid, max_gap,
                                                             BRIDGE_TOLERANCE)
    normalised = bridged / np.float32(scale)
    blended /= np.float32(scale)
    nearest, _ = _nearest_fill(normalised, fixed, kernel=kernel)
    solver.kernel = kernel
    solver.set_measurements(torch.from_numpy(normalised).to(device),
                            torch.from_numpy(fixed).to(device))
    cv, ch = _sparse_coefficients(guide, rgb, nearest, fixed, device,
                                  LINE_DEPTH_WEIGHT if lines else SPARSE_DEPTH_WEIGHT)
    padded_h, padded_w = solver.padded_shape
    pad = (0, padded_w - width, 0, padded_h - height)
    cv = F.pad(cv[None, None], pad, value=1.0)[0, 0]
    ch = F.pad(ch[None, None], pad, value=1.0)[0, 0]
    start_values, hinted = _finest_start(blended, joined, fixed, nearest,
                                         int(END_SPACINGS * spacing) if lines else 0, kernel)
    hint_values = F.pad(torch.from_numpy(start_values).to(device)[None, None], pad)[0, 0]
    hint_mask = F.pad(torch.from_numpy(hinted).to(device)[None, None], pad)[0, 0]
    if reference:
        start = F.pad(torch.from_numpy(nearest).to(device)[None, None], pad,
                      mode='replicate')[0, 0]
        start = torch.where(hint_mask, hint_values, start)
    else:
        values, coarse_fixed = solver.coarsest()
        start_np, _ = _nearest_fill(values.cpu().numpy(), coarse_fixed.cpu().numpy(),
                                    kernel=kernel)
        start = torch.from_numpy(start_np).to(device)
    result = solver.solve(cv, ch, start, int(iterations), hint=(hint_values, hint_mask),
                          start_share=NEAREST_START)

    out = (result[:height, :width] * scale).cpu().numpy().astype(np.float32)
    # The step is a convex combination, so only rounding can leave the measured range.
    np.clip(out, depth32[valid].min(), depth32[valid].max(), out=out)
    out[valid] = depth32[valid]
    if not fill_holes:
        _, distance = _nearest_fill(depth32, valid, with_distance=True, kernel=kernel)
        out[distance > hole_distance(height, width, count)] = np.nan
    return out


def _finest_start(blended: np.ndarray, joined: np.ndarray, fixed: np.ndarray,
                  nearest: np.ndarray, end_length: int,
                  kernel: str) -> Tuple[np.ndarray, np.ndarray]:
    """Start of the finest level at free pixels: ``(values, hinted)``, both ``(H, W)``.

    Free pixels of disagreeing pairs (``joined`` but not ``fixed``) start from their blend,
    those within ``end_length`` px past a joined run's end from its end value
    (:func:`line_ends`); both are ``hinted``. The others start half from ``nearest``
    (:data:`NEAREST_START`, in the solver): with few beams the upsampled coarse levels mix
    in the lines above and below.
    """
    ends, extended = line_ends(blended, joined, end_length, kernel)
    hinted = joined & ~fixed
    values = np.where(hinted, blended, np.where(extended, ends, nearest))
    return values.astype(np.float32), hinted | extended


def _sparse_coefficients(guide: Guide, rgb: np.ndarray, nearest: np.ndarray,
                         fixed: np.ndarray, device: torch.device, depth_weight: float
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Return the coefficients ``(H-1, W)``, ``(H, W-1)`` of the sparse path (float32).

    The depth feature of the guide is the nearest fill: sharp where the measurements jump,
    flat where they agree, so depth edges stop the diffusion as RGB edges do. Links are
    then opened where the nearest fill has no edge support (:func:`edge_support`).
    """
    height, width = nearest.shape
    nearest_t = torch.from_numpy(nearest).to(device)
    rgb_t = rgb_features(rgb, device)
    if isinstance(guide, (RgbGuide, SelfGuidedGuide)) and guide.depth_weight > 0:
        # The nearest fill's steps between measurement cells are not scene edges: keep
        # its channel at depth_weight * depth / mean (a mean-one input), not the
        # standardised, stronger channel of the low-res path, which would make those steps
        # barriers (measured: 7 % instead of 15 % below linear on the scans).
        spread = torch.full((1, 1, 1, 1), guide.depth_weight / depth_weight,
                            device=device)
        cv, ch = guide.coefficients(rgb_t, nearest_t[None, None], spread=spread)
    else:
        cv, ch = guide.coefficients(rgb_t, nearest_t[None, None])
    # The window spans the gaps left after bridging (between scan lines for a LiDAR).
    fixed_spacing = mean_spacing(height, width, int(fixed.sum()))
    window = max(SUPPORT_MIN_WINDOW, 2 * math.ceil(fixed_spacing) + 1)
    support = torch.from_numpy(edge_support(nearest, window)).to(device)
    return supported_coefficients(cv[0, 0].to(torch.float32), ch[0, 0].to(torch.float32),
                                  support)
