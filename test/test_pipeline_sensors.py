# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The frame pipeline with real-sensor inputs, in process (no DDS).

Compressed messages (cv2-encoded), depth from a displaced second camera (a real NYUv2 scene
rendered into it), a real KITTI Velodyne scan as ``PointCloud2``, the confidence output and
``confidence.min``; every failure is a counted kind and never a crash.
"""

from __future__ import annotations

import array
from typing import Any, List, Tuple

from dada_ros.core.geometry import backproject
from dada_ros.core.registration import matrix_to_pose, project_points, transform_points
from dada_ros.msgs.clouds import read_points
from dada_ros.msgs.compressed import depth_to_compressed_depth, rgb_to_compressed
from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
from dada_ros.pipeline import Event, FramePipeline
from dada_ros.training.lidar import (nyu_frames, project_velodyne, read_kitti_calib, read_velodyne,
                                     require_shared_data, RgbdFrame)
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, PointCloud2, PointField
from std_msgs.msg import Header

FAST = {'model': 'rgb', 'iterations': 16, 'device': 'cpu'}


def _header(sec: int, frame_id: str, nanosec: int = 0) -> Header:
    out = Header(frame_id=frame_id)
    out.stamp.sec, out.stamp.nanosec = sec, nanosec
    return out


def _info(k: np.ndarray, width: int, height: int, header: Header,
          p: Any = None) -> CameraInfo:
    info = CameraInfo(header=header, width=width, height=height)
    info.k = [float(v) for v in np.asarray(k).reshape(-1)]
    if p is not None:
        info.p = [float(v) for v in np.asarray(p).reshape(-1)]
    return info


def _make(**params: Any) -> Tuple[FramePipeline, List[Event]]:
    events: List[Event] = []
    return FramePipeline({**FAST, **params}, on_event=events.append), events


def _kinds(events: List[Event]) -> List[str]:
    return [event.kind for event in events]


@pytest.fixture(scope='module')
def nyu() -> RgbdFrame:
    """Return a real NYUv2 frame (640x480, metres, holes)."""
    return nyu_frames()[1]


def _k(frame: RgbdFrame) -> np.ndarray:
    return np.array([[frame.fx, 0, frame.cx], [0, frame.fy, frame.cy], [0, 0, 1.0]])


def test_compressed_inputs_give_the_raw_result(nyu: RgbdFrame) -> None:
    """PNG colour + compressedDepth 16UC1 (lossless) solve exactly like the raw messages."""
    low = nyu.depth[::4, ::4].copy()
    low_mm = np.nan_to_num(low * 1000.0).round().astype(np.uint16)
    results = []
    for rgb_msg, depth_msg in (
            (rgb_to_image(nyu.rgb, _header(5, 'cam')), array_to_image(low_mm, '16UC1',
                                                                      _header(5, 'cam'))),
            (rgb_to_compressed(nyu.rgb, 'png', _header(5, 'cam')),
             depth_to_compressed_depth(low_mm, '16UC1', 'rvl', _header(5, 'cam')))):
        pipeline, events = _make()
        pipeline.add_camera_info(_info(_k(nyu), 640, 480, _header(5, 'cam')))
        pipeline.add_rgb(rgb_msg, arrival=0.0)
        frames = pipeline.add_depth(depth_msg, arrival=0.0)
        assert len(frames) == 1 and frames[0].factor == 4 and frames[0].mode == 'image'
        results.append(pipeline.process(frames[0]).dense)
        assert events == []
    np.testing.assert_array_equal(results[0], results[1])


def test_bad_compressed_messages_are_counted(nyu: RgbdFrame) -> None:
    """Truncated JPEG, a JPEG on the depth input and a corrupted RVL: counted errors."""
    pipeline, events = _make()
    jpeg = rgb_to_compressed(nyu.rgb, 'jpeg', _header(5, 'cam'))
    jpeg.data = bytes(jpeg.data)[:300]
    assert pipeline.add_rgb(jpeg) == []
    assert pipeline.add_depth(rgb_to_compressed(nyu.rgb, 'jpeg', _header(5, 'cam'))) == []
    rvl = depth_to_compressed_depth(np.ones((8, 8), np.uint16), '16UC1', 'rvl')
    rvl.data = bytes(rvl.data)[:20]
    assert pipeline.add_depth(rvl) == []
    assert _kinds(events) == ['bad_compressed_data', 'unsupported_format',
                              'bad_compressed_data']
    errors = pipeline.counters.snapshot()['by_stream']['error']
    assert errors == {'rgb.bad_compressed_data': 1, 'depth.unsupported_format': 1,
                      'depth.bad_compressed_data': 1}


def _second_camera(nyu: RgbdFrame) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render the NYU scene in a depth camera 6 cm to the side (424x300, other focal length)."""
    rgb_to_depth = np.eye(4)
    angle = np.deg2rad(2.0)
    rgb_to_depth[:3, :3] = [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                            [-np.sin(angle), 0, np.cos(angle)]]
    rgb_to_depth[:3, 3] = (-0.06, 0.0, 0.0)
    k_depth = np.array([[330.0, 0, 211.5], [0, 330.0, 149.5], [0, 0, 1]])
    points = backproject(nyu.depth, _k(nyu)).reshape(-1, 3)
    points = points[np.isfinite(points[:, 2])]
    depth = project_points(transform_points(points, rgb_to_depth), k_depth, (300, 424))
    return depth, k_depth, np.linalg.inv(rgb_to_depth)


