# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Training-side helpers of the learned guides: fresh networks and checkpoint writers.

The run-time core (:mod:`dada_ros.core.models`) only builds an architecture from a
checkpoint's configuration and loads weights; starting values for training and the
writing of checkpoints live here.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch
import torch.nn as nn

from ..core.diffusion import K_DEFAULT, RGB_DEPTH_WEIGHT
from ..core.models import (AnyLearnedGuide, FORMAT, gain_guide, LearnedGuide, OWN_ARCHS,
                           tiny_guide, TinyUNet)

__all__ = ['build_gain_guide', 'build_tiny_guide', 'guide_checkpoint', 'init_as_rgb_guide',
           'parameter_count']


def init_as_rgb_guide(net: TinyUNet) -> None:
    """Set the head of ``net`` so its output equals the features ``[RGB, normalised depth]``.

    The first ``in_channels`` outputs copy the input, scaled so that the channel mean of
    ``|difference|`` is the same as over the input alone; everything else starts at zero
    (the decoder still receives gradients through the head's weights). Changes ``net``.
    """
    with torch.no_grad():
        for conv in (net.head_in, net.head_stem, net.head_dec):
            conv.weight.zero_()
        if net.head_in.bias is not None:
            net.head_in.bias.zero_()
        gain = net.out_channels / net.in_channels
        for i in range(min(net.in_channels, net.out_channels)):
            net.head_in.weight[i, i, 0, 0] = gain


def build_tiny_guide(width: int = 8, out_channels: int = 8, k: float = K_DEFAULT,
                     full_decoder: bool = False) -> LearnedGuide:
    """Return a :class:`LearnedGuide` with a :class:`TinyUNet` that starts as the RGB guide."""
    guide = tiny_guide(width, out_channels, k, full_decoder)
    assert isinstance(guide.feature_extractor, TinyUNet)
    init_as_rgb_guide(guide.feature_extractor)
    return guide


def build_gain_guide(width: int = 16, k: float = K_DEFAULT,
                     depth_weight: float = RGB_DEPTH_WEIGHT) -> LearnedGuide:
    """Return a :class:`LearnedGuide` with a :class:`GainNet` (it starts as ``model: rgb``)."""
    return gain_guide(width, k, depth_weight)


def guide_checkpoint(guide: AnyLearnedGuide,
                     meta: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Return a ``weights_only``-loadable dict in the dada_ros format (own archs only).

    Layout: ``{'format', 'arch', 'config', 'state_dict', 'meta'}``; the tensors are
    detached CPU copies, so the guide may go on training.
    """
    if guide.arch not in OWN_ARCHS:
        raise ValueError(f'only {OWN_ARCHS} guides can be saved, not {guide.arch!r}')
    return {'format': FORMAT, 'arch': guide.arch, 'config': dict(guide.config),
            'state_dict': {k: v.detach().cpu().clone() for k, v in guide.state_dict().items()},
            'meta': dict(meta or {})}


def parameter_count(module: nn.Module) -> int:
    """Count the parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())
