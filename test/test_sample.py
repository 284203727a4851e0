# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the embedded procedural RGB-D sample (dada_ros.tools.sample)."""

from __future__ import annotations

from dada_ros.tools import sample
import numpy as np
import pytest


def test_default_sample_shapes_ranges_and_intrinsics() -> None:
    rgb, depth, k = sample.sample_scene()
    assert rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8
    assert depth.shape == (480, 640) and depth.dtype == np.float32
    assert np.isfinite(depth).all()
    assert 0.8 <= float(depth.min()) < 1.2 and 3.5 < float(depth.max()) <= 4.0
    assert k.shape == (3, 3)
    assert (k[0, 0], k[1, 1], k[0, 2], k[1, 2]) == (525.0, 525.0, 319.5, 239.5)
    # Rich enough to be a useful guide: many colours and depth levels.
    assert rgb.reshape(-1, 3).std(axis=0).min() > 20
    assert len(np.unique(np.round(depth, 2))) > 200


def test_deterministic_and_fresh_copies() -> None:
    rgb1, depth1, _ = sample.sample_scene(96, 128)
    rgb1[:] = 0
    depth1[:] = -1.0
    rgb2, depth2, _ = sample.sample_scene(96, 128)
    assert rgb2.any() and (depth2 > 0).all()
    rgb3, depth3, _ = sample.sample_scene(96, 128)
    np.testing.assert_array_equal(rgb2, rgb3)
    np.testing.assert_array_equal(depth2, depth3)


def test_depth_matches_the_pinhole_geometry_of_the_floor() -> None:
    # The bottom-left pixel sees the floor: the height of the back-projected point below the
    # camera, in a world frame pitched back up, must be the camera height.
    height, width = 120, 160
    _, depth, k = sample.sample_scene(height, width)
    v, u = height - 1, 0  # bottom-left corner: floor
    z = float(depth[v, u])
    point = np.array([(u - k[0, 2]) / k[0, 0] * z, (v - k[1, 2]) / k[1, 1] * z, z])
    pitch = sample.PITCH_RAD
    world_y = np.cos(pitch) * point[1] + np.sin(pitch) * point[2]
    assert world_y == pytest.approx(sample.CAMERA_HEIGHT_M, rel=1e-5)


def test_colour_edges_and_depth_edges_partly_disagree() -> None:
    rgb, depth, _ = sample.sample_scene(240, 320)
    grey = rgb.astype(np.float64).mean(axis=2)
    colour_edge = np.abs(np.diff(grey, axis=1)) > 25
    depth_edge = np.abs(np.diff(depth, axis=1)) > 0.1
    assert (colour_edge & ~depth_edge).sum() > 100  # texture edges without depth edges
    assert (depth_edge & ~colour_edge).sum() > 20  # the camouflaged box
    assert (colour_edge & depth_edge).sum() > 50


def test_block_average_and_lowres() -> None:
    rgb, low, gt, k = sample.sample_lowres(8, 96, 128)
    assert low.shape == (12, 16) and low.dtype == np.float32
    assert rgb.shape == (96, 128, 3) and gt.shape == (96, 128)
    np.testing.assert_allclose(low[2, 3], gt[16:24, 24:32].mean(), rtol=1e-6)
    assert k[0, 0] == pytest.approx(525.0 * 128 / 640)
    holes = np.array([[1.0, np.nan], [3.0, np.nan]], dtype=np.float32)
    out = sample.block_average(holes, 1)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(holes))
    assert sample.block_average(holes, 2)[0, 0] == pytest.approx(2.0)
    assert np.isnan(sample.block_average(np.full((2, 2), np.nan, np.float32), 2)[0, 0])
    before = holes.copy()
    sample.block_average(holes, 2)
    np.testing.assert_array_equal(np.isnan(before), np.isnan(holes))


@pytest.mark.parametrize('bad', [(97, 128, 8), (96, 128, 0)])
def test_lowres_rejects_bad_factor(bad: tuple) -> None:
    with pytest.raises(ValueError):
        sample.sample_lowres(bad[2], bad[0], bad[1])


def test_rejects_bad_size() -> None:
    with pytest.raises(ValueError):
        sample.sample_scene(4, 640)
    with pytest.raises(ValueError):
        sample.block_average(np.zeros((4, 4), np.uint16), 2)  # type: ignore[arg-type]
