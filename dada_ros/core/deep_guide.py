# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``deep_guide``: two-pass DADA whose coefficients are steered by two small CNNs.

The structure is the self-guided guide (:class:`dada_ros.core.models.SelfGuidedGuide`):
pass 1 diffuses the bicubic start under ``[RGB, depth / std]``, pass 2 starts from its
answer ``D1`` (warm start) under ``[RGB, D1 / std]``. In both passes the weights of the
colour and of the depth term of Eq. 1 (``c = g(|dF| / K)``) are per pixel: a CNN at
``1 / pool`` resolution (config ``pool``: 4, or 8 at a quarter of the cost; four layers, 16
channels) sees the colour, the depth and their local edge energy and predicts a bounded
log-gain for each term. The gains are upsampled bilinearly
to full resolution and averaged over the two pixels of every edge, so the edges
themselves stay the pixel-exact colour and depth differences: the network only decides
which of them to trust where (texture on a flat surface, a depth step without a colour
step). The network of pass 2 has per-factor biases and per-factor base weights. With zero
output layers (the initialisation) pass 1 is ``model: rgb`` and pass 2 the self-guided
guide.

Eq. 3 (exact block means) is untouched: the networks only change the coefficients. At
inference one CPU image takes compiled kernels (numba, optional) around the network.
Checkpoint arch ``deep_guide`` (format ``dada_ros.learned/1``), loaded with
``torch.load(weights_only=True)`` by :func:`dada_ros.core.models.guide_from_checkpoint`.
"""

from __future__ import annotations

import functools
import importlib
import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import kernels
from .diffusion import depth_spread, K_DEFAULT, RGB_DEPTH_WEIGHT

#: Architecture name in the checkpoint (format ``dada_ros.learned/1``).
ARCH = 'deep_guide'
#: Resolution of the network relative to the image (pooling factor) of the checkpoints
#: without a ``pool`` entry; ``pool`` 8 costs a quarter of the network's time.
POOL = 4
#: Bound of the predicted log-gains (gains in [exp(-B), exp(B)]).
GAIN_BOUND = 2.0
#: Input channels of the network: RGB (3), centred ``D1 / std`` (1), colour and depth edge
#: energy (2).
IN_CHANNELS = 6
#: The numba module once imported (the compiled kernels' ``numba.prange``); numba is
#: optional and imported on the first compiled call, as in :mod:`dada_ros.core.kernels`.
numba: Any = None


def _check(rgb: torch.Tensor, depth: torch.Tensor) -> None:
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f'rgb must be (B, 3, H, W), got {tuple(rgb.shape)}')
    if depth.dim() != 4 or depth.shape[1] != 1 or depth.shape[0] != rgb.shape[0] \
            or depth.shape[-2:] != rgb.shape[-2:]:
        raise ValueError(f'depth must be (B, 1, H, W) matching rgb {tuple(rgb.shape)}, '
                         f'got {tuple(depth.shape)}')
    if rgb.shape[-2] < 2 or rgb.shape[-1] < 2:
        raise ValueError(f'images must be at least 2x2, got {tuple(rgb.shape[-2:])}')


def edge_steps(rgb: torch.Tensor, depth: torch.Tensor
               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Colour and depth steps between neighbours.

    Args:
        rgb: ``(B, 3, H, W)``.
        depth: ``(B, 1, H, W)``.

    Returns:
        ``rgb_v (B, 1, H-1, W)`` (sum over channels of ``|d rgb|``), ``depth_v``, and the
        horizontal ``rgb_h``, ``depth_h`` ``(B, 1, H, W-1)``.
    """
    rgb_v = (rgb[:, :, 1:, :] - rgb[:, :, :-1, :]).abs().sum(1, keepdim=True)
    rgb_h = (rgb[:, :, :, 1:] - rgb[:, :, :, :-1]).abs().sum(1, keepdim=True)
    depth_v = (depth[:, :, 1:, :] - depth[:, :, :-1, :]).abs()
    depth_h = (depth[:, :, :, 1:] - depth[:, :, :, :-1]).abs()
    return rgb_v, depth_v, rgb_h, depth_h


