# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Classical, unguided completion of sparse depth, as baselines for the guided completion.

Every function takes an ``(H, W)`` float depth map (any positive unit; NaN, Inf and
values <= 0 are invalid), does not modify it, and returns a new dense ``(H, W)`` float32
map in the same unit whose measured pixels equal ``float32(depth)`` exactly. A map without
any valid pixel gives all NaN.

* :func:`nearest_fill`: value of the nearest measurement (Euclidean distance).
* :func:`linear_fill`: piecewise-linear interpolation over the Delaunay triangulation of
  the measurements (``scipy.interpolate.griddata``), nearest outside their convex hull.
* :func:`morphological_fill`: a fast classical pipeline in the style of Ku, Harakeh and
  Waslander, "In Defense of Classical Image Processing: Fast Depth Completion on the CPU"
  (CRV 2018): inverted depth, diamond dilation, closing, hole filling with growing
  kernels, extension to the top of the image, median and Gaussian blur.
"""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np
from scipy import interpolate, ndimage


def _valid_depth(depth: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Check the input and return ``(float32 copy, valid mask)``."""
    if not isinstance(depth, np.ndarray) or depth.ndim != 2 \
            or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError('depth must be an (H, W) float array (NaN = invalid), got '
                         f'{getattr(depth, "dtype", type(depth))} {getattr(depth, "shape", "")}')
    with np.errstate(invalid='ignore'):
        depth32 = depth.astype(np.float32)  # always a copy
        valid = np.isfinite(depth32) & (depth32 > 0)
    return depth32, valid


def _finish(out: np.ndarray, depth32: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = out.astype(np.float32, copy=False)
    out[valid] = depth32[valid]
    return out


def nearest_fill(depth: np.ndarray) -> np.ndarray:
    """Fill every pixel with the value of its nearest measurement."""
    depth32, valid = _valid_depth(depth)
    if not valid.any():
        return np.full(depth32.shape, np.nan, dtype=np.float32)
    _, (rows, cols) = ndimage.distance_transform_edt(~valid, return_indices=True)
    return _finish(depth32[rows, cols], depth32, valid)


def linear_fill(depth: np.ndarray) -> np.ndarray:
    """Linear interpolation over the Delaunay triangles of the measurements.

    Pixels outside the convex hull of the measurements (and all pixels when fewer than
    three non-collinear measurements exist) take the nearest measurement.
    """
    depth32, valid = _valid_depth(depth)
    if not valid.any():
        return np.full(depth32.shape, np.nan, dtype=np.float32)
    out = nearest_fill(depth32)
    rows, cols = np.nonzero(valid)
    query_rows, query_cols = np.nonzero(~valid)
    if len(rows) >= 3 and len(query_rows):
        try:
            linear = interpolate.griddata(np.c_[rows, cols].astype(np.float64),
                                          depth32[valid].astype(np.float64),
                                          (query_rows, query_cols), method='linear')
        except Exception:  # degenerate (collinear) measurements: keep the nearest fill
            linear = np.full(len(query_rows), np.nan)
        inside = np.isfinite(linear)
        out[query_rows[inside], query_cols[inside]] = linear[inside]
    return _finish(out, depth32, valid)


def _diamond(size: int) -> np.ndarray:
    radius = size // 2
    offsets = np.abs(np.arange(size) - radius)
    return ((offsets[:, None] + offsets[None, :]) <= radius).astype(np.uint8)


def morphological_fill(depth: np.ndarray, max_depth: Optional[float] = None,
                       extend_to_top: bool = True) -> np.ndarray:
    """Classical morphological completion (ip_basic style, written for this project).

    Depth is inverted (``max_depth - d``, empty = 0) so that the max-filters of dilation
    prefer the nearer surface, which occludes the farther one. Then: dilation with a 5x5
    diamond, closing with a full 5x5 kernel, empty pixels filled from a 7x7 dilation,
    each column extended upwards from its top value (LiDAR sees nothing above its top
    beam), remaining holes filled from a 31x31 dilation, a 5x5 median blur and a 5x5
    Gaussian blur of the filled pixels, re-inversion. Measured pixels are restored at
    the end; anything still empty takes the nearest value.

    Args:
        depth: ``(H, W)`` float depth, NaN/Inf/<=0 invalid.
        max_depth: inversion constant, larger than every depth; default 1.05 times the
            largest measurement (the original uses a fixed 100 m for KITTI).
        extend_to_top: extend the top value of every column to the top of the image.
    """
    depth32, valid = _valid_depth(depth)
    if not valid.any():
        return np.full(depth32.shape, np.nan, dtype=np.float32)
    top = float(depth32[valid].max())
    if max_depth is None or max_depth <= top:
        max_depth = 1.05 * top
    inverted = np.zeros_like(depth32)
    inverted[valid] = np.float32(max_depth) - depth32[valid]
    full = {size: np.ones((size, size), np.uint8) for size in (5, 7, 31)}

    inverted = cv2.dilate(inverted, _diamond(5))
    inverted = cv2.morphologyEx(inverted, cv2.MORPH_CLOSE, full[5])
    empty = inverted <= 0
    inverted[empty] = cv2.dilate(inverted, full[7])[empty]
    if extend_to_top:
        filled = inverted > 0
        has_value = filled.any(axis=0)
        top_rows = np.argmax(filled, axis=0)
        columns = np.nonzero(has_value)[0]
        top_values = inverted[top_rows[columns], columns]
        above = np.arange(inverted.shape[0])[:, None] < top_rows[None, columns]
        block = inverted[:, columns]
        inverted[:, columns] = np.where(above, top_values[None, :], block)
    empty = inverted <= 0
    inverted[empty] = cv2.dilate(inverted, full[31])[empty]
    filled = inverted > 0
    blurred = cv2.medianBlur(inverted, 5)
    inverted[filled] = blurred[filled]
    blurred = cv2.GaussianBlur(inverted, (5, 5), 0)
    inverted[filled] = blurred[filled]

    out = np.full(depth32.shape, np.nan, dtype=np.float32)
    filled = inverted > 0
    out[filled] = np.float32(max_depth) - inverted[filled]
    if not filled.all():
        out = nearest_fill(out)
    return _finish(out, depth32, valid)
