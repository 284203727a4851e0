# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Training: data pipeline, gradients through the solver, resumable runs, outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

from dada_ros.core.models import GainNet, load_learned_guide, SelfGuidedGuide, TinyUNet
from dada_ros.core.solver import PyramidSolver
from dada_ros.training.builders import build_gain_guide, build_tiny_guide
from dada_ros.training.datasets import (load_rgbd_frames, middlebury_dir, RGBD_FRAMES,
                                        training_scene_names, VALIDATION_SCENES)
from dada_ros.training.procedural import DISPARITY_RANGE, procedural_scene, procedural_scenes
from dada_ros.training.scenes import (augment_crop, bag_scenes, draw_batch, extra_scenes,
                                      split_bag_scenes, unpack_scenes)
from dada_ros.training.train import (forward, l1_loss, l2_loss, learning_rate, main,
                                     SELECTION_SCENES, selection_score)
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(
    not middlebury_dir().is_dir(),
    reason=f'shared data not found at {middlebury_dir()} (expected ../shared/data beside '
    'the checkout)')

# Small and quick: one factor, batch 1, a short window, validation on one scene.
QUICK = ['--batch', '1', '--window', '4', '--pre-min', '4', '--pre-max', '8',
         '--factors', '8', '--val-scenes', 'Dolls', '--val-views', '1', '--val-every', '100',
         '--val-iterations', '8', '--val-factors', '8', '--select-factors', '8']


def test_split_holds_out_the_validation_scenes() -> None:
    names = training_scene_names()
    assert len(names) >= 15
    assert not set(names) & set(VALIDATION_SCENES)


def test_selection_scenes_are_training_scenes_not_test_scenes() -> None:
    names = training_scene_names()
    assert len(SELECTION_SCENES) == 3 and set(SELECTION_SCENES) <= set(names)
    assert not set(SELECTION_SCENES) & set(VALIDATION_SCENES)
    assert len(set(names) - set(SELECTION_SCENES)) == 16


def test_selecting_on_test_scenes_is_refused(tmp_path: Path) -> None:
    args = [a if a != 'Dolls' else 'Art' for a in QUICK]
    with pytest.raises(ValueError, match='held-out test scenes'):
        main(['--out', str(tmp_path), '--steps', '1'] + args)


def test_losses_ignore_unknown_ground_truth() -> None:
    prediction = torch.tensor([[1.0, 2.0, 5.0]])
    gt = torch.tensor([[1.5, float('nan'), 3.0]])
    assert float(l1_loss(prediction, gt)) == pytest.approx((0.5 + 2.0) / 2)
    assert float(l2_loss(prediction, gt)) == pytest.approx((0.25 + 4.0) / 2)


def test_cosine_schedule() -> None:
    rates = [learning_rate(s, 1e-3, 1e-5, 100) for s in range(0, 121, 10)]
    assert rates[0] == pytest.approx(1e-3) and rates[10] == pytest.approx(1e-5)
    assert rates[5] == pytest.approx(0.5 * (1e-3 + 1e-5))
    assert all(a > b for a, b in zip(rates[:10], rates[1:11]))
    assert rates[11] == rates[12] == pytest.approx(1e-5)  # flat after the schedule
    assert learning_rate(50, 1e-3, 1e-5, 0) == 1e-3  # 0: constant


def test_selection_score_is_relative_to_the_reference() -> None:
    reference = {'4': 2.0, '8': 4.0, '16': 8.0}
    assert selection_score(reference, reference, (8, 16)) == pytest.approx(1.0)
    better = {'4': 9.0, '8': 3.6, '16': 8.0}  # x4 is not a selection factor
    assert selection_score(better, reference, (8, 16)) == pytest.approx(0.95)
    with pytest.raises(ValueError):
        selection_score(better, reference, (32,))


