# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The camera presets in ``config/``: valid parameters, remaps of real input topics."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any, Dict, List, Tuple

from dada_ros.ros.presets import INPUT_TOPICS, preset_paths, read_preset
import pytest

CONFIG = Path(__file__).resolve().parents[1] / 'config'


def test_the_presets_exist() -> None:
    """Presets for RealSense (aligned, unaligned), Orbbec and ZED are shipped."""
    names = {path.stem for path in preset_paths(CONFIG)}
    assert {'preset_realsense_aligned', 'preset_realsense_unaligned', 'preset_orbbec',
            'preset_zed'} <= names


@pytest.mark.parametrize('path', preset_paths(CONFIG), ids=lambda p: p.stem)
def test_preset_is_valid(path: Path) -> None:
    """Parameters validate against the table; every preset remaps rgb and depth inputs."""
    parameters, remaps = read_preset(path)
    sources = [source for source, _ in remaps]
    assert {'rgb/image', 'rgb/camera_info', 'depth/image'} <= set(sources)
    assert len(set(sources)) == len(sources)
    assert all(source in INPUT_TOPICS and target.startswith('/') for source, target in remaps)
    if parameters.get('depth.mode') == 'register':
        assert 'depth/camera_info' in sources
    # The run command in the comments uses the same remaps as the remap lines.
    text = path.read_text()
    if '--ros-args' in text:
        for source, target in remaps:
            assert f'-r {source}:={target}' in text


def test_realsense_unaligned_registers() -> None:
    """The unaligned RealSense preset registers the depth camera into the colour camera."""
    parameters, remaps = read_preset(CONFIG / 'preset_realsense_unaligned.yaml')
    assert parameters['depth.mode'] == 'register'
    assert dict(remaps)['depth/image'] == '/camera/camera/depth/image_rect_raw'


def test_bad_presets_are_rejected(tmp_path: Path) -> None:
    """Unknown parameters, bad values and remaps of unknown topics raise ValueError."""
    cases = {
        'unknown': '/**:\n  ros__parameters:\n    nope: 1\n',
        'value': "/**:\n  ros__parameters:\n    depth.mode: 'magic'\n",
        'section': 'other:\n  x: 1\n',
        'remap': '# remap: points:=/x\n/**:\n  ros__parameters:\n    fill_holes: true\n',
        'syntax': '# remap: rgb/image=/x\n/**:\n  ros__parameters:\n    fill_holes: true\n',
    }
    for name, text in cases.items():
        path = tmp_path / f'preset_{name}.yaml'
        path.write_text(text)
        with pytest.raises(ValueError):
            read_preset(path)


def _launch_helpers() -> Dict[str, Any]:
    """Run the launch file's pure helpers without launch installed (as test_launch does)."""
    source = (CONFIG.parent / 'launch' / 'dada.launch.py').read_text()
    tree = ast.parse(source)
    wanted = {'TOPIC_ARGUMENTS', '_remappings', '_preset_path'}
    body: List[ast.stmt] = [
        node for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in wanted
        or isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in wanted for t in node.targets)]
    namespace: Dict[str, Any] = {'Any': Any, 'Dict': Dict, 'List': List, 'Tuple': Tuple,
                                 'os': os}
    module = ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))
    exec(compile(module, 'dada.launch.py', 'exec'), namespace)
    return namespace


def test_launch_applies_preset_remaps_and_topic_arguments() -> None:
    """Preset remaps, then non-default topic arguments; compressed siblings follow."""
    helpers = _launch_helpers()
    _, remaps = read_preset(CONFIG / 'preset_realsense_unaligned.yaml')
    defaults = dict(helpers['TOPIC_ARGUMENTS'])
    result = dict(helpers['_remappings'](remaps, defaults))
    assert result['depth/image'] == '/camera/camera/depth/image_rect_raw'
    assert result['depth/image/compressedDepth'] == \
        '/camera/camera/depth/image_rect_raw/compressedDepth'
    assert result['rgb/image/compressed'] == '/camera/camera/color/image_raw/compressed'
    assert result['depth/camera_info'] == '/camera/camera/depth/camera_info'
    mine = dict(helpers['_remappings'](remaps, {**defaults, 'rgb_image': '/my/rgb'}))
    assert mine['rgb/image'] == '/my/rgb' and mine['rgb/image/compressed'] == '/my/rgb/compressed'
    assert helpers['_remappings']([], defaults) == []
    assert helpers['_preset_path']('zed', '/share') == '/share/config/preset_zed.yaml'
    assert helpers['_preset_path']('/x/my.yaml', '/share') == '/x/my.yaml'
    assert helpers['_preset_path']('', '/share') == ''
