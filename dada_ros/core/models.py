# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Learned feature extractors for DADA and their (safe) checkpoint loaders.

Four architectures load through :func:`load_learned_guide`:

* ``self_guided`` (:class:`SelfGuidedGuide`, the packaged weights): two-pass DADA whose
  second pass takes its coefficients from the first answer, with learned per-factor
  weights; same checkpoint layout as below.
* ``gain_net`` (:class:`GainNet`): learned per-channel gains on the unlearned features
  (small, within the CPU budget of ``model: rgb``); same checkpoint layout as below.
* ``tiny_unet`` (:class:`TinyUNet`), the light extractor trained by ``dada_train`` and
  shipped in ``dada_ros/weights/``. Checkpoint layout: ``{'format': FORMAT, 'arch':
  'tiny_unet', 'config': {...}, 'state_dict': {...}, 'meta': {...}}``.
* ``deep_guide`` (:class:`dada_ros.core.deep_guide.DeepGuide`): two-pass DADA whose
  coefficients are weighted per pixel by two small CNNs; same checkpoint layout.
* the DADA authors' checkpoints (:mod:`dada_ros.core.authors`; they need the optional
  extra ``authors``).

Every file is read with ``torch.load(..., weights_only=True)``: a checkpoint that needs
arbitrary pickled objects (code execution) is refused with ``ValueError``.
"""

from __future__ import annotations

import math
from pathlib import Path
import pickle
from typing import Any, Dict, Mapping, Optional, Tuple, Union
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F

from .deep_guide import deep_guide_from_config, DeepGuide
from .diffusion import (coefficients, depth_spread, K_DEFAULT, RGB_DEPTH_WEIGHT,
                        unlearned_features, weighted_coefficients)

#: Format tag of the checkpoints written by ``dada_train``.
FORMAT = 'dada_ros.learned/1'
#: Architectures of the checkpoints written by ``dada_train``.
OWN_ARCHS: Tuple[str, ...] = ('self_guided', 'tiny_unet', 'gain_net', 'deep_guide')
#: The packaged weights (installed with the package).
PACKAGED_WEIGHTS = Path(__file__).resolve().parent.parent / 'weights' / 'dada_learned.pt'
#: Depth normalisation constants (mm) the DADA authors used per training data set: their
#: network saw ``depth_mm / constant`` (minus its mean).
AUTHORS_DEPTH_NORM: Dict[str, float] = {
    'middlebury': 1122.7, 'nyuv2': 1386.05, 'diml': 1154.29}

PathLike = Union[str, Path]


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
                         nn.ReLU(inplace=True))


class TinyUNet(nn.Module):
    """A light U-Net (about 0.27 M parameters) that maps RGB + depth to guide features.

    Four strided levels (1/2 .. 1/16) give context to tell depth edges from texture; the
    decoder returns to 1/4 resolution, or with ``full_decoder`` on to full resolution
    through two more skip levels (1/2 and 1/1; +6 k parameters). The output is a 1x1
    convolution of the input, the full-resolution stem and the decoder (bilinearly upsampled
    from 1/4 without ``full_decoder``). The coefficients depend on differences between
    neighbouring pixels, which a decoder at 1/4 resolution can only change smoothly;
    ``full_decoder`` lets the network cancel a texture edge or sharpen a depth edge at the
    pixel. With :func:`dada_ros.training.builders.init_as_rgb_guide` the output starts as
    the former unlearned features ``[RGB, depth / mean(depth)]`` (before ``model: rgb``
    switched to the standardised depth of :func:`dada_ros.core.diffusion.unlearned_features`).

    Input ``(B, in_channels, H, W)``, any H and W (padded internally to a multiple of 16);
    output ``(B, out_channels, H, W)``.
    """

    def __init__(self, in_channels: int = 4, out_channels: int = 8, width: int = 8,
                 full_decoder: bool = False) -> None:
        super().__init__()
        w = width
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.width = width
        self.full_decoder = full_decoder
        self.stem = _conv(in_channels, w)                                # 1/1
        self.enc1 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))          # 1/2
        self.enc2 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))      # 1/4
        self.enc3 = nn.Sequential(_conv(4 * w, 8 * w, 2), _conv(8 * w, 8 * w))      # 1/8
        self.enc4 = nn.Sequential(_conv(8 * w, 12 * w, 2), _conv(12 * w, 12 * w))   # 1/16
        self.dec3 = nn.Sequential(nn.Conv2d(20 * w, 8 * w, 1), _conv(8 * w, 8 * w))
        self.dec2 = nn.Sequential(nn.Conv2d(12 * w, 4 * w, 1), _conv(4 * w, 4 * w))
        # Head = 1x1 conv of cat(input, stem, upsampled dec2), split in three so the
        # decoder term is projected at 1/4 resolution and only out_channels are upsampled.
        self.head_in = nn.Conv2d(in_channels, out_channels, 1)
        self.head_stem = nn.Conv2d(w, out_channels, 1, bias=False)
        self.head_dec = nn.Conv2d((w if full_decoder else 4 * w), out_channels, 1, bias=False)
        if full_decoder:
            self.dec1 = nn.Sequential(nn.Conv2d(6 * w, 2 * w, 1), _conv(2 * w, 2 * w))
            self.dec0 = nn.Sequential(nn.Conv2d(3 * w, w, 1), _conv(w, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features of the same height and width as ``x``."""
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % 16, (-w) % 16
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode='replicate') if pad_h or pad_w else x
        s0 = self.stem(padded)
        s1 = self.enc1(s0)
        s2 = self.enc2(s1)
        s3 = self.enc3(s2)
        s4 = self.enc4(s3)
        d3 = self.dec3(torch.cat([_up(s4, s3), s3], 1))
        d2 = self.dec2(torch.cat([_up(d3, s2), s2], 1))
        if self.full_decoder:
            d1 = self.dec1(torch.cat([_up(d2, s1), s1], 1))
            d0 = self.dec0(torch.cat([_up(d1, s0), s0], 1))
            decoded = self.head_dec(d0)
        else:
            decoded = _up(self.head_dec(d2), s0)
        out = self.head_in(padded) + self.head_stem(s0) + decoded
        return out[:, :, :h, :w]