@pytest.mark.parametrize('mode', ['register', 'auto'])
def test_register_depth_of_another_camera(nyu: RgbdFrame, mode: str) -> None:
    """depth.mode register (and auto, once depth/camera_info came) registers and completes."""
    depth, k_depth, depth_to_rgb = _second_camera(nyu)
    pose = '[' + ', '.join(f'{v:.9f}' for v in matrix_to_pose(depth_to_rgb)) + ']'
    pipeline, events = _make(**{'depth.mode': mode, 'depth.to_rgb': pose})
    pipeline.add_camera_info(_info(_k(nyu), 640, 480, _header(5, 'color_optical')))
    pipeline.add_depth_camera_info(_info(k_depth, 424, 300, _header(5, 'depth_optical')))
    pipeline.add_rgb(rgb_to_image(nyu.rgb, _header(5, 'color_optical')), arrival=0.0)
    frames = pipeline.add_depth(depth_to_image_mm(depth, _header(5, 'depth_optical')))
    assert len(frames) == 1, _kinds(events)
    frame = frames[0]
    assert frame.mode == 'register' and frame.depth.shape == (480, 640) and frame.factor == 1
    outputs = pipeline.process(frame, want_sparse=True, want_confidence=True)
    assert outputs.sparse is not None and outputs.confidence is not None
    np.testing.assert_array_equal(image_to_depth(outputs.sparse), frame.depth)
    valid = np.isfinite(nyu.depth)
    error = np.abs(outputs.dense[valid] - nyu.depth[valid])
    assert np.median(error) < 0.02, np.median(error)  # metres, completed from 1/2 the pixels
    assert events == []


def depth_to_image_mm(depth: np.ndarray, header: Header) -> Any:
    """Build a 16UC1 millimetre image as a depth camera publishes it."""
    return array_to_image(np.nan_to_num(depth * 1000.0).round().astype(np.uint16), '16UC1',
                          header)


