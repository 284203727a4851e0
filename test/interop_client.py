# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Stand-alone RGB-D client of ``dada_node`` for the cross-distro tests.

It is run as a child process by ``test/test_jazzy_interop.py`` under the Python of either
ROS distro (``.venv`` = Kilted, ``.venv-jazzy`` = Jazzy), so it uses only rclpy and message
APIs that both distros share and builds the messages itself (no dada_ros.msgs.conversions).

It publishes the embedded procedural scene (``dada_ros.tools.sample``: 640x480 ``rgb8``,
``32FC1`` depth in metres at 1/8 of the size, camera info) into ``--namespace``, waits
for ``depth_dense/image`` with the stamp it sent and prints one JSON line::

    {"distro_rclpy": "7.1.6", "width": 640, "height": 480, "encoding": "32FC1",
     "stamp_matches": true, "rmse_m": 0.03, "input_rmse_m": 0.07, "valid_fraction": 1.0}

Exit code 0 when a matching output arrived, 1 on time-out (with a message on stderr).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from typing import Any, List, Optional, Sequence

from dada_ros.tools.sample import sample_lowres
import numpy as np
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image


def image_msg(array: np.ndarray, encoding: str, stamp: Any, frame_id: str) -> Image:
    """Wrap a C-contiguous ``HxW`` or ``HxWx3`` array in an ``Image`` (little endian)."""
    data = np.ascontiguousarray(array)
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(data.shape[0]), int(data.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(data.strides[0])
    msg.data = data.tobytes()
    return msg


def camera_info_msg(k: np.ndarray, width: int, height: int, stamp: Any,
                    frame_id: str) -> CameraInfo:
    """Return a pinhole ``CameraInfo`` with intrinsic matrix ``k`` (3x3)."""
    msg = CameraInfo()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height = width, height
    msg.distortion_model = 'plumb_bob'
    msg.d = [0.0] * 5
    msg.k = [float(v) for v in k.reshape(-1)]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [float(k[0, 0]), 0.0, float(k[0, 2]), 0.0,
             0.0, float(k[1, 1]), float(k[1, 2]), 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def decode_32fc1(msg: Image) -> np.ndarray:
    """Return a ``32FC1`` image as an ``(height, width)`` float32 array (a copy)."""
    if msg.encoding != '32FC1':
        raise ValueError(f'expected 32FC1, got {msg.encoding!r}')
    dtype = np.dtype('>f4' if msg.is_bigendian else '<f4')
    rows = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.step)
    return rows[:, :msg.width * 4].copy().view(dtype).reshape(msg.height, msg.width) \
        .astype(np.float32)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root-mean-square difference over pixels that are finite in both."""
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.sqrt(np.mean((a[ok] - b[ok]) ** 2))) if ok.any() else float('nan')


def run(namespace: str, timeout: float) -> int:
    """Publish until a matching dense depth image arrives; print the JSON summary."""
    rgb, depth_low, depth_gt, k = sample_lowres(factor=8)
    height, width = rgb.shape[:2]
    rclpy.init(args=None)
    node = rclpy.create_node('dada_interop_client', namespace=namespace)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    pub_rgb = node.create_publisher(Image, 'rgb/image', qos)
    pub_info = node.create_publisher(CameraInfo, 'rgb/camera_info', qos)
    pub_depth = node.create_publisher(Image, 'depth/image', qos)
    received: List[Image] = []
    node.create_subscription(Image, 'depth_dense/image', received.append, qos)
    deadline = time.monotonic() + timeout
    sent: List[Any] = []
    result: Optional[Image] = None
    try:
        while time.monotonic() < deadline and result is None:
            if all(p.get_subscription_count() > 0 for p in (pub_rgb, pub_info, pub_depth)):
                stamp = node.get_clock().now().to_msg()
                sent.append(stamp)
                pub_info.publish(camera_info_msg(k, width, height, stamp, 'camera_optical'))
                pub_rgb.publish(image_msg(rgb, 'rgb8', stamp, 'camera_optical'))
                pub_depth.publish(image_msg(depth_low, '32FC1', stamp, 'camera_optical'))
            end = time.monotonic() + 1.0
            while time.monotonic() < end and result is None:
                rclpy.spin_once(node, timeout_sec=0.05)
                keys = {(s.sec, s.nanosec) for s in sent}
                result = next((m for m in received
                               if (m.header.stamp.sec, m.header.stamp.nanosec) in keys), None)
        if result is None:
            print(f'no depth_dense/image with a sent stamp within {timeout:.0f} s '
                  f'({len(sent)} pairs sent, {len(received)} outputs received)',
                  file=sys.stderr)
            return 1
        dense = decode_32fc1(result)
        upsampled_input = np.kron(depth_low, np.ones((8, 8), np.float32))
        print(json.dumps({
            'distro_rclpy': importlib.metadata.version('ros-rclpy'),
            'width': int(result.width), 'height': int(result.height),
            'encoding': result.encoding, 'frame_id': result.header.frame_id,
            'stamp_matches': True, 'pairs_sent': len(sent),
            'rmse_m': rmse(dense, depth_gt), 'input_rmse_m': rmse(upsampled_input, depth_gt),
            'valid_fraction': float(np.isfinite(dense).mean()),
        }), flush=True)
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line and run the client."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--namespace', required=True, help='namespace of the dada_node')
    parser.add_argument('--timeout', type=float, default=60.0, help='seconds to wait')
    args = parser.parse_args(argv)
    return run(args.namespace, args.timeout)


if __name__ == '__main__':
    sys.exit(main())
