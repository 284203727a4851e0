# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Train the ``deep_guide`` (:class:`dada_ros.core.deep_guide.DeepGuide`) on real scenes.

``python -m dada_ros.training.deep_guide --out runs/deep_guide --steps 4000`` (one CPU
thread by default; ``--resume`` continues ``OUT/train_state.pt``).

Data (none of the Middlebury test scenes Aloe, Art, Books, Moebius, Rocks2 is read):

* the 302 RGB-D-D frames of ``../shared/data/rgbdd_test_split`` (512x384 RGB, dense ToF
  depth in mm), split by :func:`rgbdd_split` into a held-out TEST part (about a third,
  never read by training or selection), a VALIDATION part (selection of the checkpoint)
  and the TRAINING part; the split is a fixed function of the frame names;
* the 16 Middlebury training scenes (both views); the three Middlebury selection scenes
  (:data:`dada_ros.training.train.SELECTION_SCENES`, view 1) join the validation.

Each step draws one factor and a batch of crops (:func:`dada_ros.training.scenes.draw_batch`:
block-average input, normalised by its mean, the whole scene's depth spread, flips,
transposes and colour jitter). Both passes run through the deployed pyramid at the deployed
budget, differentiable end to end
(:func:`dada_ros.training.differentiable.solve_differentiable`; pass 2 warm-started from
pass 1), so the loss (L2 on the normalised depth) reaches both networks and the weights.

Every ``--val-every`` steps the guide is validated through the deployed
:class:`dada_ros.core.DepthUpsampler` on the validation part (RMSE vs ``model: rgb``,
computed once) and ``OUT/`` gets ``latest.pt``, ``step_NNNNNN.pt``, ``best.pt`` (the best
validation score: mean over x8 and x16 and both domains of RMSE / RMSE of ``rgb``),
``train_state.pt`` (``--resume``), ``history.json`` and ``curve.png``. The draws of step
``s`` depend only on ``(seed, s)`` and the learning rate only on ``s``, so a run in pieces
equals a run in one go up to floating point. ``--pack`` writes the scenes to one ``.npz``
for ``scripts/gpu_train.sh``; ``--data`` reads it back.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
from pathlib import Path
import shutil
import sys
import time
from typing import Any, BinaryIO, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
import torch

from .datasets import (errors, make_sample, middlebury_dir, Scene, shared_data_dir,
                       training_scene_names, VALIDATION_SCENES)
from .differentiable import solve_differentiable
from .scenes import Batch, draw_batch
from .train import l2_loss, learning_rate, SELECTION_SCENES
from ..core.deep_guide import ARCH, deep_guide_from_config, DeepGuide, POOL
from ..core.models import FORMAT, read_checkpoint
from ..core.upsampler import DepthUpsampler, resolve_device

#: Per-factor pass-2 weights of the shipped ``self_guided`` fit (x4, x8, x16, x32), the
#: starting point of the network's per-factor weights.
INIT_RGB_WEIGHTS = (0.037, 0.057, 0.095, 0.192)
INIT_DEPTH_WEIGHTS = (5.13, 6.78, 7.05, 6.37)
#: Budget split of the deployed guide: pass 2 is shorter than in ``self_guided`` (0.75
#: instead of 1.0) to pay for the network within 1.5x the time of ``model: rgb``.
FIRST_FRACTION = 0.5
REFINE_FRACTION = 0.75
#: Factors whose validation RMSE selects the checkpoint.
SELECT_FACTORS = (8, 16)


def rgbdd_dir() -> Path:
    """Return ``../shared/data/rgbdd_test_split``."""
    return shared_data_dir() / 'rgbdd_test_split'


