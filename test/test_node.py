# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""End-to-end tests of ``dada_node`` in a second process over real rclpy topics.

One node process serves the module (the tests run in file order and share it; stamps grow
monotonically across tests). Images are small and ``iterations`` tiny to stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import itertools
import signal
import time
from typing import Any, Dict, List, Optional

from dada_ros.msgs.clouds import read_points
from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from ros_helpers import diagnostics_values, NodeProcess, RosHarness, wait_until
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header

FRAME = 'camera_color_optical_frame'
H, W, FACTOR = 96, 128, 4
FX, FY, CX, CY = 100.0, 110.0, 63.5, 47.5
TIMEOUT = 60.0  # generous: the CI machine may be loaded
_STAMPS = itertools.count(100)


@dataclass
class Rig:
    """The node under test and the harness endpoints talking to it."""

    ros: RosHarness
    node: NodeProcess
    ns: str
    rgb: Any
    depth: Any
    info: Any
    out_depth: List[Image]
    out_info: List[CameraInfo]
    out_points: List[PointCloud2]
    diagnostics: List[DiagnosticArray]
    camera_info: Optional[CameraInfo] = None
    sent: List[float] = field(default_factory=list)

    def header(self) -> Header:
        """Return a header with a fresh stamp (one second after the previous)."""
        header = Header(frame_id=FRAME)
        header.stamp.sec = next(_STAMPS)
        header.stamp.nanosec = 250_000_000
        return header

    def send(self, rgb_msg: Image, depth_msg: Image) -> Header:
        """Publish camera_info (when set), then the RGB and depth images."""
        if self.camera_info is not None:
            self.camera_info.header = rgb_msg.header
            self.info.publish(self.camera_info)
        self.rgb.publish(rgb_msg)
        self.depth.publish(depth_msg)
        return rgb_msg.header

    def received(self, messages: List[Any], header: Header,
                 timeout: float = TIMEOUT) -> Any:
        """Wait for the message with ``header``'s stamp on one output topic."""
        def find() -> Any:
            """Return the message with the wanted stamp, if it arrived."""
            for msg in list(messages):
                if (msg.header.stamp.sec, msg.header.stamp.nanosec) == \
                        (header.stamp.sec, header.stamp.nanosec):
                    return msg
            return None
        self.assert_alive()
        return wait_until(find, timeout, message=f'output stamped {header.stamp.sec}')

    def stats(self) -> Dict[str, str]:
        """Return the newest diagnostics key/values of the node under test."""
        for array in reversed(list(self.diagnostics)):
            values = diagnostics_values(array, f'{self.ns}/dada_node')
            if values is not None:
                return values
        return {}

    def wait_stats(self, predicate: Any, timeout: float = TIMEOUT) -> Dict[str, str]:
        """Wait until the diagnostics satisfy ``predicate``."""
        return wait_until(lambda: (lambda s: s if s and predicate(s) else None)(self.stats()),
                          timeout, message='diagnostics')

    def assert_alive(self) -> None:
        """Fail with the node's stderr when its process has ended."""
        assert self.node.alive(), f'node died: {self.node.output()[1][-3000:]}'


def make_camera_info(width: int = W, height: int = H) -> CameraInfo:
    """Make a calibrated pinhole camera_info."""
    info = CameraInfo(width=width, height=height, distortion_model='plumb_bob')
    scale = width / W
    info.k = [FX * scale, 0.0, CX * scale, 0.0, FY * scale, CY * scale, 0.0, 0.0, 1.0]
    info.p = [FX * scale, 0.0, CX * scale, 0.0, 0.0, FY * scale, CY * scale, 0.0,
              0.0, 0.0, 1.0, 0.0]
    info.d = [0.0] * 5
    return info


def random_rgb(height: int = H, width: int = W) -> np.ndarray:
    """Make a random RGB image."""
    return np.random.default_rng(height * width).integers(0, 256, (height, width, 3),
                                                          dtype=np.uint8)