def test_best_checkpoint_is_kept_and_shipped(tmp_path: Path) -> None:
    out = tmp_path / 'run'
    args = [a if a != '100' else '1' for a in QUICK]  # validate after every step
    assert main(['--out', str(out), '--steps', '4', '--lr', '3e-2'] + args) == 0
    history = json.loads((out / 'history.json').read_text())
    reference = history['val'][0]['rmse']
    scores = {v['step']: selection_score(v['rmse'], reference, (8,))
              for v in history['val']}
    assert sorted(scores) == [0, 1, 2, 3, 4]  # the initialisation is a candidate
    best_step = min(scores, key=lambda s: scores[s])
    assert history['best']['step'] == best_step
    for name in ('latest.pt', 'best.pt', 'dada_learned.pt', 'step_000004.pt'):
        assert (out / name).is_file()
    best = torch.load(out / 'best.pt', weights_only=True)
    shipped = torch.load(out / 'dada_learned.pt', weights_only=True)
    latest = torch.load(out / 'latest.pt', weights_only=True)
    assert best['meta']['step'] == shipped['meta']['step'] == best_step
    assert latest['meta']['step'] == 4
    per_step = torch.load(out / f'step_{best_step:06d}.pt', weights_only=True)
    for key, value in best['state_dict'].items():
        assert torch.equal(value, shipped['state_dict'][key])
        assert torch.equal(value, per_step['state_dict'][key])
    meta = best['meta']
    assert 'Dolls' not in meta['training_scenes'] and meta['selection_scenes'] == ['Dolls']
    assert not set(meta['training_scenes']) & set(VALIDATION_SCENES)


def test_batches_are_deterministic_and_consistent() -> None:
    from dada_ros.training.datasets import load_scenes
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


def test_augmentation_moves_image_and_depth_together() -> None:
    """Flips and transposes hit RGB and depth alike; colour changes only touch RGB."""
    rows, cols = np.mgrid[0:24, 0:40]
    pattern = (40 + (7 * rows + 3 * cols) % 110).astype(np.float32)  # 40..149: no clipping
    rgb = np.repeat(pattern.astype(np.uint8)[:, :, None], 3, axis=2)
    seen_shapes = set()
    for seed in range(12):
        out_rgb, out_gt = augment_crop(rgb, pattern, np.random.default_rng(seed))
        seen_shapes.add(out_gt.shape)
        assert out_rgb.shape[:2] == out_gt.shape and out_rgb.dtype == np.uint8
        assert sorted(out_gt.ravel().tolist()) == sorted(pattern.ravel().tolist())
        # RGB is an affine function of the (moved) depth pattern, up to uint8 rounding.
        slope, intercept = np.polyfit(out_gt.ravel(), out_rgb[..., 0].ravel().astype(float), 1)
        residual = out_rgb[..., 0] - (slope * out_gt + intercept)
        assert np.abs(residual).max() <= 1.0 and 0.6 < slope < 1.4
    assert seen_shapes == {(24, 40), (40, 24)}  # both orientations occur
    assert pattern[0, 0] == 40.0 and rgb[0, 0, 0] == 40  # inputs untouched


def test_loss_gradient_reaches_the_network() -> None:
    from dada_ros.training.datasets import load_scenes
    scenes = load_scenes(names=training_scene_names()[:2])
    batch = draw_batch(scenes, 0, 0, 1, (8,), torch.device('cpu'))
    guide = build_tiny_guide()
    loss = l1_loss(forward(guide, batch, PyramidSolver(), 8, 4), batch.gt)
    loss.backward()
    assert guide.logk.grad is not None and float(guide.logk.grad.abs()) > 0
    net = guide.feature_extractor
    assert isinstance(net, TinyUNet)
    grad = net.head_dec.weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0


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
    # Training moved the weights away from their initialisation.
    assert load_learned_guide(whole / 'latest.pt').arch == 'self_guided'  # the default
    fresh = [p.detach() for p in SelfGuidedGuide().parameters()]
    trained = _params(whole / 'latest.pt')
    assert any(not torch.allclose(a, b) for a, b in zip(trained, fresh))


def test_resume_without_state_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='does not exist'):
        main(['--out', str(tmp_path), '--steps', '1', '--resume'] + QUICK)


def test_gain_net_gradient_reaches_the_network() -> None:
    from dada_ros.training.datasets import load_scenes
    scenes = load_scenes(names=training_scene_names()[:2])
    batch = draw_batch(scenes, 0, 0, 1, (8,), torch.device('cpu'))
    guide = build_gain_guide()
    loss = l1_loss(forward(guide, batch, PyramidSolver(), 8, 4), batch.gt)
    loss.backward()
    net = guide.feature_extractor
    assert isinstance(net, GainNet)
    grad = net.head.weight.grad
    assert grad is not None and float(grad.abs().sum()) > 0


