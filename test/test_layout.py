# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The house rules of the package layout (docs/architecture.md), checked on the code.

* ``dada_ros/core/`` is the run-time core: it imports no rclpy, no message package and
  nothing of ``msgs/``, ``ros/``, ``tools/`` or ``training/``;
* nothing that runs per frame (``core/``, ``msgs/``, ``pipeline.py``, ``ros/``) imports
  ``training/`` or ``tools/``;
* the launch files load no torch (``ros2 launch`` stays light);
* no module over 600 lines, no function over 80 lines (the compiled kernels excepted).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
import subprocess
import sys
from typing import Iterator, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'dada_ros'
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
#: numba kernels are written as one loop nest each, for the compiler's sake.
COMPILED_KERNELS = ('dada_ros/core/kernels.py',)
_ROS = ('rclpy', 'sensor_msgs', 'std_msgs', 'diagnostic_msgs', 'rcl_interfaces',
        'builtin_interfaces', 'geometry_msgs', 'lifecycle_msgs', 'tf2_ros')


def _modules(folder: Path) -> List[Path]:
    return sorted(p for p in folder.rglob('*.py') if '__pycache__' not in p.parts)


def _imports(path: Path) -> Iterator[str]:
    """Absolute names of every module ``path`` imports (relative ones resolved)."""
    package = path.relative_to(ROOT).with_suffix('').parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            yield module
            if node.module is None:  # from . import x
                yield from (f'{module}.{alias.name}' for alias in node.names)


def _offenders(files: List[Path], forbidden: Tuple[str, ...]) -> List[str]:
    return [f'{path.relative_to(ROOT)} imports {name}' for path in files
            for name in _imports(path)
            if any(name == f or name.startswith(f + '.') for f in forbidden)]


def test_core_imports_no_ros_and_nothing_outside_the_core() -> None:
    forbidden = _ROS + ('dada_ros.msgs', 'dada_ros.ros', 'dada_ros.tools', 'dada_ros.training',
                        'dada_ros.pipeline')
    assert not _offenders(_modules(PACKAGE / 'core'), forbidden)


def test_run_time_code_imports_no_tools_and_no_training() -> None:
    files = (_modules(PACKAGE / 'core') + _modules(PACKAGE / 'msgs') + _modules(PACKAGE / 'ros')
             + [PACKAGE / 'pipeline.py'])
    assert not _offenders(files, ('dada_ros.tools', 'dada_ros.training'))


def test_launch_files_load_no_torch() -> None:
    """Import what the launch files import from dada_ros in a fresh interpreter."""
    names = sorted({name for path in (ROOT / 'launch').glob('*.py') for name in _imports(path)
                    if name.startswith('dada_ros')})
    assert names, 'the launch files import nothing of dada_ros'
    code = ('import sys\n' + ''.join(f'import {name}\n' for name in names)
            + "heavy = [m for m in ('torch', 'cv2', 'scipy', 'numba') if m in sys.modules]\n"
            'print(heavy)\nsys.exit(1 if heavy else 0)\n')
    env = {k: v for k, v in os.environ.items() if k != '_ROS_WHEELS_BOOTSTRAP_COMPLETE'}
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, f'{names} load {result.stdout}{result.stderr[-2000:]}'


def test_modules_and_functions_stay_small() -> None:
    problems = []
    for path in _modules(PACKAGE):
        relative = path.relative_to(ROOT).as_posix()
        source = path.read_text(encoding='utf-8')
        lines = source.count('\n')
        if lines > MAX_MODULE_LINES:
            problems.append(f'{relative}: {lines} lines')
        if relative in COMPILED_KERNELS:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f'{relative}:{node.lineno} {node.name}: {length} lines')
    assert not problems, '\n'.join(problems)
