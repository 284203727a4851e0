# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The building blocks of Deep Anisotropic Diffusion, written as plain functions.

Notation follows Metzger, Caye Daudt and Schindler, "Guided Depth Super-Resolution by
Deep Anisotropic Diffusion", CVPR 2023. Tensors are ``(B, C, H, W)`` float32; ``cv`` holds
the coefficients between vertical neighbours, shape ``(B, 1, H-1, W)``, ``ch`` those
between horizontal neighbours, ``(B, 1, H, W-1)``. None of these functions modifies its
inputs, so they are safe to use with autograd (training) and as a reference.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch

from . import kernels
from .footprints import Footprints, harmonic_adjust

#: Diffusion rate lambda of Eq. 1 (stable for lambda * 4 < 1 since c <= 1).
LAMBDA = 0.24
#: Perona-Malik contrast parameter K of the unlearned variant.
K_DEFAULT = 0.03
#: Weight of the standardised depth channel of the unlearned guide ``model: rgb``
#: (:func:`unlearned_features`; 1 = the paper's GAD). Chosen on the 640x480 RGB-D frames
#: of ``../shared`` (``benchmarks/guide_depth_weight.py``).
RGB_DEPTH_WEIGHT = 1.5
#: Guards the division of the adjustment step.
EPS = 1e-8


def perona_malik(x: torch.Tensor, k: float | torch.Tensor) -> torch.Tensor:
    """Perona-Malik edge-stopping function g(x) = 1 / (1 + x^2 / K^2), values in (0, 1]."""
    return 1.0 / (1.0 + (x * x) / (k * k))


def coefficients(features: torch.Tensor,
                 k: float | torch.Tensor = K_DEFAULT) -> Tuple[torch.Tensor, torch.Tensor]:
    """Diffusion coefficients from guide features.

    ``c = g(mean over channels of |difference of neighbouring features|)`` along each axis.

    Args:
        features: ``(B, C, H, W)`` guide features.
        k: Perona-Malik contrast K (a float or a 0-d tensor, e.g. ``exp(log K)``).

    Returns:
        ``cv`` of shape ``(B, 1, H-1, W)`` and ``ch`` of shape ``(B, 1, H, W-1)``.
    """
    if features.dim() != 4:
        raise ValueError(f'features must be (B, C, H, W), got shape {tuple(features.shape)}')
    dv = (features[:, :, 1:, :] - features[:, :, :-1, :]).abs().mean(dim=1, keepdim=True)
    dh = (features[:, :, :, 1:] - features[:, :, :, :-1]).abs().mean(dim=1, keepdim=True)
    return perona_malik(dv, k), perona_malik(dh, k)


