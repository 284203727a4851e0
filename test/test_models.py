# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Learned guide: architecture, checkpoint loading (safe), packaged weights, authors' layout."""

from __future__ import annotations

import importlib
from pathlib import Path
import pickle
import sys
from typing import Any, Tuple

from dada_ros.core import authors, DepthUpsampler
from dada_ros.core.authors import import_smp
from dada_ros.core.diffusion import coefficients, K_DEFAULT, RGB_DEPTH_WEIGHT
from dada_ros.core.guides import GadGuide, make_guide, RgbGuide, unlearned_features
from dada_ros.core.models import (FORMAT, GainNet, LearnedGuide, load_learned_guide,
                                  PACKAGED_WEIGHTS, read_checkpoint, SelfGuidedGuide, TinyUNet)
from dada_ros.core.solver import PyramidSolver
from dada_ros.core.upsampler import refining_passes
from dada_ros.training import train
from dada_ros.training.builders import (build_gain_guide, build_tiny_guide, guide_checkpoint,
                                        parameter_count)
from dada_ros.training.datasets import Scene
import numpy as np
import pytest
import torch
import torch.nn.functional as F


def _inputs(h: int = 37, w: int = 53, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    rgb = torch.randn(1, 3, h, w, generator=gen)
    initial = 0.5 + torch.rand(1, 1, h, w, generator=gen)
    return rgb, initial


def _perturbed_guide(full_decoder: bool = False) -> LearnedGuide:
    guide = build_tiny_guide(full_decoder=full_decoder)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in guide.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=gen))
    return guide.eval()


class _Marker:
    """Unpickling this would create a file: a stand-in for a malicious checkpoint."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Path.touch, (self.path,))


@pytest.mark.parametrize('full_decoder', [False, True])
def test_tiny_unet_is_light_and_keeps_any_size(full_decoder: bool) -> None:
    net = TinyUNet(full_decoder=full_decoder)
    assert 100_000 <= parameter_count(net) <= 1_000_000
    out = net(torch.randn(2, 4, 45, 61))
    assert out.shape == (2, net.out_channels, 45, 61)


@pytest.mark.parametrize('full_decoder', [False, True])
def test_fresh_tiny_unet_equals_the_former_unlearned_guide(full_decoder: bool) -> None:
    """The TinyUNet starts as [RGB, depth / mean], the unlearned guide its weights grew from."""
    rgb, initial = _inputs()
    cv, ch = build_tiny_guide(full_decoder=full_decoder).coefficients(rgb, initial)
    cv0, ch0 = coefficients(torch.cat([rgb, initial], 1), K_DEFAULT)
    assert torch.allclose(cv, cv0, atol=1e-6) and torch.allclose(ch, ch0, atol=1e-6)


def test_gad_features_are_the_depth_over_its_standard_deviation() -> None:
    """The paper's GAD: [rgb, depth / std(depth)], the same for any unit of the depth."""
    rgb, initial = _inputs()
    features = unlearned_features(rgb, initial)
    expected = initial / initial.std(unbiased=False)
    assert torch.allclose(features[:, 3:], expected, rtol=1e-5)
    assert torch.equal(features[:, :3], rgb)
    cv, ch = GadGuide().coefficients(rgb, initial)
    cv_mm, ch_mm = GadGuide().coefficients(rgb, initial * 1000.0)
    assert torch.allclose(cv, cv_mm, atol=1e-6) and torch.allclose(ch, ch_mm, atol=1e-6)
    # The depth channel is what differs: a depth step that GAD sees, at 1.5 x the weight,
    # gives a smaller coefficient with the rgb guide; flat depth gives the same.
    step = torch.ones(1, 1, 4, 6)
    step[..., 3:] = 2.0
    flat_rgb = torch.zeros(1, 3, 4, 6)
    gad = GadGuide().coefficients(flat_rgb, step)[1][0, 0, 0]
    ours = RgbGuide().coefficients(flat_rgb, step)[1][0, 0, 0]
    assert RGB_DEPTH_WEIGHT == 1.5
    assert float(ours[2]) < float(gad[2]) < 0.5 and float(ours[0]) == float(gad[0]) == 1.0


