# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Where ``depth.to_rgb`` / ``cloud.to_rgb`` come from: the parameter, else TF (optional).

``tf2_ros`` is not on PyPI, so it is imported optionally: on a ROS installation the node
can look the sensor-to-camera transform up in TF; without it, an empty parameter is a
clear, counted error. :func:`resolve_transform` is the one decision:

1. the parameter is set (7 numbers, a list or ``'[x, y, z, qx, qy, qz, qw]'``) -> that
   transform;
2. the source frame is the RGB frame -> identity;
3. TF is available -> ``lookup_transform(target=rgb_frame, source=sensor_frame)``, the
   latest transform (camera and LiDAR mounts are static);
4. otherwise ``None`` and the reason.

This module holds no node: :class:`TransformLookup` is given the caller's node.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from geometry_msgs.msg import Transform
import numpy as np

from ..core.registration import pose_to_matrix, PoseLike

try:  # optional: tf2_ros ships with ROS, not with the PyPI wheels
    import tf2_ros
    TF_IMPORT_ERROR = ''
except ImportError as error:  # pragma: no cover - depends on the installation
    tf2_ros = None
    TF_IMPORT_ERROR = str(error)

__all__ = ['TF_IMPORT_ERROR', 'tf_available', 'transform_to_matrix', 'TransformLookup',
           'resolve_transform']


def tf_available() -> bool:
    """Whether ``tf2_ros`` imported."""
    return tf2_ros is not None


def transform_to_matrix(transform: Transform) -> np.ndarray:
    """Return the ``(4, 4)`` matrix of a ``geometry_msgs/Transform``."""
    t, q = transform.translation, transform.rotation
    return pose_to_matrix([t.x, t.y, t.z, q.x, q.y, q.z, q.w])


class TransformLookup:
    """A TF buffer and listener on the caller's node, or the reason there is none."""

    def __init__(self, node: Any) -> None:
        """Listen to TF on ``node`` when ``tf2_ros`` is installed."""
        self.buffer: Any = None
        self.listener: Any = None
        self.reason = ''
        if tf2_ros is None:
            self.reason = f'tf2_ros is not installed ({TF_IMPORT_ERROR})'
            return
        self.buffer = tf2_ros.Buffer()
        self.listener = tf2_ros.TransformListener(self.buffer, node)

    @property
    def available(self) -> bool:
        """Whether lookups can be made."""
        return self.buffer is not None

    def lookup(self, target_frame: str, source_frame: str) -> Tuple[Optional[np.ndarray], str]:
        """Return the latest transform from ``source_frame`` to ``target_frame``, or why not."""
        if self.buffer is None:
            return None, self.reason
        try:
            stamped = self.buffer.lookup_transform(target_frame, source_frame,
                                                   _latest_time())
        except tf2_ros.TransformException as error:
            return None, f'TF has no transform {source_frame!r} -> {target_frame!r}: {error}'
        return transform_to_matrix(stamped.transform), 'tf'

    def close(self) -> None:
        """Stop listening."""
        if self.listener is not None:
            self.listener.unregister()
            self.listener = None


def _latest_time() -> Any:
    from rclpy.time import Time  # only reached when tf2_ros (and so rclpy) is installed
    return Time()


def resolve_transform(parameter_name: str, value: PoseLike, target_frame: str,
                      source_frame: str,
                      lookup: Optional[TransformLookup]) -> Tuple[Optional[np.ndarray], str]:
    """Return ``(matrix, source)`` of the sensor-to-RGB transform, or ``(None, reason)``.

    Args:
        parameter_name: ``'depth.to_rgb'`` or ``'cloud.to_rgb'``, for the messages.
        value: the parameter's value, 7 numbers as a list or as text
            (``'[x, y, z, qx, qy, qz, qw]'``); an empty string means "ask TF".
        target_frame: the RGB image's ``frame_id``.
        source_frame: the depth image's or the cloud's ``frame_id``.
        lookup: the node's :class:`TransformLookup` (``None``: no TF).

    ``source`` is ``'parameter'``, ``'same frame'`` or ``'tf'``. A malformed parameter is
    an error (``None`` and the reason), never a silent identity.
    """
    if not isinstance(value, str) or value.strip():
        try:
            return pose_to_matrix(value), 'parameter'
        except ValueError as error:
            return None, f'{parameter_name}: {error}'
    if source_frame == target_frame:
        return np.eye(4), 'same frame'
    if lookup is None or not lookup.available:
        why = lookup.reason if lookup is not None else 'no TF lookup'
        return None, (f'{parameter_name} is empty and {why}: set {parameter_name} to the '
                      f'transform [x, y, z, qx, qy, qz, qw] from {source_frame!r} to '
                      f'{target_frame!r}')
    matrix, reason = lookup.lookup(target_frame, source_frame)
    if matrix is None:
        return None, f'{parameter_name} is empty and {reason}'
    return matrix, reason
