# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Robustness of ``dada_node`` with numbers (issue 7), short versions for CI.

Every test talks to a real node in a second process over real topics:

* fuzzing: 10,000 malformed messages; the node survives, counts each rejection by kind
  (exactly one count per received malformed message), logs throttled, then serves a valid
  pair correctly;
* overload: pairs at about 3x the processing rate for 10 s; newest first (no backlog),
  bounded latency and memory, drops counted;
* soak: 500 frames; resident memory growth under 5 % after warm-up, no thread growth;
* hostile input (issue 23): decompression bombs, implausible and byte-swapped clouds,
  registration beyond 1e5 m, weak spots (data too long, negative depth, bad stamps,
  compressedDepth headers), and ``hypothesis`` generators of these families sent through
  live nodes (raw, compressed and cloud inputs), each message counted once by its kind;
* diagnostics content, runtime parameters (``iterations`` applies to the next frame),
  zero stamps, device faults (injected out-of-memory inside ``up()``, CPU fallback of
  ``auto``), a missing weights file.

The long versions are ``benchmarks/node_stress.py``.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
import itertools
import math
import os
from pathlib import Path
import re
import struct
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

from dada_ros.msgs.clouds import read_points
from dada_ros.msgs.compressed import depth_to_compressed_depth, rgb_to_compressed
from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
from dada_ros.msgs.depth_codecs import pack_config_header
from dada_ros.ros.worker import IDLE_RELEASE_S
from diagnostic_msgs.msg import DiagnosticArray
from hostile_messages import (Case, cloud_cases, cloud_message, compressed_cases, png_bomb,
                              raw_image_cases)
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from ros_helpers import diagnostics_values, NodeProcess, REPO, ros_env, RosHarness, wait_until
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

TIMEOUT = 60.0
H, W, FACTOR = 24, 32, 4
FX = 40.0
_STAMPS = itertools.count(10_000)

#: Rejections of single messages by the converters (one count per message).
MESSAGE_KINDS = ('unknown_encoding', 'step_too_small', 'data_too_short', 'empty_image',
                 'data_too_long', 'image_too_large')
#: Seconds between two fuzzing messages.
PACE_S = 0.0016


def proc_status(pid: int) -> Tuple[int, int]:
    """(resident memory in kB, number of threads) of process ``pid`` from /proc."""
    text = Path(f'/proc/{pid}/status').read_text()
    rss = int(re.search(r'VmRSS:\s+(\d+)', text).group(1))  # type: ignore[union-attr]
    threads = int(re.search(r'Threads:\s+(\d+)', text).group(1))  # type: ignore[union-attr]
    return rss, threads


@dataclass
class Rig:
    """A node under test with reliable publishers and collectors on its topics."""

    ros: RosHarness
    node: NodeProcess
    ns: str
    rgb: Any
    depth: Any
    info: Any
    out_depth: List[Image]
    out_points: List[PointCloud2]
    diagnostics: List[DiagnosticArray]

    def stats(self) -> Dict[str, str]:
        """Return the newest diagnostics key/values of this node."""
        for array in reversed(list(self.diagnostics)):
            values = diagnostics_values(array, f'{self.ns}/dada_node')
            if values is not None:
                return values
        return {}

    def wait_stats(self, predicate: Callable[[Dict[str, str]], bool],
                   timeout: float = TIMEOUT) -> Dict[str, str]:
        """Wait until the diagnostics satisfy ``predicate``."""
        def check() -> Dict[str, str]:
            stats = self.stats()
            return stats if stats and predicate(stats) else {}
        self.assert_alive()
        return wait_until(check, timeout, message='diagnostics')

    def count(self, key: str) -> int:
        """Return an integer diagnostics value (0 when absent)."""
        return int(self.stats().get(key, 0))

    def assert_alive(self) -> None:
        """Fail with the node's stderr when its process has ended."""
        assert self.node.alive(), f'node died: {self.node.output()[1][-3000:]}'

    def send_pair(self, rgb: np.ndarray, depth: np.ndarray, stamp: Tuple[int, int],
                  info: bool = True) -> Header:
        """Publish camera_info (optional), RGB and 32FC1 depth with one stamp."""
        header = Header(frame_id='cam')
        header.stamp.sec, header.stamp.nanosec = stamp
        if info:
            self.info.publish(camera_info(header, rgb.shape[1], rgb.shape[0]))
        self.rgb.publish(rgb_to_image(rgb, header))
        self.depth.publish(array_to_image(depth, '32FC1', header))
        return header

    def output(self, header: Header, messages: Any = None, timeout: float = TIMEOUT) -> Any:
        """Wait for the output with ``header``'s stamp."""
        stamp = (header.stamp.sec, header.stamp.nanosec)
        box = self.out_depth if messages is None else messages

        def find() -> Any:
            for msg in reversed(list(box)):
                if (msg.header.stamp.sec, msg.header.stamp.nanosec) == stamp:
                    return msg
            return None
        self.assert_alive()
        return wait_until(find, timeout, message=f'output stamped {stamp}')


def camera_info(header: Header, width: int = W, height: int = H) -> CameraInfo:
    """Return a valid pinhole camera_info."""
    info = CameraInfo(header=header, width=width, height=height, distortion_model='plumb_bob')
    info.k = [FX, 0.0, width / 2, 0.0, FX, height / 2, 0.0, 0.0, 1.0]
    return info


def fresh_stamp() -> Tuple[int, int]:
    """Return a stamp newer than every stamp used before in this module."""
    return next(_STAMPS), 0


#: Input topics and types of a rig: raw images, compressed transports, a cloud.
INPUTS = {
    'raw': ((Image, 'rgb/image'), (Image, 'depth/image'), ()),
    'compressed': ((CompressedImage, 'rgb/image/compressed'),
                   (CompressedImage, 'depth/image/compressedDepth'),
                   ('rgb.transport:=compressed', 'depth.transport:=compressedDepth')),
    'cloud': ((Image, 'rgb/image'), (PointCloud2, 'cloud'), ('depth.source:=cloud',)),
}


