# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Replay test: a sample bag played into a live ``dada_node`` equals ``dada_process_bag``.

``dada_play_bag`` (a third process) publishes the bag's RGB, depth and camera_info with the
recorded timing and reliable QoS into ``dada_node`` (a second process, reliable input);
this process records the node's outputs and compares them, frame by frame, with what
``dada_process_bag`` writes for the same bag and parameters: the same stamps and
frame_ids, dense depth equal up to float tolerance, identical camera_info, equal points.
Drops (pairs the busy node skipped) and the node's latency are reported from its
diagnostics; every pair must be accounted for (published or counted as dropped). Both hosts
take one output road (:meth:`dada_ros.pipeline.FramePipeline.emit`): the node publishes the
same output topics the bag tool writes, and its ``published.<topic>`` counts in
``/diagnostics`` equal the messages received, as the bag tool's equal those written.
"""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
import time
from typing import Any, Dict, List, Tuple

from dada_ros.msgs.clouds import read_points
from dada_ros.msgs.conversions import image_to_depth
from dada_ros.tools import process_bag as pb
from dada_ros.tools.bag_io import BagReader, deserialize, stamp_ns
from dada_ros.tools.make_sample_bag import make_sample_bag, SampleBagOptions
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from ros_helpers import diagnostics_values, REPO, ros_env, RosHarness, wait_until
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

FRAMES = 10
OPTIONS = SampleBagOptions(duration=FRAMES / 5.0, rate=5.0, width=320, height=240, factor=8)
NODE_PARAMS = {'iterations': 32, 'device': 'cpu', 'qos.reliable_input': True, 'model': 'rgb'}
TIMEOUT = 60.0
INPUTS = ('/rgb/image', '/depth/image', '/rgb/camera_info')


def _by_stamp(messages: List[Any]) -> Dict[int, Any]:
    return {stamp_ns(m.header): m for m in messages}


def _offline(bag: Path, out: Path) -> Tuple[pb.Report, Dict[str, Dict[int, Any]]]:
    """Run dada_process_bag's pipeline; return its report and its outputs per topic, stamp."""
    report = pb.process_bag(bag, out, pb.resolve_parameters({}, NODE_PARAMS))
    assert report.frames == FRAMES and not report.bad
    classes = {'/depth_dense/image': Image, '/depth_dense/camera_info': CameraInfo,
               '/points': PointCloud2}
    result: Dict[str, Dict[int, Any]] = {topic: {} for topic in classes}
    with BagReader(out) as reader:
        for raw in reader.messages(list(classes)):
            msg = deserialize(raw.data, classes[raw.topic])
            result[raw.topic][stamp_ns(msg.header)] = msg
    assert {topic: len(messages) for topic, messages in result.items()} == {
        f'/{topic}': count for topic, count in report.emitted.items()}
    return report, result


