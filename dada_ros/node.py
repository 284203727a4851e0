# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""ROS 2 node ``dada_node``: guided depth super-resolution of an RGB-D stream.

Topics (relative names, remap them as usual):

* in: ``rgb/image`` (rgb8, bgr8, rgba8, bgra8, mono8), ``rgb/camera_info`` (latest one is
  cached, zero stamps are fine), ``depth/image`` (16UC1 millimetres or 32FC1 metres; the
  RGB size divided by an integer factor, or the RGB size for sparse depth).
* out: ``depth_dense/image`` (32FC1 metres, NaN = invalid, REP 118, RGB header),
  ``depth_dense/camera_info`` (the RGB camera_info with the RGB image header), ``points``
  (organized ``PointCloud2`` in the RGB optical frame) and ``/diagnostics``.

RGB and depth are paired by header stamp (:class:`dada_ros.core.sync.ApproximateTimePairer`,
``sync.slop``, ``sync.queue_size``). A zero stamp means "unstamped" (some drivers never
stamp): such images are paired by arrival, newest with newest
(:class:`dada_ros.core.sync.ArrivalPairer`), and counted as ``events.sync_unstamped_*``.
The camera_info used for a frame is the valid one with the RGB image's stamp when it has
arrived by the end of the solve, else the latest valid one when the pair was made.
Inference runs in a worker thread that keeps only the newest pair while it is busy (older
pairs are counted as ``dropped_busy``), so the executor is never blocked. Bad input is
logged (throttled per kind) and counted per kind in the diagnostics; the node keeps serving
the next valid frame.

At start-up (and at every lifecycle configure) the worker runs one small warm-up
``up()`` so the first real frame does not pay torch's first-call costs; its duration is
logged and published as ``warmup_ms``. An out-of-memory error inside ``up()`` drops that
frame (``errors.out_of_memory``) and the node continues.

Fault injection (tests only): the environment variable ``DADA_FAULT_INJECT`` set to
``oom@N[,oom@M...]`` (or ``error@N``) makes the N-th solver call after the warm-up raise
``torch.OutOfMemoryError`` (or a ``RuntimeError``) from inside ``DepthUpsampler.up``.

The same logic (:class:`DadaEngine`) drives the managed variant
:mod:`dada_ros.lifecycle_node`.

Every parameter of :data:`dada_ros.core.params.PARAMETERS` is declared with its
description and range. ``iterations``, ``solver``, ``depth.mode``, ``fill_holes``,
``sync.slop`` and ``points.*`` can change at run time (they apply to the next frame).

Large images and best-effort QoS: with the default Fast DDS settings a best-effort
subscriber loses images of about 1.2 MB and more. Either subscribe with
``qos.reliable_input:=true`` or give all processes the shipped shared-memory profile::

    export FASTDDS_DEFAULT_PROFILES_FILE=<share>/dada_ros/config/fastdds_shm.xml
    export FASTRTPS_DEFAULT_PROFILES_FILE=$FASTDDS_DEFAULT_PROFILES_FILE  # Fast DDS 2.x

