# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Where the sensor-to-RGB transform comes from: parameter, same frame, TF or a clear error.

``tf2_ros`` does not install from PyPI: here the fallback (no TF) is tested; the TF test
runs where ``tf2_ros`` imports (a ROS installation), with a real static broadcaster.

``depth.to_rgb`` / ``cloud.to_rgb`` take 7 numbers as ROS users type them: a list, ints and
floats mixed, on the command line, in a YAML file and at run time, or the quoted string;
the live tests run ``dada_node`` in a second process.
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import Any, Tuple

from dada_ros.core.params import normalise_ros_arguments, read_params_file
from dada_ros.core.registration import pose_to_matrix
from dada_ros.msgs import transforms
from dada_ros.msgs.transforms import resolve_transform, transform_to_matrix, TransformLookup
from geometry_msgs.msg import Transform
import numpy as np
import pytest
from ros_helpers import wait_until


def test_parameter_wins_and_is_validated() -> None:
    """A set parameter is used as is; a malformed one is an error, not an identity."""
    matrix, source = resolve_transform('depth.to_rgb', '[0.015, 0, 0, 0, 0, 0, 1]',
                                       'color', 'depth', None)
    assert source == 'parameter' and matrix is not None
    np.testing.assert_allclose(matrix, pose_to_matrix([0.015, 0, 0, 0, 0, 0, 1]))
    matrix, reason = resolve_transform('depth.to_rgb', '0.015 0 0', 'color', 'depth', None)
    assert matrix is None and 'depth.to_rgb' in reason and '7' in reason


def test_same_frame_is_identity() -> None:
    """Depth already in the RGB frame needs no transform."""
    matrix, source = resolve_transform('cloud.to_rgb', '', 'cam', 'cam', None)
    assert source == 'same frame' and matrix is not None
    np.testing.assert_array_equal(matrix, np.eye(4))


@pytest.mark.skipif(transforms.tf_available(), reason='tf2_ros is installed here')
def test_without_tf2_ros_the_reason_is_clear() -> None:
    """No tf2_ros: the lookup reports why, and an empty parameter gives a clear error."""
    lookup = TransformLookup(node=None)
    assert not lookup.available
    assert 'tf2_ros is not installed' in lookup.reason
    assert lookup.lookup('color', 'depth') == (None, lookup.reason)
    matrix, reason = resolve_transform('depth.to_rgb', '', 'color_optical', 'depth_optical',
                                       lookup)
    assert matrix is None
    assert 'depth.to_rgb is empty' in reason and 'tf2_ros is not installed' in reason
    assert "'depth_optical'" in reason and "'color_optical'" in reason
    lookup.close()


def test_transform_message_to_matrix() -> None:
    """geometry_msgs/Transform uses the same [x, y, z, qx, qy, qz, qw] convention."""
    message = Transform()
    message.translation.x, message.translation.y, message.translation.z = 0.1, -0.2, 0.3
    half = np.sqrt(0.5)
    message.rotation.z, message.rotation.w = half, half
    np.testing.assert_allclose(transform_to_matrix(message),
                               pose_to_matrix([0.1, -0.2, 0.3, 0, 0, half, half]))


def test_tf_lookup_with_a_static_broadcaster(ros: Any) -> None:
    """Where tf2_ros imports: a static transform is found by the lookup."""
    tf2_ros = pytest.importorskip('tf2_ros')
    from geometry_msgs.msg import TransformStamped
    broadcaster = tf2_ros.StaticTransformBroadcaster(ros.node)
    stamped = TransformStamped()
    stamped.header.frame_id = 'color_optical'
    stamped.child_frame_id = 'depth_optical'
    stamped.transform.translation.x = 0.015
    stamped.transform.rotation.w = 1.0
    broadcaster.sendTransform(stamped)
    lookup = TransformLookup(ros.node)
    deadline = time.monotonic() + 5.0
    matrix, reason = None, ''
    while matrix is None and time.monotonic() < deadline:
        matrix, reason = resolve_transform('depth.to_rgb', '', 'color_optical',
                                           'depth_optical', lookup)
        time.sleep(0.1)
    assert matrix is not None, reason
    np.testing.assert_allclose(matrix[:3, 3], [0.015, 0, 0])
    lookup.close()


