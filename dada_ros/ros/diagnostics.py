# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Latencies, counters and the ``/diagnostics`` status of ``dada_node``.

:class:`NodeStatistics` records served frames; :func:`snapshot` gathers counters (the
pipeline's), rates and latencies into one flat dict, which :func:`diagnostic_array` turns
into a ``DiagnosticArray`` (WARN while the worker has been busy for long, ERROR when it
looks stalled) and :func:`summary_line` into the periodic log line.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Optional, Tuple

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np

from .worker import FrameWorker
from ..pipeline import FrameOutputs, FramePipeline, LatencyWindow, PairedFrame

__all__ = ['diagnostic_array', 'NodeStatistics', 'snapshot', 'summary_line']

#: Latencies kept for the mean / p95 in the diagnostics.
LATENCY_WINDOW = 200
#: A solve running longer than this many seconds (or 5x its p95) makes diagnostics WARN ...
BUSY_WARN_S = 2.0
#: ... and longer than this, ERROR (the worker looks stalled).
BUSY_ERROR_S = 30.0


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
        if not stats['inputs_subscribed']:
            return DiagnosticStatus.OK, 'idle: no subscriber to the outputs (lazy_subscription)'
        if stats['rate_output_hz'] == 0.0:
            return DiagnosticStatus.OK, 'idle: no paired input'
        return DiagnosticStatus.OK, 'running'


def snapshot(pipeline: Optional[FramePipeline], recorded: NodeStatistics, worker: FrameWorker,
             active: bool, subscribed: bool, values: Dict[str, Any]) -> Dict[str, Any]:
    """Return a snapshot of counters, rates (Hz) and latencies (ms) since the last call.

    ``latency_*`` is the node's end-to-end time from the arrival of the later input
    message of a pair to the publication of its outputs, the sum of ``wait_mean_ms``
    (conversion, pairing and hand-over to the worker), ``solve_*`` (the solve) and
    ``output_mean_ms`` (building and publishing the depth image, camera_info and cloud).
    """
    counters = pipeline.counters.snapshot() if pipeline is not None else {
        'received': {}, 'errors': {}, 'warnings': {}, 'events': {}}
    received = counters['received']
    with recorded.lock:
        published = recorded.published
        timing = {
            'latency_mean_ms': recorded.latency.mean_ms(),
            'latency_p95_ms': recorded.latency.p95_ms(),
            'solve_mean_ms': recorded.solve.mean_ms(), 'solve_p95_ms': recorded.solve.p95_ms(),
            'wait_mean_ms': recorded.wait.mean_ms(), 'output_mean_ms': recorded.output.mean_ms()}
    rates = recorded.rates({'rgb': received.get('rgb', 0), 'depth': received.get('depth', 0),
                            'camera_info': received.get('camera_info', 0),
                            'output': published})
    state = 'active' if active else ('inactive' if pipeline else 'unconfigured')
    stats: Dict[str, Any] = {'state': state, 'inputs_subscribed': subscribed}
    stats.update({f'rate_{key}_hz': value for key, value in rates.items()})
    stats.update(timing)
    stats.update({
        'warmup_ms': recorded.warmup_ms,
        'received_rgb': received.get('rgb', 0),
        'received_depth': received.get('depth', 0),
        'received_camera_info': received.get('camera_info', 0),
        **{f'received_{stream}': count for stream, count in sorted(received.items())
           if stream not in ('rgb', 'depth', 'camera_info')},  # cloud, depth_camera_info
        'frames_published': published,
        'dropped_busy': worker.dropped_busy,
        'worker_busy_s': worker.busy_for(),
        'errors_total': sum(counters['errors'].values()),
        'warnings_total': sum(counters['warnings'].values()),
    })
    if pipeline is not None:
        pairing = pipeline.pairing_stats()
        for key, value in pairing.stamped.items():
            stats[f'sync.{key}'] = value
        for key, value in pairing.unstamped.items():
            stats[f'sync.unstamped_{key}'] = value
    for group in ('errors', 'warnings', 'events'):
        for key, value in sorted(counters[group].items()):
            stats[f'{group}.{key}'] = value
    for topic, count in sorted(counters.get('emitted', {}).items()):
        stats[f'published.{topic}'] = count  # FramePipeline.emit: one count per message
    params = pipeline.upsampler.params if pipeline is not None else values
    stats['device'] = str(pipeline.upsampler.device) if pipeline is not None \
        else params['device']
    stats['model'] = params['model']
    stats['iterations'] = int(params['iterations'])
    stats['solver'] = params['solver']
    return stats


def diagnostic_array(name: str, stats: Dict[str, Any], level: int, message: str,
                     stamp: Time) -> DiagnosticArray:
    """Return a ``DiagnosticArray`` of one status ``name`` with every value of ``stats``."""
    status = DiagnosticStatus()
    status.name = name
    status.hardware_id = str(stats['device'])
    status.level, status.message = level, message
    status.values = [KeyValue(key=key, value=(f'{value:.3f}' if isinstance(value, float)
                                              else str(value)))
                     for key, value in stats.items()]
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status]
    return array


def summary_line(stats: Dict[str, Any]) -> Optional[str]:
    """Return the periodic one-line summary of a snapshot (None while no input arrives)."""
    if not (stats['rate_output_hz'] or stats['rate_rgb_hz'] or stats['rate_depth_hz']):
        return None
    return (f'out {stats["rate_output_hz"]:.1f} Hz (rgb {stats["rate_rgb_hz"]:.1f} Hz, depth '
            f'{stats["rate_depth_hz"]:.1f} Hz), latency mean {stats["latency_mean_ms"]:.1f} ms '
            f'p95 {stats["latency_p95_ms"]:.1f} ms, published {stats["frames_published"]}, '
            f'dropped busy {stats["dropped_busy"]}, errors {stats["errors_total"]}, '
            f'warnings {stats["warnings_total"]}')
