# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Guides turn the RGB image and the initial depth into diffusion coefficients."""

from __future__ import annotations

from typing import Optional, Protocol, Tuple, Union

import torch

from .diffusion import coefficients, K_DEFAULT
from .models import LearnedGuide, load_learned_guide


class Guide(Protocol):
    """What the solver needs from a guide: diffusion coefficients from RGB + initial depth."""

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """``cv (B, 1, H-1, W)`` and ``ch (B, 1, H, W-1)`` in (0, 1] (see :class:`RgbGuide`)."""


class RgbGuide:
    """Unlearned DADA: features = [ImageNet-normalised RGB, initial depth], K = 0.03."""

    def __init__(self, k: float = K_DEFAULT) -> None:
        self.k = k

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``cv (1, 1, H-1, W)`` and ``ch (1, 1, H, W-1)``.

        Args:
            rgb: ``(1, 3, H, W)`` ImageNet-normalised RGB.
            initial: ``(1, 1, H, W)`` initial depth normalised to a mean of about one.
            scale: raw-unit value ``initial`` was divided by (unused here; accepted so
                every guide has the same interface).
        """
        return coefficients(torch.cat([rgb, initial], dim=1), self.k)


def make_guide(model: str, weights: str,
               device: torch.device) -> Union[RgbGuide, LearnedGuide]:
    """Build the guide named by the ``model`` parameter.

    ``'learned'`` loads ``weights`` (empty = the packaged weights) with
    ``torch.load(weights_only=True)``; a missing or unsafe file raises ``ValueError``.
    """
    if model == 'rgb':
        return RgbGuide()
    if model == 'learned':
        return load_learned_guide(weights, device)
    raise ValueError(f"unknown model {model!r}; use 'rgb' or 'learned'")
