# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The node's output stage alone, before and after issue 21, side by side in one process.

Everything ``dada_node`` does after ``up()`` returns: build ``depth_dense/image``,
``depth_dense/camera_info`` and the organized coloured cloud (``points.stride`` 1,
``points.color`` true), then publish them (reliable, as the node) to a subscriber in a second
process that receives all three. Frames alternate between

* ``after``: the pipeline's own code (:meth:`dada_ros.pipeline.FramePipeline.outputs` and
  :meth:`~dada_ros.pipeline.FramePipeline.emit`) on a frame paired from real messages;
* ``before``: the output stage as it was before issue 21, rebuilt here from the numpy form
  of the kernel (:func:`dada_ros.core.cloud_kernels.write_points_numpy`, the same
  image-wide passes as the old back-projection and colour packing) into one reused buffer,
  with messages whose ``data`` setters copy (the old ``Image()`` / ``PointCloud2()``).

Both produce the same bytes (checked on the first frame). The dense depth is a real
``up()`` answer at the chosen size (a Middlebury view cropped or tiled, x8). Run::

    bash scripts/localhost.sh .venv/bin/python benchmarks/output_stage.py --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import array
from pathlib import Path
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'test'))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ros_helpers import isolate_network, ros_env, wait_until  # noqa: E402

NAMESPACE = '/dada_output_stage'
_SCENE = ('dts_middlebury_superres/depth_superres/_input/books_big/books_big_color.png',
          'dts_middlebury_superres/depth_superres/_gth/books_big.png')


