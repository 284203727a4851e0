# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Managed (lifecycle) variant of ``dada_node``: console script ``dada_lifecycle_node``.

Same topics, parameters, diagnostics and processing as :mod:`dada_ros.ros.node` (both drive
one :class:`dada_ros.ros.node.DadaEngine`); only the start-up follows the ROS 2 lifecycle:

* unconfigured: parameters are declared, nothing else exists.
* ``configure``: build the upsampler (load the model / weights, pick the device), warm it
  up in the worker thread (first-call costs paid here), create the publishers (lifecycle
  publishers for the outputs, a plain one for ``/diagnostics``) and the diagnostics timer.
  A failure (no CUDA, bad weights) is logged and the node stays unconfigured.
* ``activate``: subscribe to the inputs; frames are processed and published.
* ``deactivate``: unsubscribe, forget queued input; the model stays loaded.
* ``cleanup``: stop the worker, destroy publishers and timer, release the model.
* ``shutdown`` / SIGINT / SIGTERM: as cleanup, then exit (within 2 s, no traceback).

Drive it with ``ros2 lifecycle set /dada_node configure`` (then ``activate``) or the
``change_state`` / ``get_state`` services. Run:
``ros2 run dada_ros dada_lifecycle_node --ros-args -p iterations:=32`` or
``python -m dada_ros.ros.lifecycle_node --ros-args ...``.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from rclpy.exceptions import ParameterException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from .node import DadaEngine
from .process import run

__all__ = ['DadaLifecycleNode', 'main']


class DadaLifecycleNode(LifecycleNode):
    """``dada_node`` as a managed node (see the module docstring for the transitions)."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare the parameters; nothing is loaded before ``configure``."""
        super().__init__('dada_node', **kwargs)
        self.engine = DadaEngine(self)
        self.get_logger().info('dada_node (lifecycle) unconfigured: waiting for configure')

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model, warm it up, create publishers; FAILURE when that is impossible."""
        try:
            self.engine.configure()
        except (RuntimeError, ValueError, OSError, ParameterException) as error:
            self.get_logger().error(f'configure failed: {error}')
            self.engine.cleanup()
            return TransitionCallbackReturn.FAILURE
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start processing and publishing."""
        result = super().on_activate(state)
        self.engine.activate()
        self.get_logger().info('dada_node active')
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop processing and publishing (the model stays loaded)."""
        self.engine.deactivate()
        self.get_logger().info('dada_node inactive')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release the model, the worker and the publishers."""
        self.engine.cleanup()
        self.get_logger().info('dada_node cleaned up (unconfigured)')
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything before the node ends."""
        self.engine.cleanup()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything; SUCCESS returns the node to unconfigured."""
        self.engine.cleanup()
        return TransitionCallbackReturn.SUCCESS

    def stop_worker(self, timeout: float = 1.5) -> bool:
        """Ask the worker to stop and wait for it; return whether it has finished."""
        return self.engine.stop_worker(timeout)


def main(args: Optional[List[str]] = None) -> int:
    """Run the managed ``dada_node`` until SIGINT / SIGTERM; return the exit code."""
    return run(DadaLifecycleNode, 'dada_lifecycle_node', args)


if __name__ == '__main__':
    sys.exit(main())