Run: ``ros2 run dada_ros dada_node --ros-args -p iterations:=32`` or
``python -m dada_ros.node --ros-args ...``.
"""

from __future__ import annotations

import collections
import gc
import itertools
import os
import sys
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, TypeVar

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header
import torch

from .conversions import (camera_info_fits, camera_info_to_k, CameraInfoError, copy_header,
                          depth_to_image, image_to_depth_checked, image_to_rgb,
                          ImageConversionError, output_camera_info, PointCloudBuilder)
from .core.params import BY_NAME, PARAMETERS, ParamSpec, SOLVER_PARAMETERS
from .core.sync import ApproximateTimePairer, ArrivalPairer
from .core.upsampler import DepthUpsampler, resolve_depth_mode, upsampling_factor

#: Seconds between two log lines of the same kind of problem.
LOG_THROTTLE_S = 5.0
#: Solver parameters that may change while the node runs.
RUNTIME_SOLVER_PARAMETERS = ('iterations', 'solver', 'depth.mode', 'fill_holes')
#: Latencies kept for the mean / p95 in the diagnostics.
LATENCY_WINDOW = 200
#: Environment variable of the fault-injection hook (see the module docstring).
FAULT_ENV = 'DADA_FAULT_INJECT'
#: RGB size of the warm-up frame (the depth is a quarter of it, or sparse at full size).
WARMUP_SIZE = 64
#: Iteration budget of the warm-up frame (at most; the configured budget if smaller).
WARMUP_ITERATIONS = 8
#: Recent valid camera_infos kept by stamp, to give each frame the one of its own stamp.
CAMERA_INFO_CACHE = 16

_OOM_TYPES: Tuple[type, ...] = tuple(
    t for t in (getattr(torch, 'OutOfMemoryError', None),
                getattr(torch.cuda, 'OutOfMemoryError', None), MemoryError)
    if isinstance(t, type))

RgbItem = Tuple[Header, np.ndarray, float]
DepthItem = Tuple[np.ndarray, float]
F = TypeVar('F', bound=Callable[..., None])


def _stamp_seconds(header: Header) -> float:
    return float(header.stamp.sec) + float(header.stamp.nanosec) * 1e-9


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an out-of-memory error of torch (CPU or CUDA) or Python."""
    if isinstance(error, _OOM_TYPES):
        return True
    return isinstance(error, RuntimeError) and 'out of memory' in str(error).lower()


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """Build the ROS parameter descriptor of one table entry."""
    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    descriptor = ParameterDescriptor(name=spec.name, type=types[spec.type],
                                     description=spec.description, read_only=spec.read_only)
    if spec.choices is not None:
        descriptor.additional_constraints = 'one of: ' + ', '.join(str(c) for c in spec.choices)
    elif spec.name == 'device':
        descriptor.additional_constraints = 'one of: auto, cpu, cuda, cuda:N'
    low, high = spec.min_value, spec.max_value
    if low is not None and high is not None and spec.type is int:
        descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                 step=0)]
    elif low is not None and high is not None and spec.type is float:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(low), to_value=float(high), step=0.0)]
    return descriptor


def parse_fault_spec(text: str) -> Dict[int, str]:
    """Parse ``DADA_FAULT_INJECT`` (``oom@3,error@5``) into {solver call number: kind}.

    Raises:
        ValueError: malformed text.
    """
    faults: Dict[int, str] = {}
    for part in filter(None, (p.strip() for p in text.split(','))):
        kind, _, index = part.partition('@')
        if kind not in ('oom', 'error') or not index.isdigit() or int(index) < 1:
            raise ValueError(f'{FAULT_ENV}: expected kind@N with kind oom or error and N >= 1, '
                             f'got {part!r}')
        faults[int(index)] = kind
    return faults


def install_fault_hook(upsampler: DepthUpsampler, faults: Dict[int, str]) -> None:
    """Make the listed solver calls of ``upsampler`` raise (fault injection for tests).

    The hook wraps the solver step of this one instance, so the error is raised inside
    :meth:`DepthUpsampler.up` after its input checks and allocations, as a real
    out-of-memory error would be.
    """
    solve = upsampler._solve
    calls = itertools.count(1)

    def faulty(*args: Any, **kwargs: Any) -> torch.Tensor:
        kind = faults.get(next(calls))
        if kind == 'oom':
            raise _OOM_TYPES[0](f'out of memory (injected by {FAULT_ENV})')
        if kind == 'error':
            raise RuntimeError(f'solver failure (injected by {FAULT_ENV})')
        return solve(*args, **kwargs)

    setattr(upsampler, '_solve', faulty)


class _Frame:
    """One paired input, converted, with the camera_info valid when it was paired."""

    __slots__ = ('header', 'rgb', 'depth', 'arrival', 'info', 'k')

    def __init__(self, header: Header, rgb: np.ndarray, depth: np.ndarray, arrival: float,
                 info: Optional[CameraInfo], k: Optional[np.ndarray]) -> None:
        self.header = header
        self.rgb = rgb
        self.depth = depth
        self.arrival = arrival
        self.info = info
        self.k = k


def _guarded(method: F) -> F:
    """Keep a subscription callback alive on unexpected errors (counted, logged)."""
    def wrapper(self: 'DadaEngine', msg: Any) -> None:
        try:
            method(self, msg)
        except Exception as error:  # noqa: B902 - never let one message kill the node
            self._report('callback_error', f'{type(error).__name__}: {error}')
    wrapper.__doc__ = method.__doc__
    wrapper.__name__ = method.__name__
    return wrapper  # type: ignore[return-value]


