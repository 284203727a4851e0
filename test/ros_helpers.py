# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Reusable machinery for tests that talk to a real ``dada_node`` over real topics.

* :func:`isolate_network` moves the test process into a private, loopback-only network
  namespace when the kernel allows it (root), so DDS traffic cannot leave the process
  tree; :func:`ros_env` is the environment (localhost-only discovery, own domain id,
  the shipped Fast DDS profile) that every rclpy process of the tests uses.
* :class:`NodeProcess` starts ``python -m dada_ros.ros.node`` (or another module) in a second
  process and stops it with a signal.
* :class:`RosHarness` is an rclpy context with one node spun in a background thread:
  publishers, collecting subscriptions, parameter service calls and waiting helpers.

``test/conftest.py`` wires these into pytest fixtures (``ros``, ``spawn_node``).
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib.metadata
import os
from pathlib import Path
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

REPO = Path(__file__).resolve().parents[1]
FASTDDS_PROFILE = REPO / 'config' / 'fastdds_shm.xml'
T = TypeVar('T')

_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_isolation: Optional[bool] = None


def isolate_network() -> bool:
    """Move this process into a new network namespace with only ``lo`` up (idempotent).

    Child processes started afterwards share the namespace, so they reach each other over
    loopback and shared memory but nothing else. Returns ``False`` (and changes nothing)
    where the kernel refuses (no privilege) or ``DADA_NO_NETNS`` (as for
    ``scripts/localhost.sh``) or ``DADA_TEST_NO_NETNS`` is set; the
    localhost-only ROS environment of :func:`ros_env` then still applies.
    """
    global _isolation
    if _isolation is not None:
        return _isolation
    _isolation = False
    if os.environ.get('DADA_NO_NETNS') or os.environ.get('DADA_TEST_NO_NETNS') \
            or not sys.platform.startswith('linux'):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack('16sH14x', b'lo', 0)
        flags = struct.unpack('16sH14x', fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack('16sH14x', b'lo', flags | _IFF_UP))
    _isolation = True
    return True


def fast_dds_2() -> bool:
    """Whether this Python's rclpy is of a distro with Fast DDS 2.x (rclpy <= 7: Jazzy)."""
    try:
        return int(importlib.metadata.version('ros-rclpy').split('.')[0]) <= 7
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False