def test_register_failures_are_counted(nyu: RgbdFrame) -> None:
    """No transform (and no TF), no depth camera_info, auto without it: counted kinds."""
    depth, k_depth, _ = _second_camera(nyu)
    pipeline, events = _make(**{'depth.mode': 'register'})
    pipeline.add_camera_info(_info(_k(nyu), 640, 480, _header(5, 'color_optical')))
    pipeline.add_rgb(rgb_to_image(nyu.rgb, _header(5, 'color_optical')))
    assert pipeline.add_depth(depth_to_image_mm(depth, _header(5, 'depth_optical'))) == []
    assert _kinds(events) == ['no_transform']
    assert 'tf2_ros' in events[0].message or 'no TF' in events[0].message
    pipeline, events = _make(**{'depth.mode': 'register', 'depth.to_rgb': '0 0 0 0 0 0 1'})
    pipeline.add_camera_info(_info(_k(nyu), 640, 480, _header(5, 'color_optical')))
    pipeline.add_rgb(rgb_to_image(nyu.rgb, _header(5, 'color_optical')))
    assert pipeline.add_depth(depth_to_image_mm(depth, _header(5, 'depth_optical'))) == []
    assert _kinds(events) == ['no_depth_camera_info']
    # auto without depth/camera_info: not registered; 424x300 is no integer fraction.
    pipeline, events = _make()
    pipeline.add_rgb(rgb_to_image(nyu.rgb, _header(5, 'color_optical')))
    assert pipeline.add_depth(depth_to_image_mm(depth, _header(5, 'depth_optical'))) == []
    assert _kinds(events) == ['size_mismatch']


def test_frame_mismatch_is_a_counted_warning(nyu: RgbdFrame) -> None:
    """Low-res depth in another frame is served, with a frame_mismatch warning."""
    pipeline, events = _make()
    pipeline.add_rgb(rgb_to_image(nyu.rgb, _header(5, 'color_optical')))
    low = np.nan_to_num(nyu.depth[::4, ::4], nan=0.0)
    frames = pipeline.add_depth(depth_to_image_mm(low, _header(5, 'depth_optical')))
    assert len(frames) == 1 and _kinds(events) == ['frame_mismatch']


def _scan_cloud(scan: np.ndarray, header: Header) -> PointCloud2:
    cloud = PointCloud2(header=header, height=1, width=len(scan), point_step=16,
                        row_step=16 * len(scan), is_dense=False)
    cloud.fields = [PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                    for i, n in enumerate(('x', 'y', 'z', 'intensity'))]
    cloud.data = array.array('B', scan.astype('<f4').tobytes())
    return cloud


def test_lidar_cloud_input() -> None:
    """A real KITTI scan as PointCloud2: projected with P2, completed, measurements kept."""
    root = require_shared_data() / 'kitti_object_lidar' / 'training'
    calib = read_kitti_calib(root / 'calib' / '000000.txt')
    scan = read_velodyne(root / 'velodyne' / '000000.bin')
    from PIL import Image as PilImage
    with PilImage.open(root / 'image_2' / '000000.png') as image:
        rgb = np.asarray(image.convert('RGB')).copy()
    height, width = rgb.shape[:2]
    rect, velo = np.eye(4), np.eye(4)
    rect[:3, :3] = calib['R0_rect']
    velo[:3, :] = calib['Tr_velo_to_cam']
    pose = '[' + ', '.join(f'{v:.12f}' for v in matrix_to_pose(rect @ velo)) + ']'
    pipeline, events = _make(**{'depth.source': 'cloud', 'cloud.to_rgb': pose})
    pipeline.add_camera_info(_info(calib['P2'][:, :3], width, height, _header(7, 'cam2'),
                                   p=calib['P2']))
    pipeline.add_rgb(rgb_to_image(rgb, _header(7, 'cam2')))
    frames = pipeline.add_cloud(_scan_cloud(scan, _header(7, 'velodyne', 20_000_000)))
    assert len(frames) == 1 and frames[0].mode == 'cloud', _kinds(events)
    expected = project_velodyne(scan, calib, (height, width))
    both = np.isfinite(frames[0].depth) & np.isfinite(expected)
    assert both.sum() > 0.99 * np.isfinite(expected).sum()
    outputs = pipeline.process(frames[0], want_sparse=True)
    measured = np.isfinite(frames[0].depth)
    np.testing.assert_array_equal(outputs.dense[measured], frames[0].depth[measured])
    assert np.isfinite(outputs.dense).mean() > 0.9
    assert outputs.sparse is not None and outputs.points is not None
    assert events == []
    # Counted, not fatal: a cloud without z, an empty cloud, no cloud.to_rgb.
    pipeline, events = _make(**{'depth.source': 'cloud'})
    pipeline.add_camera_info(_info(calib['P2'][:, :3], width, height, _header(7, 'cam2'),
                                   p=calib['P2']))
    no_z = _scan_cloud(scan[:10], _header(8, 'velodyne'))
    no_z.fields = no_z.fields[:2]
    assert pipeline.add_cloud(no_z) == []
    pipeline.add_rgb(rgb_to_image(rgb, _header(9, 'cam2')))
    assert pipeline.add_cloud(_scan_cloud(scan[:0], _header(9, 'velodyne'))) == []
    assert _kinds(events) == ['cloud_missing_field', 'empty_cloud', 'no_transform']


