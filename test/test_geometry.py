# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the ROS-free pinhole back-projection in ``dada_ros.core.geometry``."""

from __future__ import annotations

from dada_ros.core.geometry import backproject, decimate, intrinsics, validate_intrinsics
import numpy as np
import pytest

K = np.array([[100.0, 0.0, 31.5], [0.0, 120.0, 23.5], [0.0, 0.0, 1.0]])


def test_plane_at_known_depth() -> None:
    """A constant depth gives z = depth and x, y on the pinhole rays."""
    depth = np.full((48, 64), 2.5, dtype=np.float32)
    points = backproject(depth, K)
    assert points.shape == (48, 64, 3)
    assert points.dtype == np.float32
    np.testing.assert_allclose(points[..., 2], 2.5)
    u = np.arange(64)
    v = np.arange(48)
    np.testing.assert_allclose(points[0, :, 0], (u - 31.5) * 2.5 / 100.0, rtol=1e-6)
    np.testing.assert_allclose(points[:, 0, 1], (v - 23.5) * 2.5 / 120.0, rtol=1e-6)
    # REP 103 optical frame: x grows to the right, y grows downwards.
    assert points[10, 63, 0] > 0 > points[10, 0, 0]
    assert points[47, 10, 1] > 0 > points[0, 10, 1]


def test_principal_point_maps_to_axis() -> None:
    """The principal point lies on the optical axis."""
    k = np.array([[80.0, 0, 20.0], [0, 80.0, 10.0], [0, 0, 1]])
    depth = np.random.default_rng(0).uniform(0.5, 5.0, (30, 40)).astype(np.float32)
    points = backproject(depth, k)
    np.testing.assert_allclose(points[10, 20], [0.0, 0.0, depth[10, 20]], atol=1e-7)


def test_pixel_formula_and_stride() -> None:
    """Pixel (u, v) maps to ((u-cx)z/fx, (v-cy)z/fy, z), also with decimation."""
    rng = np.random.default_rng(1)
    depth = rng.uniform(0.3, 9.0, (37, 53)).astype(np.float32)
    for stride in (1, 2, 5):
        points = backproject(depth, K.ravel(), stride)
        assert points.shape == (-(-37 // stride), -(-53 // stride), 3)
        for i, j in ((0, 0), (3, 7), (points.shape[0] - 1, points.shape[1] - 1)):
            u, v = j * stride, i * stride
            z = depth[v, u]
            expected = [(u - 31.5) * z / 100.0, (v - 23.5) * z / 120.0, z]
            np.testing.assert_allclose(points[i, j], expected, rtol=1e-5, atol=1e-7)


def test_invalid_depth_gives_nan_points() -> None:
    """NaN, Inf, zero and negative depths give all-NaN points; the input is unchanged."""
    depth = np.ones((4, 4), dtype=np.float32)
    depth[0, 0], depth[1, 1], depth[2, 2], depth[3, 3] = np.nan, np.inf, 0.0, -1.0
    before = depth.copy()
    points = backproject(depth, K)
    for i in range(4):
        assert np.isnan(points[i, i]).all()
    assert np.isfinite(points[0, 1]).all()
    np.testing.assert_array_equal(depth, before)


def test_intrinsics_validation() -> None:
    """Bad camera matrices are rejected with a reason."""
    assert intrinsics(K) == (100.0, 120.0, 31.5, 23.5)
    with pytest.raises(ValueError, match='all zero'):
        validate_intrinsics(np.zeros(9))
    with pytest.raises(ValueError, match='9 values'):
        validate_intrinsics(np.ones(8))
    with pytest.raises(ValueError, match='fx > 0'):
        validate_intrinsics(np.array([[0.0, 0, 1], [0, 1, 1], [0, 0, 1]]))
    with pytest.raises(ValueError, match='non-finite'):
        validate_intrinsics(np.array([[np.nan, 0, 1], [0, 1, 1], [0, 0, 1]]))


def test_decimate_and_bad_input() -> None:
    """Stride must be a positive integer and depth two-dimensional."""
    image = np.arange(30).reshape(5, 6)
    np.testing.assert_array_equal(decimate(image, 2), image[::2, ::2])
    with pytest.raises(ValueError):
        decimate(image, 0)
    with pytest.raises(ValueError):
        backproject(np.ones((2, 2, 2), dtype=np.float32), K)