def ros_env(extra: Optional[Mapping[str, str]] = None,
            domain_id: Optional[int] = None) -> Dict[str, str]:
    """Environment for rclpy processes of the tests (applied to ``os.environ`` too).

    Discovery stays on localhost, the domain id is derived from the pid (unless given),
    and the shipped Fast DDS profile (big shared-memory segment) is used so large images
    pass with best effort QoS.
    """
    settings = {
        'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
        'ROS_LOCALHOST_ONLY': '1',
        'ROS_DOMAIN_ID': str(domain_id if domain_id is not None
                             else os.environ.get('DADA_TEST_DOMAIN_ID', 1 + os.getpid() % 100)),
        'FASTDDS_DEFAULT_PROFILES_FILE': str(FASTDDS_PROFILE),
        'RCUTILS_COLORIZED_OUTPUT': '0',
        'PYTHONUNBUFFERED': '1',
    }
    if fast_dds_2():
        # Fast DDS 2.x (ROS 2 Jazzy) reads only the old name (3.x warns that it is deprecated).
        settings['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(FASTDDS_PROFILE)
    os.environ.update(settings)
    env = dict(os.environ)
    python_path = env.get('PYTHONPATH', '')
    env['PYTHONPATH'] = str(REPO) + (os.pathsep + python_path if python_path else '')
    env.update(extra or {})
    return env


def wait_until(predicate: Callable[[], Optional[T]], timeout: float,
               interval: float = 0.02, message: str = 'condition') -> T:
    """Poll ``predicate`` until it returns a truthy value; ``AssertionError`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout:.1f} s waiting for {message}')
        time.sleep(interval)


class NodeProcess:
    """A ROS node started as a second process; stdout and stderr go to files."""

    def __init__(self, log_dir: Path, ros_args: Sequence[str] = (),
                 module: str = 'dada_ros.ros.node', name: str = 'node',
                 extra_env: Optional[Mapping[str, str]] = None) -> None:
        """Start ``python -m module --ros-args *ros_args``."""
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = log_dir / f'{name}.stdout'
        self.stderr_path = log_dir / f'{name}.stderr'
        self._stdout = open(self.stdout_path, 'wb')
        self._stderr = open(self.stderr_path, 'wb')
        command = [sys.executable, '-m', module]
        if ros_args:
            command += ['--ros-args', *ros_args]
        self.command = command
        self.process = subprocess.Popen(command, cwd=REPO, env=ros_env(extra_env),
                                        stdout=self._stdout, stderr=self._stderr)

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def output(self) -> Tuple[str, str]:
        """Return (stdout, stderr) written so far."""
        self._stdout.flush()
        self._stderr.flush()
        return (self.stdout_path.read_text(errors='replace'),
                self.stderr_path.read_text(errors='replace'))

    def wait(self, timeout: float) -> int:
        """Wait for the process to end by itself and return its exit code."""
        return self.process.wait(timeout)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> Tuple[int, float]:
        """Send ``sig``; return (exit code, seconds until exit). Kills it after ``timeout``."""
        if not self.alive():
            return self.process.returncode, 0.0
        start = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return code, time.monotonic() - start

    def close(self) -> None:
        """Stop the process if it still runs and close the log files."""
        if self.alive():
            self.stop(signal.SIGINT, timeout=5.0)
        self._stdout.close()
        self._stderr.close()


class RosHarness:
    """An rclpy context with one node spinning in a background thread."""

    def __init__(self, name: str = 'dada_test_harness') -> None:
        """Initialise a private rclpy context and start spinning."""
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        ros_env()
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException
        try:
            while self.context.ok():
                self.executor.spin_once(timeout_sec=0.05)
        except (ExternalShutdownException, KeyboardInterrupt):
            pass

    def publisher(self, msg_type: Any, topic: str, reliable: bool = True, depth: int = 10) -> Any:
        """Create a publisher; reliable by default, which also matches best-effort readers."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT)
        with self._lock:
            return self.node.create_publisher(msg_type, topic, qos)

    def collect(self, msg_type: Any, topic: str, reliable: bool = True,
                depth: int = 50) -> List[Any]:
        """Subscribe to ``topic`` and return the list the received messages are appended to."""
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        received: List[Any] = []
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT)
        with self._lock:
            self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def wait_for_subscribers(self, publishers: Iterable[Any], timeout: float = 30.0) -> None:
        """Wait until every publisher is matched by at least one subscription."""
        for pub in publishers:
            wait_until(lambda: pub.get_subscription_count() > 0, timeout,
                       message=f'a subscriber on {pub.topic_name}')

    def wait_for_publisher(self, topic: str, timeout: float = 30.0) -> None:
        """Wait until some node publishes ``topic`` (a fully qualified name)."""
        wait_until(lambda: self.node.count_publishers(topic) > 0, timeout,
                   message=f'a publisher on {topic}')

    def set_parameters(self, node_name: str, values: Mapping[str, Any],
                       timeout: float = 10.0) -> List[Any]:
        """Call ``<node_name>/set_parameters``; return the ``SetParametersResult`` list."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter
        with self._lock:
            client: Any = self.node.create_client(SetParameters, f'{node_name}/set_parameters')
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise AssertionError(f'service {node_name}/set_parameters not available')
            time.sleep(0.3)  # let the response path of this fresh client match (Fast DDS 2.x)
            request = SetParameters.Request()
            request.parameters = [Parameter(name, value=value).to_parameter_msg()
                                  for name, value in values.items()]
            future = client.call_async(request)
            wait_until(future.done, timeout, message='the set_parameters response')
            response: Any = future.result()
            return list(response.results)
        finally:
            with self._lock:
                self.node.destroy_client(client)

    def close(self) -> None:
        """Stop spinning and shut the context down."""
        self.context.try_shutdown()
        self._thread.join(5.0)
        self.executor.shutdown()
        self.node.destroy_node()


def diagnostics_values(array_msg: Any, name_prefix: str) -> Optional[Dict[str, str]]:
    """Key/value dict of the first status in a DiagnosticArray whose name starts with it."""
    for status in array_msg.status:
        if status.name.startswith(name_prefix):
            return {kv.key: kv.value for kv in status.values}
    return None