@pytest.fixture(scope='module')
def rig(ros: RosHarness, module_node_factory: Any) -> Rig:
    """Start the node in its own namespace and connect publishers and collectors."""
    ns = f'/dada_test_node_{int(time.time() * 1e3) % 100000}'
    node = module_node_factory(
        '-r', f'__ns:={ns}', '-p', 'iterations:=2', '-p', 'fill_holes:=false',
        '-p', 'diagnostics.period:=0.2', '-p', 'sync.slop:=0.01', name='dada')
    rig = Rig(ros=ros, node=node, ns=ns,
              rgb=ros.publisher(Image, f'{ns}/rgb/image', reliable=False),
              depth=ros.publisher(Image, f'{ns}/depth/image', reliable=False),
              info=ros.publisher(CameraInfo, f'{ns}/rgb/camera_info', reliable=False),
              out_depth=ros.collect(Image, f'{ns}/depth_dense/image'),
              out_info=ros.collect(CameraInfo, f'{ns}/depth_dense/camera_info'),
              out_points=ros.collect(PointCloud2, f'{ns}/points'),
              diagnostics=ros.collect(DiagnosticArray, '/diagnostics'))
    ros.wait_for_subscribers([rig.rgb, rig.depth, rig.info], TIMEOUT)
    ros.wait_for_publisher(f'{ns}/points', TIMEOUT)
    rig.wait_stats(lambda s: 'iterations' in s)
    return rig


def _pair(rig: Rig, rgb: np.ndarray, depth: np.ndarray, depth_encoding: str,
          rgb_encoding: str = 'rgb8') -> Header:
    """Publish one RGB-D pair with a fresh common stamp."""
    header = rig.header()
    return rig.send(rgb_to_image(rgb, header, rgb_encoding),
                    array_to_image(depth, depth_encoding, header))


def _same_header(msg: Any, header: Header) -> None:
    assert msg.header.frame_id == header.frame_id
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == \
        (header.stamp.sec, header.stamp.nanosec)


