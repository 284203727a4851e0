# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The DADA authors' checkpoints: their architecture and the import of its optional extra.

Their network is segmentation_models_pytorch ``Unet('resnet50', classes=64,
in_channels=4)`` inside ``Sequential(Upsample(x2, bicubic), Unet, AvgPool2d(2))`` plus
``logk``, saved as a state dict or a dict with key ``'model'``. It needs the optional
extra ``authors`` (``segmentation-models-pytorch``, see :func:`import_smp`);
:func:`dada_ros.core.models.guide_from_checkpoint` comes here only for such a checkpoint.
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .diffusion import K_DEFAULT
from .models import AUTHORS_DEPTH_NORM, LearnedGuide

__all__ = ['authors_state', 'build_authors_guide', 'import_smp']

_LOGGER = logging.getLogger(__name__)
#: Top-level packages that a failed import of segmentation_models_pytorch may leave half
#: imported in ``sys.modules`` (it imports timm, which imports torchvision).
_SMP_CHAIN = ('segmentation_models_pytorch', 'timm', 'torchvision')
#: Set to the reason once the torchvision work-around of :func:`import_smp` was needed.
_TORCHVISION_WORKAROUND: Optional[str] = None


class _PadTo(nn.Module):
    """Pad the input to a multiple of ``multiple`` (replicate), run ``inner``, crop back."""

    def __init__(self, inner: nn.Module, multiple: int) -> None:
        super().__init__()
        self.inner = inner
        self.multiple = multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode='replicate')
        return self.inner(x)[:, :, :h, :w]


def _is_torchvision_ops_mismatch(exc: BaseException) -> bool:
    """Whether ``exc`` is torchvision's compiled ops not loading with the installed torch.

    A torchvision wheel built for another torch (e.g. the CUDA build from PyPI next to the
    CPU build of torch) cannot load its compiled ops; ``import torchvision`` then fails in
    ``torchvision/_meta_registrations.py`` with ``RuntimeError: operator torchvision::nms
    does not exist``.
    """
    return isinstance(exc, RuntimeError) and 'torchvision::' in str(exc) \
        and 'does not exist' in str(exc)


def _forget_modules(names: Tuple[str, ...]) -> None:
    """Remove the packages ``names`` and their submodules from ``sys.modules``."""
    for key in [k for k in sys.modules if k.split('.', 1)[0] in names]:
        del sys.modules[key]


def import_smp() -> Any:
    """Import ``segmentation_models_pytorch`` (the optional extra ``authors``).

    When the import fails only because torchvision's compiled ops do not match the
    installed torch (see :func:`_is_torchvision_ops_mismatch`), the half-imported modules
    are dropped and the import is retried once with an empty stand-in for
    ``torchvision._meta_registrations``. That module only registers shapes of the detection
    ops (``nms``, ``roi_align``...), which the authors' U-Net never uses; a warning says so
    once.

    Returns:
        The ``segmentation_models_pytorch`` module.

    Raises:
        ValueError: the package (or one of its dependencies) is missing or does not import.
    """
    global _TORCHVISION_WORKAROUND
    hint = ("loading the DADA authors' checkpoints needs the optional extra "
            "'segmentation-models-pytorch' (pip install 'dada_ros[authors]', or "
            'segmentation-models-pytorch, timm and torchvision with --no-deps and a '
            'constraints file that pins torch, see scripts/setup.sh)')
    try:
        return importlib.import_module('segmentation_models_pytorch')
    except (ImportError, OSError, RuntimeError) as exc:
        if not _is_torchvision_ops_mismatch(exc):
            raise ValueError(f'{hint}: {exc}') from exc
        reason = str(exc)
    _forget_modules(_SMP_CHAIN)
    name = 'torchvision._meta_registrations'
    sys.modules[name] = types.ModuleType(name, 'Stand-in set by dada_ros.core.authors.')
    try:
        smp = importlib.import_module('segmentation_models_pytorch')
    except (ImportError, OSError, RuntimeError) as exc:
        _forget_modules(_SMP_CHAIN)
        raise ValueError(f'{hint}: torchvision does not match torch ({reason}) and the '
                         f'work-around failed: {exc}') from exc
    if _TORCHVISION_WORKAROUND is None:
        _TORCHVISION_WORKAROUND = reason
        _LOGGER.warning(
            'torchvision does not match the installed torch (%s): imported it without its '
            'detection-op registrations (torchvision._meta_registrations), which the '
            "authors' U-Net does not use. Install the torchvision build that matches torch "
            'to silence this.', reason)
    return smp


def build_authors_guide(encoder: str = 'resnet50', feature_dim: int = 64,
                        depth_norm: Optional[float] = AUTHORS_DEPTH_NORM['middlebury']
                        ) -> LearnedGuide:
    """Build the DADA authors' architecture (needs ``segmentation-models-pytorch``).

    ``feature_extractor`` = ``_PadTo(Sequential(Upsample(x2, bicubic), smp.Unet,
    AvgPool2d(2)), 16)``; state-dict keys of the Unet are ``feature_extractor.inner.1.*``.

    Raises:
        ValueError: ``segmentation-models-pytorch`` is not installed (see :func:`import_smp`).
    """
    smp = import_smp()
    unet = smp.Unet(encoder, classes=feature_dim, in_channels=4, encoder_weights=None)
    sequential = nn.Sequential(nn.Upsample(scale_factor=2, mode='bicubic', align_corners=False),
                               unet, nn.AvgPool2d(2))
    # The Unet needs sizes divisible by 32 after the x2 upsampling.
    return LearnedGuide(_PadTo(sequential, 16), K_DEFAULT, depth_norm=depth_norm,
                        arch='authors', config={'encoder': encoder, 'feature_dim': feature_dim})


def authors_state(obj: Any) -> Optional[Dict[str, torch.Tensor]]:
    """Return the authors' state dict in ``obj`` (plain or under ``'model'``), else None."""
    state = obj.get('model', obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping) or 'logk' not in state \
            or not any(str(k).startswith('feature_extractor.1.') for k in state):
        return None
    return {str(k): v for k, v in state.items()}
