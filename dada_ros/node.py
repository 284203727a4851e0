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
``sync.slop``, ``sync.queue_size``). Inference runs in a worker thread that keeps only the
newest pair while it is busy (older pairs are counted as ``dropped_busy``), so the executor
is never blocked. Bad input is logged (throttled per kind) and counted per kind in the
diagnostics; the node keeps serving the next valid frame.

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
import os
import sys
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
import rclpy
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType, SetParametersResult)
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (HistoryPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

from .conversions import (camera_info_to_k, CameraInfoError, copy_header, depth_to_image,
                          depth_to_pointcloud, image_to_depth_checked, image_to_rgb,
                          ImageConversionError)
from .core.params import BY_NAME, ParamSpec, PARAMETERS, SOLVER_PARAMETERS
from .core.sync import ApproximateTimePairer
from .core.upsampler import DepthUpsampler, resolve_depth_mode, upsampling_factor

#: Seconds between two log lines of the same kind of problem.
LOG_THROTTLE_S = 5.0
#: Solver parameters that may change while the node runs.
RUNTIME_SOLVER_PARAMETERS = ('iterations', 'solver', 'depth.mode', 'fill_holes')
#: Latencies kept for the mean / p95 in the diagnostics.
LATENCY_WINDOW = 200


def _stamp_seconds(header: Header) -> float:
    return float(header.stamp.sec) + float(header.stamp.nanosec) * 1e-9


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """Build the ROS parameter descriptor of one table entry."""
    types = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
             float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
    descriptor = ParameterDescriptor(name=spec.name, type=types[spec.type],
                                     description=spec.description, read_only=spec.read_only)
    if spec.choices is not None:
        descriptor.additional_constraints = 'one of: ' + ', '.join(str(c) for c in spec.choices)
    elif spec.name == 'device':
        descriptor.additional_constraints = "one of: auto, cpu, cuda, cuda:N"
    low, high = spec.min_value, spec.max_value
    if low is not None and high is not None and spec.type is int:
        descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                 step=0)]
    elif low is not None and high is not None and spec.type is float:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(low), to_value=float(high), step=0.0)]
    return descriptor


class _Frame:
    """One paired input, converted, waiting for the worker."""

    __slots__ = ('header', 'rgb', 'depth', 'arrival')

    def __init__(self, header: Header, rgb: np.ndarray, depth: np.ndarray,
                 arrival: float) -> None:
        self.header = header
        self.rgb = rgb
        self.depth = depth
        self.arrival = arrival


