# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Any size ratio: low-res depth of the same field of view at 8/3, 7.5 and 2.5.

Each depth pixel covers a rectangle of the RGB image with fractional edges; the adjustment
(Eq. 3) must make the area-weighted means of those rectangles equal the source, in the API,
in the node (real topics) and in the bag tool. The reference means are computed here from
exact rational overlaps (``fractions``), independently of :mod:`dada_ros.core.footprints`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
import time
from typing import Any, Dict, List, Tuple

import cv2
from dada_ros.core import DepthUpsampler
from dada_ros.core.diffusion import (adjust_step, coefficients, EPS, LAMBDA, reference_diffusion,
                                     unlearned_features)
from dada_ros.core.footprints import Footprints, harmonic_adjust
from dada_ros.core.fractional import FractionalSolver
from dada_ros.core.initial import masked_bicubic
from dada_ros.core.inputs import prepare_lowres, rgb_features, size_ratio
from dada_ros.core.solver import PyramidSolver
from dada_ros.core.upsampler import resolve_depth_mode
import numpy as np
import pytest
import torch
import torch.nn.functional as F

DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'rgbdd_test_split'
#: (RGB size, depth size) per ratio: 8/3 (phone ToF), 7.5 (phone LiDAR), 2.5.
RATIOS: Dict[str, Tuple[Tuple[int, int], Tuple[int, int]]] = {
    '8/3': ((48, 64), (18, 24)), '7.5': ((90, 120), (12, 16)), '2.5': ((40, 60), (16, 24))}


def overlaps(fine: int, coarse: int) -> np.ndarray:
    """``(coarse, fine)`` exact overlap lengths of unit pixels with equal footprints."""
    extent = Fraction(fine, coarse)
    out = np.zeros((coarse, fine))
    for i in range(coarse):
        start, end = i * extent, (i + 1) * extent
        for p in range(int(start), min(fine, int(np.ceil(float(end))) + 1)):
            length = min(end, Fraction(p + 1)) - max(start, Fraction(p))
            if length > 0:
                out[i, p] = float(length)
    return out


def area_means(image: np.ndarray, low_shape: Tuple[int, int]) -> np.ndarray:
    """Area-weighted means (float64) of ``image`` over the footprints of ``low_shape``."""
    rows, cols = overlaps(image.shape[0], low_shape[0]), overlaps(image.shape[1], low_shape[1])
    area = rows[0].sum() * cols[0].sum()
    return rows @ image.astype(np.float64) @ cols.T / area


