# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The ``deep_guide`` (issue 24): loading, Eq. 3 on real frames, input checks, training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

from dada_ros.core import DepthUpsampler
from dada_ros.core.deep_guide import DeepGuide
from dada_ros.core.models import load_learned_guide, SelfGuidedGuide
from dada_ros.training import deep_guide as training
from dada_ros.training.datasets import make_sample, Scene, VALIDATION_SCENES
from dada_ros.training.scenes import draw_batch, normalise_rgb
from dada_ros.training.train import l2_loss
import numpy as np
import pytest
import torch


def _frames(count: int, part: str = 'validation') -> List[Scene]:
    names = training.rgbdd_split(training.rgbdd_names())[part][:count]
    return training.load_rgbdd(names)


def _trained_like(width: int = 8, seed: int = 0, pool: int = 4) -> DeepGuide:
    """Return a guide whose network is not neutral (as after training): random last layer."""
    torch.manual_seed(seed)
    guide = training.new_guide(width, pool)
    with torch.no_grad():
        for net in (guide.first_net, guide.net):
            net.head.weight.normal_(0.0, 0.05)
            net.factor_head_bias.normal_(0.0, 0.2)
    return guide.eval()


def _save(guide: DeepGuide, path: Path) -> Path:
    torch.save(training.deep_guide_checkpoint(guide, {'note': 'test'}), path)
    return path


@pytest.mark.parametrize('pool', [4, 8])
def test_checkpoint_loads_weights_only_and_round_trips(tmp_path: Path, pool: int) -> None:
    guide = _trained_like(pool=pool)
    path = _save(guide, tmp_path / 'deep.pt')
    raw = torch.load(path, map_location='cpu', weights_only=True)
    assert raw['arch'] == 'deep_guide' and raw['config']['width'] == 8
    assert raw['config']['pool'] == pool
    loaded = load_learned_guide(path)
    assert isinstance(loaded, DeepGuide) and loaded.net.pool == pool
    assert loaded.pass_iterations(96) == guide.pass_iterations(96) == (48, 72)
    frame = _frames(1)[0]
    rgb = torch.from_numpy(normalise_rgb(frame.rgb))[None]
    depth = torch.from_numpy(frame.disparity)[None, None]
    with torch.no_grad():
        for factor in (4, 8, 16, 32):
            expected = guide.refine_coefficients(rgb, depth, factor)
            got = loaded.refine_coefficients(rgb, depth, factor)
            for a, b in zip(expected, got):
                torch.testing.assert_close(a, b)
    assert sum(p.numel() for p in loaded.parameters()) < 20_000


def test_neutral_networks_are_the_rgb_and_self_guided_guides() -> None:
    guide = training.new_guide(16).eval()  # zero output layers: every gain is 1
    plain = SelfGuidedGuide().eval()
    with torch.no_grad():
        plain.log_rgb_weight.copy_(guide.log_rgb_weight)
        plain.log_depth_weight.copy_(guide.log_depth_weight)
    frame = _frames(1)[0]
    rgb = torch.from_numpy(normalise_rgb(frame.rgb))[None]
    depth = torch.from_numpy(frame.disparity)[None, None]
    with torch.no_grad():
        for factor in (4, 8, 16, 32):
            for a, b in zip(guide.refine_coefficients(rgb, depth, factor),
                            plain.refine_coefficients(rgb, depth, factor)):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
            for a, b in zip(guide.coefficients(rgb, depth), plain.coefficients(rgb, depth)):
                torch.testing.assert_close(a, b)


