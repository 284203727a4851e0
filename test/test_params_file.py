# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The project's one parameter-file reader agrees with rcl (real rclpy, in process).

Each case is a ROS 2 parameter YAML and a node (namespace, name); rcl applies the file
through ``--ros-args --params-file`` to a real rclpy node and the test compares what that
node got with :func:`dada_ros.core.params.read_params_file`.
"""

from __future__ import annotations

from pathlib import Path
import textwrap
from typing import Any, Dict

from dada_ros.core.params import node_key_matches, read_params_file
import pytest
from ros_helpers import ros_env

CASES = {
    'root_and_relative': ('/', """\
        /**:
          ros__parameters:
            iterations: 50
            sync:
              slop: 0.02
        dada_node:
          ros__parameters:
            iterations: 40
        other_node:
          ros__parameters:
            iterations: 7
        """),
    'namespace_keys': ('/cam1', """\
        /**:
          ros__parameters:
            iterations: 11
            fill_holes: false
        /**/dada_node:
          ros__parameters:
            iterations: 12
        dada_node:
          ros__parameters:
            iterations: 13
        /cam2/dada_node:
          ros__parameters:
            iterations: 14
        /cam1/dada_node:
          ros__parameters:
            points:
              stride: 3
        """),
    'nested_namespace_and_star': ('/robot/cam', """\
        robot:
          cam:
            dada_node:
              ros__parameters:
                iterations: 21
        /robot/*/dada_node:
          ros__parameters:
            solver: reference
        /*/dada_node:
          ros__parameters:
            iterations: 99
        """),
    'later_sections_win': ('/ns', """\
        /ns/dada_node:
          ros__parameters:
            iterations: 31
        /**:
          ros__parameters:
            iterations: 32
        """),
}


def rcl_values(path: Path, namespace: str) -> Dict[str, Any]:
    """Parameters that rcl gives a real ``dada_node`` in ``namespace`` from ``path``."""
    import rclpy
    from rclpy.context import Context
    ros_env()
    context = Context()
    rclpy.init(args=['--ros-args', '--params-file', str(path)], context=context)
    try:
        plain = rclpy.create_node('plain_node', namespace='/elsewhere/x', context=context)
        builtin = {p.name for p in plain.get_parameters_by_prefix('').values()} | {
            name for name in ('use_sim_time', 'start_type_description_service')
            if plain.has_parameter(name)}
        plain.destroy_node()
        node = rclpy.create_node('dada_node', namespace=namespace, context=context,
                                 automatically_declare_parameters_from_overrides=True)
        try:
            return {name: value.value
                    for name, value in node.get_parameters_by_prefix('').items()
                    if name not in builtin}
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


@pytest.mark.parametrize('case', sorted(CASES))
def test_reader_matches_rcl(case: str, tmp_path: Path) -> None:
    namespace, text = CASES[case]
    path = tmp_path / 'params.yaml'
    path.write_text(textwrap.dedent(text))
    fqn = f'{namespace.rstrip("/")}/dada_node'
    expected = rcl_values(path, namespace)
    assert expected, 'rcl applied nothing: the case tests nothing'
    assert read_params_file(path, fqn) == expected


def test_node_key_matching_rules() -> None:
    assert node_key_matches('/**', '/a/b/dada_node')
    assert node_key_matches('/**/dada_node', '/dada_node')
    assert node_key_matches('/**/dada_node', '/a/b/dada_node')
    assert node_key_matches('dada_node', '/dada_node')
    assert not node_key_matches('dada_node', '/cam/dada_node')
    assert node_key_matches('/*/dada_node', '/cam/dada_node')
    assert not node_key_matches('/*/dada_node', '/a/b/dada_node')
    assert not node_key_matches('/cam/other', '/cam/dada_node')


def test_shipped_file_applies_in_any_namespace(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[1] / 'config' / 'dada.yaml'
    for namespace in ('/', '/cam_front'):
        values = rcl_values(shipped, namespace)
        assert values['iterations'] == 96
        assert read_params_file(shipped, f'{namespace.rstrip("/")}/dada_node') == values
