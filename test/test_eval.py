# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Evaluation: data helpers, classical baselines and the ``dada_eval`` table."""

from __future__ import annotations

from pathlib import Path
import re

from dada_ros.training.baselines import bicubic, fast_global_smoother, guided_filter, tune
from dada_ros.training.datasets import (block_average, crop_to_factor, errors, load_scenes,
                                        middlebury_dir)
from dada_ros.training.evaluate import FULL_BUDGET, main, methods
import numpy as np
import pytest

needs_data = pytest.mark.skipif(
    not middlebury_dir().is_dir(),
    reason=f'shared data not found at {middlebury_dir()} (expected ../shared/data beside '
    'the checkout)')


def test_block_average_ignores_invalid_pixels() -> None:
    disparity = np.array([[1, 3, np.nan, np.nan],
                          [5, 7, np.nan, 8]], dtype=np.float32)
    out = block_average(np.vstack([disparity, disparity]), 2)
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(4.0) and out[0, 1] == pytest.approx(8.0)
    assert np.isnan(block_average(np.full((2, 2), np.nan, np.float32), 2)).all()
    with pytest.raises(ValueError):
        block_average(np.zeros((3, 4), np.float32), 2)


def test_crop_and_errors() -> None:
    assert crop_to_factor(np.zeros((370, 463, 3)), 32).shape == (352, 448, 3)
    gt = np.array([[1.0, np.nan], [3.0, 4.0]])
    rmse, mae = errors(np.array([[2.0, 99.0], [3.0, 4.0]]), gt)
    assert rmse == pytest.approx(np.sqrt(1 / 3)) and mae == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        errors(np.full((2, 2), np.nan), gt)


def test_baselines_shapes_units_and_edges() -> None:
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, 24:] = 255  # a colour edge where the depth jumps
    gt = np.where(np.arange(48)[None, :] < 24, 10.0, 20.0).repeat(32, 0).astype(np.float32)
    source = block_average(gt, 8)
    source_copy = source.copy()
    for method in (bicubic, guided_filter, fast_global_smoother):
        out = method(rgb, source)
        assert out.shape == (32, 48) and out.dtype == np.float32 and np.isfinite(out).all()
        assert 9.0 <= float(out.min()) and float(out.max()) <= 21.0
    assert np.array_equal(source, source_copy)
    # The guided methods use the edge: closer to the ground truth than bicubic.
    base = errors(bicubic(rgb, source), gt)[0]
    assert errors(fast_global_smoother(rgb, source), gt)[0] < base
    with pytest.raises(ValueError):
        bicubic(rgb, source[:, :5])


def test_tune_picks_the_best_value() -> None:
    rgb = np.zeros((16, 16, 3), np.uint8)
    gt = np.full((16, 16), 5.0, np.float32)

    def shifted(r: np.ndarray, s: np.ndarray, offset: float = 0.0) -> np.ndarray:
        return bicubic(r, s) + offset

    best, score = tune([(rgb, block_average(gt, 4), gt)], shifted, {'offset': (2.0, 0.5, 1.0)})
    assert best == {'offset': 0.5} and score == pytest.approx(0.5)


def test_full_budget_row_is_optional() -> None:
    full = methods('', True, 'cpu')
    for name in ('GAD (paper)', 'DADA rgb', 'DADA learned'):
        assert f'{name}, reference x{FULL_BUDGET}' in full
    names = list(methods('', False, 'cpu'))
    assert names == ['bicubic', 'guided filter', 'FGS', 'GAD (paper)', 'DADA rgb',
                     'DADA learned']


@needs_data
def test_dada_eval_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / 'table.md'
    assert main(['--scenes', 'Art', 'Moebius', '--factors', '8', '16', '--no-full-budget',
                 '--markdown', str(table)]) == 0
    text = capsys.readouterr().out
    assert table.read_text() == text + '\n' or table.read_text().strip() == text.strip()
    rows = {}
    for line in text.splitlines():
        match = re.match(r'\| ([^|]+) \| ([\d.]+) / ([\d.]+) \| ([\d.]+) / ([\d.]+) \|', line)
        if match:
            rows[match.group(1).strip()] = [float(match.group(i)) for i in range(2, 6)]
    assert set(rows) == {'bicubic', 'guided filter', 'FGS', 'GAD (paper)', 'DADA rgb',
                         'DADA learned'}
    for values in rows.values():
        assert all(0 < v < 50 for v in values)
        assert values[0] >= values[1]  # RMSE >= MAE
    # Anisotropic diffusion beats plain bicubic at x16 on real scenes.
    assert rows['DADA rgb'][2] < rows['bicubic'][2]
    assert rows['GAD (paper)'][2] < rows['bicubic'][2]
    assert rows['GAD (paper)'] != rows['DADA rgb']  # different depth weights
    assert rows['DADA learned'][2] < rows['bicubic'][2]


@needs_data
def test_scenes_load_with_unknown_as_nan() -> None:
    scene = load_scenes(names=['Art'])[0]
    assert scene.rgb.dtype == np.uint8 and scene.rgb.shape[2] == 3
    assert scene.disparity.shape == scene.rgb.shape[:2]
    assert np.isnan(scene.disparity).any() and np.nanmin(scene.disparity) > 0