class DadaEngine:
    """All of ``dada_node``'s logic, for a host rclpy node (plain or managed).

    The host calls :meth:`configure` (build the upsampler, warm it up, start the worker and
    create the publishers), :meth:`activate` (subscribe: frames flow),
    :meth:`deactivate` (unsubscribe, forget queued input) and :meth:`cleanup` (stop the
    worker, release everything). :class:`DadaNode` does the first two in its constructor;
    :class:`dada_ros.lifecycle_node.DadaLifecycleNode` maps them to lifecycle transitions.
    Parameters are declared at construction.
    """

    def __init__(self, node: Node) -> None:
        """Declare the parameters of :data:`PARAMETERS` on ``node``.

        Raises:
            ValueError / ParameterException: a parameter override is invalid.
        """
        self.node = node
        self._managed = isinstance(node, LifecycleNode)
        self._lock = threading.Lock()
        self._errors: Dict[str, int] = collections.defaultdict(int)
        self._counts: Dict[str, int] = collections.defaultdict(int)
        self._window: Dict[str, int] = collections.defaultdict(int)
        self._latencies: Deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._solve_times: Deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._wait_times: Deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._output_times: Deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._loggers: Dict[str, RcutilsLogger] = {}
        self._pending_solver: Dict[str, Any] = {}
        self._errors_seen = 0
        self._warmup_ms = float('nan')
        self._faults = parse_fault_spec(os.environ.get(FAULT_ENV, ''))

        node.add_on_set_parameters_callback(self._validate_parameters)
        for spec in PARAMETERS:
            node.declare_parameter(spec.name, spec.default, _descriptor(spec))
        self._values: Dict[str, Any] = {spec.name: node.get_parameter(spec.name).value
                                        for spec in PARAMETERS}
        node.add_post_set_parameters_callback(self._apply_parameters)

        self._upsampler: Optional[DepthUpsampler] = None
        self._pairer: Optional[ApproximateTimePairer[RgbItem, DepthItem]] = None
        self._arrival: ArrivalPairer[RgbItem, DepthItem] = ArrivalPairer()
        self._pairer_reported: Dict[str, int] = {}
        self._camera_info: Optional[CameraInfo] = None
        self._camera_k: Optional[np.ndarray] = None
        self._infos: 'collections.OrderedDict[Tuple[int, int], Tuple[CameraInfo, np.ndarray]]' \
            = collections.OrderedDict()
        self._publishers: List[Any] = []
        self._subscriptions: List[Any] = []
        self._timer: Optional[Any] = None
        self._active = False
        self._stop = threading.Event()
        self._wake = threading.Condition(self._lock)
        self._slot: Optional[_Frame] = None
        self._worker: Optional[threading.Thread] = None
        self._clouds = PointCloudBuilder()  # used by the worker thread only

    @property
    def logger(self) -> RcutilsLogger:
        """The host node's logger."""
        return self.node.get_logger()

    @property
    def configured(self) -> bool:
        """Whether :meth:`configure` succeeded and :meth:`cleanup` was not called since."""
        return self._upsampler is not None

    @property
    def active(self) -> bool:
        """Whether input is processed and published."""
        return self._active

    # --- life cycle -----------------------------------------------------------------------
    def configure(self, warmup_timeout: float = 600.0) -> None:
        """Build the upsampler, warm it up in the worker, create publishers and timer.

        Raises:
            RuntimeError: the requested device (e.g. ``cuda``) is not available.
            ValueError / OSError: the model or its weights cannot be loaded.
        """
        if self.configured:
            return
        values = self._values
        if values['device'] == 'auto' and not torch.cuda.is_available():
            self.logger.info("device 'auto': CUDA is not available, using the CPU")
        upsampler = DepthUpsampler(**{name: values[name] for name in SOLVER_PARAMETERS})
        with self._lock:
            self._pending_solver = {}
        self._upsampler = upsampler
        self._pairer = ApproximateTimePairer(float(values['sync.slop']),
                                             int(values['sync.queue_size']))
        self._pairer_reported = dict(self._pairer.stats)
        self._arrival = ArrivalPairer()

        out_qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                             reliability=ReliabilityPolicy.RELIABLE
                             if values['qos.reliable_output'] else ReliabilityPolicy.BEST_EFFORT)
        create: Callable[..., Any] = (self.node.create_lifecycle_publisher  # type: ignore
                                      if self._managed else self.node.create_publisher)
        self._pub_depth = create(Image, 'depth_dense/image', out_qos)
        self._pub_info = create(CameraInfo, 'depth_dense/camera_info', out_qos)
        self._pub_points = create(PointCloud2, 'points', out_qos)
        self._pub_diag = self.node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._publishers = [self._pub_depth, self._pub_info, self._pub_points, self._pub_diag]

        self._period = float(values['diagnostics.period'])
        self._window_start = time.monotonic()
        self._ticks = 0
        self._summary_time = self._window_start
        self._summary_counts: Dict[str, int] = {}
        self._timer = self.node.create_timer(self._period, self._on_diagnostics_timer)

        self._stop = threading.Event()
        warm = threading.Event()
        self._worker = threading.Thread(target=self._work, args=(upsampler, self._stop, warm),
                                        name='dada_worker', daemon=True)
        self._worker.start()
        warm.wait(warmup_timeout)
        self.logger.info(
            f'dada_node ready: model {values["model"]}, solver {values["solver"]}, '
            f'device {upsampler.device}, iterations {values["iterations"]}, '
            f'input QoS {"reliable" if values["qos.reliable_input"] else "best effort"}, '
            f'warm-up {self._warmup_ms:.0f} ms')

    def activate(self) -> None:
        """Subscribe to the inputs: frames are processed and published from now on."""
        if not self.configured or self._active:
            return
        if self._values['qos.reliable_input']:
            in_qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                                reliability=ReliabilityPolicy.RELIABLE)
        else:
            in_qos = qos_profile_sensor_data
        self._active = True
        self._subscriptions = [
            self.node.create_subscription(Image, 'rgb/image', self._on_rgb, in_qos),
            self.node.create_subscription(Image, 'depth/image', self._on_depth, in_qos),
            self.node.create_subscription(CameraInfo, 'rgb/camera_info', self._on_camera_info,
                                          in_qos)]

    def deactivate(self) -> None:
        """Unsubscribe and forget queued input (a frame being solved is not published)."""
        self._active = False
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)
        self._subscriptions = []
        with self._wake:
            self._slot = None
        if self._pairer is not None:
            self._pairer.reset()
        self._arrival.reset()

    def cleanup(self, timeout: float = 1.5) -> bool:
        """Deactivate, stop the worker, destroy publishers and timer, drop the model.

        Returns whether the worker finished within ``timeout`` (a running inference cannot
        be interrupted; it is abandoned and never publishes).
        """
        self.deactivate()
        finished = self.stop_worker(timeout)
        if self._timer is not None:
            self.node.destroy_timer(self._timer)
            self._timer = None
        for publisher in self._publishers:
            if self._managed and publisher is not self._pub_diag:
                self.node.destroy_lifecycle_publisher(publisher)  # type: ignore[attr-defined]
            else:
                self.node.destroy_publisher(publisher)
        self._publishers = []
        self._upsampler = None
        self._pairer = None
        self._camera_info, self._camera_k = None, None
        with self._lock:
            self._infos.clear()
        self._worker = None
        return finished

    def stop_worker(self, timeout: float = 1.5) -> bool:
        """Ask the worker to stop and wait for it; return whether it has finished."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._worker is None:
            return True
        self._worker.join(timeout)
        return not self._worker.is_alive()

    # --- parameters -----------------------------------------------------------------------
    def _validate_parameters(self, parameters: List[Parameter[Any]]) -> SetParametersResult:
        for parameter in parameters:
            spec = BY_NAME.get(parameter.name)
            if spec is None:
                continue  # e.g. use_sim_time
            reason = spec.validate(parameter.value)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters: List[Parameter[Any]]) -> None:
        for parameter in parameters:
            name, value = parameter.name, parameter.value
            if name not in BY_NAME:
                continue
            self._values[name] = value
            if name in RUNTIME_SOLVER_PARAMETERS:
                with self._lock:
                    self._pending_solver[name] = value
            elif name == 'sync.slop':
                if self._pairer is not None:
                    self._pairer.set_slop(float(value))
            elif not name.startswith('points.'):
                continue
            self.logger.info(f'parameter {name} set to {value!r} (applies to the next frame)')

    # --- bookkeeping ----------------------------------------------------------------------
    def _report(self, kind: str, message: str, error: bool = True) -> None:
        """Count a problem of ``kind`` and log it, throttled per kind."""
        with self._lock:
            if error:
                self._errors[kind] += 1
            else:
                self._counts[kind] += 1
            logger = self._loggers.get(kind)
            if logger is None:
                logger = self._loggers[kind] = self.logger.get_child(kind)
        if error and kind in ('out_of_memory', 'processing_error', 'callback_error'):
            logger.error(f'{message} [{kind}]', throttle_duration_sec=LOG_THROTTLE_S)
        else:
            logger.warning(f'{message} [{kind}]', throttle_duration_sec=LOG_THROTTLE_S)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1
            self._window[key] += 1

    def _check_pairer(self, stream: str) -> None:
        pairer = self._pairer
        if pairer is None:
            return
        stats = pairer.stats
        if pairer.stamp_going_backwards[stream]:
            self._report(f'stamp_backwards_{stream}',
                         f'{stream} stamps went backwards (bag loop or clock reset?)')
        for key in ('dropped_late', 'duplicate', 'reset'):
            if stats[key] > self._pairer_reported.get(key, 0):
                self._report(f'sync_{key}', f'pairing: {key.replace("_", " ")} '
                             f'({stats[key]} so far)', error=False)
        self._pairer_reported = dict(stats)

    # --- subscriptions --------------------------------------------------------------------
    @_guarded
    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._count('in_camera_info')
        try:
            k = camera_info_to_k(msg)
        except CameraInfoError as error:
            self._report(error.kind, str(error))
            return
        self._camera_info, self._camera_k = msg, k
        with self._lock:
            self._infos[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = (msg, k)
            while len(self._infos) > CAMERA_INFO_CACHE:
                self._infos.popitem(last=False)

    @_guarded
    def _on_rgb(self, msg: Image) -> None:
        arrival = time.monotonic()
        self._count('in_rgb')
        if not self._active or self._pairer is None:
            return
        try:
            rgb = image_to_rgb(msg)
        except ImageConversionError as error:
            self._report(error.kind, f'rgb/image rejected: {error}')
            return
        header = copy_header(msg.header)
        stamp = _stamp_seconds(header)
        if stamp == 0.0:
            self._report('sync_unstamped_rgb', 'rgb/image has zero stamps: pairing by arrival '
                         'with the newest unstamped depth image', error=False)
            self._submit(self._arrival.add_rgb((header, rgb, arrival)))
            return
        pairs = self._pairer.add_rgb(stamp, (header, rgb, arrival))
        self._check_pairer('rgb')
        self._submit(pairs)

    @_guarded
    def _on_depth(self, msg: Image) -> None:
        arrival = time.monotonic()
        self._count('in_depth')
        if not self._active or self._pairer is None:
            return
        try:
            depth, report = image_to_depth_checked(msg)
        except ImageConversionError as error:
            self._report(error.kind, f'depth/image rejected: {error}')
            return
        if report.valid == 0:
            self._report('all_invalid_depth', 'depth/image has no valid pixel; the output '
                         'will be all NaN')
        elif report.infinite:
            self._report('infinite_depth', f'depth/image has {report.infinite} infinite '
                         'values; treated as invalid')
        stamp = _stamp_seconds(msg.header)
        if stamp == 0.0:
            self._report('sync_unstamped_depth', 'depth/image has zero stamps: pairing by '
                         'arrival with the newest unstamped rgb image', error=False)
            self._submit(self._arrival.add_depth((depth, arrival)))
            return
        pairs = self._pairer.add_depth(stamp, (depth, arrival))
        self._check_pairer('depth')
        self._submit(pairs)

    def _submit(self, pairs: Sequence[Tuple[RgbItem, DepthItem]]) -> None:
        upsampler = self._upsampler
        if upsampler is None:
            return
        for (header, rgb, rgb_arrival), (depth, depth_arrival) in pairs:
            try:
                factor = upsampling_factor(rgb.shape, depth.shape)
                resolve_depth_mode(str(self._values['depth.mode']), factor)
            except ValueError as error:
                self._report('size_mismatch', str(error))
                continue
            frame = _Frame(header, rgb, depth, max(rgb_arrival, depth_arrival),
                           self._camera_info, self._camera_k)
            with self._wake:
                if self._slot is not None:
                    self._counts['dropped_busy'] += 1
                self._slot = frame
                self._wake.notify()

    # --- worker ---------------------------------------------------------------------------
    def _warm_up(self, upsampler: DepthUpsampler) -> None:
        """Run one small ``up()`` so the first real frame does not pay first-call costs."""
        size = WARMUP_SIZE
        rng = np.random.default_rng(0)
        rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        if upsampler.params['depth.mode'] == 'sparse':
            depth = np.full((size, size), np.nan, dtype=np.float32)
            depth[::4, ::4] = 1.0 + rng.random((size // 4, size // 4), dtype=np.float32)
        else:
            depth = 1.0 + rng.random((size // 4, size // 4), dtype=np.float32)
            depth[0, 0] = np.nan
        iterations = upsampler.iterations
        started = time.monotonic()
        try:
            upsampler.set_param('iterations', min(iterations, WARMUP_ITERATIONS))
            upsampler.up(rgb, depth)
        except Exception as error:  # noqa: B902 - a failed warm-up is not fatal
            self._report('warmup_error', f'warm-up failed: {type(error).__name__}: {error}')
        finally:
            upsampler.set_param('iterations', iterations)
        self._warmup_ms = 1e3 * (time.monotonic() - started)
        self.logger.info(f'warm-up up() on {size}x{size} took {self._warmup_ms:.0f} ms '
                         f'(device {upsampler.device})')

    def _work(self, upsampler: DepthUpsampler, stop: threading.Event,
              warm: threading.Event) -> None:
        try:
            self._warm_up(upsampler)
            if self._faults:
                install_fault_hook(upsampler, self._faults)
                self.logger.warning(f'fault injection active: {self._faults}')
        finally:
            warm.set()
        while not stop.is_set():
            with self._wake:
                while self._slot is None and not stop.is_set():
                    self._wake.wait(0.1)
                if stop.is_set():
                    return
                frame, self._slot = self._slot, None
                pending, self._pending_solver = self._pending_solver, {}
            if frame is None:
                continue
            for name, value in pending.items():
                try:
                    upsampler.set_param(name, value)
                except ValueError as error:
                    self._report('parameter_error', str(error))
            try:
                self._process(upsampler, frame, stop)
            except Exception as error:  # noqa: B902 - keep serving the next frame
                if stop.is_set() or not self.node.context.ok():
                    return
                if is_out_of_memory(error):
                    self._report('out_of_memory', f'frame dropped, out of memory on '
                                 f'{upsampler.device}: {error}')
                    if upsampler.device.type == 'cuda':
                        torch.cuda.empty_cache()
                else:
                    self._report('processing_error', f'{type(error).__name__}: {error}')

    def _process(self, upsampler: DepthUpsampler, frame: _Frame, stop: threading.Event) -> None:
        started = time.monotonic()
        dense = upsampler.up(frame.rgb, frame.depth)
        solved = time.monotonic()
        if stop.is_set() or not self._active:
            return
        self._pub_depth.publish(depth_to_image(dense, frame.header))
        with self._lock:
            exact = self._infos.get((frame.header.stamp.sec, frame.header.stamp.nanosec))
        info, k = exact if exact is not None else (frame.info, frame.k)
        height, width = dense.shape
        if info is None or k is None:
            self._report('missing_camera_info', 'no valid rgb/camera_info received yet: '
                         'publishing depth_dense/image only')
        elif not camera_info_fits(info, width, height):
            self._report('camera_info_size_mismatch',
                         f'rgb/camera_info is for {info.width}x{info.height} but the rgb '
                         f'image is {width}x{height}: no camera_info / points published')
        else:
            self._pub_info.publish(output_camera_info(info, frame.header))
            if self._values['points.enable']:
                rgb = frame.rgb if self._values['points.color'] else None
                self._pub_points.publish(self._clouds.build(
                    dense, k, frame.header, int(self._values['points.stride']), rgb))
        done = time.monotonic()
        with self._lock:
            self._latencies.append(done - frame.arrival)
            self._wait_times.append(started - frame.arrival)
            self._solve_times.append(solved - started)
            self._output_times.append(done - solved)
            self._counts['published'] += 1
            self._window['published'] += 1
        self.logger.debug(
            f'frame {frame.header.stamp.sec}.{frame.header.stamp.nanosec:09d}: '
            f'{width}x{height}, latency {1e3 * (done - frame.arrival):.1f} ms = wait '
            f'{1e3 * (started - frame.arrival):.1f} + solve {1e3 * (solved - started):.1f} '
            f'+ outputs {1e3 * (done - solved):.1f} ms')

    # --- diagnostics ----------------------------------------------------------------------
    def statistics(self) -> Dict[str, Any]:
        """Return a snapshot of counters, rates (Hz) and latencies (ms) since the last call.

        ``latency_*`` is the node's end-to-end time from the arrival of the later input
        message of a pair to the publication of its outputs, the sum of ``wait_mean_ms``
        (conversion, pairing and hand-over to the worker), ``solve_*`` (the
        ``DepthUpsampler.up`` call) and ``output_mean_ms`` (building and publishing the
        depth image, camera_info and cloud).
        """
        now = time.monotonic()
        with self._lock:
            elapsed = max(now - self._window_start, 1e-6)
            window, self._window = dict(self._window), collections.defaultdict(int)
            self._window_start = now
            latencies = np.array(self._latencies, dtype=np.float64) * 1e3
            solves = np.array(self._solve_times, dtype=np.float64) * 1e3
            waits = np.array(self._wait_times, dtype=np.float64) * 1e3
            outputs = np.array(self._output_times, dtype=np.float64) * 1e3
            counts = dict(self._counts)
            errors = dict(self._errors)

        def mean(values: np.ndarray) -> float:
            return float(values.mean()) if values.size else float('nan')

        def p95(values: np.ndarray) -> float:
            return float(np.percentile(values, 95)) if values.size else float('nan')

        upsampler = self._upsampler
        stats: Dict[str, Any] = {
            'state': 'active' if self._active else ('inactive' if upsampler else 'unconfigured'),
            'rate_rgb_hz': window.get('in_rgb', 0) / elapsed,
            'rate_depth_hz': window.get('in_depth', 0) / elapsed,
            'rate_camera_info_hz': window.get('in_camera_info', 0) / elapsed,
            'rate_output_hz': window.get('published', 0) / elapsed,
            'latency_mean_ms': mean(latencies),
            'latency_p95_ms': p95(latencies),
            'solve_mean_ms': mean(solves),
            'solve_p95_ms': p95(solves),
            'wait_mean_ms': mean(waits),
            'output_mean_ms': mean(outputs),
            'warmup_ms': self._warmup_ms,
            'received_rgb': counts.get('in_rgb', 0),
            'received_depth': counts.get('in_depth', 0),
            'received_camera_info': counts.get('in_camera_info', 0),
            'frames_published': counts.get('published', 0),
            'dropped_busy': counts.get('dropped_busy', 0),
            'errors_total': sum(errors.values()),
        }
        if self._pairer is not None:
            for key, value in self._pairer.stats.items():
                stats[f'sync.{key}'] = value
        for key, value in self._arrival.stats.items():
            stats[f'sync.unstamped_{key}'] = value
        for key, value in sorted(errors.items()):
            stats[f'errors.{key}'] = value
        for key, value in sorted(counts.items()):
            if key.startswith('sync_'):
                stats[f'events.{key}'] = value
        params = upsampler.params if upsampler is not None else self._values
        stats['device'] = str(upsampler.device) if upsampler is not None else params['device']
        stats['model'] = params['model']
        stats['iterations'] = int(params['iterations'])
        stats['solver'] = params['solver']
        return stats

    def _on_diagnostics_timer(self) -> None:
        stats = self.statistics()
        status = DiagnosticStatus()
        status.name = f'{self.node.get_fully_qualified_name()}: depth super-resolution'
        status.hardware_id = stats['device']
        if stats['errors_total'] > self._errors_seen:
            status.level, status.message = DiagnosticStatus.WARN, 'input errors (see errors.*)'
        elif stats['state'] != 'active':
            status.level, status.message = DiagnosticStatus.OK, stats['state']
        elif stats['rate_output_hz'] == 0.0:
            status.level, status.message = DiagnosticStatus.OK, 'idle: no paired input'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'running'
        self._errors_seen = stats['errors_total']
        status.values = [KeyValue(key=key, value=(f'{value:.3f}' if isinstance(value, float)
                                                  else str(value)))
                         for key, value in stats.items()]
        array = DiagnosticArray()
        array.header.stamp = self.node.get_clock().now().to_msg()
        array.status = [status]
        self._pub_diag.publish(array)
        self._ticks += 1
        if self._ticks % max(1, round(10.0 / self._period)) == 0:
            self._log_summary(stats)

    def _log_summary(self, stats: Dict[str, Any]) -> None:
        now = time.monotonic()
        with self._lock:
            counts = dict(self._counts)
        elapsed = max(now - self._summary_time, 1e-6)
        rates = {key: (counts.get(key, 0) - self._summary_counts.get(key, 0)) / elapsed
                 for key in ('published', 'in_rgb', 'in_depth')}
        self._summary_time, self._summary_counts = now, counts
        if not any(rates.values()):
            return
        self.logger.info(
            f'out {rates["published"]:.1f} Hz (rgb {rates["in_rgb"]:.1f} Hz, depth '
            f'{rates["in_depth"]:.1f} Hz), latency mean {stats["latency_mean_ms"]:.1f} ms '
            f'p95 {stats["latency_p95_ms"]:.1f} ms, published {stats["frames_published"]}, '
            f'dropped busy {stats["dropped_busy"]}, errors {stats["errors_total"]}')


class DadaNode(Node):
    """``dada_node``: configured and active from construction (see :class:`DadaEngine`)."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare the parameters, build and warm up the solver, create the topics.

        Raises:
            RuntimeError: the requested device (e.g. ``cuda``) is not available.
            ValueError: a parameter override or the model / weights are invalid.
        """
        super().__init__('dada_node', **kwargs)
        self.engine = DadaEngine(self)
        self.engine.configure()
        self.engine.activate()

    def statistics(self) -> Dict[str, Any]:
        """See :meth:`DadaEngine.statistics`."""
        return self.engine.statistics()

    def stop_worker(self, timeout: float = 1.5) -> bool:
        """Ask the worker to stop and wait for it; return whether it has finished."""
        return self.engine.stop_worker(timeout)


def run(factory: Callable[[], Node], name: str, args: Optional[List[str]] = None) -> int:
    """Spin the node made by ``factory`` until SIGINT / SIGTERM; return the exit code.

    Start-up errors (no CUDA, bad weights, bad parameters) end the process with code 1
    and one readable fatal log line, without a traceback.
    """
    rclpy.init(args=args)
    node: Optional[Node] = None
    code = 0
    try:
        node = factory()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (RuntimeError, ValueError, OSError, ParameterException) as error:
        # A signal that shuts the context down while the executor rebuilds its wait set
        # surfaces as RCLError, not ExternalShutdownException: that is a clean stop.
        if rclpy.ok():
            message = f'{name} cannot start: {error}'
            if node is None:
                rclpy.logging.get_logger(name).fatal(message)
            else:
                node.get_logger().fatal(message)
            code = 1
    finally:
        engine: Optional[DadaEngine] = getattr(node, 'engine', None)
        finished = engine.stop_worker() if engine is not None else True
        if node is not None and finished:
            node.destroy_node()
        rclpy.try_shutdown()
        # The process is about to end: exempt the objects alive now from the final garbage
        # collections, which otherwise spend over a second on torch's objects and would
        # break the 2 s shutdown promise on a loaded machine.
        gc.freeze()
        if not finished:
            # An inference call is still running; leave without waiting for it.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


def main(args: Optional[List[str]] = None) -> int:
    """Run ``dada_node`` until SIGINT / SIGTERM; return the process exit code."""
    return run(DadaNode, 'dada_node', args)


if __name__ == '__main__':
    sys.exit(main())
