# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The one road of a frame: input messages in, output messages out.

``decode -> validate -> camera_info -> pair -> solve -> outputs``, written once and used by
``dada_node``, ``dada_lifecycle_node`` (through :mod:`dada_ros.ros.node`) and
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
  float32 arithmetic): they become invalid, counted as ``warnings.implausible_depth``, on
  every road: depth images, cloud points (a coordinate beyond it drops the point) and the
  depth that registration or a cloud projection puts into the RGB camera (a transform
  with a huge translation).
* A message whose header stamp has ``nanosec`` of 1e9 or more is refused
  (``errors.bad_stamp``); negative values of a ``32FC1`` depth image are invalid, counted as
  ``warnings.negative_depth`` (the frame is served).
* A depth image without any valid pixel is a warning (``all_invalid_depth``): its frame is
  still served, all NaN, as the node has always published it.
* Levels: ``error`` = a message rejected (never reaches a frame); ``warning`` = served, but
  something is off; ``info`` = a policy decision worth counting.

Inputs from real sensors (:mod:`dada_ros.msgs.sensor_inputs`):

* ``rgb`` may be ``sensor_msgs/Image`` or ``CompressedImage`` (``compressed``), ``depth``
  ``Image`` or ``CompressedImage`` (``compressedDepth``): decoded by the message's type.
* ``depth.mode`` ``register`` (or ``auto`` with depth in another frame once
  :meth:`FramePipeline.add_depth_camera_info` has a camera_info): the depth is registered
  into the RGB camera when the pair is made, by ``depth.to_rgb`` or TF, then completed as
  sparse depth. :meth:`FramePipeline.add_cloud` (``depth.source: cloud``) pairs a
  ``PointCloud2`` in place of the depth image; it is moved by ``cloud.to_rgb`` (or TF) and
  projected with the RGB camera's ``P``. Both need the RGB camera_info at pairing time.
* ``lowres``/``sparse`` depth in another ``frame_id`` than the RGB image is served but
  counted as ``warnings.frame_mismatch``.
* Outputs: ``depth_dense/confidence`` (:func:`dada_ros.core.confidence.depth_confidence`)
  when wanted or ``confidence.min > 0`` (which masks the dense depth and the cloud), and
  ``depth_sparse/image`` (the registered or projected input) when wanted.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple, \
    Union

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

from .core.confidence import depth_confidence, mask_low_confidence
from .core.params import BY_NAME, checked_params, defaults, SOLVER_PARAMETERS
from .core.registration import choose_depth_mode
from .core.sync import ApproximateTimePairer, ArrivalPairer, DROP_KEYS, stamp_to_ns, STREAMS
from .core.upsampler import DepthUpsampler, resolve_depth_mode, size_ratio, upsampling_factor
from .frames import (Counters, Event, FrameOutputs, LatencyWindow, LEVELS,  # noqa: F401
                     OUTPUT_TOPICS, PairedFrame, PairingStats)
from .msgs.clouds import cloud_to_xyz, PointCloudBuilder
from .msgs.conversions import (camera_info_fits, camera_info_to_k, CameraInfoError, copy_header,
                               depth_to_image, ImageConversionError, output_camera_info)
from .msgs.sensor_inputs import (decode_depth_checked, decode_rgb, distortion_warning,
                                 frame_mismatch_warning, points_to_sparse_depth,
                                 register_depth_message, rgb_projection)
from .msgs.transforms import resolve_transform, TransformLookup

# The records of the road (dada_ros.frames) are part of the pipeline's interface.
__all__ = ['CAMERA_INFO_CACHE', 'Counters', 'Event', 'FrameOutputs', 'FramePipeline',
           'LatencyWindow', 'MAX_DEPTH_M', 'OUTPUT_TOPICS', 'PairedFrame', 'PairingStats',
           'RUNTIME_PARAMETERS']

#: Depth (metres) above which a value is treated as invalid: no range sensor reports it.
MAX_DEPTH_M = 1.0e5
#: Recent valid camera_infos kept by stamp, to give each frame the one of its own stamp.
CAMERA_INFO_CACHE = 16
#: Parameters that may change while frames flow (they apply to the next frame).
RUNTIME_PARAMETERS = ('iterations', 'solver', 'cpu_kernel', 'depth.mode', 'fill_holes',
                      'sync.slop', 'points.enable', 'points.color', 'points.stride',
                      'depth.to_rgb', 'cloud.to_rgb', 'confidence.enable', 'confidence.min',
                      'depth_sparse.enable')
