# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The pyramid solver's default budget against its own converged answer, on large real frames.

Run from the repository root (with ../shared/data beside it)::

    .venv/bin/python benchmarks/solver_converged.py --sizes 1280x720,1920x1080 --factors 4,8,16

Frames: Art, Books and Moebius of the DTS Middlebury set (1376x1088, hole-filled GT
disparity) and Aloe (OpenCV, 1282x1110, holes filled by inpainting). Each frame is
centre-cropped to the output size, or first resized up with cubic RGB and linear GT
where it is smaller (1920x1080); the low-res input is the block average of the GT. A size
and factor that do not divide are skipped. For each it prints the RMSE against the GT of
``DepthUpsampler(model='rgb')`` at its default budget and at ``--converged-iterations``,
and the relative difference (issue 21: within 1 %).
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Tuple

import cv2
from dada_ros.core import DepthUpsampler
from dada_ros.training.datasets import shared_data_dir
import numpy as np

DATA = shared_data_dir()
FRAMES = ('art_big', 'books_big', 'moebius_big', 'aloe')


def read_frame(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Return BGR uint8 and GT disparity float32 (holes filled) of one frame."""
    if name == 'aloe':
        bgr = cv2.imread(str(DATA / 'opencv_aloe_debian' / 'aloeL.jpg'), cv2.IMREAD_COLOR)
        raw = cv2.imread(str(DATA / 'opencv_aloe_debian' / 'aloeGT.png'),
                         cv2.IMREAD_UNCHANGED)
    else:
        root = DATA / 'dts_middlebury_superres' / 'depth_superres'
        bgr = cv2.imread(str(root / '_input' / name / f'{name}_color.png'), cv2.IMREAD_COLOR)
        raw = cv2.imread(str(root / '_gth' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
    if bgr is None or raw is None:
        raise FileNotFoundError(f'frame {name} not found under {DATA}')
    gt = (raw[..., 0] if raw.ndim == 3 else raw).astype(np.float32)
    holes = (gt <= 0).astype(np.uint8)
    if holes.any():
        gt = np.asarray(cv2.inpaint(gt, holes, 3, cv2.INPAINT_NS), dtype=np.float32)
    return bgr, gt


def frame_at(name: str, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """RGB and GT of ``name`` at ``size`` = (width, height): resized up if needed, cropped."""
    bgr, gt = read_frame(name)
    width, height = size
    scale = max(width / bgr.shape[1], height / bgr.shape[0])
    if scale > 1.0:
        new_size = (int(np.ceil(bgr.shape[1] * scale)), int(np.ceil(bgr.shape[0] * scale)))
        bgr = cv2.resize(bgr, new_size, interpolation=cv2.INTER_CUBIC)
        gt = cv2.resize(gt, new_size, interpolation=cv2.INTER_LINEAR)
    top, left = (bgr.shape[0] - height) // 2, (bgr.shape[1] - width) // 2
    rgb = np.ascontiguousarray(bgr[top:top + height, left:left + width, ::-1])
    return rgb, np.ascontiguousarray(gt[top:top + height, left:left + width])


def rmse(estimate: np.ndarray, gt: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate.astype(np.float64) - gt) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='1280x720,1920x1080')
    parser.add_argument('--factors', default='4,8,16')
    parser.add_argument('--frames', default=','.join(FRAMES))
    parser.add_argument('--converged-iterations', type=int, default=3000)
    args = parser.parse_args()
    fast = DepthUpsampler(model='rgb', device='cpu')
    converged = DepthUpsampler(model='rgb', device='cpu', iterations=args.converged_iterations)
    print(f'| output | factor | frame | default ({fast.iterations} it) RMSE | converged '
          f'({args.converged_iterations} it) RMSE | vs converged |')
    print('|---|---|---|---:|---:|---:|')
    worst: List[float] = []
    for size_text in args.sizes.split(','):
        width, height = (int(v) for v in size_text.split('x'))
        for factor in (int(v) for v in args.factors.split(',')):
            if width % factor or height % factor:
                print(f'  {size_text} x{factor}: skipped (not divisible)', file=sys.stderr)
                continue
            for name in args.frames.split(','):
                rgb, gt = frame_at(name, (width, height))
                low = gt.reshape(height // factor, factor, width // factor, factor) \
                    .mean(axis=(1, 3)).astype(np.float32)
                error = rmse(fast(rgb, low), gt)
                reference = rmse(converged(rgb, low), gt)
                worst.append(error / reference - 1.0)
                print(f'| {size_text} | x{factor} | {name} | {error:.3f} | {reference:.3f} | '
                      f'{error / reference - 1.0:+.2%} |', flush=True)
    if worst:
        print(f'\nlargest difference: {max(worst):+.2%}')


if __name__ == '__main__':
    main()
