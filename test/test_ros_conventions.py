# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""ROS conventions of ``dada_node``, with the node in a second process on real topics.

* ``lazy_subscription`` (default true): the inputs are subscribed only while an output has
  a subscriber, and unsubscribed again when the last one leaves; frames are served as
  soon as somebody listens.
* QoS overrides the ROS 2 way (``qos_overrides./<topic>.publisher|subscription.<policy>``)
  win over the ``qos.*`` defaults, which still work.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, List

from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
import numpy as np
from rclpy.qos import QoSProfile, ReliabilityPolicy
from ros_helpers import RosHarness, wait_until
from sensor_msgs.msg import Image
from std_msgs.msg import Header

H, W, FACTOR = 48, 64, 4
TIMEOUT = 60.0
_STAMPS = itertools.count(1000)


def _frame() -> Any:
    """Return ``(rgb_msg, depth_msg)`` of one small frame with a fresh stamp."""
    header = Header(frame_id='camera')
    header.stamp.sec = next(_STAMPS)
    rng = np.random.default_rng(header.stamp.sec)
    rgb = rgb_to_image(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), header)
    depth = array_to_image((1.0 + rng.random((H // FACTOR, W // FACTOR))).astype(np.float32),
                           '32FC1', header)
    return rgb, depth


def test_lazy_subscription_follows_the_output_subscribers(
        ros: RosHarness, spawn_node: Any, unique_namespace: str) -> None:
    ns = unique_namespace
    process = spawn_node('-r', f'__ns:={ns}', '-p', 'iterations:=4', '-p', 'points.enable:=false',
                         '-p', 'lazy_subscription:=true', name='lazy')
    ros.wait_for_publisher(f'{ns}/depth_dense/image', TIMEOUT)
    rgb_topic = f'{ns}/rgb/image'

    def subscribers() -> int:
        return int(ros.node.count_subscribers(rgb_topic))
    # No output subscriber yet: the node has not subscribed to its inputs (give it time).
    wait_until(lambda: process.alive() and 'ready' in ''.join(process.output()), TIMEOUT,
               message='the node ready')
    for _ in range(10):
        assert subscribers() == 0
        time.sleep(0.1)
    # A subscriber to one output: the node subscribes and serves frames.
    received: List[Image] = []
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    subscription = ros.node.create_subscription(Image, f'{ns}/depth_dense/image',
                                                received.append, qos)
    wait_until(lambda: subscribers() > 0, TIMEOUT, message='the node subscribing its inputs')
    rgb_pub = ros.publisher(Image, rgb_topic)
    depth_pub = ros.publisher(Image, f'{ns}/depth/image')
    ros.wait_for_subscribers([rgb_pub, depth_pub], TIMEOUT)

    def served() -> bool:
        rgb, depth = _frame()
        rgb_pub.publish(rgb)
        depth_pub.publish(depth)
        return wait_until(lambda: any(m.header.stamp.sec == rgb.header.stamp.sec
                                      for m in received), TIMEOUT, message='a dense depth')
    assert served()
    dense = image_to_depth(received[-1])
    assert dense.shape == (H, W) and np.isfinite(dense).all()
    # The last output subscriber leaves: the inputs are unsubscribed again.
    ros.node.destroy_subscription(subscription)
    wait_until(lambda: subscribers() == 0, TIMEOUT, message='the node unsubscribing')
    assert process.alive()
    assert 'no output has a subscriber' in ''.join(process.output())


def test_qos_overrides_win_over_the_qos_parameters(
        ros: RosHarness, spawn_node: Any, unique_namespace: str) -> None:
    ns = unique_namespace
    spawn_node('-r', f'__ns:={ns}', '-p', 'iterations:=4', '-p', 'qos.reliable_input:=true',
               '-p', f'qos_overrides.{ns}/depth_dense/image.publisher.reliability:=best_effort',
               '-p', f'qos_overrides.{ns}/depth/image.subscription.reliability:=best_effort',
               name='qos')
    ros.wait_for_publisher(f'{ns}/depth_dense/image', TIMEOUT)

    def reliability(infos: Any) -> Any:
        return [info.qos_profile.reliability for info in infos]
    publishers = wait_until(
        lambda: ros.node.get_publishers_info_by_topic(f'{ns}/depth_dense/image'), TIMEOUT)
    assert reliability(publishers) == [ReliabilityPolicy.BEST_EFFORT]
    # Not overridden: qos.reliable_output (default true) still decides.
    info = wait_until(
        lambda: ros.node.get_publishers_info_by_topic(f'{ns}/depth_dense/camera_info'), TIMEOUT)
    assert reliability(info) == [ReliabilityPolicy.RELIABLE]
    depth_sub = wait_until(
        lambda: ros.node.get_subscriptions_info_by_topic(f'{ns}/depth/image'), TIMEOUT)
    assert reliability(depth_sub) == [ReliabilityPolicy.BEST_EFFORT]
    # Not overridden: qos.reliable_input:=true still decides.
    rgb_sub = wait_until(
        lambda: ros.node.get_subscriptions_info_by_topic(f'{ns}/rgb/image'), TIMEOUT)
    assert reliability(rgb_sub) == [ReliabilityPolicy.RELIABLE]