def subscriber() -> None:
    """Receive depth, camera_info and points (run as ``--subscribe``), print each arrival."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    rclpy.init()
    node = rclpy.create_node('output_stage_subscriber')
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    for kind, topic in ((Image, 'depth_dense/image'), (CameraInfo, 'depth_dense/camera_info'),
                        (PointCloud2, 'points')):
        node.create_subscription(kind, f'{NAMESPACE}/{topic}',
                                 lambda msg, t=topic: print(t, flush=True), qos)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass


def real_frame(width: int, height: int, factor: int) -> Tuple[np.ndarray, np.ndarray]:
    """Return a real RGB view and its x``factor`` block-mean depth (from disparity), tiled."""
    from PIL import Image as PilImage
    root = Path(__file__).resolve().parents[2] / 'shared' / 'data'
    rgb = np.asarray(PilImage.open(root / _SCENE[0]).convert('RGB'))
    disparity = np.asarray(PilImage.open(root / _SCENE[1])).astype(np.float32)
    reps = (-(-height // rgb.shape[0]), -(-width // rgb.shape[1]))
    rgb = np.tile(rgb, reps + (1,))[:height, :width].copy()
    disparity = np.tile(disparity, reps)[:height, :width]
    depth = np.where(disparity > 0, 160.0 * 3.74 / np.maximum(disparity, 1.0), np.nan)
    with np.errstate(invalid='ignore'):
        low = np.nanmean(depth.reshape(height // factor, factor, width // factor, factor),
                         axis=(1, 3))
    return rgb, low.astype(np.float32)


def legacy_outputs(frame: Any, dense: np.ndarray, info: Any, state: Dict[str, Any]
                   ) -> List[Tuple[str, Any]]:
    """Build the messages as the output stage did before issue 21 (copying setters)."""
    from sensor_msgs.msg import Image, PointCloud2, PointField

    from dada_ros.core.cloud_kernels import pixel_factors, write_points_numpy
    from dada_ros.msgs.conversions import copy_header, output_camera_info
    header = frame.header
    height, width = dense.shape
    depth = Image()
    depth.header = copy_header(header)
    depth.height, depth.width, depth.encoding = height, width, '32FC1'
    depth.is_bigendian, depth.step = int(sys.byteorder == 'big'), 4 * width
    rows = array.array('B')
    rows.frombytes(np.ascontiguousarray(dense, dtype=np.float32).reshape(-1).view(np.uint8).data)
    depth.data = rows  # the setter copies again
    size = height * width * 16
    if len(state.get('buffer', b'')) != size:
        state['buffer'] = array.array('B', bytes(size))
    points = np.frombuffer(state['buffer'], dtype=np.float32).reshape(height, width, 4)
    write_points_numpy(dense, *pixel_factors(frame.k, height, width, 1), points, frame.rgb)
    cloud = PointCloud2()
    cloud.header = copy_header(header)
    cloud.height, cloud.width = height, width
    cloud.fields = [PointField(name=name, offset=4 * index, datatype=PointField.FLOAT32,
                               count=1) for index, name in enumerate('x y z rgb'.split())]
    cloud.is_bigendian = sys.byteorder == 'big'
    cloud.point_step, cloud.row_step, cloud.is_dense = 16, 16 * width, False
    cloud.data = state['buffer']  # the setter copies
    return [('depth_dense/image', depth),
            ('depth_dense/camera_info', output_camera_info(info, header)),
            ('points', cloud)]


def measure(width: int, height: int, frames: int, publish: bool) -> Dict[str, Dict[str, list]]:
    """Alternate before / after frames; return per-variant build / publish / total times."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2
    from std_msgs.msg import Header

    from dada_ros.msgs.conversions import array_to_image, rgb_to_image
    from dada_ros.pipeline import FramePipeline
    rgb, low = real_frame(width, height, 8)
    pipeline = FramePipeline({})
    header = Header(frame_id='camera_color_optical_frame')
    header.stamp.sec = 100
    info = CameraInfo(header=header, width=width, height=height)
    info.k = [1050.0, 0.0, width / 2, 0.0, 1050.0, height / 2, 0.0, 0.0, 1.0]
    pipeline.add_camera_info(info)
    pipeline.add_rgb(rgb_to_image(rgb, header))
    frame = pipeline.add_depth(array_to_image(low, '32FC1', header))[0]
    dense = pipeline.upsampler(frame.rgb, frame.depth)
    rclpy.init()
    node = rclpy.create_node('output_stage_publisher')
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    publishers = {topic: node.create_publisher(kind, f'{NAMESPACE}/{topic}', qos)
                  for kind, topic in ((Image, 'depth_dense/image'),
                                      (CameraInfo, 'depth_dense/camera_info'),
                                      (PointCloud2, 'points'))}

    def send(topic: str, message: Any) -> bool:
        if publish:
            publishers[topic].publish(message)
        return True

    state: Dict[str, Any] = {}
    variants: Dict[str, Callable[[], List[Tuple[str, Any]]]] = {
        'before': lambda: legacy_outputs(frame, dense, info, state),
        'after': lambda: [('', pipeline.outputs(frame, dense))]}
    before = legacy_outputs(frame, dense, info, state)
    after = pipeline.outputs(frame, dense)
    assert bytes(before[0][1].data) == bytes(after.depth.data)
    assert after.points is not None and bytes(before[2][1].data) == bytes(after.points.data)
    del before, after
    times: Dict[str, Dict[str, list]] = {name: {'build': [], 'publish': [], 'total': []}
                                         for name in variants}
    child = subprocess.Popen([sys.executable, __file__, '--subscribe'], env=ros_env(),
                             stdout=subprocess.PIPE, text=True) if publish else None
    try:
        if child is not None:
            wait_until(lambda: all(p.get_subscription_count() for p in publishers.values()),
                       60.0, message='the subscriber')
        for index in range(frames + 2):  # two warm-up frames per variant
            for name, build in variants.items():
                started = time.perf_counter()
                built = build()
                ready = time.perf_counter()
                if name == 'after':
                    pipeline.emit(built[0][1], send)
                else:
                    for topic, message in built:
                        send(topic, message)
                done = time.perf_counter()
                del built
                if index >= 2:
                    times[name]['build'].append(ready - started)
                    times[name]['publish'].append(done - ready)
                    times[name]['total'].append(done - started)
                if child is not None:  # the subscriber has all three before the next frame
                    for _ in range(3):
                        assert child.stdout is not None and child.stdout.readline()
                time.sleep(0.05)
    finally:
        if child is not None:
            child.kill()
            child.wait(10)
        node.destroy_node()
        rclpy.try_shutdown()
    return times


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--frames', type=int, default=30)
    parser.add_argument('--no-publish', action='store_true', help='build only')
    parser.add_argument('--subscribe', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subscribe:  # started by measure() with its environment (and domain id)
        subscriber()
        return
    isolate_network()
    ros_env()
    times = measure(args.width, args.height, args.frames, not args.no_publish)
    print(f'{args.width}x{args.height}, depth + camera_info + coloured cloud (stride 1), '
          f'{args.frames} frames per variant, alternating; ms')
    print('| | before mean / p95 | after mean / p95 | before / after |')
    print('|---|---|---|---|')
    for part in ('build', 'publish', 'total'):
        row = []
        for name in ('before', 'after'):
            values = np.asarray(times[name][part]) * 1e3
            row.append((float(values.mean()), float(np.percentile(values, 95))))
        print(f'| {part} | {row[0][0]:.2f} / {row[0][1]:.2f} | {row[1][0]:.2f} / '
              f'{row[1][1]:.2f} | {row[0][0] / row[1][0]:.2f} |')


if __name__ == '__main__':
    main()
