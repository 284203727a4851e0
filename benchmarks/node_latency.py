# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Core ``DepthUpsampler.up`` time versus ``dada_node`` end-to-end latency, same inputs.

The core call is timed in this process (alternating with the node frames, so both see the
same machine load); the node runs in a second process and receives
real messages (reliable QoS); the end-to-end time is from just before publishing the RGB,
depth and camera_info messages to the arrival of both ``depth_dense/image`` and ``points``
here (frames are sent one at a time, so nothing queues). The node's own latency (mean /
p95 from ``/diagnostics``) is printed too. Issue target: node e2e <= 1.3x the core call at
640x480, factor 8.

Run (quiet machine, takes about a minute at the defaults)::

    .venv/bin/python benchmarks/node_latency.py --frames 20
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'test'))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ros_helpers import (diagnostics_values, isolate_network, NodeProcess,  # noqa: E402
                         ros_env, RosHarness, wait_until)


def summary(values: List[float]) -> Tuple[float, float]:
    """Return (mean, p95) of ``values`` in milliseconds (given in seconds)."""
    array = np.asarray(values) * 1e3
    return float(array.mean()), float(np.percentile(array, 95))


def interleaved(rgb: np.ndarray, depth: np.ndarray, iterations: int, model: str,
                frames: int) -> Tuple[List[float], List[float], Dict[str, str]]:
    """Alternate one core call here and one node frame; return both times and diagnostics.

    Alternating (never concurrently) exposes both measurements to the same machine load.
    """
    from dada_ros.core.upsampler import DepthUpsampler
    upsampler = DepthUpsampler(iterations=iterations, device='cpu', model=model)
    for _ in range(2):
        upsampler.up(rgb, depth)
    core: List[float] = []
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2
    from std_msgs.msg import Header

    from dada_ros.conversions import array_to_image, rgb_to_image

    ns = '/dada_latency'
    logs = Path(tempfile.mkdtemp(prefix='dada_latency_'))
    node = NodeProcess(logs, ['-r', f'__ns:={ns}', '-p', f'iterations:={iterations}',
                              '-p', f'model:={model}',
                              '-p', 'qos.reliable_input:=true', '-p', 'device:=cpu'],
                       name='latency')
    ros = RosHarness('dada_latency_bench')
    try:
        pubs = [ros.publisher(Image, f'{ns}/rgb/image'), ros.publisher(Image, f'{ns}/depth/image'),
                ros.publisher(CameraInfo, f'{ns}/rgb/camera_info')]
        arrived: Dict[Tuple[str, int], float] = {}

        def recorder(topic: str) -> Callable[[Any], None]:
            def record(msg: Any) -> None:
                arrived.setdefault((topic, msg.header.stamp.sec), time.monotonic())
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
            start = time.monotonic()
            pubs[2].publish(info)
            pubs[0].publish(rgb_msg)
            pubs[1].publish(depth_msg)
            key = header.stamp.sec
            wait_until(lambda: ('points', key) in arrived and
                       ('depth_dense/image', key) in arrived, 120.0, interval=0.001,
                       message='node outputs')
            if index:
                times.append(max(arrived[('points', key)],
                                 arrived[('depth_dense/image', key)]) - start)
        time.sleep(1.5)
        stats: Dict[str, str] = {}
        for array in diagnostics:
            stats = diagnostics_values(array, f'{ns}/dada_node') or stats
        return core, times, stats
    finally:
        node.close()
        ros.close()


def main() -> None:
    """Measure and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=20)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--factor', type=int, default=8)
    parser.add_argument('--iterations', type=int, default=96)
    parser.add_argument('--model', default='rgb', choices=('rgb', 'learned'))
    args = parser.parse_args()
    isolate_network()
    ros_env()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8)
    depth = rng.uniform(1.0, 4.0, (args.height // args.factor,
                                   args.width // args.factor)).astype(np.float32)
    core_list, e2e_list, stats = interleaved(rgb, depth, args.iterations, args.model, args.frames)
    core, e2e = summary(core_list), summary(e2e_list)
    print(f'{args.width}x{args.height} factor {args.factor}, iterations {args.iterations}, '
          f'{args.frames} frames')
    print(f'core DepthUpsampler.up : mean {core[0]:8.1f} ms  p95 {core[1]:8.1f} ms')
    print(f'node end-to-end        : mean {e2e[0]:8.1f} ms  p95 {e2e[1]:8.1f} ms  '
          f'(ratio of means {e2e[0] / core[0]:.2f}, target <= 1.3)')
    print(f'node diagnostics       : latency mean {stats.get("latency_mean_ms")} ms '
          f'p95 {stats.get("latency_p95_ms")} ms, solve mean {stats.get("solve_mean_ms")} ms')


if __name__ == '__main__':
    main()
