# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Embedded RGB-D sample: a procedural, deterministic indoor scene with exact depth.

Real images cannot be shipped with the package, so the demo and the offline defaults use
this ray-cast scene: a floor with a tiled texture, a back wall with a poster and stripes, a
side wall, three boxes and a sphere, seen by a pinhole camera 1.2 m above the floor and
pitched down by 15 degrees. Depth spans about 0.9 to 4 m. The RGB has shading, colour edges
that coincide with depth edges (boxes, sphere), texture edges without a depth edge (floor
tiles, poster, stripes) and one depth edge without a colour edge (a box painted like the
wall behind it), which is what makes guided upsampling hard.

Conventions: ``rgb`` is ``(H, W, 3)`` uint8 in RGB order; ``depth`` is ``(H, W)`` float32
camera-z depth in metres (every pixel valid); ``K`` is the 3x3 float64 intrinsic matrix
with ``fx = K[0, 0]``, ``fy = K[1, 1]``, ``cx = K[0, 2]``, ``cy = K[1, 2]`` (pixel centres
at integer coordinates). No randomness outside a fixed seed: every call returns the same
arrays (fresh copies, so callers may modify them).
"""

from __future__ import annotations

import functools
from typing import List, Tuple

import numpy as np

#: Default size of the sample (VGA, like most RGB-D cameras).
DEFAULT_HEIGHT = 480
DEFAULT_WIDTH = 640
#: Focal length in pixels at the default size (Kinect-like field of view).
FOCAL_VGA = 525.0
CAMERA_HEIGHT_M = 1.2
PITCH_RAD = np.deg2rad(15.0)
_SEED = 2026

Array = np.ndarray


def intrinsics(height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH) -> Array:
    """Return the 3x3 intrinsic matrix of the sample camera at ``height`` x ``width``."""
    _check_size(height, width)
    return np.array([[FOCAL_VGA * width / DEFAULT_WIDTH, 0.0, (width - 1) / 2.0],
                     [0.0, FOCAL_VGA * height / DEFAULT_HEIGHT, (height - 1) / 2.0],
                     [0.0, 0.0, 1.0]])


def sample_scene(height: int = DEFAULT_HEIGHT,
                 width: int = DEFAULT_WIDTH) -> Tuple[Array, Array, Array]:
    """Return ``(rgb, depth_gt, K)`` of the embedded scene (see the module docstring).

    Args:
        height: Image height in pixels (>= 8).
        width: Image width in pixels (>= 8).

    Returns:
        ``rgb`` ``(H, W, 3)`` uint8 RGB, ``depth_gt`` ``(H, W)`` float32 metres,
        ``K`` ``(3, 3)`` float64.
    """
    rgb, depth = _render(int(height), int(width))
    return rgb.copy(), depth.copy(), intrinsics(height, width)


def block_average(depth: Array, factor: int) -> Array:
    """Downsample ``depth`` by averaging ``factor`` x ``factor`` blocks, ignoring NaN.

    Args:
        depth: ``(H, W)`` float array (NaN = invalid); ``H`` and ``W`` divisible by ``factor``.
        factor: Integer factor >= 1.

    Returns:
        ``(H / factor, W / factor)`` float32; NaN where a block has no valid pixel.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f'factor must be an int >= 1, got {factor!r}')
    if not isinstance(depth, np.ndarray) or depth.ndim != 2 \
            or not np.issubdtype(depth.dtype, np.floating):
        raise ValueError('depth must be a 2-D float array, got '
                         f'{getattr(depth, "dtype", type(depth))} {getattr(depth, "shape", "")}')
    h, w = depth.shape
    if h % factor or w % factor:
        raise ValueError(f'depth {h}x{w} is not divisible by factor {factor}')
    blocks = depth.astype(np.float64).reshape(h // factor, factor, w // factor, factor)
    valid = np.isfinite(blocks)
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, blocks, 0.0).sum(axis=(1, 3))
    with np.errstate(invalid='ignore', divide='ignore'):
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out.astype(np.float32)