class GainNet(nn.Module):
    """Per-channel gains on the unlearned features, from a small net at 1/4 resolution.

    The output is ``features * exp(gain)`` with ``gain = B tanh(head / B)`` (``B`` =
    :data:`GAIN_BOUND`), one gain map per feature channel, computed at 1/4 resolution and
    upsampled bilinearly. The gains vary smoothly, so every edge the coefficients keep is
    still a pixel-exact colour or depth difference; what the network learns is which of
    them to trust where: turning a texture edge off is one gain going down (no channel has
    to cancel another), and depth edges can be made to count more than colour edges. Input
    of the net: the 1/4-resolution block means of the features and of their mean
    ``|difference|`` to the right and below (texture energy). With the head at zero
    (the constructor's zero head) the output equals the input.

    Input and output ``(B, channels, H, W)``, any H and W (padded internally).
    """

    #: Bound of the log-gain.
    GAIN_BOUND = 3.0
    #: Resolution of the net relative to the image, and the padding multiple.
    POOL = 4
    MULTIPLE = 32

    def __init__(self, channels: int = 4, width: int = 16) -> None:
        super().__init__()
        w = width
        self.channels = channels
        self.width = width
        self.e0 = _conv(channels + 1, w)                                      # 1/4
        self.e1 = nn.Sequential(_conv(w, w, 2), _conv(w, w))                  # 1/8
        self.e2 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))      # 1/16
        self.e3 = nn.Sequential(_conv(2 * w, 2 * w, 2), _conv(2 * w, 2 * w))  # 1/32
        self.d2 = nn.Sequential(nn.Conv2d(4 * w, 2 * w, 1), _conv(2 * w, 2 * w))
        self.d1 = nn.Sequential(nn.Conv2d(3 * w, w, 1), _conv(w, w))
        self.d0 = nn.Sequential(nn.Conv2d(2 * w, w, 1), _conv(w, w))
        self.head = nn.Conv2d(w, channels, 1)
        with torch.no_grad():  # a zero head: every gain is 1, the output equals the input
            self.head.weight.zero_()
            if self.head.bias is not None:
                self.head.bias.zero_()

    def gains(self, features: torch.Tensor) -> torch.Tensor:
        """Log-gains ``(B, channels, H, W)`` for ``features (B, channels, H, W)``."""
        h, w = features.shape[-2:]
        pad_h, pad_w = (-h) % self.MULTIPLE, (-w) % self.MULTIPLE
        x = F.pad(features, (0, pad_w, 0, pad_h), mode='replicate') if pad_h or pad_w \
            else features
        energy = torch.zeros_like(x[:, :1])
        energy[:, :, :, :-1] += (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean(1, keepdim=True)
        energy[:, :, :-1, :] += (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean(1, keepdim=True)
        pooled = F.avg_pool2d(torch.cat([x, energy], 1), self.POOL)
        s0 = self.e0(pooled)
        s1 = self.e1(s0)
        s2 = self.e2(s1)
        s3 = self.e3(s2)
        d2 = self.d2(torch.cat([_up(s3, s2), s2], 1))
        d1 = self.d1(torch.cat([_up(d2, s1), s1], 1))
        d0 = self.d0(torch.cat([_up(d1, s0), s0], 1))
        bound = self.GAIN_BOUND
        log_gain = bound * torch.tanh(self.head(d0) / bound)
        full = F.interpolate(log_gain, size=x.shape[-2:], mode='bilinear', align_corners=False)
        return full[:, :, :h, :w]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``features * exp(gains(features))``, same shape as ``features``."""
        return features * torch.exp(self.gains(features))


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode='bilinear', align_corners=False)


class LearnedGuide(nn.Module):
    """Learned DADA guide: CNN features of ``[RGB, centred depth]`` -> coefficients.

    ``coefficients`` has the interface of :class:`dada_ros.core.guides.RgbGuide`. The
    depth channel fed to the network is ``(initial - mean(initial)) * gain`` where
    ``initial`` is normalised to a mean of about one by the caller. Own checkpoints are
    trained with exactly that (``depth_norm`` None, gain 1), so they are unit-free. The
    authors' networks saw ``depth / depth_norm`` (``depth_norm`` in the caller's unit, e.g.
    1122.7 for Middlebury in mm): when the caller passes ``scale`` (the raw value that
    ``initial`` was divided by) the gain is ``scale / depth_norm``; without it the gain is
    1, i.e. the scene's mean depth is taken to be ``depth_norm``.
    """

    def __init__(self, feature_extractor: nn.Module, k: float = K_DEFAULT,
                 depth_norm: Optional[float] = None, arch: str = 'tiny_unet',
                 config: Optional[Dict[str, Any]] = None) -> None:
        super().__init__()
        self.feature_extractor = feature_extractor
        self.logk = nn.Parameter(torch.tensor(math.log(k), dtype=torch.float32))
        self.depth_norm = depth_norm
        self.arch = arch
        self.config: Dict[str, Any] = dict(config or {})

    def features(self, rgb: torch.Tensor, initial: torch.Tensor,
                 scale: Optional[float] = None,
                 spread: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Guide features ``(B, C, H, W)`` (see :meth:`coefficients` for the inputs)."""
        _check_inputs(rgb, initial)
        if self.arch == 'gain_net':
            weight = float(self.config.get('depth_weight', RGB_DEPTH_WEIGHT))
            return self.feature_extractor(unlearned_features(rgb, initial, weight, spread))
        centred = initial - initial.mean(dim=(1, 2, 3), keepdim=True)
        if self.depth_norm is not None and scale is not None:
            centred = centred * (float(scale) / self.depth_norm)
        return self.feature_extractor(torch.cat([rgb, centred], 1))

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None, spread: Optional[torch.Tensor] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return ``cv (B, 1, H-1, W)`` and ``ch (B, 1, H, W-1)`` in (0, 1].

        Args:
            rgb: ``(B, 3, H, W)`` ImageNet-normalised RGB.
            initial: ``(B, 1, H, W)`` initial depth normalised to a mean of about one.
            scale: optional raw-unit value ``initial`` was divided by (only used by
                checkpoints with a ``depth_norm``, i.e. the authors').
            spread: optional ``(B, 1, 1, 1)`` depth spread for ``gain_net`` (training on
                crops: the whole scene's, see
                :func:`dada_ros.core.diffusion.unlearned_features`); default: that of
                ``initial``.
        """
        return coefficients(self.features(rgb, initial, scale, spread), torch.exp(self.logk))

    def forward(self, rgb: torch.Tensor,
                initial: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Return the same as :meth:`coefficients`."""
        return self.coefficients(rgb, initial)


class SelfGuidedGuide(nn.Module):
    """Learned two-pass DADA (arch ``self_guided``): the first answer guides a second solve.

    Pass 1 is ``model: rgb`` (:func:`dada_ros.core.diffusion.unlearned_features` with depth
    weight :data:`RGB_DEPTH_WEIGHT`). Its answer ``D1`` has depth edges where the colour
    edges are (pixel-exact), while texture inside a smooth surface leaves only small steps
    in ``D1``. Pass 2 therefore takes its coefficients (Eq. 1) from the features
    ``[rgb_weight * RGB, depth_weight * D1 / std(D1)]`` (contrast K = 0.03; a common scale
    of both weights is the same as a change of K): a weak colour term and a strong term on
    the first answer, so large depth steps keep stopping the
    diffusion and texture steps are smoothed away. Pass 2 starts from ``D1``
    (:meth:`dada_ros.core.solver.PyramidSolver.solve` with ``warm_start``) and runs
    :meth:`pass_iterations` steps; Eq. 3 keeps the block means exact in both passes.

    The learned parameters (logarithms of the two weights) are per upsampling
    factor (:attr:`factors`; a factor between two uses the nearer one on a log scale),
    fitted on training scenes by ``dada_train --arch self_guided``.
    """

    def __init__(self, factors: Tuple[int, ...] = (4, 8, 16, 32),
                 rgb_weight: float = 0.1, depth_weight: float = 6.0,
                 first_fraction: float = 0.5, refine_fraction: float = 1.0,
                 first_momentum_scale: float = 0.08, refine_momentum_scale: float = 0.06,
                 first_depth_weight: float = RGB_DEPTH_WEIGHT, refiner_width: int = 0) -> None:
        super().__init__()
        if not factors or any(f < 1 for f in factors) or list(factors) != sorted(factors):
            raise ValueError(f'factors must be increasing positive integers, got {factors}')
        for name, fraction in (('first_fraction', first_fraction),
                               ('refine_fraction', refine_fraction)):
            if not 0.0 < fraction <= 4.0:
                raise ValueError(f'{name} must be in (0, 4], got {fraction}')
        count = len(factors)
        self.factors = tuple(int(f) for f in factors)
        self.log_rgb_weight = nn.Parameter(torch.full((count,), math.log(rgb_weight)))
        self.log_depth_weight = nn.Parameter(torch.full((count,), math.log(depth_weight)))
        self.first_fraction = float(first_fraction)
        self.refine_fraction = float(refine_fraction)
        if refiner_width < 0:
            raise ValueError(f'refiner_width must be >= 0, got {refiner_width}')
        self.refiner_width = int(refiner_width)
        # Optional CNN of the second pass (0 = none, the packaged weights): a residual on
        # the pass-2 features from [RGB, D1 / std] at full resolution, starting at zero.
        self.refiner = _Refiner(refiner_width) if refiner_width > 0 else None
        for name, scale in (('first_momentum_scale', first_momentum_scale),
                            ('refine_momentum_scale', refine_momentum_scale)):
            if not 0.0 < scale < 1.0:
                raise ValueError(f'{name} must be in (0, 1), got {scale}')
        self._momentum_scales = (float(first_momentum_scale), float(refine_momentum_scale))
        self.depth_weight = float(first_depth_weight)  # pass 1 (read by the sparse path)
        self.arch = 'self_guided'

    @property
    def config(self) -> Dict[str, Any]:
        """Return the architecture settings stored in a checkpoint."""
        return {'factors': list(self.factors), 'first_fraction': self.first_fraction,
                'refine_fraction': self.refine_fraction,
                'first_momentum_scale': self.momentum_scales[0],
                'refine_momentum_scale': self.momentum_scales[1],
                'first_depth_weight': self.depth_weight, 'refiner_width': self.refiner_width}

    @property
    def momentum_scales(self) -> Tuple[float, float]:
        """``momentum_scale`` of the solves of pass 1 and pass 2 (:func:`level_momentum`).

        Both are heavier than the solver's default: pass 1 is only half the budget, and
        the coefficients of pass 2 are sharper (measured on training scenes, x4-x16).
        """
        return self._momentum_scales

    def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                     scale: Optional[float] = None, spread: Optional[torch.Tensor] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Coefficients of pass 1 (``model: rgb``); arguments as for ``RgbGuide``."""
        spread = depth_spread(initial) if spread is None else spread
        return weighted_coefficients(rgb, initial / spread, 1.0, self.depth_weight, K_DEFAULT)

    def factor_index(self, factor: int) -> int:
        """Index of the parameters used at ``factor`` (nearest on a log scale)."""
        if factor < 1:
            raise ValueError(f'factor must be >= 1, got {factor}')
        distances = [abs(math.log(factor / f)) for f in self.factors]
        return distances.index(min(distances))

    def refine_coefficients(self, rgb: torch.Tensor, estimate: torch.Tensor, factor: int,
                            spread: Optional[torch.Tensor] = None
                            ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Coefficients of pass 2 from the first answer.

        Args:
            rgb: ``(B, 3, H, W)`` ImageNet-normalised RGB.
            estimate: ``(B, 1, H, W)`` positive answer of pass 1 (any unit).
            factor: upsampling factor of this frame (selects the parameters).
            spread: ``(B, 1, 1, 1)`` divisor of the depth channel instead of
                ``std(estimate)`` (training on crops: the whole scene's).

        Returns:
            ``cv (B, 1, H-1, W)`` and ``ch (B, 1, H, W-1)`` in (0, 1].
        """
        _check_inputs(rgb, estimate)
        index = self.factor_index(factor)
        spread = depth_spread(estimate) if spread is None else spread
        rgb_weight = self.log_rgb_weight[index].exp()
        depth_weight = self.log_depth_weight[index].exp()
        standardised = estimate / spread
        if self.refiner is None:
            return weighted_coefficients(rgb, standardised, rgb_weight, depth_weight, K_DEFAULT)
        features = torch.cat([rgb * rgb_weight, standardised * depth_weight], 1)
        return coefficients(features + self.refiner(torch.cat([rgb, standardised], 1)),
                            K_DEFAULT)

    def pass_iterations(self, iterations: int) -> Tuple[int, int]:
        """Return the steps of pass 1 and of pass 2 for a budget of ``iterations``."""
        return (max(1, int(round(iterations * self.first_fraction))),
                max(1, int(round(iterations * self.refine_fraction))))


class _Refiner(nn.Module):
    """Three 3x3 convolutions ``[RGB, D1 / std] (4 ch) -> residual features (4 ch)``.

    Full resolution (pixel-exact edges), receptive field 7x7; the last layer starts at zero,
    so a fresh refiner leaves the second pass unchanged.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        last = nn.Conv2d(width, 4, 3, padding=1)
        with torch.no_grad():
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()
        self.body = nn.Sequential(_conv(4, width), _conv(width, width), last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the residual ``(B, 4, H, W)`` of the features ``x (B, 4, H, W)``."""
        return self.body(x)


#: What :func:`load_learned_guide` returns.
AnyLearnedGuide = Union[LearnedGuide, SelfGuidedGuide, DeepGuide]


def _check_inputs(rgb: torch.Tensor, initial: torch.Tensor) -> None:
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f'rgb must be (B, 3, H, W), got {tuple(rgb.shape)}')
    if initial.dim() != 4 or initial.shape[1] != 1 or initial.shape[0] != rgb.shape[0] \
            or initial.shape[-2:] != rgb.shape[-2:]:
        raise ValueError(f'initial must be (B, 1, H, W) matching rgb {tuple(rgb.shape)}, '
                         f'got {tuple(initial.shape)}')


def tiny_guide(width: int = 8, out_channels: int = 8, k: float = K_DEFAULT,
               full_decoder: bool = False) -> LearnedGuide:
    """Return a :class:`LearnedGuide` with a :class:`TinyUNet` of this configuration.

    The weights are PyTorch's defaults: the loader overwrites them, and training starts
    from :func:`dada_ros.training.builders.build_tiny_guide` instead.
    """
    net = TinyUNet(4, out_channels, width, full_decoder)
    config: Dict[str, Any] = {'width': width, 'out_channels': out_channels}
    if full_decoder:  # older checkpoints have no such key: they load as before
        config['full_decoder'] = True
    return LearnedGuide(net, k, arch='tiny_unet', config=config)


def gain_guide(width: int = 16, k: float = K_DEFAULT,
               depth_weight: float = RGB_DEPTH_WEIGHT) -> LearnedGuide:
    """Return a :class:`LearnedGuide` with a :class:`GainNet`; it starts as ``model: rgb``.

    The features are :func:`dada_ros.core.diffusion.unlearned_features` (RGB and the
    standardised depth times ``depth_weight``) times the learned gains.
    """
    net = GainNet(4, width)
    config: Dict[str, Any] = {'width': width, 'depth_weight': float(depth_weight)}
    return LearnedGuide(net, k, arch='gain_net', config=config)


def read_checkpoint(path: PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU with clear errors.

    Raises:
        ValueError: missing file, not a torch checkpoint, or a pickle that would need
            arbitrary code (refused by the weights-only unpickler).
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f'weights file {str(file)!r} does not exist')
    try:
        return torch.load(file, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ValueError(f'{file} refused: it is not a plain weights file (weights_only '
                         f'loading failed, it may contain code): {exc}') from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, KeyError,
            AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f'{file} is not a torch checkpoint: {exc}') from exc


def guide_from_checkpoint(obj: Any, source: str = '<checkpoint>',
                          depth_norm: Optional[float] = AUTHORS_DEPTH_NORM['middlebury']
                          ) -> AnyLearnedGuide:
    """Build a learned guide from a loaded checkpoint object (strict key match).

    Args:
        obj: what :func:`read_checkpoint` returned.
        source: name used in error messages.
        depth_norm: depth constant of the authors' checkpoints (ignored for own ones).
    """
    if isinstance(obj, Mapping) and obj.get('format') == FORMAT:
        config = obj.get('config', {})
        if obj.get('arch') not in OWN_ARCHS or not isinstance(config, Mapping):
            raise ValueError(f'{source}: unknown architecture {obj.get("arch")!r}')
        if obj.get('arch') == 'deep_guide':
            deep = deep_guide_from_config(config)
            _load_strict(deep, obj.get('state_dict'), source)
            return deep
        if obj.get('arch') == 'self_guided':
            self_guided = SelfGuidedGuide(
                tuple(int(f) for f in config.get('factors', (4, 8, 16, 32))),
                first_fraction=float(config.get('first_fraction', 0.5)),
                refine_fraction=float(config.get('refine_fraction', 1.0)),
                first_momentum_scale=float(config.get('first_momentum_scale', 0.08)),
                refine_momentum_scale=float(config.get('refine_momentum_scale', 0.06)),
                first_depth_weight=float(config.get('first_depth_weight', RGB_DEPTH_WEIGHT)),
                refiner_width=int(config.get('refiner_width', 0)))
            _load_strict(self_guided, obj.get('state_dict'), source)
            return self_guided
        if obj.get('arch') == 'gain_net':
            guide = gain_guide(int(config.get('width', 16)),
                               depth_weight=float(config.get('depth_weight', RGB_DEPTH_WEIGHT)))
        else:
            guide = tiny_guide(int(config.get('width', 8)), int(config.get('out_channels', 8)),
                               full_decoder=bool(config.get('full_decoder', False)))
        _load_strict(guide, obj.get('state_dict'), source)
        return guide
    from .authors import authors_state, build_authors_guide  # the optional extra's code
    authors = authors_state(obj)
    if authors is not None:
        guide = build_authors_guide(depth_norm=depth_norm)
        renamed = {('feature_extractor.inner.' + k[len('feature_extractor.'):]
                    if k.startswith('feature_extractor.') else k): v for k, v in authors.items()}
        _load_strict(guide, renamed, source)
        return guide
    raise ValueError(f'{source} is not a dada_ros or DADA-authors checkpoint (expected '
                     f"format {FORMAT!r} or keys 'feature_extractor.1.*' and 'logk')")


def _load_strict(guide: nn.Module, state: Any, source: str) -> None:
    if not isinstance(state, Mapping):
        raise ValueError(f'{source}: the checkpoint has no state dict')
    try:
        guide.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise ValueError(f'{source}: weights do not match the architecture: {exc}') from exc


def load_learned_guide(path: PathLike = '', device: Union[str, torch.device] = 'cpu',
                       depth_norm: Optional[float] = AUTHORS_DEPTH_NORM['middlebury']
                       ) -> AnyLearnedGuide:
    """Load a learned guide (empty ``path`` = the packaged weights) in eval mode on ``device``."""
    file = Path(path) if str(path) else PACKAGED_WEIGHTS
    guide = guide_from_checkpoint(read_checkpoint(file), str(file), depth_norm)
    guide.eval()
    for parameter in guide.parameters():
        parameter.requires_grad_(False)
    return guide.to(device)
