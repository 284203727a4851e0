# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Train the learned DADA guide end to end through the diffusion solver.

``python -m dada_ros.train --out runs/tiny --steps 500`` (console script ``dada_train``).

Data: the Middlebury 2005/2006 ThirdSize scenes in ``../shared/data`` (disparity in
FullSize pixel units, 0 = unknown), minus the fixed held-out scenes
:data:`dada_ros.core.datasets.VALIDATION_SCENES`; both views of every training scene.
Each step draws one factor (x4..x32) and one crop size (128..256 px, a multiple of 32),
then a batch of random crops with random horizontal flips; the low-resolution input is the
block average of the ground truth ignoring unknown pixels, normalised by its mean like
:class:`dada_ros.core.DepthUpsampler` does.

Per sample, most iterations run without gradient: the fast pyramid solver
(:class:`dada_ros.core.solver.PyramidSolver`, a random budget per level) on detached
coefficients gives a near-converged start. Then ``--window`` differentiable steps of the
paper's plain loop (:func:`dada_ros.core.diffusion.reference_diffusion`) run with autograd
and the L1 loss to the ground truth back-propagates through them into the coefficients and
the network. The paper back-propagates through 1024 steps after a random number of
gradient-free ones; with a near-converged start the gradient of the fixed point is
dominated by nearby coefficients: ``W`` steps of explicit diffusion spread a perturbation
over about ``sqrt(W)`` px, and the adjustment step couples a whole block in every step, so
the default ``W = 64`` (about 8 px plus the block, i.e. the x8 scale, and one or more
blocks at x16/x32) keeps the local signal that matters near edges at 1/16 of the
paper's back-propagation cost. On this CPU the window and its backward pass are most
of a step (0.2-0.5 s per 192-256 px crop at W = 64); W = 128 halves the steps per hour.

Everything needed to resume (network, optimiser, step, history) is in
``OUT/train_state.pt`` (``--resume``); the random draws of step ``s`` depend only on
``(seed, s)``, so a run in pieces equals a run in one go up to floating point. ``OUT/``
also gets ``dada_learned.pt`` (the shippable weights), ``history.json`` and ``curve.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np
import torch

from .core.datasets import (FACTORS, VALIDATION_SCENES, Scene, block_average, errors,
                            load_scenes, make_sample, middlebury_dir, training_scene_names)
from .core.diffusion import LAMBDA, reference_diffusion
from .core.initial import masked_bicubic
from .core.models import LearnedGuide, build_tiny_guide, guide_from_checkpoint, read_checkpoint
from .core.solver import PyramidSolver
from .core.upsampler import RGB_MEAN, RGB_STD, DepthUpsampler

CROP_SIZES = (128, 160, 192, 224, 256)


@dataclass
class Batch:
    """One training batch (all tensors on the training device).

    ``rgb (B, 3, H, W)`` ImageNet-normalised, ``initial (B, 1, H, W)``, ``source`` and
    ``valid`` ``(B, 1, H/f, W/f)``, ``gt (B, 1, H, W)`` normalised like the source (NaN
    where unknown).
    """

    factor: int
    rgb: torch.Tensor
    initial: torch.Tensor
    source: torch.Tensor
    valid: torch.Tensor
    gt: torch.Tensor


