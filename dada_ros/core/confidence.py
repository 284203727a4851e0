# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""A per-pixel confidence of the dense depth, 0..1 (ROS-free).

The dense depth is exact where it is measured and smooth surfaces are easy; it goes wrong
where the guide has to place a depth edge that the input does not resolve, and far from any
measurement. The confidence is the product of two terms, each 1 at best and falling
towards 0:

* **support** ``1 / (1 + (d / d0)^2)``: ``d`` is the distance from the pixel to the
  nearest valid measurement, in units of the input's sampling: low-res blocks for
  ``lowres`` input (0 inside a valid block), the mean spacing ``sqrt(H W / n)`` of the
  ``n`` measured pixels for sparse input. ``d0 = 1``.
* **edge** ``1 / (1 + (r / r0)^2)``: ``r`` is the relative depth range
  ``(max - min) / mean(max, min)`` of the dense output in a window of about one input
  sample around the pixel (``f + 1`` pixels for ``lowres`` with factor ``f``, the spacing
  for sparse input); ``r0 = 0.05``. A depth discontinuity inside the window means the
  pixel may sit on the wrong side of an edge the solver had to place from the RGB image.

Both terms are scale-free (any depth unit). The confidence only needs the input depth and
the dense output, so it is the same for every guide and solver. :func:`mask_low_confidence`
implements ``confidence.min``. docs/sensors.md has the measured error per confidence bin.
"""

from __future__ import annotations

import math
from typing import Tuple

import numpy as np
from scipy import ndimage

__all__ = ['SUPPORT_SCALE', 'EDGE_SCALE', 'depth_confidence', 'mask_low_confidence']

#: ``d0``: distance (in input samples) at which the support term is 1/2.
SUPPORT_SCALE = 1.0
#: ``r0``: relative depth range in the window at which the edge term is 1/2.
EDGE_SCALE = 0.05
#: Largest window of the edge term (pixels), for very sparse input.
_MAX_WINDOW = 31


def _valid(depth: np.ndarray) -> np.ndarray:
    with np.errstate(invalid='ignore'):
        return np.isfinite(depth) & (depth > 0)


def _support_distance(depth: np.ndarray, shape: Tuple[int, int]) -> Tuple[np.ndarray, float]:
    """Distance to the nearest measurement in input samples, and the sample size in pixels."""
    height, width = shape
    valid = _valid(depth)
    if depth.shape == shape:  # sparse: in units of the mean spacing of the measurements
        spacing = math.sqrt(height * width / max(int(valid.sum()), 1))
        distance = ndimage.distance_transform_edt(~valid) / spacing
        return distance.astype(np.float32), spacing
    factor = height // depth.shape[0]
    blocks = ndimage.distance_transform_edt(~valid).astype(np.float32)
    return np.repeat(np.repeat(blocks, factor, axis=0), factor, axis=1), float(factor)


def _relative_range(dense: np.ndarray, window: int) -> np.ndarray:
    finite = np.isfinite(dense)
    # NaN pixels (unfilled holes) take a neighbour's value so they do not spread.
    if not finite.all():
        rows, cols = ndimage.distance_transform_edt(~finite, return_distances=False,
                                                    return_indices=True)
        dense = dense[rows, cols]
    high = ndimage.maximum_filter(dense, size=window, mode='nearest')
    low = ndimage.minimum_filter(dense, size=window, mode='nearest')
    with np.errstate(invalid='ignore', divide='ignore'):
        spread = 2.0 * (high - low) / np.abs(high + low)
    return np.nan_to_num(spread, nan=np.inf, posinf=np.inf).astype(np.float32)


def depth_confidence(dense: np.ndarray, depth: np.ndarray,
                     support_scale: float = SUPPORT_SCALE,
                     edge_scale: float = EDGE_SCALE) -> np.ndarray:
    """Return the confidence ``(H, W)`` float32 in 0..1 of a dense depth map.

    Args:
        dense: ``(H, W)`` float dense depth (NaN where the output has none).
        depth: the input it was computed from, same unit: ``(H / f, W / f)`` low-res depth
            (``lowres`` mode, integer factor ``f``) or ``(H, W)`` sparse depth (``sparse``
            mode; also registered depth and projected clouds); NaN or ``<= 0`` = invalid.
        support_scale: ``d0`` of the support term (input samples).
        edge_scale: ``r0`` of the edge term (relative depth range).

    Returns:
        ``(H, W)`` float32 in ``[0, 1]``; 0 where ``dense`` is NaN, and everywhere when
        ``depth`` has no valid pixel. Neither input is modified.
    """
    dense = np.asarray(dense, dtype=np.float32)
    depth = np.asarray(depth, dtype=np.float32)
    if dense.ndim != 2 or depth.ndim != 2:
        raise ValueError(f'dense and depth must be 2-D, got {dense.shape} and {depth.shape}')
    height, width = dense.shape
    if depth.shape != dense.shape:
        factor = height // max(depth.shape[0], 1)
        if factor < 1 or depth.shape[0] * factor != height or depth.shape[1] * factor != width:
            raise ValueError(f'depth {depth.shape} is neither the dense size {dense.shape} nor '
                             'that size divided by an integer factor')
    if not support_scale > 0 or not edge_scale > 0:
        raise ValueError('support_scale and edge_scale must be > 0')
    finite = np.isfinite(dense)
    if not finite.any() or not _valid(depth).any():
        return np.zeros((height, width), dtype=np.float32)
    distance, sample = _support_distance(depth, (height, width))
    support = 1.0 / (1.0 + (distance / np.float32(support_scale)) ** 2)
    window = min(_MAX_WINDOW, 2 * int(math.ceil(sample / 2.0)) + 1)
    edge = 1.0 / (1.0 + (_relative_range(dense, window) / np.float32(edge_scale)) ** 2)
    confidence = (support * edge).astype(np.float32)
    confidence[~finite] = 0.0
    return np.clip(confidence, 0.0, 1.0, out=confidence)


def mask_low_confidence(dense: np.ndarray, confidence: np.ndarray,
                        minimum: float) -> np.ndarray:
    """Return a copy of ``dense`` with NaN where ``confidence < minimum`` (``confidence.min``).

    ``minimum <= 0`` keeps every pixel (still a copy).
    """
    dense = np.array(dense, dtype=np.float32, copy=True)
    if np.shape(confidence) != dense.shape:
        raise ValueError(f'confidence {np.shape(confidence)} does not match dense {dense.shape}')
    if minimum > 0:
        dense[np.asarray(confidence) < minimum] = np.nan
    return dense