def test_flat_depth_does_not_blow_up() -> None:
    rgb, _ = _inputs()
    cv, ch = RgbGuide().coefficients(rgb, torch.ones(1, 1, 37, 53))
    assert torch.isfinite(cv).all() and torch.isfinite(ch).all()
    expected = coefficients(torch.cat([rgb, torch.zeros(1, 1, 37, 53)], 1), K_DEFAULT)
    assert torch.allclose(cv, expected[0]) and torch.allclose(ch, expected[1])


def test_fresh_gain_guide_equals_the_rgb_guide_and_is_small() -> None:
    rgb, initial = _inputs()
    guide = build_gain_guide()
    cv, ch = guide.coefficients(rgb, initial)
    cv0, ch0 = RgbGuide().coefficients(rgb, initial)
    assert torch.allclose(cv, cv0, atol=1e-6) and torch.allclose(ch, ch0, atol=1e-6)
    assert parameter_count(guide) < 100_000
    net = guide.feature_extractor
    assert isinstance(net, GainNet)
    with torch.no_grad():
        net.head.weight.fill_(10.0)  # huge logits: the gain stays bounded
    gains = net.gains(unlearned_features(rgb, initial))
    assert gains.shape == (1, 4, 37, 53)
    assert float(gains.detach().max()) <= GainNet.GAIN_BOUND + 1e-5


def test_gain_guide_checkpoint_round_trip(tmp_path: Path) -> None:
    guide = build_gain_guide(width=8, depth_weight=2.0)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in guide.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=gen))
    path = tmp_path / 'gain.pt'
    torch.save(guide_checkpoint(guide, {'note': 'test'}), path)
    loaded = load_learned_guide(path)
    assert loaded.arch == 'gain_net' and loaded.config['depth_weight'] == 2.0
    rgb, initial = _inputs()
    with torch.no_grad():
        expected = guide.coefficients(rgb, initial)
        got = loaded.coefficients(rgb, initial)
    assert torch.equal(expected[0], got[0]) and torch.equal(expected[1], got[1])
    assert not torch.allclose(got[0], RgbGuide().coefficients(rgb, initial)[0])
    up = DepthUpsampler(model='learned', weights=str(path), device='cpu')
    rng = np.random.default_rng(0)
    depth = rng.uniform(1.0, 3.0, (8, 12)).astype(np.float32)
    out = up.up(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), depth)
    blocks = out.reshape(8, 8, 12, 8).mean(axis=(1, 3))
    assert np.allclose(blocks, depth, rtol=1e-3)


def test_guide_rejects_bad_shapes() -> None:
    rgb, initial = _inputs()
    with pytest.raises(ValueError):
        build_tiny_guide().coefficients(rgb[:, :2], initial)
    with pytest.raises(ValueError):
        build_tiny_guide().coefficients(rgb, initial[:, :, :-1])


@pytest.mark.parametrize('full_decoder', [False, True])
def test_own_checkpoint_round_trip(tmp_path: Path, full_decoder: bool) -> None:
    guide = _perturbed_guide(full_decoder)
    path = tmp_path / 'w.pt'
    torch.save(guide_checkpoint(guide, {'note': 'test'}), path)
    loaded = load_learned_guide(path)
    rgb, initial = _inputs()
    with torch.no_grad():
        expected = guide.coefficients(rgb, initial)
        got = loaded.coefficients(rgb, initial)
    assert torch.equal(expected[0], got[0]) and torch.equal(expected[1], got[1])
    assert not torch.allclose(got[0], RgbGuide().coefficients(rgb, initial)[0])


