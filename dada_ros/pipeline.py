# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The one road of a frame: input messages in, output messages out.

``decode -> validate -> camera_info -> pair -> solve -> outputs``, written once and used by
``dada_node``, ``dada_lifecycle_node`` (through :mod:`dada_ros.node`) and
``dada_process_bag``. :class:`FramePipeline` holds no rclpy node object: it takes messages
with their arrival time, returns :class:`PairedFrame` objects, turns a frame into
:class:`FrameOutputs` (dense depth, ``depth_dense/image``, ``depth_dense/camera_info``,
``points``) and reports every problem as an :class:`Event` (counted in
:attr:`FramePipeline.counters`, handed to ``on_event`` for logging). The hosts only add I/O
and scheduling: the node subscribes, hands frames to a worker thread and publishes; the bag
tool reads, processes every frame at once and writes.

Policies (the same live and offline):

* Pairing by header stamp in integer nanoseconds
  (:class:`dada_ros.core.sync.ApproximateTimePairer`, ``sync.slop``, ``sync.queue_size``);
  a zero stamp means "unstamped": such messages pair by arrival
  (:class:`dada_ros.core.sync.ArrivalPairer`) and are counted as
  ``events.sync_unstamped_<stream>``.
* camera_info: the valid one with the RGB image's stamp when it has arrived by the time the
  outputs are built, else the latest valid one when the pair was made.
* Depth values above :data:`MAX_DEPTH_M` are implausible for any sensor (and would overflow
  float32 arithmetic): they become invalid, counted as ``warnings.implausible_depth``.
* A depth image without any valid pixel is a warning (``all_invalid_depth``): its frame is
  still served, all NaN, as the node has always published it.
* Levels: ``error`` = a message rejected (never reaches a frame); ``warning`` = served, but
  something is off; ``info`` = a policy decision worth counting.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Tuple

import numpy as np
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from .conversions import (camera_info_fits, camera_info_to_k, CameraInfoError, copy_header,
                          depth_to_image, image_to_depth_checked, image_to_rgb,
                          ImageConversionError, output_camera_info, PointCloudBuilder)
from .core.params import BY_NAME, SOLVER_PARAMETERS
from .core.sync import ApproximateTimePairer, ArrivalPairer, stamp_to_ns
from .core.upsampler import DepthUpsampler, resolve_depth_mode, upsampling_factor

__all__ = ['CAMERA_INFO_CACHE', 'Counters', 'Event', 'FrameOutputs', 'FramePipeline',
           'MAX_DEPTH_M', 'PairedFrame', 'RUNTIME_PARAMETERS']

#: Depth (metres) above which a value is treated as invalid: no range sensor reports it.
MAX_DEPTH_M = 1.0e5
#: Recent valid camera_infos kept by stamp, to give each frame the one of its own stamp.
CAMERA_INFO_CACHE = 16
#: Parameters that may change while frames flow (they apply to the next frame).
RUNTIME_PARAMETERS = ('iterations', 'solver', 'depth.mode', 'fill_holes', 'sync.slop',
                      'points.enable', 'points.color', 'points.stride')
