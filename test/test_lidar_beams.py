# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Sparser LiDARs (issue 21): rings derived from real KITTI scans, 32 and 16 beams kept.

The completion must stay below linear interpolation on held-out scan pixels with every
ring, every 2nd and every 4th ring of a real HDL-64 scan (``benchmarks/lidar_beams.py``
gives the numbers over all nine frames).
"""

from typing import Dict

from dada_ros.core import DepthUpsampler
from dada_ros.core import sparse as sparse_core
from dada_ros.training import completion_baselines as baselines
from dada_ros.training import lidar
import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))

real_data = pytest.mark.skipif(
    not lidar.shared_data_dir().is_dir(),
    reason=f'real data missing: {lidar.shared_data_dir()} not found')


@pytest.fixture(scope='module')
def scan() -> lidar.KittiScan:
    """Return the first frame of ``kitti_object_lidar`` (a full 360 degree scan)."""
    return lidar.kitti_scans()[0]


@real_data
def test_ring_indices_follow_the_elevation(scan: lidar.KittiScan) -> None:
    rings, count = lidar.ring_indices(scan.points)
    assert count == 64, f'{scan.name}: {count} rings'
    assert rings.shape == (len(scan.points),) and rings.min() == 0 and rings.max() == 63
    assert np.bincount(rings).min() > 500  # every ring is a whole revolution of samples
    # In a narrow azimuth sector, ring k + 1 lies below ring k: one ring's elevation drifts
    # by about a degree around the revolution, but locally the order is the elevation order.
    elevation = lidar.elevation_deg(scan.points)
    azimuth = np.degrees(np.arctan2(scan.points[:, 1], scan.points[:, 0]))
    ordered = pairs = 0
    for low in np.arange(-40.0, 40.0, 2.0):
        sector = (azimuth >= low) & (azimuth < low + 2.0)
        medians = [np.median(elevation[sector & (rings == k)]) for k in range(count)
                   if np.any(sector & (rings == k))]
        steps = np.diff(medians)
        ordered += int(np.sum(steps < 0))
        pairs += len(steps)
    assert ordered >= 0.97 * pairs, f'{ordered} of {pairs} neighbouring rings ordered'
    # every 2nd ring: the kept scan has half the rings, again found from the data
    kept = lidar.keep_rings(scan.points, 2, 1)
    assert lidar.ring_indices(kept)[1] == 32
    assert 0.45 < len(kept) / len(scan.points) < 0.55
    with pytest.raises(ValueError):
        lidar.keep_rings(scan.points, 2, 2)
    with pytest.raises(ValueError):
        # one sweep, no restart: not a scan stored sweep by sweep
        lidar.ring_indices(np.array([[1.0, 0.0, 0.0], [1.0, 0.1, 0.0], [1.0, 0.2, 0.0]]))


def test_scan_line_bridging_follows_a_line_onto_the_next_row() -> None:
    depth = np.zeros((4, 12), np.float32)
    valid = np.zeros((4, 12), bool)
    for row, col, value in ((1, 2, 10.0), (2, 6, 10.4), (1, 9, 10.0), (2, 11, 30.0)):
        depth[row, col], valid[row, col] = value, True
    bridged, filled = sparse_core.bridge_scan_lines(depth, valid, max_gap=4)
    # (1, 2) has no partner on row 1 within 4 px: it joins (2, 6) below, row 1 up to half
    # way, row 2 after it
    assert filled[1, 3] and filled[2, 4] and filled[2, 5] and not filled[1, 4]
    np.testing.assert_allclose(bridged[2, 5], 10.3, rtol=1e-6)
    # (2, 6): its own row's (2, 11) is 5 px away, so it joins (1, 9) above
    assert filled[2, 7] and filled[1, 8] and not filled[1, 7]
    np.testing.assert_allclose(bridged[2, 7], 10.4 - 0.4 / 3, rtol=1e-6)
    # the own row first: with a larger gap (1, 2) joins (1, 9) on its row
    _, same_row = sparse_core.bridge_scan_lines(depth, valid, max_gap=8)
    assert same_row[1, 3:9].all() and not same_row[2, 3:6].any()
    # (1, 9) -> (2, 11) disagree (30 m): not joined
    assert not filled[1, 10] and not filled[2, 10]
    assert not filled[0].any() and not filled[3].any()


def test_both_bridgings_from_one_pairing() -> None:
    """The sparse path pairs once and applies two tolerances: as two separate bridgings."""
    rng = np.random.default_rng(5)
    depth = (rng.random((40, 120)) * 20 + 1).astype(np.float32)
    valid = rng.random((40, 120)) < 0.12
    valid[::4, :] |= rng.random((10, 120)) < 0.6  # some scan-line-like rows
    for max_gap in (3, 9, 25):
        both = sparse_core.bridge_scan_lines_both(depth, valid, max_gap, 0.05)
        expected = sparse_core.bridge_scan_lines(depth, valid, max_gap, 0.05) \
            + sparse_core.bridge_scan_lines(depth, valid, max_gap, np.inf)
        for got, want in zip(both, expected):
            np.testing.assert_array_equal(got, want)
        assert both[3].sum() > both[1].sum() > valid.sum()  # disagreeing pairs exist


def test_line_ends_extend_runs_by_their_end_values() -> None:
    filled = np.zeros((2, 14), bool)
    values = np.zeros((2, 14), np.float32)
    filled[0, 3:5] = True   # a run ending in 4.0 (right) and starting at 3.0 (left)
    values[0, 3:5] = (3.0, 4.0)
    filled[0, 9] = True     # 9.0; columns 5-8 lie between the two runs
    values[0, 9] = 9.0
    filled[1, [0, 4]] = True  # column 2 is 2 px from both: the left one wins
    values[1, [0, 4]] = (1.0, 5.0)
    for kernel in ('torch', 'auto'):  # numpy and (with numba) the compiled row scan
        ends, extended = sparse_core.line_ends(values, filled, 2, kernel)
        np.testing.assert_array_equal(
            extended[0], [0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0])
        # the nearer run wins (column 7: 3 px from the left run, 2 from the right one)
        np.testing.assert_array_equal(ends[0, [1, 2, 5, 6, 7, 8, 10, 11]],
                                      [3, 3, 4, 4, 9, 9, 9, 9])
        assert not ends[0, ~extended[0]].any()
        np.testing.assert_array_equal(extended[1, :8], [0, 1, 1, 1, 0, 1, 1, 0])
        np.testing.assert_array_equal(ends[1, [1, 2, 3, 5, 6]], [1, 1, 5, 5, 5])
        assert not sparse_core.line_ends(values, filled, 0, kernel)[1].any()
    rng = np.random.default_rng(3)
    filled = rng.random((40, 300)) < 0.05
    values = rng.random((40, 300)).astype(np.float32)
    for length in (1, 4, 13):
        slow = sparse_core.line_ends(values, filled, length, 'torch')
        fast = sparse_core.line_ends(values, filled, length)
        np.testing.assert_array_equal(slow[1], fast[1])
        np.testing.assert_array_equal(slow[0], fast[0])


@real_data
def test_scan_lines_are_told_from_the_measurements(scan: lidar.KittiScan) -> None:
    """A real scan at 64, 32 and 16 beams is a scan; scattered samples and holes are not."""
    for every in (1, 2, 4):
        depth = scan.frame(lidar.keep_rings(scan.points, every, 0)).depth
        assert sparse_core.scan_lines(np.isfinite(depth) & (depth > 0)), every
    rng = np.random.default_rng(0)
    for density in (0.01, 0.05, 0.3, 0.55, 0.9):
        assert not sparse_core.scan_lines(rng.random((375, 1242)) < density), density
    grid = np.zeros((480, 640), bool)
    grid[::8, ::8] = True  # a low-resolution camera registered into the image
    assert not sparse_core.scan_lines(grid)
    holes = np.ones((480, 640), bool)
    holes[100:200, 300:420] = False  # dense depth with a hole
    assert not sparse_core.scan_lines(holes)


#: RMSE bound relative to linear interpolation on this frame: 0.79, 0.85 and 0.88 at 64, 32
#: and 16 beams when written (scan-line test, line ends, weaker depth channel on scans;
#: 0.87, 1.013 and 0.90 before), bounded with a margin for other machines' rounding.
RATIO_LIMIT = {64: 0.84, 32: 0.90, 16: 0.93}


@real_data
@pytest.mark.parametrize('beams', [64, 32, 16])
def test_completion_below_linear_with_fewer_beams(scan: lidar.KittiScan, beams: int) -> None:
    """One real frame, every (64), every 2nd (32) and every 4th (16) ring kept.

    Three splits as ``benchmarks/lidar_beams.py`` (split ``s`` keeps the rings ``s mod every``
    and holds out 20 % of their pixels with seed ``s``; one split alone varies by +-10 %),
    scored pooled over the splits.
    """
    upsampler = DepthUpsampler(model='rgb', device='cpu', depth_mode='sparse')
    every = 64 // beams
    squared: Dict[str, float] = {'dada': 0.0, 'linear': 0.0}
    for seed in range(3):
        frame = scan.frame(lidar.keep_rings(scan.points, every, seed % every))
        sparse, held_out = lidar.hold_out_points(frame.depth, 0.2, seed=seed)
        for name, out in (('dada', upsampler.up(scan.rgb, sparse)),
                          ('linear', baselines.linear_fill(sparse))):
            squared[name] += float(np.sum((out[held_out] - frame.depth[held_out]) ** 2))
    ratio = (squared['dada'] / squared['linear']) ** 0.5
    assert ratio < RATIO_LIMIT[beams], f'{beams} beams: RMSE {ratio:.3f} x linear'
