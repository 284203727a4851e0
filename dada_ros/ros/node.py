# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""ROS 2 node ``dada_node``: guided depth super-resolution of an RGB-D stream.

Topics (relative names, remap them as usual):

* in: ``rgb/image`` (rgb8, bgr8, rgba8, bgra8, mono8) or, with ``rgb.transport:
  compressed``, ``rgb/image/compressed`` (JPEG/PNG); ``rgb/camera_info`` (recent ones
  cached by stamp, zero stamps are fine); ``depth/image`` (16UC1 or mono16 millimetres, or
  32FC1 metres; the RGB size divided by an integer factor, the RGB size for sparse depth,
  or any size of another camera for ``depth.mode: register``) or, with ``depth.transport:
  compressedDepth``, ``depth/image/compressedDepth``; ``depth/camera_info`` (the depth
  camera's K, for registration); with ``depth.source: cloud``, ``cloud``
  (``PointCloud2``) instead of the depth topics.
* out: ``depth_dense/image`` (32FC1 metres, NaN = invalid, REP 118, RGB header),
  ``depth_dense/camera_info`` (the RGB camera_info with the RGB image header), ``points``
  (organized ``PointCloud2`` in the RGB optical frame), ``depth_dense/confidence`` (32FC1,
  0..1) and ``depth_sparse/image`` (the registered or projected input, 32FC1 metres), each
  built only while it has a subscriber, and ``/diagnostics``.

Everything per frame (decoding, checks, pairing, camera_info policy, solve, output
messages, counters) is :class:`dada_ros.pipeline.FramePipeline`, the same road the bag tool
takes; this module only adds ROS I/O and scheduling, in three parts:

* :class:`NodeIO` - publishers, subscriptions and QoS;
* :class:`FrameWorker` - the worker thread: it keeps only the newest pair while busy (older
  pairs are counted as ``dropped_busy``), so the executor is never blocked; a running solve
  stops when a solver parameter changes or at shutdown; buffers of a past image size are
  released when the size changes or after :data:`IDLE_RELEASE_S` without frames;
* :class:`NodeStatistics` - latencies, counters and ``/diagnostics`` (WARN while the
  worker has been busy for long, ERROR when it looks stalled).

:class:`DadaEngine` ties them to a host rclpy node, plain (:class:`DadaNode`) or managed
(:mod:`dada_ros.ros.lifecycle_node`). Bad input is logged (throttled per kind) and counted per
kind in the diagnostics; the node keeps serving the next valid frame. At start-up (and at
every lifecycle configure) the worker runs one small warm-up solve so the first real frame
does not pay torch's first-call costs (``warmup_ms``). An out-of-memory error inside the
solve drops that frame (``errors.out_of_memory``) and the node continues.

Every parameter of :data:`dada_ros.core.params.PARAMETERS` is declared with its
description and range. ``iterations``, ``solver``, ``depth.mode``, ``fill_holes``,
``sync.slop`` and ``points.*`` can change at run time (they apply to the next frame).

Large images and best-effort QoS: with the default Fast DDS settings a best-effort
subscriber loses images of about 1.2 MB and more. Either subscribe with
``qos.reliable_input:=true`` or give all processes the shipped shared-memory profile::

    export FASTDDS_DEFAULT_PROFILES_FILE=<share>/dada_ros/config/fastdds_shm.xml
    export FASTRTPS_DEFAULT_PROFILES_FILE=$FASTDDS_DEFAULT_PROFILES_FILE  # Fast DDS 2.x

Run: ``ros2 run dada_ros dada_node --ros-args -p iterations:=32`` or
``python -m dada_ros.ros.node --ros-args ...``.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
import torch

from ..core.params import BY_NAME, PARAMETERS, ParamSpec, SOLVER_PARAMETERS
from ..core.upsampler import DepthUpsampler, SolveCancelled
from ..msgs.transforms import TransformLookup
from ..pipeline import (Event, FrameOutputs, FramePipeline, LatencyWindow, PairedFrame,
                        RUNTIME_PARAMETERS)

#: Seconds between two log lines of the same kind of problem.
LOG_THROTTLE_S = 5.0
#: Latencies kept for the mean / p95 in the diagnostics.
LATENCY_WINDOW = 200
#: RGB size of the warm-up frame (the depth is a quarter of it, or sparse at full size).
WARMUP_SIZE = 64
#: Iteration budget of the warm-up frame (at most; the configured budget if smaller).
WARMUP_ITERATIONS = 8
#: Seconds without a frame after which the solver buffers are released.
IDLE_RELEASE_S = 10.0
#: A solve running longer than this many seconds (or 5x its p95) makes diagnostics WARN ...
BUSY_WARN_S = 2.0
#: ... and longer than this, ERROR (the worker looks stalled).
BUSY_ERROR_S = 30.0

_OOM_TYPES: Tuple[type, ...] = tuple(
    t for t in (getattr(torch, 'OutOfMemoryError', None),
                getattr(torch.cuda, 'OutOfMemoryError', None), MemoryError)
    if isinstance(t, type))

UpsamplerFactory = Callable[..., DepthUpsampler]


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


def warm_up(upsampler: DepthUpsampler) -> float:
    """Run one small solve so the first real frame does not pay first-call costs; ms."""
    size = WARMUP_SIZE
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    if upsampler.params['depth.mode'] == 'sparse':
        depth = np.full((size, size), np.nan, dtype=np.float32)
        depth[::4, ::4] = 1.0 + rng.random((size // 4, size // 4), dtype=np.float32)
    else:
        depth = 1.0 + rng.random((size // 4, size // 4), dtype=np.float32)
        depth[0, 0] = np.nan
    started = time.monotonic()
    upsampler(rgb, depth, iterations=min(upsampler.iterations, WARMUP_ITERATIONS))
    return 1e3 * (time.monotonic() - started)


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

    def create_publishers(self) -> None:
        """Create the output publishers (lifecycle publishers on a managed node)."""
        out_qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                             reliability=ReliabilityPolicy.RELIABLE
                             if self.values['qos.reliable_output']
                             else ReliabilityPolicy.BEST_EFFORT)
        create: Callable[..., Any] = (self.node.create_lifecycle_publisher  # type: ignore
                                      if self.managed else self.node.create_publisher)
        self.depth = create(Image, 'depth_dense/image', out_qos)
        self.info = create(CameraInfo, 'depth_dense/camera_info', out_qos)
        self.points = create(PointCloud2, 'points', out_qos)
        self.confidence = create(Image, 'depth_dense/confidence', out_qos)
        self.sparse = create(Image, 'depth_sparse/image', out_qos)
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
        subscribe = self.node.create_subscription
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

    def points_wanted(self) -> bool:
        """Whether anybody subscribes to ``points`` (no cloud is built otherwise)."""
        return self.points is not None and self.points.get_subscription_count() > 0

    def confidence_wanted(self) -> bool:
        """Whether anybody subscribes to ``depth_dense/confidence``."""
        return self.confidence is not None and self.confidence.get_subscription_count() > 0

    def sparse_wanted(self) -> bool:
        """Whether anybody subscribes to ``depth_sparse/image``."""
        return self.sparse is not None and self.sparse.get_subscription_count() > 0

    def publish(self, outputs: FrameOutputs) -> None:
        """Publish one frame's outputs (those that exist)."""
        if self.depth is not None:
            self.depth.publish(outputs.depth)
        if outputs.info is not None and self.info is not None:
            self.info.publish(outputs.info)
        if outputs.points is not None and self.points is not None:
            self.points.publish(outputs.points)
        if outputs.confidence is not None and self.confidence is not None:
            self.confidence.publish(outputs.confidence)
        if outputs.sparse is not None and self.sparse is not None:
            self.sparse.publish(outputs.sparse)


class FrameWorker:
    """One worker thread that solves frames; while it is busy only the newest frame waits.

    Args:
        solve: ``solve(frame, cancel)`` does the work of one frame; ``cancel()`` returns
            True when the worker is asked to stop.
        on_error: called with an exception ``solve`` raised (the worker keeps running).
        on_idle: called once after :data:`IDLE_RELEASE_S` without frames.
    """

    def __init__(self, solve: Callable[[PairedFrame, Callable[[], bool]], None],
                 on_error: Callable[[BaseException], None],
                 on_idle: Callable[[], None]) -> None:
        """Keep the callbacks; the thread starts with :meth:`start`."""
        self._solve = solve
        self._on_error = on_error
        self._on_idle = on_idle
        self._wake = threading.Condition()
        self._slot: Optional[PairedFrame] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._busy_since: Optional[float] = None
        self.dropped_busy = 0

    def start(self, before: Callable[[], None]) -> None:
        """Start the thread; it runs ``before`` (the warm-up) first."""
        self._stop = threading.Event()
        started = threading.Event()

        def run() -> None:
            try:
                before()
            finally:
                started.set()
            self._loop(self._stop)
        self._thread = threading.Thread(target=run, name='dada_worker', daemon=True)
        self._thread.start()
        started.wait()

    def submit(self, frame: PairedFrame) -> None:
        """Hand ``frame`` over; a frame still waiting is replaced (``dropped_busy``)."""
        with self._wake:
            if self._slot is not None:
                self.dropped_busy += 1
            self._slot = frame
            self._wake.notify()

    def clear(self) -> None:
        """Forget the waiting frame (not counted: the host's deactivate forgets input)."""
        with self._wake:
            self._slot = None

    def busy_for(self) -> float:
        """Seconds the current solve has been running (0 when idle)."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def stop(self, timeout: float = 1.5) -> bool:
        """Ask the thread to stop and wait; return whether it has finished."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self, stop: threading.Event) -> None:
        idle_since = time.monotonic()
        released = True
        while not stop.is_set():
            with self._wake:
                if self._slot is None:
                    self._wake.wait(0.1)
                frame, self._slot = self._slot, None
            if frame is None:
                if not released and time.monotonic() - idle_since > IDLE_RELEASE_S:
                    self._on_idle()
                    released = True
                continue
            self._busy_since = time.monotonic()
            try:
                self._solve(frame, stop.is_set)
            except Exception as error:  # noqa: B902 - keep serving the next frame
                if stop.is_set():
                    return
                self._on_error(error)
            finally:
                self._busy_since = None
            idle_since, released = time.monotonic(), False


class NodeStatistics:
    """Latencies of served frames and the ``/diagnostics`` status built from them."""

    def __init__(self) -> None:
        """All windows empty."""
        self.lock = threading.Lock()
        self.latency = LatencyWindow(LATENCY_WINDOW)
        self.wait = LatencyWindow(LATENCY_WINDOW)
        self.solve = LatencyWindow(LATENCY_WINDOW)
        self.output = LatencyWindow(LATENCY_WINDOW)
        self.published = 0
        self.warmup_ms = float('nan')
        self._window_start = time.monotonic()
        self._window_counts: Dict[str, int] = {}
        self._problems_seen = 0

    def frame_done(self, frame: PairedFrame, started: float, outputs: FrameOutputs) -> float:
        """Record one published frame; return its end-to-end latency (s)."""
        done = time.monotonic()
        with self.lock:
            self.latency.add(done - frame.arrival)
            self.wait.add(started - frame.arrival)
            self.solve.add(outputs.solve_s)
            # building and publishing the outputs: everything after the solve, so that
            # wait + solve + output is the latency
            self.output.add(done - started - outputs.solve_s)
            self.published += 1
        return done - frame.arrival

    def rates(self, counts: Dict[str, int]) -> Dict[str, float]:
        """Per-second rates of ``counts`` since the previous call."""
        now = time.monotonic()
        elapsed = max(now - self._window_start, 1e-6)
        rates = {key: (value - self._window_counts.get(key, 0)) / elapsed
                 for key, value in counts.items()}
        self._window_start, self._window_counts = now, dict(counts)
        return rates

    def status(self, stats: Dict[str, Any]) -> Tuple[int, str]:
        """Diagnostic level and message for one snapshot of :meth:`DadaEngine.statistics`."""
        problems = int(stats['errors_total']) + int(stats['warnings_total'])
        new_problems, self._problems_seen = problems > self._problems_seen, problems
        busy = float(stats['worker_busy_s'])
        solve_p95 = float(stats['solve_p95_ms']) / 1e3
        if busy > BUSY_ERROR_S:
            return DiagnosticStatus.ERROR, f'worker stalled: one solve running for {busy:.0f} s'
        if busy > max(BUSY_WARN_S, 5.0 * (solve_p95 if np.isfinite(solve_p95) else 0.0)):
            return DiagnosticStatus.WARN, (f'worker busy: one solve running for {busy:.1f} s, '
                                           'newer pairs dropped meanwhile')
        if new_problems:
            return DiagnosticStatus.WARN, 'input problems (see errors.* / warnings.*)'
        if stats['state'] != 'active':
            return DiagnosticStatus.OK, str(stats['state'])
        if stats['rate_output_hz'] == 0.0:
            return DiagnosticStatus.OK, 'idle: no paired input'
        return DiagnosticStatus.OK, 'running'


class DadaEngine:
    """``dada_node``'s ROS side for a host rclpy node (plain or managed).

    The host calls :meth:`configure` (build the pipeline, warm it up, start the worker,
    create the publishers), :meth:`activate` (subscribe: frames flow), :meth:`deactivate`
    (unsubscribe, forget queued input) and :meth:`cleanup` (stop the worker, release
    everything). :class:`DadaNode` does the first two in its constructor;
    :class:`dada_ros.ros.lifecycle_node.DadaLifecycleNode` maps them to lifecycle transitions.
    Parameters are declared at construction; every attribute exists from then on.

    Args:
        node: the host node.
        make_upsampler: builds the solver from the solver parameters (keywords of
            :class:`~dada_ros.core.upsampler.DepthUpsampler`); e.g. a subclass.
    """

    def __init__(self, node: Node, make_upsampler: UpsamplerFactory = DepthUpsampler) -> None:
        """Declare the parameters of :data:`PARAMETERS` on ``node``.

        Raises:
            ValueError / ParameterException: a parameter override is invalid.
        """
        self.node = node
        self.make_upsampler = make_upsampler
        self._loggers: Dict[str, RcutilsLogger] = {}
        node.add_on_set_parameters_callback(self._validate_parameters)
        for spec in PARAMETERS:
            node.declare_parameter(spec.name, spec.default, _descriptor(spec))
        self.values: Dict[str, Any] = {spec.name: node.get_parameter(spec.name).value
                                       for spec in PARAMETERS}
        node.add_post_set_parameters_callback(self._apply_parameters)
        self.io = NodeIO(node, self.values)
        self.stats = NodeStatistics()
        self.pipeline: Optional[FramePipeline] = None
        self.worker = FrameWorker(self._solve, self._on_worker_error, self._on_idle)
        self._timer: Optional[Any] = None
        self._active = False
        self._last_shape: Optional[Tuple[int, ...]] = None
        self._ticks = 0

    @property
    def logger(self) -> RcutilsLogger:
        """The host node's logger."""
        return self.node.get_logger()

    @property
    def configured(self) -> bool:
        """Whether :meth:`configure` succeeded and :meth:`cleanup` was not called since."""
        return self.pipeline is not None

    @property
    def active(self) -> bool:
        """Whether input is processed and published."""
        return self._active

    # --- life cycle -----------------------------------------------------------------------
    def configure(self) -> None:
        """Build the pipeline, warm it up in the worker, create publishers and timer.

        Raises:
            RuntimeError: the requested device (e.g. ``cuda``) is not available.
            ValueError / OSError: the model or its weights cannot be loaded.
        """
        if self.configured:
            return
        values = self.values
        if values['device'] == 'auto' and not torch.cuda.is_available():
            self.logger.info("device 'auto': CUDA is not available, using the CPU")
        upsampler = self.make_upsampler(**{name: values[name] for name in SOLVER_PARAMETERS})
        pipeline = FramePipeline(values, upsampler, on_event=self._log_event,
                                 transform_lookup=lambda: TransformLookup(self.node))
        self.pipeline = pipeline
        self.io.create_publishers()
        self._timer = self.node.create_timer(float(values['diagnostics.period']),
                                             self._on_diagnostics_timer)

        def warm() -> None:
            try:
                self.stats.warmup_ms = warm_up(upsampler)
            except Exception as error:  # noqa: B902 - a failed warm-up is not fatal
                pipeline.report('error', 'warmup_error', 'frame',
                                f'warm-up failed: {type(error).__name__}: {error}')
        self.worker.start(warm)
        self.logger.info(
            f'dada_node ready: model {values["model"]}, solver {values["solver"]}, '
            f'device {upsampler.device}, iterations {values["iterations"]}, '
            f'input QoS {"reliable" if values["qos.reliable_input"] else "best effort"}, '
            f'warm-up {self.stats.warmup_ms:.0f} ms')

    def activate(self) -> None:
        """Subscribe to the inputs: frames are processed and published from now on."""
        if not self.configured or self._active:
            return
        self._active = True
        self.io.subscribe(self._on_rgb, self._on_depth, self._on_camera_info,
                          self._on_depth_camera_info, self._on_cloud)

    def deactivate(self) -> None:
        """Unsubscribe and forget queued input (a frame being solved is not published)."""
        self._active = False
        self.io.unsubscribe()
        self.worker.clear()
        if self.pipeline is not None:
            self.pipeline.reset()

    def cleanup(self, timeout: float = 1.5) -> bool:
        """Deactivate, stop the worker, destroy publishers and timer, drop the model.

        Returns whether the worker finished within ``timeout``; a running solve stops at
        its next poll of the stop flag and never publishes.
        """
        self.deactivate()
        finished = self.worker.stop(timeout)
        if self._timer is not None:
            self.node.destroy_timer(self._timer)
            self._timer = None
        self.io.destroy_publishers()
        self.pipeline = None
        self.worker = FrameWorker(self._solve, self._on_worker_error, self._on_idle)
        return finished

    def stop_worker(self, timeout: float = 1.5) -> bool:
        """Ask the worker to stop and wait for it; return whether it has finished."""
        return self.worker.stop(timeout)

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
            self.values[name] = value
            if name in RUNTIME_PARAMETERS:
                if self.pipeline is not None:
                    self.pipeline.set_param(name, value)
                self.logger.info(f'parameter {name} set to {value!r} (applies to the next '
                                 'frame)')

    # --- events ---------------------------------------------------------------------------
    def _log_event(self, event: Event) -> None:
        """Log a pipeline event, throttled per kind (the pipeline has counted it)."""
        logger = self._loggers.get(event.kind)
        if logger is None:
            logger = self._loggers[event.kind] = self.logger.get_child(event.kind)
        text = f'{event.message} [{event.kind}]'
        if event.level == 'error' and event.kind in ('out_of_memory', 'processing_error',
                                                     'callback_error'):
            logger.error(text, throttle_duration_sec=LOG_THROTTLE_S)
        else:
            logger.warning(text, throttle_duration_sec=LOG_THROTTLE_S)

    def _guarded(self, stream: str, handle: Callable[[Any, float], List[PairedFrame]],
                 msg: Any) -> None:
        """Run one input callback; unexpected errors are counted, never fatal."""
        arrival = time.monotonic()
        pipeline = self.pipeline
        if pipeline is None or not self._active:
            return
        try:
            for frame in handle(msg, arrival):
                self.worker.submit(frame)
        except Exception as error:  # noqa: B902 - never let one message kill the node
            pipeline.report('error', 'callback_error', stream, f'{type(error).__name__}: {error}')

    def _on_rgb(self, msg: Image) -> None:
        if self.pipeline is not None:
            self._guarded('rgb', self.pipeline.add_rgb, msg)

    def _on_depth(self, msg: Image) -> None:
        if self.pipeline is not None:
            self._guarded('depth', self.pipeline.add_depth, msg)

    def _on_cloud(self, msg: PointCloud2) -> None:
        if self.pipeline is not None:
            self._guarded('cloud', self.pipeline.add_cloud, msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        pipeline = self.pipeline
        if pipeline is None or not self._active:
            return
        try:
            pipeline.add_camera_info(msg, self.io.rgb_topic)
        except Exception as error:  # noqa: B902 - never let one message kill the node
            pipeline.report('error', 'callback_error', 'camera_info',
                            f'{type(error).__name__}: {error}')

    def _on_depth_camera_info(self, msg: CameraInfo) -> None:
        pipeline = self.pipeline
        if pipeline is None or not self._active:
            return
        try:
            pipeline.add_depth_camera_info(msg)
        except Exception as error:  # noqa: B902 - never let one message kill the node
            pipeline.report('error', 'callback_error', 'depth_camera_info',
                            f'{type(error).__name__}: {error}')

    # --- worker side ----------------------------------------------------------------------
    def _solve(self, frame: PairedFrame, stopping: Callable[[], bool]) -> None:
        pipeline = self.pipeline
        if pipeline is None:
            return
        if self._last_shape is not None and frame.rgb.shape != self._last_shape:
            pipeline.upsampler.release()  # buffers of the old size go back to the system
        self._last_shape = frame.rgb.shape
        started = time.monotonic()

        def cancel() -> bool:
            return stopping() or not self._active or pipeline.parameter_change_pending
        try:
            outputs = pipeline.process(frame, want_points=self.io.points_wanted(),
                                       cancel=cancel,
                                       want_confidence=self.io.confidence_wanted(),
                                       want_sparse=self.io.sparse_wanted())
        except SolveCancelled:
            if not stopping() and self._active:
                pipeline.report('warning', 'solve_cancelled', 'frame', 'a solver parameter '
                                'changed during the solve: frame dropped, the next one uses it')
            return
        if stopping() or not self._active:
            return
        self.io.publish(outputs)
        latency = self.stats.frame_done(frame, started, outputs)
        wait = started - frame.arrival
        height, width = outputs.dense.shape
        self.logger.debug(
            f'frame {frame.header.stamp.sec}.{frame.header.stamp.nanosec:09d}: '
            f'{width}x{height}, latency {1e3 * latency:.1f} ms = wait {1e3 * wait:.1f} '
            f'+ solve {1e3 * outputs.solve_s:.1f} + outputs '
            f'{1e3 * (latency - wait - outputs.solve_s):.1f} ms')

    def _on_worker_error(self, error: BaseException) -> None:
        pipeline = self.pipeline
        if pipeline is None or not self.node.context.ok():
            return
        if is_out_of_memory(error):
            pipeline.report('error', 'out_of_memory', 'frame', 'frame dropped, out of memory '
                            f'on {pipeline.upsampler.device}: {error}')
            pipeline.upsampler.release()
        else:
            pipeline.report('error', 'processing_error', 'frame',
                            f'{type(error).__name__}: {error}')

    def _on_idle(self) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.upsampler.release()
            self._last_shape = None

    # --- diagnostics ----------------------------------------------------------------------
    def statistics(self) -> Dict[str, Any]:
        """Return a snapshot of counters, rates (Hz) and latencies (ms) since the last call.

        ``latency_*`` is the node's end-to-end time from the arrival of the later input
        message of a pair to the publication of its outputs, the sum of ``wait_mean_ms``
        (conversion, pairing and hand-over to the worker), ``solve_*`` (the solve) and
        ``output_mean_ms`` (building and publishing the depth image, camera_info and cloud).
        """
        pipeline = self.pipeline
        counters = pipeline.counters.snapshot() if pipeline is not None else {
            'received': {}, 'errors': {}, 'warnings': {}, 'events': {}}
        received = counters['received']
        stats_ = self.stats
        with stats_.lock:
            published = stats_.published
            timing = {
                'latency_mean_ms': stats_.latency.mean_ms(),
                'latency_p95_ms': stats_.latency.p95_ms(),
                'solve_mean_ms': stats_.solve.mean_ms(), 'solve_p95_ms': stats_.solve.p95_ms(),
                'wait_mean_ms': stats_.wait.mean_ms(), 'output_mean_ms': stats_.output.mean_ms()}
        rates = stats_.rates({'rgb': received.get('rgb', 0), 'depth': received.get('depth', 0),
                              'camera_info': received.get('camera_info', 0),
                              'output': published})
        state = 'active' if self._active else ('inactive' if pipeline else 'unconfigured')
        stats: Dict[str, Any] = {'state': state}
        stats.update({f'rate_{key}_hz': value for key, value in rates.items()})
        stats.update(timing)
        stats.update({
            'warmup_ms': stats_.warmup_ms,
            'received_rgb': received.get('rgb', 0),
            'received_depth': received.get('depth', 0),
            'received_camera_info': received.get('camera_info', 0),
            **{f'received_{stream}': count for stream, count in sorted(received.items())
               if stream not in ('rgb', 'depth', 'camera_info')},  # cloud, depth_camera_info
            'frames_published': published,
            'dropped_busy': self.worker.dropped_busy,
            'worker_busy_s': self.worker.busy_for(),
            'errors_total': sum(counters['errors'].values()),
            'warnings_total': sum(counters['warnings'].values()),
        })
        if pipeline is not None:
            for key, value in pipeline.pairer.stats.items():
                stats[f'sync.{key}'] = value
            for key, value in pipeline.unstamped.stats.items():
                stats[f'sync.unstamped_{key}'] = value
        for group in ('errors', 'warnings', 'events'):
            for key, value in sorted(counters[group].items()):
                stats[f'{group}.{key}'] = value
        params = pipeline.upsampler.params if pipeline is not None else self.values
        stats['device'] = str(pipeline.upsampler.device) if pipeline is not None \
            else params['device']
        stats['model'] = params['model']
        stats['iterations'] = int(params['iterations'])
        stats['solver'] = params['solver']
        return stats

    def _on_diagnostics_timer(self) -> None:
        stats = self.statistics()
        status = DiagnosticStatus()
        status.name = f'{self.node.get_fully_qualified_name()}: depth super-resolution'
        status.hardware_id = stats['device']
        status.level, status.message = self.stats.status(stats)
        status.values = [KeyValue(key=key, value=(f'{value:.3f}' if isinstance(value, float)
                                                  else str(value)))
                         for key, value in stats.items()]
        array = DiagnosticArray()
        array.header.stamp = self.node.get_clock().now().to_msg()
        array.status = [status]
        if self.io.diagnostics is not None:
            self.io.diagnostics.publish(array)
        self._ticks += 1
        if self._ticks % max(1, round(10.0 / float(self.values['diagnostics.period']))) == 0:
            self._log_summary(stats)

    def _log_summary(self, stats: Dict[str, Any]) -> None:
        if not (stats['rate_output_hz'] or stats['rate_rgb_hz'] or stats['rate_depth_hz']):
            return
        self.logger.info(
            f'out {stats["rate_output_hz"]:.1f} Hz (rgb {stats["rate_rgb_hz"]:.1f} Hz, depth '
            f'{stats["rate_depth_hz"]:.1f} Hz), latency mean {stats["latency_mean_ms"]:.1f} ms '
            f'p95 {stats["latency_p95_ms"]:.1f} ms, published {stats["frames_published"]}, '
            f'dropped busy {stats["dropped_busy"]}, errors {stats["errors_total"]}, '
            f'warnings {stats["warnings_total"]}')


class DadaNode(Node):
    """``dada_node``: configured and active from construction (see :class:`DadaEngine`)."""

    def __init__(self, make_upsampler: UpsamplerFactory = DepthUpsampler,
                 **kwargs: Any) -> None:
        """Declare the parameters, build and warm up the solver, create the topics.

        ``make_upsampler`` builds the solver (see :class:`DadaEngine`); other keywords go
        to :class:`rclpy.node.Node`.

        Raises:
            RuntimeError: the requested device (e.g. ``cuda``) is not available.
            ValueError: a parameter override or the model / weights are invalid.
        """
        super().__init__('dada_node', **kwargs)
        self.engine = DadaEngine(self, make_upsampler)
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
    # The executor is made before the node logs 'ready': made after a SIGTERM has shut the
    # context down, its constructor fails half-way and its destructor prints a traceback.
    executor = SingleThreadedExecutor()
    node: Optional[Node] = None
    code = 0
    try:
        node = factory()
        executor.add_node(node)
        executor.spin()
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
        executor.shutdown(timeout_sec=0)
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