def rgbdd_names(root: Optional[Path] = None) -> List[str]:
    """Frame ids (``<id>`` of ``Depth/<id>_HR_gt.png`` with a matching RGB), sorted."""
    root = rgbdd_dir() if root is None else root
    if not (root / 'Depth').is_dir():
        raise FileNotFoundError(f'{root}/Depth not found: the RGB-D-D frames must be at '
                                '../shared/data/rgbdd_test_split (or set DADA_DATA_DIR)')
    return sorted(p.name[:-len('_HR_gt.png')] for p in (root / 'Depth').glob('*_HR_gt.png')
                  if (root / 'RGB' / (p.name[:-len('_HR_gt.png')] + '_RGB.jpg')).is_file())


def rgbdd_part(name: str) -> str:
    """``'test'``, ``'validation'`` or ``'train'`` for an RGB-D-D frame id (fixed split).

    From the SHA-1 of the id: a third (digest % 3 == 0) is the held-out test part, one in
    eight of the rest the validation part, the others the training part.
    """
    digest = int(hashlib.sha1(name.encode('utf-8')).hexdigest(), 16)
    if digest % 3 == 0:
        return 'test'
    return 'validation' if (digest // 3) % 8 == 0 else 'train'


def rgbdd_split(names: Sequence[str]) -> Dict[str, List[str]]:
    """Split frame ids into ``{'train': [...], 'validation': [...], 'test': [...]}``."""
    parts: Dict[str, List[str]] = {'train': [], 'validation': [], 'test': []}
    for name in names:
        parts[rgbdd_part(name)].append(name)
    return parts


def _rgbdd_scene(name: str, rgb_file: BinaryIO, depth_file: BinaryIO) -> Scene:
    with Image.open(rgb_file) as image:
        rgb = np.asarray(image.convert('RGB'), dtype=np.uint8).copy()
    with Image.open(depth_file) as image:
        raw = np.asarray(image).astype(np.float32)
    if raw.shape != rgb.shape[:2]:
        raise ValueError(f'{name}: depth {raw.shape} and rgb {rgb.shape[:2]} differ')
    return Scene(f'rgbdd/{name}', rgb, np.where(raw > 0, raw, np.nan).astype(np.float32))


def _middlebury_scene(name: str, rgb_file: BinaryIO, disp_file: BinaryIO) -> Scene:
    """Decode like :func:`dada_ros.training.datasets.load_scene` (0 = unknown -> NaN)."""
    with Image.open(rgb_file) as image:
        rgb = np.asarray(image.convert('RGB'), dtype=np.uint8).copy()
    with Image.open(disp_file) as image:
        raw = np.asarray(image.convert('L'), dtype=np.float32)
    return Scene(name, rgb, np.where(raw > 0, raw, np.nan).astype(np.float32))


def load_rgbdd(names: Sequence[str], root: Optional[Path] = None) -> List[Scene]:
    """Load RGB-D-D frames: ``Scene.rgb (384, 512, 3)`` uint8, depth in mm (NaN where 0)."""
    root = rgbdd_dir() if root is None else root
    scenes = []
    for name in names:
        with open(root / 'RGB' / f'{name}_RGB.jpg', 'rb') as rgb_file, \
                open(root / 'Depth' / f'{name}_HR_gt.png', 'rb') as depth_file:
            scenes.append(_rgbdd_scene(name, rgb_file, depth_file))
    return scenes


def source_files() -> List[Tuple[str, str, Path, Path]]:
    """``(group, name, rgb file, depth file)`` of every scene training reads.

    Groups: ``train``, ``val-rgbdd`` (RGB-D-D validation part) and ``val-middlebury`` (the
    Middlebury selection scenes, view 1). Names: ``rgbdd/<id>`` or ``<Scene>/view<v>``.
    """
    parts = rgbdd_split(rgbdd_names())
    root, mb = rgbdd_dir(), middlebury_dir()
    files = []
    for group, part in (('train', 'train'), ('val-rgbdd', 'validation')):
        files += [(group, f'rgbdd/{n}', root / 'RGB' / f'{n}_RGB.jpg',
                   root / 'Depth' / f'{n}_HR_gt.png') for n in parts[part]]
    names = [n for n in training_scene_names(mb) if n not in SELECTION_SCENES]
    for group, scene_names, views in (('train', names, (1, 5)),
                                      ('val-middlebury', list(SELECTION_SCENES), (1,))):
        files += [(group, f'{n}/view{v}', mb / n / f'view{v}.png', mb / n / f'disp{v}.png')
                  for n in scene_names for v in views if (mb / n / f'view{v}.png').is_file()]
    leaked = [f[1] for f in files if f[1].split('/')[0] in VALIDATION_SCENES]
    if leaked:
        raise RuntimeError(f'held-out test scenes in the training data: {leaked}')
    return files


def _decode(name: str, rgb_file: BinaryIO, depth_file: BinaryIO) -> Scene:
    if name.startswith('rgbdd/'):
        return _rgbdd_scene(name[len('rgbdd/'):], rgb_file, depth_file)
    return _middlebury_scene(name, rgb_file, depth_file)


def _grouped(scenes: Sequence[Tuple[str, Scene]]
             ) -> Tuple[List[Scene], Dict[str, List[Scene]]]:
    train = [s for g, s in scenes if g == 'train']
    validation: Dict[str, List[Scene]] = {}
    for group, scene in scenes:
        if group.startswith('val-'):
            validation.setdefault(group[len('val-'):], []).append(scene)
    if not train or not validation:
        raise ValueError('training needs training and validation scenes')
    return train, validation


def training_scenes(data: Optional[Path] = None
                    ) -> Tuple[List[Scene], Dict[str, List[Scene]]]:
    """Training scenes and the validation scenes by domain (``rgbdd``, ``middlebury``).

    ``data``: a pack written by :func:`pack` instead of ``../shared``.
    """
    if data is not None:
        return unpack(data)
    loaded = []
    for group, name, rgb_path, depth_path in source_files():
        with open(rgb_path, 'rb') as rgb_file, open(depth_path, 'rb') as depth_file:
            loaded.append((group, _decode(name, rgb_file, depth_file)))
    return _grouped(loaded)


def pack(path: Path, files: Sequence[Tuple[str, str, Path, Path]]) -> None:
    """Write the encoded files (:func:`source_files`) to one ``.npz`` (about 40 MB).

    The GPU machine sees only the checkout; the original JPEG/PNG bytes keep the pack small
    and decode to exactly the arrays read here.
    """
    arrays: Dict[str, np.ndarray] = {}
    for index, (group, name, rgb_path, depth_path) in enumerate(files):
        key = f'{group}/{index:04d}/{name.replace("/", ":")}'
        arrays[key + '/rgb'] = np.frombuffer(rgb_path.read_bytes(), np.uint8)
        arrays[key + '/depth'] = np.frombuffer(depth_path.read_bytes(), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)  # type: ignore[arg-type]


def unpack(path: Path) -> Tuple[List[Scene], Dict[str, List[Scene]]]:
    """Read a pack written by :func:`pack`."""
    loaded = []
    with np.load(path) as data:
        for key in sorted({k.rsplit('/', 1)[0] for k in data.files}):
            group, _, name = key.split('/', 2)
            loaded.append((group, _decode(name.replace(':', '/'),
                                          io.BytesIO(data[key + '/rgb'].tobytes()),
                                          io.BytesIO(data[key + '/depth'].tobytes()))))
    return _grouped(loaded)


def deep_guide_checkpoint(guide: DeepGuide,
                          meta: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Return a ``weights_only``-loadable dict in the dada_ros format (arch ``deep_guide``)."""
    return {'format': FORMAT, 'arch': ARCH, 'config': guide.config,
            'state_dict': {k: v.detach().cpu().clone() for k, v in guide.state_dict().items()},
            'meta': dict(meta or {})}


def new_guide(width: int, pool: int = POOL, refine_fraction: float = REFINE_FRACTION,
              first_fraction: float = FIRST_FRACTION) -> DeepGuide:
    """Return a fresh :class:`DeepGuide`: ``model: rgb`` then the shipped ``self_guided`` fit."""
    return DeepGuide(width=width, rgb_weights=INIT_RGB_WEIGHTS,
                     depth_weights=INIT_DEPTH_WEIGHTS, first_fraction=first_fraction,
                     refine_fraction=refine_fraction, pool=pool)


def forward(guide: DeepGuide, batch: Batch, iterations: int) -> torch.Tensor:
    """Prediction ``(B, 1, H, W)`` of the deployed two passes, differentiable end to end.

    Both passes run the deployed pyramid (:func:`solve_differentiable`; pass 2 warm-started
    from pass 1), so the loss reaches both networks, also through ``D1``.
    """
    first, second = guide.pass_iterations(iterations)
    cv, ch = guide.coefficients(batch.rgb, batch.initial, spread=batch.spread)
    estimate = solve_differentiable(batch.initial, cv, ch, batch.source, batch.valid,
                                    batch.factor, first,
                                    momentum_scale=guide.momentum_scales[0])
    cv, ch = guide.refine_coefficients(batch.rgb, estimate, batch.factor, spread=batch.spread)
    return solve_differentiable(estimate, cv, ch, batch.source, batch.valid, batch.factor,
                                second, warm_start=True,
                                momentum_scale=guide.momentum_scales[1])


#: Learning rate of the base weights (log) relative to the networks': a global weight has
#: to move by about 1 in log (the grid on training frames), the networks' weights far less.
SCALAR_LR_SCALE = 10.0


def make_optimiser(guide: DeepGuide, lr: float) -> torch.optim.Optimizer:
    """Adam with two groups: the base weights (``SCALAR_LR_SCALE`` x ``lr``), the networks."""
    scalars = [guide.log_first_weights, guide.log_rgb_weight, guide.log_depth_weight]
    ids = {id(p) for p in scalars}
    nets = [p for p in guide.parameters() if id(p) not in ids]
    return torch.optim.Adam([{'params': scalars, 'lr': lr * SCALAR_LR_SCALE,
                              'scale': SCALAR_LR_SCALE},
                             {'params': nets, 'lr': lr, 'scale': 1.0}])


def validation_rmse(upsampler: DepthUpsampler, validation: Dict[str, List[Scene]],
                    factors: Sequence[int]) -> Dict[str, float]:
    """Mean RMSE per ``<domain>/x<factor>`` of ``upsampler`` (block-average input)."""
    out: Dict[str, float] = {}
    for domain, scenes in validation.items():
        for factor in factors:
            rmses = []
            for scene in scenes:
                rgb, source, gt = make_sample(scene, factor)
                rmses.append(errors(upsampler(rgb, source), gt)[0])
            out[f'{domain}/x{factor}'] = float(np.mean(rmses))
    return out


def score(rmse: Dict[str, float], reference: Dict[str, float]) -> float:
    """Mean over domains and :data:`SELECT_FACTORS` of ``rmse / reference`` (rgb = 1)."""
    keys = [k for k in rmse if int(k.rsplit('x', 1)[1]) in SELECT_FACTORS and k in reference]
    return float(np.mean([rmse[k] / reference[k] for k in keys]))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog='python -m dada_ros.training.deep_guide',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--out', type=Path, default=Path('runs/deep_guide'))
    parser.add_argument('--data', type=Path, default=None, help='a pack written by --pack')
    parser.add_argument('--pack', type=Path, default=None,
                        help='write the training and validation scenes here and exit')
    parser.add_argument('--steps', type=int, default=4000, help='steps to run in this call')
    parser.add_argument('--resume', action='store_true', help='continue OUT/train_state.pt')
    parser.add_argument('--init', type=Path, default=None,
                        help='start from these deep_guide weights (fresh optimiser and '
                        'schedule), e.g. the best.pt of an earlier run')
    parser.add_argument('--width', type=int, default=16)
    parser.add_argument('--pool', type=int, default=None,
                        help='resolution of the networks (1/pool; default 4, or that of --init)')
    parser.add_argument('--repeat-middlebury', type=int, default=1,
                        help='draw each Middlebury training view this many times as often')
    parser.add_argument('--first-fraction', type=float, default=None,
                        help=f'steps of pass 1 / budget (default {FIRST_FRACTION}, or that of '
                        '--init)')
    parser.add_argument('--refine-fraction', type=float, default=None,
                        help=f'steps of pass 2 / budget (default {REFINE_FRACTION}, or that of '
                        '--init)')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--lr-min', type=float, default=5e-5)
    parser.add_argument('--total-steps', type=int, default=6000,
                        help='length of the cosine schedule (depends only on the step)')
    parser.add_argument('--iterations', type=int, default=96, help='deployed budget')
    parser.add_argument('--factors', type=int, nargs='+', default=[4, 8, 8, 16, 16, 32])
    parser.add_argument('--val-factors', type=int, nargs='+', default=[4, 8, 16])
    parser.add_argument('--val-every', type=int, default=100)
    parser.add_argument('--max-minutes', type=float, default=0.0,
                        help='stop (validated, saved, resumable) after this time; 0 = none')
    parser.add_argument('--plot', type=Path, default=None,
                        help='draw the curves of the --runs folders into this PNG and exit')
    parser.add_argument('--runs', type=Path, nargs='*', default=[])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='auto')
    return parser.parse_args(argv)


def save_state(out: Path, guide: DeepGuide, optimiser: torch.optim.Optimizer, step: int,
               history: Dict[str, Any], meta: Dict[str, Any]) -> None:
    """Write the checkpoints, the resumable state, the history and the curve."""
    checkpoint = deep_guide_checkpoint(guide, meta)
    torch.save(checkpoint, out / 'latest.pt')
    torch.save(checkpoint, out / f'step_{step:06d}.pt')
    best = history.get('best')
    if best is None or meta['score'] < float(best['score']):
        history['best'] = {'step': step, 'score': meta['score'], 'rmse': meta['rmse']}
        torch.save(checkpoint, out / 'best.pt')
    torch.save({'guide': checkpoint, 'optimiser': optimiser.state_dict(), 'step': step,
                'history': json.dumps(history)}, out / 'train_state.pt')
    (out / 'history.json').write_text(json.dumps(history, indent=1))
    plot_curves(history, out / 'curve.png')


def plot_curves(history: Dict[str, Any], path: Path, title: str = '') -> None:
    """Training loss and validation RMSE vs ``model: rgb`` (%) per domain/factor, as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(12, 4.5))
    if history['loss']:
        steps = np.asarray([s for s, _ in history['loss']])
        losses = np.asarray([v for _, v in history['loss']])
        kernel = min(100, len(losses))
        smooth = np.convolve(losses, np.ones(kernel) / kernel, mode='valid')
        ax_loss.semilogy(steps, losses, alpha=0.2, label='loss (L2, normalised depth)')
        ax_loss.semilogy(steps[kernel - 1:], smooth, label=f'mean of {kernel}')
        ax_loss.legend()
    ax_loss.set_xlabel('step')
    ax_loss.set_ylabel('training loss')
    for key in sorted(history['rgb'], key=lambda k: (k.split('/')[0], int(k.rsplit('x', 1)[1]))):
        points = [(v['step'], 100.0 * (v['rmse'][key] / history['rgb'][key] - 1.0))
                  for v in history['val']]
        ax_val.plot([p[0] for p in points], [p[1] for p in points], marker='.',
                    linestyle='-' if key.startswith('rgbdd') else '--', label=key)
    ax_val.axhline(-10.0, color='red', linewidth=0.8, label='target -10 %')
    best = history.get('best')
    if best:
        ax_val.axvline(best['step'], color='grey', linestyle=':', label='best.pt')
    ax_val.set_xlabel('step')
    ax_val.set_ylabel('validation RMSE vs model: rgb (%)')
    ax_val.legend(fontsize='small', ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_runs(runs: Sequence[Path], path: Path) -> None:
    """One row per run folder (its ``history.json``): loss and validation vs ``rgb`` (%)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(runs), 2, figsize=(12, 3.6 * len(runs)), squeeze=False)
    for (ax_loss, ax_val), run in zip(axes, runs):
        history = json.loads((run / 'history.json').read_text())
        if history['loss']:
            steps = np.asarray([s for s, _ in history['loss']])
            losses = np.asarray([v for _, v in history['loss']])
            kernel = min(50, len(losses))
            smooth = np.convolve(losses, np.ones(kernel) / kernel, mode='valid')
            ax_loss.semilogy(steps, losses, alpha=0.2)
            ax_loss.semilogy(steps[kernel - 1:], smooth, label=f'mean of {kernel}')
            ax_loss.legend(fontsize='small')
        ax_loss.set_title(f'{run.name}: training loss (L2, normalised depth)', fontsize=9)
        for key in sorted(history['rgb']):
            points = [(v['step'], 100.0 * (v['rmse'][key] / history['rgb'][key] - 1.0))
                      for v in history['val']]
            ax_val.plot([p[0] for p in points], [p[1] for p in points], marker='.',
                        linestyle='-' if key.startswith('rgbdd') else '--', label=key)
        ax_val.axhline(-10.0, color='red', linewidth=0.8, label='target -10 %')
        ax_val.set_title(f'{run.name}: validation RMSE vs model: rgb (%)', fontsize=9)
        ax_val.legend(fontsize='x-small', ncol=2)
    for ax in axes[-1]:
        ax.set_xlabel('step')
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _start(args: argparse.Namespace) -> Tuple[DeepGuide, Any, Dict[str, Any], int]:
    """Return the guide, optimiser state, history and step to start from.

    A fresh guide (``--init``: that checkpoint's), or with ``--resume`` the run's state.
    """
    torch.manual_seed(args.seed)
    guide = new_guide(args.width, POOL if args.pool is None else args.pool,
                      REFINE_FRACTION if args.refine_fraction is None else args.refine_fraction,
                      FIRST_FRACTION if args.first_fraction is None else args.first_fraction)
    if args.init is not None:
        saved = read_checkpoint(args.init)
        if not isinstance(saved, dict) or saved.get('arch') != ARCH:
            raise ValueError(f'{args.init} is not a {ARCH} checkpoint')
        config = dict(saved['config'])
        if args.pool is not None:  # the same weights at another resolution
            config['pool'] = args.pool
        if args.refine_fraction is not None:
            config['refine_fraction'] = args.refine_fraction
        if args.first_fraction is not None:
            config['first_fraction'] = args.first_fraction
        guide = deep_guide_from_config(config)
        guide.load_state_dict(saved['state_dict'])
    history: Dict[str, Any] = {'loss': [], 'val': [], 'best': None, 'rgb': None}
    if not args.resume:
        return guide, None, history, 0
    state = read_checkpoint(args.out / 'train_state.pt')
    saved = state['guide']
    if saved.get('arch') != ARCH:
        raise ValueError(f'{args.out}/train_state.pt is not a {ARCH} run')
    guide = deep_guide_from_config(saved['config'])
    guide.load_state_dict(saved['state_dict'])
    step = int(state['step'])
    print(f'resumed at step {step}', file=sys.stderr, flush=True)
    return guide, state['optimiser'], json.loads(state['history']), step


def _train_step(guide: DeepGuide, optimiser: torch.optim.Optimizer, train: Sequence[Scene],
                step_index: int, args: argparse.Namespace, device: torch.device) -> float:
    """One optimiser step on the batch of ``step_index``; return its loss."""
    batch = draw_batch(train, step_index, args.seed, args.batch, args.factors, device,
                       augment=True)
    rate = learning_rate(step_index, args.lr, args.lr_min, args.total_steps)
    for group in optimiser.param_groups:
        group['lr'] = rate * group['scale']
    prediction = forward(guide, batch, args.iterations)
    loss = l2_loss(prediction, batch.gt)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(guide.parameters(), 1.0)
    optimiser.step()
    return float(loss.detach())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Train; returns the exit code."""
    args = parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    device = resolve_device(args.device)
    if args.plot is not None:
        plot_runs(args.runs, args.plot)
        return 0
    if args.pack is not None:
        files = source_files()
        pack(args.pack, files)
        print(f'wrote {len(files)} scenes to {args.pack}', file=sys.stderr)
        return 0
    train, validation = training_scenes(args.data)
    # 179 RGB-D-D frames outnumber the 32 Middlebury views; repeating the latter balances the
    # crops between the two domains (the score weighs them equally)
    train = train + [s for s in train if not s.name.startswith('rgbdd/')] \
        * (args.repeat_middlebury - 1)
    args.out.mkdir(parents=True, exist_ok=True)
    guide, optimiser_state, history, step = _start(args)
    guide.to(device).train()
    optimiser = make_optimiser(guide, args.lr)
    if optimiser_state is not None:
        optimiser.load_state_dict(optimiser_state)
    meta_base = {'arch': ARCH, 'train_frames': len({s.name for s in train}),
                 'repeat_middlebury': args.repeat_middlebury,
                 'validation': {k: [s.name for s in v] for k, v in validation.items()},
                 'test_scenes_never_seen': list(VALIDATION_SCENES) + ['rgbdd test part'],
                 'command': 'python -m dada_ros.training.deep_guide '
                 + ' '.join(sys.argv[1:] if argv is None else argv)}

    def run_validation() -> None:
        guide.eval()  # the same inference path as model 'learned'
        rmse = validation_rmse(DepthUpsampler(iterations=args.iterations, device=str(device),
                                              guide=guide), validation, args.val_factors)
        guide.train()
        history['val'].append({'step': step, 'rmse': rmse})
        value = score(rmse, history['rgb'])
        ratios = {k: round(rmse[k] / history['rgb'][k], 4) for k in rmse}
        save_state(args.out, guide, optimiser, step, history,
                   {**meta_base, 'step': step, 'rmse': rmse, 'score': value,
                    'date': time.strftime('%Y-%m-%d %H:%M')})
        print(f'{time.strftime("%H:%M:%S")} step {step} validation score {value:.4f} vs rgb '
              f'{ratios} best {history["best"]["step"]} ({history["best"]["score"]:.4f})',
              file=sys.stderr, flush=True)

    if history['rgb'] is None:
        rgb = DepthUpsampler(model='rgb', device=str(device), iterations=args.iterations)
        history['rgb'] = validation_rmse(rgb, validation, args.val_factors)
        print(f'model rgb validation RMSE {history["rgb"]}', file=sys.stderr, flush=True)
        run_validation()  # the initialisation (= self_guided fit, shorter pass 2)
    started = time.monotonic()
    recent: List[float] = []
    for step_index in range(step, step + args.steps):
        value = _train_step(guide, optimiser, train, step_index, args, device)
        step = step_index + 1
        if math.isfinite(value):
            history['loss'].append((step, value))
            recent.append(value)
        if step % 20 == 0:
            print(f'{time.strftime("%H:%M:%S")} step {step} loss {np.mean(recent):.3e} '
                  f'lr {optimiser.param_groups[0]["lr"]:.2e}', file=sys.stderr, flush=True)
            recent.clear()
        out_of_time = args.max_minutes > 0 and \
            time.monotonic() - started > 60.0 * args.max_minutes
        if step % args.val_every == 0 or out_of_time:
            run_validation()
        if out_of_time:
            print(f'--max-minutes reached at step {step}; continue with --resume',
                  file=sys.stderr, flush=True)
            break
    if history['val'][-1]['step'] != step:
        run_validation()
    if (args.out / 'best.pt').is_file():
        shutil.copyfile(args.out / 'best.pt', args.out / 'dada_learned.pt')
    return 0


if __name__ == '__main__':
    sys.exit(main())
