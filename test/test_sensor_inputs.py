# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Message-level sensor inputs: decode by type, P or K, registration and clouds by message."""

from __future__ import annotations

import array

from dada_ros.core.registration import matrix_to_pose, pose_to_matrix
from dada_ros.msgs.compressed import depth_to_compressed_depth, rgb_to_compressed
from dada_ros.msgs.conversions import array_to_image, CameraInfoError, ImageConversionError, \
    rgb_to_image
from dada_ros.msgs.sensor_inputs import (cloud_to_sparse_depth, decode_depth_checked, decode_rgb,
                                         distortion_warning, frame_mismatch_warning,
                                         register_depth_message, rgb_projection)
from dada_ros.training.lidar import (nyu_frames, project_velodyne, read_kitti_calib, read_velodyne,
                                     require_shared_data, RgbdFrame)
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, CompressedImage, PointCloud2, PointField


@pytest.fixture(scope='module')
def frame() -> RgbdFrame:
    """Return a real NYUv2 frame."""
    return nyu_frames()[0]


def _info(k: np.ndarray, width: int, height: int, p: np.ndarray = np.zeros(12),
          d: tuple = ()) -> CameraInfo:
    info = CameraInfo(width=width, height=height)
    info.k = [float(v) for v in np.asarray(k).reshape(-1)]
    info.p = [float(v) for v in np.asarray(p).reshape(-1)]
    info.d = [float(v) for v in d]
    info.distortion_model = 'plumb_bob'
    return info


def _k(frame: RgbdFrame) -> np.ndarray:
    return np.array([[frame.fx, 0, frame.cx], [0, frame.fy, frame.cy], [0, 0, 1.0]])


def test_decode_by_message_type(frame: RgbdFrame) -> None:
    """Image and CompressedImage give the same RGB and depth; a JPEG is not depth."""
    raw = decode_rgb(rgb_to_image(frame.rgb))
    np.testing.assert_array_equal(raw, frame.rgb)
    np.testing.assert_array_equal(decode_rgb(rgb_to_compressed(frame.rgb, 'png')), frame.rgb)
    depth_mm = np.nan_to_num(frame.depth * 1000.0).round().astype(np.uint16)
    plain, plain_report = decode_depth_checked(array_to_image(depth_mm, '16UC1'))
    packed, packed_report = decode_depth_checked(
        depth_to_compressed_depth(depth_mm, '16UC1', 'rvl'))
    np.testing.assert_array_equal(plain, packed)
    assert plain_report == packed_report
    with pytest.raises(ImageConversionError) as raised:
        decode_depth_checked(rgb_to_compressed(frame.rgb, 'jpeg'))
    assert raised.value.kind == 'unsupported_format'
    with pytest.raises(ImageConversionError) as raised:
        decode_rgb(CompressedImage(format='rgb8; jpeg compressed bgr8', data=b'\xff\xd8'))
    assert raised.value.kind == 'bad_compressed_data'


def test_projection_prefers_p(frame: RgbdFrame) -> None:
    """P (the rectified camera) when set, else K; both unusable is a camera_info error."""
    k = _k(frame)
    p = np.hstack([k * [[0.9], [0.9], [1.0]], np.zeros((3, 1))])
    np.testing.assert_allclose(rgb_projection(_info(k, 640, 480, p)), p)
    np.testing.assert_allclose(rgb_projection(_info(k, 640, 480)), np.hstack([k, [[0], [0], [0]]]))
    with pytest.raises(CameraInfoError):
        rgb_projection(_info(np.zeros(9), 640, 480))


def test_distortion_warning_for_unrectified_topics(frame: RgbdFrame) -> None:
    """Non-zero D on an image_raw topic warns; rectified topics and zero D do not."""
    distorted = _info(_k(frame), 640, 480, d=(0.1, -0.2, 0.0, 0.0, 0.05))
    warning = distortion_warning(distorted, '/camera/color/image_raw')
    assert warning is not None and 'rectif' in warning and 'plumb_bob' in warning
    assert distortion_warning(distorted, '/camera/color/image_rect') is None
    assert distortion_warning(distorted, '/zed/zed_node/rgb/image_rect_color') is None
    assert distortion_warning(_info(_k(frame), 640, 480, d=(0.0,) * 5), '/a/image_raw') is None


def test_register_depth_message_and_its_errors(frame: RgbdFrame) -> None:
    """Identity registration reproduces the depth; missing inputs raise counted kinds."""
    info = _info(_k(frame), 640, 480)
    registered = register_depth_message(frame.depth, info, np.eye(4), info, (480, 640))
    both = np.isfinite(registered)
    np.testing.assert_array_equal(both, np.isfinite(frame.depth))
    np.testing.assert_allclose(registered[both], frame.depth[both], rtol=1e-6)
    for depth_info, transform, kind in ((None, np.eye(4), 'no_depth_camera_info'),
                                        (_info(_k(frame), 320, 240), np.eye(4),
                                         'depth_camera_info_mismatch'),
                                        (info, None, 'no_transform'),
                                        (_info(np.zeros(9), 640, 480), np.eye(4),
                                         'bad_camera_info')):
        with pytest.raises(ValueError) as raised:
            register_depth_message(frame.depth, depth_info, transform, info, (480, 640))
        assert getattr(raised.value, 'kind') == kind


