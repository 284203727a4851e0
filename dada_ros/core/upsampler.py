# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``DepthUpsampler``: the public, ROS-free entry point of dada_ros."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch

from .diffusion import reference_diffusion
from .guides import make_guide
from .initial import masked_bicubic
from .inputs import check_inputs, rgb_features, RGB_MEAN, RGB_STD, upsampling_factor
from .params import resolve_solver_params
from .solver import PyramidSolver
from .sparse import complete_sparse


def resolve_device(name: str) -> torch.device:
    """Map the ``device`` parameter to a torch device.

    ``auto`` picks CUDA when available, else CPU; an explicit CUDA device that is not
    available is an error (``RuntimeError``) rather than a silent fallback.
    """
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(name)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise RuntimeError(f"device '{name}' requested but CUDA is not available "
                               "(use device 'cpu' or 'auto')")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"device '{name}' requested but only "
                               f'{torch.cuda.device_count()} CUDA device(s) exist')
    return device


def resolve_depth_mode(mode: str, factor: int) -> str:
    """'auto' means sparse when the depth has the RGB size (factor 1), else low-res."""
    if mode == 'auto':
        return 'sparse' if factor == 1 else 'lowres'
    if mode == 'sparse' and factor != 1:
        raise ValueError(f"depth.mode 'sparse' needs depth at the rgb size, got factor {factor}")
    return mode


__all__ = ['DepthUpsampler', 'RGB_MEAN', 'RGB_STD', 'check_inputs', 'resolve_depth_mode',
           'resolve_device', 'rgb_features', 'upsampling_factor']


class DepthUpsampler:
    """Guided depth super-resolution by (Deep) Anisotropic Diffusion.

    Construct with the node's parameter names, e.g.
    ``DepthUpsampler(model='rgb', iterations=64, device='cpu')`` (``depth.mode`` may be
    spelled ``depth_mode``). Then ``up(rgb, depth)`` returns the dense depth.
    """

    def __init__(self, **params: Any) -> None:
        self.params: Dict[str, Any] = resolve_solver_params(params)
        self.device = resolve_device(self.params['device'])
        self.guide = make_guide(self.params['model'], self.params['weights'], self.device)
        self._pyramid = PyramidSolver()

    @property
    def iterations(self) -> int:
        """Iteration budget (at the finest level for the pyramid solver)."""
        return int(self.params['iterations'])

    @iterations.setter
    def iterations(self, value: int) -> None:
        self.set_param('iterations', value)

    def set_param(self, name: str, value: Any) -> None:
        """Change one solver parameter that needs no rebuild (``iterations``, ``solver``...)."""
        resolved = resolve_solver_params({**self.params, name: value})
        if any(resolved[key] != self.params[key] for key in ('model', 'device', 'weights')):
            raise ValueError(f'{name} cannot change at run time; build a new DepthUpsampler')
        self.params = resolved

    @torch.inference_mode()
    def up(self, rgb: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Upsample ``depth`` to the size of ``rgb``.

        Args:
            rgb: ``(H, W, 3)`` uint8 image in RGB order.
            depth: ``(h, w)`` float array, any positive unit; NaN, Inf and values <= 0 are
                invalid. ``H = f * h`` and ``W = f * w`` for one integer factor ``f >= 1``.

        Returns:
            ``(H, W)`` float32 depth in the unit of ``depth``; NaN only where no input was
            valid (everywhere when ``depth`` has no valid pixel, or in unfilled holes when
            ``fill_holes`` is false).
        """
        factor = check_inputs(rgb, depth)
        if resolve_depth_mode(self.params['depth.mode'], factor) == 'sparse':
            return complete_sparse(self, rgb, depth)
        depth32 = np.asarray(depth, dtype=np.float32)
        valid = np.isfinite(depth32) & (depth32 > 0)
        big_h, big_w = rgb.shape[:2]
        if not valid.any():
            return np.full((big_h, big_w), np.nan, dtype=np.float32)
        # Normalise to a mean of one: the coefficients and K see the same scale for any unit.
        scale = float(depth32[valid].mean())
        source_np = np.where(valid, depth32 / scale, 1.0).astype(np.float32)
        initial_np = masked_bicubic(source_np, valid, factor)

        device = self.device
        source = torch.from_numpy(source_np).to(device)
        valid_t = torch.from_numpy(valid).to(device)
        initial = torch.from_numpy(initial_np).to(device)
        cv, ch = self.guide.coefficients(rgb_features(rgb, device), initial[None, None],
                                         scale=scale)
        result = self._solve(initial, cv[0, 0], ch[0, 0], source, valid_t, factor)
        out = (result * scale).cpu().numpy().astype(np.float32, copy=False)
        if not self.params['fill_holes'] and not valid.all():
            out[~np.repeat(np.repeat(valid, factor, 0), factor, 1)] = np.nan
        return out

    def _solve(self, initial: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor,
               source: torch.Tensor, valid: torch.Tensor, factor: int) -> torch.Tensor:
        iterations = self.iterations
        if self.params['solver'] == 'reference':
            return reference_diffusion(initial[None, None], cv[None, None], ch[None, None],
                                       source[None, None], valid[None, None], factor,
                                       iterations)[0, 0]
        return self._pyramid.solve(initial, cv, ch, source, valid, factor, iterations)
