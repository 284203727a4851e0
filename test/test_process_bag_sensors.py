# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_process_bag`` on recordings of real sensors: compressed topics and LiDAR clouds.

The bags come from ``dada_make_sample_bag`` (cv2-encoded JPEG / compressedDepth, a
LiDAR-like ``PointCloud2`` in its own frame); the results are scored against the bag's
ground truth, and compared with the same bag recorded raw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from dada_ros.msgs.conversions import image_to_depth
from dada_ros.tools import process_bag as pb
from dada_ros.tools.bag_io import BagReader, deserialize, message_class
from dada_ros.tools.make_sample_bag import make_sample_bag, SAMPLE_CLOUD_TO_RGB, SampleBagOptions
from dada_ros.training.completion_baselines import linear_fill
import numpy as np

FAST = {'iterations': 16, 'device': 'cpu', 'model': 'rgb'}
BAG: Dict[str, Any] = {'duration': 0.6, 'rate': 5.0, 'width': 160, 'height': 120, 'factor': 4}


def _read(path: Path) -> Dict[str, List[Any]]:
    out: Dict[str, List[Any]] = {}
    with BagReader(path) as reader:
        types = {name: message_class(info.msgtype) for name, info in reader.topics.items()}
        for raw in reader.messages():
            out.setdefault(raw.topic, []).append(deserialize(raw.data, types[raw.topic]))
    return out


def _rmse(report: pb.Report) -> float:
    return float(np.sqrt(np.mean([row.dada.rmse ** 2 for row in report.evaluation])))


def test_compressed_topics_are_chosen_by_type(tmp_path: Path) -> None:
    """Read CompressedImage rgb and compressedDepth topics: every frame, RMSE like the raw bag."""
    make_sample_bag(tmp_path / 'raw', SampleBagOptions(**BAG))
    make_sample_bag(tmp_path / 'packed', SampleBagOptions(
        **BAG, rgb_transport='compressed', depth_transport='compressedDepth',
        depth_codec='rvl'))
    params = pb.resolve_parameters({}, FAST)
    raw = pb.process_bag(tmp_path / 'raw', tmp_path / 'raw_out', params)
    topics = pb.Topics(rgb='/rgb/image/compressed', depth='/depth/image/compressedDepth')
    packed = pb.process_bag(tmp_path / 'packed', tmp_path / 'packed_out', params, topics,
                            write_confidence=True)
    assert raw.frames == packed.frames == 3
    assert packed.bad == {} and packed.warnings == {}
    # The depth path is lossless (16UC1 RVL): the depth-only bicubic baseline is unchanged;
    # the RGB-guided result moves with the JPEG noise of a tiny 160x120 image only.
    for plain, compressed in zip(raw.evaluation, packed.evaluation):
        assert plain.bicubic == compressed.bicubic
    assert _rmse(packed) < 1.3 * _rmse(raw)
    out = _read(tmp_path / 'packed_out')
    assert len(out['/depth_dense/confidence']) == 3
    confidence = np.nan_to_num(image_to_depth(out['/depth_dense/confidence'][0]))
    assert 0.0 <= confidence.min() and confidence.max() <= 1.0
    assert '/depth_sparse/image' not in out  # nothing registered or projected


def test_cloud_topic(tmp_path: Path) -> None:
    """Pair a --cloud-topic with cloud.to_rgb: frames from the LiDAR-like cloud."""
    make_sample_bag(tmp_path / 'bag', SampleBagOptions(
        **BAG, cloud_topic='/points_raw'))
    params = pb.resolve_parameters({}, {**FAST, 'cloud.to_rgb': SAMPLE_CLOUD_TO_RGB})
    topics = pb.Topics(cloud='/points_raw')
    report = pb.process_bag(tmp_path / 'bag', tmp_path / 'out', params, topics,
                            write_sparse=True)
    assert report.frames == 3 and report.bad == {}, report.lines()
    assert report.received['cloud'] == 3 and report.received.get('depth', 0) == 0
    # The projected cloud is emitted on depth_sparse/image, counted like every output.
    assert report.emitted == {'depth_dense/image': 3, 'depth_dense/camera_info': 3,
                              'points': 3, 'depth_sparse/image': 3}
    assert all(report.written[f'/{topic}'] == 3 for topic in report.emitted)
    out = _read(tmp_path / 'out')
    sparse = image_to_depth(out['/depth_sparse/image'][0])
    dense = image_to_depth(out['/depth_dense/image'][0])
    gt = image_to_depth(out['/depth_gt/image'][0])
    hit = np.isfinite(sparse)
    np.testing.assert_allclose(sparse[hit], gt[hit], rtol=1e-4)
    np.testing.assert_array_equal(dense[hit], sparse[hit])  # measurements kept
    # Completed like sparse depth: in the range of plain interpolation of the same points
    # (the rows above the top beam have no point at all, whatever the method).
    scored = np.isfinite(gt) & ~hit
    linear = linear_fill(sparse)
    dada_rmse = float(np.sqrt(np.mean((dense[scored] - gt[scored]) ** 2)))
    linear_rmse = float(np.sqrt(np.mean((linear[scored] - gt[scored]) ** 2)))
    assert dada_rmse < 1.25 * linear_rmse, (dada_rmse, linear_rmse)


def test_cloud_without_transform_is_counted(tmp_path: Path) -> None:
    """Offline there is no TF: an empty cloud.to_rgb rejects every frame, counted."""
    make_sample_bag(tmp_path / 'bag', SampleBagOptions(
        **BAG, cloud_topic='/points_raw'))
    report = pb.process_bag(tmp_path / 'bag', tmp_path / 'out', pb.resolve_parameters({}, FAST),
                            pb.Topics(cloud='/points_raw'))
    assert report.frames == 0
    assert report.bad == {'frame.no_transform': 3}


def test_command_line(tmp_path: Path) -> None:
    """The options reach the tool from the command line."""
    make_sample_bag(tmp_path / 'bag', SampleBagOptions(
        **BAG, cloud_topic='/points_raw', rgb_transport='compressed'))
    code = pb.main([str(tmp_path / 'bag'), str(tmp_path / 'out'), '--cloud-topic',
                    '/points_raw', '--rgb-topic', '/rgb/image/compressed', '--sparse',
                    '--confidence', '--no-progress', '-p', 'iterations:=8', '-p',
                    'model:=rgb', '-p', 'device:=cpu', '-p',
                    # Quoted, as on a ROS command line: an unquoted [..] is a double array.
                    f"cloud.to_rgb:='{SAMPLE_CLOUD_TO_RGB}'"])
    assert code == 0
    out = _read(tmp_path / 'out')
    assert len(out['/depth_sparse/image']) == len(out['/depth_dense/confidence']) == 3