def _velodyne_cloud(scan: np.ndarray) -> PointCloud2:
    cloud = PointCloud2(height=1, width=len(scan), point_step=16, row_step=16 * len(scan))
    cloud.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                    for i, n in enumerate(('x', 'y', 'z', 'intensity'))]
    cloud.data = array.array('B', scan.astype('<f4').tobytes())
    return cloud


def test_cloud_message_to_sparse_depth() -> None:
    """A real scan as PointCloud2, the KITTI chain as cloud.to_rgb, P2 from camera_info."""
    root = require_shared_data() / 'kitti_object_lidar' / 'training'
    calib = read_kitti_calib(root / 'calib' / '000000.txt')
    scan = read_velodyne(root / 'velodyne' / '000000.bin')
    rect = np.eye(4)
    rect[:3, :3] = calib['R0_rect']
    velo = np.eye(4)
    velo[:3, :] = calib['Tr_velo_to_cam']
    info = _info(calib['P2'][:, :3], 1242, 375, calib['P2'])
    sparse = cloud_to_sparse_depth(_velodyne_cloud(scan), rect @ velo, info, (375, 1242))
    expected = project_velodyne(scan, calib, (375, 1242))
    # project_velodyne drops z <= 0.1 m, the cloud path z <= 1 mm: compare where both exist.
    both = np.isfinite(sparse) & np.isfinite(expected)
    assert both.sum() > 0.99 * np.isfinite(expected).sum()
    np.testing.assert_allclose(sparse[both], expected[both], rtol=1e-5)
    empty = _velodyne_cloud(scan[:0])
    assert np.isnan(cloud_to_sparse_depth(empty, np.eye(4), info, (375, 1242))).all()
    with pytest.raises(ImageConversionError) as raised:
        cloud_to_sparse_depth(_velodyne_cloud(scan), None, info, (375, 1242))
    assert raised.value.kind == 'no_transform'
    no_z = _velodyne_cloud(scan)
    no_z.fields = no_z.fields[:2]
    with pytest.raises(ImageConversionError) as raised:
        cloud_to_sparse_depth(no_z, pose_to_matrix(matrix_to_pose(np.eye(4))), info,
                              (375, 1242))
    assert raised.value.kind == 'cloud_missing_field'


def test_frame_mismatch_warning() -> None:
    """Registered modes warn about depth in another frame; register and empty ids do not."""
    assert frame_mismatch_warning('sparse', 'color', 'depth') is not None
    assert frame_mismatch_warning('lowres', 'color', 'color') is None
    assert frame_mismatch_warning('register', 'color', 'depth') is None
    assert frame_mismatch_warning('lowres', '', 'depth') is None


def test_big_clouds_are_projected_in_chunks_with_the_same_z_buffer() -> None:
    """More than PROJECT_CHUNK points: the nearest point per pixel, as one brute-force pass."""
    from dada_ros.core.registration import project_points, PROJECT_CHUNK
    rng = np.random.default_rng(11)
    count = PROJECT_CHUNK + 300_000
    points = np.column_stack([rng.uniform(-2, 2, count), rng.uniform(-1.5, 1.5, count),
                              rng.uniform(0.5, 6.0, count)]).astype(np.float32)
    points[::1000] = np.nan
    k = np.array([[60.0, 0.0, 40.0], [0.0, 60.0, 30.0], [0.0, 0.0, 1.0]])
    transform = pose_to_matrix([0.1, -0.05, 0.2, 0.0, 0.0, 0.0871557, 0.9961947])
    sparse = project_points(points, k, (60, 80), transform=transform)
    # Brute force: every point at once, minimum per pixel with np.minimum.at.
    moved = points.astype(np.float64) @ transform[:3, :3].T + transform[:3, 3]
    with np.errstate(invalid='ignore', divide='ignore'):
        image = moved @ k.T
        keep = np.isfinite(image).all(axis=1) & (image[:, 2] > 1e-3)
        u = np.floor(image[keep, 0] / image[keep, 2] + 0.5)
        v = np.floor(image[keep, 1] / image[keep, 2] + 0.5)
    z = image[keep, 2]
    inside = (u >= 0) & (u < 80) & (v >= 0) & (v < 60)
    expected = np.full(60 * 80, np.inf)
    np.minimum.at(expected, (v[inside] * 80 + u[inside]).astype(np.int64), z[inside])
    expected[np.isinf(expected)] = np.nan
    np.testing.assert_array_equal(sparse.reshape(-1), expected.astype(np.float32))
