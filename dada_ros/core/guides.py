# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Guides turn the RGB image and the initial depth into diffusion coefficients.

Unlearned guides (no network) build the features from the ImageNet-normalised RGB and the
initial depth and map them to coefficients with ``g(mean over channels |difference|)``
(:func:`dada_ros.core.diffusion.coefficients`). They differ only in how the depth channel
is scaled, which sets how strongly depth edges stop the diffusion against colour edges:

* :class:`GadGuide` is the paper's guided anisotropic diffusion (GAD, the "RGB" variant of
  DADA): the depth divided by its standard deviation.
* :class:`RgbGuide` (``model: rgb``) is the same with a depth weight
  :data:`RGB_DEPTH_WEIGHT` (chosen on the 640x480 RGB-D frames of ``../shared``, see
  ``benchmarks/guide_depth_weight.py``).

Both are unit-free: the caller's ``initial`` is the depth divided by its mean, and
``initial / std(initial)`` is the raw depth over its raw standard deviation.
"""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable, Tuple, Union

import torch

from .diffusion import (depth_spread, K_DEFAULT, RGB_DEPTH_WEIGHT, unlearned_features,
                        weighted_coefficients)
from .models import AnyLearnedGuide, load_learned_guide, SelfGuidedGuide


__all__ = ['depth_spread', 'GadGuide', 'Guide', 'make_guide', 'RefiningGuide', 'RGB_DEPTH_WEIGHT',
           'RgbGuide', 'SelfGuidedGuide', 'unlearned_features']


class Guide(Protocol):
    """What the solver needs from a guide: diffusion coefficients from RGB + initial depth."""

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """``cv (B, 1, H-1, W)`` and ``ch (B, 1, H, W-1)`` in (0, 1] (see :class:`RgbGuide`)."""


@runtime_checkable
class RefiningGuide(Protocol):
    """A two-pass guide (e.g. :class:`SelfGuidedGuide`): its first answer guides a second solve.

    :class:`dada_ros.core.DepthUpsampler` solves with :meth:`coefficients`, then again from
    that answer with the coefficients of :meth:`refine_coefficients`; the steps of both
    passes come from :meth:`pass_iterations`.
    """

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Coefficients of the first pass (as :meth:`Guide.coefficients`)."""

    def refine_coefficients(self, rgb: torch.Tensor, estimate: torch.Tensor,
                            factor: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Coefficients of the second pass from the first answer ``(B, 1, H, W)``."""

    def pass_iterations(self, iterations: int) -> Tuple[int, int]:
        """Return the steps of the first and of the second pass for a budget of ``iterations``."""

    @property
    def momentum_scales(self) -> Tuple[float, float]:
        """``momentum_scale`` of the first and the second solve (:meth:`PyramidSolver.solve`)."""


class RgbGuide:
    """Unlearned DADA (``model: rgb``): RGB + weighted standardised depth, K = 0.03."""

    def __init__(self, k: float = K_DEFAULT, depth_weight: float = RGB_DEPTH_WEIGHT) -> None:
        self.k = k
        self.depth_weight = depth_weight

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None,
                     spread: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``cv (B, 1, H-1, W)`` and ``ch (B, 1, H, W-1)`` in (0, 1].

        Args:
            rgb: ``(B, 3, H, W)`` ImageNet-normalised RGB.
            initial: ``(B, 1, H, W)`` initial depth normalised to a mean of about one.
            scale: raw-unit value ``initial`` was divided by (unused here; accepted so
                every guide has the same interface).
            spread: ``(B, 1, 1, 1)`` divisor of the depth channel instead of
                ``std(initial)`` (see :func:`unlearned_features`).
        """
        spread = depth_spread(initial) if spread is None else spread
        return weighted_coefficients(rgb, initial / spread, 1.0, self.depth_weight, self.k)


class GadGuide(RgbGuide):
    """The paper's guided anisotropic diffusion: RGB + depth / std(depth), K = 0.03.

    A reference for tables and tests (not a ``model`` choice of the node).
    """

    def __init__(self, k: float = K_DEFAULT) -> None:
        super().__init__(k, depth_weight=1.0)


def make_guide(model: str, weights: str,
               device: torch.device) -> Union[RgbGuide, AnyLearnedGuide]:
    """Build the guide named by the ``model`` parameter.

    ``'learned'`` loads ``weights`` (empty = the packaged weights) with
    ``torch.load(weights_only=True)``; a missing or unsafe file raises ``ValueError``.
    """
    if model == 'rgb':
        return RgbGuide()
    if model == 'learned':
        return load_learned_guide(weights, device)
    raise ValueError(f"unknown model {model!r}; use 'rgb' or 'learned'")
