# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
r"""Launch one namespaced dada_node per camera, all from one cameras YAML.

Example::

    ros2 launch dada_ros dada_cameras.launch.py \\
        cameras_file:=/path/to/cameras.yaml params_file:=/path/to/dada.yaml

Each camera ``NAME`` of ``cameras_file`` (format: ``dada_ros/ros/cameras.py``, example
``config/cameras.yaml``) becomes ``/NAME/dada_node`` with outputs under ``/NAME``; all nodes
share ``params_file`` and each applies its own ``parameters`` overrides and input remappings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

from ament_index_python.packages import get_package_share_directory
from dada_ros.ros.cameras import camera_nodes
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = 'dada_ros'
EXECUTABLE = 'dada_node'


def _launch_setup(context: LaunchContext) -> List[Node]:
    cameras_file = LaunchConfiguration('cameras_file').perform(context)
    params_file = LaunchConfiguration('params_file').perform(context)
    return [
        Node(package=PACKAGE, executable=EXECUTABLE, name=camera.name,
             namespace=camera.namespace, output='screen', emulate_tty=True,
             parameters=[camera.parameters], remappings=camera.remappings)
        for camera in camera_nodes(Path(cameras_file), Path(params_file) if params_file else None)
    ]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and start one dada_node per camera of cameras_file."""
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument(
            'cameras_file', default_value=os.path.join(share, 'config', 'cameras.yaml'),
            description='YAML with one entry per camera: name (= namespace), optional input '
                        'remappings and parameter overrides.'),
        DeclareLaunchArgument(
            'params_file', default_value=os.path.join(share, 'config', 'dada.yaml'),
            description='YAML parameters file shared by every camera node (empty = defaults).'),
        OpaqueFunction(function=_launch_setup),
    ])
