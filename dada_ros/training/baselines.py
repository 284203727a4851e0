# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Classical guided-upsampling baselines: bicubic, guided filter, fast global smoother.

All take ``rgb (H, W, 3)`` uint8 and a low-resolution ``source (h, w)`` float array (NaN =
invalid, any positive unit, ``H = f h``, ``W = f w``) and return ``(H, W)`` float32 in the
unit of the source. The filters smooth the bicubic upsampling under the RGB guide
(``cv2.ximgproc``, opencv-contrib). Their parameters are tuned per factor by
:func:`tune` on the *training* scenes only (see ``benchmarks/tune_baselines.py``); the
chosen values are stored in :data:`GUIDED_FILTER_PARAMS` and :data:`FGS_PARAMS`.
"""

from __future__ import annotations

import itertools
from typing import Callable, Dict, Iterable, Mapping, Sequence, Tuple

import cv2
import numpy as np

from ..core.inputs import prepare_lowres

#: Guided filter ``(radius, eps)`` per factor, eps in (8-bit intensity)^2. Chosen by
#: ``benchmarks/tune_baselines.py`` (mean RMSE over every other training scene, view 1) from
#: radius {2, 4, 8, 16, 32} x eps {10, 100, 1000, 10000}.
GUIDED_FILTER_PARAMS: Dict[int, Tuple[int, float]] = {
    4: (2, 10.0), 8: (4, 10.0), 16: (8, 10.0), 32: (16, 10.0)}
#: Fast global smoother ``(lambda, sigma_color)`` per factor, chosen the same way from
#: lambda {10, 100, 1000, 10000} x sigma_color {2, 4, 8, 16, 32}. (The smallest eps and
#: sigma_color were picked at some factors: both filters prefer to stay close to bicubic.)
FGS_PARAMS: Dict[int, Tuple[float, float]] = {
    4: (10.0, 4.0), 8: (100.0, 2.0), 16: (100.0, 4.0), 32: (1000.0, 2.0)}


def _factor(rgb: np.ndarray, source: np.ndarray) -> int:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'rgb must be HxWx3 uint8, got {rgb.dtype} {rgb.shape}')
    if source.ndim != 2:
        raise ValueError(f'source must be 2-D, got shape {source.shape}')
    (big_h, big_w), (h, w) = rgb.shape[:2], source.shape
    if h == 0 or w == 0 or big_h % h or big_w % w or big_h // h != big_w // w:
        raise ValueError(f'source {h}x{w} does not divide rgb {big_h}x{big_w} evenly')
    return big_h // h


def bicubic(rgb: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Bicubic upsampling (invalid pixels filled from the nearest valid one, range-clipped)."""
    factor = _factor(rgb, source)
    try:
        prepared = prepare_lowres(source, factor)
    except ValueError:  # no valid pixel
        return np.full(rgb.shape[:2], np.nan, np.float32)
    return (prepared.initial * np.float32(prepared.scale)).astype(np.float32)


def guided_filter(rgb: np.ndarray, source: np.ndarray, radius: int = 0,
                  eps: float = 0.0) -> np.ndarray:
    """He et al.'s guided filter of the bicubic upsampling (``radius``/``eps`` 0 = tuned)."""
    factor = _factor(rgb, source)
    radius, eps = (radius, eps) if radius > 0 else GUIDED_FILTER_PARAMS.get(
        factor, GUIDED_FILTER_PARAMS[max(GUIDED_FILTER_PARAMS)])
    base = bicubic(rgb, source)
    if not np.isfinite(base).any():
        return base
    out = cv2.ximgproc.guidedFilter(np.ascontiguousarray(rgb), base, int(radius), float(eps))
    return np.asarray(out, dtype=np.float32)


def fast_global_smoother(rgb: np.ndarray, source: np.ndarray, lam: float = 0.0,
                         sigma_color: float = 0.0) -> np.ndarray:
    """Min et al.'s fast global smoother of the bicubic upsampling (0 = tuned values)."""
    factor = _factor(rgb, source)
    lam, sigma_color = (lam, sigma_color) if lam > 0 else FGS_PARAMS.get(
        factor, FGS_PARAMS[max(FGS_PARAMS)])
    base = bicubic(rgb, source)
    if not np.isfinite(base).any():
        return base
    out = cv2.ximgproc.fastGlobalSmootherFilter(np.ascontiguousarray(rgb), base,
                                                float(lam), float(sigma_color))
    return np.asarray(out, dtype=np.float32)


Method = Callable[[np.ndarray, np.ndarray], np.ndarray]

BASELINES: Mapping[str, Method] = {
    'bicubic': bicubic, 'guided filter': guided_filter, 'FGS': fast_global_smoother}

GF_GRID = {'radius': (2, 4, 8, 16, 32), 'eps': (10.0, 100.0, 1000.0, 10000.0)}
FGS_GRID = {'lam': (10.0, 100.0, 1000.0, 10000.0), 'sigma_color': (2.0, 4.0, 8.0, 16.0, 32.0)}


def tune(samples: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]], method: Method,
         grid: Mapping[str, Iterable[float]]) -> Tuple[Dict[str, float], float]:
    """Grid search: the keyword values with the lowest mean RMSE over ``samples``.

    Args:
        samples: ``(rgb, source, gt)`` triples of one factor (gt NaN = unknown).
        method: called as ``method(rgb, source, **values)``.
        grid: candidate values per keyword.

    Returns:
        The best values and their mean RMSE.
    """
    names = list(grid)
    best: Tuple[Dict[str, float], float] = ({}, float('inf'))
    for values in itertools.product(*(tuple(grid[n]) for n in names)):
        kwargs = dict(zip(names, values))
        rmses = []
        for rgb, source, gt in samples:
            known = np.isfinite(gt)
            diff = method(rgb, source, **kwargs)[known] - gt[known]
            rmses.append(float(np.sqrt(np.mean(diff.astype(np.float64) ** 2))))
        score = float(np.mean(rmses))
        if score < best[1]:
            best = (kwargs, score)
    return best
