# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Visual output and accuracy numbers for depth images (ROS-free).

* :func:`colorize_depth` / :func:`colorize_error` - colour-mapped ``(H, W, 3)`` uint8 RGB
  images (turbo / inferno; invalid pixels black) with a fixed value range, so frames of
  one run are comparable. :func:`depth_range` picks a robust range.
* :func:`write_png` - write an RGB image as PNG.
* :func:`write_ply` / :func:`read_ply` - binary little-endian PLY point clouds with
  per-point colour (finite points only).
* :func:`depth_metrics` - RMSE / MAE against ground truth where both are valid;
  :func:`bicubic_depth` - the plain bicubic upsampling they are compared with (the
  solver's initial guess, :func:`dada_ros.core.inputs.prepare_lowres`).
* :func:`label_panel` - a caption bar above a panel of a side-by-side picture.

Depth arrays are ``(H, W)`` float in any unit with NaN, Inf or values ``<= 0`` invalid;
inputs are never modified.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..core.inputs import prepare_lowres

__all__ = ['DepthMetrics', 'depth_metrics', 'bicubic_depth', 'depth_range', 'valid_mask',
           'colorize_depth', 'colorize_error', 'upscale_nearest', 'label_panel', 'write_png',
           'write_ply', 'read_ply']

PathLike = Union[str, Path]


class DepthMetrics(NamedTuple):
    """Accuracy of one depth estimate against ground truth (in the unit of the inputs)."""

    rmse: float
    mae: float
    pixels: int
    """Number of pixels where both the estimate and the ground truth are valid."""
    coverage: float
    """Share of valid ground-truth pixels that the estimate covers (0..1)."""


def valid_mask(depth: np.ndarray) -> np.ndarray:
    """Boolean mask of finite, positive pixels."""
    values = np.asarray(depth)
    with np.errstate(invalid='ignore'):
        return np.isfinite(values) & (values > 0)


def _check_depth(depth: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(depth)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f'{name} must be an (H, W) numeric array, got {array.dtype} '
                         f'{array.shape}')
    return array


def depth_metrics(estimate: np.ndarray, truth: np.ndarray) -> DepthMetrics:
    """RMSE and MAE of ``estimate`` against ``truth`` over pixels valid in both.

    Both arrays are ``(H, W)`` in the same unit; the sums run in float64. With no common
    valid pixel the errors are NaN.
    """
    estimate = _check_depth(estimate, 'estimate')
    truth = _check_depth(truth, 'truth')
    if estimate.shape != truth.shape:
        raise ValueError(f'estimate {estimate.shape} and truth {truth.shape} differ in shape')
    gt = valid_mask(truth)
    both = gt & valid_mask(estimate)
    count = int(both.sum())
    coverage = count / max(int(gt.sum()), 1)
    if count == 0:
        return DepthMetrics(float('nan'), float('nan'), 0, 0.0)
    error = estimate[both].astype(np.float64) - truth[both].astype(np.float64)
    return DepthMetrics(float(np.sqrt(np.mean(error * error))),
                        float(np.mean(np.abs(error))), count, float(coverage))


def bicubic_depth(depth: np.ndarray, factor: float) -> Optional[np.ndarray]:
    """Plain bicubic upsampling of ``(h, w)`` depth by ``factor`` (holes filled first).

    The solver's own initial guess in the depth's unit, float32 ``(factor*h, factor*w)``:
    the baseline that previews and evaluations print beside DADA. ``None`` when no pixel
    of ``depth`` is valid.
    """
    try:
        prepared = prepare_lowres(depth, factor)
    except ValueError:  # no valid pixel
        return None
    return (prepared.initial * np.float32(prepared.scale)).astype(np.float32)


def depth_range(depth: np.ndarray, low: float = 1.0, high: float = 99.0) -> Tuple[float, float]:
    """Percentile range ``(lo, hi)`` of the valid pixels (``(0, 1)`` when none is valid)."""
    values = np.asarray(depth)[valid_mask(depth)]
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(values, [low, high]))
    if hi <= lo:
        hi = lo + max(abs(lo) * 1e-3, 1e-6)
    return lo, hi


def _colormap(values: np.ndarray, lo: float, hi: float, valid: np.ndarray,
              colormap: int) -> np.ndarray:
    if not hi > lo:
        raise ValueError(f'colour range needs hi > lo, got {lo}..{hi}')
    scaled = np.zeros(values.shape, dtype=np.float64)
    scaled[valid] = (values[valid].astype(np.float64) - lo) / (hi - lo)
    index = np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(index, colormap)
    bgr[~valid] = 0
    return np.ascontiguousarray(bgr[:, :, ::-1])


