# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Initial high-resolution depth: bicubic upsampling that respects invalid pixels."""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage


def fill_nearest(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid entries of a 2-D array by the value of the nearest valid entry.

    Args:
        values: ``(h, w)`` array.
        valid: ``(h, w)`` bool array with at least one True.

    Returns:
        A new ``(h, w)`` array; ``values`` is not modified.
    """
    if valid.all():
        return values.copy()
    _, (rows, cols) = ndimage.distance_transform_edt(~valid, return_indices=True)
    return values[rows, cols]


def masked_bicubic(source: np.ndarray, valid: np.ndarray, factor: float) -> np.ndarray:
    """Bicubic upsampling of a low-resolution depth map with holes.

    Invalid low-resolution pixels are first filled from their nearest valid neighbour so
    they do not pull the interpolation towards zero; the result is clipped to the range of
    the valid source, which removes the overshoot of the cubic kernel at depth edges and
    keeps the estimate positive (the adjustment step needs positive values).

    Args:
        source: ``(h, w)`` float32 depth, any value where ``valid`` is False.
        valid: ``(h, w)`` bool, at least one True.
        factor: upsampling factor, an integer or any size ratio >= 1 (the same field of
            view: pixel centres map by ``(p + 0.5) / factor - 0.5``).

    Returns:
        ``(round(h * factor), round(w * factor))`` float32 array.
    """
    filled = source if valid.all() else fill_nearest(source, valid)
    filled = np.ascontiguousarray(filled, dtype=np.float32)
    size = (round(source.shape[1] * factor), round(source.shape[0] * factor))  # (W, H)
    # OpenCV's cubic kernel (a = -0.75), half-pixel centres and replicated border are
    # torch's ``interpolate(mode='bicubic', align_corners=False)``: equal to float rounding
    # (tested), about 10x faster at 1280x720.
    up = cv2.resize(filled, size, interpolation=cv2.INTER_CUBIC)
    low, high = float(source[valid].min()), float(source[valid].max())
    return np.clip(up, low, high, out=up)
