# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Where the sensor-to-RGB transform comes from: parameter, same frame, TF or a clear error.

``tf2_ros`` does not install from PyPI: here the fallback (no TF) is tested; the TF test
runs where ``tf2_ros`` imports (a ROS installation), with a real static broadcaster.
"""

from __future__ import annotations

import time
from typing import Any

from dada_ros.core.registration import pose_to_matrix
from dada_ros.msgs import transforms
from dada_ros.msgs.transforms import resolve_transform, transform_to_matrix, TransformLookup
from geometry_msgs.msg import Transform
import numpy as np
import pytest


def test_parameter_wins_and_is_validated() -> None:
    """A set parameter is used as is; a malformed one is an error, not an identity."""
    matrix, source = resolve_transform('depth.to_rgb', '[0.015, 0, 0, 0, 0, 0, 1]',
                                       'color', 'depth', None)
    assert source == 'parameter' and matrix is not None
    np.testing.assert_allclose(matrix, pose_to_matrix([0.015, 0, 0, 0, 0, 0, 1]))
    matrix, reason = resolve_transform('depth.to_rgb', '0.015 0 0', 'color', 'depth', None)
    assert matrix is None and 'depth.to_rgb' in reason and '7' in reason


def test_same_frame_is_identity() -> None:
    """Depth already in the RGB frame needs no transform."""
    matrix, source = resolve_transform('cloud.to_rgb', '', 'cam', 'cam', None)
    assert source == 'same frame' and matrix is not None
    np.testing.assert_array_equal(matrix, np.eye(4))


@pytest.mark.skipif(transforms.tf_available(), reason='tf2_ros is installed here')
def test_without_tf2_ros_the_reason_is_clear() -> None:
    """No tf2_ros: the lookup reports why, and an empty parameter gives a clear error."""
    lookup = TransformLookup(node=None)
    assert not lookup.available
    assert 'tf2_ros is not installed' in lookup.reason
    assert lookup.lookup('color', 'depth') == (None, lookup.reason)
    matrix, reason = resolve_transform('depth.to_rgb', '', 'color_optical', 'depth_optical',
                                       lookup)
    assert matrix is None
    assert 'depth.to_rgb is empty' in reason and 'tf2_ros is not installed' in reason
    assert "'depth_optical'" in reason and "'color_optical'" in reason
    lookup.close()


def test_transform_message_to_matrix() -> None:
    """geometry_msgs/Transform uses the same [x, y, z, qx, qy, qz, qw] convention."""
    message = Transform()
    message.translation.x, message.translation.y, message.translation.z = 0.1, -0.2, 0.3
    half = np.sqrt(0.5)
    message.rotation.z, message.rotation.w = half, half
    np.testing.assert_allclose(transform_to_matrix(message),
                               pose_to_matrix([0.1, -0.2, 0.3, 0, 0, half, half]))


def test_tf_lookup_with_a_static_broadcaster(ros: Any) -> None:
    """Where tf2_ros imports: a static transform is found by the lookup."""
    tf2_ros = pytest.importorskip('tf2_ros')
    from geometry_msgs.msg import TransformStamped
    broadcaster = tf2_ros.StaticTransformBroadcaster(ros.node)
    stamped = TransformStamped()
    stamped.header.frame_id = 'color_optical'
    stamped.child_frame_id = 'depth_optical'
    stamped.transform.translation.x = 0.015
    stamped.transform.rotation.w = 1.0
    broadcaster.sendTransform(stamped)
    lookup = TransformLookup(ros.node)
    deadline = time.monotonic() + 5.0
    matrix, reason = None, ''
    while matrix is None and time.monotonic() < deadline:
        matrix, reason = resolve_transform('depth.to_rgb', '', 'color_optical',
                                           'depth_optical', lookup)
        time.sleep(0.1)
    assert matrix is not None, reason
    np.testing.assert_allclose(matrix[:3, 3], [0.015, 0, 0])
    lookup.close()
