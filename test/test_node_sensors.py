# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The live node with real-sensor inputs: ``dada_node`` in a second process, real topics.

* ``rgb.transport: compressed`` + ``depth.transport: compressedDepth``: cv2-encoded JPEG and
  RVL messages of a real NYUv2 frame; ``depth_dense/confidence`` while subscribed;
  malformed compressed data is counted and the node keeps serving.
* ``depth.source: cloud``: LiDAR-like clouds in their own frame (``cloud.to_rgb``);
  ``depth_sparse/image`` shows the projected input; a cloud without ``z`` is counted.
* ``depth.mode: register``: 16UC1 depth of a displaced camera with ``depth/camera_info``.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

from dada_ros.msgs.compressed import depth_to_compressed_depth, rgb_to_compressed
from dada_ros.msgs.conversions import image_to_depth
from dada_ros.tools.make_sample_bag import camera_info_msg, lidar_cloud_msg, SAMPLE_CLOUD_TO_RGB
from dada_ros.training.lidar import nyu_frames
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from ros_helpers import diagnostics_values, RosHarness, wait_until
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

TIMEOUT = 90.0


def _header(sec: int, frame_id: str) -> Header:
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = sec, 500_000_000
    return header


def _stamped(messages: List[Any], header: Header) -> Any:
    for msg in list(messages):
        if (msg.header.stamp.sec, msg.header.stamp.nanosec) == \
                (header.stamp.sec, header.stamp.nanosec):
            return msg
    return None


def _stats(diagnostics: List[DiagnosticArray], ns: str) -> Dict[str, str]:
    for array in reversed(list(diagnostics)):
        values = diagnostics_values(array, f'{ns}/dada_node')
        if values is not None:
            return values
    return {}


def _k(frame: Any) -> np.ndarray:
    return np.array([[frame.fx, 0, frame.cx], [0, frame.fy, frame.cy], [0, 0, 1.0]])


def test_compressed_inputs_live(ros: RosHarness, spawn_node: Any,
                                unique_namespace: str) -> None:
    """JPEG + compressedDepth (RVL) in, dense depth and confidence out; bad data counted."""
    ns = unique_namespace
    node = spawn_node('-r', f'__ns:={ns}', '-p', 'rgb.transport:=compressed', '-p',
                      'depth.transport:=compressedDepth', '-p', 'model:=rgb', '-p',
                      'iterations:=8', '-p', 'qos.reliable_input:=true', '-p',
                      'diagnostics.period:=0.3', name='dada_compressed')
    rgb_pub = ros.publisher(CompressedImage, f'{ns}/rgb/image/compressed')
    depth_pub = ros.publisher(CompressedImage, f'{ns}/depth/image/compressedDepth')
    info_pub = ros.publisher(CameraInfo, f'{ns}/rgb/camera_info')
    dense = ros.collect(Image, f'{ns}/depth_dense/image')
    confidence = ros.collect(Image, f'{ns}/depth_dense/confidence')
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    ros.wait_for_subscribers([rgb_pub, depth_pub, info_pub], TIMEOUT)
    ros.wait_for_publisher(f'{ns}/depth_dense/confidence', TIMEOUT)
    wait_until(lambda: ros.node.count_publishers(f'{ns}/depth_dense/confidence') > 0 and
               ros.node.count_subscribers(f'{ns}/depth_dense/confidence') > 0, TIMEOUT,
               message='the confidence subscription')
    frame = nyu_frames()[0]
    low_mm = np.nan_to_num(frame.depth[::8, ::8] * 1000.0).round().astype(np.uint16)
    header = _header(1_700_000_100, 'camera_color_optical_frame')
    info_pub.publish(camera_info_msg(_k(frame), 640, 480, header))
    rgb_pub.publish(rgb_to_compressed(frame.rgb, 'jpeg', header))
    depth_pub.publish(depth_to_compressed_depth(low_mm, '16UC1', 'rvl', header))
    out = wait_until(lambda: _stamped(dense, header), TIMEOUT, message='dense depth')
    assert node.alive(), node.output()[1][-2000:]
    depth = image_to_depth(out)
    assert depth.shape == (480, 640)
    valid = np.isfinite(frame.depth)
    assert np.median(np.abs(depth[valid] - frame.depth[valid])) < 0.1
    conf = wait_until(lambda: _stamped(confidence, header), TIMEOUT, message='confidence')
    assert conf.encoding == '32FC1' and (conf.width, conf.height) == (640, 480)
    # Malformed data: counted by kind, the node keeps serving the next good pair.
    broken = rgb_to_compressed(frame.rgb, 'jpeg', _header(1_700_000_101, 'x'))
    broken.data = bytes(broken.data)[:500]
    rgb_pub.publish(broken)
    bad_depth = depth_to_compressed_depth(low_mm, '16UC1', 'png', _header(1_700_000_101, 'x'))
    bad_depth.format = '16UC1; compressedDepth zstd'
    depth_pub.publish(bad_depth)
    stats = wait_until(lambda: (lambda s: s if int(s.get('errors.bad_compressed_data', 0)) >= 1
                                and int(s.get('errors.unsupported_format', 0)) >= 1
                                else None)(_stats(diagnostics, ns)), TIMEOUT,
                       message='the counted compressed errors')
    assert int(stats['errors.bad_compressed_data']) == 1
    header = _header(1_700_000_102, 'camera_color_optical_frame')
    info_pub.publish(camera_info_msg(_k(frame), 640, 480, header))
    rgb_pub.publish(rgb_to_compressed(frame.rgb, 'png', header))
    depth_pub.publish(depth_to_compressed_depth(low_mm, '16UC1', 'png', header))
    wait_until(lambda: _stamped(dense, header), TIMEOUT, message='dense depth after errors')
    assert node.alive()


