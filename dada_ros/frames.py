# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The records of the frame road (:mod:`dada_ros.pipeline`): frames, outputs, events, counts.

:class:`PairedFrame` goes into a solve and :class:`FrameOutputs` comes out, sent on the
topics of :data:`OUTPUT_TOPICS`; every problem or decision is an :class:`Event`, counted in
:class:`Counters` (with the messages received and the outputs emitted);
:class:`PairingStats` and :class:`LatencyWindow` are what the hosts report. Shared by the
node, the bag tool and the demo; no rclpy here (message classes only).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
import threading
from typing import Any, Deque, Dict, Optional

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from .core.sync import stamp_to_ns

__all__ = ['Counters', 'Event', 'FrameOutputs', 'LatencyWindow', 'LEVELS', 'OUTPUT_TOPICS',
           'PairedFrame', 'PairingStats']

#: The output topics of ``dada_node``, the bag tool and the demo (names relative to the
#: node's namespace), keyed by the :class:`FrameOutputs` field each one carries, in the
#: order :meth:`dada_ros.pipeline.FramePipeline.emit` sends them.
OUTPUT_TOPICS = {'depth': 'depth_dense/image', 'info': 'depth_dense/camera_info',
                 'points': 'points', 'confidence': 'depth_dense/confidence',
                 'sparse': 'depth_sparse/image'}

#: Event levels: a message rejected, served with a problem, a decision worth counting.
LEVELS = ('error', 'warning', 'info')


@dataclass(frozen=True)
class Event:
    """Something worth counting: a rejected message, a suspicious frame, a policy decision.

    ``kind`` is the counter name (``unknown_encoding``, ``all_invalid_depth``...),
    ``stream`` the input it came from (``rgb``, ``depth``, ``camera_info`` or ``frame``).
    """

    level: str
    kind: str
    stream: str
    message: str


class Counters:
    """Thread-safe counters of one pipeline: messages received and events by level and kind."""

    def __init__(self) -> None:
        """Start with every counter at zero."""
        self._lock = threading.Lock()
        self.received: Dict[str, int] = collections.defaultdict(int)
        self.by_level: Dict[str, Dict[str, int]] = {
            level: collections.defaultdict(int) for level in LEVELS}
        self.by_stream: Dict[str, Dict[str, int]] = {
            level: collections.defaultdict(int) for level in LEVELS}
        self.frames = 0
        self.emitted: Dict[str, int] = collections.defaultdict(int)

    def receive(self, stream: str) -> None:
        """Count one message of ``stream`` as received."""
        with self._lock:
            self.received[stream] += 1

    def add(self, event: Event) -> None:
        """Count ``event`` by level and kind (and ``stream.kind``)."""
        with self._lock:
            self.by_level[event.level][event.kind] += 1
            self.by_stream[event.level][f'{event.stream}.{event.kind}'] += 1

    def frame(self) -> None:
        """Count one frame whose outputs were built."""
        with self._lock:
            self.frames += 1

    def emit(self, topic: str) -> None:
        """Count one output message sent on ``topic`` (:meth:`FramePipeline.emit`)."""
        with self._lock:
            self.emitted[topic] += 1

    def snapshot(self) -> Dict[str, Any]:
        """Copy of every counter: ``received``, ``errors``, ``warnings``, ``emitted``..."""
        with self._lock:
            return {'received': dict(self.received), 'frames': self.frames,
                    'emitted': dict(self.emitted),
                    'errors': dict(self.by_level['error']),
                    'warnings': dict(self.by_level['warning']),
                    'events': dict(self.by_level['info']),
                    'by_stream': {level: dict(counts)
                                  for level, counts in self.by_stream.items()}}


@dataclass
class PairedFrame:
    """One RGB-D pair, decoded and checked, ready to solve.

    ``rgb (H, W, 3)`` uint8, ``depth (h, w)`` float32 metres (NaN = invalid), ``arrival``
    the monotonic time (s) the later of the two messages arrived, ``info`` / ``k`` the
    camera_info valid when the pair was made (``None`` before the first one). ``mode`` is
    where ``depth`` came from: ``'image'`` (the depth image as received, solved with
    ``depth.mode``), ``'register'`` (registered from another camera) or ``'cloud'`` (a
    projected cloud); the last two are sparse depth at the RGB size.
    """

    header: Header
    rgb: np.ndarray
    depth: np.ndarray
    arrival: float
    info: Optional[CameraInfo]
    k: Optional[np.ndarray]
    factor: float
    mode: str = 'image'

    @property
    def stamp_ns(self) -> int:
        """Stamp of the RGB header in nanoseconds."""
        return stamp_to_ns(self.header.stamp)


@dataclass
class FrameOutputs:
    """What one frame produces; ``info`` / ``points`` are ``None`` with a ``reason``.

    ``reason`` is ``missing_camera_info`` or ``camera_info_size_mismatch`` when no
    camera_info (and so no cloud) could be built; ``points`` is also ``None`` when the
    cloud is disabled or not wanted. ``k`` is the camera matrix used for the cloud;
    ``solve_s`` / ``output_s`` time the two stages.
    """

    dense: np.ndarray
    depth: Image
    info: Optional[CameraInfo]
    points: Optional[PointCloud2]
    reason: Optional[str] = None
    k: Optional[np.ndarray] = None
    solve_s: float = 0.0
    output_s: float = 0.0
    confidence: Optional[Image] = None
    """``depth_dense/confidence`` (32FC1, 0..1) when wanted."""
    sparse: Optional[Image] = None
    """``depth_sparse/image`` (32FC1 m): the registered or projected input, when wanted."""


@dataclass(frozen=True)
class PairingStats:
    """What pairing did with the input messages (:meth:`FramePipeline.pairing_stats`)."""

    stamped: Dict[str, int]
    """Counters of the stamp pairer (:attr:`dada_ros.core.sync.ApproximateTimePairer.stats`)."""
    unstamped: Dict[str, int]
    """Counters of the pairer of zero stamps (:class:`~dada_ros.core.sync.ArrivalPairer`)."""
    unpaired: Dict[str, int]
    """Per stream (``rgb``, ``depth``): messages without a pair so far, dropped or queued."""


class LatencyWindow:
    """The last ``size`` values of a duration (s), for means and percentiles in ms."""

    def __init__(self, size: int = 200) -> None:
        """Keep at most ``size`` values."""
        self._values: Deque[float] = collections.deque(maxlen=size)

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self._values.append(seconds)

    def mean_ms(self) -> float:
        """Mean in ms (NaN when empty)."""
        return 1e3 * float(np.mean(self._values)) if self._values else float('nan')

    def p95_ms(self) -> float:
        """95th percentile in ms (NaN when empty)."""
        return 1e3 * float(np.percentile(self._values, 95)) if self._values else float('nan')
