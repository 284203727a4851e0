# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""ROS 2 Jazzy and Kilted processes talk to each other through ``dada_node``.

Two virtual environments take part: ``.venv`` (this Python, Kilted: rclpy 9.1) and
``.venv-jazzy`` (``scripts/setup_jazzy.sh``: rclpy 7.1 with the Jazzy message packages).

* a Kilted ``dada_node`` serves a Jazzy client (``test/interop_client.py``): it publishes
  RGB, depth and camera info and receives the dense depth with its stamp;
* a Jazzy ``dada_node`` serves a Kilted client (the same script under this Python).

Every process runs in this test's loopback-only network namespace with localhost-only
discovery (``ros_helpers.ros_env``); children of the other venv get an environment without
the Kilted wheels' ``LD_LIBRARY_PATH`` and bootstrap marker. Without ``.venv-jazzy`` the
tests skip with a message, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List, Optional

import pytest
from ros_helpers import REPO, ros_env

JAZZY_PYTHON = REPO / '.venv-jazzy' / 'bin' / 'python'
CLIENT = REPO / 'test' / 'interop_client.py'
NODE_ARGS = ['-p', 'iterations:=16', '-p', 'qos.reliable_input:=true',
             '-p', 'points.enable:=false']
CLIENT_TIMEOUT = 120.0
_COUNTER = iter(range(1000))


def child_env() -> Dict[str, str]:
    """Environment for a Python of either venv: localhost-only DDS, no Kilted bootstrap.

    The shipped Fast DDS profile goes by both names: Jazzy's Fast DDS 2.x reads only
    ``FASTRTPS_DEFAULT_PROFILES_FILE``.
    """
    env = ros_env()
    for key in ('LD_LIBRARY_PATH', '_ROS_WHEELS_BOOTSTRAP_COMPLETE', 'PYTHONHOME'):
        env.pop(key, None)
    env['FASTRTPS_DEFAULT_PROFILES_FILE'] = env['FASTDDS_DEFAULT_PROFILES_FILE']
    return env


def rclpy_version(python: Path) -> str:
    """Return the ``ros-rclpy`` version installed for ``python``."""
    result = subprocess.run(
        [str(python), '-c', 'import importlib.metadata as m; print(m.version("ros-rclpy"))'],
        capture_output=True, text=True, env=child_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope='module')
def jazzy_python() -> Path:
    """Return the Jazzy venv's Python; skip (fail in CI) when it has not been set up."""
    if not JAZZY_PYTHON.exists():
        message = (f'{JAZZY_PYTHON} is missing: run bash scripts/setup_jazzy.sh '
                   '(scripts/test.sh does)')
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail(message)
        pytest.skip(message)
    version = rclpy_version(JAZZY_PYTHON)
    assert version.startswith('7.'), f'.venv-jazzy has rclpy {version}, not Jazzy 7.x'
    return JAZZY_PYTHON


class Node:
    """``python -m dada_ros.ros.node`` of a given venv, logging to a file."""

    def __init__(self, python: Path, namespace: str, log: Path) -> None:
        """Start the node in ``namespace``."""
        self.log_path = log
        self._log = open(log, 'wb')
        self.process = subprocess.Popen(
            [str(python), '-m', 'dada_ros.ros.node', '--ros-args', '-r', f'__ns:={namespace}',
             *NODE_ARGS], cwd=REPO, env=child_env(), stdout=self._log,
            stderr=subprocess.STDOUT)

    def log(self) -> str:
        """Return the tail of the node's output."""
        self._log.flush()
        return self.log_path.read_text(errors='replace')[-4000:]

    def stop(self) -> Optional[int]:
        """Interrupt the node and return its exit code (killed after 15 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def start_node(tmp_path: Path) -> Iterator[Any]:
    """Yield a node starter: python -> (Node, namespace); the nodes stop at the end."""
    nodes: List[Node] = []

    def start(python: Path) -> Any:
        namespace = f'/interop_{os.getpid()}_{next(_COUNTER)}'
        node = Node(python, namespace, tmp_path / f'node{len(nodes)}.log')
        nodes.append(node)
        return node, namespace

    yield start
    for node in nodes:
        node.stop()


def run_client(python: Path, namespace: str, node: Node) -> Dict[str, Any]:
    """Run the interop client under ``python`` against ``namespace``; return its JSON."""
    start = time.monotonic()
    result = subprocess.run([str(python), str(CLIENT), '--namespace', namespace,
                             '--timeout', str(CLIENT_TIMEOUT)],
                            cwd=REPO, env=child_env(), capture_output=True, text=True,
                            timeout=CLIENT_TIMEOUT + 60)
    assert result.returncode == 0, (
        f'client ({python}) failed after {time.monotonic() - start:.0f} s:\n'
        f'{result.stderr[-3000:]}\nnode log:\n{node.log()}')
    lines = [line for line in result.stdout.splitlines() if line.startswith('{')]
    assert lines, result.stdout
    summary: Dict[str, Any] = json.loads(lines[-1])
    return summary


def check_dense_output(summary: Dict[str, Any]) -> None:
    """Check the answer: full-size dense depth, closer to the truth than the blocky input."""
    assert (summary['width'], summary['height']) == (640, 480)
    assert summary['encoding'] == '32FC1'
    assert summary['frame_id'] == 'camera_optical'
    assert summary['stamp_matches'] is True
    assert summary['valid_fraction'] == 1.0
    assert summary['rmse_m'] < 0.8 * summary['input_rmse_m'], summary


def test_jazzy_client_with_kilted_node(jazzy_python: Path, start_node: Any) -> None:
    node, namespace = start_node(Path(sys.executable))
    summary = run_client(jazzy_python, namespace, node)
    assert summary['distro_rclpy'].startswith('7.'), summary
    check_dense_output(summary)
    assert node.process.poll() is None, node.log()
    assert node.stop() == 0, node.log()


def test_kilted_client_with_jazzy_node(jazzy_python: Path, start_node: Any) -> None:
    node, namespace = start_node(jazzy_python)
    summary = run_client(Path(sys.executable), namespace, node)
    assert summary['distro_rclpy'] == rclpy_version(Path(sys.executable))
    assert not summary['distro_rclpy'].startswith('7.'), summary
    check_dense_output(summary)
    assert node.process.poll() is None, node.log()
    assert node.stop() == 0, node.log()
