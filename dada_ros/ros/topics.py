# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Publishers, subscriptions and QoS of ``dada_node`` (:class:`NodeIO`).

Outputs: ``depth_dense/image``, ``depth_dense/camera_info``, ``points``,
``depth_dense/confidence``, ``depth_sparse/image`` and ``/diagnostics``. Inputs follow
``rgb.transport``, ``depth.source`` and ``depth.transport``.

QoS: the defaults come from ``qos.reliable_input`` / ``qos.reliable_output``; every
publisher and subscription also takes the ROS 2 QoS overrides
(``qos_overrides./<ns>/<topic>.publisher.reliability`` etc., read-only parameters given on
the command line or in a parameters file), which win over those defaults.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from ..pipeline import OUTPUT_TOPICS

__all__ = ['NodeIO', 'OUTPUT_TOPICS']

#: Which QoS policies a user may override (``qos_overrides.<topic>...``).
_OVERRIDES = QoSOverridingOptions.with_default_policies()


class NodeIO:
    """Publishers, subscriptions and QoS of ``dada_node`` on a host node."""

    def __init__(self, node: Node, values: Dict[str, Any]) -> None:
        """Nothing is created before :meth:`create_publishers` / :meth:`subscribe`."""
        self.node = node
        self.values = values
        self.managed = isinstance(node, LifecycleNode)
        self.depth: Optional[Any] = None
        self.info: Optional[Any] = None
        self.points: Optional[Any] = None
        self.confidence: Optional[Any] = None
        self.sparse: Optional[Any] = None
        self.diagnostics: Optional[Any] = None
        self.rgb_topic = ''
        """Resolved name of the RGB image subscription (for the distortion warning)."""
        self._subscriptions: List[Any] = []
        self._publishers: Dict[str, Any] = {}
        """The output publishers by topic (:data:`OUTPUT_TOPICS` names), for :meth:`send`."""

    def create_publishers(self) -> None:
        """Create the output publishers (lifecycle publishers on a managed node)."""
        out_qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                             reliability=ReliabilityPolicy.RELIABLE
                             if self.values['qos.reliable_output']
                             else ReliabilityPolicy.BEST_EFFORT)
        make: Callable[..., Any] = (self.node.create_lifecycle_publisher  # type: ignore
                                    if self.managed else self.node.create_publisher)

        def create(msg_type: Any, output: str) -> Any:
            # A copy each: the overrides are applied to the profile object in place.
            publisher = make(msg_type, OUTPUT_TOPICS[output], copy.copy(out_qos),
                             qos_overriding_options=_OVERRIDES)
            self._publishers[OUTPUT_TOPICS[output]] = publisher
            return publisher
        self.depth = create(Image, 'depth')
        self.info = create(CameraInfo, 'info')
        self.points = create(PointCloud2, 'points')
        self.confidence = create(Image, 'confidence')
        self.sparse = create(Image, 'sparse')
        self.diagnostics = self.node.create_publisher(DiagnosticArray, '/diagnostics', 10)

    def destroy_publishers(self) -> None:
        """Destroy every publisher created by :meth:`create_publishers`."""
        for publisher in (self.depth, self.info, self.points, self.confidence, self.sparse):
            if publisher is not None and self.managed:
                self.node.destroy_lifecycle_publisher(publisher)  # type: ignore[attr-defined]
            elif publisher is not None:
                self.node.destroy_publisher(publisher)
        if self.diagnostics is not None:
            self.node.destroy_publisher(self.diagnostics)
        self.depth = self.info = self.points = self.diagnostics = None
        self.confidence = self.sparse = None
        self._publishers = {}

    def subscribe(self, on_rgb: Callable[[Any], None], on_depth: Callable[[Any], None],
                  on_camera_info: Callable[[CameraInfo], None],
                  on_depth_camera_info: Callable[[CameraInfo], None],
                  on_cloud: Callable[[PointCloud2], None]) -> None:
        """Subscribe to the inputs (sensor-data QoS unless ``qos.reliable_input``).

        The topics follow ``rgb.transport`` (``rgb/image`` or ``rgb/image/compressed``),
        ``depth.source`` and ``depth.transport`` (``depth/image``,
        ``depth/image/compressedDepth`` plus ``depth/camera_info``, or ``cloud``).
        """
        if self.values['qos.reliable_input']:
            in_qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                                reliability=ReliabilityPolicy.RELIABLE)
        else:
            in_qos = qos_profile_sensor_data
        def subscribe(msg_type: Any, topic: str, callback: Callable[[Any], None],
                      qos: QoSProfile) -> Any:
            # A copy each: the overrides are applied to the profile object in place (and
            # qos_profile_sensor_data is rclpy's shared module-level profile).
            return self.node.create_subscription(msg_type, topic, callback, copy.copy(qos),
                                                 qos_overriding_options=_OVERRIDES)
        if self.values['rgb.transport'] == 'compressed':
            rgb = subscribe(CompressedImage, 'rgb/image/compressed', on_rgb, in_qos)
        else:
            rgb = subscribe(Image, 'rgb/image', on_rgb, in_qos)
        self.rgb_topic = str(rgb.topic_name)
        self._subscriptions = [
            rgb, subscribe(CameraInfo, 'rgb/camera_info', on_camera_info, in_qos)]
        if self.values['depth.source'] == 'cloud':
            self._subscriptions.append(subscribe(PointCloud2, 'cloud', on_cloud, in_qos))
            return
        if self.values['depth.transport'] == 'compressedDepth':
            depth = subscribe(CompressedImage, 'depth/image/compressedDepth', on_depth, in_qos)
        else:
            depth = subscribe(Image, 'depth/image', on_depth, in_qos)
        self._subscriptions += [
            depth, subscribe(CameraInfo, 'depth/camera_info', on_depth_camera_info, in_qos)]

    def unsubscribe(self) -> None:
        """Destroy the input subscriptions."""
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)
        self._subscriptions = []

    @property
    def subscribed(self) -> bool:
        """Whether the input subscriptions exist."""
        return bool(self._subscriptions)

    def outputs_wanted(self) -> bool:
        """Whether any output topic (not ``/diagnostics``) has a subscriber."""
        return any(publisher is not None and publisher.get_subscription_count() > 0
                   for publisher in (self.depth, self.info, self.points, self.confidence,
                                     self.sparse))

    def points_wanted(self) -> bool:
        """Whether anybody subscribes to ``points`` (no cloud is built otherwise)."""
        return self.points is not None and self.points.get_subscription_count() > 0

    def confidence_wanted(self) -> bool:
        """Whether anybody subscribes to ``depth_dense/confidence``."""
        return self.confidence is not None and self.confidence.get_subscription_count() > 0

    def sparse_wanted(self) -> bool:
        """Whether anybody subscribes to ``depth_sparse/image``."""
        return self.sparse is not None and self.sparse.get_subscription_count() > 0

    def send(self, topic: str, message: Any) -> bool:
        """Publish one output message on ``topic`` (an :data:`OUTPUT_TOPICS` name).

        The ``send`` of :meth:`dada_ros.pipeline.FramePipeline.emit`; returns ``False`` when
        the publisher does not exist (before :meth:`create_publishers`, after destroying).
        """
        publisher = self._publishers.get(topic)
        if publisher is None:
            return False
        publisher.publish(message)
        return True
