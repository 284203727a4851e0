# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Long robustness runs of ``dada_node`` (issue 7): fuzz, overload and soak.

The short versions run in CI (``test/test_robustness.py``); this script runs them at full
length on a node in a second process and prints Markdown lines for docs/benchmarks.md::

    .venv/bin/python benchmarks/node_stress.py fuzz --messages 10000
    .venv/bin/python benchmarks/node_stress.py overload --seconds 60
    .venv/bin/python benchmarks/node_stress.py soak --frames 5000
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'test'))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ros_helpers import isolate_network, NodeProcess, ros_env, RosHarness  # noqa: E402

isolate_network()
ros_env()

import test_robustness as tr  # noqa: E402


def factory(logs: Path) -> Any:
    """Return a ``spawn_node``-like factory writing logs under ``logs``."""
    processes: List[NodeProcess] = []

    def spawn(*args: str, name: str = 'node', extra_env: Any = None) -> NodeProcess:
        process = NodeProcess(logs, args, name=name, extra_env=extra_env)
        processes.append(process)
        return process
    spawn.processes = processes  # type: ignore[attr-defined]
    return spawn


def fuzz(ros: RosHarness, spawn: Any, messages: int) -> None:
    """Paced malformed messages of every kind, then one valid pair."""
    rig = tr.make_rig(ros, spawn, 'fuzz')
    rng = np.random.default_rng(1)
    sent: Dict[str, int] = collections.Counter()
    start = time.monotonic()
    next_time = start
    for index in range(messages):
        if index % 10 == 9:
            publisher, msg, kind = rig.info, tr.malformed_camera_info(rng), 'bad_camera_info'
        else:
            kind = tr.MESSAGE_KINDS[int(rng.integers(0, len(tr.MESSAGE_KINDS)))]
            depth_topic = bool(rng.integers(0, 2))
            publisher = rig.depth if depth_topic else rig.rgb
            msg = tr.malformed_image(rng, kind, depth_topic)
        sent[kind] += 1
        next_time += tr.PACE_S
        delay = next_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        publisher.publish(msg)
    time.sleep(2.0)
    stats = rig.wait_stats(lambda s: True)
    received = sum(int(stats.get(f'received_{t}', 0)) for t in ('rgb', 'depth', 'camera_info'))
    counted = {k: int(stats.get(f'errors.{k}', 0)) for k in sent}
    header = rig.send_pair(tr.rng_image(rng), np.full((tr.H // 4, tr.W // 4), 1.5, np.float32),
                           tr.fresh_stamp())
    value = float(np.nanmean(tr.image_to_depth(rig.output(header))))
    out, err = rig.node.output()
    print(f'| fuzz | {messages} malformed messages in {time.monotonic() - start:.0f} s, '
          f'{received} received by the node, {sum(counted.values())} rejections counted '
          f'({", ".join(f"{k} {v}" for k, v in sorted(counted.items()))}); node alive: '
          f'{rig.node.alive()}, next valid pair served (mean {value:.3f} m for 1.5 m), '
          f'log lines {sum((out + err).count(f"[{k}]") for k in sent)} |')


def overload(ros: RosHarness, spawn: Any, seconds: float) -> None:
    """Pairs at 3x the processing rate; newest first, latency and memory bounded."""
    height, width = 240, 320
    rig = tr.make_rig(ros, spawn, 'overload', 'iterations:=32', 'points.enable:=true')
    rng = np.random.default_rng(2)
    rgb = tr.rng_image(rng, height, width)
    depth = rng.uniform(1.0, 2.0, (height // 4, width // 4)).astype(np.float32)
    round_trips = []
    for _ in range(8):  # processing time: median round trip of one frame at a time
        begin = time.monotonic()
        rig.output(rig.send_pair(rgb, depth, tr.fresh_stamp()))
        round_trips.append(time.monotonic() - begin)
    solve = 1e3 * float(np.median(round_trips[2:]))
    period = solve / 3e3
    pid = rig.node.process.pid
    rss0, threads0 = tr.proc_status(pid)
    sent: Dict[Tuple[int, int], float] = {}
    got: Dict[Tuple[int, int], float] = {}

    def record(msg: Any) -> None:
        got.setdefault((msg.header.stamp.sec, msg.header.stamp.nanosec), time.monotonic())

    ros.node.create_subscription(tr.Image, f'{rig.ns}/depth_dense/image', record, 100)
    before = rig.stats()
    rss_max = rss0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stamp = tr.fresh_stamp()
        sent[stamp] = time.monotonic()
        rig.send_pair(rgb, depth, stamp)
        rss_max = max(rss_max, tr.proc_status(pid)[0])
        time.sleep(period)
    time.sleep(3 * solve / 1e3 + 1.0)
    stats = rig.wait_stats(lambda s: True)
    rss1, threads1 = tr.proc_status(pid)
    served = [s for s in sent if s in got]
    latency = np.array([got[s] - sent[s] for s in served]) * 1e3
    half = len(served) // 2
    print(f'| overload | {seconds:.0f} s at {1 / period:.1f} pairs/s (3x of {1e3 / solve:.1f} '
          f'frames/s, {width}x{height}): {len(sent)} sent, {len(served)} served, dropped_busy '
          f'{int(stats["dropped_busy"]) - int(before["dropped_busy"])}; latency of served '
          f'frames mean {latency.mean():.0f} ms, p95 {np.percentile(latency, 95):.0f} ms, '
          f'max {latency.max():.0f} ms (first half p95 '
          f'{np.percentile(latency[:half], 95):.0f} ms, second half '
          f'{np.percentile(latency[half:], 95):.0f} ms); frame time {solve:.0f} ms, node '
          f'latency p95 {stats["latency_p95_ms"]} ms; RSS '
          f'{rss0 / 1024:.0f} -> max {rss_max / 1024:.0f} -> end {rss1 / 1024:.0f} MiB; '
          f'threads {threads0} -> {threads1} |')


def soak(ros: RosHarness, spawn: Any, frames: int) -> None:
    """Frames one after the other; memory and thread counts after warm-up and at the end."""
    rig = tr.make_rig(ros, spawn, 'soak')
    rng = np.random.default_rng(3)
    images = [tr.rng_image(rng) for _ in range(8)]
    depth = np.ones((tr.H // 4, tr.W // 4), np.float32)
    pid = rig.node.process.pid
    warm = max(1, frames // 10)
    start = time.monotonic()
    rss0 = threads0 = 0
    for index in range(frames):
        rig.output(rig.send_pair(images[index % 8], depth, tr.fresh_stamp(),
                                 info=index % 10 == 0))
        if index == warm - 1:
            rss0, threads0 = tr.proc_status(pid)
    rss1, threads1 = tr.proc_status(pid)
    print(f'| soak | {frames} frames ({tr.W}x{tr.H}) in {time.monotonic() - start:.0f} s: RSS '
          f'after {warm} frames {rss0 / 1024:.1f} MiB, at the end {rss1 / 1024:.1f} MiB '
          f'({100 * (rss1 - rss0) / rss0:+.2f} %), threads {threads0} -> {threads1} |')


def main() -> None:
    """Run one of the stress modes."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('mode', choices=('fuzz', 'overload', 'soak'))
    parser.add_argument('--messages', type=int, default=10_000)
    parser.add_argument('--seconds', type=float, default=60.0)
    parser.add_argument('--frames', type=int, default=5000)
    args = parser.parse_args()
    spawn = factory(Path(tempfile.mkdtemp(prefix='dada_stress_')))
    ros = RosHarness('dada_stress')
    try:
        if args.mode == 'fuzz':
            fuzz(ros, spawn, args.messages)
        elif args.mode == 'overload':
            overload(ros, spawn, args.seconds)
        else:
            soak(ros, spawn, args.frames)
    finally:
        for process in spawn.processes:
            process.close()
        ros.close()


if __name__ == '__main__':
    main()