_RUNTIME_SOLVER = tuple(name for name in RUNTIME_PARAMETERS if name in SOLVER_PARAMETERS)


class _DepthItem(NamedTuple):
    """What waits in the pairer's depth queue: a decoded image or the points of a cloud."""

    values: np.ndarray
    """``(h, w)`` depth in metres, or ``(N, 3)`` points of a cloud."""
    arrival: float
    frame_id: str
    kind: str
    """``'image'`` or ``'cloud'``."""


_RgbItem = Tuple[Header, np.ndarray, float]


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
        transform_lookup: Builds the TF lookup of the host node, called the first time a
            transform parameter is empty (``None``: no TF, the parameters must be set).

    Thread safety: ``add_*``, :meth:`reset` and :meth:`set_param` are called from one
    thread (the node's executor); :meth:`process` may run in another (the worker).
    """

    def __init__(self, params: Mapping[str, Any], upsampler: Optional[DepthUpsampler] = None,
                 on_event: Optional[Callable[[Event], None]] = None,
                 transform_lookup: Optional[Callable[[], TransformLookup]] = None) -> None:
        values = {**defaults(), **checked_params(params)}
        self.params: Dict[str, Any] = values
        self.upsampler = upsampler if upsampler is not None else DepthUpsampler.from_params(
            values)
        self.counters = Counters()
        self.on_event = on_event
        self.pairer: ApproximateTimePairer[_RgbItem, _DepthItem] = ApproximateTimePairer(
            float(values['sync.slop']), int(values['sync.queue_size']))
        self.unstamped: ArrivalPairer[_RgbItem, _DepthItem] = ArrivalPairer()
        self._pairer_seen: Dict[str, int] = dict(self.pairer.stats)
        self._infos = _CameraInfos()
        self._depth_info: Optional[CameraInfo] = None
        self._make_lookup = transform_lookup
        self._lookup: Optional[TransformLookup] = None
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
        value = spec.coerce(value)
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
    def add_camera_info(self, msg: CameraInfo, image_topic: str = '') -> None:
        """Keep a valid RGB camera_info (latest, and by stamp for exact lookups).

        The camera matrix of the cloud is the rectified ``P`` when it is set, else ``K``.
        With ``image_topic`` (the RGB image's resolved topic), a distorted camera whose image
        topic is not rectified is counted as ``warnings.distorted_image``.
        """
        self.counters.receive('camera_info')
        try:
            camera_info_to_k(msg)
            k = rgb_projection(msg)[:, :3]
        except CameraInfoError as error:
            self.report('error', error.kind, 'camera_info', str(error))
            return
        warning = distortion_warning(msg, image_topic) if image_topic else None
        if warning is not None:
            self.report('warning', 'distorted_image', 'camera_info', warning)
        infos = self._infos
        with infos.lock:
            infos.latest = (msg, k)
            infos.by_stamp[stamp_to_ns(msg.header.stamp)] = (msg, k)
            while len(infos.by_stamp) > CAMERA_INFO_CACHE:
                infos.by_stamp.popitem(last=False)

    def add_depth_camera_info(self, msg: CameraInfo) -> None:
        """Keep the latest valid ``depth/camera_info`` (the depth camera's K, for register)."""
        self.counters.receive('depth_camera_info')
        try:
            camera_info_to_k(msg)
        except CameraInfoError as error:
            self.report('error', error.kind, 'depth_camera_info', str(error))
            return
        with self._infos.lock:
            self._depth_info = msg

    def add_rgb(self, msg: Union[Image, CompressedImage],
                arrival: Optional[float] = None) -> List[PairedFrame]:
        """Decode an RGB image (raw or compressed) and pair it; return the completed frames."""
        arrival = time.monotonic() if arrival is None else arrival
        self.counters.receive('rgb')
        try:
            rgb = decode_rgb(msg, int(self.params['input.max_pixels']))
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

    def add_depth(self, msg: Union[Image, CompressedImage],
                  arrival: Optional[float] = None) -> List[PairedFrame]:
        """Decode a depth image (raw or compressedDepth) and pair it; return the frames."""
        arrival = time.monotonic() if arrival is None else arrival
        self.counters.receive('depth')
        try:
            depth, found = decode_depth_checked(msg, int(self.params['input.max_pixels']))
        except ImageConversionError as error:
            self.report('error', error.kind, 'depth', f'depth/image rejected: {error}')
            return []
        depth = self._plausible(depth, 'depth', 'depth/image')
        if found.valid == 0 or not np.isfinite(depth).any():
            self.report('warning', 'all_invalid_depth', 'depth', 'depth/image has no valid '
                        'pixel; its frame will be all NaN')
        elif found.infinite:
            self.report('warning', 'infinite_depth', 'depth', f'depth/image has '
                        f'{found.infinite} infinite values; treated as invalid')
        if found.negative:
            self.report('warning', 'negative_depth', 'depth', f'depth/image has '
                        f'{found.negative} negative values; treated as invalid')
        return self._pair_depth(msg.header, _DepthItem(depth, arrival, msg.header.frame_id,
                                                       'image'))

    def add_cloud(self, msg: PointCloud2, arrival: Optional[float] = None) -> List[PairedFrame]:
        """Read a cloud's points and pair them in place of a depth image (``depth.source``)."""
        arrival = time.monotonic() if arrival is None else arrival
        self.counters.receive('cloud')
        try:
            points = cloud_to_xyz(msg)
        except ImageConversionError as error:
            self.report('error', error.kind, 'cloud', f'cloud rejected: {error}')
            return []
        points = self._plausible_points(points)
        if len(points) == 0:
            self.report('warning', 'empty_cloud', 'cloud', 'cloud has no finite point; its '
                        'frame will be all NaN')
        return self._pair_depth(msg.header, _DepthItem(points, arrival, msg.header.frame_id,
                                                       'cloud'))

    def _pair_depth(self, header: Header, item: _DepthItem) -> List[PairedFrame]:
        stamp = stamp_to_ns(header.stamp)
        if stamp == 0:
            self.report('info', 'sync_unstamped_depth', 'depth', 'depth input has zero '
                        'stamps: pairing by arrival with the newest unstamped rgb image')
            return self._frames(self.unstamped.add_depth(item))
        pairs = self.pairer.add_depth(stamp, item)
        self._check_pairer('depth')
        return self._frames(pairs)

    def _plausible(self, depth: np.ndarray, stream: str, what: str) -> np.ndarray:
        """``depth`` with values above :data:`MAX_DEPTH_M` made invalid (counted).

        The one plausibility rule of every depth road: depth images, registered depth and
        projected clouds (``what`` names the source in the log line).
        """
        with np.errstate(invalid='ignore'):
            implausible = depth > MAX_DEPTH_M
        count = int(np.count_nonzero(implausible))
        if not count:
            return depth
        self.report('warning', 'implausible_depth', stream,
                    f'{what} has {count} values above {MAX_DEPTH_M:g} m; treated as invalid')
        return np.where(implausible, np.float32(np.nan), depth).astype(np.float32)

    def _plausible_points(self, points: np.ndarray) -> np.ndarray:
        """``(N, 3)`` cloud points without those farther than :data:`MAX_DEPTH_M` (counted)."""
        with np.errstate(invalid='ignore'):
            implausible = ((points > MAX_DEPTH_M) | (points < -MAX_DEPTH_M)).any(axis=1)
        count = int(np.count_nonzero(implausible))
        if not count:
            return points
        self.report('warning', 'implausible_depth', 'cloud',
                    f'cloud has {count} points with a coordinate beyond {MAX_DEPTH_M:g} m; '
                    'dropped')
        return points[~implausible]

    def _frames(self, pairs: List[Tuple[_RgbItem, _DepthItem]]) -> List[PairedFrame]:
        frames = []
        with self._infos.lock:
            latest = self._infos.latest
            depth_info = self._depth_info
        info, k = latest if latest is not None else (None, None)
        for (header, rgb, rgb_arrival), item in pairs:
            with self._infos.lock:
                exact = self._infos.by_stamp.get(stamp_to_ns(header.stamp))
            rgb_info = exact[0] if exact is not None else info
            prepared = self._depth_in_rgb(header, rgb, item, rgb_info, depth_info)
            if prepared is None:
                continue
            depth, factor, mode = prepared
            frames.append(PairedFrame(header, rgb, depth, max(rgb_arrival, item.arrival),
                                      info, k, factor, mode))
        return frames

    def _transform(self, name: str, target: str, source: str) -> Optional[np.ndarray]:
        """Return the ``depth.to_rgb`` / ``cloud.to_rgb`` transform, or ``None`` (counted)."""
        value = self.params[name]  # a string or a list of 7 floats (checked_params)
        if isinstance(value, str) and not value.strip() and source != target \
                and self._lookup is None and self._make_lookup is not None:
            self._lookup = self._make_lookup()
        matrix, reason = resolve_transform(name, value, target, source, self._lookup)
        if matrix is None:
            self.report('error', 'no_transform', 'frame', reason)
        return matrix

    def _depth_in_rgb(self, header: Header, rgb: np.ndarray, item: _DepthItem,
                      rgb_info: Optional[CameraInfo], depth_info: Optional[CameraInfo]
                      ) -> Optional[Tuple[np.ndarray, float, str]]:
        """Bring a pair's depth into the RGB camera: ``(depth, factor, mode)`` or ``None``.

        ``factor`` is the size ratio, an integer or not (the same field of view at any lower
        resolution: :func:`dada_ros.core.inputs.size_ratio`).
        """
        shape = rgb.shape[:2]
        rgb_frame = header.frame_id
        if item.kind == 'cloud' or self._wants_register(rgb_frame, rgb, item, depth_info):
            kind = 'cloud' if item.kind == 'cloud' else 'register'
            if rgb_info is None:
                self.report('error', 'missing_camera_info', 'frame', f'{kind}: no valid '
                            'rgb/camera_info yet to project the depth into the rgb camera')
                return None
            name = 'cloud.to_rgb' if kind == 'cloud' else 'depth.to_rgb'
            transform = self._transform(name, rgb_frame, item.frame_id)
            if transform is None:
                return None
            try:
                if kind == 'cloud':
                    sparse = points_to_sparse_depth(item.values, transform, rgb_info, shape)
                else:
                    sparse = register_depth_message(item.values, depth_info, transform,
                                                    rgb_info, shape)
            except ImageConversionError as error:
                self.report('error', error.kind, 'frame', f'{kind}: {error}')
                return None
            sparse = self._plausible(sparse, 'frame', f'{kind}: the depth in the rgb camera')
            if not np.isfinite(sparse).any():
                self.report('warning', 'all_invalid_depth', 'frame', f'{kind}: no point lands '
                            'in the rgb image; the frame will be all NaN')
            return sparse, 1, kind
        depth = item.values
        try:
            factor = size_ratio(rgb.shape, depth.shape)
            mode = resolve_depth_mode(str(self.params['depth.mode']), factor)
        except ValueError as error:
            self.report('error', 'size_mismatch', 'frame', str(error))
            return None
        warning = frame_mismatch_warning(mode, rgb_frame, item.frame_id)
        if warning is not None:
            self.report('warning', 'frame_mismatch', 'frame', warning)
        return depth, factor, 'image'

    def _wants_register(self, rgb_frame: str, rgb: np.ndarray, item: _DepthItem,
                        depth_info: Optional[CameraInfo]) -> bool:
        """Whether ``depth.mode`` (``register``, or ``auto``) registers this depth image."""
        try:
            factor: Optional[int] = upsampling_factor(rgb.shape, item.values.shape)
        except ValueError:
            factor = None
        try:
            return choose_depth_mode(str(self.params['depth.mode']), factor, rgb_frame,
                                     item.frame_id, depth_info is not None) == 'register'
        except ValueError:
            return False  # the size check of the image path reports it

    def reset(self) -> None:
        """Forget queued input (counted as ``dropped_reset``), e.g. on deactivate."""
        self.pairer.reset()
        self.unstamped.reset()
        self._pairer_seen = dict(self.pairer.stats)

    def pairing_stats(self) -> PairingStats:
        """Return copies of the pairing counters, both pairers, for diagnostics and reports.

        ``unpaired`` per stream: what the stamp pairer dropped (:data:`DROP_KEYS`) or still
        queues, plus the zero-stamp messages the arrival pairer did not pair.
        """
        stamped, unstamped = dict(self.pairer.stats), dict(self.unstamped.stats)
        queued = self.pairer.pending
        unpaired = {stream: sum(self.pairer.stream_stats[stream][key] for key in DROP_KEYS)
                    + queued[stream] + unstamped[f'received_{stream}'] - unstamped['paired']
                    for stream in STREAMS}
        return PairingStats(stamped, unstamped, unpaired)

    # --- solve and outputs ------------------------------------------------------------------
    def process(self, frame: PairedFrame, want_points: bool = True,
                cancel: Optional[Callable[[], bool]] = None, want_confidence: bool = False,
                want_sparse: bool = False) -> FrameOutputs:
        """Solve ``frame`` and build its output messages (see :class:`FrameOutputs`).

        ``want_points`` false skips the cloud (e.g. nobody subscribes to it); ``cancel``
        is polled by the solver between levels (a stopped solve raises
        :class:`dada_ros.core.upsampler.SolveCancelled`); ``want_confidence`` /
        ``want_sparse`` build ``depth_dense/confidence`` / ``depth_sparse/image``.
        """
        self._apply_pending()
        started = time.monotonic()
        # Registered depth and projected clouds are sparse depth at the RGB size.
        mode = 'sparse' if frame.mode in ('register', 'cloud') else None
        dense = self.upsampler(frame.rgb, frame.depth, cancel=cancel, depth_mode=mode)
        solved = time.monotonic()
        outputs = self.outputs(frame, dense, want_points, want_confidence, want_sparse)
        outputs.solve_s = solved - started
        outputs.output_s = time.monotonic() - solved
        return outputs

    def outputs(self, frame: PairedFrame, dense: np.ndarray, want_points: bool = True,
                want_confidence: bool = False, want_sparse: bool = False) -> FrameOutputs:
        """Build the output messages of ``frame`` from its dense depth (metres)."""
        params = self.params
        minimum = float(params['confidence.min'])
        confidence = None
        if params['confidence.enable'] and (want_confidence or minimum > 0):
            confidence = depth_confidence(dense, frame.depth)
            if minimum > 0:
                dense = mask_low_confidence(dense, confidence, minimum)
        confidence_msg = depth_to_image(confidence, frame.header) \
            if want_confidence and confidence is not None else None
        sparse_msg = depth_to_image(frame.depth, frame.header) \
            if want_sparse and params['depth_sparse.enable'] \
            and frame.mode in ('register', 'cloud') else None
        depth_msg = depth_to_image(dense, frame.header)
        with self._infos.lock:
            exact = self._infos.by_stamp.get(frame.stamp_ns)
        info, k = exact if exact is not None else (frame.info, frame.k)
        height, width = dense.shape
        self.counters.frame()
        if info is None or k is None:
            self.report('warning', 'missing_camera_info', 'frame', 'no valid rgb/camera_info '
                        'received yet: depth_dense/image only')
            return FrameOutputs(dense, depth_msg, None, None, 'missing_camera_info',
                                confidence=confidence_msg, sparse=sparse_msg)
        if not camera_info_fits(info, width, height):
            self.report('warning', 'camera_info_size_mismatch', 'frame',
                        f'rgb/camera_info is for {info.width}x{info.height} but the rgb image '
                        f'is {width}x{height}: no camera_info / points')
            return FrameOutputs(dense, depth_msg, None, None, 'camera_info_size_mismatch',
                                confidence=confidence_msg, sparse=sparse_msg)
        points = None
        if want_points and params['points.enable']:
            colours = frame.rgb if params['points.color'] else None
            points = self._clouds.build(dense, k, frame.header, int(params['points.stride']),
                                        colours)
        return FrameOutputs(dense, depth_msg, output_camera_info(info, frame.header), points,
                            k=k, confidence=confidence_msg, sparse=sparse_msg)

    def emit(self, outputs: FrameOutputs, send: Callable[[str, Any], bool]) -> List[str]:
        """Send every message of ``outputs`` by ``send(topic, message)`` and count it.

        The one output road of every host: the node's ``send`` publishes, the bag tool's
        writes. ``topic`` is an :data:`OUTPUT_TOPICS` name (relative), in that order;
        ``send`` returns whether the message went out (``False``: e.g. its publisher is
        gone), and each one that did is counted in ``counters.emitted[topic]``. Returns the
        topics sent.
        """
        sent = []
        for name, topic in OUTPUT_TOPICS.items():
            message = getattr(outputs, name)  # the keys of OUTPUT_TOPICS are field names
            if message is not None and send(topic, message):
                self.counters.emit(topic)
                sent.append(topic)
        return sent
