# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Input preparation, written once: checks, RGB normalisation, depth normalisation.

Everything that turns the user's arrays into the solver's inputs lives here, for the
low-res and sparse paths, training, evaluation and the baselines alike.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

import numpy as np
import torch

from . import kernels
from .initial import masked_bicubic

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


def size_ratio(rgb_shape: Tuple[int, ...], depth_shape: Tuple[int, ...]) -> float:
    """Size ratio ``r = H / h = W / w >= 1`` of depth showing the RGB camera's field of view.

    Any ratio: an integer one (returned as an ``int``; whole ``r x r`` blocks, the paper's
    setting) or not (e.g. 8/3 for 192x144 depth beside 512x384 RGB; each depth pixel then
    covers a rectangle with fractional edges, :mod:`dada_ros.core.footprints`).

    Raises:
        ValueError: an empty image, another aspect ratio, or depth larger than the RGB.
    """
    big_h, big_w = rgb_shape[:2]
    h, w = depth_shape[:2]
    if h <= 0 or w <= 0 or big_h <= 0 or big_w <= 0:
        raise ValueError(f'empty image: rgb {big_h}x{big_w}, depth {h}x{w}')
    if big_h * w != big_w * h or h > big_h:
        raise ValueError(
            f'depth {h}x{w} does not fit rgb {big_h}x{big_w}: the depth must show the same '
            'field of view at the same or a lower resolution (rgb height / depth height = '
            'rgb width / depth width >= 1)')
    return big_h // h if big_h % h == 0 else big_h / h


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


def check_inputs(rgb: np.ndarray, depth: np.ndarray) -> float:
    """Validate ``up()`` inputs and return the size ratio (:func:`size_ratio`)."""
    check_arrays(rgb, depth)
    return size_ratio(rgb.shape, depth.shape)


def as_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` as a tensor on ``device``; read-only arrays (message buffers) are copied.

    ``torch.from_numpy`` shares memory and warns on a read-only array, because torch
    could write into it; a copy keeps the caller's buffer untouched and silent.
    """
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array).to(device)


class LowResInput(NamedTuple):
    """A low-resolution depth map prepared for the solver (all float32, unit-free).

    ``source (h, w)``: depth / ``scale`` where valid, 1 elsewhere; ``valid (h, w)`` bool;
    ``initial (f*h, f*w)`` (f any size ratio): the masked bicubic upsampling of ``source``
    (:func:`dada_ros.core.initial.masked_bicubic`); ``scale``: the median valid depth in the
    caller's unit (:func:`robust_scale`: no single pixel can move it).
    """

    source: np.ndarray
    valid: np.ndarray
    initial: np.ndarray
    scale: float


def valid_depth(depth: np.ndarray) -> np.ndarray:
    """Boolean mask of the usable pixels: finite and > 0."""
    with np.errstate(invalid='ignore'):
        return np.isfinite(depth) & (depth > 0)


#: Largest ratio of a usable depth value to the median valid depth, either way. No depth
#: sensor spans 12 orders of magnitude in one frame; the bound keeps the normalised depth
#: within [1e-6, 1e6], where float32 arithmetic (squares of differences, sums of fluxes,
#: products with the scale) cannot overflow. The API is unit-free, so this is its
#: plausibility rule (the node also has one in metres, 1e5 m).
MAX_DEPTH_RATIO = 1e6
#: Valid values the robust scale is the median of, at most (evenly spaced over the frame).
SCALE_SAMPLES = 1 << 14


def robust_scale(values: np.ndarray) -> float:
    """Median of the positive finite ``values`` (1-D), in float64: the normalisation scale.

    A median cannot be moved by one pixel (a mean can: one pixel of 3e38 among depths of
    1 to 2 made it 1e33); at most :data:`SCALE_SAMPLES` evenly spaced values are used, so
    it costs the same at any image size.
    """
    values = np.asarray(values).reshape(-1)
    step = max(1, values.size // SCALE_SAMPLES)
    return float(np.median(values[::step].astype(np.float64)))


def _scale_sample(depth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Return the valid values on a lattice of about :data:`SCALE_SAMPLES` pixels."""
    step = max(1, depth.size // SCALE_SAMPLES)
    values = depth.reshape(-1)[::step][valid.reshape(-1)[::step]]
    return values if values.size >= 256 else depth[valid]


def plausible_depth(depth: np.ndarray) -> np.ndarray:
    """``depth`` with values beyond :data:`MAX_DEPTH_RATIO` of the median made invalid (NaN).

    Returns ``depth`` itself when every valid value is within the ratio, else a float32 copy
    (the caller's array is never modified).
    """
    valid = valid_depth(depth)
    if not valid.any():
        return depth
    scale = robust_scale(_scale_sample(depth, valid))
    low, high = scale / MAX_DEPTH_RATIO, scale * MAX_DEPTH_RATIO
    # min / max over the valid pixels without gathering them (a full-size sparse frame)
    if low <= float(np.min(depth, where=valid, initial=np.inf)) \
            and float(np.max(depth, where=valid, initial=-np.inf)) <= high:
        return depth
    out = depth.astype(np.float32)
    with np.errstate(invalid='ignore'):
        out[valid & ((depth < low) | (depth > high))] = np.nan
    return out


def prepare_lowres(depth: np.ndarray, factor: float) -> LowResInput:
    """Normalise ``(h, w)`` depth by its median valid value, upsample it (masked bicubic).

    Raises:
        ValueError: no pixel of ``depth`` is valid.
    """
    depth = np.asarray(depth)
    valid = valid_depth(depth)
    if not valid.any():
        raise ValueError('depth has no valid pixel')
    scale = robust_scale(depth[valid])
    with np.errstate(invalid='ignore', over='ignore'):
        source = np.where(valid, depth.astype(np.float64) / scale, 1.0).astype(np.float32)
    return LowResInput(source, valid, masked_bicubic(source, valid, factor), scale)


def rgb_features(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """ImageNet-normalised RGB as a ``(1, 3, H, W)`` float32 tensor.

    ``rgb``: ``(H, W, 3)`` uint8 (any strides; not modified).
    """
    mean = np.asarray(RGB_MEAN, np.float32)
    std = np.asarray(RGB_STD, np.float32)
    gains, offsets = 1.0 / (255.0 * std), -mean / std
    if device.type == 'cpu' and kernels.AVAILABLE and rgb.dtype == np.uint8:
        # one compiled pass from the interleaved bytes to the planar floats (at 1280x720
        # 1-2 ms; the torch form below is a transposing copy and two float passes, 9 ms)
        out = torch.empty(1, 3, rgb.shape[0], rgb.shape[1])
        kernels.normalise_rgb(rgb, gains, offsets, out[0].numpy())
        return out
    # Planar (contiguous NCHW) before the float conversion: every later slice along H or W
    # then reads contiguous rows, and (x / 255 - mean) / std is one multiply-add.
    planar = as_tensor(rgb, device).permute(2, 0, 1).contiguous()[None].float()
    return torch.addcmul(torch.from_numpy(offsets).to(device).view(1, 3, 1, 1), planar,
                         torch.from_numpy(gains).to(device).view(1, 3, 1, 1))
