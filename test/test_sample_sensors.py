# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Sample bags as real sensors record them: compressed topics and a LiDAR-like cloud."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, List

from dada_ros.core.registration import pose_to_matrix
from dada_ros.msgs.conversions import image_to_depth, image_to_rgb
from dada_ros.msgs.sensor_inputs import cloud_to_sparse_depth, decode_depth_checked, decode_rgb
from dada_ros.tools.bag_io import BagReader, deserialize, message_class
from dada_ros.tools.make_sample_bag import main, make_sample_bag, SAMPLE_CLOUD_FRAME, \
    SAMPLE_CLOUD_TO_RGB, SampleBagOptions
import numpy as np
import pytest


def _read(path: Path) -> Dict[str, List[Any]]:
    out: Dict[str, List[Any]] = {}
    with BagReader(path) as reader:
        types = {name: message_class(info.msgtype) for name, info in reader.topics.items()}
        for raw in reader.messages():
            out.setdefault(raw.topic, []).append(deserialize(raw.data, types[raw.topic]))
    return out


@pytest.mark.parametrize('encoding, codec', [('16UC1', 'png'), ('32FC1', 'rvl')])
def test_compressed_topics_decode_to_the_raw_frames(tmp_path: Path, encoding: str,
                                                    codec: str) -> None:
    """--rgb-transport compressed / --depth-transport compressedDepth carry the same frames."""
    base = SampleBagOptions(duration=0.4, rate=5.0, width=160, height=120, factor=4,
                            gt=False, depth_encoding=encoding)
    make_sample_bag(tmp_path / 'raw', base)
    make_sample_bag(tmp_path / 'packed', dataclasses.replace(
        base, rgb_transport='compressed', depth_transport='compressedDepth', depth_codec=codec))
    raw, packed = _read(tmp_path / 'raw'), _read(tmp_path / 'packed')
    assert set(packed) == {'/rgb/image/compressed', '/depth/image/compressedDepth',
                           '/rgb/camera_info'}
    for plain, jpeg in zip(raw['/rgb/image'], packed['/rgb/image/compressed']):
        assert jpeg.format == 'rgb8; jpeg compressed bgr8'
        assert jpeg.header == plain.header
        error = np.abs(decode_rgb(jpeg).astype(int) - image_to_rgb(plain).astype(int)).mean()
        assert error < 6.0
    for plain, depth in zip(raw['/depth/image'], packed['/depth/image/compressedDepth']):
        assert depth.format == f'{encoding}; compressedDepth {codec}'
        expected = image_to_depth(plain)
        decoded, _ = decode_depth_checked(depth)
        np.testing.assert_array_equal(np.isfinite(decoded), np.isfinite(expected))
        valid = np.isfinite(expected)
        tolerance = 1e-6 if encoding == '16UC1' else 0.002  # inverse-depth code step
        np.testing.assert_allclose(decoded[valid], expected[valid], rtol=tolerance)


def test_cloud_topic_projects_onto_the_ground_truth(tmp_path: Path) -> None:
    """The sample cloud, moved by SAMPLE_CLOUD_TO_RGB, lands on the ground-truth depth."""
    frames = make_sample_bag(tmp_path / 'bag', SampleBagOptions(
        duration=0.2, rate=5.0, width=320, height=240, factor=8, cloud_topic='/points_raw'))
    messages = _read(tmp_path / 'bag')
    cloud = messages['/points_raw'][0]
    info = messages['/rgb/camera_info'][0]
    assert cloud.header.frame_id == SAMPLE_CLOUD_FRAME
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'intensity']
    sparse = cloud_to_sparse_depth(cloud, pose_to_matrix(SAMPLE_CLOUD_TO_RGB), info, (240, 320))
    gt = frames[0].gt
    hit = np.isfinite(sparse)
    assert 0.01 < hit.mean() < 0.5  # a sparse pattern, not the dense ground truth
    np.testing.assert_allclose(sparse[hit], gt[hit], rtol=1e-4)
    # The LiDAR frame is x forward, z up: the points lie ahead of it (x > 0).
    points = np.frombuffer(bytes(cloud.data), '<f4').reshape(-1, 4)
    assert np.all(points[:, 0] > 0)


def test_command_line_options(tmp_path: Path) -> None:
    """The new options reach the bag from the command line."""
    assert main([str(tmp_path / 'bag'), '--duration', '0.2', '--width', '64', '--height', '48',
                 '--rgb-transport', 'compressed', '--depth-transport', 'compressedDepth',
                 '--depth-codec', 'rvl', '--cloud-topic', '/lidar/points', '--no-gt']) == 0
    assert set(_read(tmp_path / 'bag')) == {'/rgb/image/compressed', '/rgb/camera_info',
                                            '/depth/image/compressedDepth', '/lidar/points'}
