# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The camera presets in ``config/``: valid parameters, remaps of real input topics."""

from __future__ import annotations

from pathlib import Path

from dada_ros.core.presets import INPUT_TOPICS, preset_paths, read_preset
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