_RUNTIME_SOLVER = tuple(name for name in RUNTIME_PARAMETERS if name in SOLVER_PARAMETERS)

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

    def snapshot(self) -> Dict[str, Any]:
        """Copy of every counter: ``received``, ``errors``, ``warnings``, ``events``..."""
        with self._lock:
            return {'received': dict(self.received), 'frames': self.frames,
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
    camera_info valid when the pair was made (``None`` before the first one).
    """

    header: Header
    rgb: np.ndarray
    depth: np.ndarray
    arrival: float
    info: Optional[CameraInfo]
    k: Optional[np.ndarray]
    factor: int

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


_RgbItem = Tuple[Header, np.ndarray, float]
_DepthItem = Tuple[np.ndarray, float]


@dataclass
class _CameraInfos:
    """Latest valid camera_info and the recent ones by stamp (shared by two threads)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latest: Optional[Tuple[CameraInfo, np.ndarray]] = None
    by_stamp: 'collections.OrderedDict[int, Tuple[CameraInfo, np.ndarray]]' = field(
        default_factory=collections.OrderedDict)


class FramePipeline:
    """Decode, validate, pair, solve and build outputs for one RGB-D stream.

    Args:
        params: Parameter values of :data:`dada_ros.core.params.PARAMETERS` (missing ones
            take their defaults); validated.
        upsampler: The solver to use (default: built from the solver parameters).
        on_event: Called with every :class:`Event` after it is counted (logging).

    Thread safety: ``add_*``, :meth:`reset` and :meth:`set_param` are called from one
    thread (the node's executor); :meth:`process` may run in another (the worker).
    """

    def __init__(self, params: Mapping[str, Any], upsampler: Optional[DepthUpsampler] = None,
                 on_event: Optional[Callable[[Event], None]] = None) -> None:
        values = {spec.name: spec.default for spec in BY_NAME.values()}
        for name, value in params.items():
            spec = BY_NAME.get(name)
            if spec is None:
                raise ValueError(f'unknown parameter {name!r}')
            reason = spec.validate(value)
            if reason is not None:
                raise ValueError(reason)
            values[name] = float(value) if spec.type is float else value
        self.params: Dict[str, Any] = values
        self.upsampler = upsampler if upsampler is not None else DepthUpsampler(
            **{name: values[name] for name in SOLVER_PARAMETERS})
        self.counters = Counters()
        self.on_event = on_event
        self.pairer: ApproximateTimePairer[_RgbItem, _DepthItem] = ApproximateTimePairer(
            float(values['sync.slop']), int(values['sync.queue_size']))
        self.unstamped: ArrivalPairer[_RgbItem, _DepthItem] = ArrivalPairer()
        self._pairer_seen: Dict[str, int] = dict(self.pairer.stats)
        self._infos = _CameraInfos()
        self._pending_lock = threading.Lock()
        self._pending_solver: Dict[str, Any] = {}
        self._clouds = PointCloudBuilder()

    # --- events -----------------------------------------------------------------------------
    def report(self, level: str, kind: str, stream: str, message: str) -> None:
        """Count an event and hand it to ``on_event`` (also for the hosts' own events)."""
        event = Event(level, kind, stream, message)
        self.counters.add(event)
        if self.on_event is not None:
            self.on_event(event)

    def _check_pairer(self, stream: str) -> None:
        stats = self.pairer.stats
        if self.pairer.stamp_going_backwards[stream]:
            self.report('error', f'stamp_backwards_{stream}', stream,
                        f'{stream} stamps went backwards (bag loop or clock reset?)')
        for key in ('dropped_late', 'duplicate', 'reset', 'dropped_reset'):
            if stats[key] > self._pairer_seen.get(key, 0):
                self.report('info', f'sync_{key}', stream,
                            f'pairing: {key.replace("_", " ")} ({stats[key]} so far)')
        self._pairer_seen = dict(stats)

    # --- parameters -------------------------------------------------------------------------
    def set_param(self, name: str, value: Any) -> None:
        """Change a run-time parameter (:data:`RUNTIME_PARAMETERS`); applies to the next frame.

        Raises:
            ValueError: ``name`` cannot change at run time, or ``value`` is invalid.
        """
        spec = BY_NAME.get(name)
        if spec is None or name not in RUNTIME_PARAMETERS:
            raise ValueError(f'{name} cannot change at run time')
        reason = spec.validate(value)
        if reason is not None:
            raise ValueError(reason)
        value = float(value) if spec.type is float else value
        self.params[name] = value
        if name == 'sync.slop':
            self.pairer.set_slop(float(value))
        elif name in _RUNTIME_SOLVER:
            with self._pending_lock:  # the worker applies it before its next solve
                self._pending_solver[name] = value

    def _apply_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending_solver = self._pending_solver, {}
        for name, value in pending.items():
            try:
                self.upsampler.set_param(name, value)
            except ValueError as error:
                self.report('error', 'parameter_error', 'frame', str(error))

    @property
    def parameter_change_pending(self) -> bool:
        """Whether a solver parameter changed since the running solve started."""
        with self._pending_lock:
            return bool(self._pending_solver)

    # --- inputs -----------------------------------------------------------------------------
    def add_camera_info(self, msg: CameraInfo) -> None:
        """Keep a valid RGB camera_info (latest, and by stamp for exact lookups)."""
        self.counters.receive('camera_info')
        try:
            k = camera_info_to_k(msg)
        except CameraInfoError as error:
            self.report('error', error.kind, 'camera_info', str(error))
            return
        infos = self._infos
        with infos.lock:
            infos.latest = (msg, k)
            infos.by_stamp[stamp_to_ns(msg.header.stamp)] = (msg, k)
            while len(infos.by_stamp) > CAMERA_INFO_CACHE:
                infos.by_stamp.popitem(last=False)

    def add_rgb(self, msg: Image, arrival: Optional[float] = None) -> List[PairedFrame]:
        """Decode an RGB image and pair it; return the frames it completed (zero or one)."""
        arrival = time.monotonic() if arrival is None else arrival
        self.counters.receive('rgb')
        try:
            rgb = image_to_rgb(msg)
        except ImageConversionError as error:
            self.report('error', error.kind, 'rgb', f'rgb/image rejected: {error}')
            return []
        header = copy_header(msg.header)
        stamp = stamp_to_ns(header.stamp)
        if stamp == 0:
            self.report('info', 'sync_unstamped_rgb', 'rgb', 'rgb/image has zero stamps: '
                        'pairing by arrival with the newest unstamped depth image')
            return self._frames(self.unstamped.add_rgb((header, rgb, arrival)))
        pairs = self.pairer.add_rgb(stamp, (header, rgb, arrival))
        self._check_pairer('rgb')
        return self._frames(pairs)

    def add_depth(self, msg: Image, arrival: Optional[float] = None) -> List[PairedFrame]:
        """Decode a depth image and pair it; return the frames it completed (zero or one)."""
        arrival = time.monotonic() if arrival is None else arrival
        self.counters.receive('depth')
        try:
            depth, found = image_to_depth_checked(msg)
        except ImageConversionError as error:
            self.report('error', error.kind, 'depth', f'depth/image rejected: {error}')
            return []
        depth = self._plausible(depth)
        if found.valid == 0 or not np.isfinite(depth).any():
            self.report('warning', 'all_invalid_depth', 'depth', 'depth/image has no valid '
                        'pixel; its frame will be all NaN')
        elif found.infinite:
            self.report('warning', 'infinite_depth', 'depth', f'depth/image has '
                        f'{found.infinite} infinite values; treated as invalid')
        stamp = stamp_to_ns(msg.header.stamp)
        if stamp == 0:
            self.report('info', 'sync_unstamped_depth', 'depth', 'depth/image has zero '
                        'stamps: pairing by arrival with the newest unstamped rgb image')
            return self._frames(self.unstamped.add_depth((depth, arrival)))
        pairs = self.pairer.add_depth(stamp, (depth, arrival))
        self._check_pairer('depth')
        return self._frames(pairs)

    def _plausible(self, depth: np.ndarray) -> np.ndarray:
        """``depth`` with values above :data:`MAX_DEPTH_M` made invalid (counted)."""
        with np.errstate(invalid='ignore'):
            implausible = depth > MAX_DEPTH_M
        count = int(np.count_nonzero(implausible))
        if not count:
            return depth
        self.report('warning', 'implausible_depth', 'depth',
                    f'depth/image has {count} values above {MAX_DEPTH_M:g} m; treated as '
                    'invalid')
        return np.where(implausible, np.float32(np.nan), depth).astype(np.float32)

    def _frames(self, pairs: List[Tuple[_RgbItem, _DepthItem]]) -> List[PairedFrame]:
        frames = []
        with self._infos.lock:
            latest = self._infos.latest
        info, k = latest if latest is not None else (None, None)
        for (header, rgb, rgb_arrival), (depth, depth_arrival) in pairs:
            try:
                factor = upsampling_factor(rgb.shape, depth.shape)
                resolve_depth_mode(str(self.params['depth.mode']), factor)
            except ValueError as error:
                self.report('error', 'size_mismatch', 'frame', str(error))
                continue
            frames.append(PairedFrame(header, rgb, depth, max(rgb_arrival, depth_arrival),
                                      info, k, factor))
        return frames

    def reset(self) -> None:
        """Forget queued input (counted as ``dropped_reset``), e.g. on deactivate."""
        self.pairer.reset()
        self.unstamped.reset()
        self._pairer_seen = dict(self.pairer.stats)

    # --- solve and outputs ------------------------------------------------------------------
    def process(self, frame: PairedFrame, want_points: bool = True,
                cancel: Optional[Callable[[], bool]] = None) -> FrameOutputs:
        """Solve ``frame`` and build its output messages (see :class:`FrameOutputs`).

        ``want_points`` false skips the cloud (e.g. nobody subscribes to it); ``cancel``
        is polled by the solver between levels (a stopped solve raises
        :class:`dada_ros.core.upsampler.SolveCancelled`).
        """
        self._apply_pending()
        started = time.monotonic()
        dense = self.upsampler(frame.rgb, frame.depth, cancel=cancel)
        solved = time.monotonic()
        outputs = self.outputs(frame, dense, want_points)
        outputs.solve_s = solved - started
        outputs.output_s = time.monotonic() - solved
        return outputs

    def outputs(self, frame: PairedFrame, dense: np.ndarray,
                want_points: bool = True) -> FrameOutputs:
        """Build the output messages of ``frame`` from its dense depth (metres)."""
        depth_msg = depth_to_image(dense, frame.header)
        with self._infos.lock:
            exact = self._infos.by_stamp.get(frame.stamp_ns)
        info, k = exact if exact is not None else (frame.info, frame.k)
        height, width = dense.shape
        self.counters.frame()
        if info is None or k is None:
            self.report('warning', 'missing_camera_info', 'frame', 'no valid rgb/camera_info '
                        'received yet: depth_dense/image only')
            return FrameOutputs(dense, depth_msg, None, None, 'missing_camera_info')
        if not camera_info_fits(info, width, height):
            self.report('warning', 'camera_info_size_mismatch', 'frame',
                        f'rgb/camera_info is for {info.width}x{info.height} but the rgb image '
                        f'is {width}x{height}: no camera_info / points')
            return FrameOutputs(dense, depth_msg, None, None, 'camera_info_size_mismatch')
        points = None
        if want_points and self.params['points.enable']:
            colours = frame.rgb if self.params['points.color'] else None
            points = self._clouds.build(dense, k, frame.header,
                                        int(self.params['points.stride']), colours)
        return FrameOutputs(dense, depth_msg, output_camera_info(info, frame.header), points,
                            k=k)


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