def weighted_coefficients(rgb: torch.Tensor, depth: torch.Tensor, rgb_weight: float | torch.Tensor,
                          depth_weight: float | torch.Tensor,
                          k: float = K_DEFAULT) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`coefficients` of the features ``[rgb_weight * rgb, depth_weight * depth]``.

    The same values as ``coefficients(torch.cat([rgb_weight * rgb, depth_weight * depth],
    1), k)``: the channel mean of ``|difference|`` is ``(rgb_weight * sum_c |d rgb_c| +
    depth_weight * |d depth|) / 4``. Without autograd it never builds the features: one
    CPU image with numba installed takes one compiled pass
    (:func:`dada_ros.core.kernels.weighted_coefficients`, 1 ms at 1280x720), anything else
    works in place on its own temporaries (about 10x faster than the general form at
    640x480, whose fresh full-size tensors each cost page faults).

    Args:
        rgb: ``(B, 3, H, W)`` colour features (ImageNet-normalised RGB).
        depth: ``(B, 1, H, W)`` depth feature (e.g. depth over its standard deviation).
        rgb_weight: factor on the colour channels (a float or a 0-d tensor).
        depth_weight: factor on the depth channel (a float or a 0-d tensor).
        k: Perona-Malik contrast K.
    """
    if rgb.dim() != 4 or rgb.shape[1] != 3 or depth.dim() != 4 or depth.shape[1] != 1 \
            or depth.shape[0] != rgb.shape[0] or depth.shape[-2:] != rgb.shape[-2:]:
        raise ValueError('expected rgb (B, 3, H, W) and depth (B, 1, H, W) of the same '
                         f'size, got {tuple(rgb.shape)} and {tuple(depth.shape)}')
    tensors = [t for t in (rgb, depth, rgb_weight, depth_weight) if isinstance(t, torch.Tensor)]
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return coefficients(torch.cat([rgb * rgb_weight, depth * depth_weight], 1), k)
    if _compiled_coefficients(rgb, depth):
        height, width = depth.shape[-2:]
        cv, ch = torch.empty(1, 1, height - 1, width), torch.empty(1, 1, height, width - 1)
        kernels.weighted_coefficients(rgb[0].numpy(), depth[0, 0].numpy(),
                                      float(rgb_weight) / (4.0 * k),
                                      float(depth_weight) / (4.0 * k),
                                      cv[0, 0].numpy(), ch[0, 0].numpy())
        return cv, ch
    pairs = (((slice(1, None), slice(None)), (slice(None, -1), slice(None))),
             ((slice(None), slice(1, None)), (slice(None), slice(None, -1))))
    # x = (rgb_weight * sum_c |d rgb_c| + depth_weight * |d depth|) / (4 K), g = 1 / (1 + x^2)
    colour_gain, depth_gain = rgb_weight / (4.0 * k), depth_weight / (4.0 * k)
    result = []
    for (rows_q, cols_q), (rows_p, cols_p) in pairs:
        step = torch.sub(depth[:, :, rows_q, cols_q], depth[:, :, rows_p, cols_p]).abs_()
        step.mul_(depth_gain)
        channel = torch.empty_like(step)
        for c in range(3):  # one reused temporary, not a 3-channel one and its reduction
            torch.sub(rgb[:, c:c + 1, rows_q, cols_q], rgb[:, c:c + 1, rows_p, cols_p],
                      out=channel)
            step.add_(channel.abs_().mul_(colour_gain))
        result.append(step.square_().add_(1.0).reciprocal_())
    return result[0], result[1]


def _compiled_coefficients(rgb: torch.Tensor, depth: torch.Tensor) -> bool:
    """Whether :func:`weighted_coefficients` can run its compiled kernel (one CPU image)."""
    return (kernels.AVAILABLE and rgb.device.type == 'cpu' and depth.device.type == 'cpu'
            and rgb.shape[0] == 1 and rgb.dtype == torch.float32
            and depth.dtype == torch.float32 and rgb.is_contiguous() and depth.is_contiguous()
            and min(depth.shape[-2:]) >= 2)


#: Floor of the depth spread, relative to the mean, so a flat depth map does not blow up.
MIN_RELATIVE_STD = 1e-3


def depth_spread(initial: torch.Tensor) -> torch.Tensor:
    """Return the standard deviation of each image of ``initial (B, 1, H, W)``: ``(B, 1, 1, 1)``.

    Floored at :data:`MIN_RELATIVE_STD` times the mean absolute value (a flat scene).
    """
    std = initial.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
    floor = MIN_RELATIVE_STD * initial.abs().mean(dim=(1, 2, 3), keepdim=True)
    return torch.maximum(std, floor)


def unlearned_features(rgb: torch.Tensor, initial: torch.Tensor, depth_weight: float = 1.0,
                       spread: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Features ``(B, 4, H, W)``: ``[rgb, depth_weight * initial / std(initial)]``.

    With ``depth_weight = 1`` these are the features of the paper's guided anisotropic
    diffusion (GAD, the unlearned "RGB" DADA): the depth divided by its standard deviation,
    which is unit-free (the same for any positive scale of ``initial``).

    Args:
        rgb: ``(B, 3, H, W)`` ImageNet-normalised RGB.
        initial: ``(B, 1, H, W)`` initial depth (any positive scale).
        depth_weight: factor on the standardised depth channel.
        spread: ``(B, 1, 1, 1)`` standard deviation to use instead of that of ``initial``
            (training: the spread of the whole scene, so a crop sees the features the whole
            image would have; a crop's own spread is smaller).
    """
    if rgb.dim() != 4 or rgb.shape[1] != 3 or initial.dim() != 4 or initial.shape[1] != 1 \
            or initial.shape[0] != rgb.shape[0] or initial.shape[-2:] != rgb.shape[-2:]:
        raise ValueError('expected rgb (B, 3, H, W) and initial (B, 1, H, W) of the same '
                         f'size, got {tuple(rgb.shape)} and {tuple(initial.shape)}')
    spread = depth_spread(initial) if spread is None else spread
    return torch.cat([rgb, initial * (depth_weight / spread)], dim=1)


