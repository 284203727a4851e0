# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Camera presets in ``config/preset_*.yaml``: parameters plus topic remappings.

A preset is an ordinary ROS 2 parameters file (``/**: ros__parameters: ...``, usable with
``--params-file``) whose comment lines ``# remap: FROM:=TO`` list the remappings of the
node's input topics for that camera driver. :func:`read_preset` returns both, validated
against the parameter table, so a launch file or a test can apply them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import yaml

from ..core.params import checked_params, read_params_file

__all__ = ['INPUT_TOPICS', 'preset_paths', 'read_preset']

#: The node's input topics a preset may remap (relative names).
INPUT_TOPICS = ('rgb/image', 'rgb/camera_info', 'rgb/image/compressed', 'depth/image',
                'depth/camera_info', 'depth/image/compressedDepth', 'cloud')
_REMAP = '# remap:'


def preset_paths(config_dir: Path) -> List[Path]:
    """Return the preset files in ``config_dir``, sorted by name."""
    return sorted(Path(config_dir).glob('preset_*.yaml'))


def read_preset(path: Union[str, Path]) -> Tuple[Dict[str, Any], List[Tuple[str, str]]]:
    """Return ``(parameters, remappings)`` of a preset file.

    Raises:
        ValueError: unknown parameter, invalid value, no ``/**`` or ``dada_node`` section,
            a malformed remap line, or a remap of a topic the node does not read.
    """
    text = Path(path).read_text(encoding='utf-8')
    content = yaml.safe_load(text) or {}
    section = content.get('/**') or content.get('dada_node')
    if not isinstance(section, dict) or not isinstance(section.get('ros__parameters'), dict):
        raise ValueError(f'{path}: no /** (or dada_node) section with ros__parameters')
    parameters = checked_params(read_params_file(path), str(path))
    remaps: List[Tuple[str, str]] = []
    for line in text.splitlines():
        if not line.startswith(_REMAP):
            continue
        source, sep, target = line[len(_REMAP):].strip().partition(':=')
        if not sep or not source or not target.startswith('/'):
            raise ValueError(f'{path}: remap line {line!r} must read "# remap: FROM:=/TO"')
        if source not in INPUT_TOPICS:
            raise ValueError(f'{path}: {source!r} is not an input topic of dada_node '
                             f'({list(INPUT_TOPICS)})')
        remaps.append((source, target))
    return parameters, remaps
