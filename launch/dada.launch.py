# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
r"""Launch dada_node (and optionally rviz2) for guided depth super-resolution.

Example::

    ros2 launch dada_ros dada.launch.py rgb_image:=/camera/color/image_raw \\
        rgb_camera_info:=/camera/color/camera_info \\
        depth_image:=/camera/aligned_depth_to_color/image_raw iterations:=32 use_rviz:=true

Real sensors: ``preset:=realsense_unaligned`` (or a path) adds a camera preset from
``config/preset_*.yaml`` (its parameters after ``params_file``, its remappings); the topic
arguments below override its remappings when given. ``rgb_transport``, ``depth_transport``,
``depth_source`` and ``depth_mode`` override the files when not empty; the compressed
topics follow the image topics (``<rgb_image>/compressed``,
``<depth_image>/compressedDepth``, as image_transport names them). ``use_sim_time`` (with
``dada_play_bag --clock``), ``log_level`` and ``rviz_fixed_frame`` do what they say.

The parameters file is handed to the node as a file and rcl applies it, with its usual
rules: the shipped ``config/dada.yaml`` uses the key ``/**/dada_node``, so it applies in
any ``namespace``. ``device`` and ``iterations`` override the file when not empty.
Large images with best-effort QoS need the shared-memory Fast DDS profile: set
``FASTDDS_DEFAULT_PROFILES_FILE=<share>/dada_ros/config/fastdds_shm.xml`` for all processes
(Jazzy's Fast DDS 2.x reads ``FASTRTPS_DEFAULT_PROFILES_FILE`` instead: set both).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple, Union

from ament_index_python.packages import get_package_share_directory
from dada_ros.ros.presets import read_preset
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


#: Launch argument -> (the node's input topic, its default).
TOPIC_ARGUMENTS = (('rgb_image', 'rgb/image'), ('rgb_camera_info', 'rgb/camera_info'),
                   ('depth_image', 'depth/image'), ('depth_camera_info', 'depth/camera_info'),
                   ('cloud', 'cloud'))
#: Launch argument -> the parameter it overrides when not empty.
PARAMETER_ARGUMENTS = (('rgb_transport', 'rgb.transport'), ('depth_transport', 'depth.transport'),
                       ('depth_source', 'depth.source'), ('depth_mode', 'depth.mode'))


def _remappings(preset: List[Tuple[str, str]],
                arguments: Dict[str, str]) -> List[Tuple[str, str]]:
    """Remappings of the node: the preset's, then the topic arguments that are not default.

    Each image topic also remaps its image_transport sibling: ``rgb/image/compressed`` to
    ``<rgb image>/compressed`` and ``depth/image/compressedDepth`` to
    ``<depth image>/compressedDepth``.
    """
    remaps = dict(preset)
    for argument, topic in TOPIC_ARGUMENTS:
        target = arguments.get(argument, topic)
        if target and target != topic:
            remaps[topic] = target
    for topic, suffix in (('rgb/image', '/compressed'), ('depth/image', '/compressedDepth')):
        if topic in remaps and topic + suffix not in remaps:
            remaps[topic + suffix] = remaps[topic] + suffix
    return sorted(remaps.items())


def _preset_path(preset: str, share: str) -> str:
    """Return the file of a preset name (``realsense_aligned``); a path stays as it is."""
    if not preset or os.sep in preset or preset.endswith('.yaml'):
        return preset
    return os.path.join(share, 'config', f'preset_{preset}.yaml')


def _launch_setup(context: LaunchContext) -> List[Node]:
    def value(name: str) -> str:
        """Resolve one launch argument."""
        return LaunchConfiguration(name).perform(context)

    share = get_package_share_directory(PACKAGE)
    namespace = value('namespace')
    parameters = _node_parameters(value('params_file'), value('device'), value('iterations'))
    preset_file = _preset_path(value('preset'), share)
    preset_remaps: List[Tuple[str, str]] = []
    if preset_file:
        _, preset_remaps = read_preset(preset_file)
        parameters.insert(1 if value('params_file') else 0, preset_file)
    overrides: Dict[str, Any] = {name: value(argument) for argument, name in PARAMETER_ARGUMENTS
                                 if value(argument)}
    overrides['use_sim_time'] = value('use_sim_time').lower() in ('true', '1', 'yes')
    parameters.append(overrides)
    node = Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=EXECUTABLE,
        namespace=namespace,
        output='screen',
        emulate_tty=True,
        parameters=parameters,
        remappings=_remappings(preset_remaps, {argument: value(argument)
                                               for argument, _ in TOPIC_ARGUMENTS}),
        arguments=['--ros-args', '--log-level', value('log_level')],
    )
    rviz = Node(
        package='rviz2',
        executable='rviz2',
        name='rviz2',
        namespace=namespace,
        arguments=['-d', os.path.join(share, 'rviz', 'dada.rviz'),
                   '-f', value('rviz_fixed_frame')],
        remappings=[('rgb/image', value('rgb_image'))],
        parameters=[{'use_sim_time': overrides['use_sim_time']}],
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
            description='Depth image topic (16UC1/mono16 millimetres or 32FC1 metres): '
                        'registered to the RGB camera (the RGB size divided by an integer, or '
                        'the RGB size), or of another camera with depth_mode register.'),
        DeclareLaunchArgument(
            'depth_camera_info', default_value='depth/camera_info',
            description='CameraInfo of the depth camera (its K), for depth_mode register.'),
        DeclareLaunchArgument(
            'cloud', default_value='cloud',
            description='PointCloud2 topic (e.g. a LiDAR) for depth_source cloud.'),
        DeclareLaunchArgument(
            'preset', default_value='',
            description='Camera preset: realsense_aligned, realsense_unaligned, orbbec, zed '
                        '(config/preset_<name>.yaml) or a preset file; empty = none.'),
        DeclareLaunchArgument(
            'rgb_transport', default_value='',
            description='raw or compressed (rgb/image/compressed); empty = from the files.'),
        DeclareLaunchArgument(
            'depth_transport', default_value='',
            description='raw or compressedDepth (depth/image/compressedDepth); empty = from '
                        'the files.'),
        DeclareLaunchArgument(
            'depth_source', default_value='',
            description='image or cloud; empty = from the files.'),
        DeclareLaunchArgument(
            'depth_mode', default_value='',
            description='auto, lowres, sparse or register; empty = from the files.'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false',
            description='Use /clock (e.g. dada_play_bag --clock) as the node time.'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description='Log level of dada_node: debug, info, warn, error or fatal.'),
        DeclareLaunchArgument(
            'rviz_fixed_frame', default_value='camera_color_optical_frame',
            description='Fixed frame of rviz2 (the optical frame of your RGB camera).'),
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
