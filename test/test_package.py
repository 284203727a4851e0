# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Packaging checks.

package.xml, the built wheel's files and entry points, licence headers, the CI command
and the scripts (the generated documents and the README are checked in ``test_docs.py``).
"""

from __future__ import annotations

import configparser
import importlib
from pathlib import Path
import shutil
import subprocess
import sys
from typing import Dict, List
import xml.etree.ElementTree as ET
import zipfile

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = ('# Copyright 2026 The dada_ros authors', '# SPDX-License-Identifier: Apache-2.0')


def test_package_xml_lists_the_required_dependencies() -> None:
    root = ET.parse(ROOT / 'package.xml').getroot()
    assert root.tag == 'package' and root.get('format') == '3'
    assert root.findtext('name') == 'dada_ros'
    assert root.findtext('license') == 'Apache-2.0'
    assert root.findtext('export/build_type') == 'ament_python'
    deps: Dict[str, List[str]] = {}
    for element in root:
        deps.setdefault(element.tag, []).append((element.text or '').strip())
    for key in ('rclpy', 'sensor_msgs', 'std_msgs', 'builtin_interfaces', 'diagnostic_msgs',
                'launch', 'launch_ros', 'python3-numpy', 'python3-opencv', 'python3-scipy',
                'python3-yaml', 'python3-pytorch-pip'):
        assert key in deps['exec_depend'], key
    for key in ('ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest'):
        assert key in deps['test_depend'], key
    assert root.findtext('version') == importlib.import_module('dada_ros').__version__


def test_setup_cfg_installs_scripts_where_ros2_run_finds_them() -> None:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(ROOT / 'setup.cfg')
    assert cfg['develop']['script_dir'] == '$base/lib/dada_ros'
    assert cfg['install']['install_scripts'] == '$base/lib/dada_ros'
    assert cfg['flake8']['max-line-length'] == '99'


@pytest.fixture(scope='module')
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Build the wheel from a copy of the sources (the checkout stays clean)."""
    src = tmp_path_factory.mktemp('src')
    for name in ('setup.py', 'setup.cfg', 'package.xml'):
        shutil.copy(ROOT / name, src / name)
    for name in ('resource', 'dada_ros', 'launch', 'config', 'rviz'):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    dist = tmp_path_factory.mktemp('dist')
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
         '--no-index', '-w', str(dist), str(src)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(dist.glob('dada_ros-*.whl'))
    assert len(wheels) == 1
    return zipfile.ZipFile(wheels[0])


def test_wheel_installs_the_ament_share_files(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    data = 'dada_ros-0.1.0.data/data/share/'
    assert data + 'ament_index/resource_index/packages/dada_ros' in names
    assert data + 'dada_ros/package.xml' in names
    expected = [p for pattern in ('launch/*.launch.py', 'config/*.yaml', 'config/*.xml',
                                  'rviz/*.rviz') for p in ROOT.glob(pattern)]
    assert any(p.suffix == '.xml' for p in expected), 'config/ has no Fast DDS profile'
    for path in expected:
        assert data + 'dada_ros/' + path.relative_to(ROOT).as_posix() in names, path
    for path in (ROOT / 'dada_ros' / 'weights').glob('*.pt'):
        assert 'dada_ros/weights/' + path.name in names, path
    assert 'dada_ros/core/sync.py' in names and 'dada_ros/tools/sample.py' in names
    assert not any(n.startswith('test/') for n in names)


def test_console_scripts_point_to_existing_functions(wheel: zipfile.ZipFile) -> None:
    info = [n for n in wheel.namelist() if n.endswith('.dist-info/entry_points.txt')]
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel.read(info[0]).decode())
    scripts = dict(entry_points['console_scripts'])
    assert scripts['dada_node'] == 'dada_ros.ros.node:main'
    assert scripts['dada_demo'] == 'dada_ros.tools.demo:main'
    for name, target in scripts.items():
        module, _, function = target.partition(':')
        assert callable(getattr(importlib.import_module(module), function)), name


def _text_files() -> List[Path]:
    files = [ROOT / 'setup.py', ROOT / '.ci' / 'run']
    for folder in ('dada_ros', 'test', 'scripts', 'launch', 'benchmarks'):
        files += [p for p in (ROOT / folder).rglob('*')
                  if p.is_file() and p.suffix in ('.py', '.sh', '.yaml')
                  and '__pycache__' not in p.parts]
    return files


def test_every_source_file_has_the_licence_header() -> None:
    missing = []
    for path in _text_files():
        lines = path.read_text().splitlines()
        if lines and lines[0].startswith('#!'):
            lines = lines[1:]
        if tuple(lines[:2]) != HEADER:
            missing.append(str(path.relative_to(ROOT)))
    for path in list(ROOT.glob('config/*')) + list(ROOT.glob('rviz/*')) + [ROOT / 'package.xml']:
        text = path.read_text()
        if 'SPDX-License-Identifier: Apache-2.0' not in text or HEADER[0][2:] not in text:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, f'files without the Apache-2.0 header: {missing}'


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = ROOT / '.ci' / 'run'
    assert ci.stat().st_mode & 0o111, '.ci/run must be executable'
    text = ci.read_text()
    assert 'set -euo pipefail' in text
    commands = [line for line in text.splitlines()
                if line.strip() and not line.startswith('#') and not line.startswith('set ')
                and not line.startswith('cd ') and not line.startswith('echo ')]
    assert commands == ['bash scripts/test.sh']
    readme = (ROOT / 'README.md').read_text()
    assert 'bash scripts/test.sh' in readme and 'bash scripts/demo.sh' in readme


@pytest.mark.parametrize('script', sorted(p.name for p in (ROOT / 'scripts').glob('*.sh')))
def test_shell_scripts_parse(script: str) -> None:
    result = subprocess.run(['bash', '-n', str(ROOT / 'scripts' / script)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_localhost_wrapper_sets_the_discovery_variables() -> None:
    result = subprocess.run(
        ['bash', str(ROOT / 'scripts' / 'localhost.sh'), 'sh', '-c',
         'echo "$ROS_AUTOMATIC_DISCOVERY_RANGE $ROS_LOCALHOST_ONLY"; ip -o link 2>/dev/null '
         '| wc -l'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:2] == ['LOCALHOST', '1']
    if 'loopback-only network namespace' in result.stderr:
        assert lines[2] == '1'  # only lo is visible inside the namespace


def test_test_script_fails_when_no_test_runs(tmp_path: Path) -> None:
    # test.sh must turn pytest's "no tests collected" (exit 5) into a failure.
    text = (ROOT / 'scripts' / 'test.sh').read_text()
    assert '-eq 5' in text and 'no tests ran' in text
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 5  # the code test.sh maps to a failure
