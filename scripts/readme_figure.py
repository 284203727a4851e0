# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Draw the README's before/after picture: RGB | low-res input | bicubic | DADA | measured.

Usage: ``python scripts/readme_figure.py`` reads the real NYUv2 frame ``rgb_00000`` from
``../shared/data/metric3d_kitti_nyu_demo`` (or ``DADA_DATA_DIR``), block-averages its
depth by ``--factor`` (the paper's protocol), upsamples it with ``DepthUpsampler`` at the
default parameters on the CPU and writes ``docs/before_after.png``, each panel labelled with
its RMSE against the measured depth. ``--frame sample`` uses the embedded procedural scene
instead (no data needed). The colour maps are those of :mod:`dada_ros.tools.preview`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dada_ros.core import DepthUpsampler  # noqa: E402,I100
from dada_ros.core.inputs import prepare_lowres  # noqa: E402
from dada_ros.tools.preview import (colorize_depth, depth_metrics, depth_range,  # noqa: E402
                                    upscale_nearest, write_png)
from dada_ros.tools.sample import block_average, sample_scene  # noqa: E402
from dada_ros.training.datasets import shared_data_dir  # noqa: E402

NYU_FRAME = 'metric3d_kitti_nyu_demo/nyu_demo'
#: Width of one panel in the picture (pixels); the solve runs at the full resolution.
PANEL_WIDTH = 256


def load_nyu(name: str = '00000') -> Tuple[np.ndarray, np.ndarray, str]:
    """Return ``(rgb, depth, label)``: uint8 ``(480, 640, 3)`` RGB, float32 metres, NaN = hole."""
    folder = shared_data_dir() / NYU_FRAME
    bgr = cv2.imread(str(folder / 'rgb' / f'rgb_{name}.jpg'), cv2.IMREAD_COLOR)
    raw = cv2.imread(str(folder / 'depth' / f'sync_depth_{name}.png'), cv2.IMREAD_UNCHANGED)
    if bgr is None or raw is None:
        raise FileNotFoundError(f'NYUv2 frame {name} not found in {folder}')
    depth = np.where(raw > 0, raw.astype(np.float32) / 1000.0, np.nan).astype(np.float32)
    return np.ascontiguousarray(bgr[:, :, ::-1]), depth, f'NYUv2 {name} (real)'


def label(panel: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Put a dark bar with ``lines`` of white text above an ``(H, W, 3)`` uint8 RGB panel."""
    bar = np.full((20 * len(lines) + 8, panel.shape[1], 3), 32, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(bar, text, (6, 20 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([bar, panel])


def shrink(rgb: np.ndarray) -> np.ndarray:
    """Resize a panel to :data:`PANEL_WIDTH` (area filter, aspect kept)."""
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (PANEL_WIDTH, round(h * PANEL_WIDTH / w)),
                      interpolation=cv2.INTER_AREA)


def figure(rgb: np.ndarray, truth: np.ndarray, name: str, factor: int) -> np.ndarray:
    """Return the labelled picture RGB | input | bicubic | DADA | truth, ``(H, W, 3)`` uint8.

    ``rgb`` is ``(H, W, 3)`` uint8, ``truth`` ``(H, W)`` float32 metres (NaN = unknown),
    ``H`` and ``W`` divisible by ``factor``.
    """
    low = block_average(truth, factor)
    bicubic = prepare_lowres(low, factor)
    cubic = (bicubic.initial * np.float32(bicubic.scale)).astype(np.float32)
    dense = DepthUpsampler(device='cpu')(rgb, low)
    lo, hi = depth_range(truth)
    cubic_rmse = depth_metrics(cubic, truth).rmse
    dada_rmse = depth_metrics(dense, truth).rmse
    panels: List[np.ndarray] = [
        label(shrink(rgb), ['RGB guide', name]),
        label(shrink(colorize_depth(upscale_nearest(low, truth.shape), lo, hi)),
              [f'depth input {low.shape[1]}x{low.shape[0]} (x{factor})',
               f'colour {lo:.1f}-{hi:.1f} m']),
        label(shrink(colorize_depth(cubic, lo, hi)),
              ['bicubic', f'RMSE {cubic_rmse:.3f} m']),
        label(shrink(colorize_depth(dense, lo, hi)),
              [f'DADA {truth.shape[1]}x{truth.shape[0]}', f'RMSE {dada_rmse:.3f} m']),
        label(shrink(colorize_depth(truth, lo, hi)), ['measured depth', '(black: no data)']),
    ]
    print(f'{name}, x{factor}: bicubic RMSE {cubic_rmse:.4f} m, DADA RMSE {dada_rmse:.4f} m')
    return np.hstack(panels)


def main(argv: Optional[List[str]] = None) -> int:
    """Write the picture; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frame', choices=('nyu', 'sample'), default='nyu')
    parser.add_argument('--factor', type=int, default=16)
    parser.add_argument('--out', type=Path, default=ROOT / 'docs' / 'before_after.png')
    args = parser.parse_args(argv)
    if args.frame == 'nyu':
        rgb, truth, name = load_nyu()
    else:
        rgb, truth, _ = sample_scene()
        name = 'embedded sample (procedural)'
    h, w = truth.shape
    h, w = h - h % args.factor, w - w % args.factor
    picture = figure(rgb[:h, :w], truth[:h, :w], name, args.factor)
    print(f'wrote {write_png(args.out, picture)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
