# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The process around a node: rclpy start-up, spinning, and a clean, prompt exit.

:func:`run` serves ``dada_node`` and ``dada_lifecycle_node``: start-up failures become one
FATAL line and exit code 1 (never a traceback), SIGINT / SIGTERM end the process within
about a second even while a solve runs.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
import re
import sys
import tempfile
from typing import Any, Callable, List, Optional

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from ..core.params import normalise_ros_arguments

__all__ = ['run']


def run(factory: Callable[[], Node], name: str, args: Optional[List[str]] = None) -> int:
    """Spin the node made by ``factory`` until SIGINT / SIGTERM; return the exit code.

    Start-up errors (arguments rcl cannot parse, no CUDA, bad weights, bad parameters) end
    the process with code 1 and one readable fatal log line, without a traceback. Number
    lists that rcl cannot type (``-p cloud.to_rgb:=[0.1,0,0,0,0,0,1]``, also in a
    ``--params-file``) are rewritten as floats first
    (:func:`dada_ros.core.params.normalise_ros_arguments`).
    """
    try:
        with tempfile.TemporaryDirectory(prefix='dada_params_') as directory:
            rclpy.init(args=normalise_ros_arguments(sys.argv if args is None else args,
                                                    Path(directory)))
    except (RuntimeError, ValueError, OSError) as error:  # rcl: RCLError is a RuntimeError
        rclpy.logging.get_logger(name).fatal(f'{name} cannot start: {_one_line(error)}')
        return 1
    # The executor is made before the node logs 'ready': made after a SIGTERM has shut the
    # context down, its constructor fails half-way and its destructor prints a traceback.
    executor = SingleThreadedExecutor()
    node: Optional[Node] = None
    code = 0
    try:
        node = factory()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (RuntimeError, ValueError, OSError, ParameterException) as error:
        # A signal that shuts the context down while the executor rebuilds its wait set
        # surfaces as RCLError, not ExternalShutdownException: that is a clean stop.
        if rclpy.ok():
            message = f'{name} cannot start: {error}'
            if node is None:
                rclpy.logging.get_logger(name).fatal(message)
            else:
                node.get_logger().fatal(message)
            code = 1
    except Exception as error:  # noqa: B902 - any other start-up failure: one line, code 1
        if node is not None:
            raise
        rclpy.logging.get_logger(name).fatal(
            f'{name} cannot start: {type(error).__name__}: {_one_line(error)}')
        code = 1
    finally:
        engine: Any = getattr(node, 'engine', None)  # DadaEngine on dada_ros' nodes
        finished = engine.stop_worker() if engine is not None else True
        executor.shutdown(timeout_sec=0)
        if node is not None and finished:
            node.destroy_node()
        rclpy.try_shutdown()
        # The process is about to end: exempt the objects alive now from the final garbage
        # collections, which otherwise spend over a second on torch's objects and would
        # break the 2 s shutdown promise on a loaded machine.
        gc.freeze()
        if not finished:
            # An inference call is still running; leave without waiting for it.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return code


def _one_line(error: BaseException) -> str:
    """``error``'s message on one line, without rcl's source locations (``, at file:line``)."""
    return re.sub(r',? at [^\s,]+:\d+', '', ' '.join(str(error).split()))
