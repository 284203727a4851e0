# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Depth from another camera and LiDAR clouds brought into the RGB camera.

The real-scene test renders a NYUv2 depth frame into a second, displaced and rotated
camera of another size and focal length (with a z-buffer written here, independent of the
code under test), registers that depth back into the RGB camera and compares it with the
original depth. The cloud test builds a ``PointCloud2`` from a real KITTI Velodyne scan and
checks the projection against the KITTI calibration chain of ``core.lidar``.
"""

from __future__ import annotations

import array

from dada_ros.core.registration import (choose_depth_mode, matrix_to_pose, parse_pose,
                                        pose_to_matrix, project_points, projection_matrix,
                                        register_depth, transform_points)
from dada_ros.msgs.clouds import cloud_to_xyz
from dada_ros.msgs.conversions import (CloudDataError, CloudFieldError, CloudMissingFieldError,
                                       ImageConversionError)
from dada_ros.training.lidar import (nyu_frames, project_velodyne, read_kitti_calib, read_velodyne,
                                     require_shared_data, RgbdFrame)
import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2, PointField


def _k(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def _rotation_y(degrees: float) -> np.ndarray:
    angle = np.deg2rad(degrees)
    return np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                     [-np.sin(angle), 0, np.cos(angle)]])


def test_pose_convention() -> None:
    """[x, y, z, qx, qy, qz, qw]: a 90 degree turn about z maps x to y, then translates."""
    half = np.sqrt(0.5)
    matrix = pose_to_matrix([1.0, 2.0, 3.0, 0.0, 0.0, half, half])
    np.testing.assert_allclose(transform_points(np.array([[1.0, 0, 0]]), matrix),
                               [[1.0, 3.0, 3.0]], atol=1e-12)
    np.testing.assert_allclose(pose_to_matrix('0 0 0 0 0 0 1'), np.eye(4))
    assert parse_pose('[0.015, 0, 0, 0, 0, 0, 1]') == (0.015, 0, 0, 0, 0, 0, 1)
    rng = np.random.default_rng(3)
    for _ in range(20):
        quaternion = rng.normal(size=4)
        quaternion /= np.linalg.norm(quaternion) * np.sign(quaternion[3])
        pose = (*rng.normal(size=3), *quaternion)
        np.testing.assert_allclose(matrix_to_pose(pose_to_matrix(pose)), pose, atol=1e-9)
        rotation = pose_to_matrix(pose)[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    for bad in ('', '1 2 3', [0.0] * 7, [np.nan] + [0.0] * 6, 'a b c d e f g', [0] * 8):
        with pytest.raises(ValueError):
            pose_to_matrix(bad)  # type: ignore[arg-type]


def test_projection_keeps_the_nearest_and_drops_points_behind() -> None:
    """Hand-computed pixels; the z-buffer keeps the nearest; behind/outside are dropped."""
    k = _k(100.0, 100.0, 10.0, 5.0)
    points = np.array([
        [0.0, 0.0, 2.0],     # principal point (10, 5)
        [0.0, 0.0, 1.5],     # same pixel, nearer: wins
        [0.0, 0.0, 3.0],     # same pixel, farther
        [0.2, 0.1, 2.0],     # (10 + 10, 5 + 5)
        [0.0, 0.0, -2.0],    # behind the camera
        [5.0, 0.0, 1.0],     # outside the image
        [np.nan, 0.0, 1.0],  # invalid
    ])
    depth = project_points(points, k, (12, 24))
    assert depth.shape == (12, 24) and depth.dtype == np.float32
    assert depth[5, 10] == np.float32(1.5)
    assert depth[10, 20] == np.float32(2.0)
    assert np.count_nonzero(np.isfinite(depth)) == 2
    with pytest.raises(ValueError):
        projection_matrix(np.zeros(9))
    with pytest.raises(ValueError):
        project_points(points, k, (0, 5))


def test_projection_with_stereo_offset() -> None:
    """P[:, 3] (a second view's baseline) moves the point by fx * Tx / z pixels."""
    k = _k(100.0, 100.0, 50.0, 5.0)
    p = np.hstack([k, [[-100.0 * 0.1], [0.0], [0.0]]])  # Tx = -fx * 0.1 m
    depth = project_points(np.array([[0.0, 0.0, 2.0]]), p, (12, 100))
    np.testing.assert_array_equal(np.argwhere(np.isfinite(depth)), [[5, 45]])


def _render(depth: np.ndarray, k_source: np.ndarray, source_to_target: np.ndarray,
            k_target: np.ndarray, shape: tuple, supersample: int = 3) -> np.ndarray:
    """Forward-warp a depth image into another camera: the test's own z-buffer.

    Each source pixel is split into ``supersample**2`` samples (nearest depth), so the
    rendered image has few holes besides the real disocclusions.
    """
    fine = np.repeat(np.repeat(depth, supersample, axis=0), supersample, axis=1)
    offset = (supersample - 1) / 2.0
    scale = np.diag([supersample, supersample, 1.0])
    k_fine = scale @ k_source
    k_fine[0, 2] = k_source[0, 2] * supersample + offset
    k_fine[1, 2] = k_source[1, 2] * supersample + offset
    rows, cols = np.nonzero(np.isfinite(fine))
    z = fine[rows, cols].astype(np.float64)
    x = (cols - k_fine[0, 2]) / k_fine[0, 0] * z
    y = (rows - k_fine[1, 2]) / k_fine[1, 1] * z
    moved = np.c_[x, y, z] @ source_to_target[:3, :3].T + source_to_target[:3, 3]
    u = np.rint(k_target[0, 0] * moved[:, 0] / moved[:, 2] + k_target[0, 2]).astype(int)
    v = np.rint(k_target[1, 1] * moved[:, 1] / moved[:, 2] + k_target[1, 2]).astype(int)
    ok = (moved[:, 2] > 0) & (u >= 0) & (u < shape[1]) & (v >= 0) & (v < shape[0])
    out = np.full(shape, np.inf)
    np.minimum.at(out, (v[ok], u[ok]), moved[ok, 2])
    out[np.isinf(out)] = np.nan
    return out.astype(np.float32)


@pytest.fixture(scope='module')
def nyu() -> RgbdFrame:
    """Return a real NYUv2 frame (640x480, metres, with holes)."""
    return nyu_frames()[1]


def test_register_real_scene_from_a_displaced_camera(nyu: RgbdFrame) -> None:
    """Depth of a second camera (848x480-like aspect, shifted 6 cm, turned 3 degrees)."""
    k_rgb = _k(nyu.fx, nyu.fy, nyu.cx, nyu.cy)
    rgb_to_depth = np.eye(4)
    rgb_to_depth[:3, :3] = _rotation_y(3.0)
    rgb_to_depth[:3, 3] = (-0.06, 0.01, 0.005)
    depth_shape = (300, 424)
    k_depth = _k(330.0, 330.0, 211.5, 149.5)
    depth_cam = _render(nyu.depth, k_rgb, rgb_to_depth, k_depth, depth_shape)
    assert np.isfinite(depth_cam).mean() > 0.5
    depth_to_rgb = np.linalg.inv(rgb_to_depth)
    pose = matrix_to_pose(depth_to_rgb)
    registered = register_depth(depth_cam, k_depth, pose_to_matrix(pose), k_rgb,
                                nyu.depth.shape)
    assert registered.shape == nyu.depth.shape
    hit = np.isfinite(registered) & np.isfinite(nyu.depth)
    assert hit.sum() > 0.2 * np.isfinite(nyu.depth).sum()
    relative = np.abs(registered[hit] - nyu.depth[hit]) / nyu.depth[hit]
    assert np.median(relative) < 0.005, np.median(relative)
    assert np.mean(relative < 0.02) > 0.95, np.mean(relative < 0.02)
    # Without registration (the depth image resized onto the RGB grid) the same scene is
    # far off: the test detects a wrong or missing transform.
    rows = np.clip(np.arange(480) * depth_shape[0] // 480, 0, depth_shape[0] - 1)
    cols = np.clip(np.arange(640) * depth_shape[1] // 640, 0, depth_shape[1] - 1)
    naive = depth_cam[np.ix_(rows, cols)]
    both = np.isfinite(naive) & np.isfinite(nyu.depth)
    naive_relative = np.abs(naive[both] - nyu.depth[both]) / nyu.depth[both]
    assert np.mean(naive_relative < 0.02) < 0.6
    wrong = register_depth(depth_cam, k_depth, rgb_to_depth, k_rgb, nyu.depth.shape)
    both = np.isfinite(wrong) & np.isfinite(nyu.depth)
    wrong_relative = np.abs(wrong[both] - nyu.depth[both]) / nyu.depth[both]
    assert np.mean(wrong_relative < 0.02) < 0.6


def test_register_any_size_ratio(nyu: RgbdFrame) -> None:
    """A depth image larger than the RGB image registers too (nearest point per pixel)."""
    k_rgb = _k(nyu.fx / 2, nyu.fy / 2, (nyu.cx - 0.5) / 2, (nyu.cy - 0.5) / 2)
    registered = register_depth(nyu.depth, _k(nyu.fx, nyu.fy, nyu.cx, nyu.cy), np.eye(4),
                                k_rgb, (240, 320))
    assert registered.shape == (240, 320)
    assert np.isfinite(registered).mean() > 0.6
    # Every output pixel holds the nearest of the input pixels that land in it.
    block_min = np.fmin.reduce(
        [nyu.depth[dy::2, dx::2] for dy in (0, 1) for dx in (0, 1)])
    both = np.isfinite(registered) & np.isfinite(block_min)
    assert np.mean(np.abs(registered[both] - block_min[both]) < 1e-6) > 0.97


def _cloud(points: np.ndarray, names: tuple, point_step: int, offsets: tuple,
           big_endian: bool = False, dtype: str = 'f4', height: int = 1,
           padding: int = 0) -> PointCloud2:
    """Build a PointCloud2 holding ``points`` columns as float fields, other bytes zero."""
    count = points.shape[0]
    width = count // height
    order = '>' if big_endian else '<'
    layout = np.dtype({'names': list(names), 'formats': [order + dtype] * len(names),
                       'offsets': list(offsets), 'itemsize': point_step})
    records = np.zeros(count, dtype=layout)
    for index, name in enumerate(names):
        records[name] = points[:, index]
    rows = records.view(np.uint8).reshape(height, width * point_step)
    if padding:
        rows = np.hstack([rows, np.zeros((height, padding), np.uint8)])
    datatype = PointField.FLOAT32 if dtype == 'f4' else PointField.FLOAT64
    msg = PointCloud2(height=height, width=width, point_step=point_step,
                      row_step=width * point_step + padding, is_bigendian=big_endian,
                      is_dense=False)
    msg.fields = [PointField(name=name, offset=offset, datatype=datatype, count=1)
                  for name, offset in zip(names, offsets)]
    msg.data = array.array('B', rows.tobytes())
    return msg


@pytest.fixture(scope='module')
def scan() -> np.ndarray:
    """Return a real KITTI Velodyne scan, ``(N, 4)`` x, y, z, reflectance."""
    return read_velodyne(require_shared_data() / 'kitti_object_lidar' / 'training'
                         / 'velodyne' / '000000.bin')


def test_cloud_reader_layouts(scan: np.ndarray) -> None:
    """Velodyne-, Ouster-like and float64 layouts, either byte order, padding, organised."""
    xyz = scan[:, :3]
    velodyne = _cloud(scan, ('x', 'y', 'z', 'intensity'), 16, (0, 4, 8, 12))
    np.testing.assert_array_equal(cloud_to_xyz(velodyne), xyz)
    # Ouster-like: reordered fields at other offsets, 48-byte points, big endian.
    points = scan[: (len(scan) // 64) * 64]
    ouster = _cloud(points[:, [3, 2, 0, 1]], ('intensity', 'z', 'x', 'y'), 48,
                    (16, 8, 0, 4), big_endian=True, height=64, padding=8)
    np.testing.assert_array_equal(cloud_to_xyz(ouster), points[:, :3])
    doubles = _cloud(xyz.astype(np.float64), ('x', 'y', 'z'), 32, (0, 8, 16), dtype='f8')
    np.testing.assert_array_equal(cloud_to_xyz(doubles), xyz)


def test_cloud_reader_drops_nan_points_and_reads_empty_clouds(scan: np.ndarray) -> None:
    """NaN/Inf points are dropped; an empty cloud gives (0, 3)."""
    points = scan[:1000].copy()
    points[::7, 0] = np.nan
    points[::11, 2] = np.inf
    kept = np.isfinite(points[:, :3]).all(axis=1)
    out = cloud_to_xyz(_cloud(points, ('x', 'y', 'z', 'intensity'), 16, (0, 4, 8, 12)))
    np.testing.assert_array_equal(out, points[kept, :3])
    assert out.dtype == np.float32
    empty = _cloud(np.zeros((0, 3), np.float32), ('x', 'y', 'z'), 12, (0, 4, 8))
    assert cloud_to_xyz(empty).shape == (0, 3)


def test_cloud_reader_errors(scan: np.ndarray) -> None:
    """Missing fields, integer fields, fields outside point_step, short data: clear kinds."""
    good = _cloud(scan[:100], ('x', 'y', 'z', 'intensity'), 16, (0, 4, 8, 12))
    no_z = _cloud(scan[:100], ('x', 'y', 'intensity'), 16, (0, 4, 12))
    integer = _cloud(scan[:100], ('x', 'y', 'z'), 16, (0, 4, 8))
    integer.fields[2].datatype = PointField.UINT16
    outside = _cloud(scan[:100], ('x', 'y', 'z'), 16, (0, 4, 8))
    outside.fields[2].offset = 14
    short = _cloud(scan[:100], ('x', 'y', 'z', 'intensity'), 16, (0, 4, 8, 12))
    short.data = array.array('B', bytes(good.data)[:-1])
    narrow = _cloud(scan[:100], ('x', 'y', 'z', 'intensity'), 16, (0, 4, 8, 12))
    narrow.row_step = 15 * 100
    for msg, error, kind in ((no_z, CloudMissingFieldError, 'cloud_missing_field'),
                             (integer, CloudFieldError, 'cloud_bad_field'),
                             (outside, CloudFieldError, 'cloud_bad_field'),
                             (short, CloudDataError, 'cloud_data_too_short'),
                             (narrow, CloudDataError, 'cloud_data_too_short')):
        with pytest.raises(error) as raised:
            cloud_to_xyz(msg)
        assert isinstance(raised.value, ImageConversionError)
        assert raised.value.kind == kind and str(raised.value)


def test_project_real_scan_matches_the_kitti_calibration(scan: np.ndarray) -> None:
    """A real scan read from a PointCloud2, moved by cloud.to_rgb and projected with P2."""
    root = require_shared_data() / 'kitti_object_lidar' / 'training'
    calib = read_kitti_calib(root / 'calib' / '000000.txt')
    shape = (375, 1242)
    velo_to_rect = np.eye(4)
    velo_to_rect[:3, :3] = calib['R0_rect']
    rigid = np.eye(4)
    rigid[:3, :] = calib['Tr_velo_to_cam']
    velo_to_rect = velo_to_rect @ rigid
    # R0_rect is a rotation, so the chain is rigid and has a [x, y, z, q] form.
    pose = matrix_to_pose(velo_to_rect)
    points = cloud_to_xyz(_cloud(scan, ('x', 'y', 'z', 'intensity'), 16, (0, 4, 8, 12)))
    sparse = project_points(transform_points(points, pose_to_matrix(pose)), calib['P2'], shape,
                            min_depth=0.1)
    expected = project_velodyne(scan, calib, shape)
    # The same pixels, up to points on a pixel border: the KITTI rotation is rounded to 6
    # digits and the quaternion form makes it exactly orthonormal (a change of ~1e-6).
    mismatch = np.isfinite(sparse) != np.isfinite(expected)
    assert mismatch.sum() <= 1e-3 * np.isfinite(expected).sum(), mismatch.sum()
    both = np.isfinite(sparse) & np.isfinite(expected)
    assert np.mean(np.abs(sparse[both] - expected[both]) < 1e-4) > 0.999
    assert 0.02 < np.isfinite(sparse).mean() < 0.1  # a real scan covers a few % of pixels


def test_register_does_not_modify_its_input(nyu: RgbdFrame) -> None:
    """register_depth does not write into the caller's depth."""
    depth = nyu.depth.copy()
    depth.setflags(write=False)  # a read-only message buffer works too
    k = _k(nyu.fx, nyu.fy, nyu.cx, nyu.cy)
    out = register_depth(depth, k, np.eye(4), k, depth.shape)
    np.testing.assert_array_equal(depth, nyu.depth)
    both = np.isfinite(out)
    np.testing.assert_allclose(out[both], depth[both], rtol=1e-6)
    assert np.array_equal(both, np.isfinite(depth))


def test_choose_depth_mode() -> None:
    """Mode auto registers depth of another frame once its camera_info is known."""
    assert choose_depth_mode('auto', 1, 'color', 'color', True) == 'sparse'
    assert choose_depth_mode('auto', 4, 'color', 'color', False) == 'lowres'
    assert choose_depth_mode('auto', 4, 'color', 'depth', False) == 'lowres'
    assert choose_depth_mode('auto', None, 'color', 'depth', True) == 'register'
    assert choose_depth_mode('auto', 1, 'color', 'depth', True) == 'register'
    assert choose_depth_mode('register', None, 'color', 'color', False) == 'register'
    assert choose_depth_mode('lowres', 1, 'c', 'c', False) == 'lowres'
    for mode, factor in (('sparse', 2), ('auto', None), ('lowres', None), ('nope', 1)):
        with pytest.raises(ValueError):
            choose_depth_mode(mode, factor, 'color', 'color', False)