# --- transforms as lists of numbers, the ROS way (issue 22 step 6, issue 23) ------------------
def test_a_list_parameter_is_resolved() -> None:
    """A list of 7 numbers (what the parameter holds after coercion) is a transform."""
    matrix, source = resolve_transform('cloud.to_rgb', [0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
                                       'cam', 'lidar', None)
    assert source == 'parameter' and matrix is not None
    np.testing.assert_allclose(matrix[:3, 3], [0.1, 0.0, 0.0])


def test_mixed_number_lists_are_normalised_for_rcl(tmp_path: Path) -> None:
    """``-p`` overrides and ``--params-file`` lists rcl cannot type become floats; nothing else."""
    args = ['dada_node', '--ros-args', '-p', 'cloud.to_rgb:=[0.1,0,0,0,0,0,1]',
            '-p', 'dada_node:depth.to_rgb:=[0,0,0,0,0,0,1]', '-p', 'iterations:=3',
            '--param', "depth.to_rgb:='[0.1, 0, 0, 0, 0, 0, 1]'", '--', '-p',
            'cloud.to_rgb:=[0.1,0,0,0,0,0,1]']
    out = normalise_ros_arguments(args, tmp_path)
    assert out[3] == 'cloud.to_rgb:=[0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]'
    assert out[4:] == args[4:]  # all ints, other parameters, strings, non-ROS arguments
    source = tmp_path / 'in.yaml'
    source.write_text('/**:\n  ros__parameters:\n    iterations: 3\n    cloud:\n'
                      '      to_rgb: [0.1, 0, 0, 0, 0, 0, 1]\n'
                      '/other:\n  ros__parameters:\n    depth.to_rgb: [1, 0, 0, 0, 0, 0, 1.0]\n')
    out = normalise_ros_arguments(['--ros-args', '--params-file', str(source)], tmp_path)
    copy = Path(out[2])
    assert copy != source and copy.parent == tmp_path
    assert read_params_file(copy) == {'iterations': 3,
                                      'cloud.to_rgb': [0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]}
    assert read_params_file(copy, '/other')['depth.to_rgb'] == [1.0, 0, 0, 0, 0, 0, 1.0]
    unchanged = tmp_path / 'plain.yaml'
    unchanged.write_text('/**:\n  ros__parameters:\n    iterations: 3\n')
    plain = ['--ros-args', '--params-file', str(unchanged)]
    assert normalise_ros_arguments(plain, tmp_path) == plain


def _plane_cloud(z: float, frame: str, stamp: Tuple[int, int]) -> Any:
    from hostile_messages import cloud_message
    from std_msgs.msg import Header
    v, u = np.mgrid[0:_H:2, 0:_W:2].astype(np.float64)
    points = np.stack([(u - _W / 2) * z / _FX, (v - _H / 2) * z / _FX, np.full(u.shape, z)],
                      axis=-1).reshape(-1, 3)
    header = Header(frame_id=frame)
    header.stamp.sec, header.stamp.nanosec = stamp
    return cloud_message(points, header=header)


_H, _W, _FX = 24, 32, 40.0


class _CloudRig:
    """A node with ``depth.source: cloud`` (cloud in frame 'lidar', RGB in 'cam')."""

    def __init__(self, ros: Any, spawn_node: Any, ns: str, *args: str) -> None:
        from sensor_msgs.msg import CameraInfo, Image, PointCloud2
        self.ros, self.ns = ros, ns
        self.node = spawn_node('-r', f'__ns:={ns}', '-p', 'depth.source:=cloud', '-p',
                               'qos.reliable_input:=true', '-p', 'iterations:=1', *args,
                               name='transforms')
        self.rgb = ros.publisher(Image, f'{ns}/rgb/image')
        self.cloud = ros.publisher(PointCloud2, f'{ns}/cloud')
        self.info = ros.publisher(CameraInfo, f'{ns}/rgb/camera_info')
        self.out = ros.collect(Image, f'{ns}/depth_dense/image')
        self.stamps = iter(range(1_700_000_000, 1_800_000_000))
        ros.wait_for_subscribers([self.rgb, self.cloud, self.info], 60.0)

    def depth(self, z: float = 2.0) -> float:
        """Send one RGB + cloud pair (plane at ``z`` in 'lidar'); return the median output."""
        from dada_ros.msgs.conversions import image_to_depth, rgb_to_image
        from sensor_msgs.msg import CameraInfo
        from std_msgs.msg import Header
        stamp = (next(self.stamps), 0)
        header = Header(frame_id='cam')
        header.stamp.sec, header.stamp.nanosec = stamp
        info = CameraInfo(header=header, width=_W, height=_H)
        info.k = [_FX, 0.0, _W / 2, 0.0, _FX, _H / 2, 0.0, 0.0, 1.0]
        self.info.publish(info)
        self.rgb.publish(rgb_to_image(np.full((_H, _W, 3), 128, np.uint8), header))
        self.cloud.publish(_plane_cloud(z, 'lidar', stamp))

        def served() -> Any:
            assert self.node.alive(), self.node.output()
            return next((m for m in list(self.out) if m.header.stamp.sec == stamp[0]), None)
        return float(np.nanmedian(image_to_depth(wait_until(served, 60.0,
                                                            message='a dense depth'))))


def test_list_transforms_on_the_command_line_in_yaml_and_at_run_time(
        ros: Any, spawn_node: Any, unique_namespace: str, tmp_path: Path) -> None:
    """Mixed int/float lists as typed on the command line and in a YAML file move the cloud.

    A plane 2 m in front of the lidar moved by z + 1 m is served at 3 m. At run time
    lists (double or integer arrays) and the quoted string apply; ``garbage``, ``[1, 2]``
    and a zero quaternion are refused at set time with the reason and change nothing.
    """
    rig = _CloudRig(ros, spawn_node, unique_namespace, '-p', 'cloud.to_rgb:=[0,0,1.0,0,0,0,1]')
    assert rig.depth() == pytest.approx(3.0, rel=1e-3)
    node = f'{unique_namespace}/dada_node'
    for value, z in (([0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 1.0], 3.5), ([0, 0, 2, 0, 0, 0, 1], 4.0),
                     ('[0, 0, 0.25, 0, 0, 0, 1]', 2.25)):
        assert ros.set_parameters(node, {'cloud.to_rgb': value})[0].successful, value
        assert rig.depth() == pytest.approx(z, rel=1e-3), value
    for value, words in (('garbage', 'not a list of numbers'), ([1, 2], '7 numbers'),
                         ([0.0] * 7, 'zero')):
        result = ros.set_parameters(node, {'cloud.to_rgb': value})[0]
        assert not result.successful and 'cloud.to_rgb' in result.reason, value
        assert words in result.reason, result.reason
    assert rig.depth() == pytest.approx(2.25, rel=1e-3)  # the last valid value still holds
    out, err = rig.node.output()
    assert 'Traceback' not in out + err

    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    cloud:\n'
                      '      to_rgb: [0, 0, 0.5, 0, 0, 0, 1]\n')
    from_file = _CloudRig(ros, spawn_node, unique_namespace + '_yaml', '--params-file',
                          str(params))
    assert from_file.depth() == pytest.approx(2.5, rel=1e-3)


