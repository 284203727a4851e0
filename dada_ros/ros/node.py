# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""ROS 2 node ``dada_node``: guided depth super-resolution of an RGB-D stream.

Subscribed: ``rgb/image`` (or ``rgb/image/compressed``), ``rgb/camera_info``,
``depth/image`` (or ``depth/image/compressedDepth``) and ``depth/camera_info``, or
``cloud`` with ``depth.source: cloud``; with ``lazy_subscription`` (default) only while an
output has a subscriber. Published: ``depth_dense/image`` (32FC1 m, NaN = invalid),
``depth_dense/camera_info``, ``points``, ``depth_dense/confidence``,
``depth_sparse/image`` (each built only while it has a subscriber) and ``/diagnostics``.
The topics, encodings and parameters are documented in ``docs/`` (README: the node).

Everything per frame (decoding, checks, pairing, camera_info policy, solve, output
messages, counters) is :class:`dada_ros.pipeline.FramePipeline`, the same road the bag tool
takes; this module only adds ROS I/O and scheduling, with its parts in modules of their own:

* :mod:`dada_ros.ros.parameters` - declaring and validating the parameter table;
* :mod:`dada_ros.ros.topics` - publishers, subscriptions and QoS (:class:`NodeIO`);
* :mod:`dada_ros.ros.worker` - the worker thread (:class:`FrameWorker`): only the newest
  pair waits while it is busy (older ones counted as ``dropped_busy``);
* :mod:`dada_ros.ros.diagnostics` - latencies, counters and ``/diagnostics``;
* :mod:`dada_ros.ros.process` - start-up, spinning and a prompt exit.

:class:`DadaEngine` ties them to a host rclpy node, plain (:class:`DadaNode`) or managed
(:mod:`dada_ros.ros.lifecycle_node`). Bad input is logged (throttled per kind) and counted
per kind in the diagnostics; the node keeps serving the next valid frame. At start-up (and
at every lifecycle configure) the worker runs one small warm-up solve so the first real
frame does not pay torch's first-call costs. An out-of-memory error inside the solve drops
that frame (``errors.out_of_memory``) and the node continues. ``iterations``, ``solver``,
``depth.mode``, ``fill_holes``, ``sync.slop``, ``points.*`` and the transforms can change
at run time (they apply to the next frame).

Run: ``ros2 run dada_ros dada_node --ros-args -p iterations:=32`` or
``python -m dada_ros.ros.node --ros-args ...``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from rclpy.impl.rcutils_logger import RcutilsLogger
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
import torch

from .diagnostics import diagnostic_array, NodeStatistics, snapshot, summary_line
from .parameters import declare_parameters
from .process import run
from .topics import NodeIO
from .worker import FrameWorker, is_out_of_memory, warm_up
from ..core.params import BY_NAME, solver_keywords
from ..core.upsampler import DepthUpsampler, SolveCancelled
from ..msgs.transforms import TransformLookup
from ..pipeline import Event, FramePipeline, PairedFrame, RUNTIME_PARAMETERS

#: Seconds between two log lines of the same kind of problem.
LOG_THROTTLE_S = 5.0
#: Seconds between two checks for output subscribers (``lazy_subscription``).
LAZY_CHECK_S = 0.2

UpsamplerFactory = Callable[..., DepthUpsampler]


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
        self.values: Dict[str, Any] = declare_parameters(node)
        node.add_post_set_parameters_callback(self._apply_parameters)
        self.io = NodeIO(node, self.values)
        self.stats = NodeStatistics()
        self.pipeline: Optional[FramePipeline] = None
        self.worker = FrameWorker(self._solve, self._on_worker_error, self._on_idle)
        self._timer: Optional[Any] = None
        self._lazy_timer: Optional[Any] = None
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
        upsampler = self.make_upsampler(**solver_keywords(values))
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
        """Process and publish frames from now on.

        The inputs are subscribed at once, or with ``lazy_subscription`` only while an
        output has a subscriber (checked by a 0.2 s timer).
        """
        if not self.configured or self._active:
            return
        self._active = True
        if self.values['lazy_subscription']:
            self._lazy_timer = self.node.create_timer(LAZY_CHECK_S, self._follow_subscribers)
            self._follow_subscribers()
        else:
            self._subscribe()

    def deactivate(self) -> None:
        """Unsubscribe and forget queued input (a frame being solved is not published)."""
        self._active = False
        if self._lazy_timer is not None:
            self.node.destroy_timer(self._lazy_timer)
            self._lazy_timer = None
        self._unsubscribe()

    def _subscribe(self) -> None:
        self.io.subscribe(self._on_rgb, self._on_depth, self._on_camera_info,
                          self._on_depth_camera_info, self._on_cloud)

    def _unsubscribe(self) -> None:
        self.io.unsubscribe()
        self.worker.clear()
        if self.pipeline is not None:
            self.pipeline.reset()

    def _follow_subscribers(self) -> None:
        """Subscribe while an output has a subscriber, unsubscribe when the last one leaves."""
        if not self._active:
            return
        wanted = self.io.outputs_wanted()
        if wanted and not self.io.subscribed:
            self.logger.info('an output has a subscriber: subscribing to the inputs')
            self._subscribe()
        elif not wanted and self.io.subscribed:
            self.logger.info('no output has a subscriber: inputs unsubscribed '
                             '(lazy_subscription)')
            self._unsubscribe()

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
        pipeline.emit(outputs, self.io.send)
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

        See :func:`dada_ros.ros.diagnostics.snapshot`.
        """
        return snapshot(self.pipeline, self.stats, self.worker, self._active,
                        self.io.subscribed, self.values)

    def _on_diagnostics_timer(self) -> None:
        stats = self.statistics()
        level, message = self.stats.status(stats)
        if self.io.diagnostics is not None:
            self.io.diagnostics.publish(diagnostic_array(
                f'{self.node.get_fully_qualified_name()}: depth super-resolution', stats,
                level, message, self.node.get_clock().now().to_msg()))
        self._ticks += 1
        if self._ticks % max(1, round(10.0 / float(self.values['diagnostics.period']))) == 0:
            line = summary_line(stats)
            if line is not None:
                self.logger.info(line)


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


def main(args: Optional[List[str]] = None) -> int:
    """Run ``dada_node`` until SIGINT / SIGTERM; return the process exit code."""
    return run(DadaNode, 'dada_node', args)


if __name__ == '__main__':
    sys.exit(main())