def test_confidence_output_and_minimum(nyu: RgbdFrame) -> None:
    """depth_dense/confidence is 0..1; confidence.min masks the dense depth and the cloud."""
    low = nyu.depth[::8, ::8].copy()
    results = {}
    for minimum in (0.0, 0.5):
        pipeline, events = _make(**{'confidence.min': minimum})
        pipeline.add_camera_info(_info(_k(nyu), 640, 480, _header(5, 'cam')))
        pipeline.add_rgb(rgb_to_image(nyu.rgb, _header(5, 'cam')))
        frame, = pipeline.add_depth(array_to_image(low, '32FC1', _header(5, 'cam')))
        results[minimum] = pipeline.process(frame, want_confidence=True)
    plain, masked = results[0.0], results[0.5]
    assert plain.confidence is not None and plain.confidence.encoding == '32FC1'
    confidence = image_to_depth(plain.confidence)  # 0 reads as NaN in a depth image
    values = np.nan_to_num(confidence)
    assert values.min() >= 0.0 and values.max() <= 1.0 and 0.1 < (values >= 0.5).mean() < 1.0
    low_pixels = values < 0.5
    assert np.isnan(masked.dense[low_pixels]).all()
    np.testing.assert_array_equal(masked.dense[~low_pixels], plain.dense[~low_pixels])
    assert masked.points is not None
    z = read_points(masked.points)['z']
    assert np.isnan(z[low_pixels]).all()
    # Nobody wants it and no minimum: not computed.
    pipeline, _ = _make()
    pipeline.add_rgb(rgb_to_image(nyu.rgb, _header(5, 'cam')))
    frame, = pipeline.add_depth(array_to_image(low, '32FC1', _header(5, 'cam')))
    assert pipeline.process(frame).confidence is None


def test_camera_info_p_and_distortion_warning(nyu: RgbdFrame) -> None:
    """The cloud uses P when set; a distorted camera on an image_raw topic is a warning."""
    k = _k(nyu)
    p = np.hstack([k * [[0.8], [0.8], [1.0]], np.zeros((3, 1))])
    pipeline, events = _make()
    info = _info(k, 640, 480, _header(5, 'cam'), p=p)
    info.d = [0.1, -0.05, 0.0, 0.0, 0.0]
    info.distortion_model = 'plumb_bob'
    pipeline.add_camera_info(info, '/camera/color/image_raw')
    pipeline.add_camera_info(info, '/camera/color/image_rect_color')
    assert _kinds(events) == ['distorted_image']
    pipeline.add_rgb(rgb_to_image(nyu.rgb, _header(5, 'cam')))
    frame, = pipeline.add_depth(array_to_image(nyu.depth[::8, ::8].copy(), '32FC1',
                                               _header(5, 'cam')))
    outputs = pipeline.process(frame)
    assert outputs.k is not None
    np.testing.assert_allclose(outputs.k, p[:, :3])