def test_extra_data_are_real_frames_and_no_test_scene() -> None:
    scenes = extra_scenes()
    names = [s.name for s in scenes]
    assert len(scenes) == 4 + len(load_rgbd_frames()) and len(load_rgbd_frames()) >= 4
    assert len(RGBD_FRAMES) >= len(load_rgbd_frames())
    assert not any(n.split('/')[0] in VALIDATION_SCENES for n in names)
    for scene in scenes:
        assert scene.rgb.dtype == np.uint8 and scene.disparity.shape == scene.rgb.shape[:2]
        valid = np.isfinite(scene.disparity)
        assert 0.5 < valid.mean() <= 1.0 and float(np.nanmin(scene.disparity)) > 0
    # Metric frames are in metres (indoor: 0.3 .. 12 m).
    for scene in load_rgbd_frames():
        assert 0.3 < float(np.nanmedian(scene.disparity)) < 12.0


def test_procedural_scenes_have_texture_edges_that_are_not_depth_edges() -> None:
    sources = [s.rgb for s in load_rgbd_frames()[:2]]
    taken = [source.copy() for source in sources]
    scene = procedural_scene(sources, np.random.default_rng(3), 256, 320)
    assert all(np.array_equal(a, b) for a, b in zip(sources, taken))  # inputs untouched
    assert scene.rgb.shape == (256, 320, 3) and scene.rgb.dtype == np.uint8
    assert scene.disparity.shape == (256, 320) and scene.disparity.dtype == np.float32
    low, high = DISPARITY_RANGE
    assert np.isfinite(scene.disparity).all()
    assert low <= scene.disparity.min() and scene.disparity.max() <= high
    colour = scene.rgb.astype(np.float32).mean(2)
    colour_edge = np.abs(np.diff(colour, axis=1)) > 40
    depth_edge = np.abs(np.diff(scene.disparity, axis=1)) > 2
    # Both kinds occur: strong colour steps on flat surfaces, and depth steps.
    assert (colour_edge & ~depth_edge).sum() > 100 and depth_edge.sum() > 100
    again = procedural_scene(sources, np.random.default_rng(3), 256, 320)
    assert np.array_equal(again.rgb, scene.rgb)  # a function of the generator's state
    with pytest.raises(ValueError, match='uint8'):
        procedural_scene([sources[0].astype(np.float32)], np.random.default_rng(0))


def test_procedural_training_scenes_join_the_real_ones(tmp_path: Path) -> None:
    scenes = procedural_scenes(load_rgbd_frames()[:1], 3, seed=5)
    assert [s.name for s in scenes] == [f'procedural/seed5-{i:04d}' for i in range(3)]
    assert all(s.rgb.shape[0] % 32 == 0 and s.rgb.shape[1] % 32 == 0 for s in scenes)
    pack = tmp_path / 'train.npz'
    assert main(['--out', str(tmp_path / 'unused'), '--pack', str(pack), '--procedural', '2']
                + QUICK) == 0
    train, _ = unpack_scenes(pack)
    assert len(train) == 2 * (len(training_scene_names()) - 1) + 2
    assert [s.name for s in train[-2:]] == ['procedural/seed0-0000', 'procedural/seed0-0001']


def test_pack_round_trip_and_training_from_the_pack(tmp_path: Path) -> None:
    pack = tmp_path / 'data' / 'train.npz'
    assert main(['--out', str(tmp_path / 'unused'), '--pack', str(pack)] + QUICK) == 0
    train, selection = unpack_scenes(pack)
    assert [s.name for s in selection] == ['Dolls/view1']
    assert len(train) == 2 * (len(training_scene_names()) - 1)
    assert 'Dolls' not in {s.name.split('/')[0] for s in train}
    assert not (tmp_path / 'unused' / 'best.pt').exists()
    out = tmp_path / 'run'
    assert main(['--out', str(out), '--steps', '2', '--data', str(pack)] + QUICK) == 0
    assert load_learned_guide(out / 'best.pt').arch == 'self_guided'


def test_max_minutes_stops_with_a_resumable_state(tmp_path: Path) -> None:
    out = tmp_path / 'run'
    assert main(['--out', str(out), '--steps', '50', '--max-minutes', '1e-6'] + QUICK) == 0
    history = json.loads((out / 'history.json').read_text())
    assert [s for s, _ in history['loss']] == [1] and history['val'][-1]['step'] == 1
    assert main(['--out', str(out), '--steps', '1', '--resume'] + QUICK) == 0
    history = json.loads((out / 'history.json').read_text())
    assert [s for s, _ in history['loss']] == [1, 2]