def sample_lowres(factor: int = 8, height: int = DEFAULT_HEIGHT,
                  width: int = DEFAULT_WIDTH) -> Tuple[Array, Array, Array, Array]:
    """Return ``(rgb, depth_lowres, depth_gt, K)``: the sample with block-averaged depth.

    ``depth_lowres`` is ``(H / factor, W / factor)`` float32 metres; ``K`` belongs to the
    full-resolution ``rgb`` and ``depth_gt``.
    """
    rgb, depth, k = sample_scene(height, width)
    return rgb, block_average(depth, factor), depth, k


# --- rendering ------------------------------------------------------------------------------
def _check_size(height: int, width: int) -> None:
    if isinstance(height, bool) or isinstance(width, bool) or int(height) != height \
            or int(width) != width or height < 8 or width < 8:
        raise ValueError(f'height and width must be integers >= 8, got {height}x{width}')


def _rotation() -> Array:
    """Camera-to-world rotation: world y points down, camera pitched down by PITCH_RAD."""
    c, s = np.cos(PITCH_RAD), np.sin(PITCH_RAD)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


#: Axis-aligned boxes (world metres, y down, floor at y = CAMERA_HEIGHT_M):
#: (min corner, max corner, base colour, style).
_BOXES: List[Tuple[Tuple[float, float, float], Tuple[float, float, float],
                   Tuple[float, float, float], str]] = [
    ((-1.15, 0.45, 2.0), (-0.45, 1.2, 2.6), (0.85, 0.35, 0.15), 'label'),
    ((0.35, 0.85, 1.45), (1.05, 1.2, 1.95), (0.15, 0.35, 0.8), 'plain'),
    ((0.95, -0.3, 3.05), (1.6, 1.2, 3.35), (0.0, 0.0, 0.0), 'wall'),  # painted like the wall
]
_SPHERE = ((0.05, 0.85, 1.05), 0.35)
_BACK_WALL_Z = 3.75
_SIDE_WALL_X = -1.9


def _wall_texture(x: Array, y: Array) -> Array:
    """Back-wall paint: beige, a horizontal stripe band and a colourful poster."""
    col = np.empty(x.shape + (3,))
    col[...] = (0.86, 0.82, 0.70)
    band = (y > 0.15) & (y < 0.3)
    stripes = band & (np.floor(x / 0.12) % 2 == 0)
    col[stripes] = (0.55, 0.62, 0.78)
    poster = (x > -1.0) & (x < -0.2) & (y > -0.55) & (y < -0.1)
    u = (x - (-1.0)) / 0.8
    v = (y - (-0.55)) / 0.45
    col[poster, 0] = 0.2 + 0.7 * u[poster]
    col[poster, 1] = 0.8 - 0.6 * v[poster]
    col[poster, 2] = 0.3 + 0.5 * (np.sin(12.0 * u[poster]) > 0)
    return col


