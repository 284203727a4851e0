# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Middlebury scenes and synthetic low-resolution inputs (shared by training, eval, benchmarks).

The data lives outside the repository, in ``../shared/data`` beside the checkout. A scene
folder holds ``view1.png``/``view5.png`` (RGB uint8) and ``disp1.png``/``disp5.png`` (uint8
disparity in FullSize pixel units, 0 = unknown). Evaluation and training work in those
disparity units; low-resolution inputs are made by block averaging that ignores invalid
pixels, as in the DADA paper.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..tools.sample import block_average

#: Scenes of ``middlebury_2005_2006_thirdsize`` held out from training (validation/eval).
#: Aloe, Art, Books and Moebius also appear in other shared data sets (large-image and
#: real-noise tests), so the learned model must not see them; Rocks2 adds a textured 2006
#: scene. Fixed by name so every run uses the same split.
VALIDATION_SCENES: Tuple[str, ...] = ('Aloe', 'Art', 'Books', 'Moebius', 'Rocks2')

#: Upsampling factors of the paper's evaluation.
FACTORS: Tuple[int, ...] = (4, 8, 16, 32)


def shared_data_dir() -> Path:
    """Return ``../shared/data`` relative to the checkout.

    Override with ``DADA_DATA_DIR`` (the path of ``data`` itself; ``DADA_SHARED_DATA`` is
    accepted as an alias), e.g. for an installed package.
    """
    env = os.environ.get('DADA_DATA_DIR') or os.environ.get('DADA_SHARED_DATA')
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / 'shared' / 'data'


def middlebury_dir() -> Path:
    """Return the folder of the 2005/2006 ThirdSize Middlebury scenes."""
    return shared_data_dir() / 'middlebury_2005_2006_thirdsize'


@dataclass(frozen=True)
class Scene:
    """One RGB image with its ground-truth disparity.

    Attributes:
        name: ``<Scene>/<view>`` for reporting.
        rgb: ``(H, W, 3)`` uint8 RGB.
        disparity: ``(H, W)`` float32 disparity (FullSize px), NaN where unknown.
    """

    name: str
    rgb: np.ndarray
    disparity: np.ndarray


def list_scenes(root: Path) -> List[str]:
    """Names of the scene folders under ``root`` that hold ``view1.png`` and ``disp1.png``."""
    if not root.is_dir():
        raise FileNotFoundError(
            f'data folder {root} not found: the shared data must be at ../shared/data beside '
            'the checkout (or set DADA_DATA_DIR)')
    return sorted(p.name for p in root.iterdir()
                  if (p / 'view1.png').is_file() and (p / 'disp1.png').is_file())


def load_scene(root: Path, name: str, view: int = 1) -> Scene:
    """Load view ``view`` (1 or 5) of scene ``name`` from ``root``."""
    folder = root / name
    rgb = np.asarray(Image.open(folder / f'view{view}.png').convert('RGB'), dtype=np.uint8)
    raw = np.asarray(Image.open(folder / f'disp{view}.png').convert('L'), dtype=np.float32)
    if raw.shape != rgb.shape[:2]:
        raise ValueError(f'{folder}: view {rgb.shape[:2]} and disparity {raw.shape} differ')
    disparity = np.where(raw > 0, raw, np.nan).astype(np.float32)
    return Scene(f'{name}/view{view}', rgb, disparity)


def load_scenes(root: Optional[Path] = None, names: Optional[Sequence[str]] = None,
                views: Sequence[int] = (1,)) -> List[Scene]:
    """Load several scenes (default: every scene under ``root``, view 1)."""
    root = middlebury_dir() if root is None else root
    names = list_scenes(root) if names is None else list(names)
    scenes = []
    for name in names:
        for view in views:
            if (root / name / f'view{view}.png').is_file():
                scenes.append(load_scene(root, name, view))
    if not scenes:
        raise FileNotFoundError(f'no scenes {list(names)} with views {list(views)} in {root}')
    return scenes


def training_scene_names(root: Optional[Path] = None) -> List[str]:
    """All scenes under ``root`` except :data:`VALIDATION_SCENES`."""
    root = middlebury_dir() if root is None else root
    return [n for n in list_scenes(root) if n not in VALIDATION_SCENES]


