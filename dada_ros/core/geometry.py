# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Pinhole back-projection of depth images (ROS-free).

Coordinates follow the camera optical frame of REP 103 / REP 105: x points right,
y points down and z forward along the optical axis. A pixel ``(u, v)`` (column, row) with
depth ``z`` maps to ``((u - cx) * z / fx, (v - cy) * z / fy, z)``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .cloud_kernels import pixel_factors, write_points

__all__ = ['intrinsics', 'validate_intrinsics', 'decimate', 'backproject']


def validate_intrinsics(k: np.ndarray) -> np.ndarray:
    """Check a pinhole camera matrix and return it as a ``(3, 3)`` float64 copy.

    Raises:
        ValueError: when ``k`` does not hold 9 finite values, or ``fx`` / ``fy`` are not
            positive (an all-zero matrix means an uncalibrated camera).
    """
    matrix = np.array(k, dtype=np.float64, copy=True)
    if matrix.size != 9:
        raise ValueError(f'camera matrix K must have 9 values, got {matrix.size}')
    matrix = matrix.reshape(3, 3)
    if not np.all(np.isfinite(matrix)):
        raise ValueError('camera matrix K has non-finite values')
    if not np.any(matrix):
        raise ValueError('camera matrix K is all zero (uncalibrated camera)')
    if matrix[0, 0] <= 0.0 or matrix[1, 1] <= 0.0:
        raise ValueError(f'camera matrix K needs fx > 0 and fy > 0, got fx={matrix[0, 0]} '
                         f'fy={matrix[1, 1]}')
    return matrix


def intrinsics(k: np.ndarray) -> Tuple[float, float, float, float]:
    """Return ``(fx, fy, cx, cy)`` of a validated camera matrix ``k``."""
    matrix = validate_intrinsics(k)
    return (float(matrix[0, 0]), float(matrix[1, 1]), float(matrix[0, 2]),
            float(matrix[1, 2]))


def decimate(array: np.ndarray, stride: int) -> np.ndarray:
    """Keep every ``stride``-th row and column (starting at 0) of an image-shaped array.

    The result has ``ceil(H / stride)`` rows and ``ceil(W / stride)`` columns; it is a view
    of ``array`` when ``stride > 1`` allows (callers must not write into it).
    """
    if not isinstance(stride, (int, np.integer)) or isinstance(stride, bool) or stride < 1:
        raise ValueError(f'stride must be an integer >= 1, got {stride!r}')
    if array.ndim < 2:
        raise ValueError(f'expected an image-shaped array, got shape {array.shape}')
    return array[::stride, ::stride]


def backproject(depth: np.ndarray, k: np.ndarray, stride: int = 1,
                out: Optional[np.ndarray] = None) -> np.ndarray:
    """Back-project a depth image into an organized point array in the optical frame.

    Args:
        depth: ``(H, W)`` float array of depth along the optical axis (z) in any unit;
            NaN, Inf and values ``<= 0`` are invalid.
        k: ``(3, 3)`` (or 9-element) pinhole camera matrix for the ``(H, W)`` image.
        stride: keep every ``stride``-th row and column (pixel ``(0, 0)`` is always kept).
        out: optional float32 array of shape ``(rows, cols, C)``, ``C >= 3`` (e.g. the
            interleaved buffer of a point cloud): ``x, y, z`` are written into its first
            three channels and the view ``out[..., :3]`` is returned. Default: a new array.

    Returns:
        ``(ceil(H / stride), ceil(W / stride), 3)`` float32 array of ``(x, y, z)`` in the
        unit of ``depth``; all three coordinates are NaN for invalid pixels. Row ``i`` and
        column ``j`` of the output correspond to pixel ``(u, v) = (j * stride, i * stride)``.
    """
    if not isinstance(depth, np.ndarray) or depth.ndim != 2 \
            or not np.issubdtype(depth.dtype, np.number):
        raise ValueError('depth must be an (H, W) numeric array, got '
                         f'{getattr(depth, "dtype", type(depth))} {getattr(depth, "shape", "")}')
    matrix = validate_intrinsics(k)
    decimated = decimate(depth, stride)
    rows, cols = decimated.shape
    if out is None:
        out = np.empty((rows, cols, 3), dtype=np.float32)
    elif out.dtype != np.float32 or out.ndim != 3 or out.shape[:2] != (rows, cols) \
            or out.shape[2] < 3:
        raise ValueError(f'out must be float32 ({rows}, {cols}, >=3), got '
                         f'{out.dtype} {out.shape}')
    points = out[..., :3]
    # One pass (compiled when numba is installed), never writing into the caller's depth.
    write_points(decimated, *pixel_factors(matrix, rows, cols, stride), points)
    return points