def test_cloud_input_live(ros: RosHarness, spawn_node: Any, unique_namespace: str) -> None:
    """LiDAR-like clouds in frame 'lidar' with cloud.to_rgb: dense and depth_sparse out."""
    from dada_ros.msgs.conversions import rgb_to_image
    from dada_ros.tools.sample import sample_scene

    ns = unique_namespace
    node = spawn_node('-r', f'__ns:={ns}', '-p', 'depth.source:=cloud', '-p',
                      f"cloud.to_rgb:='{SAMPLE_CLOUD_TO_RGB}'", '-p', 'model:=rgb', '-p',
                      'iterations:=8', '-p', 'qos.reliable_input:=true', '-p',
                      'diagnostics.period:=0.3', name='dada_cloud')
    rgb_pub = ros.publisher(Image, f'{ns}/rgb/image')
    cloud_pub = ros.publisher(PointCloud2, f'{ns}/cloud')
    info_pub = ros.publisher(CameraInfo, f'{ns}/rgb/camera_info')
    dense = ros.collect(Image, f'{ns}/depth_dense/image')
    sparse = ros.collect(Image, f'{ns}/depth_sparse/image')
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    ros.wait_for_subscribers([rgb_pub, cloud_pub, info_pub], TIMEOUT)
    wait_until(lambda: ros.node.count_publishers(f'{ns}/depth_sparse/image') > 0, TIMEOUT,
               message='the depth_sparse publisher')
    time.sleep(1.0)  # let the node see our depth_sparse subscription
    rgb, gt, k = sample_scene(240, 320)
    header = _header(1_700_000_200, 'camera_color_optical_frame')
    info_pub.publish(camera_info_msg(k, 320, 240, header))
    rgb_pub.publish(rgb_to_image(rgb, header))
    cloud_pub.publish(lidar_cloud_msg(gt, k, _header(1_700_000_200, 'lidar')))
    out = wait_until(lambda: _stamped(dense, header), TIMEOUT, message='dense depth')
    projected = image_to_depth(wait_until(lambda: _stamped(sparse, header), TIMEOUT,
                                          message='depth_sparse/image'))
    hit = np.isfinite(projected)
    assert 0.01 < hit.mean() < 0.5
    np.testing.assert_allclose(projected[hit], gt[hit], rtol=1e-4)
    result = image_to_depth(out)
    np.testing.assert_array_equal(result[hit], projected[hit])
    # A cloud without z is counted; the node keeps running.
    broken: Any = lidar_cloud_msg(gt, k, _header(1_700_000_201, 'lidar'))
    broken.fields = broken.fields[:2]
    cloud_pub.publish(broken)
    stats = wait_until(lambda: (lambda s: s if int(s.get('errors.cloud_missing_field', 0))
                                else None)(_stats(diagnostics, ns)), TIMEOUT,
                       message='the counted broken cloud')
    assert int(stats['received_cloud']) == 2
    assert node.alive(), node.output()[1][-2000:]


