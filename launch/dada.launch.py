# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
r"""Launch dada_node (and optionally rviz2) for guided depth super-resolution.

Example::

    ros2 launch dada_ros dada.launch.py rgb_image:=/camera/color/image_raw \\
        rgb_camera_info:=/camera/color/camera_info \\
        depth_image:=/camera/aligned_depth_to_color/image_raw iterations:=32 use_rviz:=true

The parameters file is handed to the node as a file and rcl applies it, with its usual
rules: the shipped ``config/dada.yaml`` uses the key ``/**/dada_node``, so it applies in
any ``namespace``. ``device`` and ``iterations`` override the file when not empty.
Large images with best-effort QoS need the shared-memory Fast DDS profile: set
``FASTDDS_DEFAULT_PROFILES_FILE=<share>/dada_ros/config/fastdds_shm.xml`` for all processes
(Jazzy's Fast DDS 2.x reads ``FASTRTPS_DEFAULT_PROFILES_FILE`` instead: set both).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Union

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

PACKAGE = 'dada_ros'
EXECUTABLE = 'dada_node'


def _node_parameters(params_file: str, device: str,
                     iterations: str) -> List[Union[str, Dict[str, Any]]]:
    """``parameters`` of the node: the YAML file (rcl applies it), then the overrides."""
    parameters: List[Union[str, Dict[str, Any]]] = [params_file] if params_file else []
    overrides: Dict[str, Any] = {}
    if device:
        overrides['device'] = device
    if iterations:
        overrides['iterations'] = int(iterations)
    if overrides:
        parameters.append(overrides)
    return parameters


def _launch_setup(context: LaunchContext) -> List[Node]:
    def value(name: str) -> str:
        """Resolve one launch argument."""
        return LaunchConfiguration(name).perform(context)

    share = get_package_share_directory(PACKAGE)
    namespace = value('namespace')
    node = Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=EXECUTABLE,
        namespace=namespace,
        output='screen',
        emulate_tty=True,
        parameters=[_node_parameters(value('params_file'), value('device'),
                                     value('iterations'))],
        remappings=[('rgb/image', value('rgb_image')),
                    ('rgb/camera_info', value('rgb_camera_info')),
                    ('depth/image', value('depth_image'))],
    )
    rviz = Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        namespace=namespace,
        arguments=['-d', os.path.join(share, 'rviz', 'dada.rviz')],
        remappings=[('rgb/image', value('rgb_image'))],
        condition=IfCondition(value('use_rviz')),
    )
    return [node, rviz]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and start dada_node (and rviz2 when use_rviz is true)."""
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file', default_value=os.path.join(share, 'config', 'dada.yaml'),
            description='YAML parameters file of dada_node (ros2 params file format).'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of dada_node (and rviz2); relative topics live in it.'),
        DeclareLaunchArgument(
            'rgb_image', default_value='rgb/image',
            description='RGB image topic (rgb8, bgr8, rgba8, bgra8 or mono8).'),
        DeclareLaunchArgument(
            'rgb_camera_info', default_value='rgb/camera_info',
            description='CameraInfo topic of the RGB camera (its K defines the point cloud).'),
        DeclareLaunchArgument(
            'depth_image', default_value='depth/image',
            description='Depth image topic (16UC1 millimetres or 32FC1 metres), registered '
                        'to the RGB camera, its size the RGB size divided by an integer.'),
        DeclareLaunchArgument(
            'use_rviz', default_value='false',
            description='Start rviz2 with rviz/dada.rviz (RGB, dense depth, point cloud).'),
        DeclareLaunchArgument(
            'device', default_value='',
            description='Torch device override: auto, cpu, cuda or cuda:N (empty = from '
                        'params_file).'),
        DeclareLaunchArgument(
            'iterations', default_value='',
            description='Diffusion iterations per frame override (empty = from params_file).'),
        OpaqueFunction(function=_launch_setup),
    ])