def colorize_depth(depth: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Turbo colour map of ``depth`` over ``[lo, hi]`` as ``(H, W, 3)`` uint8 RGB.

    Near is blue, far is red; invalid pixels are black.
    """
    depth = _check_depth(depth, 'depth')
    return _colormap(depth, lo, hi, valid_mask(depth), cv2.COLORMAP_TURBO)


def colorize_error(estimate: np.ndarray, truth: np.ndarray, max_error: float) -> np.ndarray:
    """Inferno map of ``|estimate - truth|`` over ``[0, max_error]``.

    Black where either is invalid.
    """
    estimate = _check_depth(estimate, 'estimate')
    truth = _check_depth(truth, 'truth')
    if estimate.shape != truth.shape:
        raise ValueError(f'estimate {estimate.shape} and truth {truth.shape} differ in shape')
    valid = valid_mask(estimate) & valid_mask(truth)
    error = np.zeros(estimate.shape, dtype=np.float64)
    error[valid] = np.abs(estimate[valid].astype(np.float64) - truth[valid])
    return _colormap(error, 0.0, float(max_error), valid, cv2.COLORMAP_INFERNO)


def upscale_nearest(depth: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of ``depth`` to ``shape`` = ``(H, W)`` (for side by side)."""
    depth = _check_depth(depth, 'depth')
    if depth.shape == tuple(shape):
        return depth.copy()
    return cv2.resize(depth.astype(np.float32), (int(shape[1]), int(shape[0])),
                      interpolation=cv2.INTER_NEAREST)


def label_panel(panel: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Put a dark bar with ``lines`` of white text above an ``(H, W, 3)`` uint8 panel.

    The text size follows the panel width, so captions of wide and narrow panels read alike.
    """
    width = panel.shape[1]
    scale = max(0.4, min(0.7, width / 900.0))
    bar = np.full((int(26 * scale / 0.5) * len(lines) + 6, width, 3), 32, np.uint8)
    for i, text in enumerate(lines):
        y = int(22 * scale / 0.5) * (i + 1)
        cv2.putText(bar, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return np.vstack([bar, panel])


def write_png(path: PathLike, rgb: np.ndarray) -> Path:
    """Write an ``(H, W, 3)`` uint8 RGB image as PNG; return the path."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got {rgb.dtype} {rgb.shape}')
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), np.ascontiguousarray(rgb[:, :, ::-1])):
        raise OSError(f'cannot write {target}')
    return target


_PLY_NAMES = ['x', 'y', 'z', 'red', 'green', 'blue']
_PLY_VERTEX = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'),
                        ('red', 'u1'), ('green', 'u1'), ('blue', 'u1')])


def write_ply(path: PathLike, points: np.ndarray, rgb: Optional[np.ndarray] = None,
              comment: str = 'dada_ros') -> int:
    """Write the finite points of ``points`` as a binary little-endian PLY.

    Args:
        path: Output file.
        points: ``(..., 3)`` float array of x, y, z (e.g. an organized ``(H, W, 3)`` cloud);
            points with any non-finite coordinate are skipped.
        rgb: Optional ``(..., 3)`` uint8 colours of the same leading shape (default grey).
        comment: One-line comment written in the header.

    Returns:
        The number of points written.
    """
    xyz = np.asarray(points, dtype=np.float32)
    if xyz.ndim < 2 or xyz.shape[-1] != 3:
        raise ValueError(f'points must have shape (..., 3), got {xyz.shape}')
    xyz = xyz.reshape(-1, 3)
    if rgb is None:
        colours = np.full(xyz.shape, 200, dtype=np.uint8)
    else:
        colours = np.asarray(rgb)
        if colours.dtype != np.uint8 or colours.size != xyz.size:
            raise ValueError(f'rgb must be uint8 with one colour per point, got {colours.dtype} '
                             f'{colours.shape} for {xyz.shape[0]} points')
        colours = colours.reshape(-1, 3)
    keep = np.isfinite(xyz).all(axis=1)
    vertex = np.empty(int(keep.sum()), dtype=_PLY_VERTEX)
    for i, name in enumerate(('x', 'y', 'z')):
        vertex[name] = xyz[keep, i]
    for i, name in enumerate(('red', 'green', 'blue')):
        vertex[name] = colours[keep, i]
    header = ('ply\nformat binary_little_endian 1.0\n'
              f'comment {" ".join(comment.split())}\n'
              f'element vertex {len(vertex)}\n'
              'property float x\nproperty float y\nproperty float z\n'
              'property uchar red\nproperty uchar green\nproperty uchar blue\n'
              'end_header\n')
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, 'wb') as stream:
        stream.write(header.encode('ascii'))
        stream.write(vertex.tobytes())
    return len(vertex)


def read_ply(path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
    """Read a PLY written by :func:`write_ply`; return ``(xyz (N, 3) float32, rgb (N, 3) uint8)``.

    Raises:
        ValueError: the file is not such a PLY or its size does not match its header.
    """
    data = Path(path).read_bytes()
    end = data.find(b'end_header\n')
    if not data.startswith(b'ply\n') or end < 0:
        raise ValueError(f'{path} is not a PLY file')
    header = data[:end].decode('ascii').splitlines()
    if 'format binary_little_endian 1.0' not in header:
        raise ValueError(f'{path}: only binary little-endian PLY is supported')
    counts = [int(line.split()[2]) for line in header if line.startswith('element vertex')]
    properties = [line.split()[-1] for line in header if line.startswith('property')]
    if len(counts) != 1 or properties != _PLY_NAMES:
        raise ValueError(f'{path}: unexpected PLY layout {properties}')
    body = data[end + len(b'end_header\n'):]
    if len(body) != counts[0] * _PLY_VERTEX.itemsize:
        raise ValueError(f'{path}: {len(body)} bytes of vertex data, expected '
                         f'{counts[0]} x {_PLY_VERTEX.itemsize}')
    vertex = np.frombuffer(body, dtype=_PLY_VERTEX)
    xyz = np.stack([vertex['x'], vertex['y'], vertex['z']], axis=1).astype(np.float32)
    rgb = np.stack([vertex['red'], vertex['green'], vertex['blue']], axis=1).astype(np.uint8)
    return xyz, rgb