class DadaNode(Node):
    """Translate RGB-D messages to :class:`DepthUpsampler` calls and publish the results."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare the parameters, build the solver and create the topics.

        Raises:
            RuntimeError: the requested device (e.g. ``cuda``) is not available.
            ValueError: a parameter override is invalid.
        """
        super().__init__('dada_node', **kwargs)
        self._lock = threading.Lock()
        self._errors: Dict[str, int] = collections.defaultdict(int)
        self._counts: Dict[str, int] = collections.defaultdict(int)
        self._window: Dict[str, int] = collections.defaultdict(int)
        self._latencies: Deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._loggers: Dict[str, RcutilsLogger] = {}
        self._pending_solver: Dict[str, Any] = {}
        self._errors_seen = 0

        self.add_on_set_parameters_callback(self._validate_parameters)
        for spec in PARAMETERS:
            self.declare_parameter(spec.name, spec.default, _descriptor(spec))
        values = {spec.name: self.get_parameter(spec.name).value for spec in PARAMETERS}
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._upsampler = DepthUpsampler(**{name: values[name] for name in SOLVER_PARAMETERS})
        self._points_enable = bool(values['points.enable'])
        self._points_color = bool(values['points.color'])
        self._points_stride = int(values['points.stride'])
        self._pairer: ApproximateTimePairer[Tuple[Header, np.ndarray, float],
                                            Tuple[np.ndarray, float]] = \
            ApproximateTimePairer(float(values['sync.slop']), int(values['sync.queue_size']))
        self._pairer_reported: Dict[str, int] = dict(self._pairer.stats)
        self._camera_info: Optional[CameraInfo] = None
        self._camera_k: Optional[np.ndarray] = None

        if values['qos.reliable_input']:
            in_qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                                reliability=ReliabilityPolicy.RELIABLE)
        else:
            in_qos = qos_profile_sensor_data
        out_qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                             reliability=ReliabilityPolicy.RELIABLE
                             if values['qos.reliable_output'] else ReliabilityPolicy.BEST_EFFORT)
        self._pub_depth = self.create_publisher(Image, 'depth_dense/image', out_qos)
        self._pub_info = self.create_publisher(CameraInfo, 'depth_dense/camera_info', out_qos)
        self._pub_points = self.create_publisher(PointCloud2, 'points', out_qos)
        self._pub_diag = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(Image, 'rgb/image', self._on_rgb, in_qos)
        self.create_subscription(Image, 'depth/image', self._on_depth, in_qos)
        self.create_subscription(CameraInfo, 'rgb/camera_info', self._on_camera_info, in_qos)

        self._period = float(values['diagnostics.period'])
        self._window_start = time.monotonic()
        self._ticks = 0
        self._summary_time = self._window_start
        self._summary_counts: Dict[str, int] = {}
        self.create_timer(self._period, self._on_diagnostics_timer)

        self._stop = threading.Event()
        self._wake = threading.Condition(self._lock)
        self._slot: Optional[_Frame] = None
        self._worker = threading.Thread(target=self._work, name='dada_worker', daemon=True)
        self._worker.start()
        self.get_logger().info(
            f'dada_node ready: model {values["model"]}, solver {values["solver"]}, '
            f'device {self._upsampler.device}, iterations {values["iterations"]}, '
            f'input QoS {"reliable" if values["qos.reliable_input"] else "best effort"}')

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
            if name in RUNTIME_SOLVER_PARAMETERS:
                with self._lock:
                    self._pending_solver[name] = value
            elif name == 'sync.slop':
                self._pairer.set_slop(float(value))
            elif name == 'points.enable':
                self._points_enable = bool(value)
            elif name == 'points.color':
                self._points_color = bool(value)
            elif name == 'points.stride':
                self._points_stride = int(value)
            else:
                continue
            self.get_logger().info(f'parameter {name} set to {value!r} '
                                   '(applies to the next frame)')

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
            logger = self._loggers[kind] = self.get_logger().get_child(kind)
        logger.warning(f'{message} [{kind}]', throttle_duration_sec=LOG_THROTTLE_S)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1
            self._window[key] += 1

    def _check_pairer(self, stream: str) -> None:
        stats = self._pairer.stats
        if self._pairer.stamp_going_backwards[stream]:
            self._report(f'stamp_backwards_{stream}',
                         f'{stream} stamps went backwards (bag loop or clock reset?)')
        for key in ('dropped_late', 'duplicate', 'reset'):
            if stats[key] > self._pairer_reported.get(key, 0):
                self._report(f'sync_{key}', f'pairing: {key.replace("_", " ")} '
                             f'({stats[key]} so far)', error=False)
        self._pairer_reported = dict(stats)

    # --- subscriptions --------------------------------------------------------------------
    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._count('in_camera_info')
        try:
            k = camera_info_to_k(msg)
        except CameraInfoError as error:
            self._report(error.kind, str(error))
            return
        self._camera_info, self._camera_k = msg, k

    def _on_rgb(self, msg: Image) -> None:
        arrival = time.monotonic()
        self._count('in_rgb')
        try:
            rgb = image_to_rgb(msg)
        except ImageConversionError as error:
            self._report(error.kind, f'rgb/image rejected: {error}')
            return
        header = copy_header(msg.header)
        pairs = self._pairer.add_rgb(_stamp_seconds(header), (header, rgb, arrival))
        self._check_pairer('rgb')
        self._submit(pairs)

    def _on_depth(self, msg: Image) -> None:
        arrival = time.monotonic()
        self._count('in_depth')
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
        pairs = self._pairer.add_depth(_stamp_seconds(msg.header), (depth, arrival))
        self._check_pairer('depth')
        self._submit(pairs)

    def _submit(self, pairs: Sequence[Tuple[Tuple[Header, np.ndarray, float],
                                            Tuple[np.ndarray, float]]]) -> None:
        for (header, rgb, rgb_arrival), (depth, depth_arrival) in pairs:
            try:
                factor = upsampling_factor(rgb.shape, depth.shape)
                resolve_depth_mode(self._upsampler.params['depth.mode'], factor)
            except ValueError as error:
                self._report('size_mismatch', str(error))
                continue
            frame = _Frame(header, rgb, depth, max(rgb_arrival, depth_arrival))
            with self._wake:
                if self._slot is not None:
                    self._counts['dropped_busy'] += 1
                self._slot = frame
                self._wake.notify()

    # --- worker ---------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                while self._slot is None and not self._stop.is_set():
                    self._wake.wait(0.1)
                frame, self._slot = self._slot, None
                pending, self._pending_solver = self._pending_solver, {}
            if frame is None:
                continue
            for name, value in pending.items():
                try:
                    self._upsampler.set_param(name, value)
                except ValueError as error:
                    self._report('parameter_error', str(error))
            try:
                self._process(frame)
            except Exception as error:  # noqa: B902 - keep serving the next frame
                if self._stop.is_set() or not self.context.ok():
                    return
                self._report('processing_error', f'{type(error).__name__}: {error}')

    def _process(self, frame: _Frame) -> None:
        started = time.monotonic()
        dense = self._upsampler.up(frame.rgb, frame.depth)
        solved = time.monotonic()
        if self._stop.is_set():
            return
        self._pub_depth.publish(depth_to_image(dense, frame.header))
        info, k = self._camera_info, self._camera_k
        height, width = dense.shape
        if info is None or k is None:
            self._report('missing_camera_info', 'no valid rgb/camera_info received yet: '
                         'publishing depth_dense/image only')
        elif (info.width, info.height) not in ((0, 0), (width, height)):
            self._report('camera_info_size_mismatch',
                         f'rgb/camera_info is for {info.width}x{info.height} but the rgb '
                         f'image is {width}x{height}: no camera_info / points published')
        else:
            out_info = CameraInfo()
            out_info.header = copy_header(frame.header)
            out_info.height, out_info.width = info.height, info.width
            out_info.distortion_model = info.distortion_model
            out_info.d = list(info.d)
            out_info.k, out_info.r, out_info.p = info.k, info.r, info.p
            out_info.binning_x, out_info.binning_y = info.binning_x, info.binning_y
            out_info.roi = info.roi
            self._pub_info.publish(out_info)
            if self._points_enable:
                rgb = frame.rgb if self._points_color else None
                self._pub_points.publish(depth_to_pointcloud(
                    dense, k, frame.header, self._points_stride, rgb))
        done = time.monotonic()
        with self._lock:
            self._latencies.append(done - frame.arrival)
            self._counts['published'] += 1
            self._window['published'] += 1
        self.get_logger().debug(
            f'frame {frame.header.stamp.sec}.{frame.header.stamp.nanosec:09d}: '
            f'{width}x{height}, solve {1e3 * (solved - started):.1f} ms, '
            f'latency {1e3 * (done - frame.arrival):.1f} ms')

    # --- diagnostics ----------------------------------------------------------------------
    def statistics(self) -> Dict[str, Any]:
        """Return a snapshot of counters, rates (Hz) and latencies (ms) since the last call."""
        now = time.monotonic()
        with self._lock:
            elapsed = max(now - self._window_start, 1e-6)
            window, self._window = dict(self._window), collections.defaultdict(int)
            self._window_start = now
            latencies = np.array(self._latencies, dtype=np.float64) * 1e3
            counts = dict(self._counts)
            errors = dict(self._errors)
        stats: Dict[str, Any] = {
            'rate_rgb_hz': window.get('in_rgb', 0) / elapsed,
            'rate_depth_hz': window.get('in_depth', 0) / elapsed,
            'rate_camera_info_hz': window.get('in_camera_info', 0) / elapsed,
            'rate_output_hz': window.get('published', 0) / elapsed,
            'latency_mean_ms': float(latencies.mean()) if latencies.size else float('nan'),
            'latency_p95_ms': float(np.percentile(latencies, 95)) if latencies.size
            else float('nan'),
            'frames_published': counts.get('published', 0),
            'dropped_busy': counts.get('dropped_busy', 0),
            'errors_total': sum(errors.values()),
        }
        for key, value in self._pairer.stats.items():
            stats[f'sync.{key}'] = value
        for key, value in sorted(errors.items()):
            stats[f'errors.{key}'] = value
        for key, value in sorted(counts.items()):
            if key.startswith('sync_'):
                stats[f'events.{key}'] = value
        stats['device'] = str(self._upsampler.device)
        stats['iterations'] = self._upsampler.iterations
        stats['solver'] = self._upsampler.params['solver']
        return stats

    def _on_diagnostics_timer(self) -> None:
        stats = self.statistics()
        status = DiagnosticStatus()
        status.name = f'{self.get_fully_qualified_name()}: depth super-resolution'
        status.hardware_id = stats['device']
        if stats['errors_total'] > getattr(self, '_errors_seen', 0):
            status.level, status.message = DiagnosticStatus.WARN, 'input errors (see errors.*)'
        elif stats['rate_output_hz'] == 0.0:
            status.level, status.message = DiagnosticStatus.OK, 'idle: no paired input'
        else:
            status.level, status.message = DiagnosticStatus.OK, 'running'
        self._errors_seen = stats['errors_total']
        status.values = [KeyValue(key=key, value=(f'{value:.3f}' if isinstance(value, float)
                                                  else str(value)))
                         for key, value in stats.items()]
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
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
        self.get_logger().info(
            f'out {rates["published"]:.1f} Hz (rgb {rates["in_rgb"]:.1f} Hz, depth '
            f'{rates["in_depth"]:.1f} Hz), latency mean {stats["latency_mean_ms"]:.1f} ms '
            f'p95 {stats["latency_p95_ms"]:.1f} ms, published {stats["frames_published"]}, '
            f'dropped busy {stats["dropped_busy"]}, errors {stats["errors_total"]}')

    # --- shutdown -------------------------------------------------------------------------
    def stop_worker(self, timeout: float = 1.5) -> bool:
        """Ask the worker to stop and wait for it; return whether it has finished."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        self._worker.join(timeout)
        return not self._worker.is_alive()


def main(args: Optional[List[str]] = None) -> int:
    """Run ``dada_node`` until SIGINT / SIGTERM; return the process exit code."""
    rclpy.init(args=args)
    node: Optional[DadaNode] = None
    code = 0
    try:
        node = DadaNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (RuntimeError, ValueError, OSError, ParameterException) as error:
        message = f'dada_node cannot start: {error}'
        if node is None:
            rclpy.logging.get_logger('dada_node').fatal(message)
        else:
            node.get_logger().fatal(message)
        code = 1
    finally:
        finished = node.stop_worker() if node is not None else True
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


if __name__ == '__main__':
    sys.exit(main())
