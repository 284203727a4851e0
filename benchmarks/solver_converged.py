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
and the relative difference (issue 21: within 1 %). ``--mosaics N`` scores N mosaics of the
Middlebury *training* scenes per size instead (:func:`mosaic`; the data the momentum was
chosen on, so they never touch a test scene)::

    .venv/bin/python benchmarks/solver_converged.py --mosaics 3 --sizes 640x480,1280x720
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


def cover_crop(bgr: np.ndarray, gt: np.ndarray, width: int,
               height: int) -> Tuple[np.ndarray, np.ndarray]:
    """RGB and GT ``width x height``: resized up (cubic RGB, linear GT) to cover, centre crop."""
    scale = max(width / bgr.shape[1], height / bgr.shape[0])
    if scale > 1.0:
        new_size = (int(np.ceil(bgr.shape[1] * scale)), int(np.ceil(bgr.shape[0] * scale)))
        bgr = cv2.resize(bgr, new_size, interpolation=cv2.INTER_CUBIC)
        gt = cv2.resize(gt, new_size, interpolation=cv2.INTER_LINEAR)
    top, left = (bgr.shape[0] - height) // 2, (bgr.shape[1] - width) // 2
    rgb = np.ascontiguousarray(bgr[top:top + height, left:left + width, ::-1])
    return rgb, np.ascontiguousarray(gt[top:top + height, left:left + width])


def frame_at(name: str, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """RGB and GT of ``name`` at ``size`` = (width, height): resized up if needed, cropped."""
    bgr, gt = read_frame(name)
    return cover_crop(bgr, gt, *size)


#: Middlebury 2005/2006 scenes that are test scenes elsewhere: never in a mosaic.
TEST_SCENES = ('Aloe', 'Art', 'Books', 'Moebius', 'Rocks2')
#: Mosaic tiles per frame (columns, rows) by output width: edges as dense as a real frame.
MOSAIC_TILES = {640: (2, 2), 1280: (3, 2), 1920: (5, 3)}


def mosaic(index: int, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Mosaic ``index`` of third-size Middlebury training scenes, about ``size`` (W, H).

    The selection data of the momentum (``a`` of ``dada_ros.core.solver.level_momentum``):
    tiles of the training scenes (the test scenes never), each centre-cropped (or resized
    up to cover its tile), views 1 and 5 alternating, ``size`` exactly. GT disparity holes
    are inpainted and 20 is added (positive depth everywhere).
    """
    root = DATA / 'middlebury_2005_2006_thirdsize'
    scenes = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in TEST_SCENES)
    cols, rows = MOSAIC_TILES[size[0]]
    width, height = size
    xs = [round(i * width / cols) for i in range(cols + 1)]  # tile edges
    ys = [round(i * height / rows) for i in range(rows + 1)]
    rgb = np.zeros((height, width, 3), np.uint8)
    gt = np.zeros((height, width), np.float32)
    view = 1 + 4 * (index % 2)
    for tile in range(cols * rows):
        name = scenes[(index * 6 + tile * 5) % len(scenes)]
        bgr = cv2.imread(str(root / name / f'view{view}.png'), cv2.IMREAD_COLOR)
        disp = cv2.imread(str(root / name / f'disp{view}.png'), cv2.IMREAD_UNCHANGED)
        if bgr is None or disp is None:
            raise FileNotFoundError(f'scene {name} not found under {root}')
        disp = disp.astype(np.float32)
        disp = cv2.inpaint(disp, (disp <= 0).astype(np.uint8), 3, cv2.INPAINT_NS)
        row, col = divmod(tile, cols)
        rgb[ys[row]:ys[row + 1], xs[col]:xs[col + 1]], tile_gt = cover_crop(
            bgr, disp, xs[col + 1] - xs[col], ys[row + 1] - ys[row])
        gt[ys[row]:ys[row + 1], xs[col]:xs[col + 1]] = tile_gt + 20.0
    return rgb, gt


def rmse(estimate: np.ndarray, gt: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate.astype(np.float64) - gt) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='1280x720,1920x1080')
    parser.add_argument('--factors', default='4,8,16')
    parser.add_argument('--frames', default=','.join(FRAMES))
    parser.add_argument('--converged-iterations', type=int, default=3000)
    parser.add_argument('--mosaics', type=int, default=0,
                        help='instead of --frames: this many mosaics of the Middlebury '
                        'training scenes per size (the selection data of the momentum)')
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
            names = [f'mosaic{i}' for i in range(args.mosaics)] if args.mosaics \
                else args.frames.split(',')
            for name in names:
                rgb, gt = mosaic(int(name[6:]), (width, height)) if args.mosaics \
                    else frame_at(name, (width, height))
                rows, cols = gt.shape
                low = gt.reshape(rows // factor, factor, cols // factor, factor) \
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