def diffuse_step(image: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor,
                 rate: float = LAMBDA) -> torch.Tensor:
    """One explicit anisotropic diffusion step (Eq. 1).

    The flow ``rate * c * (I_q - I_p)`` moves between every pair of vertical neighbours and
    every pair of horizontal neighbours; both flows are computed from the same ``image``.
    """
    dv = image[:, :, 1:, :] - image[:, :, :-1, :]
    dh = image[:, :, :, 1:] - image[:, :, :, :-1]
    flow_v = rate * cv * dv  # vertical transmissions: into the upper pixel, out of the lower
    flow_h = rate * ch * dh  # horizontal transmissions: into the left pixel, out of the right
    out = image.clone()  # the caller's tensor stays untouched; autograd tracks the clone
    out[:, :, 1:, :] -= flow_v
    out[:, :, :-1, :] += flow_v
    out[:, :, :, 1:] -= flow_h
    out[:, :, :, :-1] += flow_h
    return out


def block_mean(image: torch.Tensor, factor: int) -> torch.Tensor:
    """Average non-overlapping ``factor x factor`` blocks: ``(B, C, H, W) -> (B, C, H/f, W/f)``."""
    b, c, h, w = image.shape
    return image.reshape(b, c, h // factor, factor, w // factor, factor).mean(dim=(3, 5))


def adjust_step(image: torch.Tensor, source: torch.Tensor, valid: torch.Tensor,
                factor: float) -> torch.Tensor:
    """Apply the adjustment step (Eq. 3): scale each block so its mean equals the source.

    With a non-integer size ratio the blocks are the fractional footprints of
    :mod:`dada_ros.core.footprints` and the exact multiplicative adjustment there is used
    (:func:`~dada_ros.core.footprints.harmonic_adjust`; the same as below for whole blocks).

    Args:
        image: ``(B, 1, H, W)`` positive high-resolution estimate.
        source: ``(B, 1, h, w)`` positive low-resolution depth (any value where invalid).
        valid: ``(B, 1, h, w)`` bool, False where the source is invalid (block left free).
        factor: upsampling factor ``H / h = W / w`` (the geometry follows the shapes).
    """
    if not _whole_blocks(image, source):
        return harmonic_adjust(image, source, valid, _footprints(image, source), EPS)[0]
    factor = int(factor)
    ratio = torch.where(valid, source / (block_mean(image, factor) + EPS),
                        torch.ones_like(source))
    b, c, h, w = ratio.shape
    upsampled = ratio[:, :, :, None, :, None].expand(b, c, h, factor, w, factor)
    return image * upsampled.reshape(b, c, h * factor, w * factor)


def _whole_blocks(image: torch.Tensor, source: torch.Tensor) -> bool:
    """Whether ``image`` is ``source`` times one integer along both axes."""
    (big_h, big_w), (h, w) = image.shape[-2:], source.shape[-2:]
    return big_h % h == 0 and big_w % w == 0 and big_h // h == big_w // w


def _footprints(image: torch.Tensor, source: torch.Tensor) -> Footprints:
    return Footprints((image.shape[-2], image.shape[-1]), (source.shape[-2], source.shape[-1]),
                      image.device)


class SolveCancelled(RuntimeError):
    """A solve stopped early because its ``cancel`` callback returned True."""


def reference_diffusion(initial: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor,
                        source: torch.Tensor, valid: torch.Tensor, factor: float,
                        iterations: int, rate: float = LAMBDA,
                        cancel: Optional[Callable[[], bool]] = None) -> torch.Tensor:
    """Run the paper's plain loop: ``iterations`` times Eq. 1 then Eq. 3.

    ``cancel`` is polled every 32 steps; when it returns True, :class:`SolveCancelled` is
    raised. With fractional footprints every Eq. 3 is exact (to its tolerance); it starts
    from the multipliers of the previous step, which changes only how fast it gets there.
    """
    image = initial
    footprints = None if _whole_blocks(initial, source) else _footprints(initial, source)
    multipliers: Optional[torch.Tensor] = None
    for step in range(iterations):
        if cancel is not None and step % 32 == 31 and cancel():
            raise SolveCancelled('solve cancelled (parameter change or shutdown)')
        if footprints is None:
            image = adjust_step(diffuse_step(image, cv, ch, rate), source, valid, factor)
        else:
            image, multipliers, _ = harmonic_adjust(diffuse_step(image, cv, ch, rate), source,
                                                    valid, footprints, EPS, multipliers)
    return image