def test_missing_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='does not exist'):
        load_learned_guide(tmp_path / 'nope.pt')
    with pytest.raises(ValueError, match='does not exist'):
        DepthUpsampler(model='learned', weights=str(tmp_path / 'nope.pt'))


def test_not_a_checkpoint_is_a_value_error(tmp_path: Path) -> None:
    text = tmp_path / 'text.pt'
    text.write_text('hello, not a checkpoint\n')
    with pytest.raises(ValueError, match='not a torch checkpoint|refused'):
        load_learned_guide(text)
    other = tmp_path / 'other.pt'
    torch.save({'some': torch.zeros(3)}, other)
    with pytest.raises(ValueError, match='not a dada_ros or DADA-authors checkpoint'):
        load_learned_guide(other)


def test_wrong_weights_are_refused(tmp_path: Path) -> None:
    checkpoint = guide_checkpoint(build_tiny_guide())
    del checkpoint['state_dict']['logk']
    path = tmp_path / 'broken.pt'
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match='do not match'):
        load_learned_guide(path)


@pytest.mark.parametrize('writer', ['torch', 'pickle'])
def test_malicious_pickle_is_refused(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pt'
    payload = {'format': FORMAT, 'model': _Marker(marker)}
    if writer == 'torch':
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ValueError):
        read_checkpoint(path)
    with pytest.raises(ValueError):
        DepthUpsampler(model='learned', weights=str(path))
    assert not marker.exists()


def test_packaged_weights_load_and_run() -> None:
    assert PACKAGED_WEIGHTS.is_file(), 'the packaged weights are missing'
    guide = make_guide('learned', '', torch.device('cpu'))
    assert isinstance(guide, SelfGuidedGuide)
    assert not any(p.requires_grad for p in guide.parameters())
    assert guide.pass_iterations(96) == (40, 80)
    # at most 4/3 of rgb's finest-level steps: rgb runs 48 at x8 from 1280x720 up
    assert refining_passes(guide, 96, 8, 480, 640) == (40, 80)
    assert refining_passes(guide, 96, 8, 720, 1280) == (21, 43)
    assert refining_passes(guide, 96, 4, 720, 1280) == (40, 80)
    assert refining_passes(guide, 96, 8 / 3, 720, 1280) == (40, 80)
    rgb, initial = _inputs(64, 80)
    with torch.no_grad():
        cv, ch = guide.refine_coefficients(rgb, initial, 8)
    assert cv.shape == (1, 1, 63, 80) and ch.shape == (1, 1, 64, 79)
    assert float(cv.min()) > 0 and float(cv.max()) <= 1
    # Trained weights are not their initialisation, and differ per factor.
    with torch.no_grad():
        fresh = SelfGuidedGuide().refine_coefficients(rgb, initial, 8)[0]
        other_factor = guide.refine_coefficients(rgb, initial, 32)[0]
    assert not torch.allclose(cv, fresh, atol=1e-3)
    assert not torch.allclose(cv, other_factor, atol=1e-3)


def test_learned_upsampler_keeps_block_means_and_unit() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    depth = (2.0 + rng.random((8, 12))).astype(np.float32)
    depth[1, 1] = np.nan
    up = DepthUpsampler(model='learned', device='cpu')
    out = up.up(rgb, depth)
    assert out.shape == (64, 96) and out.dtype == np.float32 and np.isfinite(out).all()
    means = out.reshape(8, 8, 12, 8).mean(axis=(1, 3))
    known = np.isfinite(depth)
    assert np.allclose(means[known], depth[known], rtol=1e-3)
    scaled = up.up(rgb, depth * 1000.0)  # any positive unit: same result up to the unit
    assert np.allclose(scaled, out * 1000.0, rtol=1e-3)
    assert np.isfinite(depth).sum() == 95  # the caller's input is untouched