def test_missing_camera_info_still_serves_depth(rig: Rig) -> None:
    """rgb8 + 16UC1 mm without camera_info: dense depth only; an invalid block stays NaN."""
    mm = np.full((H // FACTOR, W // FACTOR), 1500, dtype=np.uint16)
    mm[:4, :4] = 0  # invalid low-res block; fill_holes is false
    header = _pair(rig, random_rgb(), mm, '16UC1')
    msg = rig.received(rig.out_depth, header)
    _same_header(msg, header)
    assert (msg.height, msg.width, msg.encoding) == (H, W, '32FC1')
    dense = image_to_depth(msg)
    assert np.isnan(dense[:16, :16]).all()
    np.testing.assert_allclose(dense[16:, 16:], 1.5, rtol=1e-3)
    np.testing.assert_allclose(dense[:16, 16:], 1.5, rtol=1e-3)
    rig.wait_stats(lambda s: int(s.get('warnings.missing_camera_info', 0)) >= 1
                   and int(s['frames_published']) >= 1)
    assert not any(m.header.stamp.sec == header.stamp.sec for m in rig.out_points)


def test_rgb8_16uc1_outputs_and_cloud_geometry(rig: Rig) -> None:
    """With camera_info: dense depth, camera_info and a cloud that follows the intrinsics."""
    rig.camera_info = make_camera_info()
    rgb = random_rgb()
    mm = np.full((H // FACTOR, W // FACTOR), 2000, dtype=np.uint16)
    header = _pair(rig, rgb, mm, '16UC1')
    dense = image_to_depth(rig.received(rig.out_depth, header))
    np.testing.assert_allclose(dense, 2.0, rtol=1e-3)

    info = rig.received(rig.out_info, header)
    _same_header(info, header)
    assert (info.width, info.height) == (W, H)
    np.testing.assert_allclose(np.asarray(info.k), rig.camera_info.k)

    cloud = rig.received(rig.out_points, header)
    _same_header(cloud, header)
    assert (cloud.height, cloud.width) == (H, W)
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'rgb']
    assert cloud.is_dense is False
    points = read_points(cloud)
    np.testing.assert_allclose(points['z'], dense, rtol=1e-6)
    u, v = np.meshgrid(np.arange(W), np.arange(H))
    np.testing.assert_allclose(points['x'], (u - CX) * dense / FX, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(points['y'], (v - CY) * dense / FY, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(points['rgb'], rgb)


def test_bgr8_32fc1_invalid_pixels_and_runtime_stride(rig: Rig) -> None:
    """bgr8 + 32FC1 metres; NaN and Inf inputs are invalid; points.stride changes at run time."""
    results = rig.ros.set_parameters(f'{rig.ns}/dada_node', {'points.stride': 2})
    assert results[0].successful, results[0].reason
    rgb = random_rgb()
    depth = np.full((H // FACTOR, W // FACTOR), 3.25, dtype=np.float32)
    depth[5, 6] = np.nan
    depth[10, 20] = np.inf
    header = _pair(rig, rgb, depth, '32FC1', rgb_encoding='bgr8')
    dense = image_to_depth(rig.received(rig.out_depth, header))
    assert np.isnan(dense[20:24, 24:28]).all()
    assert np.isnan(dense[40:44, 80:84]).all()
    assert np.isnan(dense).sum() == 32
    np.testing.assert_allclose(dense[~np.isnan(dense)], 3.25, rtol=1e-3)
    cloud = rig.received(rig.out_points, header)
    assert (cloud.height, cloud.width) == (H // 2, W // 2)
    points = read_points(cloud)
    np.testing.assert_array_equal(points['rgb'], rgb[::2, ::2])  # bgr8 was read as BGR
    assert np.isnan(points['z'][10:12, 12:14]).all()
    rig.wait_stats(lambda s: int(s.get('warnings.infinite_depth', 0)) >= 1)


def test_large_image_best_effort_through_profile(rig: Rig) -> None:
    """1280x720 output from 320x180 depth over best effort, via the shipped DDS profile."""
    results = rig.ros.set_parameters(f'{rig.ns}/dada_node', {'points.stride': 8})
    assert results[0].successful
    rig.camera_info = make_camera_info(1280, 720)
    depth = np.full((180, 320), 4.0, dtype=np.float32)
    header = _pair(rig, random_rgb(720, 1280), depth, '32FC1')
    msg = rig.received(rig.out_depth, header, timeout=120.0)
    assert (msg.height, msg.width) == (720, 1280)
    np.testing.assert_allclose(image_to_depth(msg), 4.0, rtol=1e-3)
    cloud = rig.received(rig.out_points, header, timeout=30.0)
    assert (cloud.height, cloud.width) == (90, 160)
    rig.camera_info = make_camera_info()


def test_iterations_change_at_run_time_and_invalid_values_rejected(rig: Rig) -> None:
    """SetParameters: iterations applies to the next frame; bad values come back refused."""
    node = f'{rig.ns}/dada_node'
    accepted = rig.ros.set_parameters(node, {'iterations': 3})
    assert accepted[0].successful, accepted[0].reason
    for name, value, needle in (('iterations', 0, 'iterations'),
                                ('solver', 'bogus', 'solver'),
                                ('sync.slop', -1.0, 'slop'),
                                ('device', 'cpu', 'read-only')):
        result = rig.ros.set_parameters(node, {name: value})[0]
        assert not result.successful, name
        assert needle in result.reason, result.reason
    header = _pair(rig, random_rgb(), np.full((H // FACTOR, W // FACTOR), 1.0, np.float32),
                   '32FC1')
    rig.received(rig.out_depth, header)
    stats = rig.wait_stats(lambda s: s.get('iterations') == '3')
    assert stats['device'] == 'cpu' or stats['device'].startswith('cuda')


def test_cpu_kernel_switches_at_run_time_with_the_same_answer(rig: Rig) -> None:
    """cpu_kernel torch and numba serve the same depth; 'numba' is refused without numba."""
    import importlib.util

    node = f'{rig.ns}/dada_node'
    rgb = random_rgb()
    rows, cols = np.mgrid[0:H // FACTOR, 0:W // FACTOR]
    low = (1.0 + 0.01 * rows + 0.02 * cols).astype(np.float32)
    answers = {}
    kernels = ['torch', 'numba' if importlib.util.find_spec('numba') else None, 'auto']
    for kernel in kernels:
        if kernel is None:  # this venv has no numba: the node must refuse, not pretend
            result = rig.ros.set_parameters(node, {'cpu_kernel': 'numba'})[0]
            assert not result.successful and 'numba' in result.reason, result.reason
            continue
        assert rig.ros.set_parameters(node, {'cpu_kernel': kernel})[0].successful
        header = _pair(rig, rgb, low, '32FC1')
        answers[kernel] = image_to_depth(rig.received(rig.out_depth, header))
    assert np.isfinite(answers['torch']).all()
    for kernel, depth in answers.items():
        np.testing.assert_allclose(depth, answers['torch'], rtol=2e-4)


def test_bad_input_is_counted_and_the_node_keeps_serving(rig: Rig) -> None:
    """Every kind of bad input is logged and counted; the next valid frame is served."""
    low = np.full((H // FACTOR, W // FACTOR), 1.0, dtype=np.float32)

    def expect(kind: str, send: Any, group: str = 'errors') -> None:
        """Send bad input and wait until the node counts it (paced: no queue overflow)."""
        before = int(rig.stats().get(f'{group}.{kind}', 0))
        send()
        rig.wait_stats(lambda s: int(s.get(f'{group}.{kind}', 0)) > before)

    def unknown_encoding() -> None:
        header = rig.header()
        bad = rgb_to_image(random_rgb(), header)
        bad.encoding = 'yuv422'
        rig.send(bad, array_to_image(low, '32FC1', header))

    def data_too_short() -> None:
        header = rig.header()
        short = rgb_to_image(random_rgb(), header)
        short.data = short.data[:-10]
        rig.send(short, array_to_image(low, '32FC1', header))

    def empty_image() -> None:
        header = rig.header()
        empty = Image(header=header, height=0, width=0, encoding='32FC1', step=0)
        rig.send(rgb_to_image(random_rgb(), header), empty)

    def zero_k() -> None:
        info = make_camera_info()
        info.k = [0.0] * 9
        rig.info.publish(info)

    def backwards() -> None:
        header = rig.header()
        header.stamp.sec -= 2  # older than the last stamp
        rig.rgb.publish(rgb_to_image(random_rgb(), header))

    expect('unknown_encoding', unknown_encoding)
    expect('data_too_short', data_too_short)
    expect('empty_image', empty_image)
    expect('size_mismatch', lambda: _pair(rig, random_rgb(), np.ones((25, 32), np.float32),
                                          '32FC1'))  # does not fit
    expect('size_mismatch', lambda: _pair(rig, random_rgb(), np.ones((36, 40), np.float32),
                                          '32FC1'))  # another aspect ratio (2.67 x 3.2)
    expect('bad_camera_info', zero_k)
    header = rig.header()
    expect('all_invalid_depth', lambda: rig.send(
        rgb_to_image(random_rgb(), header),
        array_to_image(np.zeros((H // FACTOR, W // FACTOR), np.uint16), '16UC1', header)),
        group='warnings')
    assert np.isnan(image_to_depth(rig.received(rig.out_depth, header))).all()
    expect('stamp_backwards_rgb', backwards)

    header = _pair(rig, random_rgb(), low, '32FC1')
    assert image_to_depth(rig.received(rig.out_depth, header)).shape == (H, W)
    rig.assert_alive()
    out, err = rig.node.output()
    for kind in ('unknown_encoding', 'data_too_short', 'empty_image', 'size_mismatch',
                 'bad_camera_info', 'all_invalid_depth', 'stamp_backwards_rgb'):
        assert f'[{kind}]' in out + err, kind


def test_busy_worker_keeps_only_the_newest_pair(rig: Rig) -> None:
    """While a slow frame is solved, newer pairs replace each other; drops are counted."""
    node = f'{rig.ns}/dada_node'
    # the torch step (several times slower than numba) keeps the frame busy for seconds
    assert all(r.successful for r in rig.ros.set_parameters(
        node, {'iterations': 30000, 'cpu_kernel': 'torch'}))
    start = rig.stats()
    before, paired = int(start['dropped_busy']), int(start['sync.paired'])
    low = np.full((H // FACTOR, W // FACTOR), 1.0, dtype=np.float32)
    headers = [_pair(rig, random_rgb(), low, '32FC1')]
    # Once the first pair is paired the worker takes it at once and is busy for seconds.
    rig.wait_stats(lambda s: int(s['sync.paired']) > paired)
    time.sleep(0.3)
    headers += [_pair(rig, random_rgb(), low, '32FC1') for _ in range(2)]
    rig.received(rig.out_depth, headers[2])  # the newest pair is always served
    stats = rig.wait_stats(lambda s: int(s['dropped_busy']) > before)
    time.sleep(0.5)
    stamps = {m.header.stamp.sec for m in rig.out_depth}
    served = [h.stamp.sec in stamps for h in headers[:2]]
    assert served == [True, False], served  # the waiting pair was replaced by a newer one
    assert int(rig.stats()['dropped_busy']) == before + 1, stats
    assert all(r.successful for r in rig.ros.set_parameters(
        node, {'iterations': 2, 'cpu_kernel': 'auto'}))


def test_sigint_exits_quickly_and_cleanly(rig: Rig) -> None:
    """SIGINT during a long inference: exit code 0 within 2 s and no traceback."""
    rig.assert_alive()
    assert all(r.successful for r in rig.ros.set_parameters(  # torch step: seconds a frame
        f'{rig.ns}/dada_node', {'iterations': 100000, 'cpu_kernel': 'torch'}))
    before = int(rig.stats()['frames_published'])
    _pair(rig, random_rgb(), np.full((H // FACTOR, W // FACTOR), 1.0, np.float32), '32FC1')
    time.sleep(1.0)  # the worker is now busy with a frame that takes many seconds
    assert int(rig.stats()['frames_published']) == before
    code, seconds = rig.node.stop(signal.SIGINT)
    out, err = rig.node.output()
    assert code == 0, err[-3000:]
    assert seconds < 2.0, f'took {seconds:.2f} s to exit'
    assert 'Traceback' not in out + err


def test_sigterm_and_unavailable_device(spawn_node: Any, ros: RosHarness) -> None:
    """SIGTERM ends the node cleanly; device cuda without CUDA fails with a clear message."""
    import torch
    device = 'cuda:99' if torch.cuda.is_available() else 'cuda'
    failing = spawn_node('-p', f'device:={device}', '-r', '__ns:=/dada_test_cuda', name='cuda')
    ns = f'/dada_test_term_{int(time.time() * 1e3) % 100000}'
    node = spawn_node('-r', f'__ns:={ns}', name='term')
    assert failing.wait(TIMEOUT) != 0
    out, err = failing.output()
    assert 'cannot start' in out + err and 'CUDA' in out + err
    assert 'Traceback' not in out + err
    ros.wait_for_publisher(f'{ns}/points', TIMEOUT)
    wait_until(lambda: 'ready' in ''.join(node.output()), TIMEOUT, message='node ready')
    code, seconds = node.stop(signal.SIGTERM)
    out, err = node.output()
    assert code == 0, err[-3000:]
    assert seconds < 2.0, f'took {seconds:.2f} s to exit'
    assert 'Traceback' not in out + err


def test_learned_model_serves_the_two_pass_answer_of_the_core(spawn_node: Any,
                                                              ros: RosHarness) -> None:
    """model:=learned (the packaged two-pass guide) in a live node equals the core call."""
    from dada_ros.core import DepthUpsampler
    ns = f'/dada_test_learned_{int(time.time() * 1e3) % 100000}'
    node = spawn_node('-r', f'__ns:={ns}', '-p', 'model:=learned', '-p', 'iterations:=24',
                      '-p', 'diagnostics.period:=0.2', name='learned')
    rgb_pub = ros.publisher(Image, f'{ns}/rgb/image', reliable=False)
    depth_pub = ros.publisher(Image, f'{ns}/depth/image', reliable=False)
    out_depth = ros.collect(Image, f'{ns}/depth_dense/image')
    diagnostics = ros.collect(DiagnosticArray, '/diagnostics')
    ros.wait_for_subscribers([rgb_pub, depth_pub], TIMEOUT)
    rows, cols = np.mgrid[0:H, 0:W]
    rgb = random_rgb()
    rgb[..., 1] = np.where((rows > 30) & (cols > 40), 220, 30)  # a colour edge ...
    depth_full = np.where((rows > 30) & (cols > 40), 1.2, 2.5).astype(np.float32)  # ... on depth
    depth = depth_full.reshape(H // FACTOR, FACTOR, W // FACTOR, FACTOR).mean(axis=(1, 3))
    header = Header(frame_id=FRAME)
    header.stamp.sec, header.stamp.nanosec = 7, 500

    def served() -> Optional[Image]:
        """Publish the pair again until its output arrives (best-effort QoS)."""
        for msg in list(out_depth):
            if msg.header.stamp.sec == 7:
                return msg
        rgb_pub.publish(rgb_to_image(rgb, header))
        depth_pub.publish(array_to_image(depth.astype(np.float32), '32FC1', header))
        return None
    msg = wait_until(served, TIMEOUT, interval=0.5, message='depth_dense/image of learned')
    assert node.alive(), node.output()[1][-3000:]
    dense = image_to_depth(msg)
    expected = DepthUpsampler(model='learned', iterations=24, device='cpu')(rgb, depth)
    assert np.allclose(dense, expected, rtol=1e-4, atol=1e-5)
    single = DepthUpsampler(model='rgb', iterations=24, device='cpu')(rgb, depth)
    assert not np.allclose(dense, single, rtol=1e-3)  # the second pass ran
    means = dense.reshape(H // FACTOR, FACTOR, W // FACTOR, FACTOR).mean(axis=(1, 3))
    assert np.allclose(means, depth, rtol=1e-4)

    def reported() -> Optional[Dict[str, str]]:
        for array in reversed(list(diagnostics)):
            values = diagnostics_values(array, f'{ns}/dada_node')
            if values is not None and 'model' in values:
                return values
        return None
    assert wait_until(reported, TIMEOUT, message='diagnostics')['model'] == 'learned'