def test_replayed_bag_through_node_matches_offline_processing(
        tmp_path: Path, ros: RosHarness, spawn_node: Any, unique_namespace: str) -> None:
    """Live node output (played with recorded timing) == dada_process_bag output."""
    bag = tmp_path / 'sample'
    make_sample_bag(bag, OPTIONS)
    ns = unique_namespace
    ros_args = ['-r', f'__ns:={ns}', '-p', 'diagnostics.period:=0.5']
    for name, value in NODE_PARAMS.items():
        ros_args += ['-p', f'{name}:={str(value).lower() if isinstance(value, bool) else value}']
    node = spawn_node(*ros_args, name='dada_replay')
    out_depth = ros.collect(Image, f'{ns}/depth_dense/image')
    out_info = ros.collect(CameraInfo, f'{ns}/depth_dense/camera_info')
    out_points = ros.collect(PointCloud2, f'{ns}/points')
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    ros.wait_for_publisher(f'{ns}/points', TIMEOUT)
    for topic in INPUTS:
        wait_until(lambda: ros.node.count_subscribers(f'{ns}{topic}') > 0, TIMEOUT,
                   message=f'the node subscribing {ns}{topic}')

    command = [sys.executable, '-m', 'dada_ros.tools.play_bag', str(bag), '--topics', *INPUTS,
               '--wait-for-subscribers', '20']
    for topic in INPUTS:
        command += ['--remap', f'{topic}:={ns}{topic}']
    started = time.monotonic()
    player = subprocess.run(command, cwd=REPO, env=ros_env(), capture_output=True, text=True,
                            timeout=TIMEOUT)
    play_seconds = time.monotonic() - started
    assert player.returncode == 0, player.stderr
    assert f'published {3 * FRAMES} messages' in player.stdout, player.stdout

    def stats() -> Dict[str, str]:
        for array in reversed(list(diagnostics)):
            values = diagnostics_values(array, f'{ns}/dada_node')
            if values is not None:
                return values
        return {}

    def settled() -> Dict[str, str]:
        assert node.alive(), f'node died: {node.output()[1][-3000:]}'
        values = stats()
        if not values or int(values['sync.paired']) < FRAMES:
            return {}
        done = int(values['frames_published']) + int(values['dropped_busy'])
        # the counts of emit and of frames_published are read one after the other
        counted = int(values.get('published.depth_dense/image', -1))
        return values if done >= FRAMES and len(out_depth) >= int(values['frames_published']) \
            and counted == int(values['frames_published']) else {}

    final = wait_until(settled, TIMEOUT, message='the node to finish the replayed frames')
    time.sleep(0.5)  # let the last camera_info / points arrive after their depth image
    published, dropped = int(final['frames_published']), int(final['dropped_busy'])
    print(f'\nreplay of {FRAMES} frames at {OPTIONS.rate:g} Hz ({play_seconds:.1f} s incl. '
          f'discovery): node published {published}, dropped as busy {dropped}, latency mean '
          f'{final["latency_mean_ms"]} ms, p95 {final["latency_p95_ms"]} ms')
    # Reliable transport: every pair reached the node; each was published or counted.
    assert int(final['sync.paired']) == FRAMES
    assert int(final['sync.dropped_unpaired']) == 0
    assert published + dropped == FRAMES and published >= 1
    assert int(final['errors_total']) == 0, final
    assert len(out_depth) == len(out_info) == len(out_points) == published
    live_counts = {key[len('published.'):]: int(value) for key, value in final.items()
                   if key.startswith('published.')}
    assert live_counts == {'depth_dense/image': published,
                           'depth_dense/camera_info': published, 'points': published}

    report, offline = _offline(bag, tmp_path / 'offline')
    # One road: the node publishes the topics the bag tool writes, counted the same way.
    assert set(live_counts) == set(report.emitted)
    with BagReader(bag) as reader:
        rgb_stamps = [stamp_ns(deserialize(raw.data, Image).header)
                      for raw in reader.messages(['/rgb/image'])]
    assert sorted(offline['/depth_dense/image']) == rgb_stamps
    live_depth, live_info, live_points = (_by_stamp(out_depth), _by_stamp(out_info),
                                          _by_stamp(out_points))
    assert set(live_depth) == set(live_info) == set(live_points)
    assert set(live_depth) <= set(rgb_stamps)
    for stamp, msg in live_depth.items():
        expected = offline['/depth_dense/image'][stamp]
        assert msg.header.frame_id == expected.header.frame_id == OPTIONS.frame_id
        assert (msg.encoding, msg.height, msg.width) == ('32FC1', OPTIONS.height,
                                                         OPTIONS.width)
        np.testing.assert_allclose(image_to_depth(msg), image_to_depth(expected),
                                   rtol=1e-5, atol=1e-5)
        info, expected_info = live_info[stamp], offline['/depth_dense/camera_info'][stamp]
        assert info.header.frame_id == expected_info.header.frame_id
        assert (list(info.k), list(info.p), list(info.d), info.width, info.height) == (
            list(expected_info.k), list(expected_info.p), list(expected_info.d),
            expected_info.width, expected_info.height)
        points = read_points(live_points[stamp])
        expected_points = read_points(offline['/points'][stamp])
        assert live_points[stamp].header.frame_id == OPTIONS.frame_id
        for name in ('x', 'y', 'z'):
            np.testing.assert_allclose(points[name], expected_points[name], rtol=1e-5,
                                       atol=1e-5)
        np.testing.assert_array_equal(points['rgb'], expected_points['rgb'])
