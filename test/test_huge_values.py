# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The core API with huge and tiny finite depth values (issue 23).

``DepthUpsampler`` is unit-free: it normalises by the median valid depth
(:func:`dada_ros.core.inputs.robust_scale`), which no single pixel can move, and treats
values more than :data:`~dada_ros.core.inputs.MAX_DEPTH_RATIO` times away from it as
invalid, so float32 arithmetic cannot overflow. Checked on a real NYUv2 frame
(``../shared/data``): two pixels of 3e38 give a finite frame, identical (to float rounding)
to the same frame with those two pixels invalid; a whole frame near the top or the bottom
of the float32 range gives the frame of depths 1-10 scaled.
"""

from __future__ import annotations

from typing import Tuple
import warnings

from dada_ros.core import DepthUpsampler
from dada_ros.core.inputs import MAX_DEPTH_RATIO, plausible_depth, robust_scale
from dada_ros.training.lidar import nyu_frames
import numpy as np
import pytest

FACTOR = 4
OUTLIERS = ((10, 10), (60, 100))


@pytest.fixture(scope='module')
def scene() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB (480x640), low-res depth (1/4, metres) and sparse depth (every 5th pixel)."""
    frame = nyu_frames()[0]
    low = np.ascontiguousarray(frame.depth[FACTOR // 2::FACTOR, FACTOR // 2::FACTOR],
                               dtype=np.float32)
    sparse = np.full(frame.depth.shape, np.nan, np.float32)
    sparse[::5, ::5] = frame.depth[::5, ::5]
    return frame.rgb, low, sparse


def _with(depth: np.ndarray, value: float, cells: Tuple[Tuple[int, int], ...]) -> np.ndarray:
    out = depth.copy()
    for row, col in cells:
        out[row, col] = value
    return out


def _solve(upsampler: DepthUpsampler, rgb: np.ndarray, depth: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # an overflow warning fails the test
        return upsampler(rgb, depth)


@pytest.mark.parametrize('mode', ['lowres', 'sparse'])
@pytest.mark.parametrize('value', [3e38, 1e-38, 1e9])
def test_outliers_change_nothing_else(scene: Tuple[np.ndarray, ...], mode: str,
                                      value: float) -> None:
    """Two absurd pixels: finite output, equal to the frame with those pixels invalid."""
    rgb, low, sparse = scene
    depth = low if mode == 'lowres' else sparse
    cells = OUTLIERS if mode == 'lowres' else ((50, 50), (400, 600))
    upsampler = DepthUpsampler(device='cpu', iterations=32, depth_mode=mode)
    before = depth.copy()
    hostile = _with(depth, value, cells)
    out = _solve(upsampler, rgb, hostile)
    reference = _solve(upsampler, rgb, _with(depth, np.nan, cells))
    np.testing.assert_array_equal(depth, before)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=0)


def test_a_whole_frame_near_the_float32_limits_is_scaled(
        scene: Tuple[np.ndarray, ...]) -> None:
    """Depth of 1-10 times 3e37 or 1e-37 gives the output for 1-10 scaled (no Inf, no 0)."""
    rgb, low, _ = scene
    upsampler = DepthUpsampler(device='cpu', iterations=32)
    unit = _solve(upsampler, rgb, low)
    for scale in (3e37, 1e-37):
        out = _solve(upsampler, rgb, (low.astype(np.float64) * scale).astype(np.float32))
        assert np.isfinite(out).all() and (out > 0).all()
        np.testing.assert_allclose(out / scale, unit, rtol=1e-4)


def test_the_scale_is_robust() -> None:
    """One pixel cannot move the median; the ratio bound is symmetric; no copy when clean."""
    rng = np.random.default_rng(0)
    depth = rng.uniform(1.0, 2.0, (100, 100)).astype(np.float32)
    assert robust_scale(_with(depth, 3e38, ((0, 0),))[depth > 0]) \
        == pytest.approx(robust_scale(depth.reshape(-1)), rel=1e-3)
    assert plausible_depth(depth) is depth
    scale = robust_scale(depth.reshape(-1))
    edge = _with(depth, scale * MAX_DEPTH_RATIO * 0.99, ((0, 0),))
    assert plausible_depth(edge) is edge
    cleaned = plausible_depth(_with(depth, scale * MAX_DEPTH_RATIO * 1.01, ((0, 0),)))
    assert np.isnan(cleaned[0, 0]) and np.isfinite(cleaned[1:]).all()
    assert np.isnan(plausible_depth(_with(depth, scale / MAX_DEPTH_RATIO / 1.01, ((5, 5),)))
                    [5, 5])