#: 640x480 RGB-D frames of ``../shared/data`` (real Kinect-type sensors and one synthetic
#: sequence) used to choose the depth weight of the unlearned guide and as extra training
#: data: ``(folder, rgb file, depth file, depth encoding, metres per unit)``. The NYU raw
#: dump of ``open3d_rgbd_samples`` is left out (its depth is not registered to the RGB).
RGBD_FRAMES: Tuple[Tuple[str, str, str, str, float], ...] = (
    ('metric3d_kitti_nyu_demo/nyu_demo', 'rgb/rgb_00000.jpg', 'depth/sync_depth_00000.png',
     'uint16', 1e-3),
    ('metric3d_kitti_nyu_demo/nyu_demo', 'rgb/rgb_00050.jpg', 'depth/sync_depth_00050.png',
     'uint16', 1e-3),
    ('metric3d_kitti_nyu_demo/nyu_demo', 'rgb/rgb_00100.jpg', 'depth/sync_depth_00100.png',
     'uint16', 1e-3),
    ('open3d_rgbd_samples/RGBD/other_formats', 'TUM_color.png', 'TUM_depth.png', 'uint16',
     2e-4),
    ('open3d_rgbd_samples/RGBD/other_formats', 'SUN_color.jpg', 'SUN_depth.png', 'sun', 1e-3),
    ('open3d_rgbd_samples/RGBD', 'color/00000.jpg', 'depth/00000.png', 'uint16', 1e-3),
)


def _read_depth_png(path: Path, encoding: str, metres_per_unit: float) -> np.ndarray:
    """Depth in metres, NaN where the sensor gave 0 (``sun``: SUN RGB-D bit rotation)."""
    with Image.open(path) as image:
        raw = np.asarray(image).astype(np.int64)
    if encoding == 'sun':
        raw = ((raw >> 3) | (raw << 13)) & 0xFFFF
    depth = raw.astype(np.float32) * np.float32(metres_per_unit)
    return np.where(raw > 0, depth, np.nan).astype(np.float32)


def load_rgbd_frames(root: Optional[Path] = None) -> List[Scene]:
    """Load :data:`RGBD_FRAMES` (``Scene.disparity`` holds depth in metres, NaN = hole)."""
    root = shared_data_dir() if root is None else root
    frames = []
    for folder, rgb_name, depth_name, encoding, unit in RGBD_FRAMES:
        base = root / folder
        if not (base / rgb_name).is_file() or not (base / depth_name).is_file():
            continue
        with Image.open(base / rgb_name) as image:
            rgb = np.asarray(image.convert('RGB'), dtype=np.uint8).copy()
        depth = _read_depth_png(base / depth_name, encoding, unit)
        if depth.shape != rgb.shape[:2]:
            raise ValueError(f'{base}: {rgb_name} and {depth_name} differ in size')
        frames.append(Scene(f'{Path(folder).name}/{Path(rgb_name).stem}', rgb, depth))
    if not frames:
        raise FileNotFoundError(f'none of the RGB-D frames found under {root}')
    return frames


def crop_to_factor(image: np.ndarray, factor: int) -> np.ndarray:
    """Top-left crop of ``image`` whose height and width are multiples of ``factor``."""
    h, w = image.shape[:2]
    return image[:h - h % factor, :w - w % factor]


def make_sample(scene: Scene, factor: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop a scene to the factor and make its low-resolution input.

    Returns:
        ``rgb (H, W, 3)`` uint8, ``source (H/f, W/f)`` float32 (NaN = invalid) and the
        ground truth ``(H, W)`` float32 (NaN = unknown), all in disparity units.
    """
    rgb = np.ascontiguousarray(crop_to_factor(scene.rgb, factor))
    gt = np.ascontiguousarray(crop_to_factor(scene.disparity, factor))
    return rgb, block_average(gt, factor), gt


def errors(prediction: np.ndarray, gt: np.ndarray) -> Tuple[float, float]:
    """RMSE and MAE over the finite ground-truth pixels (prediction NaN counts as an error)."""
    valid = np.isfinite(gt)
    diff = prediction[valid].astype(np.float64) - gt[valid].astype(np.float64)
    if not np.isfinite(diff).all():
        raise ValueError('prediction is not finite where the ground truth is valid')
    return float(np.sqrt(np.mean(diff * diff))), float(np.mean(np.abs(diff)))
