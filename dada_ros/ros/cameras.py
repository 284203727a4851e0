# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Several cameras from one YAML: one namespaced ``dada_node`` per camera.

The cameras file (``config/cameras.yaml``) names each camera; the name is the namespace of
its node, so its outputs are ``/<name>/depth_dense/image``, ``/<name>/points`` and its
diagnostics name ``/<name>/dada_node``. Per camera it may remap the three inputs and
override parameters of the shared parameters file::

    cameras:
      front:
        rgb_image: /front/color/image_raw
        rgb_camera_info: /front/color/camera_info
        depth_image: /front/depth/image_rect_raw
        parameters: {iterations: 64}
      rear: {}          # inputs rear/rgb/image, rear/depth/image, rear/rgb/camera_info

``launch/dada_cameras.launch.py`` turns every :class:`CameraNode` into a ``launch_ros``
``Node``. Without launch, :meth:`CameraNode.ros_arguments` gives the equivalent
``dada_node --ros-args ...`` command line (e.g. for one systemd unit per camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from ..core.params import checked_params, read_params_file

__all__ = ['CameraNode', 'INPUTS', 'camera_nodes', 'read_cameras_file']

EXECUTABLE = 'dada_node'
#: Per-camera keys that remap an input of the node (the node's relative topic names).
INPUTS = {'rgb_image': 'rgb/image', 'rgb_camera_info': 'rgb/camera_info',
          'depth_image': 'depth/image'}
_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


@dataclass
class CameraNode:
    """What one camera's ``dada_node`` is started with."""

    namespace: str                                   # '/<camera name>'
    parameters: Dict[str, Any] = field(default_factory=dict)
    remappings: List[Tuple[str, str]] = field(default_factory=list)
    name: str = EXECUTABLE

    def ros_arguments(self, params_path: Path) -> List[str]:
        """Return ``--ros-args`` arguments equivalent to the launch file's ``Node``.

        Writes ``parameters`` to ``params_path`` as a ``/**`` section, as ``launch_ros``
        does with a parameter dictionary, so it applies in the camera's namespace.
        """
        params_path.write_text(yaml.safe_dump({'/**': {'ros__parameters': self.parameters}}))
        arguments = ['-r', f'__ns:={self.namespace}', '-r', f'__node:={self.name}',
                     '--params-file', str(params_path)]
        for source, target in self.remappings:
            arguments += ['-r', f'{source}:={target}']
        return arguments


def read_cameras_file(path: Path) -> Dict[str, Mapping[str, Any]]:
    """Return ``{camera name: settings}`` from a cameras YAML (see the module docstring).

    Raises:
        ValueError: unreadable file, no cameras, a bad camera name or an unknown key.
    """
    try:
        document = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f'cannot read cameras file {path}: {error}') from None
    cameras = document.get('cameras') if isinstance(document, Mapping) else None
    if not isinstance(cameras, Mapping) or not cameras:
        raise ValueError(f'{path}: expected a non-empty "cameras:" mapping')
    result: Dict[str, Mapping[str, Any]] = {}
    for name, settings in cameras.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f'{path}: camera name {name!r} is not a valid ROS name '
                             '(letters, digits, _; starting with a letter)')
        settings = settings or {}
        if not isinstance(settings, Mapping):
            raise ValueError(f'{path}: camera {name!r} must map to settings, got {settings!r}')
        unknown = set(settings) - set(INPUTS) - {'parameters'}
        if unknown:
            raise ValueError(f'{path}: camera {name!r}: unknown keys {sorted(unknown)}; '
                             f'known: {sorted(INPUTS) + ["parameters"]}')
        result[name] = settings
    return result


def camera_nodes(cameras_file: Path, params_file: Optional[Path] = None) -> List[CameraNode]:
    """Return one :class:`CameraNode` per camera of ``cameras_file``.

    Every node gets the parameters that rcl applies from ``params_file`` to
    ``/<camera>/dada_node`` (:func:`dada_ros.core.params.read_params_file`: ``/**``,
    ``/**/dada_node``, ``/<camera>/dada_node``...) overridden by the camera's
    ``parameters``, each validated against the parameter table.

    Raises:
        ValueError: a bad cameras file, an unknown parameter or an invalid value.
    """
    nodes = []
    for name, settings in read_cameras_file(cameras_file).items():
        overrides = settings.get('parameters') or {}
        if not isinstance(overrides, Mapping):
            raise ValueError(f'camera {name!r}: parameters must be a mapping')
        parameters = read_params_file(params_file, f'/{name}/{EXECUTABLE}') \
            if params_file else {}
        parameters.update(checked_params(overrides, f'camera {name!r}'))
        remappings = [(INPUTS[key], str(settings[key])) for key in INPUTS if key in settings]
        nodes.append(CameraNode(namespace=f'/{name}', parameters=parameters,
                                remappings=remappings))
    return nodes
