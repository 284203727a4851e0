# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Procedurally generated training scenes: texture edges that are not depth edges.

The learned guide has to tell colour edges that are depth edges from colour edges that
are only texture. Real training scenes hold few examples of the second kind whose answer
is known, so :func:`procedural_scene` composes scenes where it is known by construction:

* a slanted background plane and 3-9 slanted planar layers in front of it (ellipses,
  polygons, rectangles; painter's order by depth), each with its own texture. Every layer
  boundary is a depth edge, and most are colour edges too;
* the textures are crops of real training photographs (:func:`procedural_scenes` takes
  them from the caller's training scenes, never a test scene). Their own object outlines,
  shadows and prints become colour edges on a flat surface;
* painted decals (stripes, discs, polygons) on the layers: strong colour edges with no
  depth step;
* some layers reuse the texture of the layer behind them: depth edges with little colour
  contrast, as in real scenes.

The colour image is drawn at twice the size and area-averaged (soft, pixel-exact
edges like a camera's), the disparity is the nearest layer's plane at each pixel, in the
FullSize-pixel units of the Middlebury scenes (20-220).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import cv2
import numpy as np

from .datasets import Scene

#: Disparity range (FullSize px) of the generated scenes, that of the Middlebury scenes.
DISPARITY_RANGE: Tuple[float, float] = (20.0, 220.0)


def _texture(sources: Sequence[np.ndarray], rng: np.random.Generator,
             height: int, width: int) -> np.ndarray:
    """Return a random crop of a source photo, resized and recoloured, ``(height, width, 3)``."""
    source = sources[int(rng.integers(len(sources)))]
    scale = rng.uniform(0.5, 1.5)
    crop_h = min(source.shape[0], max(8, int(height * scale / 2)))
    crop_w = min(source.shape[1], max(8, int(width * scale / 2)))
    top = int(rng.integers(source.shape[0] - crop_h + 1))
    left = int(rng.integers(source.shape[1] - crop_w + 1))
    patch = source[top:top + crop_h, left:left + crop_w]
    patch = cv2.resize(patch, (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        patch = patch[:, :, rng.permutation(3)]
    gain = rng.uniform(0.6, 1.4, size=3)
    offset = rng.uniform(-30.0, 30.0, size=3)
    return np.clip(patch.astype(np.float32) * gain + offset, 0, 255)


def _shape_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Return a filled ellipse, polygon or rotated rectangle, ``(height, width)`` uint8."""
    mask = np.zeros((height, width), np.uint8)
    cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
    size = rng.uniform(0.08, 0.4) * min(height, width)
    kind = rng.integers(3)
    if kind == 0:
        axes = (int(size), int(size * rng.uniform(0.3, 1.0)))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == 1:
        count = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        radii = size * rng.uniform(0.5, 1.2, count)
        points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
        cv2.fillPoly(mask, [points.astype(np.int32)], 1)
    else:
        box = ((float(cx), float(cy)), (float(size * 2), float(size * rng.uniform(0.3, 2))),
               float(rng.uniform(0, 180)))
        cv2.fillPoly(mask, [cv2.boxPoints(box).astype(np.int32)], 1)
    return mask


def _paint_decals(texture: np.ndarray, rng: np.random.Generator) -> None:
    """Paint 0-6 flat-coloured stripes, discs and polygons into ``texture`` (in place).

    ``texture`` is this module's own working image, never a caller's array.
    """
    height, width = texture.shape[:2]
    for _ in range(int(rng.integers(0, 7))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        mask = _shape_mask(rng, height, width)
        if rng.random() < 0.3:  # a stripe pattern instead of one shape
            period = int(rng.integers(6, 40))
            angle = rng.uniform(0, np.pi)
            yy, xx = np.mgrid[:height, :width]
            phase = (xx * np.cos(angle) + yy * np.sin(angle)) % period
            mask = mask & (phase < period / 2).astype(np.uint8)
        texture[mask.astype(bool)] = colour


def _plane(rng: np.random.Generator, height: int, width: int, low: float,
           high: float) -> np.ndarray:
    """Return a slanted disparity plane ``(height, width)`` float32 within ``[low, high]``."""
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    centre = rng.uniform(low, high)
    slope = 0.25 * (high - low) / max(height, width)
    plane = centre + rng.uniform(-slope, slope) * (xx - width / 2) \
        + rng.uniform(-slope, slope) * (yy - height / 2)
    return np.clip(plane, low, high).astype(np.float32)


def procedural_scene(sources: Sequence[np.ndarray], rng: np.random.Generator,
                     height: int = 320, width: int = 400, name: str = 'procedural') -> Scene:
    """Compose one scene (see the module docstring).

    Args:
        sources: ``(h, w, 3)`` uint8 photographs the textures are cut from (training
            images only).
        rng: the random generator (the scene is a function of its state).
        height: rows of the scene.
        width: columns of the scene.
        name: the scene's name.

    Returns:
        A :class:`Scene` with ``rgb (height, width, 3)`` uint8 and ``disparity
        (height, width)`` float32 (no unknown pixels).
    """
    if not sources:
        raise ValueError('procedural_scene needs at least one source photograph')
    for source in sources:
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise ValueError(f'sources must be (h, w, 3) uint8, got {source.dtype} '
                             f'{source.shape}')
    big_h, big_w = 2 * height, 2 * width
    low, high = DISPARITY_RANGE
    background_top = rng.uniform(low, low + 0.3 * (high - low))
    colour = _texture(sources, rng, big_h, big_w)
    _paint_decals(colour, rng)
    disparity = _plane(rng, big_h, big_w, low, background_top)
    layers = int(rng.integers(3, 10))
    # Painter's order: each layer is nearer (larger disparity) than the ones drawn before.
    nearness = np.sort(rng.uniform(background_top, high, layers))
    previous = colour
    for front in nearness:
        mask = _shape_mask(rng, big_h, big_w).astype(bool)
        if rng.random() < 0.15:  # a depth edge with (almost) no colour edge
            texture = previous.copy()
        else:
            texture = _texture(sources, rng, big_h, big_w)
            _paint_decals(texture, rng)
        plane = _plane(rng, big_h, big_w, max(low, front - 10.0), min(high, front + 10.0))
        colour[mask] = texture[mask]
        disparity[mask] = plane[mask]
        previous = texture
    rgb = cv2.resize(colour, (width, height), interpolation=cv2.INTER_AREA)
    noise = np.asarray(rng.normal(0.0, rng.uniform(0.5, 3.0), rgb.shape), np.float32)
    return Scene(name, np.clip(rgb + noise, 0, 255).astype(np.uint8),
                 np.ascontiguousarray(disparity[::2, ::2], dtype=np.float32))


def procedural_scenes(training: Sequence[Scene], count: int, seed: int = 0) -> List[Scene]:
    """Return ``count`` scenes textured from the photos of ``training`` (``--procedural``).

    Deterministic in ``(seed, index)``; sizes vary between 256x320 and 384x480.
    """
    if count <= 0:
        return []
    sources = [scene.rgb for scene in training]
    scenes = []
    for index in range(count):
        rng = np.random.default_rng([seed, index, 7])
        height = int(rng.integers(8, 13)) * 32
        width = int(rng.integers(10, 16)) * 32
        scenes.append(procedural_scene(sources, rng, height, width,
                                       f'procedural/seed{seed}-{index:04d}'))
    return scenes
