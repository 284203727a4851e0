# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``deep_guide``: two-pass DADA whose coefficients are steered by two small CNNs.

The structure is the self-guided guide (:class:`dada_ros.core.models.SelfGuidedGuide`):
pass 1 diffuses the bicubic start under ``[RGB, depth / std]``, pass 2 starts from its
answer ``D1`` (warm start) under ``[RGB, D1 / std]``. In both passes the weights of the
colour and of the depth term of Eq. 1 (``c = g(|dF| / K)``) are per pixel: a CNN at 1/4
resolution (four layers, 16 channels) sees the colour, the depth and their local edge
energy and predicts a bounded log-gain for each term. The gains are upsampled bilinearly
to full resolution and averaged over the two pixels of every edge, so the edges
themselves stay the pixel-exact colour and depth differences: the network only decides
which of them to trust where (texture on a flat surface, a depth step without a colour
step). The network of pass 2 has per-factor biases and per-factor base weights. With zero
output layers (the initialisation) pass 1 is ``model: rgb`` and pass 2 the self-guided
guide.

Eq. 3 (exact block means) is untouched: the networks only change the coefficients.
Checkpoint arch ``deep_guide`` (format ``dada_ros.learned/1``), loaded with
``torch.load(weights_only=True)`` by :func:`dada_ros.core.models.guide_from_checkpoint`.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .diffusion import depth_spread, K_DEFAULT, RGB_DEPTH_WEIGHT

#: Architecture name in the checkpoint (format ``dada_ros.learned/1``).
ARCH = 'deep_guide'
#: Resolution of the network relative to the image (pooling factor).
POOL = 4
#: Bound of the predicted log-gains (gains in [exp(-B), exp(B)]).
GAIN_BOUND = 2.0
#: Input channels of the network: RGB (3), centred ``D1 / std`` (1), colour and depth edge
#: energy (2).
IN_CHANNELS = 6


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
    """Four conv layers at 1/4 resolution (3x3, dilations 1, 2, 4, then 1x1) -> 2 log-gains.

    ``width`` channels; per-factor biases after the first layer and on the output (index
    ``factor_index``). The output layer starts at zero (gains 1).
    """

    def __init__(self, factors: int, width: int) -> None:
        super().__init__()
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
                 first_depth_weight: float = RGB_DEPTH_WEIGHT) -> None:
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
        self.first_net = GainNet4(1, self.width)
        # pass 2: per-factor weights (log) and network
        self.log_rgb_weight = nn.Parameter(torch.tensor([math.log(v) for v in rgb_w]))
        self.log_depth_weight = nn.Parameter(torch.tensor([math.log(v) for v in depth_w]))
        self.net = GainNet4(count, self.width)
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
        return {'factors': list(self.factors), 'width': self.width,
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


def _pooled(x: torch.Tensor) -> torch.Tensor:
    """``avg_pool2d(replicate-pad(x), POOL)``: the network's resolution."""
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % POOL, (-w) % POOL
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode='replicate')
    return F.avg_pool2d(x, POOL)


def _gated_inference(rgb: torch.Tensor, standardised: torch.Tensor, net: GainNet4, index: int,
                     log_rgb: torch.Tensor, log_depth: torch.Tensor
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """:meth:`DeepGuide.gated` without autograd: the same values, in place on temporaries.

    Pooling is linear, so the network's input is pooled piece by piece instead of
    building the 6-channel full-resolution tensor; the per-pixel weights are exponentiated
    once (``exp(w / 2)``) and an edge's weight is the product of its two pixels'.
    """
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
    pooled = torch.cat([_pooled(rgb), _pooled(standardised).sub_(mean),
                        _pooled(_energy(rgb_v, rgb_h)), _pooled(_energy(depth_v, depth_h))], 1)
    raw = net(pooled, index)
    bounded = GAIN_BOUND * torch.tanh(raw / GAIN_BOUND)
    full = F.interpolate(bounded, scale_factor=POOL, mode='bilinear',
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


def log_gains(net: GainNet4, rgb: torch.Tensor, standardised: torch.Tensor,
              steps: Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
              index: int) -> torch.Tensor:
    """Bounded log-gains ``(B, 2, H, W)`` (colour, depth) of ``net`` at full resolution."""
    h, w = rgb.shape[-2:]
    energy = torch.cat([_energy(steps[0], steps[2]), _energy(steps[1], steps[3])], 1)
    centred = standardised - standardised.mean(dim=(2, 3), keepdim=True)
    x = torch.cat([rgb, centred, energy], 1)
    pad_h, pad_w = (-h) % POOL, (-w) % POOL
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode='replicate')
    raw = net(F.avg_pool2d(x, POOL), index)
    bounded = GAIN_BOUND * torch.tanh(raw / GAIN_BOUND)
    full = F.interpolate(bounded, scale_factor=POOL, mode='bilinear', align_corners=False)
    return full[:, :, :h, :w]


def deep_guide_from_config(config: Mapping[str, Any]) -> DeepGuide:
    """Build a :class:`DeepGuide` from a checkpoint's ``config`` (before loading weights)."""
    return DeepGuide(
        tuple(int(f) for f in config.get('factors', (4, 8, 16, 32))),
        width=int(config.get('width', 16)),
        first_fraction=float(config.get('first_fraction', 0.5)),
        refine_fraction=float(config.get('refine_fraction', 1.0)),
        first_momentum_scale=float(config.get('first_momentum_scale', 0.08)),
        refine_momentum_scale=float(config.get('refine_momentum_scale', 0.06)))
