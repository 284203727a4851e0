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
import importlib.util
from pathlib import Path
import typing
from typing import (Any, Callable, Dict, IO, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import yaml


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
    numbers: int = 0
    """When > 0, the value may also be a list of this many numbers, ints and floats mixed
    as ROS users type them (``[0.1, 0, 0, 0, 0, 0, 1]``); it is declared with dynamic
    typing and held as a list of floats (:meth:`coerce`)."""
    check: Optional[Callable[[Any], Optional[str]]] = None
    """Content check of a valid-typed value: ``None`` or the reason it is refused."""

    @property
    def type(self) -> type:  # noqa: A003 (the field name of the parameter table)
        """Python type of the value (bool, int, float or str)."""
        return type(self.default)

    def coerce(self, value: Any) -> Any:
        """Return a valid ``value`` in its canonical form (float, list of floats)."""
        if self.type is float and not isinstance(value, bool):
            return float(value)
        if self.numbers and is_number_list(value):
            return [float(item) for item in value]
        return value

    def validate(self, value: Any) -> Optional[str]:
        """Return ``None`` when ``value`` is acceptable, else the reason it is not."""
        reason = self._validate_type_and_range(value)
        if reason is None and self.check is not None:
            problem = self.check(self.coerce(value))
            reason = None if problem is None else f'{self.name}: {problem}'
        return reason

    def _validate_type_and_range(self, value: Any) -> Optional[str]:
        expected = self.type
        if self.numbers and not isinstance(value, (str, bytes)) \
                and isinstance(value, Sequence):
            if not is_number_list(value) or len(value) != self.numbers:
                return (f'{self.name} must be a string or a list of {self.numbers} numbers, '
                        f'got {list(value)!r}')
            return None
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if expected is not bool and isinstance(value, bool) or not isinstance(value, expected):
            kind = expected.__name__ + (f' or a list of {self.numbers} numbers'
                                        if self.numbers else '')
            return f'{self.name} must be of type {kind}, got {value!r}'
        value = typing.cast(Any, value)  # checked above; keeps the comparisons typed
        if self.choices is not None and value not in self.choices:
            return f'{self.name} must be one of {list(self.choices)}, got {value!r}'
        if self.name == 'cpu_kernel' and value == 'numba' \
                and importlib.util.find_spec('numba') is None:
            return ("cpu_kernel 'numba' needs the numba package (pip install numba, or the "
                    "'fast' extra of dada_ros); use 'auto' or 'torch'")
        if self.name == 'device' and not _is_device_name(value):
            return f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {value!r}"
        if self.min_value is not None and value < self.min_value:
            return f'{self.name} must be >= {self.min_value}, got {value!r}'
        if self.max_value is not None and value > self.max_value:
            return f'{self.name} must be <= {self.max_value}, got {value!r}'
        return None


def is_number_list(value: Any) -> bool:
    """Whether ``value`` is a sequence (not text) of ints and floats (no bools)."""
    return not isinstance(value, (str, bytes)) and isinstance(value, Sequence) and all(
        isinstance(item, (int, float)) and not isinstance(item, bool) for item in value)


def _pose_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not a transform ``[x, y, z, qx, qy, qz, qw]`` (empty = ask TF)."""
    if isinstance(value, str) and not value.strip():
        return None
    from .registration import pose_to_matrix  # numpy only; the table itself imports none
    try:
        pose_to_matrix(value)
    except ValueError as error:
        return str(error)
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
              "fastest), 'learned' = the learned guide in 'weights' (packaged: two-pass "
              'self-guided DADA, about 1.5x the time of rgb; or a CNN checkpoint).',
              scope='solver', choices=('rgb', 'learned'), read_only=True),
    ParamSpec('weights', '',
              "Checkpoint for model 'learned' (empty = the packaged weights). "
              'Loaded with torch.load(weights_only=True).',
              scope='solver', read_only=True),
    ParamSpec('device', 'auto',
              "Torch device: 'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.",
              scope='solver', read_only=True),
    ParamSpec('iterations', 96,
              "Fixed iteration budget per frame, the same work every frame. Solver 'pyramid': "
              'steps at the finest level (each coarser level runs half the steps of the finer '
              "one; at x8 in frames of 1280x720 or more, model 'rgb', the finest level runs "
              "half the budget, within 1 % of the converged answer); solver 'reference': all "
              "steps of the paper's loop (it needs thousands).",
              scope='solver', min_value=1, max_value=100000),
    ParamSpec('solver', 'pyramid',
              "'pyramid' = coarse-to-fine fused solver (fast), 'reference' = the paper's plain "
              'loop of diffusion (Eq. 1) and adjustment (Eq. 3) steps at full resolution.',
              scope='solver', choices=('pyramid', 'reference')),
    ParamSpec('cpu_kernel', 'auto',
              "Step of the 'pyramid' solver on the CPU: 'numba' = one compiled, parallel sweep "
              "per step (about 3x faster; needs the numba package, the 'fast' extra), 'torch' "
              "= eager torch operations, 'auto' = numba when it is installed, else torch. "
              'Both give the same answer; CUDA always runs torch.',
              scope='solver', choices=('auto', 'numba', 'torch')),
    ParamSpec('depth.mode', 'auto',
              "'lowres' (depth is the RGB size divided by an integer factor), 'sparse' "
              "(depth at the RGB size with holes), 'register' (depth of another camera: "
              'back-projected with depth/camera_info, moved by depth.to_rgb, z-buffered into '
              "the RGB camera, then completed as sparse) or 'auto' ('register' when the depth "
              'frame_id differs from the RGB one and depth/camera_info has arrived, else '
              'decided by the sizes).',
              scope='solver', choices=('auto', 'lowres', 'sparse', 'register')),
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
              'Subscribe with reliable QoS (bag replay, rviz) instead of sensor-data best effort. '
              'The ROS 2 QoS overrides (qos_overrides./<topic>.subscription.reliability, '
              'depth, history, durability) apply on top.',
              read_only=True),
    ParamSpec('qos.reliable_output', True,
              'Publish with reliable QoS (default) instead of best effort. The ROS 2 QoS '
              'overrides (qos_overrides./<topic>.publisher.*) apply on top.',
              read_only=True),
    ParamSpec('lazy_subscription', True,
              'Subscribe to the inputs only while an output (depth_dense/image, '
              'depth_dense/camera_info, points, depth_dense/confidence, depth_sparse/image) '
              'has a subscriber, as image_pipeline nodes do: no input is received, decoded or '
              'solved while nobody listens (checked every 0.2 s). false: always subscribed.',
              read_only=True),
    ParamSpec('points.enable', True, 'Publish the point cloud on points.'),
    ParamSpec('points.color', True, 'Add the packed rgb field to the point cloud.'),
    ParamSpec('points.stride', 1,
              'Keep every n-th row and column in the point cloud (decimation).',
              min_value=1, max_value=64),
    ParamSpec('diagnostics.period', 1.0,
              'Seconds between diagnostics and statistics messages.',
              min_value=0.1, max_value=60.0, read_only=True),
    # --- inputs from real sensors and recordings ---------------------------------------------
    ParamSpec('rgb.transport', 'raw',
              "'raw': subscribe to rgb/image (sensor_msgs/Image); 'compressed': to "
              'rgb/image/compressed (sensor_msgs/CompressedImage, JPEG or PNG as '
              "image_transport 'compressed' writes it).",
              choices=('raw', 'compressed'), read_only=True),
    ParamSpec('depth.transport', 'raw',
              "'raw': subscribe to depth/image; 'compressedDepth': to "
              'depth/image/compressedDepth (compressed_depth_image_transport: 16UC1 or 32FC1, '
              'PNG or RVL).',
              choices=('raw', 'compressedDepth'), read_only=True),
    ParamSpec('input.max_pixels', 1 << 26,
              'Largest image (width x height) an input may declare. Compressed images are '
              'refused before decoding by the size in their header (PNG IHDR, JPEG SOF, RVL), '
              'raw images before conversion; counted as errors.image_too_large. A '
              '20000x20000 PNG of zeros is 0.8 MB on the wire but 800 MB decoded; the default '
              '(64 Mpixel) admits every camera.',
              min_value=1, max_value=1 << 31, read_only=True),
    ParamSpec('depth.source', 'image',
              "'image': pair rgb/image with a depth image; 'cloud': with a PointCloud2 on "
              'cloud (float32 x, y, z; e.g. a LiDAR), moved by cloud.to_rgb and projected into '
              'the RGB camera (rectified P), then completed as sparse.',
              choices=('image', 'cloud'), read_only=True),
    ParamSpec('depth.to_rgb', '',
              "Transform from the depth optical frame to the RGB optical frame for 'register', "
              'as 7 numbers [x, y, z, qx, qy, qz, qw] (metres, a quaternion; normalised): a '
              "list (ints and floats mixed) or the quoted string '[x, y, z, qx, qy, qz, qw]'; "
              'empty = look it up in TF (needs tf2_ros). Refused at set time unless 7 finite '
              'numbers with a non-zero quaternion.',
              numbers=7, check=_pose_problem),
    ParamSpec('cloud.to_rgb', '',
              "Transform from the cloud's frame to the RGB optical frame, as 7 numbers "
              '[x, y, z, qx, qy, qz, qw] (a list or the quoted string, as depth.to_rgb); '
              'empty = look it up in TF (needs tf2_ros).',
              numbers=7, check=_pose_problem),
    ParamSpec('confidence.enable', True,
              'Compute depth_dense/confidence (32FC1, 0..1: support by measurements times '
              'smoothness) when it has a subscriber or confidence.min > 0.'),
    ParamSpec('confidence.min', 0.0,
              'Pixels whose confidence is below this are NaN in depth_dense/image and the '
              'point cloud (needs confidence.enable); 0 keeps every pixel.',
              min_value=0.0, max_value=1.0),
    ParamSpec('depth_sparse.enable', True,
              'Publish depth_sparse/image (32FC1): the registered depth or projected cloud '
              'that was completed, when it has a subscriber.'),
)

BY_NAME: Dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}
SOLVER_PARAMETERS: Tuple[str, ...] = tuple(s.name for s in PARAMETERS if s.scope == 'solver')


def python_name(name: str) -> str:
    """Map a parameter name to its keyword form (``depth.mode`` -> ``depth_mode``)."""
    return name.replace('.', '_')


_BY_PYTHON_NAME: Dict[str, ParamSpec] = {python_name(s.name): s for s in PARAMETERS}


def _solver_values(params: Mapping[str, Any]) -> Dict[str, Any]:
    """Check every entry of ``params`` (either spelling); return the solver ones by ROS name.

    Raises ``ValueError`` for an unknown name or an invalid value; node-only parameters are
    checked and left out.
    """
    values: Dict[str, Any] = {}
    for key, value in params.items():
        spec = BY_NAME.get(key) or _BY_PYTHON_NAME.get(key)
        if spec is None:
            raise ValueError(f'unknown parameter {key!r}; known: {sorted(BY_NAME)}')
        reason = spec.validate(value)
        if reason is not None:
            raise ValueError(reason)
        if spec.scope == 'solver':
            values[spec.name] = spec.coerce(value)
    return values


def solver_keywords(params: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the solver parameters of a parameter dict as ``DepthUpsampler`` keywords.

    ``params`` may be a node's or a YAML file's whole parameter dict (``depth.mode`` or
    ``depth_mode`` spellings): every name must be in the table and every value valid
    (``ValueError`` otherwise); the node-only parameters are left out, by name, so that
    nothing reaches the upsampler that it would not use.
    """
    return {python_name(name): value for name, value in _solver_values(params).items()}


def resolve_solver_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    """Validate keyword parameters and return every solver parameter with defaults filled in.

    Accepts both the ROS form (``depth.mode``) and the keyword form (``depth_mode``).
    Node-only parameters are accepted and ignored, so a whole YAML parameter dict can be
    passed; unknown names and invalid values raise ``ValueError``.
    """
    return {**{name: BY_NAME[name].default for name in SOLVER_PARAMETERS},
            **_solver_values(params)}


def defaults(names: Iterable[str] = tuple(BY_NAME)) -> Dict[str, Any]:
    """Return the default values of ``names``."""
    return {name: BY_NAME[name].default for name in names}


# --- parameter files (rcl semantics) ---------------------------------------------------------
#: Name of the node every parameter file section is matched against by default.
NODE_NAME = 'dada_node'
#: Node key of the shipped parameter file: ``dada_node`` in any namespace.
PARAMS_FILE_KEY = '/**/' + NODE_NAME


def _tokens(name: str) -> List[str]:
    return [token for token in name.strip().split('/') if token]


def _match_tokens(pattern: List[str], name: List[str]) -> bool:
    """Match node-name tokens as rcl does: ``*`` = one token, ``**`` = zero or more."""
    if not pattern:
        return not name
    head, rest = pattern[0], pattern[1:]
    if head == '**':
        return any(_match_tokens(rest, name[i:]) for i in range(len(name) + 1))
    return bool(name) and (head == '*' or head == name[0]) and _match_tokens(rest, name[1:])


def node_key_matches(key: str, node_fqn: str) -> bool:
    """Whether the section ``key`` of a parameter file applies to the node ``node_fqn``.

    As rcl does: a key is a fully qualified node name (a missing leading ``/`` is added, so
    ``dada_node`` only matches the node in the root namespace), with ``*`` matching one
    namespace or name token and ``**`` zero or more (``/**`` is every node,
    ``/**/dada_node`` is ``dada_node`` in any namespace).
    """
    return _match_tokens(_tokens(key), _tokens(node_fqn))


def _flatten(values: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    flat: Dict[str, Any] = {}
    for key, value in values.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def _namespaced_sections(document: Mapping[str, Any],
                         prefix: str = '') -> List[Tuple[str, Mapping[str, Any]]]:
    """``(node key, ros__parameters)`` pairs in file order; nested namespaces are joined."""
    sections = []
    for key, value in document.items():
        if not isinstance(value, Mapping):
            continue
        name = f'{prefix}/{str(key).strip("/")}'
        if isinstance(value.get('ros__parameters'), Mapping):
            sections.append((name, value['ros__parameters']))
        sections += _namespaced_sections(
            {k: v for k, v in value.items() if k != 'ros__parameters'}, name)
    return sections


def read_params_file(path: Union[str, Path], node_fqn: str = '/' + NODE_NAME) -> Dict[str, Any]:
    """Read the parameters that rcl would apply to the node ``node_fqn`` from a YAML file.

    Every section whose node key matches (:func:`node_key_matches`; nested mappings above
    ``ros__parameters`` are namespaces) applies, in file order, later values winning; nested
    parameter keys are joined with ``.``. ``node_fqn`` may be a bare name (``dada_node`` =
    ``/dada_node``).

    Raises:
        ValueError: the file cannot be read or is not a ROS 2 parameter file.
    """
    try:
        document = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f'cannot read parameter file {path}: {error}') from None
    if not isinstance(document, Mapping):
        raise ValueError(f'{path}: not a ROS 2 parameter file (expected a mapping)')
    values: Dict[str, Any] = {}
    for key, parameters in _namespaced_sections(document):
        if node_key_matches(key, node_fqn):
            values.update(_flatten(parameters))
    return values


def parse_override(text: str) -> Tuple[str, Any]:
    """Parse ``name:=value`` (the value is YAML, as ``--ros-args -p`` reads it)."""
    name, sep, raw = text.partition(':=')
    if not sep or not name:
        raise ValueError(f'parameter override must look like name:=value, got {text!r}')
    try:
        value = yaml.safe_load(raw) if raw.strip() else ''
    except yaml.YAMLError:
        value = raw
    return name.strip(), value


def checked_params(values: Mapping[str, Any], where: str = '') -> Dict[str, Any]:
    """Validate ``{name: value}`` against the table; floats for float parameters.

    Raises:
        ValueError: an unknown name or an invalid value (the message starts with ``where``).
    """
    prefix = f'{where}: ' if where else ''
    checked: Dict[str, Any] = {}
    for name, value in values.items():
        spec = BY_NAME.get(name)
        if spec is None:
            raise ValueError(f'{prefix}unknown parameter {name!r}; known: {sorted(BY_NAME)}')
        reason = spec.validate(value)
        if reason is not None:
            raise ValueError(prefix + reason)
        checked[name] = spec.coerce(value)
    return checked


def resolve_parameters(file_values: Mapping[str, Any], overrides: Mapping[str, Any],
                       warn: Optional[IO[str]] = None) -> Dict[str, Any]:
    """Merge defaults, file values and overrides into a validated ``{name: value}`` dict.

    Unknown names in the file are ignored (with a warning), as the node ignores undeclared
    parameters; unknown override names and invalid values raise ``ValueError``.
    """
    known = {name: value for name, value in file_values.items() if name in BY_NAME}
    for name in file_values:
        if name not in BY_NAME and warn is not None and name != 'use_sim_time':
            print(f'warning: ignoring unknown parameter {name!r} in the parameter file',
                  file=warn)
    return {**defaults(), **checked_params(known, 'parameter file'),
            **checked_params(overrides, '-p')}


# --- number lists on the command line (rcl semantics) -----------------------------------------
def _float_list(spec: Optional[ParamSpec], value: Any) -> Optional[List[float]]:
    """``value`` as floats when it is a number list of ``spec`` that rcl cannot type."""
    if spec is None or not spec.numbers or not is_number_list(value):
        return None
    kinds = {type(item) for item in value}
    return [float(item) for item in value] if len(kinds) > 1 else None


def _normalise_mapping(values: Dict[str, Any], prefix: str = '') -> bool:
    """Turn mixed number lists of the table's parameters into floats, in place."""
    changed = False
    for key, value in values.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            changed = _normalise_mapping(value, name + '.') or changed
            continue
        floats = _float_list(BY_NAME.get(name), value)
        if floats is not None:
            values[key] = floats
            changed = True
    return changed


def _normalised_params_file(path: str, directory: Path) -> Optional[Path]:
    """Copy the parameter file with rcl-readable number lists; ``None`` if not needed.

    A file that cannot be read is left to rcl, which reports it.
    """
    try:
        document = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    changed = False
    for _, parameters in _namespaced_sections(document):
        if isinstance(parameters, dict):
            changed = _normalise_mapping(parameters) or changed
    if not changed:
        return None
    copy = directory / f'{len(list(directory.iterdir()))}_{Path(path).name}'
    copy.write_text(yaml.safe_dump(document, sort_keys=False))
    return copy


def normalise_ros_arguments(args: Sequence[str], directory: Path) -> List[str]:
    """Return ``args`` with number lists of the table's parameters written as floats.

    rcl types a YAML list by its first item and refuses ``[0.1, 0, 0, 0, 0, 0, 1]`` ("Sequence
    should be of same type") while parsing the arguments, i.e. inside ``rclpy.init``, for
    ``-p`` / ``--param`` overrides and ``--params-file`` files alike; ROS users type such
    lists. For the parameters that accept number lists (:attr:`ParamSpec.numbers`), a mixed
    list becomes all floats: overrides are rewritten, a parameter file is copied into
    ``directory`` with the lists rewritten (the caller deletes it after ``rclpy.init``).
    Everything else is left to rcl, which reports what it cannot read.
    """
    out = list(args)
    in_ros_args = False
    index = 0
    while index < len(out):
        word = out[index]
        if word == '--ros-args':
            in_ros_args = True
        elif word == '--':
            in_ros_args = False
        elif in_ros_args and word in ('-p', '--param') and index + 1 < len(out):
            target, sep, raw = out[index + 1].partition(':=')
            name = target.rpartition(':')[2]  # '[node:]name'
            try:
                value = yaml.safe_load(raw) if sep else None
            except yaml.YAMLError:
                value = None
            floats = _float_list(BY_NAME.get(name), value)
            if floats is not None:
                out[index + 1] = f'{target}:={floats!r}'
            index += 1
        elif in_ros_args and word == '--params-file' and index + 1 < len(out):
            copy = _normalised_params_file(out[index + 1], directory)
            if copy is not None:
                out[index + 1] = str(copy)
            index += 1
        index += 1
    return out
