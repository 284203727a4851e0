# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Train the learned DADA guide end to end through the diffusion solver.

``python -m dada_ros.training.train --out runs/self_guided --steps 600`` (console script
``dada_train``).

Guide (``--arch``): ``self_guided`` (default, the packaged weights;
:class:`dada_ros.core.models.SelfGuidedGuide`, two-pass DADA with learned per-factor weights
of the second pass, plus an optional second-pass CNN with ``--width N``), ``gain_net``
(:class:`dada_ros.core.models.GainNet`, learned per-channel gains on the features of
``model: rgb``, about 55 k parameters) or ``tiny_unet``
(:class:`dada_ros.core.models.TinyUNet`). All start as their unlearned guide (the
self-guided one from the weights 0.1 / 6 found by a grid on training scenes).
``self_guided`` always trains through its deployed passes (:func:`forward_self_guided`);
``--through`` and ``--window`` apply to the CNN guides.

Data: the Middlebury 2005/2006 ThirdSize scenes in ``../shared/data`` (disparity in
FullSize pixel units, 0 = unknown), split three ways:

* test: the fixed held-out scenes :data:`dada_ros.training.datasets.VALIDATION_SCENES`
  (Aloe, Art, Books, Moebius, Rocks2), never read here; only ``dada_eval`` reports them;
* selection: :data:`SELECTION_SCENES` (``--val-scenes``, both views), the validation
  curve and the choice of the best checkpoint;
* training: the remaining 16 scenes, both views; ``--extra-data`` adds Middlebury 2003
  (Cones, Teddy) and/or the 640x480 RGB-D frames of ``../shared`` (no test scene);
  ``--procedural N`` adds N generated scenes textured from the training photographs,
  whose texture edges are known not to be depth edges
  (:mod:`dada_ros.training.procedural`).

