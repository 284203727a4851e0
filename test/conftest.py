# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Shared pytest fixtures: a safe ROS environment, an rclpy harness, node processes.

At start-up the test process is moved into a private loopback-only network namespace
when possible (see :func:`ros_helpers.isolate_network`) and the localhost-only ROS
environment is set, so no DDS traffic leaves this machine whoever runs the tests.

Fixtures:

* ``ros`` (module scope): a :class:`ros_helpers.RosHarness` (rclpy context + spinning node).
* ``spawn_node``: factory ``spawn_node(*ros_args, name='node', module='dada_ros.ros.node')``
  returning a started :class:`ros_helpers.NodeProcess` (always subscribed unless the test
  sets ``lazy_subscription``); stopped at the end of the test.
* ``module_node_factory``: the same, stopped at the end of the module.
* ``unique_namespace``: a fresh ROS namespace such as ``/t12345_3``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
import sys
from typing import Any, Callable, Iterator, List

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ros_helpers import isolate_network, NodeProcess, ros_env, RosHarness  # noqa: E402

_NAMESPACES = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    """Isolate the network and set the localhost-only ROS environment early."""
    isolate_network()
    ros_env()


@pytest.fixture(scope='module')
def ros() -> Iterator[RosHarness]:
    """Module-wide rclpy harness."""
    pytest.importorskip('rclpy')
    harness = RosHarness(f'dada_test_{os.getpid()}')
    yield harness
    harness.close()


def _factory(tmp_path: Path, processes: List[NodeProcess]) -> Callable[..., NodeProcess]:
    def spawn(*ros_args: str, name: str = 'node', module: str = 'dada_ros.ros.node',
              extra_env: Any = None) -> NodeProcess:
        """Start one node process (see :class:`ros_helpers.NodeProcess`).

        Unless the test sets ``lazy_subscription`` itself, the node is always subscribed
        (``lazy_subscription:=false``): many tests send input and read only the node's
        counters, with no subscriber to its outputs. The default (lazy) is tested in
        ``test_ros_conventions.py`` and by every client that reads the outputs (demo,
        interop and conformance runs).
        """
        if not any('lazy_subscription' in arg for arg in ros_args):
            ros_args = (*ros_args, '-p', 'lazy_subscription:=false')
        process = NodeProcess(tmp_path / 'logs', ros_args, module=module,
                              name=f'{name}_{len(processes)}', extra_env=extra_env)
        processes.append(process)
        return process
    return spawn


@pytest.fixture
def spawn_node(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """Yield a factory for node processes that are stopped when the test ends."""
    processes: List[NodeProcess] = []
    yield _factory(tmp_path, processes)
    for process in processes:
        process.close()


@pytest.fixture(scope='module')
def module_node_factory(
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., NodeProcess]]:
    """Yield a factory for node processes that live for the whole test module."""
    processes: List[NodeProcess] = []
    yield _factory(tmp_path_factory.mktemp('nodes'), processes)
    for process in processes:
        process.close()


@pytest.fixture
def unique_namespace() -> str:
    """Return a ROS namespace no other test of this session uses."""
    return f'/t{os.getpid()}_{next(_NAMESPACES)}'
