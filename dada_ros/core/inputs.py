# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Input checks and the normalised RGB guide shared by the low-res and sparse paths."""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch

#: ImageNet statistics used to normalise the RGB guide (as the paper does).
RGB_MEAN = (0.485, 0.456, 0.406)
RGB_STD = (0.229, 0.224, 0.225)


def upsampling_factor(rgb_shape: Tuple[int, ...], depth_shape: Tuple[int, ...]) -> int:
    """Integer factor f with ``H = f * h`` and ``W = f * w``; ``ValueError`` otherwise."""
    big_h, big_w = rgb_shape[:2]
    h, w = depth_shape[:2]
    if h <= 0 or w <= 0 or big_h <= 0 or big_w <= 0:
        raise ValueError(f'empty image: rgb {big_h}x{big_w}, depth {h}x{w}')
    if big_h % h or big_w % w or big_h // h != big_w // w:
        raise ValueError(
            f'depth {h}x{w} does not fit rgb {big_h}x{big_w}: the rgb height and width must '
            'both be the depth height and width times one integer factor')
    return big_h // h


def check_arrays(rgb: np.ndarray, depth: np.ndarray) -> None:
    """Check the types of ``up()`` inputs: ``(H, W, 3)`` uint8 RGB, 2-D float depth."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
            or rgb.shape[2] != 3:
        raise ValueError('rgb must be an HxWx3 uint8 array in RGB order, got '
                         f'{getattr(rgb, "dtype", type(rgb))} {getattr(rgb, "shape", "")}')
    if not isinstance(depth, np.ndarray) or depth.ndim != 2 \
            or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError('depth must be an hxw float array (NaN = invalid), got '
                         f'{getattr(depth, "dtype", type(depth))} {getattr(depth, "shape", "")}')


def check_inputs(rgb: np.ndarray, depth: np.ndarray) -> int:
    """Validate ``up()`` inputs and return the upsampling factor."""
    check_arrays(rgb, depth)
    return upsampling_factor(rgb.shape, depth.shape)


def rgb_features(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """ImageNet-normalised RGB as a ``(1, 3, H, W)`` float32 tensor."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb)).to(device)
    tensor = tensor.permute(2, 0, 1)[None].float().div_(255.0)
    mean = torch.tensor(RGB_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(RGB_STD, device=device).view(1, 3, 1, 1)
    return (tensor - mean) / std