``--bag PATH --rgb-topic T --depth-topic T`` trains on a recording instead (a rosbag2 with
RGB and a dense depth registered to it, e.g. a camera's depth aligned to colour): the
depth is the target, its block average the input, so a team can fine-tune to its own
camera (``--init`` the packaged weights); the last 20% of the pairs are the selection
frames. ``--pack FILE.npz`` writes the resolved training and selection scenes to one file
and ``--data FILE.npz`` reads them back: the GPU recipe (``scripts/gpu_train.sh``) runs on
a machine that sees only the checkout. ``--max-minutes`` stops a run in time, validated,
saved and resumable.

Each step draws one factor (``--factors``; repeat a factor to draw it more often, e.g.
``4 8 8 16 16 32``) and one crop size (128..256 px, a multiple of 32),
then a batch of random crops with random horizontal flips; the low-resolution input is the
block average of the ground truth ignoring unknown pixels, normalised by its mean like
:class:`dada_ros.core.DepthUpsampler` does.

Per sample, most iterations run without gradient: the fast pyramid solver
(:class:`dada_ros.core.solver.PyramidSolver`, a random budget per level) on detached
coefficients gives a near-converged start. Then ``--window`` differentiable steps of the
paper's plain loop (:func:`dada_ros.core.diffusion.reference_diffusion`) run with autograd
and the loss (``--loss``, L1 by default) back-propagates through them into the coefficients and
the network. The paper back-propagates through 1024 steps after a random number of
gradient-free ones; with a near-converged start the gradient of the fixed point is
dominated by nearby coefficients: ``W`` steps of explicit diffusion spread a perturbation
over about ``sqrt(W)`` px, and the adjustment step couples a whole block in every step, so
the default ``W = 64`` (about 8 px plus the block, i.e. the x8 scale, and one or more
blocks at x16/x32) keeps the local signal that matters near edges at 1/16 of the
paper's back-propagation cost. On this CPU the window and its backward pass are most
of a step (0.2-0.5 s per 192-256 px crop at W = 64); W = 128 halves the steps per hour.
``--through pyramid`` instead back-propagates through the whole deployed solver
(:func:`dada_ros.training.differentiable.solve_differentiable`); on the Middlebury scenes it
trained worse than the window (see the model card). ``--augment`` adds vertical flips, transposes
and colour jitter (:func:`augment_crop`).

The learning rate follows a cosine from ``--lr`` to ``--lr-min`` over ``--total-steps``
(constant when that is 0); it depends only on the step, so resuming keeps the schedule.

Everything needed to resume (network, optimiser, step, history, best score) is in
``OUT/train_state.pt`` (``--resume``); the random draws of step ``s`` depend only on
``(seed, s)``, so a run in pieces equals a run in one go up to floating point. At every
validation ``OUT/`` gets ``latest.pt`` (the current weights), ``step_NNNNNN.pt``, and when
the selection score improved ``best.pt``; ``dada_learned.pt`` (the shippable weights) is
always a copy of ``best.pt``. The selection score is the mean over ``--select-factors``
(default x8 and x16) of the validation RMSE divided by that of the first validation
(the initialisation), so each factor counts by its relative gain; the initialisation is
a candidate too, so ``best.pt`` is never worse than the starting weights on the
selection scenes (with ``--init``, continue a run from its ``best.pt``: a new ``--seed``
gives new batches). ``history.json`` and
``curve.png`` hold the loss and the validation curve.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
import shutil
import sys
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .builders import build_gain_guide, build_tiny_guide, guide_checkpoint
from .datasets import (errors, FACTORS, load_scenes, make_sample, middlebury_dir, Scene,
                       training_scene_names, VALIDATION_SCENES)
from .differentiable import solve_differentiable
from .procedural import procedural_scenes
from .scenes import (bag_scenes, Batch, draw_batch, EXTRA_DATA, extra_scenes, pack_scenes,
                     split_bag_scenes, unpack_scenes)
from ..core.deep_guide import DeepGuide
from ..core.diffusion import LAMBDA, reference_diffusion
from ..core.models import AnyLearnedGuide, guide_from_checkpoint, read_checkpoint, SelfGuidedGuide
from ..core.solver import PyramidSolver
from ..core.upsampler import DepthUpsampler, resolve_device

#: Training scenes set aside for the validation curve and checkpoint selection (both
#: views). Disjoint from the held-out test scenes, which training never reads.
SELECTION_SCENES: Tuple[str, ...] = ('Dolls', 'Baby2', 'Cloth3')


def forward_self_guided(guide: SelfGuidedGuide, batch: Batch, solver: PyramidSolver,
                        iterations: int) -> torch.Tensor:
    """Prediction ``(B, 1, H, W)`` of the two-pass guide, as deployed at ``iterations``.

    Pass 1 has no learned parameter: it runs gradient-free (:class:`PyramidSolver`).
    Pass 2 is the deployed warm-started pyramid, differentiable end to end
    (:func:`dada_ros.training.differentiable.solve_differentiable`), so the loss reaches the
    weights of the batch's factor.
    """
    first, second = guide.pass_iterations(iterations)
    with torch.no_grad():
        cv, ch = guide.coefficients(batch.rgb, batch.initial, spread=batch.spread)
        estimate = torch.stack([
            solver.solve(batch.initial[b, 0], cv[b, 0], ch[b, 0], batch.source[b, 0],
                         batch.valid[b, 0], batch.factor, first,
                         momentum_scale=guide.momentum_scales[0])
            for b in range(batch.rgb.shape[0])])[:, None]
    # the whole scene's spread of the depth, as for pass 1 (a crop's own is smaller)
    cv, ch = guide.refine_coefficients(batch.rgb, estimate, batch.factor, spread=batch.spread)
    return solve_differentiable(estimate, cv, ch, batch.source, batch.valid, batch.factor,
                                second, warm_start=True,
                                momentum_scale=guide.momentum_scales[1])


def forward(guide: AnyLearnedGuide, batch: Batch, solver: PyramidSolver, pre_iterations: int,
            window: int, through: str = 'window') -> torch.Tensor:
    """Prediction ``(B, 1, H, W)`` with gradients to the guide.

    ``through='pyramid'``: the deployed pyramid solver at ``pre_iterations``, differentiable
    end to end (:func:`dada_ros.training.differentiable.solve_differentiable`). ``'window'``: a
    gradient-free pyramid start, then ``window`` differentiable steps of the paper's loop.
    A :class:`SelfGuidedGuide` always trains through its deployed passes
    (:func:`forward_self_guided`).
    """
    if isinstance(guide, SelfGuidedGuide):
        return forward_self_guided(guide, batch, solver, pre_iterations)
    cv, ch = guide.coefficients(batch.rgb, batch.initial, spread=batch.spread)
    if through == 'pyramid':
        return solve_differentiable(batch.initial, cv, ch, batch.source, batch.valid,
                                    batch.factor, pre_iterations)
    starts = []
    with torch.no_grad():
        for b in range(batch.rgb.shape[0]):
            starts.append(solver.solve(batch.initial[b, 0], cv[b, 0].detach(),
                                       ch[b, 0].detach(), batch.source[b, 0],
                                       batch.valid[b, 0], batch.factor, pre_iterations))
    start = torch.stack(starts)[:, None]
    return reference_diffusion(start, cv, ch, batch.source, batch.valid, batch.factor,
                               window, LAMBDA)


def learned_values(guide: AnyLearnedGuide) -> str:
    """Return the guide's scalar parameters for the log: K, or the self-guided weights."""
    if isinstance(guide, (SelfGuidedGuide, DeepGuide)):
        rgb = guide.log_rgb_weight.detach().exp().tolist()
        depth = guide.log_depth_weight.detach().exp().tolist()
        return ' '.join(f'x{f}: rgb {r:.3f} depth {d:.2f}'
                        for f, r, d in zip(guide.factors, rgb, depth))
    return f'K {float(guide.logk.detach().exp()):.4f}'


def l1_loss(prediction: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the known ground-truth pixels."""
    known = torch.isfinite(gt)
    return (prediction[known] - gt[known]).abs().mean()


def learning_rate(step: int, lr: float, lr_min: float, total_steps: int) -> float:
    """Cosine schedule from ``lr`` (step 0) to ``lr_min`` (``total_steps``); 0 = constant."""
    if total_steps <= 0:
        return lr
    progress_ = min(1.0, max(0.0, step / total_steps))
    return lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * progress_))


def selection_score(rmse: Dict[str, float], reference: Dict[str, float],
                    factors: Sequence[int]) -> float:
    """Mean over ``factors`` of ``rmse / reference`` (lower is better; 1 = no gain)."""
    keys = [str(int(f)) for f in factors if str(int(f)) in rmse and str(int(f)) in reference]
    if not keys:
        raise ValueError(f'no selection factor {list(factors)} among the validated ones '
                         f'{sorted(rmse)}')
    return float(np.mean([rmse[k] / reference[k] for k in keys]))


def l2_loss(prediction: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the known ground-truth pixels (weights edges like RMSE)."""
    known = torch.isfinite(gt)
    return ((prediction[known] - gt[known]) ** 2).mean()


#: Training losses by ``--loss`` name.
LOSSES = {'l1': l1_loss, 'l2': l2_loss}


def validate(guide: AnyLearnedGuide, scenes: Sequence[Scene], factors: Iterable[int],
             device: torch.device, iterations: int = 96) -> Dict[int, float]:
    """Mean RMSE (disparity units) per factor through the deployed ``DepthUpsampler`` path."""
    # The same inference path as model 'learned', with the network being trained.
    upsampler = DepthUpsampler(iterations=iterations, device=str(device), guide=guide)
    was_training = guide.training
    guide.eval()
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
    """Show progress with tqdm when installed, else a plain line every few percent."""
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
        ax_loss.plot(steps, losses, alpha=0.3, label='loss (normalised)')
        ax_loss.plot(steps[kernel - 1:], smooth, label=f'mean of {kernel}')
        ax_loss.legend()
    ax_loss.set_xlabel('step')
    ax_loss.set_ylabel('training loss')
    # Relative to the first validation (the initialisation): gains are a few percent.
    for factor in sorted({int(k) for v in history['val'] for k in v['rmse']}):
        key = str(factor)
        reference = history['val'][0]['rmse'][key]
        points = [(v['step'], 100.0 * (v['rmse'][key] / reference - 1.0))
                  for v in history['val']]
        ax_val.plot([p[0] for p in points], [p[1] for p in points], marker='o',
                    label=f'x{factor} ({reference:.3f} at step {history["val"][0]["step"]})')
    best = history.get('best')
    if best:
        ax_val.axvline(best['step'], color='grey', linestyle='--', label='best.pt')
    ax_val.set_xlabel('step')
    ax_val.set_ylabel('validation RMSE change vs first validation (%)')
    ax_val.legend(fontsize='small')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog='dada_train', description=__doc__.split('\n')[0])
    _run_options(parser)
    _guide_options(parser)
    _data_options(parser)
    return parser.parse_args(argv)


def _run_options(parser: argparse.ArgumentParser) -> None:
    """Output, schedule, loss and validation options."""
    parser.add_argument('--out', type=Path, default=Path('runs/dada_learned'),
                        help='output folder (checkpoints, history, curve)')
    parser.add_argument('--data', type=Path, default=None,
                        help='Middlebury scene folder (default ../shared/data/'
                        'middlebury_2005_2006_thirdsize), or a .npz written by --pack')
    parser.add_argument('--steps', type=int, default=200, help='steps to run in this call')
    parser.add_argument('--resume', action='store_true',
                        help='continue from OUT/train_state.pt')
    parser.add_argument('--init', type=Path, default=None,
                        help='start from these weights (dada_ros format) instead of the '
                        'unlearned-equivalent initialisation')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--lr', type=float, default=1e-3, help='peak learning rate')
    parser.add_argument('--loss', choices=sorted(LOSSES), default='l1',
                        help='training loss on the normalised disparity (l1: the paper)')
    parser.add_argument('--lr-min', type=float, default=1e-5,
                        help='learning rate at --total-steps (cosine decay)')
    parser.add_argument('--total-steps', type=int, default=0,
                        help='length of the cosine schedule (0: constant --lr)')
    parser.add_argument('--through', choices=('pyramid', 'window'), default='window',
                        help="what the loss back-propagates through: 'pyramid' = the deployed "
                        "solver at the drawn budget, end to end; 'window' = --window steps of "
                        'the paper loop after a gradient-free pyramid start')
    parser.add_argument('--window', type=int, default=64,
                        help='differentiable diffusion steps after the gradient-free start')
    parser.add_argument('--pre-min', type=int, default=96,
                        help='smallest pyramid budget (finest level): gradient-free start for '
                        "'window', the differentiable solve for 'pyramid'")
    parser.add_argument('--pre-max', type=int, default=96,
                        help='largest pyramid budget (finest level)')
    parser.add_argument('--factors', type=int, nargs='+', default=list(FACTORS),
                        help='training factors, drawn uniformly from this list (repeat one '
                        'to weight it)')
    parser.add_argument('--val-factors', type=int, nargs='+', default=list(FACTORS),
                        help='factors of the validation curve')
    parser.add_argument('--select-factors', type=int, nargs='+', default=[8, 16],
                        help='factors whose relative validation RMSE selects best.pt')
    parser.add_argument('--val-iterations', type=int, default=96,
                        help='pyramid budget of the validation (the default of the node)')
    parser.add_argument('--val-every', type=int, default=100)
    parser.add_argument('--max-minutes', type=float, default=0.0,
                        help='stop (validated, saved, resumable) after this wall time; 0 = none')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (1 by default: the machine is shared)')
    parser.add_argument('--device', default='auto', help="'auto', 'cpu' or 'cuda[:N]'")


def _guide_options(parser: argparse.ArgumentParser) -> None:
    """Which guide is trained."""
    parser.add_argument('--arch', choices=('self_guided', 'gain_net', 'tiny_unet'),
                        default='self_guided',
                        help="guide: 'self_guided' (two-pass DADA, the packaged weights; "
                        "learned per-factor weights of the second pass), 'gain_net' (learned "
                        "gains on the unlearned features) or 'tiny_unet' (a small U-Net)")
    parser.add_argument('--width', type=int, default=None,
                        help='network width (default: 16 for gain_net, 8 for tiny_unet; '
                        'self_guided: width of the optional second-pass CNN, default none)')
    parser.add_argument('--channels', type=int, default=8,
                        help='output feature channels (tiny_unet)')
    parser.add_argument('--full-decoder', action='store_true',
                        help='TinyUNet decoder back to full resolution (see TinyUNet)')


def _data_options(parser: argparse.ArgumentParser) -> None:
    """Training, selection and augmentation data."""
    parser.add_argument('--extra-data', nargs='*', choices=EXTRA_DATA, default=None,
                        help="also train on other non-test data of ../shared: 'middlebury2003' "
                        "(Cones, Teddy), 'rgbd' (the 640x480 NYUv2, TUM, SUN RGB-D and ICL-NUIM "
                        'frames); the flag alone = both')
    parser.add_argument('--procedural', type=int, default=0,
                        help='also train on this many procedurally generated scenes, textured '
                        'from the training photographs (dada_ros.training.procedural; '
                        'not with --bag or a --data pack)')
    parser.add_argument('--bag', type=Path, default=None,
                        help='train on a rosbag2 with RGB and dense depth instead of '
                        'Middlebury: the block average of the depth is the input, the depth '
                        'the target; the last 20%% of the pairs are the selection frames')
    parser.add_argument('--rgb-topic', default='/camera/color/image_raw',
                        help='RGB topic of --bag (sensor_msgs/Image)')
    parser.add_argument('--depth-topic', default='/camera/depth/image_raw',
                        help='dense depth topic of --bag, registered to the RGB '
                        '(16UC1 mm or 32FC1 m)')
    parser.add_argument('--bag-every', type=int, default=1,
                        help='keep every n-th RGB/depth pair of --bag')
    parser.add_argument('--pack', type=Path, default=None,
                        help='write the training and selection scenes to this .npz and exit '
                        '(for --data on a machine without ../shared, e.g. the GPU recipe)')
    parser.add_argument('--augment', action='store_true',
                        help='also flip vertically, transpose and jitter colours (augment_crop)')
    parser.add_argument('--val-scenes', nargs='+', default=list(SELECTION_SCENES),
                        help='training scenes set aside for validation and selection '
                        '(excluded from training; the held-out test scenes are refused)')
    parser.add_argument('--val-views', type=int, nargs='+', default=[1, 5],
                        help='views of the validation scenes')


def training_data(args: argparse.Namespace) -> Tuple[List[Scene], List[Scene], List[str]]:
    """Training scenes, selection scenes and the training names for the checkpoint meta.

    ``--bag``: the bag's pairs (:func:`bag_scenes`, split by :func:`split_bag_scenes`);
    ``--data x.npz``: a pack; otherwise the Middlebury training scenes (minus
    ``--val-scenes``), plus :func:`extra_scenes` with ``--extra-data``.
    """
    if args.procedural and (args.bag is not None or
                            (args.data is not None and args.data.suffix == '.npz')):
        raise ValueError('--procedural adds to the Middlebury training data; with --bag or a '
                         '--data pack it would be ignored (a pack written with --procedural '
                         'already holds its generated scenes)')
    if args.bag is not None:
        scenes = bag_scenes(args.bag, args.rgb_topic, args.depth_topic, every=args.bag_every)
        train, selection = split_bag_scenes(scenes)
        return train, selection, [s.name for s in train]
    if args.data is not None and args.data.suffix == '.npz':
        train, selection = unpack_scenes(args.data)
        return train, selection, [s.name for s in train]
    root = args.data or middlebury_dir()
    leaked = sorted(set(args.val_scenes) & set(VALIDATION_SCENES))
    if leaked:
        raise ValueError(f'--val-scenes {leaked} are held-out test scenes: selection must '
                         'use training scenes (the test scenes are only for dada_eval)')
    names = [n for n in training_scene_names(root) if n not in args.val_scenes]
    if not names:
        raise ValueError('no training scenes left after removing --val-scenes')
    train = load_scenes(root, names, views=(1, 5))
    if args.extra_data is not None:
        train += extra_scenes(args.extra_data or EXTRA_DATA)
    train += procedural_scenes(train, args.procedural, args.seed)
    selection = load_scenes(root, args.val_scenes, views=args.val_views)
    return train, selection, [s.name for s in train]


def new_guide(args: argparse.Namespace) -> AnyLearnedGuide:
    """Return the guide to train: ``--init`` weights, or a fresh ``--arch`` (unlearned start)."""
    torch.manual_seed(args.seed)  # the network's initialisation
    if args.init is not None:
        return guide_from_checkpoint(read_checkpoint(args.init), str(args.init))
    if args.arch == 'self_guided':  # --width: the optional CNN of the second pass
        return SelfGuidedGuide(refiner_width=args.width or 0)
    if args.arch == 'gain_net':
        return build_gain_guide(args.width or 16)
    return build_tiny_guide(args.width or 8, args.channels, full_decoder=args.full_decoder)


class Run:
    """One training run: the guide, its optimiser, the history and the files in ``--out``.

    Args:
        args: the options of :func:`parse_args`.
        device: where the guide trains.
        val_scenes: the selection scenes (validation curve, ``best.pt``).
        meta: what every checkpoint records besides the step and the scores.
    """

    def __init__(self, args: argparse.Namespace, device: torch.device,
                 val_scenes: Sequence[Scene], meta: Dict[str, Any]) -> None:
        """Start from :func:`new_guide`, or from ``OUT/train_state.pt`` with ``--resume``."""
        self.args, self.device, self.val_scenes, self.meta = args, device, val_scenes, meta
        self.state_path = args.out / 'train_state.pt'
        self.guide = new_guide(args).to(device).train()
        self.optimiser = torch.optim.Adam(self.guide.parameters(), lr=args.lr)
        self.history: Dict[str, Any] = {'loss': [], 'val': [], 'best': None}
        self.step = 0
        if args.resume:
            self._restore()

    def _restore(self) -> None:
        state = read_checkpoint(self.state_path)
        self.guide = guide_from_checkpoint(state['guide'], str(self.state_path))
        self.guide.to(self.device).train()
        self.optimiser = torch.optim.Adam(self.guide.parameters(), lr=self.args.lr)
        self.optimiser.load_state_dict(state['optimiser'])
        for group in self.optimiser.param_groups:  # --lr applies to the resumed run too
            group['lr'] = self.args.lr
        self.history = json.loads(state['history'])
        self.history.setdefault('best', None)
        self.step = int(state['step'])
        print(f'resumed {self.state_path} at step {self.step}', file=sys.stderr)

    def validate(self) -> Dict[str, float]:
        """Return the validation RMSE per factor (str keys); record it and save."""
        rmse = validate(self.guide, self.val_scenes, self.args.val_factors, self.device,
                        self.args.val_iterations)
        scores = {str(k): v for k, v in rmse.items()}
        self.history['val'].append({'step': self.step, 'rmse': scores})
        self.save(scores)
        return scores

    def save(self, rmse: Dict[str, float]) -> None:
        """Write latest/step/best weights, the resumable state, history and curve."""
        out, history = self.args.out, self.history
        score = selection_score(rmse, history['val'][0]['rmse'], self.args.select_factors)
        meta = {'step': self.step, 'date': time.strftime('%Y-%m-%d'), **self.meta,
                'validation_rmse': dict(rmse), 'selection_score': score}
        checkpoint = guide_checkpoint(self.guide, meta)
        torch.save(checkpoint, out / 'latest.pt')
        torch.save(checkpoint, out / f'step_{self.step:06d}.pt')
        best = history.get('best')
        if best is None or score < float(best['score']):
            history['best'] = {'step': self.step, 'score': score, 'rmse': dict(rmse)}
            torch.save(checkpoint, out / 'best.pt')
        shutil.copyfile(out / 'best.pt', out / 'dada_learned.pt')
        torch.save({'guide': checkpoint, 'optimiser': self.optimiser.state_dict(),
                    'step': self.step, 'history': json.dumps(history)}, self.state_path)
        (out / 'history.json').write_text(json.dumps(history, indent=1))
        plot_history(history, out / 'curve.png')

    def train_step(self, step_index: int, scenes: Sequence[Scene],
                   solver: PyramidSolver) -> float:
        """One optimiser step on the batch of ``step_index``; return its loss."""
        args = self.args
        rng = np.random.default_rng([args.seed, step_index, 1])
        pre = int(rng.integers(args.pre_min, args.pre_max + 1))
        batch = draw_batch(scenes, step_index, args.seed, args.batch, args.factors,
                           self.device, args.augment)
        for group in self.optimiser.param_groups:
            group['lr'] = learning_rate(step_index, args.lr, args.lr_min, args.total_steps)
        prediction = forward(self.guide, batch, solver, pre, args.window, args.through)
        loss = LOSSES[args.loss](prediction, batch.gt)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.guide.parameters(), 1.0)
        self.optimiser.step()
        self.step = step_index + 1
        self.history['loss'].append((self.step, float(loss.detach())))
        return float(loss.detach())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``--steps`` training steps and write the outputs; returns the exit code."""
    args = parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    device = resolve_device(args.device)
    if args.pre_min > args.pre_max:
        raise ValueError(f'--pre-min {args.pre_min} is larger than --pre-max {args.pre_max}')
    train_scenes, val_scenes, train_names = training_data(args)
    own_selection = args.bag is not None or (args.data is not None and args.data.suffix == '.npz')
    if args.pack is not None:
        pack_scenes(args.pack, train_scenes, val_scenes)
        print(f'wrote {len(train_scenes)} training and {len(val_scenes)} selection scenes to '
              f'{args.pack}', file=sys.stderr)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {'test_scenes_never_seen': list(VALIDATION_SCENES),
            'selection_scenes': ([s.name for s in val_scenes] if own_selection
                                 else list(args.val_scenes)),
            'training_scenes': train_names,
            'command': 'dada_train ' + ' '.join(sys.argv[1:] if argv is None else argv)}
    run = Run(args, device, val_scenes, meta)
    if not run.history['val']:  # the initialisation is a candidate for best.pt
        print(f'step {run.step} validation RMSE {run.validate()}', file=sys.stderr)
    first, started, solver = run.step, time.monotonic(), PyramidSolver()
    for step_index in progress(range(first, first + args.steps), args.steps):
        loss = run.train_step(step_index, train_scenes, solver)
        out_of_time = args.max_minutes > 0 and \
            time.monotonic() - started > 60.0 * args.max_minutes
        if run.step % args.val_every == 0 or run.step == first + args.steps or out_of_time:
            rmse = run.validate()
            print(f'step {run.step} loss {loss:.4f} {learned_values(run.guide)} '
                  f"lr {run.optimiser.param_groups[0]['lr']:.2e} validation RMSE {rmse} "
                  f"best {run.history['best']}", file=sys.stderr, flush=True)
        if out_of_time:
            print(f'--max-minutes {args.max_minutes} reached at step {run.step}; resume with '
                  '--resume', file=sys.stderr)
            break
    return 0


if __name__ == '__main__':
    sys.exit(main())
