# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Several cameras from one YAML: the launch file statically, two camera nodes live.

``launch_ros`` is not installable here, so the live test starts two real ``dada_node``
processes with exactly what :func:`dada_ros.ros.cameras.camera_nodes` hands the launch file's
``Node`` actions (namespace, parameters as a ``/**`` file, remappings).
"""

from __future__ import annotations

import ast
from pathlib import Path
import time
from typing import Any, Dict, List

from dada_ros.core.params import BY_NAME
from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
from dada_ros.ros.cameras import camera_nodes, CameraNode
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from ros_helpers import diagnostics_values, wait_until
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / 'launch' / 'dada_cameras.launch.py'
CAMERAS = REPO / 'config' / 'cameras.yaml'
PARAMS = REPO / 'config' / 'dada.yaml'
TIMEOUT = 90.0


def test_launch_file_makes_one_namespaced_node_per_camera() -> None:
    """The launch file builds its Node actions from camera_nodes(): name, namespace, params."""
    tree = ast.parse(LAUNCH.read_text(), str(LAUNCH))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]

    def called(call: ast.Call) -> str:
        return getattr(call.func, 'id', getattr(call.func, 'attr', ''))

    nodes = [c for c in calls if called(c) == 'Node']
    assert len(nodes) == 1
    keywords = {k.arg: ast.unparse(k.value) for k in nodes[0].keywords}
    assert keywords['namespace'] == 'camera.namespace'
    assert keywords['name'] == 'camera.name'
    assert keywords['parameters'] == '[camera.parameters]'
    assert keywords['remappings'] == 'camera.remappings'
    comprehension = next(n for n in ast.walk(tree) if isinstance(n, ast.ListComp))
    assert 'camera_nodes' in ast.unparse(comprehension.generators[0].iter)
    arguments: Dict[str, str] = {}
    for call in (c for c in calls if called(c) == 'DeclareLaunchArgument'):
        description = {k.arg: k.value for k in call.keywords}['description']
        arguments[ast.literal_eval(call.args[0])] = ast.literal_eval(description)
    assert set(arguments) == {'cameras_file', 'params_file'}
    assert all(len(text) > 20 for text in arguments.values())
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert {'cameras.yaml', 'dada.yaml', 'dada_node', 'dada_ros'} <= strings


def test_packaged_cameras_file() -> None:
    """config/cameras.yaml: two cameras, remapped inputs, shared parameters plus overrides."""
    front, rear = camera_nodes(CAMERAS, PARAMS)
    assert (front.namespace, rear.namespace) == ('/front', '/rear')
    assert dict(front.remappings) == {'rgb/image': '/front/color/image_raw',
                                      'rgb/camera_info': '/front/color/camera_info',
                                      'depth/image': '/front/aligned_depth_to_color/image_raw'}
    assert rear.remappings == []
    assert front.parameters['iterations'] == 96 and rear.parameters['iterations'] == 64
    default = BY_NAME['model'].default  # from the shared parameter file
    assert front.parameters['model'] == rear.parameters['model'] == default


@pytest.mark.parametrize('text, message', [
    ('cameras: {}', 'non-empty'),
    ('cameras: {1cam: {}}', 'valid ROS name'),
    ('cameras: {cam: {rgb_topic: /x}}', 'unknown keys'),
    ('cameras: {cam: {parameters: {no_such: 1}}}', 'unknown parameter'),
    ('cameras: {cam: {parameters: {iterations: 0}}}', 'iterations must be >='),
])
def test_bad_cameras_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / 'cameras.yaml'
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        camera_nodes(path, PARAMS)


def _frame(scale: float) -> Any:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    depth = (scale * (1.0 + rng.random((16, 24)))).astype(np.float32)
    return rgb, depth


def test_two_cameras_live(tmp_path: Path, spawn_node: Any, ros: Any) -> None:
    """Two camera nodes side by side: each serves its own inputs with its own parameters."""
    suffix = int(time.time() * 1e3) % 100000
    names = [f'cam{suffix}a', f'cam{suffix}b']
    cameras_file = tmp_path / 'cameras.yaml'
    cameras_file.write_text(
        'cameras:\n'
        f'  {names[0]}:\n'
        f'    rgb_image: /{names[0]}/color/image_raw\n'
        '    parameters: {iterations: 3, model: rgb, diagnostics.period: 0.2}\n'
        f'  {names[1]}:\n'
        '    parameters: {iterations: 5, model: rgb, diagnostics.period: 0.2}\n')
    cameras: List[CameraNode] = camera_nodes(cameras_file, PARAMS)
    processes = [spawn_node(*camera.ros_arguments(tmp_path / f'{camera.namespace[1:]}.yaml'),
                            name=camera.namespace[1:]) for camera in cameras]
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    rig = []
    for camera, rgb_topic in zip(cameras, (f'/{names[0]}/color/image_raw',
                                           f'/{names[1]}/rgb/image')):
        ns = camera.namespace
        pubs = (ros.publisher(Image, rgb_topic), ros.publisher(Image, f'{ns}/depth/image'),
                ros.publisher(CameraInfo, f'{ns}/rgb/camera_info'))
        rig.append((pubs, ros.collect(Image, f'{ns}/depth_dense/image')))
    ros.wait_for_subscribers([p for pubs, _ in rig for p in pubs], TIMEOUT)

    frames = [_frame(1.0), _frame(3.0)]
    stamp = [100]

    def served() -> Any:
        """Publish one pair to each camera (again) until both answered."""
        for process in processes:
            assert process.alive(), process.output()[1][-3000:]
        for (pubs, outputs), (rgb, depth) in zip(rig, frames):
            if outputs:
                continue
            stamp[0] += 1
            header = Header(frame_id='cam')
            header.stamp.sec = stamp[0]
            info = CameraInfo(header=header, width=96, height=64)
            info.k = [80.0, 0.0, 48.0, 0.0, 80.0, 32.0, 0.0, 0.0, 1.0]
            pubs[2].publish(info)
            pubs[0].publish(rgb_to_image(rgb, header))
            pubs[1].publish(array_to_image(depth, '32FC1', header))
        return all(outputs for _, outputs in rig)

    wait_until(served, TIMEOUT, interval=1.0, message='outputs of both cameras')
    for (_, outputs), (_, depth) in zip(rig, frames):
        dense = image_to_depth(outputs[0])
        assert dense.shape == (64, 96)
        assert float(np.nanmean(dense)) == pytest.approx(float(depth.mean()), rel=1e-3)

    def reported() -> Any:
        """Return each camera's newest diagnostics, once both have reported."""
        found = {}
        for array in list(diagnostics):
            for camera in cameras:
                values = diagnostics_values(array, f'{camera.namespace}/dada_node')
                if values is not None:
                    found[camera.namespace] = values
        return found if len(found) == 2 else None

    stats = wait_until(reported, TIMEOUT, interval=0.2, message='diagnostics of both nodes')
    assert stats[cameras[0].namespace]['iterations'] == '3'
    assert stats[cameras[1].namespace]['iterations'] == '5'
