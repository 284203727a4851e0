# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Training: data pipeline, gradients through the solver, resumable runs, outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch

from dada_ros.core.datasets import VALIDATION_SCENES, middlebury_dir, training_scene_names
from dada_ros.core.models import build_tiny_guide, load_learned_guide
from dada_ros.core.solver import PyramidSolver
from dada_ros.train import draw_batch, forward, l1_loss, main

pytestmark = pytest.mark.skipif(
    not middlebury_dir().is_dir(),
    reason=f'shared data not found at {middlebury_dir()} (expected ../shared/data beside '
    'the checkout)')

# Small and quick: one factor, batch 1, a short window, validation on one scene.
QUICK = ['--batch', '1', '--window', '4', '--pre-min', '4', '--pre-max', '8',
         '--factors', '8', '--val-scenes', 'Art', '--val-every', '100']


def test_split_holds_out_the_validation_scenes() -> None:
    names = training_scene_names()
    assert len(names) >= 15
    assert not set(names) & set(VALIDATION_SCENES)


def test_batches_are_deterministic_and_consistent() -> None:
    from dada_ros.core.datasets import load_scenes
    scenes = load_scenes(names=training_scene_names()[:3], views=(1, 5))
    a = draw_batch(scenes, 7, 0, 2, (4, 8, 16, 32), torch.device('cpu'))
    b = draw_batch(scenes, 7, 0, 2, (4, 8, 16, 32), torch.device('cpu'))
    assert torch.equal(a.rgb, b.rgb) and a.factor == b.factor
    assert torch.allclose(a.gt, b.gt, equal_nan=True)
    f = a.factor
    h, w = a.rgb.shape[-2:]
    assert a.initial.shape == (2, 1, h, w) and a.source.shape == (2, 1, h // f, w // f)
    # The source is the block mean of the (normalised) ground truth where it is known.
    gt = a.gt.numpy()[:, 0]
    blocks = gt.reshape(2, h // f, f, w // f, f)
    means = np.nanmean(blocks, axis=(2, 4))
    valid = a.valid.numpy()[:, 0]
    assert np.allclose(means[valid], a.source.numpy()[:, 0][valid], rtol=1e-5)
    assert abs(float(a.source[a.valid].mean()) - 1.0) < 0.2


def test_loss_gradient_reaches_the_network() -> None:
    from dada_ros.core.datasets import load_scenes
    scenes = load_scenes(names=training_scene_names()[:2])
    batch = draw_batch(scenes, 0, 0, 1, (8,), torch.device('cpu'))
    guide = build_tiny_guide()
    loss = l1_loss(forward(guide, batch, PyramidSolver(), 8, 4), batch.gt)
    loss.backward()
    assert guide.logk.grad is not None and float(guide.logk.grad.abs()) > 0
    assert float(guide.feature_extractor.head_dec.weight.grad.abs().sum()) > 0


def _params(path: Path) -> List[torch.Tensor]:
    return [p.detach().clone() for p in load_learned_guide(path).parameters()]


def test_training_in_pieces_equals_one_run(tmp_path: Path) -> None:
    whole, pieces = tmp_path / 'whole', tmp_path / 'pieces'
    assert main(['--out', str(whole), '--steps', '3'] + QUICK) == 0
    assert main(['--out', str(pieces), '--steps', '2'] + QUICK) == 0
    assert main(['--out', str(pieces), '--steps', '1', '--resume'] + QUICK) == 0
    for out in (whole, pieces):
        history = json.loads((out / 'history.json').read_text())
        assert [s for s, _ in history['loss']] == [1, 2, 3]
        assert (out / 'curve.png').stat().st_size > 1000
    for a, b in zip(_params(whole / 'dada_learned.pt'), _params(pieces / 'dada_learned.pt')):
        assert torch.allclose(a, b, atol=1e-5)
    # Training moved the weights away from the unlearned initialisation.
    fresh = [p.detach() for p in build_tiny_guide().parameters()]
    trained = _params(whole / 'dada_learned.pt')
    assert any(not torch.allclose(a, b) for a, b in zip(trained, fresh))


def test_resume_without_state_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='does not exist'):
        main(['--out', str(tmp_path), '--steps', '1', '--resume'] + QUICK)