def scene(big: Tuple[int, int], low: Tuple[int, int],
          seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-planar depth, an RGB image with matching and other edges, exact means."""
    height, width = big
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = 2.0 + 0.002 * rows + 0.001 * cols
    box = (rows > height * 0.3) & (rows < height * 0.7) & (cols > width * 0.25) & \
        (cols < width * 0.6)
    depth[box] = 1.2
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = 60 + 30 * ((cols // 7) % 2)
    rgb[..., 1] = np.where(box, 200, 40)
    rgb[..., 2] = rng.integers(0, 20, (height, width))
    return rgb, depth, area_means(depth, low).astype(np.float32)


def real_tof_frame() -> Tuple[np.ndarray, np.ndarray]:
    """Return a real 512x384 RGB frame and its dense ToF depth in m (RGB-D-D test split)."""
    depth_files = sorted((DATA / 'Depth').glob('*_HR_gt.png'))
    if not depth_files:
        pytest.skip(f'no RGB-D-D frames in {DATA}')
    depth_file = depth_files[3]
    stem = depth_file.name.replace('_HR_gt.png', '')
    bgr = cv2.imread(str(DATA / 'RGB' / f'{stem}_RGB.jpg'), cv2.IMREAD_COLOR)
    millimetres = cv2.imread(str(depth_file), cv2.IMREAD_UNCHANGED)
    assert bgr is not None and millimetres is not None
    return np.ascontiguousarray(bgr[..., ::-1]), millimetres.astype(np.float32) / 1000.0


# --- geometry ------------------------------------------------------------------------------
@pytest.mark.parametrize('ratio', list(RATIOS))
def test_footprint_sums_are_the_exact_overlaps_and_spread_is_their_transpose(ratio: str
                                                                             ) -> None:
    big, low = RATIOS[ratio]
    footprints = Footprints(big, low, torch.device('cpu'))
    assert not footprints.integer
    rng = np.random.default_rng(0)
    image = rng.random(big).astype(np.float32)
    expected = overlaps(big[0], low[0]) @ image.astype(np.float64) @ overlaps(big[1], low[1]).T
    np.testing.assert_allclose(footprints.sums(torch.from_numpy(image)).numpy(), expected,
                               rtol=2e-6)
    values = torch.from_numpy(rng.random(low).astype(np.float32))
    spread = footprints.spread(values).double()
    inner = float((footprints.sums(torch.from_numpy(image)).double() * values.double()).sum())
    assert abs(inner - float((spread * torch.from_numpy(image).double()).sum())) < 1e-4 * inner
    # each pixel's overlap fractions add up to one: a constant spreads to itself
    np.testing.assert_allclose(footprints.spread(torch.full(low, 3.0)).numpy(), 3.0, rtol=1e-6)


def test_size_ratio_accepts_the_same_view_at_any_ratio_and_refuses_others() -> None:
    assert size_ratio((384, 512), (144, 192)) == pytest.approx(8 / 3)
    assert size_ratio((1440, 1920), (192, 256)) == 7.5
    assert size_ratio((40, 60), (16, 24)) == 2.5
    assert size_ratio((480, 640), (60, 80)) == 8 and isinstance(size_ratio((8, 8), (2, 2)), int)
    for rgb, depth in (((480, 640), (60, 79)), ((64, 96), (9, 12)), ((48, 64), (96, 128)),
                       ((48, 64), (0, 0))):
        with pytest.raises(ValueError):
            size_ratio(rgb, depth)
    assert resolve_depth_mode('auto', 8 / 3) == 'lowres'
    assert resolve_depth_mode('lowres', 7.5) == 'lowres'
    with pytest.raises(ValueError):
        resolve_depth_mode('sparse', 2.5)


# --- Eq. 3 on footprints -------------------------------------------------------------------
@pytest.mark.parametrize('ratio', list(RATIOS))
def test_adjustment_gives_exact_area_weighted_means(ratio: str) -> None:
    big, low = RATIOS[ratio]
    rng = np.random.default_rng(1)
    image = torch.from_numpy((0.5 + rng.random(big)).astype(np.float32))
    source = torch.from_numpy((1.0 + 0.3 * rng.random(low)).astype(np.float32))
    valid = torch.ones(low, dtype=torch.bool)
    valid[2, 3] = False
    before = image.clone()
    adjusted, _, updates = harmonic_adjust(image, source, valid,
                                           Footprints(big, low, image.device), EPS)
    assert torch.equal(image, before)  # the caller's tensor is untouched
    assert 1 <= updates < 100 and bool((adjusted > 0).all())
    means = area_means(adjusted.numpy(), low)
    np.testing.assert_allclose(means[valid.numpy()], source.numpy()[valid.numpy()], rtol=2e-6)
    assert abs(means[2, 3] / float(source[2, 3]) - 1.0) > 1e-3  # the invalid one stays free


def test_adjustment_at_an_integer_ratio_is_the_papers_eq3() -> None:
    rng = np.random.default_rng(2)
    image = torch.from_numpy((0.5 + rng.random((1, 1, 24, 32))).astype(np.float32))
    source = torch.from_numpy((1.0 + rng.random((1, 1, 6, 8))).astype(np.float32))
    valid = torch.from_numpy(rng.random((1, 1, 6, 8)) > 0.2)
    blocks = adjust_step(image, source, valid, 4)
    footprints = Footprints((24, 32), (6, 8), image.device)
    assert footprints.integer
    adjusted, _, updates = harmonic_adjust(image, source, valid, footprints, EPS)
    assert updates == 1  # one update is exact without shared pixels
    torch.testing.assert_close(adjusted, blocks, rtol=1e-6, atol=0.0)


# --- solvers and the API -------------------------------------------------------------------
@pytest.mark.parametrize('solver', ['pyramid', 'reference'])
@pytest.mark.parametrize('ratio', list(RATIOS))
def test_upsampler_keeps_exact_means_at_any_ratio(ratio: str, solver: str) -> None:
    big, low = RATIOS[ratio]
    rgb, depth, source = scene(big, low)
    source[0, 0] = np.nan  # an invalid footprint stays free (NaN without hole filling)
    up = DepthUpsampler(iterations=8 if solver == 'reference' else 32, solver=solver,
                        device='cpu')
    dense = up(rgb, source)
    assert dense.shape == big and dense.dtype == np.float32
    assert np.isfinite(dense).all() and (dense > 0).all()
    valid = np.isfinite(source)
    np.testing.assert_allclose(area_means(dense, low)[valid], source[valid], rtol=2e-6)
    # metres and millimetres: the same answer in the caller's unit
    np.testing.assert_allclose(up(rgb, source * 1000.0), dense * 1000.0, rtol=1e-4)
    holes = DepthUpsampler(iterations=4, device='cpu', fill_holes=False,
                           solver=solver)(rgb, source)
    extent = big[0] / low[0]
    inside = int(np.ceil(extent - 0.5))  # pixel centres inside footprint (0, 0)
    assert np.isnan(holes[:inside, :inside]).all()
    assert np.isfinite(holes[inside:, :]).all() and np.isfinite(holes[:, inside:]).all()


@pytest.mark.timeout(400)  # the paper's loop with an exact adjustment per step, three ratios
@pytest.mark.parametrize('ratio', list(RATIOS))
def test_fast_solver_reaches_the_fixed_point_of_the_papers_iteration(ratio: str) -> None:
    """The accelerated solver (rate 1/8, momentum) lands on the paper's loop (rate 0.24)."""
    big, low = RATIOS[ratio]
    rgb, depth, low_depth = scene(big, low)
    source = torch.from_numpy(low_depth)
    valid = torch.ones(low, dtype=torch.bool)
    initial = F.interpolate(source[None, None], size=big, mode='bicubic',
                            align_corners=False).clamp(float(source.min()), float(source.max()))
    features = unlearned_features(rgb_features(rgb, torch.device('cpu')), initial)
    cv, ch = coefficients(features)
    reference = reference_diffusion(initial, cv, ch, source[None, None], valid[None, None],
                                    big[0] / low[0], 3000, rate=LAMBDA)[0, 0]
    fast = FractionalSolver().solve(initial[0, 0], cv[0, 0], ch[0, 0], source, valid,
                                    big[0] / low[0], 800)
    assert float((fast - reference).abs().max()) < 2e-3 * float(reference.max())
    # and it is a fixed point: one more step of the paper's loop barely moves it
    again = reference_diffusion(fast[None, None], cv, ch, source[None, None],
                                valid[None, None], big[0] / low[0], 1)[0, 0]
    assert float((again - fast).abs().max()) < 1e-4 * float(fast.max())
    gt = torch.from_numpy(depth)
    rmse = float(((fast - gt) ** 2).mean().sqrt())
    bicubic = float(((initial[0, 0] - gt) ** 2).mean().sqrt())
    assert rmse < 0.5 * bicubic


def test_real_phone_tof_frame_at_8_3_beats_bicubic_with_exact_means() -> None:
    """192x144 ToF depth beside 512x384 RGB (real RGB-D-D frame): the same field of view."""
    rgb, depth = real_tof_frame()
    assert depth.shape == (384, 512)
    low = area_means(depth, (144, 192)).astype(np.float32)
    dense = DepthUpsampler(device='cpu')(rgb, low)
    np.testing.assert_allclose(area_means(dense, (144, 192)), low, rtol=2e-6)
    bicubic = masked_bicubic(low, np.ones(low.shape, bool), 384 / 144)
    rmse = float(np.sqrt(np.mean((dense - depth) ** 2)))
    rmse_bicubic = float(np.sqrt(np.mean((bicubic - depth) ** 2)))
    assert rmse < rmse_bicubic, (rmse, rmse_bicubic)


def test_integer_factors_give_todays_results() -> None:
    """An integer ratio still runs the pyramid solver on whole blocks, bit for bit."""
    rgb, depth, _ = scene((64, 96), (16, 24))
    low = depth.reshape(16, 4, 24, 4).mean(axis=(1, 3))
    for kernel in ('numba', 'torch'):
        up = DepthUpsampler(model='rgb', iterations=16, device='cpu', cpu_kernel=kernel)
        dense = up(rgb, low)
        prepared = prepare_lowres(low, 4)
        initial = torch.from_numpy(prepared.initial)
        cv, ch = up.guide.coefficients(rgb_features(rgb, up.device), initial[None, None],
                                       scale=prepared.scale)
        direct = PyramidSolver(kernel=kernel).solve(
            initial, cv[0, 0], ch[0, 0], torch.from_numpy(prepared.source),
            torch.from_numpy(prepared.valid), 4, 16)
        expected = (direct * prepared.scale).numpy()  # the float32 product, as up() makes it
        np.testing.assert_array_equal(dense, expected)
    tensor = torch.from_numpy(np.ascontiguousarray(low))[None, None]
    bicubic = F.interpolate(tensor, scale_factor=4, mode='bicubic', align_corners=False)[0, 0]
    # OpenCV's cubic resize (the same kernel, centres and border as torch's, 10x faster at
    # 1280x720) replaced torch's in the start: equal to float32 rounding
    np.testing.assert_allclose(
        masked_bicubic(low, np.ones(low.shape, bool), 4),
        bicubic.clamp(float(low.min()), float(low.max())).numpy(), rtol=1e-6, atol=0)


# --- the node over real topics, and the bag tool ------------------------------------------
def _received(messages: List[Any], stamp: int, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in list(messages):
            if msg.header.stamp.sec == stamp:
                return msg
        time.sleep(0.05)
    raise AssertionError(f'no output stamped {stamp}')


@pytest.mark.parametrize('mode', ['auto', 'lowres'])
def test_node_serves_a_non_integer_pair_through_real_topics(ros: Any, spawn_node: Any,
                                                            unique_namespace: str,
                                                            mode: str) -> None:
    from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header
    ns = unique_namespace
    node = spawn_node('-r', f'__ns:={ns}', '-p', f'depth.mode:={mode}', '-p',
                      'iterations:=16', '-p', 'sync.slop:=0.01', name='fractional')
    rgb_pub = ros.publisher(Image, f'{ns}/rgb/image', reliable=False)
    depth_pub = ros.publisher(Image, f'{ns}/depth/image', reliable=False)
    out = ros.collect(Image, f'{ns}/depth_dense/image')
    ros.wait_for_subscribers([rgb_pub, depth_pub], 60.0)
    ros.wait_for_publisher(f'{ns}/depth_dense/image', 60.0)
    rgb, depth = real_tof_frame()
    low = area_means(depth, (144, 192)).astype(np.float32)
    low[:3, :3] = np.nan  # invalid pixels of a real sensor: filled, left out of the check
    for stamp in range(10, 40):  # resend until the node's subscriptions have matched
        header = Header(frame_id='tof_color_optical_frame')
        header.stamp.sec = stamp
        rgb_pub.publish(rgb_to_image(rgb, header))
        depth_pub.publish(array_to_image(low, '32FC1', header))
        time.sleep(0.3)
        if out:
            break
    assert node.alive(), node.output()[1][-3000:]
    msg = _received(out, out[0].header.stamp.sec if out else stamp)
    assert (msg.height, msg.width) == (384, 512)
    dense = image_to_depth(msg)
    assert np.isfinite(dense).all()
    valid = np.isfinite(low)
    np.testing.assert_allclose(area_means(dense, (144, 192))[valid], low[valid], rtol=2e-6)
    out_text, err_text = node.output()
    assert 'size_mismatch' not in out_text + err_text


def test_bag_tool_processes_a_non_integer_pair(tmp_path: Path) -> None:
    from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
    from dada_ros.tools import process_bag as pb
    from dada_ros.tools.bag_io import BagReader, BagWriter, deserialize, message_class
    from std_msgs.msg import Header
    rgb, depth = real_tof_frame()
    low = area_means(depth, (144, 192)).astype(np.float32)
    with BagWriter(tmp_path / 'in') as writer:
        for index in range(2):
            header = Header(frame_id='tof')
            header.stamp.sec = 100 + index
            stamp_ns = (100 + index) * 10**9
            writer.write_msg('/rgb/image', stamp_ns, rgb_to_image(rgb, header))
            writer.write_msg('/depth/image', stamp_ns + 1, array_to_image(low, '32FC1', header))
            writer.write_msg('/depth_gt/image', stamp_ns + 2,
                             array_to_image(depth, '32FC1', header))
    params = pb.resolve_parameters({}, {'iterations': 32, 'device': 'cpu', 'model': 'rgb'})
    report = pb.process_bag(tmp_path / 'in', tmp_path / 'out', params)
    assert report.frames == 2 and not report.bad, report.lines()
    for row in report.evaluation:  # scored against the measured depth, bicubic beside it
        assert row.bicubic is not None and row.dada.rmse < row.bicubic.rmse
    with BagReader(tmp_path / 'out') as reader:
        types = {name: message_class(info.msgtype) for name, info in reader.topics.items()}
        dense = [image_to_depth(deserialize(raw.data, types[raw.topic]))
                 for raw in reader.messages() if raw.topic == '/depth_dense/image']
    assert len(dense) == 2 and dense[0].shape == (384, 512)
    np.testing.assert_allclose(area_means(dense[0], (144, 192)), low, rtol=2e-6)