def make_rig(ros: RosHarness, factory: Callable[..., NodeProcess], name: str,
             *params: str, extra_env: Any = None, module: str = 'dada_ros.ros.node',
             inputs: str = 'raw') -> Rig:
    """Start a node with reliable input in its own namespace and connect to it.

    ``inputs`` picks the input topics (:data:`INPUTS`): ``rig.rgb`` and ``rig.depth``
    publish the matching message types.
    """
    ns = f'/dada_robust_{name}_{int(time.time() * 1e3) % 100000}'
    (rgb_type, rgb_topic), (depth_type, depth_topic), implied = INPUTS[inputs]
    args: List[str] = ['-r', f'__ns:={ns}', '-p', 'qos.reliable_input:=true',
                       '-p', 'diagnostics.period:=0.2', '-p', 'iterations:=1']
    for param in (*implied, *params):
        args += ['-p', param]
    node = factory(*args, name=name, extra_env=extra_env, module=module)
    rig = Rig(ros, node, ns,
              rgb=ros.publisher(rgb_type, f'{ns}/{rgb_topic}', depth=1000),
              depth=ros.publisher(depth_type, f'{ns}/{depth_topic}', depth=1000),
              info=ros.publisher(CameraInfo, f'{ns}/rgb/camera_info', depth=1000),
              out_depth=ros.collect(Image, f'{ns}/depth_dense/image', depth=100),
              out_points=ros.collect(PointCloud2, f'{ns}/points', depth=100),
              diagnostics=ros.collect(DiagnosticArray, '/diagnostics', depth=100))
    ros.wait_for_subscribers([rig.rgb, rig.depth, rig.info], TIMEOUT)
    rig.wait_stats(lambda s: 'iterations' in s)
    return rig


@pytest.fixture(scope='module')
def rig(ros: RosHarness, module_node_factory: Any) -> Rig:
    """Start the node shared by the short tests of this module."""
    return make_rig(ros, module_node_factory, 'main')


def rng_image(rng: np.random.Generator, height: int = H, width: int = W) -> np.ndarray:
    """Return a random RGB image."""
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