def _energy(vertical: torch.Tensor, horizontal: torch.Tensor) -> torch.Tensor:
    """Per-pixel sum of the steps below and to the right ``(B, 1, H, W)``."""
    b, _, h, w = horizontal.shape[0], 1, horizontal.shape[2], vertical.shape[3]
    energy = horizontal.new_zeros((b, 1, h, w))
    energy[:, :, :-1, :] += vertical
    energy[:, :, :, :-1] += horizontal
    return energy


class GainNet4(nn.Module):
    """Four conv layers at ``1 / pool`` resolution (3x3, dilations 1, 2, 4, 1x1) -> 2 log-gains.

    ``width`` channels; per-factor biases after the first layer and on the output (index
    ``factor_index``). The output layer starts at zero (gains 1).
    """

    def __init__(self, factors: int, width: int, pool: int = POOL) -> None:
        super().__init__()
        if pool < 1:
            raise ValueError(f'pool must be >= 1, got {pool}')
        #: pooling factor: the network runs at ``1 / pool`` of the image resolution
        self.pool = int(pool)
        self.conv1 = nn.Conv2d(IN_CHANNELS, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=2, dilation=2)
        self.conv3 = nn.Conv2d(width, width, 3, padding=4, dilation=4)
        self.head = nn.Conv2d(width, 2, 1)
        self.factor_bias = nn.Parameter(torch.zeros(factors, width))
        self.factor_head_bias = nn.Parameter(torch.zeros(factors, 2))
        with torch.no_grad():
            self.head.weight.zero_()
            if self.head.bias is not None:
                self.head.bias.zero_()

    def forward(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """Return log-gains ``(B, 2, h, w)`` (unbounded) for inputs ``(B, 6, h, w)``."""
        y = F.relu(self.conv1(x) + self.factor_bias[index][None, :, None, None])
        y = F.relu(self.conv2(y))
        y = F.relu(self.conv3(y))
        return self.head(y) + self.factor_head_bias[index][None, :, None, None]


class DeepGuide(nn.Module):
    """Two-pass DADA with CNN-weighted coefficients in both passes (arch ``deep_guide``).

    Pass ``p`` (1 or 2) uses the features ``[RGB, depth / std]`` (pass 1: the initial
    depth, pass 2: the first answer ``D1``) with per-pixel weights
    ``w_p * exp(gain_p(x))`` on the colour and on the depth term (:meth:`gated`). Pass 2's
    base weights and network biases are per factor; pass 1 does not know the factor
    (:class:`dada_ros.core.guides.Guide` passes none), its input shows the blur instead.
    With zero output layers (the initialisation) pass 1 is ``model: rgb`` and pass 2 the
    self-guided guide with per-factor weights. Implements
    :class:`dada_ros.core.guides.RefiningGuide`.
    """

    def __init__(self, factors: Sequence[int] = (4, 8, 16, 32), width: int = 16,
                 rgb_weights: Optional[Sequence[float]] = None,
                 depth_weights: Optional[Sequence[float]] = None,
                 first_fraction: float = 0.5, refine_fraction: float = 1.0,
                 first_momentum_scale: float = 0.08, refine_momentum_scale: float = 0.06,
                 first_depth_weight: float = RGB_DEPTH_WEIGHT, pool: int = POOL) -> None:
        super().__init__()
        factors = tuple(int(f) for f in factors)
        if not factors or any(f < 1 for f in factors) or list(factors) != sorted(set(factors)):
            raise ValueError(f'factors must be increasing positive integers, got {factors}')
        if width < 1:
            raise ValueError(f'width must be >= 1, got {width}')
        count = len(factors)
        rgb_w = list(rgb_weights) if rgb_weights is not None else [0.1] * count
        depth_w = list(depth_weights) if depth_weights is not None else [6.0] * count
        if len(rgb_w) != count or len(depth_w) != count or min(rgb_w + depth_w) <= 0:
            raise ValueError('rgb_weights and depth_weights need one positive value per factor')
        if first_depth_weight <= 0:
            raise ValueError(f'first_depth_weight must be > 0, got {first_depth_weight}')
        for name, fraction in (('first_fraction', first_fraction),
                               ('refine_fraction', refine_fraction)):
            if not 0.0 < fraction <= 4.0:
                raise ValueError(f'{name} must be in (0, 4], got {fraction}')
        for name, scale in (('first_momentum_scale', first_momentum_scale),
                            ('refine_momentum_scale', refine_momentum_scale)):
            if not 0.0 < scale < 1.0:
                raise ValueError(f'{name} must be in (0, 1), got {scale}')
        self.factors = factors
        self.width = int(width)
        # pass 1: one colour and one depth weight (log), and its network
        self.log_first_weights = nn.Parameter(torch.tensor([0.0, math.log(first_depth_weight)]))
        self.first_net = GainNet4(1, self.width, pool)
        # pass 2: per-factor weights (log) and network
        self.log_rgb_weight = nn.Parameter(torch.tensor([math.log(v) for v in rgb_w]))
        self.log_depth_weight = nn.Parameter(torch.tensor([math.log(v) for v in depth_w]))
        self.net = GainNet4(count, self.width, pool)
        self.first_fraction = float(first_fraction)
        self.refine_fraction = float(refine_fraction)
        self._momentum_scales = (float(first_momentum_scale), float(refine_momentum_scale))
        self.arch = ARCH

    @property
    def depth_weight(self) -> float:
        """Base weight of the depth term of pass 1 (without the network's gains)."""
        return float(self.log_first_weights[1].detach().exp())

    @property
    def config(self) -> Dict[str, Any]:
        """Return the architecture settings stored in a checkpoint."""
        return {'factors': list(self.factors), 'width': self.width, 'pool': self.net.pool,
                'first_fraction': self.first_fraction, 'refine_fraction': self.refine_fraction,
                'first_momentum_scale': self._momentum_scales[0],
                'refine_momentum_scale': self._momentum_scales[1]}

    @property
    def momentum_scales(self) -> Tuple[float, float]:
        """``momentum_scale`` of the solves of pass 1 and pass 2."""
        return self._momentum_scales

    def pass_iterations(self, iterations: int) -> Tuple[int, int]:
        """Return the steps of pass 1 and of pass 2 for a budget of ``iterations``."""
        return (max(1, int(round(iterations * self.first_fraction))),
                max(1, int(round(iterations * self.refine_fraction))))

    def factor_index(self, factor: int) -> int:
        """Index of the parameters used at ``factor`` (nearest on a log scale)."""
        if factor < 1:
            raise ValueError(f'factor must be >= 1, got {factor}')
        distances = [abs(math.log(factor / f)) for f in self.factors]
        return distances.index(min(distances))

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None, spread: Optional[torch.Tensor] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Coefficients of pass 1: ``cv (B,1,H-1,W)``, ``ch (B,1,H,W-1)`` in (0, 1].

        Args:
            rgb: ``(B, 3, H, W)`` ImageNet-normalised RGB.
            initial: ``(B, 1, H, W)`` positive initial depth (any unit).
            scale: unused (interface of :class:`dada_ros.core.guides.Guide`).
            spread: ``(B, 1, 1, 1)`` depth divisor instead of ``std(initial)`` (crops).
        """
        _check(rgb, initial)
        spread = depth_spread(initial) if spread is None else spread
        return self.gated(rgb, initial / spread, self.first_net, 0,
                          self.log_first_weights[0], self.log_first_weights[1])

    def refine_coefficients(self, rgb: torch.Tensor, estimate: torch.Tensor, factor: int,
                            spread: Optional[torch.Tensor] = None
                            ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Coefficients of pass 2 from the first answer.

        Args:
            rgb: ``(B, 3, H, W)`` ImageNet-normalised RGB.
            estimate: ``(B, 1, H, W)`` positive answer of pass 1 (any unit).
            factor: upsampling factor of this frame (selects the per-factor parameters).
            spread: ``(B, 1, 1, 1)`` divisor of the depth instead of ``std(estimate)``
                (training on crops: the whole scene's).

        Returns:
            ``cv (B, 1, H-1, W)`` and ``ch (B, 1, H, W-1)`` in (0, 1].
        """
        _check(rgb, estimate)
        index = self.factor_index(factor)
        spread = depth_spread(estimate) if spread is None else spread
        return self.gated(rgb, estimate / spread, self.net, index,
                          self.log_rgb_weight[index], self.log_depth_weight[index])

    @staticmethod
    def gated(rgb: torch.Tensor, standardised: torch.Tensor, net: GainNet4, index: int,
              log_rgb: torch.Tensor, log_depth: torch.Tensor
              ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Eq. 1 with per-pixel weights of the colour and the depth term.

        ``x = (a_rgb sum_c |d rgb_c| + a_d |d depth|) / (4 K)``, ``c = 1 / (1 + x^2)``; the
        weight of an edge is the geometric mean of its two pixels' weights
        ``exp(log_w + gain)``. ``rgb (B, 3, H, W)``, ``standardised (B, 1, H, W)``.
        Without autograd the same values come from :func:`_gated_inference`.
        """
        tracked = any(t.requires_grad for t in (rgb, standardised, log_rgb, log_depth)) or \
            any(p.requires_grad for p in net.parameters())
        if not (torch.is_grad_enabled() and tracked):
            return _gated_inference(rgb, standardised, net, index, log_rgb, log_depth)
        steps = edge_steps(rgb, standardised)
        gains = log_gains(net, rgb, standardised, steps, index)
        colour = gains[:, :1] + log_rgb
        depth = gains[:, 1:] + log_depth
        scale = 1.0 / (4.0 * K_DEFAULT)
        out = []
        for axis, (rgb_step, depth_step) in ((2, (steps[0], steps[1])),
                                             (3, (steps[2], steps[3]))):
            length = colour.shape[axis]
            lo, hi = colour.narrow(axis, 0, length - 1), colour.narrow(axis, 1, length - 1)
            colour_edge = (0.5 * (lo + hi)).exp()
            lo, hi = depth.narrow(axis, 0, length - 1), depth.narrow(axis, 1, length - 1)
            depth_edge = (0.5 * (lo + hi)).exp()
            x = (colour_edge * rgb_step + depth_edge * depth_step) * scale
            out.append(1.0 / (1.0 + x * x))
        return out[0], out[1]


def _pooled(x: torch.Tensor, pool: int) -> torch.Tensor:
    """``avg_pool2d(replicate-pad(x), pool)``: the network's resolution."""
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % pool, (-w) % pool
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode='replicate')
    return F.avg_pool2d(x, pool)


def _gated_inference(rgb: torch.Tensor, standardised: torch.Tensor, net: GainNet4, index: int,
                     log_rgb: torch.Tensor, log_depth: torch.Tensor
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """:meth:`DeepGuide.gated` without autograd: the same values, in place on temporaries.

    Pooling is linear, so the network's input is pooled piece by piece instead of
    building the 6-channel full-resolution tensor; the per-pixel weights are exponentiated
    once (``exp(w / 2)``) and an edge's weight is the product of its two pixels'. One CPU
    image with numba installed takes the compiled form (:func:`_gated_compiled`).
    """
    if _compiled_gates(rgb, standardised, net.pool):
        return _gated_compiled(rgb, standardised, net, index, log_rgb, log_depth)
    h, w = rgb.shape[-2:]
    rgb_v = torch.zeros_like(standardised[:, :, 1:, :])
    rgb_h = torch.zeros_like(standardised[:, :, :, 1:])
    channel_v, channel_h = torch.empty_like(rgb_v), torch.empty_like(rgb_h)
    for c in range(3):
        rgb_v.add_(torch.sub(rgb[:, c:c + 1, 1:, :], rgb[:, c:c + 1, :-1, :],
                             out=channel_v).abs_())
        rgb_h.add_(torch.sub(rgb[:, c:c + 1, :, 1:], rgb[:, c:c + 1, :, :-1],
                             out=channel_h).abs_())
    depth_v = torch.sub(standardised[:, :, 1:, :], standardised[:, :, :-1, :]).abs_()
    depth_h = torch.sub(standardised[:, :, :, 1:], standardised[:, :, :, :-1]).abs_()
    mean = standardised.mean(dim=(2, 3), keepdim=True)
    pool = net.pool
    pooled = torch.cat([_pooled(rgb, pool), _pooled(standardised, pool).sub_(mean),
                        _pooled(_energy(rgb_v, rgb_h), pool),
                        _pooled(_energy(depth_v, depth_h), pool)], 1)
    raw = net(pooled, index)
    bounded = GAIN_BOUND * torch.tanh(raw / GAIN_BOUND)
    full = F.interpolate(bounded, scale_factor=pool, mode='bilinear',
                         align_corners=False)[:, :, :h, :w]
    logs = torch.stack([log_rgb.reshape(()), log_depth.reshape(())]).reshape(1, 2, 1, 1)
    half = full.add(logs).mul_(0.5).exp_()  # sqrt of each pixel's weight
    colour, depth = half[:, :1], half[:, 1:]
    scale = 1.0 / (4.0 * K_DEFAULT)
    rgb_v.mul_(colour[:, :, 1:, :]).mul_(colour[:, :, :-1, :])
    rgb_v.add_(depth_v.mul_(depth[:, :, 1:, :]).mul_(depth[:, :, :-1, :])).mul_(scale)
    rgb_h.mul_(colour[:, :, :, 1:]).mul_(colour[:, :, :, :-1])
    rgb_h.add_(depth_h.mul_(depth[:, :, :, 1:]).mul_(depth[:, :, :, :-1])).mul_(scale)
    return (rgb_v.square_().add_(1.0).reciprocal_(),
            rgb_h.square_().add_(1.0).reciprocal_())


def _compiled_gates(rgb: torch.Tensor, standardised: torch.Tensor, pool: int) -> bool:
    """Whether :func:`_gated_inference` can run the compiled kernels.

    One contiguous float32 CPU image and an even ``pool`` (a run of pixels then starts half
    a pixel step after its coarse tap, see :func:`_half_weights`).
    """
    return (kernels.AVAILABLE and rgb.device.type == 'cpu'
            and standardised.device.type == 'cpu' and rgb.shape[0] == 1
            and rgb.dtype == torch.float32 and standardised.dtype == torch.float32
            and rgb.is_contiguous() and standardised.is_contiguous() and pool % 2 == 0)


def _gated_compiled(rgb: torch.Tensor, standardised: torch.Tensor, net: GainNet4, index: int,
                    log_rgb: torch.Tensor, log_depth: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`_gated_inference` in compiled passes over the image around the network.

    The torch form makes about twenty image-sized temporaries (steps, energies, upsampled
    gains, exponentials, products), which cost several times the network at 640x480. Here
    one pass pools the six input channels (:func:`_pool_features`), one interpolates the
    gains (:func:`_half_weights`) and one writes the links (:func:`_gated_links`); the same
    values to float32 rounding.
    """
    global numba
    h, w = rgb.shape[-2:]
    pool = net.pool
    pooled = torch.empty(1, IN_CHANNELS, -(-h // pool), -(-w // pool))
    image, depth = rgb[0].numpy(), standardised[0, 0].numpy()
    if numba is None:  # the kernels' numba.prange resolves through this module's global
        numba = importlib.import_module('numba')
    kernels._run_compiled(_pool_features, (image, depth, pool, pooled[0].numpy()))
    pooled[:, 3].sub_(standardised.mean())
    raw = net(pooled, index)
    bounded = (GAIN_BOUND * torch.tanh(raw / GAIN_BOUND))[0].contiguous()
    cv, ch = torch.empty(1, 1, h - 1, w), torch.empty(1, 1, h, w - 1)
    logs = np.array([float(log_rgb), float(log_depth)], dtype=np.float32)
    half = np.empty((2, h, w), dtype=np.float32)
    kernels._run_compiled(_half_weights, (bounded.numpy(), logs,
                                          _segments(h, pool, bounded.shape[1]),
                                          _segments(w, pool, bounded.shape[2]), pool, half))
    kernels._run_compiled(_gated_links, (image, depth, half, 1.0 / (4.0 * K_DEFAULT),
                                         cv[0, 0].numpy(), ch[0, 0].numpy()))
    return cv, ch


def _pool_features(rgb: np.ndarray, depth: np.ndarray, pool: int, out: np.ndarray) -> None:
    """Block means of ``[RGB, depth, colour energy, depth energy]`` (replicate padding).

    One pass: every image row adds its values and its edge energies (the steps below and
    to the right) to the column sums of its block row, which are then summed in blocks.

    Args:
        rgb: ``(3, H, W)`` float32.
        depth: ``(H, W)`` float32 standardised depth.
        pool: block size.
        out: ``(6, ceil(H / pool), ceil(W / pool))`` float32, written (depth not centred).
    """
    height, width = depth.shape
    rows, cols = out.shape[1], out.shape[2]
    inv = np.float32(1.0 / (pool * pool))
    for block_row in numba.prange(rows):
        sums = np.zeros((6, width), dtype=np.float32)
        for r in range(block_row * pool, block_row * pool + pool):
            y = min(r, height - 1)  # replicate padding
            red, green, blue, d = rgb[0, y], rgb[1, y], rgb[2, y], depth[y]
            for x in range(width):
                sums[0, x] += red[x]
                sums[1, x] += green[x]
                sums[2, x] += blue[x]
                sums[3, x] += d[x]
            colour, step = sums[4], sums[5]
            if y + 1 < height:
                red1, green1, blue1, d1 = rgb[0, y + 1], rgb[1, y + 1], rgb[2, y + 1], \
                    depth[y + 1]
                for x in range(width):
                    colour[x] += (abs(red1[x] - red[x]) + abs(green1[x] - green[x])
                                  + abs(blue1[x] - blue[x]))
                    step[x] += abs(d1[x] - d[x])
            for x in range(width - 1):
                colour[x] += (abs(red[x + 1] - red[x]) + abs(green[x + 1] - green[x])
                              + abs(blue[x + 1] - blue[x]))
                step[x] += abs(d[x + 1] - d[x])
        for k in range(6):
            line = sums[k]
            for j in range(cols):
                total = np.float32(0.0)
                for c in range(j * pool, j * pool + pool):
                    total += line[min(c, width - 1)]
                out[k, block_row, j] = total * inv


@functools.lru_cache(maxsize=16)  # per image size: the same taps every frame
def _source_index(size: int, pool: int,
                  coarse: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps of ``interpolate(scale_factor=pool, align_corners=False)``.

    Returns the lower and upper source index ``(size,)`` int64 and the weight of the upper
    one ``(size,)`` float32 (source ``(i + 0.5) / pool - 0.5``, clamped at 0).
    """
    src = np.maximum((np.arange(size, dtype=np.float64) + 0.5) / pool - 0.5, 0.0)
    lower = np.minimum(src.astype(np.int64), coarse - 1)
    upper = np.minimum(lower + 1, coarse - 1)
    return lower, upper, (src - lower).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _segments(size: int, pool: int, coarse: int) -> np.ndarray:
    """Return the runs of pixels with the same bilinear taps and a constant weight step.

    Returns ``(n, 5)`` float64 rows ``start, end, lower tap, upper tap, step of the upper
    weight per pixel`` (``1 / pool``, or 0 in the clamped first half block) covering
    ``range(size)`` in order.
    """
    lower = _source_index(size, pool, coarse)[0]
    src = np.maximum((np.arange(size, dtype=np.float64) + 0.5) / pool - 0.5, 0.0)
    runs = []
    start = 0
    for i in range(1, size + 1):
        if i == size or lower[i] != lower[start] or (src[i] > 0.0) != (src[start] > 0.0):
            low = int(lower[start])
            step = 0.0 if src[start] == 0.0 else 1.0 / pool
            runs.append((start, i, low, min(low + 1, coarse - 1), step))
            start = i
    return np.asarray(runs, dtype=np.float64)


def _half_weights(gains: np.ndarray, logs: np.ndarray, row_runs: np.ndarray,
                  col_runs: np.ndarray, pool: int, half: np.ndarray) -> None:
    """Per-pixel ``exp((log_w + bilinear log-gain) / 2)`` of the colour and the depth term.

    The bilinear log-gain is linear along a row between two coarse columns and along a
    column between two coarse rows, so its exponential changes by constant ratios from
    pixel to pixel: the exponentials (most of the time when taken per pixel) are taken
    at the coarse columns once per run of rows (:func:`_segments`), the first row of a run
    and each pixel's ratio from row to row are products along the row, and the other rows
    one product per pixel. The same values as the torch form to float32 rounding.

    Args:
        gains: ``(2, h, w)`` float32 bounded log-gains at the network's resolution.
        logs: ``(2,)`` float32 base log-weights of the colour and the depth term.
        row_runs: :func:`_segments` of the rows.
        col_runs: :func:`_segments` of the columns.
        pool: upsampling factor of the gains (even).
        half: ``(2, H, W)`` float32 out.
    """
    width = half.shape[2]
    coarse = gains.shape[2]
    one, mid = np.float32(1.0), np.float32(0.5)
    per_pixel = np.float32(0.5 / pool)
    for m in numba.prange(row_runs.shape[0]):
        first, stop = int(row_runs[m, 0]), int(row_runs[m, 1])
        low, high, step = int(row_runs[m, 2]), int(row_runs[m, 3]), row_runs[m, 4]
        weight = np.float32(0.0 if step == 0.0 else (first + 0.5) / pool - 0.5 - low)
        level = np.empty(coarse, dtype=np.float32)  # exp(log-weight / 2) at the coarse columns
        level_step = np.empty(coarse, dtype=np.float32)  # its ratio from row to row
        ratio = np.ones(coarse, dtype=np.float32)  # ratio from pixel to pixel after column j
        ratio_step = np.ones(coarse, dtype=np.float32)  # its ratio from row to row
        line = np.empty(coarse, dtype=np.float32)
        slope = np.empty(coarse, dtype=np.float32)
        for k in range(2):
            for j in range(coarse):
                top, bottom = gains[k, low, j], gains[k, high, j]
                line[j] = (one - weight) * top + weight * bottom
                slope[j] = np.float32(step) * (bottom - top)
                level[j] = np.exp(mid * (line[j] + logs[k]))
                level_step[j] = np.exp(mid * slope[j])
            for j in range(coarse - 1):
                ratio[j] = np.exp(per_pixel * (line[j + 1] - line[j]))
                ratio_step[j] = np.exp(per_pixel * (slope[j + 1] - slope[j]))
            # the first row of the run and the ratio of each pixel from row to row
            growth = np.empty(width, dtype=np.float32)
            for which in range(2):
                values, factors = (level, ratio) if which == 0 else (level_step, ratio_step)
                target = half[k, first] if which == 0 else growth
                for n in range(col_runs.shape[0]):
                    begin, end = int(col_runs[n, 0]), int(col_runs[n, 1])
                    left, right = int(col_runs[n, 2]), int(col_runs[n, 3])
                    if col_runs[n, 4] == 0.0 or left == right:  # clamped: constant
                        value, factor = values[left], one
                    else:  # first pixel at weight 1 / (2 pool): half a step
                        factor = factors[left]
                        value = values[left] * np.sqrt(factor)
                    for x in range(begin, end):
                        target[x] = value
                        value *= factor
            for y in range(first + 1, stop):
                previous, target = half[k, y - 1], half[k, y]
                for x in range(width):
                    target[x] = previous[x] * growth[x]


def _gated_links(rgb: np.ndarray, depth: np.ndarray, half: np.ndarray, scale: float,
                 cv: np.ndarray, ch: np.ndarray) -> None:
    """Eq. 1 links whose colour and depth weights are the products of two pixels' halves.

    Args:
        rgb: ``(3, H, W)`` float32.
        depth: ``(H, W)`` float32 standardised depth.
        half: ``(2, H, W)`` float32 :func:`_half_weights`.
        scale: ``1 / (4 K)``.
        cv: ``(H-1, W)`` float32 out: links between rows ``r`` and ``r+1``.
        ch: ``(H, W-1)`` float32 out: links between columns ``c`` and ``c+1``.
    """
    height, width = depth.shape
    one = np.float32(1.0)
    for y in numba.prange(height):
        red, green, blue, d = rgb[0, y], rgb[1, y], rgb[2, y], depth[y]
        c0, d0, horizontal = half[0, y], half[1, y], ch[y]
        for x in range(width - 1):
            colour = (abs(red[x + 1] - red[x]) + abs(green[x + 1] - green[x])
                      + abs(blue[x + 1] - blue[x]))
            value = (c0[x] * c0[x + 1] * colour
                     + d0[x] * d0[x + 1] * abs(d[x + 1] - d[x])) * scale
            horizontal[x] = one / (one + value * value)
        if y + 1 < height:
            red1, green1, blue1, d1 = rgb[0, y + 1], rgb[1, y + 1], rgb[2, y + 1], depth[y + 1]
            c1, e1, vertical = half[0, y + 1], half[1, y + 1], cv[y]
            for x in range(width):
                colour = (abs(red1[x] - red[x]) + abs(green1[x] - green[x])
                          + abs(blue1[x] - blue[x]))
                value = (c0[x] * c1[x] * colour + d0[x] * e1[x] * abs(d1[x] - d[x])) * scale
                vertical[x] = one / (one + value * value)


def log_gains(net: GainNet4, rgb: torch.Tensor, standardised: torch.Tensor,
              steps: Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
              index: int) -> torch.Tensor:
    """Bounded log-gains ``(B, 2, H, W)`` (colour, depth) of ``net`` at full resolution."""
    h, w = rgb.shape[-2:]
    energy = torch.cat([_energy(steps[0], steps[2]), _energy(steps[1], steps[3])], 1)
    centred = standardised - standardised.mean(dim=(2, 3), keepdim=True)
    x = torch.cat([rgb, centred, energy], 1)
    raw = net(_pooled(x, net.pool), index)
    bounded = GAIN_BOUND * torch.tanh(raw / GAIN_BOUND)
    full = F.interpolate(bounded, scale_factor=net.pool, mode='bilinear', align_corners=False)
    return full[:, :, :h, :w]


def deep_guide_from_config(config: Mapping[str, Any]) -> DeepGuide:
    """Build a :class:`DeepGuide` from a checkpoint's ``config`` (before loading weights)."""
    return DeepGuide(
        tuple(int(f) for f in config.get('factors', (4, 8, 16, 32))),
        width=int(config.get('width', 16)), pool=int(config.get('pool', POOL)),
        first_fraction=float(config.get('first_fraction', 0.5)),
        refine_fraction=float(config.get('refine_fraction', 1.0)),
        first_momentum_scale=float(config.get('first_momentum_scale', 0.08)),
        refine_momentum_scale=float(config.get('refine_momentum_scale', 0.06)))
