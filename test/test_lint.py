# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The ament code checks of an ament_python package, plus typing and Python versions.

All checks run in processes of their own (never forked from the test process, see
:func:`_run_linter`). Each test has an explicit pytest-timeout bound.

* flake8 through ``ament_flake8`` (its configuration: line length 99, google import order,
  single quotes, docstrings, builtins, comprehensions) over all Python files,
* pep257 through ``ament_pep257`` with the Google convention (the style of the code's
  docstrings; ament's default wants the summary on the second line) and ament's list of
  docstrings that may be missing,
* mypy with ``mypy.ini`` (typed definitions, checked against the Python 3.10 library),
* the syntax of every file with the Python 3.10 and 3.12 interpreters when they are
  installed (pyenv), and always with ``compile(..., feature_version=(3, 10))`` here.

The licence headers are checked in ``test_package.py``. The linters must be installed
(``pip install -e '.[test]'``; ``scripts/setup.sh`` does it): they fail, not skip, when
missing, so that a broken environment cannot pass silently.
"""

from __future__ import annotations

import ast
import glob
import os
from pathlib import Path
import shutil
import subprocess
import sys
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ament's own exceptions (no docstring required in modules, classes, functions...); the
#: rest of its 'ament' convention (summary on the second line, numpy-style section
#: underlines) is replaced by the Google convention that the code's docstrings follow.
AMENT_PEP257_IGNORE = ('D100', 'D101', 'D102', 'D103', 'D104', 'D105', 'D106', 'D107')
#: Folders and files with Python code, relative to the repository root.
PYTHON_PATHS = ('dada_ros', 'test', 'launch', 'benchmarks', 'scripts', 'setup.py')


def python_files() -> List[Path]:
    """Every Python file of the package, the tests, launch files, benchmarks and scripts."""
    files: List[Path] = []
    for name in PYTHON_PATHS:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        else:
            files += sorted(p for p in path.rglob('*.py') if '__pycache__' not in p.parts)
    return files


def _run_linter(code: str, timeout: float) -> 'subprocess.CompletedProcess[str]':
    """Run ``code`` in a fresh interpreter with the repository root as working directory.

    The linters run in a process of their own, never in the test process: flake8 checks
    files with a ``multiprocessing`` pool that forks, and a fork of this process after the
    in-process ROS tests (rclpy executors, torch and numba threads) can crash a worker,
    after which the pool waits for ever for the lost task (issue 25). A fresh interpreter
    has no such threads, and ``timeout`` bounds it anyway.
    """
    env = {k: v for k, v in os.environ.items() if k != '_ROS_WHEELS_BOOTSTRAP_COMPLETE'}
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.mark.flake8
@pytest.mark.timeout(600)  # about 60 s alone on two busy cores; the subprocess has its own 540 s
def test_flake8() -> None:
    code = ('import sys\n'
            'from ament_flake8.main import main_with_errors\n'
            f'rc, errors = main_with_errors(argv={list(PYTHON_PATHS)!r})\n'
            'print(f"{len(errors)} flake8 errors")\n'
            'sys.exit(rc)\n')
    result = _run_linter(code, timeout=540)
    assert 'No module named' not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


@pytest.mark.pep257
@pytest.mark.timeout(600)
def test_pep257() -> None:
    code = ('import sys\n'
            'from ament_pep257.main import main\n'
            "sys.exit(main(argv=['--convention', 'google', '--add-ignore', "
            f"*{list(AMENT_PEP257_IGNORE)!r}, '--', *{list(PYTHON_PATHS)!r}]))\n")
    result = _run_linter(code, timeout=540)
    assert 'No module named' not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 0, \
        f'pep257 errors:\n{result.stdout[-5000:]}{result.stderr[-2000:]}'


#: Ways to fork a Python process without exec. A fork after threads exist (rclpy executors,
#: torch, numba) can deadlock or crash the child (issue 25); subprocess (fork + exec in C)
#: and the 'spawn' start method are safe.
_FORKING = ('import multiprocessing', 'from multiprocessing', 'os.fork(', 'ProcessPoolExecutor',
            'num_workers=')


def test_no_fork_without_exec_in_package_tests_or_tools() -> None:
    offenders = []
    for path in python_files():
        if path.name == 'test_lint.py':
            continue
        for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
            if any(pattern in line for pattern in _FORKING):
                offenders.append(f'{path.relative_to(ROOT)}:{number}: {line.strip()}')
    assert not offenders, 'fork without exec (use subprocess or spawn):\n' + '\n'.join(offenders)


def _mypy(paths: List[str], cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, '-m', 'mypy', '--config-file', str(ROOT / 'mypy.ini'),
         '--cache-dir', str(ROOT / '.mypy_cache'), *paths],
        cwd=cwd, capture_output=True, text=True, timeout=900)
    assert 'No module named mypy' not in result.stderr, 'mypy is not installed (.[test])'
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.mark.timeout(960)  # a cold mypy cache takes minutes on two cores; the subprocess: 900 s
def test_mypy_package_tests_benchmarks_scripts() -> None:
    _mypy(['dada_ros', 'test', 'benchmarks', 'scripts', 'setup.py'], ROOT)


@pytest.mark.timeout(960)
def test_mypy_launch_files() -> None:
    # Checked from inside launch/: from the repository root, the folder launch/ would be
    # taken for the ROS 'launch' package.
    _mypy(sorted(p.name for p in (ROOT / 'launch').glob('*.py')), ROOT / 'launch')


def test_every_file_parses_with_python_3_10_grammar() -> None:
    errors = []
    for path in python_files():
        try:
            ast.parse(path.read_text(), str(path), feature_version=(3, 10))
        except SyntaxError as error:
            errors.append(f'{path.relative_to(ROOT)}:{error.lineno}: {error.msg}')
    assert not errors, '\n'.join(errors)


def _interpreter(version: str) -> Optional[str]:
    """Path of a ``python<version>`` executable (PATH or pyenv), or ``None``."""
    pyenv = os.environ.get('PYENV_ROOT', os.path.expanduser('~/.pyenv'))
    candidates = sorted(glob.glob(f'{pyenv}/versions/{version}.*/bin/python{version}'))
    if candidates:
        return candidates[-1]
    found = shutil.which(f'python{version}')
    if found and '/shims/' not in found:
        return found
    return None


@pytest.mark.parametrize('version', ['3.10', '3.12'])
@pytest.mark.timeout(360)
def test_every_file_compiles_with_python(version: str) -> None:
    python = _interpreter(version)
    if python is None:
        pytest.skip(f'no python{version} interpreter here (the 3.10 grammar is checked '
                    'by test_every_file_parses_with_python_3_10_grammar)')
    script = ('import sys\n'
              'bad = []\n'
              'for path in sys.argv[1:]:\n'
              '    try:\n'
              '        compile(open(path, encoding="utf-8").read(), path, "exec")\n'
              '    except SyntaxError as e:\n'
              '        bad.append(f"{path}:{e.lineno}: {e.msg}")\n'
              'print("\\n".join(bad))\n'
              'sys.exit(1 if bad else 0)\n')
    env = {k: v for k, v in os.environ.items()
           if k not in ('LD_LIBRARY_PATH', '_ROS_WHEELS_BOOTSTRAP_COMPLETE', 'PYTHONPATH',
                        'PYENV_VERSION')}
    result = subprocess.run([python, '-c', script, *map(str, python_files())],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, f'python{version}:\n{result.stdout}{result.stderr}'