# --- 1. fuzzing ---------------------------------------------------------------------------
def malformed_image(rng: np.random.Generator, kind: str, depth_topic: bool) -> Image:
    """Return an image message that the converters must reject as ``kind``."""
    msg = Image()
    msg.header.stamp.sec = int(rng.integers(0, 2 ** 31))  # anything: rejected before pairing
    msg.header.stamp.nanosec = int(rng.integers(0, 10 ** 9))
    encoding = str(rng.choice(['32FC1', '16UC1'] if depth_topic else ['rgb8', 'bgr8', 'mono8',
                                                                      'rgba8']))
    bpp = {'32FC1': 4, '16UC1': 2, 'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4}[encoding]
    height, width = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    step = width * bpp
    size = step * height
    if kind == 'unknown_encoding':
        encoding = str(rng.choice(['yuv422', '', 'bayer_rggb8', '8UC3', '64FC1', 'x' * 40,
                                   # a valid encoding on the wrong topic
                                   'rgb8' if depth_topic else '32FC1']))
    elif kind == 'step_too_small':
        step = int(rng.integers(0, step))
    elif kind == 'data_too_short':
        size = int(rng.integers(0, step * height))
    elif kind == 'data_too_long':  # more data than the header describes
        size += int(rng.integers(1, 64))
    elif kind == 'image_too_large':  # huge claimed dimensions, refused before anything else
        height = int(rng.integers(10 ** 5, 2 ** 32))
        width = int(rng.integers(10 ** 5, 10 ** 9))
        step = width * bpp
        size = int(rng.integers(0, 100))
    elif kind == 'empty_image':
        height, width = (0, width) if rng.random() < 0.5 else (height, 0)
        step = width * bpp
        size = 0
    msg.height, msg.width, msg.encoding, msg.step = height, width, encoding, step
    msg.is_bigendian = int(rng.integers(0, 2))
    msg.data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    return msg


def malformed_camera_info(rng: np.random.Generator) -> CameraInfo:
    """Return a camera_info with an unusable K (zero, NaN / Inf, focal length <= 0)."""
    info = CameraInfo(width=W, height=H)
    choice = int(rng.integers(0, 4))
    k = [FX, 0.0, W / 2, 0.0, FX, H / 2, 0.0, 0.0, 1.0]
    if choice == 0:
        k = [0.0] * 9
    elif choice == 1:
        k[int(rng.choice([0, 2, 4, 5]))] = float(rng.choice([math.nan, math.inf]))
    elif choice == 2:
        k[0] = -FX
    else:
        k[4] = 0.0
    info.k = k
    return info


# 10000 messages through a live node: about 50 s on two cores; bounded at 10x that.
@pytest.mark.timeout(480)
def test_fuzzing_10000_malformed_messages(rig: Rig) -> None:
    """10,000 malformed messages: no crash, one count per rejection by kind, next frame ok."""
    rng = np.random.default_rng(7)
    start = rig.stats()
    received_before = sum(int(start.get(f'received_{t}', 0))
                          for t in ('rgb', 'depth', 'camera_info'))
    errors_before = {k: int(start.get(f'errors.{k}', 0)) for k in MESSAGE_KINDS +
                     ('bad_camera_info', 'size_mismatch', 'stamp_backwards_rgb',
                      'stamp_backwards_depth')}
    warnings_before = {k: int(start.get(f'warnings.{k}', 0))
                       for k in ('all_invalid_depth', 'infinite_depth')}
    sent: Dict[str, int] = collections.Counter()
    started = time.monotonic()
    # Phase 1: 8,000 messages every one of which a converter must reject.
    batch: List[Tuple[Any, Any]] = []
    for index in range(8000):
        if index % 10 == 9:
            batch.append((rig.info, malformed_camera_info(rng)))
            sent['bad_camera_info'] += 1
            continue
        kind = MESSAGE_KINDS[int(rng.integers(0, len(MESSAGE_KINDS)))]
        depth_topic = bool(rng.integers(0, 2))
        batch.append((rig.depth if depth_topic else rig.rgb,
                      malformed_image(rng, kind, depth_topic)))
        sent[kind] += 1
    # Paced (about 600 messages/s): the node's reliable input keeps the newest 5 messages
    # per topic, so a blast would mostly be dropped by DDS before reaching the node.
    next_time = time.monotonic()
    for publisher, msg in batch:
        next_time += PACE_S
        delay = next_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        publisher.publish(msg)
    phase1 = len(batch)
    rig.wait_stats(lambda s: sum(int(s.get(f'received_{t}', 0)) for t in
                                 ('rgb', 'depth', 'camera_info')) >= received_before + phase1
                   or time.monotonic() - started > 40.0, timeout=90.0)
    time.sleep(0.5)
    mid = rig.wait_stats(lambda s: True)
    received = sum(int(mid.get(f'received_{t}', 0))
                   for t in ('rgb', 'depth', 'camera_info')) - received_before
    assert received >= phase1 // 2, f'only {received} of {phase1} malformed messages arrived'
    counted = {k: int(mid.get(f'errors.{k}', 0)) - errors_before[k]
               for k in MESSAGE_KINDS + ('bad_camera_info',)}
    # Exactly one rejection per received malformed message, of a kind that was sent.
    assert sum(counted.values()) == received, (counted, received)
    for kind, number in counted.items():
        assert 1 <= number <= sent[kind], (kind, number, sent[kind])

    # Phase 2: 2,000 well-formed messages with bad content or bad pairing.
    base = fresh_stamp()[0]  # phase 2 stamps lie within [base, base + 1)
    next(_STAMPS)
    for index in range(1000):
        stamp = (base, index * 1_000_000)
        header = Header(frame_id='cam')
        header.stamp.sec, header.stamp.nanosec = stamp
        case = index % 5
        rgb = rng_image(rng)
        if case == 0:  # NaN / Inf / negative depth
            depth = rng.uniform(-1.0, 3.0, (H // FACTOR, W // FACTOR)).astype(np.float32)
            depth[0, 0], depth[1, 1] = np.nan, np.inf
        elif case == 1:  # all invalid
            depth = np.full((H // FACTOR, W // FACTOR), np.nan, np.float32)
        elif case == 2:  # a non-integer size ratio (24x32 from 9x12): served since issue 21
            depth = np.ones((9, 12), np.float32)
        elif case == 3:  # another aspect ratio (factor 4 in height, 2 in width)
            depth = np.ones((H // 4, W // 2), np.float32)
        else:  # stamps going backwards
            header.stamp.sec -= 5
            depth = np.ones((H // FACTOR, W // FACTOR), np.float32)
        rig.rgb.publish(rgb_to_image(rgb, header))
        rig.depth.publish(array_to_image(depth, '32FC1', header))
        time.sleep(4 * PACE_S)
    total = phase1 + 2000
    assert total >= 10_000
    end = rig.wait_stats(lambda s: int(s.get('errors.size_mismatch', 0))
                         > errors_before['size_mismatch']
                         and all(int(s.get(f'warnings.{k}', 0)) > warnings_before[k]
                                 for k in ('all_invalid_depth', 'infinite_depth')))
    assert int(end.get('errors.stamp_backwards_rgb', 0)) > errors_before['stamp_backwards_rgb']

    # The next valid pair is served correctly (dense depth and cloud).
    rgb = rng_image(rng)
    header = rig.send_pair(rgb, np.full((H // FACTOR, W // FACTOR), 1.75, np.float32),
                           fresh_stamp())
    np.testing.assert_allclose(image_to_depth(rig.output(header)), 1.75, rtol=1e-3)
    cloud = read_points(rig.output(header, rig.out_points))
    np.testing.assert_array_equal(cloud['rgb'], rgb)
    rig.assert_alive()
    # Each kind is logged, and throttled: a handful of lines for thousands of counts.
    out, err = rig.node.output()
    elapsed = time.monotonic() - started
    for kind in MESSAGE_KINDS + ('bad_camera_info', 'size_mismatch', 'all_invalid_depth'):
        lines = (out + err).count(f'[{kind}]')
        assert 1 <= lines <= elapsed / 5.0 + 3, (kind, lines)
    assert 'Traceback' not in out + err


# --- 4. diagnostics -------------------------------------------------------------------
def test_diagnostics_are_complete_and_sensible(rig: Rig) -> None:
    """Rates, latency mean / p95, drops, errors by kind, device and iterations are there."""
    rng = np.random.default_rng(3)
    for _ in range(3):
        rig.output(rig.send_pair(rng_image(rng), np.ones((H // FACTOR, W // FACTOR),
                                                         np.float32), fresh_stamp()))
    stats = rig.wait_stats(lambda s: float(s['rate_output_hz']) >= 0.0
                           and int(s['frames_published']) >= 3)
    for key in ('rate_rgb_hz', 'rate_depth_hz', 'rate_camera_info_hz', 'rate_output_hz',
                'latency_mean_ms', 'latency_p95_ms', 'solve_mean_ms', 'solve_p95_ms',
                'warmup_ms', 'frames_published', 'dropped_busy', 'errors_total',
                'received_rgb', 'received_depth', 'received_camera_info', 'sync.paired',
                'sync.dropped_unpaired', 'device', 'model', 'iterations', 'solver', 'state'):
        assert key in stats, key
    assert stats['state'] == 'active'
    assert stats['device'] == 'cpu' or stats['device'].startswith('cuda')
    assert stats['iterations'] == '1'
    latency_mean, latency_p95 = float(stats['latency_mean_ms']), float(stats['latency_p95_ms'])
    solve_mean = float(stats['solve_mean_ms'])
    assert 0.0 < solve_mean <= latency_mean * 1.001 < 60_000.0
    assert 0.0 < latency_p95 < 60_000.0
    assert 0.0 < float(stats['warmup_ms']) < 600_000.0
    kinds = [k for k in stats if k.startswith('errors.')]
    assert int(stats['errors_total']) == sum(int(stats[k]) for k in kinds)


# --- 5. runtime parameters ----------------------------------------------------------------
def test_iterations_apply_to_the_next_frame(rig: Rig) -> None:
    """Same input, different iterations, different output; back again, identical output."""
    node = f'{rig.ns}/dada_node'
    rng = np.random.default_rng(11)
    rgb = rng_image(rng)
    depth = rng.uniform(1.0, 3.0, (H // FACTOR, W // FACTOR)).astype(np.float32)

    def solve() -> np.ndarray:
        return image_to_depth(rig.output(rig.send_pair(rgb, depth, fresh_stamp())))

    first = solve()
    assert rig.ros.set_parameters(node, {'iterations': 60})[0].successful
    many = solve()
    rejected = rig.ros.set_parameters(node, {'iterations': -5})[0]
    assert not rejected.successful and 'iterations' in rejected.reason
    assert rig.ros.set_parameters(node, {'iterations': 1})[0].successful
    again = solve()
    assert np.abs(many - first).max() > 1e-4
    np.testing.assert_array_equal(again, first)


# --- zero stamps --------------------------------------------------------------------------
def test_zero_stamps_are_paired_by_arrival(rig: Rig) -> None:
    """A camera that never stamps still gets every frame through (counted as unstamped)."""
    before = rig.count('events.sync_unstamped_rgb')
    rng = np.random.default_rng(5)
    for value in (1.0, 2.0, 3.0, 4.0):
        header = rig.send_pair(rng_image(rng), np.full((H // FACTOR, W // FACTOR), value,
                                                       np.float32), (0, 0))

        def served(value: float = value) -> bool:
            return any(m.header.stamp.sec == 0 and
                       abs(float(np.nanmean(image_to_depth(m))) - value) < 1e-3
                       for m in list(rig.out_depth))
        rig.assert_alive()
        wait_until(served, TIMEOUT, message=f'unstamped frame {value}')
        assert header.stamp.sec == 0
    rig.wait_stats(lambda s: int(s.get('events.sync_unstamped_rgb', 0)) >= before + 4)


# --- 3. soak ------------------------------------------------------------------------------
# 500 frames through a live node: about 15 s on two cores.
@pytest.mark.timeout(300)
def test_soak_500_frames_memory_and_threads(rig: Rig) -> None:
    """500 frames: resident memory grows under 5 % after warm-up, no thread growth."""
    rng = np.random.default_rng(13)
    images = [rng_image(rng) for _ in range(8)]
    depth = np.ones((H // FACTOR, W // FACTOR), np.float32)
    pid = rig.node.process.pid
    rss0 = threads0 = 0
    for index in range(500):
        header = rig.send_pair(images[index % 8], depth, fresh_stamp(), info=index % 10 == 0)
        rig.output(header)
        if index == 99:  # after warm-up
            rss0, threads0 = proc_status(pid)
    rss1, threads1 = proc_status(pid)
    assert rss1 < rss0 * 1.05, f'resident memory {rss0} kB -> {rss1} kB'
    assert threads1 <= threads0, f'threads {threads0} -> {threads1}'


# --- 2. overload --------------------------------------------------------------------------
# Frames of tens of ms sent at 3x the serving rate: about 15 s on two cores.
@pytest.mark.timeout(300)
def test_overload_3x_newest_first_bounded(ros: RosHarness, spawn_node: Any) -> None:
    """Pairs at ~3x the processing rate for 10 s: no backlog, bounded memory, drops counted."""
    height, width = 96, 128
    # A frame of tens of ms (torch step, 400 iterations): a few-ms frame cannot be outpaced
    # 3x from this process, whose own sending takes a few ms per pair.
    rig = make_rig(ros, spawn_node, 'overload', 'iterations:=400', 'points.enable:=false',
                   'cpu_kernel:=torch')
    rng = np.random.default_rng(17)
    rgb = rng_image(rng, height, width)
    depth = rng.uniform(1.0, 2.0, (height // 4, width // 4)).astype(np.float32)
    for _ in range(3):  # processing time of one frame, measured by the node
        rig.output(rig.send_pair(rgb, depth, fresh_stamp(), info=False))
    solve_s = float(rig.wait_stats(lambda s: int(s['frames_published']) >= 3)
                    ['solve_mean_ms']) / 1e3
    # 4x the mean solve rate: the first frames inflate the mean, so this is at least 3x.
    period = max(solve_s / 4.0, 0.002)
    pid = rig.node.process.pid
    rss0, _ = proc_status(pid)
    dropped0 = rig.count('dropped_busy')
    sent: Dict[Tuple[int, int], float] = {}
    received_at: Dict[Tuple[int, int], float] = {}

    def note(msg: Image) -> None:
        received_at.setdefault((msg.header.stamp.sec, msg.header.stamp.nanosec),
                               time.monotonic())
    ros.node.create_subscription(Image, f'{rig.ns}/depth_dense/image', note, 100)
    end = time.monotonic() + 10.0
    rss_max = rss0
    while time.monotonic() < end:
        stamp = fresh_stamp()
        sent[stamp] = time.monotonic()
        rig.send_pair(rgb, depth, stamp, info=False)
        rss_max = max(rss_max, proc_status(pid)[0])
        time.sleep(period)
    last = max(sent)
    wait_until(lambda: last in received_at, TIMEOUT, message='the newest frame')
    stats = rig.wait_stats(lambda s: int(s['dropped_busy']) > dropped0)
    served = sorted(s for s in received_at if s in sent)
    assert len(served) >= 5
    assert len(served) < len(sent) * 0.8, 'not overloaded: drops expected'
    assert served == sorted(served, key=lambda s: received_at[s])  # newest first, in order
    solve_p95_s = float(stats['solve_p95_ms']) / 1e3
    latencies = [received_at[s] - sent[s] for s in served]
    # Newest first: a frame waits for at most the frame being solved, then is solved itself.
    # A backlog would let the latency grow to seconds over the 10 s run.
    assert max(latencies) < 3.0 * solve_p95_s + 1.0, (max(latencies), solve_p95_s)
    assert int(stats['dropped_busy']) - dropped0 + int(stats['sync.dropped_unpaired']) > 0
    assert rss_max < rss0 * 1.10 + 20_000, f'resident memory {rss0} kB -> max {rss_max} kB'
    rig.assert_alive()


# --- adversarial probes: long solves, huge frames -----------------------------------------
def anon_kb(pid: int) -> int:
    """Private resident memory (RssAnon, kB) of process ``pid``."""
    text = Path(f'/proc/{pid}/status').read_text()
    return int(re.search(r'RssAnon:\s+(\d+)', text).group(1))  # type: ignore[union-attr]


def newest_status(rig: Rig) -> Tuple[Any, str]:
    """(level, message) of this node's newest diagnostic status."""
    for array in reversed(list(rig.diagnostics)):
        for status in array.status:
            if status.name.startswith(f'{rig.ns}/dada_node'):
                return status.level, status.message
    return None, ''


def test_a_long_solve_is_reported_and_a_parameter_change_stops_it(
        ros: RosHarness, spawn_node: Any) -> None:
    """Report a 100000-iteration solve as busy (WARN); setting 1 stops the solve."""
    from diagnostic_msgs.msg import DiagnosticStatus
    rig = make_rig(ros, spawn_node, 'wedge')
    node = f'{rig.ns}/dada_node'
    # the torch step (several times slower than numba) makes this a solve of many seconds
    assert all(r.successful for r in rig.ros.set_parameters(
        node, {'iterations': 100000, 'cpu_kernel': 'torch'}))
    rng = np.random.default_rng(23)
    height, width = 240, 320
    depth = np.ones((height // FACTOR, width // FACTOR), np.float32)
    doomed = rig.send_pair(rng_image(rng, height, width), depth, fresh_stamp())
    busy = rig.wait_stats(lambda s: float(s.get('worker_busy_s', 0)) > 2.5, timeout=60.0)
    wait_until(lambda: newest_status(rig)[0] == DiagnosticStatus.WARN
               and 'busy' in newest_status(rig)[1], 10.0, message='a WARN "busy" status')
    assert int(busy['frames_published']) == 0
    changed = time.monotonic()
    assert rig.ros.set_parameters(node, {'iterations': 1})[0].successful
    rig.wait_stats(lambda s: int(s.get('warnings.solve_cancelled', 0)) == 1, timeout=10.0)
    served = rig.send_pair(rng_image(rng, height, width), depth, fresh_stamp())
    rig.output(served, timeout=20.0)
    assert time.monotonic() - changed < 20.0
    assert not any(m.header.stamp.sec == doomed.stamp.sec for m in rig.out_depth)
    rig.wait_stats(lambda s: float(s['worker_busy_s']) < 1.0
                   and int(s['frames_published']) == 1)
    rig.assert_alive()


# One frame of tens of Mpixel, then the idle release (IDLE_RELEASE_S): about 25 s.
@pytest.mark.timeout(300)
def test_memory_of_a_huge_frame_is_returned(ros: RosHarness, spawn_node: Any) -> None:
    """After one 4000x3000 frame and small ones, the private memory is back near baseline.

    Measured as ``RssAnon`` (the process heap): the Fast DDS shared-memory segments that a
    big message touched stay mapped (``RssShmem``, one fixed-size segment per participant).
    Fast DDS also keeps its payload pools at the largest sample seen (about 85 MB after a
    36 MB message here); the solver buffers (about 380 MB at this size, kept before) are
    released, which test_pipeline checks exactly without DDS.
    """
    rig = make_rig(ros, spawn_node, 'huge', 'points.enable:=false')
    rng = np.random.default_rng(29)
    small = np.ones((H // FACTOR, W // FACTOR), np.float32)
    for _ in range(3):
        rig.output(rig.send_pair(rng_image(rng), small, fresh_stamp()))
    rss0 = anon_kb(rig.node.process.pid)
    big_h, big_w = 3000, 4000
    rgb = rng.integers(0, 256, (big_h, big_w, 3), dtype=np.uint8)
    big = rig.send_pair(rgb, np.full((big_h // FACTOR, big_w // FACTOR), 2.0, np.float32),
                        fresh_stamp())
    del rgb
    rig.output(big, timeout=180.0)
    peak = anon_kb(rig.node.process.pid)
    # Six small frames: the DDS histories (keep last 5, in and out) forget the big one too;
    # then the node is idle long enough to release its buffers and trim the heap.
    for _ in range(6):
        rig.output(rig.send_pair(rng_image(rng), small, fresh_stamp()))
    time.sleep(IDLE_RELEASE_S + 1.5)
    rss1 = anon_kb(rig.node.process.pid)
    assert peak > rss0 + 200_000, (rss0, peak)  # the big frame did use memory
    assert rss1 < rss0 + 150_000, f'RssAnon {rss0} kB -> {peak} kB -> {rss1} kB'
    rig.out_depth.clear()


# --- 6. device faults ---------------------------------------------------------------------
def test_out_of_memory_in_one_frame_is_dropped(ros: RosHarness, spawn_node: Any) -> None:
    """An OOM raised inside the solve (test/faulty_node.py) drops that frame only."""
    rig = make_rig(ros, spawn_node, 'oom', module='faulty_node',
                   extra_env={'DADA_TEST_FAULTS': 'oom@2',
                              'PYTHONPATH': os.pathsep.join([str(REPO / 'test'), str(REPO)])})
    rng = np.random.default_rng(19)
    depth = np.ones((H // FACTOR, W // FACTOR), np.float32)
    first = rig.send_pair(rng_image(rng), depth, fresh_stamp())
    rig.output(first)
    doomed = rig.send_pair(rng_image(rng), depth, fresh_stamp())
    rig.wait_stats(lambda s: int(s.get('errors.out_of_memory', 0)) == 1)
    third = rig.send_pair(rng_image(rng), depth, fresh_stamp())
    rig.output(third)
    assert not any(m.header.stamp.sec == doomed.stamp.sec for m in rig.out_depth)
    stats = rig.wait_stats(lambda s: int(s['frames_published']) >= 2)
    assert int(stats['errors.out_of_memory']) == 1
    out, err = rig.node.output()
    assert '[out_of_memory]' in out + err and 'Traceback' not in out + err


def test_auto_device_falls_back_to_cpu_with_a_log_line(rig: Rig) -> None:
    """Without CUDA, device 'auto' runs on the CPU and says so."""
    import torch
    if torch.cuda.is_available():
        pytest.skip('CUDA is available here: auto picks it')
    assert rig.stats()['device'] == 'cpu'
    assert 'CUDA is not available, using the CPU' in ''.join(rig.node.output())


# --- 8. weights ---------------------------------------------------------------------------
def test_learned_model_with_missing_weights_exits_clearly(spawn_node: Any) -> None:
    """model:=learned weights:=/nonexistent: exit code 1, one clear line, no traceback."""
    node = spawn_node('-r', '__ns:=/dada_robust_weights', '-p', 'model:=learned',
                      '-p', 'weights:=/nonexistent/guide.pt', name='weights')
    assert node.wait(TIMEOUT) == 1
    out, err = node.output()
    assert 'cannot start' in out + err and '/nonexistent/guide.pt' in out + err
    assert 'does not exist' in out + err
    assert 'Traceback' not in out + err


# --- hostile input (issue 23) ---------------------------------------------------------------
def peak_kb(pid: int) -> int:
    """Peak resident memory (VmHWM, kB) of process ``pid``."""
    text = Path(f'/proc/{pid}/status').read_text()
    return int(re.search(r'VmHWM:\s+(\d+)', text).group(1))  # type: ignore[union-attr]


def _stamped(stamp: Tuple[int, int], frame_id: str = 'cam') -> Header:
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = stamp
    return header


def _assert_logged_once_throttled(rig: Rig, kind: str) -> None:
    out, err = rig.node.output()
    assert f'[{kind}]' in out + err, f'no log line for {kind}'
    assert 'Traceback' not in out + err


def test_decompression_bombs_are_refused_before_decoding(ros: RosHarness,
                                                         spawn_node: Any) -> None:
    """A 0.78 MB PNG of 20000x20000 depth and a 12000x12000 RGB PNG: refused, counted.

    The node's peak memory stays within 150 MB (decoding the depth bomb alone takes
    800 MB; the probe saw 3.26 GB), and the next valid compressed pair is served. A
    ``input.max_pixels`` lowered by the user refuses a normal 96x128 image the same way.
    """
    rig = make_rig(ros, spawn_node, 'bomb', inputs='compressed')
    rng = np.random.default_rng(31)
    rgb = rng_image(rng, 96, 128)
    depth_mm = np.full((24, 32), 1500, np.uint16)

    def send_valid() -> Header:
        header = _stamped(fresh_stamp())
        rig.info.publish(camera_info(header, 128, 96))
        rig.rgb.publish(rgb_to_compressed(rgb, 'png', header))
        rig.depth.publish(depth_to_compressed_depth(depth_mm, '16UC1', 'png', header))
        return header

    rig.output(send_valid())
    pid = rig.node.process.pid
    peak0 = peak_kb(pid)
    header = _stamped(fresh_stamp())
    rig.depth.publish(CompressedImage(header=header, format='16UC1; compressedDepth png',
                                      data=pack_config_header() + png_bomb(20000, 20000)))
    rig.rgb.publish(CompressedImage(header=header, format='rgb8; png compressed bgr8',
                                    data=png_bomb(12000, 12000, 8, 2)))
    stats = rig.wait_stats(lambda s: int(s.get('errors.image_too_large', 0)) == 2)
    assert int(stats.get('errors.size_mismatch', 0)) == 0
    # A 16UC1 header with an unknown format enum and NaN parameters: refused, counted.
    valid = depth_to_compressed_depth(depth_mm, '16UC1', 'png', _stamped(fresh_stamp()))
    valid.data = struct.pack('<iff', 7, math.nan, math.nan) + bytes(valid.data)[12:]
    rig.depth.publish(valid)
    rig.wait_stats(lambda s: int(s.get('errors.bad_compressed_header', 0)) == 1)
    _assert_logged_once_throttled(rig, 'bad_compressed_header')
    served = send_valid()
    np.testing.assert_allclose(image_to_depth(rig.output(served)), 1.5, rtol=1e-3)
    assert peak_kb(pid) < peak0 + 150_000, (peak0, peak_kb(pid))
    _assert_logged_once_throttled(rig, 'image_too_large')


def test_the_pixel_bound_is_a_parameter(ros: RosHarness, spawn_node: Any) -> None:
    """``input.max_pixels:=10000`` refuses a 96x128 raw RGB image (12288 pixels), counted."""
    rig = make_rig(ros, spawn_node, 'bound', 'input.max_pixels:=10000')
    rng = np.random.default_rng(37)
    rig.send_pair(rng_image(rng, 96, 128), np.ones((24, 32), np.float32), fresh_stamp())
    rig.wait_stats(lambda s: int(s.get('errors.image_too_large', 0)) == 1)
    served = rig.send_pair(rng_image(rng), np.ones((H // FACTOR, W // FACTOR), np.float32),
                           fresh_stamp())
    rig.output(served)
    _assert_logged_once_throttled(rig, 'image_too_large')


def plane_points(z: float, width: int = W, height: int = H, every: int = 2) -> np.ndarray:
    """Points of a fronto-parallel plane at ``z`` m, one on every ``every``-th pixel of cam."""
    v, u = np.mgrid[0:height:every, 0:width:every].astype(np.float64)
    return np.stack([(u - width / 2) * z / FX, (v - height / 2) * z / FX,
                     np.full(u.shape, z)], axis=-1).reshape(-1, 3)


def test_cloud_plausibility_and_byte_order(ros: RosHarness, spawn_node: Any) -> None:
    """A point 3e5 m away is dropped and counted; a cloud with a lying byte order is refused.

    The far point lands on a pixel no valid point covers, so without the check it would put
    300000 m into depth_dense/image.
    """
    rig = make_rig(ros, spawn_node, 'cloud', inputs='cloud')
    rng = np.random.default_rng(41)

    def send(points: np.ndarray, data_big_endian: bool = False,
             flag_big_endian: Any = None) -> Header:
        header = _stamped(fresh_stamp())
        rig.info.publish(camera_info(header))
        rig.rgb.publish(rgb_to_image(rng_image(rng), header))
        rig.depth.publish(cloud_message(points, data_big_endian, flag_big_endian, header))
        return header

    far = np.array([[0.0, 0.0, 3e5]])  # on pixel (16, 12): odd plane pixels are empty
    far[0, :2] = (1 - W / 2) * 3e5 / FX, (1 - H / 2) * 3e5 / FX
    served = image_to_depth(rig.output(send(np.vstack([plane_points(2.0), far]))))
    assert np.nanmax(served) < 2.5, np.nanmax(served)
    rig.wait_stats(lambda s: int(s.get('warnings.implausible_depth', 0)) == 1
                   and int(s.get('frames_published', 0)) >= 1)
    # Little-endian data flagged big-endian (and the reverse): refused, counted.
    send(plane_points(2.0), data_big_endian=False, flag_big_endian=True)
    send(plane_points(2.0), data_big_endian=True, flag_big_endian=False)
    rig.wait_stats(lambda s: int(s.get('errors.cloud_byte_order', 0)) == 2)
    # Big-endian data flagged honestly is read correctly.
    served = image_to_depth(rig.output(send(plane_points(3.0), data_big_endian=True)))
    np.testing.assert_allclose(np.nanmedian(served), 3.0, rtol=1e-3)
    _assert_logged_once_throttled(rig, 'cloud_byte_order')
    _assert_logged_once_throttled(rig, 'implausible_depth')


def test_registration_plausibility(ros: RosHarness, spawn_node: Any) -> None:
    """Registered depth beyond 1e5 m (a transform 2e5 m away) is made invalid and counted."""
    rig = make_rig(ros, spawn_node, 'register', 'depth.mode:=register',
                   "depth.to_rgb:='[0, 0, 2e5, 0, 0, 0, 1]'")
    depth_info = ros.publisher(CameraInfo, f'{rig.ns}/depth/camera_info', depth=10)
    ros.wait_for_subscribers([depth_info], TIMEOUT)
    rng = np.random.default_rng(43)
    header = _stamped(fresh_stamp())
    depth_header = _stamped((header.stamp.sec, header.stamp.nanosec), 'depth_cam')
    depth_info.publish(camera_info(depth_header))
    rig.info.publish(camera_info(header))
    # both camera_infos in the node first: register needs them when the pair is made (a
    # fixed wait lost this race once in a CI run on the loaded machine)
    rig.wait_stats(lambda s: int(s.get('received_depth_camera_info', 0)) >= 1
                   and int(s.get('received_camera_info', 0)) >= 1)
    rig.rgb.publish(rgb_to_image(rng_image(rng), header))
    rig.depth.publish(array_to_image(np.full((H, W), 2.0, np.float32), '32FC1', depth_header))
    served = image_to_depth(rig.output(header))
    assert not np.isfinite(served).any() or np.nanmax(served) < 1e5
    rig.wait_stats(lambda s: int(s.get('warnings.implausible_depth', 0)) == 1)
    _assert_logged_once_throttled(rig, 'implausible_depth')


def test_weak_spots_are_counted_and_logged(rig: Rig) -> None:
    """Data one byte too long, negative depth, nanosec >= 1e9: each counted and logged.

    The first and the last are refused (``data_too_long``, ``bad_stamp``); negative depth
    is invalid and the frame is served from the rest (``warnings.negative_depth``).
    """
    rng = np.random.default_rng(47)
    before = rig.stats()

    def grown(key: str, by: int) -> Callable[[Dict[str, str]], bool]:
        return lambda s: int(s.get(key, 0)) >= int(before.get(key, 0)) + by

    header = _stamped(fresh_stamp())
    long_rgb = rgb_to_image(rng_image(rng), header)
    long_rgb.data = bytes(long_rgb.data) + b'\x00'
    long_depth = array_to_image(np.ones((H // FACTOR, W // FACTOR), np.float32), '32FC1',
                                header)
    long_depth.data = bytes(long_depth.data) + b'\x00'
    rig.rgb.publish(long_rgb)
    rig.depth.publish(long_depth)
    rig.wait_stats(grown('errors.data_too_long', 2))

    late = _stamped((fresh_stamp()[0], 1_500_000_000))
    rig.rgb.publish(rgb_to_image(rng_image(rng), late))
    rig.depth.publish(array_to_image(np.ones((H // FACTOR, W // FACTOR), np.float32), '32FC1',
                                     late))
    rig.wait_stats(grown('errors.bad_stamp', 2))

    depth = np.full((H // FACTOR, W // FACTOR), 2.0, np.float32)
    depth[0, :] = -2.0
    served = image_to_depth(rig.output(rig.send_pair(rng_image(rng), depth, fresh_stamp())))
    np.testing.assert_allclose(served, 2.0, rtol=1e-3)  # the negatives are not depth
    stats = rig.wait_stats(grown('warnings.negative_depth', 1))
    assert not any(m.header.stamp.nanosec >= 10 ** 9 for m in rig.out_depth)
    assert int(stats['errors_total']) == int(before['errors_total']) + 4
    for kind in ('data_too_long', 'bad_stamp', 'negative_depth'):
        _assert_logged_once_throttled(rig, kind)


# --- fuzzing with hypothesis: hostile families through a live node --------------------------
FUZZ_SETTINGS = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])
_GROUPS = {'error': 'errors', 'warning': 'warnings'}


@pytest.fixture(scope='module')
def compressed_rig(ros: RosHarness, module_node_factory: Any) -> Rig:
    """Start a node reading image_transport compressed RGB and compressedDepth."""
    return make_rig(ros, module_node_factory, 'fuzz_compressed', inputs='compressed')


@pytest.fixture(scope='module')
def cloud_rig(ros: RosHarness, module_node_factory: Any) -> Rig:
    """Start a node reading a PointCloud2 in place of depth images."""
    return make_rig(ros, module_node_factory, 'fuzz_cloud', inputs='cloud')


def send_cases(rig: Rig, cases: List[Case]) -> None:
    """Publish hostile cases (paced) and check each is counted once, as its kind says."""
    before = rig.stats()
    expected: Dict[Tuple[str, str], int] = collections.Counter()
    for topic, build, (level, kind) in cases:
        (rig.rgb if topic == 'rgb' else rig.depth).publish(build(_stamped(fresh_stamp())))
        expected[(level, kind)] += 1
        time.sleep(0.03)  # the node's reliable input keeps 5 messages per topic

    def key(level: str, kind: str) -> str:
        return f'{_GROUPS[level]}.{kind}'

    def counted(stats: Dict[str, str]) -> bool:
        return all(int(stats.get(key(*item), 0)) >= int(before.get(key(*item), 0)) + number
                   for item, number in expected.items())
    stats = rig.wait_stats(counted, timeout=30.0)
    for (level, kind), number in expected.items():
        grown = int(stats.get(key(level, kind), 0)) - int(before.get(key(level, kind), 0))
        assert grown == number, (kind, grown, number)
    errors = sum(number for (level, _), number in expected.items() if level == 'error')
    assert int(stats['errors_total']) - int(before['errors_total']) == errors, stats


@FUZZ_SETTINGS
@given(cases=st.lists(raw_image_cases(), min_size=1, max_size=6))
def test_fuzz_raw_hostile_families(rig: Rig, cases: List[Case]) -> None:
    """Data too long, huge declared sizes, bad stamps, negative and far depth: each counted."""
    send_cases(rig, cases)


@FUZZ_SETTINGS
@given(cases=st.lists(compressed_cases(), min_size=1, max_size=6))
def test_fuzz_compressed_hostile_families(compressed_rig: Rig, cases: List[Case]) -> None:
    """PNG/JPEG/RVL declaring huge sizes, compressedDepth headers no publisher writes."""
    send_cases(compressed_rig, cases)


@FUZZ_SETTINGS
@given(cases=st.lists(cloud_cases(), min_size=1, max_size=6))
def test_fuzz_cloud_hostile_families(cloud_rig: Rig, cases: List[Case]) -> None:
    """Clouds with a lying byte-order flag, far points or a bad stamp: each counted."""
    send_cases(cloud_rig, cases)
    cloud_rig.assert_alive()


def test_memory_after_a_10_million_point_cloud(ros: RosHarness, spawn_node: Any,
                                               tmp_path: Path) -> None:
    """After a 10-million-point cloud (120 MB) the node keeps only what the middleware keeps.

    A bare rclpy subscriber (test/bare_subscriber.py) on the same topic measures that: it
    keeps about one message (117 MB of RssAnon here) after the big cloud, through later
    small ones and a heap trim (rclpy / Fast DDS keep their buffers at the largest sample
    seen). The node's own share (the cloud's points, the projection's temporaries, freed
    heap) is released by the idle release (:data:`dada_ros.ros.worker.IDLE_RELEASE_S`).
    The cloud is projected in chunks, so the peak stays within 900 MB above the baseline
    (it was 1.6 GB).
    """
    rig = make_rig(ros, spawn_node, 'bigcloud', 'points.enable:=false', inputs='cloud')
    report = tmp_path / 'bare.out'
    with open(report, 'w') as out:
        bare = subprocess.Popen([sys.executable, str(REPO / 'test' / 'bare_subscriber.py'),
                                 f'{rig.ns}/cloud'], env=ros_env(), stdout=out)
    rng = np.random.default_rng(53)

    def bare_kb(count: int) -> int:
        def line() -> str:
            lines = report.read_text().split('\n')
            return lines[count - 1] if len(lines) > count else ''
        return int(wait_until(line, TIMEOUT, message=f'bare subscriber message {count}')
                   .split()[2])

    def send(count: int) -> None:
        header = _stamped(fresh_stamp())
        rig.info.publish(camera_info(header))
        rig.rgb.publish(rgb_to_image(rng_image(rng), header))
        points = np.column_stack([rng.uniform(-1, 1, count), rng.uniform(-1, 1, count),
                                  rng.uniform(2, 3, count)])
        rig.depth.publish(cloud_message(points, header=header))
        rig.output(header, timeout=120.0)

    try:
        wait_until(lambda: rig.ros.node.count_subscribers(f'{rig.ns}/cloud') >= 2, TIMEOUT,
                   message='the bare subscriber')
        pid = rig.node.process.pid
        for _ in range(3):
            send(1000)
        node0, bare0 = anon_kb(pid), bare_kb(3)
        send(10_000_000)
        for _ in range(6):
            send(1000)
        time.sleep(IDLE_RELEASE_S + 1.5)
        node1, bare1 = anon_kb(pid), bare_kb(10)
    finally:
        bare.terminate()
        try:
            bare.wait(30.0)
        except subprocess.TimeoutExpired:  # seen once in CI: its exit is not what is measured
            bare.kill()
            bare.wait(10.0)
    kept_by_middleware = bare1 - bare0
    assert kept_by_middleware > 60_000  # the measurement sees the retained buffers
    assert node1 - node0 < kept_by_middleware + 40_000, (node0, node1, bare0, bare1)
    assert peak_kb(pid) - node0 < 900_000, (node0, peak_kb(pid))
