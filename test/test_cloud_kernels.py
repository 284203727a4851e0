# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The one-pass cloud kernel (``dada_ros.core.cloud_kernels``) and the cloud builder on it.

Real frames (NYUv2 raw depth with holes, KITTI semi-dense depth, ``../shared/data``): the
compiled kernel, the numpy form and the clouds of :class:`PointCloudBuilder` give exactly
the bytes of a reference written here the way the builder computed clouds before the
kernel (a float32 depth copy, a validity mask, two float32 products, the packed colour).
"""

from __future__ import annotations

from typing import Optional

from dada_ros.core import cloud_kernels
from dada_ros.core.cloud_kernels import pixel_factors, write_points
from dada_ros.core.geometry import backproject
from dada_ros.msgs.clouds import depth_to_pointcloud, PointCloudBuilder, read_points
from dada_ros.msgs.conversions import depth_to_image
from dada_ros.training.lidar import kitti_gt_frames, nyu_frames, RgbdFrame
import numpy as np
import pytest
from std_msgs.msg import Header

needs_numba = pytest.mark.skipif(not cloud_kernels.AVAILABLE, reason='numba is not installed')


def _k(frame: RgbdFrame) -> np.ndarray:
    return np.array([[frame.fx, 0.0, frame.cx], [0.0, frame.fy, frame.cy], [0.0, 0.0, 1.0]])


def _reference(depth: np.ndarray, k: np.ndarray, stride: int,
               rgb: Optional[np.ndarray]) -> bytes:
    """Cloud bytes computed image-wide with numpy, as the builder did before the kernel."""
    with np.errstate(over='ignore'):
        z = depth[::stride, ::stride].astype(np.float32)
    z[~(np.isfinite(z) & (z > 0))] = np.nan
    rows, cols = z.shape
    x_factor = ((np.arange(cols) * stride - k[0, 2]) / k[0, 0]).astype(np.float32)
    y_factor = ((np.arange(rows) * stride - k[1, 2]) / k[1, 1]).astype(np.float32)
    channels = [z * x_factor[None, :], z * y_factor[:, None], z]
    if rgb is not None:
        colours = rgb[::stride, ::stride].astype(np.uint32)
        packed = (colours[..., 0] << 16) | (colours[..., 1] << 8) | colours[..., 2]
        channels.append(packed.view(np.float32))
    return np.stack(channels, axis=-1).astype(np.float32).tobytes()


def _frames() -> list:
    return [nyu_frames()[0], kitti_gt_frames()[0]]


@pytest.mark.parametrize('compiled', [False, pytest.param(True, marks=needs_numba)])
def test_kernel_gives_the_reference_bytes_on_real_frames(compiled: bool) -> None:
    """Both forms write exactly the reference bytes: strides 1-3, with and without colour."""
    for frame in _frames():
        k = _k(frame)
        assert np.isnan(frame.depth).any() and np.isfinite(frame.depth).any()
        for stride in (1, 2, 3):
            depth = frame.depth[::stride, ::stride]
            rows, cols = depth.shape
            x_factor, y_factor = pixel_factors(k, rows, cols, stride)
            for rgb in (frame.rgb, None):
                out = np.full((rows, cols, 3 if rgb is None else 4), 7.0, dtype=np.float32)
                write_points(depth, x_factor, y_factor, out,
                             None if rgb is None else rgb[::stride, ::stride], compiled)
                assert out.tobytes() == _reference(frame.depth, k, stride, rgb), \
                    (frame.name, stride, rgb is None)


@needs_numba
def test_compiled_and_numpy_agree_on_odd_values_and_layouts() -> None:
    """float64 depth that rounds to 0 or Inf in float32, -Inf, negatives; strided output."""
    rng = np.random.default_rng(3)
    depth = rng.uniform(0.2, 9.0, (37, 53))  # float64
    depth[0, :6] = [1e-50, 1e40, -np.inf, np.inf, -2.0, 0.0]
    depth[5:9, 10:20] = np.nan
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    k = np.array([[41.0, 0.0, 26.3], [0.0, 39.5, 18.1], [0.0, 0.0, 1.0]])
    x_factor, y_factor = pixel_factors(k, 37, 53, 1)
    results = []
    for compiled in (True, False):
        out = np.zeros((37, 53, 6), dtype=np.float32)[:, :, 1:5]  # strided, not contiguous
        write_points(depth, x_factor, y_factor, out, rgb, compiled)
        results.append(out.tobytes())
    assert results[0] == results[1] == _reference(depth, k, 1, rgb)
    assert np.isnan(np.frombuffer(results[0], np.float32).reshape(37, 53, 4)[0, :6, :3]).all()


def test_kernel_refuses_mismatched_arguments() -> None:
    x_factor, y_factor = pixel_factors(np.eye(3), 4, 5, 1)
    depth = np.ones((4, 5), dtype=np.float32)
    with pytest.raises(ValueError, match='out must be'):
        write_points(depth, x_factor, y_factor, np.zeros((4, 5, 3), np.float32),
                     np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match='factor'):
        write_points(depth, y_factor, x_factor, np.zeros((4, 5, 3), np.float32))
    with pytest.raises(ValueError, match='rgb must be'):
        write_points(depth, x_factor, y_factor, np.zeros((4, 5, 4), np.float32),
                     np.zeros((4, 5, 3), np.float32))


def test_builder_messages_are_the_reference_and_never_overwritten() -> None:
    """Cloud messages hold the reference bytes; a kept cloud survives later builds."""
    header = Header(frame_id='camera_color_optical_frame')
    builder = PointCloudBuilder()
    kept = []
    for frame in _frames():
        k = _k(frame)
        for stride, colour in ((1, True), (2, False), (1, True)):
            rgb = frame.rgb if colour else None
            cloud = builder.build(frame.depth, k, header, stride, rgb)
            expected = _reference(frame.depth, k, stride, rgb)
            assert bytes(cloud.data) == expected
            kept.append((cloud, expected))
    for cloud, expected in kept:  # every message still has its own points
        assert bytes(cloud.data) == expected
    frame = _frames()[0]
    points = backproject(frame.depth, _k(frame))
    np.testing.assert_array_equal(read_points(kept[0][0])['z'], points[..., 2])


def test_builder_writes_a_dropped_cloud_again_but_not_a_viewed_one() -> None:
    """Once a cloud message is gone its memory is reused; a numpy view keeps it alive."""
    frame = nyu_frames()[0]
    k = _k(frame)
    builder = PointCloudBuilder()
    cloud = builder.build(frame.depth, k, None, 1, frame.rgb)
    address = np.frombuffer(cloud.data, np.uint8).ctypes.data
    del cloud
    cloud = builder.build(frame.depth * 2, k, None, 1, frame.rgb)
    assert np.frombuffer(cloud.data, np.uint8).ctypes.data == address
    view = np.frombuffer(cloud.data, np.float32)
    before = view.copy()
    del cloud
    again = builder.build(frame.depth, k, None, 1, frame.rgb)
    assert np.frombuffer(again.data, np.uint8).ctypes.data != address
    np.testing.assert_array_equal(view, before)
    assert bytes(again.data) == bytes(depth_to_pointcloud(frame.depth, k, None, 1,
                                                          frame.rgb).data)


def test_depth_image_holds_a_copy_of_the_depth() -> None:
    """The 32FC1 message has the depth's bytes; changing the array later does not change it."""
    depth = nyu_frames()[0].depth.copy()
    msg = depth_to_image(depth, Header(frame_id='cam'))
    expected = depth.tobytes()
    depth[:] = 1.0
    assert bytes(msg.data) == expected and msg.step == 4 * depth.shape[1]