@pytest.mark.parametrize('pool', [4, 8])
def test_inference_paths_give_the_autograd_values(pool: int) -> None:
    """Both inference forms give the values of the differentiable form used in training.

    One CPU image runs the compiled kernels (numba), a batch of two the torch form; odd
    sizes leave partial blocks at 1/4 and 1/8.
    """
    guide = _trained_like(pool=pool)
    frame = _frames(1)[0]
    rgb_full = torch.from_numpy(normalise_rgb(frame.rgb))[None]
    depth_full = torch.from_numpy(frame.disparity)[None, None] / 1000.0
    for h, w in ((384, 512), (381, 509)):
        rgb, depth = rgb_full[..., :h, :w].contiguous(), depth_full[..., :h, :w].contiguous()
        for factor in (4, 16):
            with torch.enable_grad():
                expected = [*guide.coefficients(rgb, depth),
                            *guide.refine_coefficients(rgb, depth, factor)]
            with torch.no_grad():
                single = [*guide.coefficients(rgb, depth),
                          *guide.refine_coefficients(rgb, depth, factor)]
                pair = [*guide.coefficients(rgb.repeat(2, 1, 1, 1), depth.repeat(2, 1, 1, 1)),
                        *guide.refine_coefficients(rgb.repeat(2, 1, 1, 1),
                                                   depth.repeat(2, 1, 1, 1), factor)]
            for want, got, batched in zip(expected, single, pair):
                assert got.shape == want.shape and not got.requires_grad
                torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=2e-5)
                torch.testing.assert_close(batched[1:], want.detach(), rtol=1e-5, atol=2e-5)
    changed = torch.stack([c.flatten()[:1000] for c in expected[2:]])
    assert (changed < 0.999).any()  # real links, not all ones


def test_real_frame_keeps_block_means_and_leaves_inputs_alone(tmp_path: Path) -> None:
    path = _save(_trained_like(), tmp_path / 'deep.pt')
    upsampler = DepthUpsampler(model='learned', weights=str(path), device='cpu')
    assert isinstance(upsampler.guide, DeepGuide)
    rgb_model = DepthUpsampler(model='rgb', device='cpu')
    frame = _frames(1)[0]  # 512x384 RGB + ToF depth (mm) from ../shared
    for factor in (8, 16):
        rgb, source, gt = make_sample(frame, factor)
        rgb.flags.writeable = False
        source.flags.writeable = False
        rgb_copy, source_copy = rgb.copy(), source.copy()
        out = upsampler(rgb, source)
        assert out.shape == gt.shape and out.dtype == np.float32 and np.isfinite(out).all()
        np.testing.assert_array_equal(rgb, rgb_copy)
        np.testing.assert_array_equal(source, source_copy)
        h, w = source.shape
        means = out.astype(np.float64).reshape(h, factor, w, factor).mean(axis=(1, 3))
        np.testing.assert_allclose(means, source, rtol=1e-4)  # Eq. 3: exact block means
        # a real answer, not the input: sharper than bicubic-like smoothing and sane
        assert errors_cm(out, gt) < 2.0 * errors_cm(rgb_model(rgb, source), gt)


def errors_cm(prediction: np.ndarray, gt: np.ndarray) -> float:
    return float(np.sqrt(np.mean((prediction.astype(np.float64) - gt) ** 2))) / 10.0


def test_shapes_are_checked_on_entry() -> None:
    guide = training.new_guide(8).eval()
    rgb = torch.zeros(1, 3, 32, 32)
    depth = torch.ones(1, 1, 32, 32)
    with pytest.raises(ValueError, match='rgb'):
        guide.refine_coefficients(torch.zeros(1, 4, 32, 32), depth, 8)
    with pytest.raises(ValueError, match='depth'):
        guide.refine_coefficients(rgb, torch.ones(1, 1, 32, 16), 8)
    with pytest.raises(ValueError, match='depth'):
        guide.coefficients(rgb, torch.ones(2, 1, 32, 32))
    with pytest.raises(ValueError, match='factor'):
        guide.refine_coefficients(rgb, depth, 0)
    with pytest.raises(ValueError, match='factors'):
        DeepGuide(factors=(8, 4))
    with pytest.raises(ValueError, match='one positive value per factor'):
        DeepGuide(rgb_weights=(0.1,))
    cv, ch = guide.refine_coefficients(rgb, depth, 8)
    assert cv.shape == (1, 1, 31, 32) and ch.shape == (1, 1, 32, 31)
    odd = guide.refine_coefficients(torch.randn(1, 3, 37, 23), torch.rand(1, 1, 37, 23) + 1, 4)
    assert odd[0].shape == (1, 1, 36, 23) and odd[1].shape == (1, 1, 37, 22)