def _authors_file(tmp_path: Path) -> Path:
    path = tmp_path / 'authors.pt'
    torch.save({'model': {'feature_extractor.1.encoder.conv1.weight': torch.zeros(64, 4, 7, 7),
                          'logk': torch.tensor(-3.5)}}, path)
    return path


def test_authors_checkpoint_without_smp_is_a_clear_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes every import of the package fail with ImportError.
    monkeypatch.setitem(sys.modules, 'segmentation_models_pytorch', None)
    with pytest.raises(ValueError, match='segmentation-models-pytorch'):
        import_smp()
    with pytest.raises(ValueError, match='segmentation-models-pytorch'):
        load_learned_guide(_authors_file(tmp_path))


def test_import_smp_reports_other_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(name: str, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError('some other failure')

    monkeypatch.setattr(importlib, 'import_module', broken)
    with pytest.raises(ValueError, match='segmentation-models-pytorch.*some other failure'):
        import_smp()


def test_import_smp_works_around_a_mismatched_torchvision(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # Keep the real modules: the work-around drops the half-imported ones from sys.modules.
    for key in [k for k in sys.modules if k.split('.')[0] in authors._SMP_CHAIN]:
        monkeypatch.setitem(sys.modules, key, sys.modules[key])
    monkeypatch.delitem(sys.modules, 'torchvision._meta_registrations', raising=False)
    monkeypatch.setitem(sys.modules, 'torchvision.half_imported', object())
    monkeypatch.setattr(authors, '_TORCHVISION_WORKAROUND', None)
    calls = []
    sentinel = object()

    def mismatched(name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append('torchvision._meta_registrations' in sys.modules)
        if len(calls) == 1:
            raise RuntimeError('operator torchvision::nms does not exist')
        assert 'torchvision.half_imported' not in sys.modules
        return sentinel

    monkeypatch.setattr(importlib, 'import_module', mismatched)
    with caplog.at_level('WARNING', logger=authors.__name__):
        assert import_smp() is sentinel
        assert import_smp() is sentinel  # warned once only
    assert calls == [False, True, True]
    assert len([r for r in caplog.records if 'torchvision::nms' in r.getMessage()]) == 1


def _smp() -> Any:
    try:
        return import_smp()
    except ValueError as exc:
        pytest.skip(f'the optional extra segmentation-models-pytorch does not import: {exc}')


@pytest.mark.parametrize('wrapped', [True, False], ids=['model-key', 'bare-state-dict'])
def test_authors_checkpoint_loads_strictly(tmp_path: Path, wrapped: bool) -> None:
    smp = _smp()
    torch.manual_seed(0)
    # The authors' feature extractor, built as in their code (keys feature_extractor.1.*).
    reference = torch.nn.Sequential(
        torch.nn.Upsample(scale_factor=2, mode='bicubic', align_corners=False),
        smp.Unet('resnet50', classes=64, in_channels=4, encoder_weights=None),
        torch.nn.AvgPool2d(2)).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so that eval mode matters
        for name, buffer in reference.named_buffers():
            if name.endswith('running_mean'):
                buffer.normal_(0.0, 0.1)
            elif name.endswith('running_var'):
                buffer.uniform_(0.5, 1.5)
    logk = torch.tensor(float(np.log(0.05)))
    state = {f'feature_extractor.{k}': v for k, v in reference.state_dict().items()}
    state['logk'] = logk
    path = tmp_path / 'authors.pt'
    torch.save({'model': state, 'epoch': 3} if wrapped else state, path)
    guide = load_learned_guide(path)
    assert guide.arch == 'authors' and not guide.training
    assert all(not p.requires_grad for p in guide.parameters())
    # Sizes the U-Net takes as they are, and ones it needs padded (multiple of 16 here).
    for h, w in ((16, 32), (13, 21)):
        rgb, initial = _inputs(h, w)
        x = torch.cat([rgb, initial - initial.mean()], 1)
        pad_h, pad_w = (-h) % 16, (-w) % 16
        with torch.no_grad():
            features = reference(F.pad(x, (0, pad_w, 0, pad_h), mode='replicate'))[:, :, :h, :w]
            cv, ch = guide.coefficients(rgb, initial)
        assert features.shape == (1, 64, h, w)
        cv_ref, ch_ref = coefficients(features, logk.exp())
        assert cv.shape == (1, 1, h - 1, w) and ch.shape == (1, 1, h, w - 1)
        assert torch.allclose(cv, cv_ref, atol=1e-5) and torch.allclose(ch, ch_ref, atol=1e-5)
    # A missing key is refused (strict loading), not silently initialised.
    del state['logk']
    torch.save(state, path)
    with pytest.raises(ValueError, match='not a dada_ros or DADA-authors checkpoint'):
        load_learned_guide(path)
    state['logk'] = logk
    state.pop(next(k for k in state if k.endswith('running_var')))
    torch.save({'model': state}, path)
    with pytest.raises(ValueError, match='do not match the architecture'):
        load_learned_guide(path)


def _self_guided(**kwargs: Any) -> SelfGuidedGuide:
    guide = SelfGuidedGuide(**kwargs)
    with torch.no_grad():  # distinct weights per factor, so the factor choice shows
        guide.log_rgb_weight.copy_(torch.log(torch.tensor([0.05, 0.1, 0.2, 0.3])))
        guide.log_depth_weight.copy_(torch.log(torch.tensor([3.0, 5.0, 7.0, 9.0])))
    return guide.eval()


def test_self_guided_first_pass_is_the_rgb_guide_and_factors_pick_their_weights() -> None:
    rgb, initial = _inputs()
    guide = _self_guided()
    for got, want in zip(guide.coefficients(rgb, initial), RgbGuide().coefficients(rgb, initial)):
        assert torch.allclose(got, want, atol=1e-6)
    assert [guide.factor_index(f) for f in (1, 2, 4, 6, 8, 11, 12, 16, 32, 64)] == \
        [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]
    spread = initial.std(unbiased=False)  # depth_spread: the population std
    with torch.no_grad():
        cv, ch = guide.refine_coefficients(rgb, initial, 16)
    expected = coefficients(torch.cat([0.2 * rgb, 7.0 * initial / spread], 1), K_DEFAULT)
    assert torch.allclose(cv, expected[0], atol=1e-5) and torch.allclose(ch, expected[1],
                                                                         atol=1e-5)
    assert guide.pass_iterations(96) == (48, 96)
    with pytest.raises(ValueError):
        SelfGuidedGuide(factors=(8, 4))
    with pytest.raises(ValueError):
        SelfGuidedGuide(refine_fraction=0.0)


def test_self_guided_checkpoint_round_trip_and_two_pass_upsampler(tmp_path: Path) -> None:
    guide = _self_guided(first_fraction=0.75, refine_fraction=0.5, first_momentum_scale=0.1,
                         refine_momentum_scale=0.05)
    path = tmp_path / 'self_guided.pt'
    torch.save(guide_checkpoint(guide, {'note': 'test'}), path)
    loaded = load_learned_guide(path)
    assert isinstance(loaded, SelfGuidedGuide)
    assert loaded.config == guide.config and loaded.pass_iterations(64) == (48, 32)
    assert torch.equal(loaded.log_depth_weight, guide.log_depth_weight)
    assert not any(p.requires_grad for p in loaded.parameters())
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    depth = rng.uniform(1.0, 3.0, (8, 12)).astype(np.float32)
    depth[2, 3] = np.nan
    up = DepthUpsampler(model='learned', weights=str(path), device='cpu')
    out = up(rgb, depth)
    known = np.isfinite(depth)
    assert np.allclose(out.reshape(8, 8, 12, 8).mean(axis=(1, 3))[known], depth[known],
                       rtol=1e-4)
    assert np.allclose(up(rgb, depth * 1000.0), out * 1000.0, rtol=1e-3)  # unit-free
    single = DepthUpsampler(model='rgb', device='cpu', iterations=72)(rgb, depth)
    assert not np.allclose(out, single, rtol=1e-3)  # the second pass changed the answer
    # The paper's loop runs both passes too and lands on the same answer (a scene with a
    # box in front of a slanted plane, a colour edge at its border and texture elsewhere).
    rows, cols = np.mgrid[0:64, 0:96]
    box = (rows > 19) & (rows < 45) & (cols > 24) & (cols < 58)
    scene_depth = np.where(box, 1.2, 2.0 + 0.002 * rows + 0.001 * cols).astype(np.float32)
    scene_rgb = np.stack([60 + 30 * ((cols // 7) % 2), np.where(box, 200, 40),
                          rng.integers(0, 20, (64, 96))], axis=-1).astype(np.uint8)
    low = scene_depth.reshape(8, 8, 12, 8).mean(axis=(1, 3))
    reference = DepthUpsampler(model='learned', weights=str(path), solver='reference',
                               iterations=10000, device='cpu')(scene_rgb, low)
    converged = DepthUpsampler(model='learned', weights=str(path), iterations=1500,
                               device='cpu')(scene_rgb, low)
    assert np.abs(reference - converged).max() < 2e-3 * float(low.max())
    # The sparse path uses the first pass (the rgb guide).
    sparse = np.full((64, 96), np.nan, np.float32)
    sparse[::4, ::4] = rng.uniform(1.0, 3.0, (16, 24))
    assert np.isfinite(up(rgb, sparse, depth_mode='sparse')).all()


def test_self_guided_trains_through_its_deployed_passes() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    gt = rng.uniform(1.0, 2.0, (64, 64)).astype(np.float32)
    scene = Scene('random/view1', rgb, gt)
    guide = SelfGuidedGuide().train()
    batch = train.draw_batch([scene], 0, 0, 2, [8], torch.device('cpu'))
    prediction = train.forward(guide, batch, PyramidSolver(), 24, 0, 'pyramid')
    train.l2_loss(prediction, batch.gt).backward()
    assert guide.log_depth_weight.grad is not None
    grads = guide.log_depth_weight.grad.abs()
    assert float(grads[1]) > 0.0 and float(grads[0] + grads[2] + grads[3]) == 0.0  # x8 only


def test_self_guided_refiner_starts_neutral_round_trips_and_trains(tmp_path: Path) -> None:
    rgb, initial = _inputs()
    plain = _self_guided()
    refined = _self_guided(refiner_width=4)
    assert refined.refiner is not None and parameter_count(refined.refiner) < 1000
    with torch.no_grad():
        for got, want in zip(refined.refine_coefficients(rgb, initial, 8),
                             plain.refine_coefficients(rgb, initial, 8)):
            assert torch.allclose(got, want, atol=1e-5)  # a fresh refiner changes nothing
    refined.train()
    cv, ch = refined.refine_coefficients(rgb, initial, 8)
    (cv.sum() + ch.sum()).backward()
    last_bias = list(refined.refiner.parameters())[-1].grad
    assert last_bias is not None and float(last_bias.abs().sum()) > 0.0
    with torch.no_grad():
        for parameter in refined.refiner.parameters():
            parameter.add_(0.01)
    path = tmp_path / 'refined.pt'
    torch.save(guide_checkpoint(refined), path)
    loaded = load_learned_guide(path)
    assert isinstance(loaded, SelfGuidedGuide) and loaded.refiner_width == 4
    with torch.no_grad():
        want_v, want_h = refined.eval().refine_coefficients(rgb, initial, 8)
        got_v, got_h = loaded.refine_coefficients(rgb, initial, 8)
    assert torch.allclose(want_v, got_v) and torch.allclose(want_h, got_h)
    with pytest.raises(ValueError):
        SelfGuidedGuide(refiner_width=-1)