def test_training_on_a_recorded_bag(tmp_path: Path) -> None:
    """dada_train --bag: RGB + dense depth from a real rosbag2 (Middlebury scene, noise)."""
    pytest.importorskip('rosbags')
    from dada_ros.tools.make_sample_bag import make_sample_bag, SampleBagOptions
    bag = tmp_path / 'bag'
    scene = middlebury_dir() / training_scene_names()[0]
    frames = make_sample_bag(bag, SampleBagOptions(duration=0.5, width=192, height=160,
                                                   scene=scene, depth_encoding='32FC1'))
    scenes = bag_scenes(bag, '/rgb/image', '/depth_gt/image')
    assert len(scenes) == len(frames) == 5
    for scene_, frame in zip(scenes, frames):
        assert np.array_equal(scene_.rgb, frame.rgb)
        assert np.allclose(scene_.disparity, frame.gt, equal_nan=True)
    train, selection = split_bag_scenes(scenes)
    assert len(train) == 4 and len(selection) == 1
    with pytest.raises(ValueError, match='no topic'):
        bag_scenes(bag, '/rgb/image', '/nope')
    with pytest.raises(ValueError, match='differ in size'):
        bag_scenes(bag, '/rgb/image', '/depth/image')  # low-res depth is not a target
    out = tmp_path / 'run'
    quick = list(QUICK)
    for flag in ('--val-scenes', '--val-views'):  # the bag brings its own selection frames
        index = quick.index(flag)
        del quick[index:index + 2]
    assert main(['--out', str(out), '--steps', '2', '--bag', str(bag), '--rgb-topic',
                 '/rgb/image', '--depth-topic', '/depth_gt/image'] + quick) == 0
    best = torch.load(out / 'best.pt', weights_only=True)
    assert best['meta']['training_scenes'] == [s.name for s in train]
    assert load_learned_guide(out / 'dada_learned.pt').arch == 'self_guided'


# The GPU recipe end to end on the CPU (pack, train, resume): about 10 s on two cores.
@pytest.mark.timeout(300)
def test_gpu_recipe_runs_from_a_pack_on_the_cpu(tmp_path: Path) -> None:
    """scripts/gpu_train.sh: data from a pack in the checkout, outputs only under $OUT."""
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    pack = tmp_path / 'training_data' / 'dada_train.npz'
    assert main(['--out', str(tmp_path / 'unused'), '--pack', str(pack)] + QUICK) == 0
    out = tmp_path / 'out'
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable, DATA=str(pack), DEVICE='cpu',
               MINUTES='5', STEPS='2', VAL_EVERY='1', RUN_DIR=str(tmp_path / 'run'))
    result = subprocess.run(
        ['bash', str(root / 'scripts' / 'gpu_train.sh'), '--threads', '1', '--batch', '1',
         '--window', '4', '--pre-min', '4', '--pre-max', '8', '--factors', '8',
         '--val-factors', '8',
         '--select-factors', '8', '--val-iterations', '8'],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {'best.pt', 'latest.pt', 'train_state.pt', 'history.json', 'curve.png',
                     'train_log.txt'}
    assert load_learned_guide(out / 'best.pt').arch == 'tiny_unet'  # the recipe's default ARCH
    history = json.loads((out / 'history.json').read_text())
    assert [s for s, _ in history['loss']] == [1, 2]


def test_crops_see_the_depth_spread_of_the_whole_scene() -> None:
    """A crop's own depth spread is smaller; training passes the whole scene's instead."""
    from dada_ros.training.datasets import load_scenes
    from dada_ros.core.diffusion import depth_spread
    scenes = load_scenes(names=training_scene_names()[:4], views=(1,))
    ratios = []
    for step in range(6):
        batch = draw_batch(scenes, step, 0, 2, (8,), torch.device('cpu'))
        assert batch.spread is not None and batch.spread.shape == (2, 1, 1, 1)
        ratios.append(float((depth_spread(batch.initial) / batch.spread).mean()))
        guide = build_gain_guide()
        with torch.no_grad():
            own = guide.coefficients(batch.rgb, batch.initial)
            same = guide.coefficients(batch.rgb, batch.initial,
                                      spread=depth_spread(batch.initial))
            whole = guide.coefficients(batch.rgb, batch.initial, spread=batch.spread)
        assert torch.equal(own[0], same[0]) and not torch.equal(own[0], whole[0])
    assert 0.2 < float(np.mean(ratios)) < 0.95