def test_register_live(ros: RosHarness, spawn_node: Any, unique_namespace: str) -> None:
    """Depth of a displaced 424x300 camera with depth/camera_info and depth.to_rgb."""
    from dada_ros.msgs.conversions import array_to_image, rgb_to_image
    from dada_ros.core.geometry import backproject
    from dada_ros.core.registration import matrix_to_pose, project_points, transform_points

    frame = nyu_frames()[1]
    rgb_to_depth = np.eye(4)
    rgb_to_depth[:3, 3] = (-0.05, 0.0, 0.0)
    k_depth = np.array([[330.0, 0, 211.5], [0, 330.0, 149.5], [0, 0, 1]])
    points = backproject(frame.depth, _k(frame)).reshape(-1, 3)
    depth = project_points(transform_points(points[np.isfinite(points[:, 2])], rgb_to_depth),
                           k_depth, (300, 424))
    pose = '[' + ', '.join(f'{v:.6f}' for v in matrix_to_pose(np.linalg.inv(rgb_to_depth))) + ']'
    ns = unique_namespace
    node = spawn_node('-r', f'__ns:={ns}', '-p', 'depth.mode:=register', '-p',
                      f"depth.to_rgb:='{pose}'", '-p', 'model:=rgb', '-p', 'iterations:=8',
                      '-p', 'qos.reliable_input:=true', '-p', 'diagnostics.period:=0.3',
                      name='dada_register')
    rgb_pub = ros.publisher(Image, f'{ns}/rgb/image')
    depth_pub = ros.publisher(Image, f'{ns}/depth/image')
    info_pub = ros.publisher(CameraInfo, f'{ns}/rgb/camera_info')
    depth_info_pub = ros.publisher(CameraInfo, f'{ns}/depth/camera_info')
    dense = ros.collect(Image, f'{ns}/depth_dense/image')
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    ros.wait_for_subscribers([rgb_pub, depth_pub, info_pub, depth_info_pub], TIMEOUT)
    header = _header(1_700_000_300, 'camera_color_optical_frame')
    depth_header = _header(1_700_000_300, 'camera_depth_optical_frame')
    depth_info_pub.publish(camera_info_msg(k_depth, 424, 300, depth_header))
    info_pub.publish(camera_info_msg(_k(frame), 640, 480, header))
    # the camera_infos in the node first, as drivers publish them with every image
    wait_until(lambda: (int(_stats(diagnostics, ns).get('received_depth_camera_info', 0)) >= 1
                        and int(_stats(diagnostics, ns).get('received_camera_info', 0)) >= 1),
               TIMEOUT, message='both camera_infos received')
    rgb_pub.publish(rgb_to_image(frame.rgb, header))
    mm = np.nan_to_num(depth * 1000.0).round().astype(np.uint16)
    depth_pub.publish(array_to_image(mm, '16UC1', depth_header))
    out = image_to_depth(wait_until(lambda: _stamped(dense, header), TIMEOUT,
                                    message='registered dense depth'))
    assert out.shape == (480, 640)
    valid = np.isfinite(frame.depth)
    assert np.median(np.abs(out[valid] - frame.depth[valid])) < 0.03
    assert node.alive(), node.output()[1][-2000:]
    # The start-up warm-up solves register mode's depth like sparse depth: no failure.
    assert 'warm-up failed' not in ''.join(node.output())