def test_split_is_fixed_disjoint_and_keeps_test_frames_out_of_training() -> None:
    names = training.rgbdd_names()
    assert len(names) == 302
    parts = training.rgbdd_split(names)
    # a frame's part depends on its name only, not on the other frames
    reverse = training.rgbdd_split(list(reversed(names)))
    assert all(sorted(reverse[k]) == sorted(v) for k, v in parts.items())
    first = names[:50]
    assert training.rgbdd_split(first)['test'] == [n for n in parts['test'] if n in first]
    sets = {k: set(v) for k, v in parts.items()}
    assert sets['train'].isdisjoint(sets['test']) and sets['train'].isdisjoint(
        sets['validation']) and sets['validation'].isdisjoint(sets['test'])
    assert sum(len(v) for v in sets.values()) == len(names)
    assert 80 <= len(sets['test']) <= 120 and 15 <= len(sets['validation']) <= 40
    train, validation = training.training_scenes()
    train_names = {s.name for s in train}
    assert not any(f'rgbdd/{n}' in train_names for n in sets['test'] | sets['validation'])
    assert not any(s.name.split('/')[0] in VALIDATION_SCENES for s in train)
    assert {s.name for s in validation['rgbdd']} == {f'rgbdd/{n}' for n in sets['validation']}


def test_training_reaches_the_network_through_the_deployed_solver() -> None:
    torch.set_num_threads(1)
    guide = training.new_guide(8).train()
    batch = draw_batch(_frames(3, 'train'), 0, 0, 2, [8], torch.device('cpu'))
    loss = l2_loss(training.forward(guide, batch, 96), batch.gt)
    loss.backward()
    for net in (guide.first_net, guide.net):  # both passes are trained
        grad = net.head.weight.grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert guide.log_first_weights.grad is not None
    assert guide.log_depth_weight.grad is not None
    assert guide.log_depth_weight.grad[guide.factor_index(8)] != 0
    assert guide.log_depth_weight.grad[guide.factor_index(32)] == 0  # other factor untouched


def test_training_run_saves_and_resumes(tmp_path: Path) -> None:
    files = training.source_files()
    subset = [f for f in files if f[0] == 'train'][:2] + \
        [f for f in files if f[0] == 'val-rgbdd'][:1]
    pack = tmp_path / 'pack.npz'
    training.pack(pack, subset)
    train, validation = training.unpack(pack)  # the same arrays as read from ../shared
    direct = training.load_rgbdd([subset[0][1][len('rgbdd/'):]])[0]
    assert train[0].name == direct.name
    np.testing.assert_array_equal(train[0].rgb, direct.rgb)
    np.testing.assert_array_equal(train[0].disparity, direct.disparity)
    assert [s.name for s in validation['rgbdd']] == [subset[2][1]]
    out = tmp_path / 'run'
    common = ['--data', str(pack), '--out', str(out), '--val-factors', '8', '--batch', '1',
              '--width', '4']
    assert training.main(common + ['--steps', '2', '--val-every', '2', '--pool', '8',
                                   '--first-fraction', '0.375']) == 0
    config = torch.load(out / 'latest.pt', weights_only=True)['config']
    assert config['pool'] == 8 and config['first_fraction'] == 0.375
    history = json.loads((out / 'history.json').read_text())
    assert [v['step'] for v in history['val']] == [0, 2]
    assert set(history['rgb']) == {'rgbdd/x8'}
    assert training.main(common + ['--steps', '1', '--resume']) == 0
    history = json.loads((out / 'history.json').read_text())
    assert [v['step'] for v in history['val']] == [0, 2, 3]
    assert [s for s, _ in history['loss']] == [1, 2, 3]
    resumed = load_learned_guide(out / 'latest.pt')
    assert isinstance(resumed, DeepGuide) and resumed.net.pool == 8  # the run's own config
    assert resumed.pass_iterations(96) == (36, 72)
    assert (out / 'curve.png').stat().st_size > 0


def test_packaged_deep_guide_weights_load_and_run() -> None:
    path = Path(training.__file__).resolve().parents[1] / 'weights' / 'deep_guide.pt'
    raw = torch.load(path, map_location='cpu', weights_only=True)
    assert raw['arch'] == 'deep_guide' and path.stat().st_size < 200_000
    assert 'rgbdd test part' in raw['meta']['test_scenes_never_seen']
    upsampler = DepthUpsampler(model='learned', weights=str(path), device='cpu')
    assert isinstance(upsampler.guide, DeepGuide)
    rgb, source, gt = make_sample(_frames(1)[0], 8)
    out = upsampler(rgb, source)
    h, w = source.shape
    np.testing.assert_allclose(out.astype(np.float64).reshape(h, 8, w, 8).mean(axis=(1, 3)),
                               source, rtol=1e-4)
