# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Offline bag tools: sample bag builder, dada_process_bag, previews and evaluation.

No ROS graph is started: bags are read and written with ``rosbags`` and messages are
(de)serialised with ``rclpy.serialization`` (no rclpy context, no DDS). Images are small
and ``iterations`` low to stay fast.
"""

from __future__ import annotations

import csv
from pathlib import Path
import re
from typing import Any, Dict, List, Sequence, Tuple

from dada_ros.core.geometry import backproject
from dada_ros.core.upsampler import DepthUpsampler
from dada_ros.msgs.clouds import depth_to_pointcloud, read_points
from dada_ros.msgs.conversions import array_to_image, image_to_depth, image_to_rgb, rgb_to_image
from dada_ros.pipeline import FramePipeline, OUTPUT_TOPICS
from dada_ros.tools import process_bag as pb
from dada_ros.tools.bag_io import BagError, BagReader, BagWriter, deserialize, stamp_ns
from dada_ros.tools.make_sample_bag import DEPTH_NOISE, make_sample_bag, SampleBagOptions
from dada_ros.tools.preview import depth_metrics, read_ply
from dada_ros.tools.sample import block_average, sample_scene
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

H, W, FACTOR = 96, 128, 4
OVERRIDES = {'iterations': 16, 'device': 'cpu'}
CLI_OVERRIDES = ['-p', 'iterations:=16', '-p', 'device:=cpu']
OUT_TOPICS = ('/depth_dense/image', '/depth_dense/camera_info', '/points')


def options(**changes: Any) -> SampleBagOptions:
    """Return the options of a small sample bag: 5 frames of 128x96, 32x24 depth."""
    values: Dict[str, Any] = {'duration': 0.5, 'rate': 10.0, 'width': W, 'height': H,
                              'factor': FACTOR}
    values.update(changes)
    return SampleBagOptions(**values)


def params(**changes: Any) -> Dict[str, Any]:
    """Return validated parameters: defaults + the fast overrides + ``changes``."""
    return pb.resolve_parameters({}, {**OVERRIDES, **changes})


def read_all(path: Path) -> Dict[str, List[Tuple[int, Any]]]:
    """Every decodable message of a bag per topic: ``[(log_time, msg), ...]``."""
    classes = {'sensor_msgs/msg/Image': Image, 'sensor_msgs/msg/CameraInfo': CameraInfo,
               'sensor_msgs/msg/PointCloud2': PointCloud2}
    out: Dict[str, List[Tuple[int, Any]]] = {}
    with BagReader(path) as reader:
        for raw in reader.messages():
            if len(raw.data) < 8:  # the deliberately broken message of one test
                continue
            out.setdefault(raw.topic, []).append((raw.log_time,
                                                  deserialize(raw.data, classes[raw.msgtype])))
    return out


def stamps(messages: Sequence[Tuple[int, Any]]) -> List[int]:
    """Return the header stamp in ns of each message."""
    return [stamp_ns(msg.header) for _, msg in messages]


@pytest.fixture(scope='module')
def sample_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write the default small sample bag (sqlite3)."""
    path = tmp_path_factory.mktemp('bags') / 'sample'
    make_sample_bag(path, options())
    return path


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_sample_bag_is_readable_and_consistent(tmp_path: Path, storage: str) -> None:
    """Both storages: all topics, counts, encodings, stamps, calibration and ground truth."""
    path = tmp_path / 'bag'
    frames = make_sample_bag(path, options(storage=storage))
    assert len(frames) == 5
    with BagReader(path) as reader:
        assert reader.storage == storage
        assert {t: (i.msgtype, i.count) for t, i in reader.topics.items()} == {
            '/rgb/image': ('sensor_msgs/msg/Image', 5),
            '/rgb/camera_info': ('sensor_msgs/msg/CameraInfo', 5),
            '/depth/image': ('sensor_msgs/msg/Image', 5),
            '/depth_gt/image': ('sensor_msgs/msg/Image', 5)}
    bag = read_all(path)
    rgb_stamps = stamps(bag['/rgb/image'])
    assert rgb_stamps == [1_700_000_000_000_000_000 + i * 100_000_000 for i in range(5)]
    assert stamps(bag['/depth/image']) == [s + 4_000_000 for s in rgb_stamps]
    assert stamps(bag['/rgb/camera_info']) == rgb_stamps == stamps(bag['/depth_gt/image'])
    # Log times keep camera_info before its image, so a replay has the calibration first.
    assert all(i[0] < r[0] for i, r in zip(bag['/rgb/camera_info'], bag['/rgb/image']))

    _, k_true = sample_scene(H, W)[1:]
    gt_true = sample_scene(H, W)[1]
    rgb_msgs = [m for _, m in bag['/rgb/image']]
    assert {(m.encoding, m.height, m.width, m.header.frame_id) for m in rgb_msgs} == {
        ('rgb8', H, W, 'camera_color_optical_frame')}
    info = bag['/rgb/camera_info'][0][1]
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), k_true)
    assert (info.width, info.height) == (W, H)
    depth_msg = bag['/depth/image'][0][1]
    assert (depth_msg.encoding, depth_msg.height, depth_msg.width) == ('16UC1', H // FACTOR,
                                                                       W // FACTOR)
    gt = image_to_depth(bag['/depth_gt/image'][0][1])
    np.testing.assert_array_equal(gt, gt_true)
    # Low-res depth = block average of the ground truth + distance-dependent noise (mm).
    low = image_to_depth(depth_msg)
    reference = block_average(gt_true, FACTOR)
    assert np.all(np.abs(low - reference) <= 6 * DEPTH_NOISE * reference ** 2 + 6e-4)
    # Frames differ (exposure and noise), the ground truth does not.
    assert not np.array_equal(image_to_rgb(rgb_msgs[0]), image_to_rgb(rgb_msgs[1]))
    assert not np.array_equal(low, image_to_depth(bag['/depth/image'][1][1]))


def test_process_bag_writes_all_topics_at_the_input_stamps(sample_bag: Path,
                                                           tmp_path: Path) -> None:
    """Every input message is copied; outputs per frame at the RGB stamps and frame_ids."""
    out = tmp_path / 'out'
    report = pb.process_bag(sample_bag, out, params())
    assert report.frames == 5 and not report.bad and report.unpaired == {'rgb': 0, 'depth': 0}
    assert report.frames_without_camera_info == 0
    source, result = read_all(sample_bag), read_all(out)
    with BagReader(out) as reader:
        assert reader.storage == 'sqlite3'
    assert set(result) == set(source) | set(OUT_TOPICS)
    for topic, messages in source.items():
        assert [(t, stamp_ns(m.header)) for t, m in result[topic]] == \
            [(t, stamp_ns(m.header)) for t, m in messages]
    rgb_stamps = stamps(source['/rgb/image'])
    depth_logs = [t for t, _ in source['/depth/image']]
    for topic in OUT_TOPICS:
        assert stamps(result[topic]) == rgb_stamps
        assert [t for t, _ in result[topic]] == depth_logs  # the depth image completes a pair
        assert {m.header.frame_id for _, m in result[topic]} == {'camera_color_optical_frame'}
    # Same numbers as the node's path: conversions + DepthUpsampler.up + point cloud.
    upsampler = DepthUpsampler.from_params(OVERRIDES)
    info = source['/rgb/camera_info'][0][1]
    for i in (0, 4):
        rgb = image_to_rgb(source['/rgb/image'][i][1])
        depth = image_to_depth(source['/depth/image'][i][1])
        dense_msg = result['/depth_dense/image'][i][1]
        assert (dense_msg.encoding, dense_msg.height, dense_msg.width) == ('32FC1', H, W)
        dense = upsampler.up(rgb, depth)
        np.testing.assert_array_equal(image_to_depth(dense_msg), dense)
        expected = read_points(depth_to_pointcloud(dense, np.reshape(info.k, (3, 3)),
                                                   None, 1, rgb))
        got = read_points(result['/points'][i][1])
        for name in ('x', 'y', 'z', 'rgb'):
            np.testing.assert_array_equal(got[name], expected[name])
        out_info = result['/depth_dense/camera_info'][i][1]
        assert list(out_info.k) == list(info.k) and list(out_info.p) == list(info.p)
        assert (out_info.width, out_info.height) == (W, H)


def test_outputs_take_the_one_road_and_are_counted_once(sample_bag: Path,
                                                        tmp_path: Path) -> None:
    """The bag tool writes through FramePipeline.emit; its counts are the pipeline's."""
    out = tmp_path / 'out'
    report = pb.process_bag(sample_bag, out, params(), pb.Topics(namespace='/cam'),
                            write_confidence=True)
    result = read_all(out)
    written = {topic: len(messages) for topic, messages in result.items()
               if topic.startswith('/cam/')}
    # What is in the bag is what the pipeline counted as emitted, topic by topic.
    assert written == {f'/cam/{topic}': count for topic, count in report.emitted.items()}
    assert {topic: report.written[topic] for topic in written} == written
    # Registered depth and clouds alone have a depth_sparse/image; every other output is here.
    assert set(report.emitted) == set(OUTPUT_TOPICS.values()) - {'depth_sparse/image'}
    assert set(report.emitted.values()) == {5} and report.frames == 5
    # The report keeps no counts of its own: they are the pipeline's counters.
    assert report.counters['frames'] == report.frames
    assert report.received == report.counters['received'] == {'rgb': 5, 'depth': 5,
                                                              'camera_info': 5, 'gt': 5}
    assert report.pairing is not None and report.sync == report.pairing.stamped
    assert report.sync['paired'] == 5 and report.unpaired == {'rgb': 0, 'depth': 0}
    assert 'frames processed: 5 in' in '\n'.join(report.lines())


def test_emit_counts_only_what_was_sent(sample_bag: Path) -> None:
    """A send that refuses a message (e.g. its publisher is gone) leaves it uncounted."""
    source = read_all(sample_bag)
    pipeline = FramePipeline(params())
    pipeline.add_camera_info(source['/rgb/camera_info'][0][1])
    pipeline.add_rgb(source['/rgb/image'][0][1])
    frames = pipeline.add_depth(source['/depth/image'][0][1])
    assert len(frames) == 1
    outputs = pipeline.process(frames[0])
    sent: List[Tuple[str, Any]] = []

    def send(topic: str, message: Any) -> bool:
        if topic == OUTPUT_TOPICS['points']:
            return False
        sent.append((topic, message))
        return True
    assert pipeline.emit(outputs, send) == ['depth_dense/image', 'depth_dense/camera_info']
    assert [message for _, message in sent] == [outputs.depth, outputs.info]
    assert pipeline.counters.snapshot()['emitted'] == {'depth_dense/image': 1,
                                                       'depth_dense/camera_info': 1}
    # Every key of OUTPUT_TOPICS is the FrameOutputs field its topic carries.
    assert all(hasattr(outputs, name) for name in OUTPUT_TOPICS)


def test_storage_choice_namespace_and_topic_clash(sample_bag: Path, tmp_path: Path) -> None:
    """--storage mcap from sqlite3; --namespace moves outputs; existing outputs are refused."""
    out = tmp_path / 'out_mcap'
    code = pb.main([str(sample_bag), str(out), '--storage', 'mcap', '--namespace', 'dada',
                    '--gt-topic', '', *CLI_OVERRIDES])
    assert code == 0
    with BagReader(out) as reader:
        assert reader.storage == 'mcap'
        assert {'/dada/depth_dense/image', '/dada/depth_dense/camera_info', '/dada/points'} \
            <= set(reader.topics)
        assert reader.topics['/dada/points'].count == 5
    assert not (tmp_path / 'out_mcap_eval').exists()  # --gt-topic '' disables evaluation
    # Processing the result again into the same output names would mix two runs.
    assert pb.main([str(out), str(tmp_path / 'again'), '--namespace', '/dada',
                    *CLI_OVERRIDES]) == 1
    assert not (tmp_path / 'again').exists()


def test_unpaired_missing_camera_info_and_bad_messages_are_counted(tmp_path: Path) -> None:
    """A missing depth frame, no camera_info for the first frames and broken messages."""
    base = tmp_path / 'base'
    make_sample_bag(base, options(duration=0.6, skip_depth=(2,), skip_camera_info=(0, 1),
                                  gt=False))
    source = read_all(base)
    # Add broken messages after the last frame: an unsupported RGB encoding, a truncated
    # depth image, an all-zero (uncalibrated) camera_info and undecodable bytes.
    broken = tmp_path / 'broken'
    last = max(t for messages in source.values() for t, _ in messages)
    header = source['/rgb/image'][-1][1].header
    bad_rgb = rgb_to_image(np.zeros((H, W, 3), np.uint8), header)
    bad_rgb.encoding = 'yuv422'
    short = array_to_image(np.ones((H // FACTOR, W // FACTOR), np.uint16), '16UC1', header)
    short.data = short.data[:10]
    with BagReader(base) as reader, BagWriter(broken, 'sqlite3') as writer:
        for info in reader.topics.values():
            writer.add_topic(info.name, info.msgtype, like=info.connections[0])
        for raw in reader.messages():
            writer.write(raw.topic, raw.msgtype, raw.log_time, raw.data)
        writer.write_msg('/rgb/image', last + 10, bad_rgb)
        writer.write_msg('/depth/image', last + 20, short)
        writer.write_msg('/rgb/camera_info', last + 30, CameraInfo(width=W, height=H))
        writer.write('/depth/image', 'sensor_msgs/msg/Image', last + 40, b'\x00\x01\x00')

    out = tmp_path / 'out'
    report = pb.process_bag(broken, out, params())
    assert report.frames == 5
    assert report.received == {'rgb': 7, 'depth': 7, 'camera_info': 5}
    assert report.unpaired == {'rgb': 1, 'depth': 0}
    assert report.frames_without_camera_info == 2
    assert dict(report.bad) == {'rgb.unknown_encoding': 1, 'depth.data_too_short': 1,
                                'camera_info.bad_camera_info': 1,
                                'depth.deserialize_error': 1}
    result = read_all(out)
    assert len(result['/depth_dense/image']) == 5
    assert len(result['/depth_dense/camera_info']) == len(result['/points']) == 3
    rgb_stamps = stamps(source['/rgb/image'])
    assert stamps(result['/depth_dense/image']) == [s for i, s in enumerate(rgb_stamps)
                                                    if i != 2]
    assert stamps(result['/points']) == rgb_stamps[3:]
    text = '\n'.join(report.lines())
    assert 'unpaired messages: rgb 1, depth 0' in text
    assert 'frames without camera_info: 2' in text
    assert 'rgb.unknown_encoding 1' in text


def test_preview_files_and_evaluation_match_direct_computation(
        sample_bag: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PNG previews, a PLY of the last frame and RMSE / MAE equal to DepthUpsampler.up's."""
    preview = tmp_path / 'preview'
    code = pb.main([str(sample_bag), str(tmp_path / 'out'), '--preview', str(preview),
                    '--preview-every', '2', '--no-progress', *CLI_OVERRIDES])
    assert code == 0
    printed = capsys.readouterr().out
    assert 'frames processed: 5' in printed and 'evaluation over 5 frames' in printed

    import cv2
    for index in (0, 2, 4):
        for kind in ('rgb', 'input', 'dense', 'gt', 'error'):
            path = preview / f'frame_{index:04d}_{kind}.png'
            assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', path
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            assert image is not None and image.shape == (H, W, 3), path
            assert image.std() > 1.0, f'{path} is blank'
    assert not (preview / 'frame_0001_dense.png').exists()

    source = read_all(sample_bag)
    upsampler = DepthUpsampler.from_params(OVERRIDES)
    rows = list(csv.DictReader(open(preview / 'eval.csv')))
    assert len(rows) == 5
    dense = np.empty(0)
    for i, row in enumerate(rows):
        rgb = image_to_rgb(source['/rgb/image'][i][1])
        dense = upsampler.up(rgb, image_to_depth(source['/depth/image'][i][1]))
        expected = depth_metrics(dense, image_to_depth(source['/depth_gt/image'][i][1]))
        assert int(row['frame']) == i
        assert int(row['stamp_ns']) == stamp_ns(source['/rgb/image'][i][1].header)
        assert float(row['rmse_m']) == pytest.approx(expected.rmse, rel=1e-5, abs=1e-6)
        assert float(row['mae_m']) == pytest.approx(expected.mae, rel=1e-5, abs=1e-6)
        assert int(row['pixels']) == H * W
        assert 0.0 < expected.rmse < float(row['bicubic_rmse_m'])  # DADA beats bicubic
    summary = (preview / 'eval.md').read_text()
    mean_rmse = np.mean([float(r['rmse_m']) for r in rows])
    # The summary prints 4 decimals of the full-precision mean; the CSV rows are rounded to 6.
    for text in (summary, printed):
        shown = re.search(r'frames with ground truth: RMSE (\d+\.\d{4}) m', text)
        assert shown is not None, text
        assert float(shown.group(1)) == pytest.approx(mean_rmse, abs=6e-5)

    xyz, colours = read_ply(preview / 'last_frame.ply')
    k = np.reshape(source['/rgb/camera_info'][-1][1].k, (3, 3))
    np.testing.assert_allclose(xyz, backproject(dense, k).reshape(-1, 3), rtol=1e-6)
    np.testing.assert_array_equal(colours, rgb.reshape(-1, 3))


def test_parameters_from_yaml_and_overrides(tmp_path: Path, sample_bag: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """/** then dada_node sections, nested keys, -p wins; invalid values are refused."""
    shipped = pb.packaged_params_file()
    assert shipped is not None and shipped.name == 'dada.yaml'
    assert pb.read_params_file(shipped)['iterations'] == 96
    custom = tmp_path / 'params.yaml'
    custom.write_text('/**:\n  ros__parameters:\n    iterations: 50\n    sync:\n'
                      '      slop: 0.02\n    unknown_thing: 1\n'
                      'dada_node:\n  ros__parameters:\n    iterations: 40\n'
                      'other_node:\n  ros__parameters:\n    iterations: 7\n')
    values = pb.read_params_file(custom)
    assert values == {'iterations': 40, 'sync.slop': 0.02, 'unknown_thing': 1}
    resolved = pb.resolve_parameters(values, dict([pb.parse_override('points.stride:=2'),
                                                   pb.parse_override('sync.slop:=1')]))
    assert resolved['iterations'] == 40 and resolved['points.stride'] == 2
    assert resolved['sync.slop'] == 1.0 and isinstance(resolved['sync.slop'], float)
    assert resolved['model'] == 'rgb'  # the table's default

    out = tmp_path / 'out'
    for bad in (['-p', 'iterations:=0'], ['-p', 'solver:=magic'], ['-p', 'nope:=1'],
                ['-p', 'iterations']):
        assert pb.main([str(sample_bag), str(out), *bad]) == 2
        assert 'error' in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(BagError):
        BagReader(tmp_path / 'missing')


def test_points_parameters_apply_offline(sample_bag: Path, tmp_path: Path) -> None:
    """points.stride / points.color / points.enable change the written cloud like the node."""
    out = tmp_path / 'strided'
    pb.process_bag(sample_bag, out, params(**{'points.stride': 4, 'points.color': False}))
    cloud = read_all(out)['/points'][0][1]
    assert (cloud.height, cloud.width) == (H // 4, W // 4)
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z']
    out = tmp_path / 'no_points'
    report = pb.process_bag(sample_bag, out, params(**{'points.enable': False}))
    assert report.written.get('/points', 0) == 0 and report.written['/depth_dense/image'] == 5
