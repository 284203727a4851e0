# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Static checks of the launch file, the parameters file and the rviz configuration.

``config/dada.yaml`` is generated from the parameter table: after changing
``dada_ros/core/params.py`` run ``python scripts/params_table.py --write`` (or
``python test/test_launch.py``) to rewrite it.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
import sys
from typing import Any, Dict, List, Union

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dada_ros.core.params import PARAMETERS, PARAMS_FILE_KEY  # noqa: E402, I100
from dada_ros.tools.params_docs import render_params_yaml  # noqa: E402

LAUNCH = REPO / 'launch' / 'dada.launch.py'
PARAMS = REPO / 'config' / 'dada.yaml'
RVIZ = REPO / 'rviz' / 'dada.rviz'
PROFILE = REPO / 'config' / 'fastdds_shm.xml'


def _calls(tree: ast.AST, name: str) -> List[ast.Call]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, 'attr', None)
            if called == name:
                found.append(node)
    return found


def _strings(tree: ast.AST) -> List[str]:
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_launch_file_parses_and_references_the_package() -> None:
    """The launch file is valid Python naming dada_node, dada_ros, the YAML and the rviz file."""
    tree = ast.parse(LAUNCH.read_text(), str(LAUNCH))
    strings = _strings(tree)
    for needed in ('dada_node', 'dada_ros', 'dada.yaml', 'dada.rviz', 'config', 'rviz'):
        assert needed in strings, needed
    assert PARAMS.is_file() and RVIZ.is_file()
    names = [f.name for f in tree.body if isinstance(f, ast.FunctionDef)]
    assert 'generate_launch_description' in names
    assert _calls(tree, 'get_package_share_directory')


def test_every_launch_argument_has_a_description() -> None:
    """Each DeclareLaunchArgument has a non-empty description; the documented args exist."""
    tree = ast.parse(LAUNCH.read_text())
    declared: Dict[str, str] = {}
    for call in _calls(tree, 'DeclareLaunchArgument'):
        assert call.args and isinstance(call.args[0], ast.Constant)
        keywords = {k.arg: k.value for k in call.keywords}
        assert 'description' in keywords, call.args[0].value
        description = ast.literal_eval(keywords['description'])
        assert isinstance(description, str) and len(description) > 10
        declared[str(call.args[0].value)] = description
    assert set(declared) == {'params_file', 'namespace', 'rgb_image', 'rgb_camera_info',
                             'depth_image', 'use_rviz', 'device', 'iterations',
                             'depth_camera_info', 'cloud', 'preset', 'rgb_transport',
                             'depth_transport', 'depth_source', 'depth_mode', 'use_sim_time',
                             'log_level', 'rviz_fixed_frame'}


def test_params_file_is_generated_from_the_table() -> None:
    """config/dada.yaml is exactly the rendering of the table (run this file to update)."""
    assert PARAMS.read_text() == render_params_yaml(), \
        'config/dada.yaml is out of date: run `python scripts/params_table.py --write`'


def test_params_file_matches_the_parameter_table() -> None:
    """config/dada.yaml lists every parameter of the table with its default, nothing else."""
    content = yaml.safe_load(PARAMS.read_text())
    assert list(content) == [PARAMS_FILE_KEY]
    parameters = content[PARAMS_FILE_KEY]['ros__parameters']
    assert list(parameters) == [spec.name for spec in PARAMETERS]
    for spec in PARAMETERS:
        value = parameters[spec.name]
        assert type(value) is spec.type, (spec.name, value)
        assert value == spec.default, (spec.name, value, spec.default)
        assert spec.validate(value) is None


def test_launch_file_lets_rcl_apply_the_parameter_file() -> None:
    """No YAML parsing in the launch file: the path goes to Node(parameters=[...])."""
    tree = ast.parse(LAUNCH.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    assert 'yaml' not in imported
    helper = next(f for f in tree.body if isinstance(f, ast.FunctionDef)
                  and f.name == '_node_parameters')
    namespace: Dict[str, Any] = {'Any': Any, 'Dict': Dict, 'List': List, 'Union': Union}
    module = ast.fix_missing_locations(ast.Module(body=[helper], type_ignores=[]))
    exec(compile(module, str(LAUNCH), 'exec'), namespace)
    assert namespace['_node_parameters'](str(PARAMS), '', '') == [str(PARAMS)]
    assert namespace['_node_parameters'](str(PARAMS), 'cpu', '7') == [
        str(PARAMS), {'device': 'cpu', 'iterations': 7}]


def test_launch_parameters_helper_reads_the_file() -> None:
    """The launch file hands the YAML path to rcl, then the non-empty overrides."""
    launch = _load_launch_module()
    assert launch._node_parameters(str(PARAMS), '', '') == [str(PARAMS)]
    assert launch._node_parameters(str(PARAMS), 'cpu', '7') == [
        str(PARAMS), {'device': 'cpu', 'iterations': 7}]
    assert launch._node_parameters('', '', '5') == [{'iterations': 5}]


def _load_launch_module() -> Any:
    for module in ('launch', 'launch_ros', 'ament_index_python'):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f'{module} is not installed (the static checks above still ran)')
    spec = importlib.util.spec_from_file_location('dada_launch', LAUNCH)
    assert spec is not None and spec.loader is not None
    launch_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch_module)
    return launch_module


def test_launch_description_generates() -> None:
    """With launch_ros available, the description builds with the declared arguments."""
    launch = _load_launch_module()
    try:
        description = launch.generate_launch_description()
    except Exception as error:  # the package must be installed for the share directory
        pytest.skip(f'dada_ros is not installed in an ament index: {error}')
    arguments = [a.name for a in description.get_launch_arguments()]
    assert 'params_file' in arguments and 'use_rviz' in arguments


def test_rviz_config_shows_image_depth_and_cloud() -> None:
    """rviz/dada.rviz: camera optical fixed frame, RGB image, dense depth, RGB-colored cloud."""
    config = yaml.safe_load(RVIZ.read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'].endswith('optical_frame')
    images = [d for d in manager['Displays'] if d['Class'] == 'rviz_default_plugins/Image']
    assert len(images) == 2
    topics = [d['Topic']['Value'] for d in manager['Displays'] if 'Topic' in d]
    assert {'rgb/image', 'depth_dense/image', 'points'} <= set(topics)
    cloud = next(d for d in manager['Displays']
                 if d['Class'] == 'rviz_default_plugins/PointCloud2')
    assert cloud['Color Transformer'] == 'RGB8'


def test_fastdds_profile_is_valid_xml_with_a_big_segment() -> None:
    """The Fast DDS profile parses and raises the shared-memory segment above 16 MB."""
    import xml.etree.ElementTree as ElementTree
    root = ElementTree.parse(PROFILE).getroot()
    ns = {'dds': 'http://www.eprosima.com'}
    sizes = [int(e.text or 0) for e in root.iterfind('.//dds:segment_size', ns)]
    assert sizes and min(sizes) >= 16 * 1024 * 1024
    participant = root.find('.//dds:participant', ns)
    assert participant is not None and participant.get('is_default_profile') == 'true'


if __name__ == '__main__':
    PARAMS.write_text(render_params_yaml())
    print(f'wrote {PARAMS}')
