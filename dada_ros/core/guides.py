# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Guides turn the RGB image and the initial depth into diffusion coefficients."""

from __future__ import annotations

from typing import Tuple

import torch

from .diffusion import K_DEFAULT, coefficients


class RgbGuide:
    """Unlearned DADA: features = [ImageNet-normalised RGB, initial depth], K = 0.03."""

    def __init__(self, k: float = K_DEFAULT) -> None:
        self.k = k

    def coefficients(self, rgb: torch.Tensor,
                     initial: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``cv (1, 1, H-1, W)`` and ``ch (1, 1, H, W-1)``.

        Args:
            rgb: ``(1, 3, H, W)`` ImageNet-normalised RGB.
            initial: ``(1, 1, H, W)`` initial depth normalised to a mean of about one.
        """
        return coefficients(torch.cat([rgb, initial], dim=1), self.k)


def make_guide(model: str, weights: str, device: torch.device) -> RgbGuide:
    """Build the guide named by the ``model`` parameter."""
    if model == 'rgb':
        return RgbGuide()
    raise ValueError(f"model {model!r} is not available yet; use model 'rgb'")
