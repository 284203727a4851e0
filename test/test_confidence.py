# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The confidence of the dense depth: range, terms, ``confidence.min``, and on real data."""

from __future__ import annotations

from dada_ros.core import DepthUpsampler
from dada_ros.core.confidence import depth_confidence, mask_low_confidence
from dada_ros.training.datasets import load_scenes, make_sample, VALIDATION_SCENES
import numpy as np
import pytest


def test_flat_measured_surface_is_fully_confident() -> None:
    """A constant, fully measured surface has confidence 1 everywhere, in any unit."""
    for scale in (1.0, 1000.0):
        dense = np.full((32, 48), 2.0 * scale, dtype=np.float32)
        low = np.full((4, 6), 2.0 * scale, dtype=np.float32)
        confidence = depth_confidence(dense, low)
        assert confidence.dtype == np.float32 and confidence.shape == (32, 48)
        np.testing.assert_allclose(confidence, 1.0)


def test_depth_edges_and_missing_support_lower_the_confidence() -> None:
    """Near a depth step and far from valid blocks the confidence drops; NaN output -> 0."""
    dense = np.full((64, 64), 2.0, dtype=np.float32)
    dense[:, 32:] = 4.0
    low = dense[::8, ::8].copy()
    low[:, :2] = np.nan  # two block columns without measurements
    dense[0, 63] = np.nan
    confidence = depth_confidence(dense, low)
    assert confidence[30, 31] < 0.05 and confidence[30, 33] < 0.05  # at the step
    assert confidence[30, 45] == pytest.approx(1.0)                 # flat and measured
    assert confidence[30, 2] < 0.25                                 # two blocks away
    assert confidence[30, 12] == pytest.approx(0.5, abs=0.01)       # one block away
    assert confidence[0, 63] == 0.0
    assert np.all((confidence >= 0) & (confidence <= 1))


def test_sparse_support_scales_with_the_spacing() -> None:
    """Sparse input: the support is measured in mean spacings of the measurements."""
    depth = np.full((60, 60), np.nan, dtype=np.float32)
    depth[::6, ::6] = 3.0  # spacing 6 px
    dense = np.full((60, 60), 3.0, dtype=np.float32)
    confidence = depth_confidence(dense, depth)
    assert confidence[0, 0] == 1.0 and confidence[3, 3] > 0.6
    depth[:, 30:] = np.nan
    confidence = depth_confidence(dense, depth)
    assert confidence[30, 58] < 0.1 < confidence[30, 20]


def test_no_valid_input_and_bad_shapes() -> None:
    """No measurement: zero confidence; shapes that fit no mode are rejected."""
    dense = np.ones((16, 16), dtype=np.float32)
    assert not depth_confidence(dense, np.full((4, 4), np.nan, np.float32)).any()
    with pytest.raises(ValueError):
        depth_confidence(dense, np.ones((5, 4), np.float32))
    with pytest.raises(ValueError):
        depth_confidence(dense[0], np.ones(4, np.float32))


def test_mask_low_confidence() -> None:
    """confidence.min masks below the threshold to NaN and copies; 0 keeps everything."""
    dense = np.arange(6, dtype=np.float32).reshape(2, 3)
    confidence = np.array([[0.1, 0.5, 0.9], [0.49, 0.5, 1.0]], dtype=np.float32)
    masked = mask_low_confidence(dense, confidence, 0.5)
    np.testing.assert_array_equal(np.isnan(masked), [[True, False, False], [True, False, False]])
    assert not np.isnan(dense).any()
    np.testing.assert_array_equal(mask_low_confidence(dense, confidence, 0.0), dense)
    with pytest.raises(ValueError):
        mask_low_confidence(dense, confidence[:1], 0.5)


@pytest.mark.parametrize('name', ['Wood1', 'Cloth2', 'Lampshade1'])
def test_error_falls_as_confidence_rises_on_real_scenes(name: str) -> None:
    """On real training scenes at x8, confident pixels have a lower error than the rest."""
    assert name not in VALIDATION_SCENES
    rgb, low, gt = make_sample(load_scenes(names=[name])[0], 8)
    dense = DepthUpsampler(model='rgb', iterations=48, device='cpu').up(rgb, low)
    confidence = depth_confidence(dense, low)
    valid = np.isfinite(gt)
    error = np.abs(dense - gt)
    high = valid & (confidence >= 0.8)
    low_confidence = valid & (confidence < 0.4)
    assert high.mean() > 0.2 and low_confidence.mean() > 0.02
    assert np.sqrt(np.mean(error[high] ** 2)) < 0.5 * np.sqrt(np.mean(error[low_confidence] ** 2))