def _trace(dirs: Array) -> Tuple[Array, Array]:
    """Ray-cast world directions ``(N, 3)`` (camera-z component 1); return depth and colour."""
    n = dirs.shape[0]
    depth = np.full(n, np.inf)
    normal = np.zeros((n, 3))
    kind = np.full(n, -1)  # 0 floor, 1 back wall, 2 side wall, 10+i box i, 20 sphere
    dx, dy, dz = dirs[:, 0], dirs[:, 1], dirs[:, 2]

    def take(t: Array, k: int, nrm: Array) -> None:
        better = (t > 1e-6) & (t < depth)
        depth[better] = t[better]
        kind[better] = k
        normal[better] = nrm[better] if nrm.ndim == 2 else nrm

    with np.errstate(divide='ignore', invalid='ignore'):
        take(np.where(dy > 0, CAMERA_HEIGHT_M / dy, np.inf), 0, np.array([0.0, -1.0, 0.0]))
        take(np.where(dz > 0, _BACK_WALL_Z / dz, np.inf), 1, np.array([0.0, 0.0, -1.0]))
        take(np.where(dx < 0, _SIDE_WALL_X / dx, np.inf), 2, np.array([1.0, 0.0, 0.0]))
        for i, (lo, hi, _, _) in enumerate(_BOXES):
            t_lo = (np.array(lo)[None] / dirs)
            t_hi = (np.array(hi)[None] / dirs)
            t_near = np.minimum(t_lo, t_hi)
            t_far = np.maximum(t_lo, t_hi)
            enter = t_near.max(axis=1)
            leave = t_far.min(axis=1)
            hit = (enter <= leave) & (enter > 0)
            axis = t_near.argmax(axis=1)
            nrm = np.zeros((n, 3))
            nrm[np.arange(n), axis] = -np.sign(dirs[np.arange(n), axis])
            take(np.where(hit, enter, np.inf), 10 + i, nrm)
        centre, radius = np.array(_SPHERE[0]), _SPHERE[1]
        a = (dirs * dirs).sum(axis=1)
        b = -2.0 * dirs @ centre
        c = centre @ centre - radius ** 2
        disc = b * b - 4 * a * c
        t_sphere = np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a), np.inf)
        points = dirs * np.where(np.isfinite(t_sphere), t_sphere, 0.0)[:, None]
        take(t_sphere, 20, (points - centre) / radius)

    p = dirs * depth[:, None]
    colour = np.zeros((n, 3))
    floor = kind == 0
    tile = (np.floor(p[:, 0] / 0.4) + np.floor(p[:, 2] / 0.4)) % 2 == 0
    grain = 0.04 * np.sin(40.0 * p[:, 0] + 3.0 * np.sin(5.0 * p[:, 2]))
    colour[floor] = np.where(tile[floor, None], (0.62, 0.45, 0.28), (0.45, 0.31, 0.18))
    colour[floor] += grain[floor, None]
    wall = kind == 1
    colour[wall] = _wall_texture(p[wall, 0], p[wall, 1])
    colour[kind == 2] = (0.62, 0.74, 0.62)
    for i, (lo, hi, base, style) in enumerate(_BOXES):
        sel = kind == 10 + i
        if style == 'wall':
            colour[sel] = _wall_texture(p[sel, 0], p[sel, 1])
            continue
        colour[sel] = base
        if style == 'label':
            front = sel & (normal[:, 2] < -0.5)
            label = front & (np.abs(p[:, 1] - 0.8) < 0.08) & (np.abs(p[:, 0] + 0.8) < 0.25)
            colour[label] = (0.95, 0.95, 0.9)
    sphere = kind == 20
    colour[sphere] = (0.75, 0.2, 0.6)
    colour[sphere, 1] += 0.3 * (p[sphere, 1] - 0.5) / 0.7

    light = np.array([-0.4, -0.8, -0.45])
    light /= np.linalg.norm(light)
    lambert = np.clip(normal @ light, 0.0, 1.0)
    shade = 0.45 + 0.55 * lambert
    painted = (kind == 1) | ((kind == 12) & (normal[:, 2] < -0.5))  # wall and its camouflage
    shade[painted] = 0.45 + 0.55 * lambert[painted]  # same normal: the same shading
    shade[painted] *= 1.0 - 0.08 * np.clip((p[painted, 1] + 1.5) / 3.0, 0, 1)
    return depth, np.clip(colour * shade[:, None], 0.0, 1.0)


def _directions(height: int, width: int, k: Array, offsets: Array) -> Array:
    """World ray directions for pixel grid + sub-pixel offsets, shape ``(S, H*W, 3)``."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    rot = _rotation()
    out = []
    for du, dv in offsets:
        cam = np.stack([((u + du) - k[0, 2]) / k[0, 0], ((v + dv) - k[1, 2]) / k[1, 1],
                        np.ones_like(u)], axis=-1).reshape(-1, 3)
        out.append(cam @ rot.T)
    return np.stack(out)


@functools.lru_cache(maxsize=4)
def _render(height: int, width: int) -> Tuple[Array, Array]:
    _check_size(height, width)
    k = intrinsics(height, width)
    centre = _directions(height, width, k, np.array([[0.0, 0.0]]))[0]
    depth, _ = _trace(centre)
    # The camera-z depth equals t because the camera-frame direction has z = 1.
    sub = np.array([[-0.25, -0.25], [0.25, -0.25], [-0.25, 0.25], [0.25, 0.25]])
    colour = np.mean([_trace(d)[1] for d in _directions(height, width, k, sub)], axis=0)
    rng = np.random.default_rng(_SEED)
    noisy = colour.reshape(height, width, 3) * 255.0 + rng.normal(0.0, 2.0, (height, width, 3))
    rgb = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    depth_img = depth.reshape(height, width).astype(np.float32)
    rgb.setflags(write=False)
    depth_img.setflags(write=False)
    return rgb, depth_img
