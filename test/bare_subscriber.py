# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""A bare rclpy subscriber that reports its private memory after each message.

``python test/bare_subscriber.py TOPIC`` subscribes to a ``sensor_msgs/PointCloud2`` topic
(reliable, depth 5, as ``dada_node`` with ``qos.reliable_input``), and after each message,
once the message is dropped and the heap trimmed, prints ``<count> <points> <RssAnon kB>``.
What it keeps after a big message is what rclpy and the middleware keep, measured beside
``dada_node`` by ``test_robustness.test_memory_after_a_10_million_point_cloud``.
"""

import ctypes
import ctypes.util
from pathlib import Path
import re
import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2


def rss_anon_kb() -> int:
    """Private resident memory of this process (kB)."""
    text = Path('/proc/self/status').read_text()
    return int(re.search(r'RssAnon:\s+(\d+)', text).group(1))  # type: ignore[union-attr]


def main() -> None:
    """Subscribe to ``sys.argv[1]`` and report until interrupted."""
    libc = ctypes.CDLL(ctypes.util.find_library('c'))
    rclpy.init()
    node = rclpy.create_node('bare_subscriber')
    count = 0

    def on_cloud(msg: PointCloud2) -> None:
        nonlocal count
        count += 1
        points = int(msg.width) * int(msg.height)
        del msg
        libc.malloc_trim(0)
        print(f'{count} {points} {rss_anon_kb()}', flush=True)

    node.create_subscription(PointCloud2, sys.argv[1], on_cloud,
                             QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