def normalise_rgb(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 ImageNet-normalised."""
    mean = np.asarray(RGB_MEAN, np.float32)[:, None, None]
    std = np.asarray(RGB_STD, np.float32)[:, None, None]
    return (rgb.transpose(2, 0, 1).astype(np.float32) / 255.0 - mean) / std


def draw_batch(scenes: Sequence[Scene], step: int, seed: int, batch_size: int,
               factors: Sequence[int], device: torch.device) -> Batch:
    """The batch of step ``step`` (deterministic in ``(seed, step)``)."""
    rng = np.random.default_rng([seed, step])
    factor = int(rng.choice(factors))
    size = int(rng.choice(CROP_SIZES))
    rgbs: List[np.ndarray] = []
    inits: List[np.ndarray] = []
    sources: List[np.ndarray] = []
    valids: List[np.ndarray] = []
    gts: List[np.ndarray] = []
    while len(rgbs) < batch_size:
        scene = scenes[int(rng.integers(len(scenes)))]
        h, w = scene.disparity.shape
        size_h, size_w = min(size, h - h % 32), min(size, w - w % 32)
        top = int(rng.integers(h - size_h + 1))
        left = int(rng.integers(w - size_w + 1))
        gt = scene.disparity[top:top + size_h, left:left + size_w]
        rgb = scene.rgb[top:top + size_h, left:left + size_w]
        if np.isfinite(gt).mean() < 0.8:
            continue
        if rng.random() < 0.5:
            gt, rgb = gt[:, ::-1], rgb[:, ::-1]
        gt = np.ascontiguousarray(gt)
        source = block_average(gt, factor)
        valid = np.isfinite(source)
        scale = float(source[valid].mean())
        source_n = np.where(valid, source / scale, 1.0).astype(np.float32)
        rgbs.append(normalise_rgb(np.ascontiguousarray(rgb)))
        inits.append(masked_bicubic(source_n, valid, factor)[None])
        sources.append(source_n[None])
        valids.append(valid[None])
        gts.append((gt / scale).astype(np.float32)[None])
    if len({r.shape for r in rgbs}) != 1:  # scenes smaller than the crop: use the smallest
        hs, ws = min(r.shape[1] for r in rgbs), min(r.shape[2] for r in rgbs)
        rgbs = [r[:, :hs, :ws] for r in rgbs]
        inits = [i[:, :hs, :ws] for i in inits]
        gts = [g[:, :hs, :ws] for g in gts]
        sources = [s[:, :hs // factor, :ws // factor] for s in sources]
        valids = [v[:, :hs // factor, :ws // factor] for v in valids]

    def stack(arrays: List[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.stack(arrays))).to(device)
    return Batch(factor, stack(rgbs), stack(inits), stack(sources), stack(valids), stack(gts))


def forward(guide: LearnedGuide, batch: Batch, solver: PyramidSolver, pre_iterations: int,
            window: int) -> torch.Tensor:
    """Prediction ``(B, 1, H, W)``: gradient-free pyramid start, then ``window`` steps."""
    cv, ch = guide.coefficients(batch.rgb, batch.initial)
    starts = []
    with torch.no_grad():
        for b in range(batch.rgb.shape[0]):
            starts.append(solver.solve(batch.initial[b, 0], cv[b, 0].detach(),
                                       ch[b, 0].detach(), batch.source[b, 0],
                                       batch.valid[b, 0], batch.factor, pre_iterations))
    start = torch.stack(starts)[:, None]
    return reference_diffusion(start, cv, ch, batch.source, batch.valid, batch.factor,
                               window, LAMBDA)


def l1_loss(prediction: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the known ground-truth pixels."""
    known = torch.isfinite(gt)
    return (prediction[known] - gt[known]).abs().mean()


def validate(guide: LearnedGuide, scenes: Sequence[Scene], factors: Iterable[int],
             device: torch.device, iterations: int = 64) -> Dict[int, float]:
    """Mean RMSE (disparity units) per factor through the deployed ``DepthUpsampler`` path."""
    upsampler = DepthUpsampler(model='rgb', iterations=iterations, device=str(device))
    was_training = guide.training
    guide.eval()
    upsampler.guide = guide  # the same inference path as model 'learned'
    result = {}
    for factor in factors:
        rmses = []
        for scene in scenes:
            rgb, source, gt = make_sample(scene, factor)
            rmses.append(errors(upsampler.up(rgb, source), gt)[0])
        result[int(factor)] = float(np.mean(rmses))
    guide.train(was_training)
    return result


def progress(iterable: Iterable[int], total: int) -> Iterator[int]:
    """tqdm when installed, else a plain line every few percent."""
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]
        yield from tqdm(iterable, total=total, dynamic_ncols=True)
        return
    except ImportError:
        pass
    start = time.monotonic()
    every = max(1, total // 50)
    for i, item in enumerate(iterable):
        yield item
        if (i + 1) % every == 0 or i + 1 == total:
            elapsed = time.monotonic() - start
            eta = elapsed / (i + 1) * (total - i - 1)
            bar = '#' * int(30 * (i + 1) / total)
            print(f'[{bar:<30}] {i + 1}/{total} {elapsed:.0f}s eta {eta:.0f}s',
                  file=sys.stderr, flush=True)


def plot_history(history: Dict[str, Any], path: Path) -> None:
    """Training loss and validation RMSE per factor against the step, as a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [s for s, _ in history['loss']]
    losses = np.asarray([v for _, v in history['loss']])
    if len(losses):
        kernel = min(25, len(losses))
        smooth = np.convolve(losses, np.ones(kernel) / kernel, mode='valid')
        ax_loss.plot(steps, losses, alpha=0.3, label='L1 (normalised)')
        ax_loss.plot(steps[kernel - 1:], smooth, label=f'mean of {kernel}')
    ax_loss.set_xlabel('step')
    ax_loss.set_ylabel('training L1 loss')
    ax_loss.legend()
    for factor in sorted({int(k) for v in history['val'] for k in v['rmse']}):
        points = [(v['step'], v['rmse'][str(factor)]) for v in history['val']]
        ax_val.plot([p[0] for p in points], [p[1] for p in points], marker='o',
                    label=f'x{factor}')
    ax_val.set_xlabel('step')
    ax_val.set_ylabel('validation RMSE (disparity px)')
    ax_val.set_yscale('log')
    ax_val.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog='dada_train', description=__doc__.split('\n')[0])
    parser.add_argument('--out', type=Path, default=Path('runs/dada_learned'),
                        help='output folder (checkpoints, history, curve)')
    parser.add_argument('--data', type=Path, default=None,
                        help='Middlebury scene folder (default ../shared/data/'
                        'middlebury_2005_2006_thirdsize)')
    parser.add_argument('--steps', type=int, default=200, help='steps to run in this call')
    parser.add_argument('--resume', action='store_true',
                        help='continue from OUT/train_state.pt')
    parser.add_argument('--init', type=Path, default=None,
                        help='start from these weights (dada_ros format) instead of the '
                        'unlearned-equivalent initialisation')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--window', type=int, default=64,
                        help='differentiable diffusion steps after the gradient-free start')
    parser.add_argument('--pre-min', type=int, default=32,
                        help='smallest gradient-free pyramid budget (per level)')
    parser.add_argument('--pre-max', type=int, default=256,
                        help='largest gradient-free pyramid budget (per level)')
    parser.add_argument('--factors', type=int, nargs='+', default=list(FACTORS))
    parser.add_argument('--width', type=int, default=8, help='TinyUNet width')
    parser.add_argument('--channels', type=int, default=8, help='output feature channels')
    parser.add_argument('--val-every', type=int, default=100)
    parser.add_argument('--val-scenes', nargs='+', default=list(VALIDATION_SCENES),
                        help='held-out scenes for the validation curve (view 1)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (1 by default: the machine is shared)')
    parser.add_argument('--device', default='auto', help="'auto', 'cpu' or 'cuda[:N]'")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``--steps`` training steps and write the outputs; returns the exit code."""
    args = parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    device = torch.device('cuda' if args.device == 'auto' and torch.cuda.is_available()
                          else ('cpu' if args.device == 'auto' else args.device))
    root = args.data or middlebury_dir()
    train_scenes = load_scenes(root, training_scene_names(root), views=(1, 5))
    val_scenes = load_scenes(root, args.val_scenes)
    args.out.mkdir(parents=True, exist_ok=True)
    state_path = args.out / 'train_state.pt'

    torch.manual_seed(args.seed)  # the network's initialisation
    guide = build_tiny_guide(args.width, args.channels)
    if args.init is not None:
        guide = guide_from_checkpoint(read_checkpoint(args.init), str(args.init))
    guide.to(device).train()
    optimiser = torch.optim.Adam(guide.parameters(), lr=args.lr)
    history: Dict[str, Any] = {'loss': [], 'val': []}
    step = 0
    if args.resume:
        state = read_checkpoint(state_path)
        guide = guide_from_checkpoint(state['guide'], str(state_path)).to(device).train()
        optimiser = torch.optim.Adam(guide.parameters(), lr=args.lr)
        optimiser.load_state_dict(state['optimiser'])
        for group in optimiser.param_groups:  # --lr applies to the resumed run too
            group['lr'] = args.lr
        history = json.loads(state['history'])
        step = int(state['step'])
        print(f'resumed {state_path} at step {step}', file=sys.stderr)
    solver = PyramidSolver()
    if not history['val']:
        history['val'].append({'step': step, 'rmse': {
            str(k): v for k, v in validate(guide, val_scenes, args.factors, device).items()}})
        print(f"step {step} validation RMSE {history['val'][-1]['rmse']}", file=sys.stderr)

    def save() -> None:
        meta = {'step': step, 'date': time.strftime('%Y-%m-%d'),
                'validation_scenes': list(VALIDATION_SCENES),
                'command': 'dada_train ' + ' '.join(sys.argv[1:] if argv is None else argv)}
        torch.save(guide.checkpoint(meta), args.out / 'dada_learned.pt')
        torch.save({'guide': guide.checkpoint(meta), 'optimiser': optimiser.state_dict(),
                    'step': step, 'history': json.dumps(history)}, state_path)
        (args.out / 'history.json').write_text(json.dumps(history, indent=1))
        plot_history(history, args.out / 'curve.png')

    first = step
    for step_index in progress(range(first, first + args.steps), args.steps):
        rng = np.random.default_rng([args.seed, step_index, 1])
        pre = int(rng.integers(args.pre_min, args.pre_max + 1))
        batch = draw_batch(train_scenes, step_index, args.seed, args.batch, args.factors,
                           device)
        loss = l1_loss(forward(guide, batch, solver, pre, args.window), batch.gt)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(guide.parameters(), 1.0)
        optimiser.step()
        step = step_index + 1
        history['loss'].append((step, float(loss.detach())))
        if step % args.val_every == 0 or step == first + args.steps:
            rmse = validate(guide, val_scenes, args.factors, device)
            history['val'].append({'step': step, 'rmse': {str(k): v for k, v in rmse.items()}})
            k_value = float(guide.logk.detach().exp())
            print(f'step {step} loss {float(loss.detach()):.4f} K {k_value:.4f} '
                  f'validation RMSE {rmse}', file=sys.stderr, flush=True)
            save()
    if args.steps <= 0:
        save()
    return 0


if __name__ == '__main__':
    sys.exit(main())