@pytest.mark.parametrize('args, words', [
    (('-p', 'cloud.to_rgb:=garbage'), 'not a list of numbers'),
    (('-p', 'depth.to_rgb:=[1,2]'), '7 numbers'),
    (('-p', 'cloud.to_rgb:=[0,0,0,0,0,0,0.0]'), 'zero'),
    (('--params-file', '/nonexistent/params.yaml'), 'params file'),
    (('-p', 'iterations:=[1,2.5]'), 'Sequence should be of same type'),
    (('--params-file', 'YAML_BAD'), 'params file'),
])
def test_start_up_failures_are_one_line_and_exit_code_1(
        spawn_node: Any, tmp_path: Path, args: Tuple[str, ...], words: str) -> None:
    """Every start-up failure, rcl's argument parsing included: one FATAL line, exit code 1."""
    if 'YAML_BAD' in args:
        bad = tmp_path / 'bad.yaml'
        bad.write_text('/**:\n  ros__parameters:\n    iterations: [3\n')
        args = tuple(str(bad) if arg == 'YAML_BAD' else arg for arg in args)
    node = spawn_node(*args, name='start_up')
    assert node.wait(60.0) == 1
    out, err = node.output()
    lines = [line for line in (out + err).splitlines() if 'cannot start' in line]
    assert len(lines) == 1 and lines[0].startswith('[FATAL]'), out + err
    assert words in lines[0], lines[0]
    assert 'Traceback' not in out + err and '/project/src' not in lines[0]
