# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The one table of parameters shared by the node, the YAML file and the Python API.

Every parameter has a name (as in ``config/dada.yaml`` and on the ROS parameter server),
a default, a description, a type and a range or a list of choices. ``scope`` says who
uses it: ``solver`` parameters configure :class:`dada_ros.core.DepthUpsampler`,
``node`` parameters only the ROS node. ``read_only`` parameters need a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
import typing
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple


@dataclass(frozen=True)
class ParamSpec:
    """Description of one parameter."""

    name: str
    default: Any
    description: str
    scope: str = 'node'  # 'solver' or 'node'
    choices: Optional[Tuple[Any, ...]] = None
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    read_only: bool = False

    @property
    def type(self) -> type:  # noqa: A003 (the field name of the parameter table)
        """Python type of the value (bool, int, float or str)."""
        return type(self.default)

    def validate(self, value: Any) -> Optional[str]:
        """Return ``None`` when ``value`` is acceptable, else the reason it is not."""
        expected = self.type
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is not bool and isinstance(value, bool) or not isinstance(value, expected):
            return f'{self.name} must be of type {expected.__name__}, got {value!r}'
        value = typing.cast(Any, value)  # checked above; keeps the comparisons typed
        if self.choices is not None and value not in self.choices:
            return f'{self.name} must be one of {list(self.choices)}, got {value!r}'
        if self.name == 'device' and not _is_device_name(value):
            return f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}"
        if self.min_value is not None and value < self.min_value:
            return f'{self.name} must be >= {self.min_value}, got {value!r}'
        if self.max_value is not None and value > self.max_value:
            return f'{self.name} must be <= {self.max_value}, got {value!r}'
        return None


def _is_device_name(value: str) -> bool:
    if value in ('auto', 'cpu', 'cuda'):
        return True
    prefix, _, index = value.partition(':')
    return prefix == 'cuda' and index.isdigit()


PARAMETERS: Tuple[ParamSpec, ...] = (
    # --- solver (DepthUpsampler) ---------------------------------------------------------
    ParamSpec('model', 'rgb',
              "Guide features: 'rgb' = unlearned DADA (ImageNet-normalised RGB + 1.5 x the "
              "initial depth over its standard deviation; the paper's GAD uses 1 x; default, "
              "fastest), 'learned' = CNN features from 'weights'.",
              scope='solver', choices=('rgb', 'learned'), read_only=True),
    ParamSpec('weights', '',
              "Checkpoint for model 'learned' (empty = the packaged weights). "
              'Loaded with torch.load(weights_only=True).',
              scope='solver', read_only=True),
    ParamSpec('device', 'auto',
              "Torch device: 'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.",
              scope='solver', read_only=True),
    ParamSpec('iterations', 96,
              'Fixed diffusion iteration budget per frame (at the finest pyramid level for '
              "solver 'pyramid'); the same work every frame.",
              scope='solver', min_value=1, max_value=100000),
    ParamSpec('solver', 'pyramid',
              "'pyramid' = coarse-to-fine fused solver (fast), 'reference' = the paper's plain "
              'loop of diffusion (Eq. 1) and adjustment (Eq. 3) steps at full resolution.',
              scope='solver', choices=('pyramid', 'reference')),
    ParamSpec('depth.mode', 'auto',
              "'lowres' (depth is the RGB size divided by an integer factor), 'sparse' "
              "(depth at the RGB size with holes) or 'auto' (decided by the sizes).",
              scope='solver', choices=('auto', 'lowres', 'sparse')),
    ParamSpec('fill_holes', True,
              'Fill regions without any valid input depth by diffusion; when false they stay NaN.',
              scope='solver'),
    # --- node ------------------------------------------------------------------------------
    ParamSpec('sync.slop', 0.05,
              'Largest stamp difference (s) between an RGB image and a depth image to pair them.',
              min_value=0.0, max_value=10.0),
    ParamSpec('sync.queue_size', 10,
              'Messages kept per input stream while waiting for a partner.',
              min_value=1, max_value=1000, read_only=True),
    ParamSpec('qos.reliable_input', False,
              'Subscribe with reliable QoS (bag replay, rviz) instead of sensor-data best effort.',
              read_only=True),
    ParamSpec('qos.reliable_output', True,
              'Publish with reliable QoS (default) instead of best effort.',
              read_only=True),
    ParamSpec('points.enable', True, 'Publish the point cloud on points.'),
    ParamSpec('points.color', True, 'Add the packed rgb field to the point cloud.'),
    ParamSpec('points.stride', 1,
              'Keep every n-th row and column in the point cloud (decimation).',
              min_value=1, max_value=64),
    ParamSpec('diagnostics.period', 1.0,
              'Seconds between diagnostics and statistics messages.',
              min_value=0.1, max_value=60.0, read_only=True),
)

BY_NAME: Dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}
SOLVER_PARAMETERS: Tuple[str, ...] = tuple(s.name for s in PARAMETERS if s.scope == 'solver')


def python_name(name: str) -> str:
    """Map a parameter name to its keyword form (``depth.mode`` -> ``depth_mode``)."""
    return name.replace('.', '_')


_BY_PYTHON_NAME: Dict[str, ParamSpec] = {python_name(s.name): s for s in PARAMETERS}


def resolve_solver_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    """Validate keyword parameters and return every solver parameter with defaults filled in.

    Accepts both the ROS form (``depth.mode``) and the keyword form (``depth_mode``).
    Node-only parameters are accepted and ignored, so a whole YAML parameter dict can be
    passed; unknown names and invalid values raise ``ValueError``.
    """
    resolved = {name: BY_NAME[name].default for name in SOLVER_PARAMETERS}
    for key, value in params.items():
        spec = BY_NAME.get(key) or _BY_PYTHON_NAME.get(key)
        if spec is None:
            raise ValueError(f'unknown parameter {key!r}; known: {sorted(BY_NAME)}')
        reason = spec.validate(value)
        if reason is not None:
            raise ValueError(reason)
        if spec.scope == 'solver':
            resolved[spec.name] = float(value) if spec.type is float else value
    return resolved


def defaults(names: Iterable[str] = tuple(BY_NAME)) -> Dict[str, Any]:
    """Return the default values of ``names``."""
    return {name: BY_NAME[name].default for name in names}
