# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Core ``DepthUpsampler.up`` time versus ``dada_node`` end-to-end latency, same inputs.

The core call is timed in this process (alternating with the node frames, so both see the
same machine load); the node runs in a second process and receives
real messages (reliable QoS); the end-to-end time is from just before publishing the RGB,
depth and camera_info messages to the arrival of both ``depth_dense/image`` and ``points``
here (frames are sent one at a time, so nothing queues). The node's own latency (mean /
p95 from ``/diagnostics``) is printed too. Issue 15 target: node e2e <= 1.2x the core call at
640x480, factor 8.

Run (quiet machine, takes about a minute at the defaults)::

    .venv/bin/python benchmarks/node_latency.py --frames 20
"""

from __future__ import annotations

import argparse
from pathlib import Path
import re
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'test'))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ros_helpers import (diagnostics_values, isolate_network, NodeProcess,  # noqa: E402
                         ros_env, RosHarness)


def summary(values: List[float]) -> Tuple[float, float]:
    """Return (mean, p95) of ``values`` in milliseconds (given in seconds)."""
    array = np.asarray(values) * 1e3
    return float(array.mean()), float(np.percentile(array, 95))


#: The node's per-frame debug line (see ``DadaEngine._process``).
FRAME_LINE = re.compile(r'frame (\d+)\.\d+: \d+x\d+, latency ([\d.]+) ms = wait ([\d.]+) '
                        r'\+ solve ([\d.]+) \+ outputs ([\d.]+) ms')


def node_frames(log: str, first_stamp: int) -> Dict[str, List[float]]:
    """Per-frame in-node times (s) from the node's debug log, frames from ``first_stamp`` on."""
    columns: Dict[str, List[float]] = {'latency': [], 'wait': [], 'solve': [], 'outputs': []}
    for match in FRAME_LINE.finditer(log):
        if int(match.group(1)) >= first_stamp:
            for name, value in zip(columns, match.groups()[1:]):
                columns[name].append(float(value) / 1e3)
    return columns


def interleaved(rgb: np.ndarray, depth: np.ndarray, iterations: int, model: str,
                frames: int, device: str = 'cpu'
                ) -> Tuple[List[float], List[float], Dict[str, List[float]]]:
    """Alternate one core call here and one node frame; return both times and diagnostics.

    Alternating (never concurrently) exposes both measurements to the same machine load.
    """
    from dada_ros.core.upsampler import DepthUpsampler
    upsampler = DepthUpsampler(iterations=iterations, device=device, model=model)
    for _ in range(2):
        upsampler.up(rgb, depth)
    core: List[float] = []
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2
    from std_msgs.msg import Header

    from dada_ros.msgs.conversions import array_to_image, rgb_to_image

    ns = '/dada_latency'
    logs = Path(tempfile.mkdtemp(prefix='dada_latency_'))
    node = NodeProcess(logs, ['-r', f'__ns:={ns}', '--log-level',
                              f'{ns.strip("/")}.dada_node:=debug',
                              '-p', f'iterations:={iterations}', '-p', f'model:={model}',
                              '-p', 'qos.reliable_input:=true', '-p', f'device:={device}'],
                       name='latency')
    ros = RosHarness('dada_latency_bench')
    try:
        pubs = [ros.publisher(Image, f'{ns}/rgb/image'), ros.publisher(Image, f'{ns}/depth/image'),
                ros.publisher(CameraInfo, f'{ns}/rgb/camera_info')]
        arrived: Dict[Tuple[str, int], float] = {}
        both = threading.Event()  # set when both outputs of the awaited frame are in

        def recorder(topic: str) -> Callable[[Any], None]:
            def record(msg: Any) -> None:
                key = msg.header.stamp.sec
                arrived.setdefault((topic, key), time.monotonic())
                if ('points', key) in arrived and ('depth_dense/image', key) in arrived:
                    both.set()
            return record

        for topic, kind in (('depth_dense/image', Image), ('points', PointCloud2)):
            ros.node.create_subscription(kind, f'{ns}/{topic}', recorder(topic), 10)
        diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
        ros.wait_for_subscribers(pubs, 120.0)
        height, width = rgb.shape[:2]
        info = CameraInfo(width=width, height=height)
        info.k = [525.0, 0.0, width / 2, 0.0, 525.0, height / 2, 0.0, 0.0, 1.0]
        times = []
        for index in range(frames + 1):  # the first frame is not counted
            if index:
                begin = time.perf_counter()
                upsampler.up(rgb, depth)
                core.append(time.perf_counter() - begin)
            header = Header(frame_id='cam')
            header.stamp.sec = 100 + index
            rgb_msg, depth_msg = rgb_to_image(rgb, header), array_to_image(depth, '32FC1', header)
            info.header = header
            both.clear()
            start = time.monotonic()
            pubs[2].publish(info)
            pubs[0].publish(rgb_msg)
            pubs[1].publish(depth_msg)
            key = header.stamp.sec
            # Block on an event, not a polling loop: the client must not steal the
            # node's CPU while it solves (2 shared cores).
            if not both.wait(120.0):
                raise AssertionError('timed out waiting for the node outputs')
            if index:
                times.append(max(arrived[('points', key)],
                                 arrived[('depth_dense/image', key)]) - start)
        time.sleep(1.5)
        stats: Dict[str, str] = {}
        for array in diagnostics:
            stats = diagnostics_values(array, f'{ns}/dada_node') or stats
        if int(stats.get('frames_published', 0)) < frames + 1:
            raise AssertionError(f'diagnostics report {stats.get("frames_published")} frames')
    finally:
        node.close()
        ros.close()
    in_node = node_frames(node.stderr_path.read_text(errors='replace'), 101)
    if len(in_node['latency']) != frames:
        raise AssertionError(f'{len(in_node["latency"])} per-frame log lines, expected {frames}')
    return core, times, in_node


def main() -> None:
    """Measure and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=20)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--factor', type=int, default=8)
    parser.add_argument('--iterations', type=int, default=96)
    parser.add_argument('--model', default='rgb', choices=('rgb', 'learned'))
    parser.add_argument('--device', default='cpu',
                        help='device of the node and of the core call')
    args = parser.parse_args()
    isolate_network()
    ros_env()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    depth = rng.uniform(1.0, 4.0, (args.height // args.factor,
                                   args.width // args.factor)).astype(np.float32)
    core_list, e2e_list, in_node = interleaved(rgb, depth, args.iterations, args.model,
                                               args.frames, args.device)
    core = summary(core_list)
    print(f'{args.width}x{args.height} factor {args.factor}, model {args.model}, iterations '
          f'{args.iterations}, device {args.device}, {args.frames} frames (the first, warm-up '
          'frame not counted)')
    print('| | mean ms | p95 ms | mean / core mean |')
    print('|---|---|---|---|')
    rows = [('core `DepthUpsampler.up` (this process)', core_list),
            ('node: message in -> outputs published (node log)', in_node['latency']),
            ('  of which: conversion, pairing, hand-over', in_node['wait']),
            ('  of which: `up()` in the node', in_node['solve']),
            ('  of which: building + publishing depth, camera_info, cloud', in_node['outputs']),
            ('client: publish -> depth and points received', e2e_list)]
    for label, values in rows:
        mean, p95 = summary(values)
        print(f'| {label} | {mean:.1f} | {p95:.1f} | {mean / core[0]:.2f} |')
    print('targets: node end-to-end <= 1.2x the core call (issue 15); node message in -> '
          'outputs published <= 33 ms at 1280x720 x8 (issue 21)')


if __name__ == '__main__':
    main()
