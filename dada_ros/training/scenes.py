# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Training data of ``dada_train``: extra scenes, bag scenes, packs and random batches.

:func:`draw_batch` draws the crops of one step (deterministic in the seed and the step),
normalised as the deployed solver sees them; the loaders add the Middlebury 2003 scenes,
the RGB-D frames of ``../shared`` and scenes paired from a recorded bag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .datasets import (block_average, crop_to_factor, load_rgbd_frames, Scene,
                       shared_data_dir)
from ..core.inputs import prepare_lowres
from ..core.upsampler import RGB_MEAN, RGB_STD

#: Crop sizes (pixels) drawn for a training batch.
CROP_SIZES = (128, 160, 192, 224, 256)


@dataclass
class Batch:
    """One training batch (all tensors on the training device).

    ``rgb (B, 3, H, W)`` ImageNet-normalised, ``initial (B, 1, H, W)``, ``source`` and
    ``valid`` ``(B, 1, H/f, W/f)``, ``gt (B, 1, H, W)`` normalised like the source (NaN
    where unknown). ``spread (B, 1, 1, 1)``: standard deviation of the whole scene's
    low-resolution input in the crop's normalisation (what the deployed guide would compute
    on the whole image; a crop's own spread is smaller).
    """

    factor: int
    rgb: torch.Tensor
    initial: torch.Tensor
    source: torch.Tensor
    valid: torch.Tensor
    gt: torch.Tensor
    spread: Optional[torch.Tensor] = None


def normalise_rgb(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 ImageNet-normalised."""
    mean = np.asarray(RGB_MEAN, np.float32)[:, None, None]
    std = np.asarray(RGB_STD, np.float32)[:, None, None]
    return (rgb.transpose(2, 0, 1).astype(np.float32) / 255.0 - mean) / std


def augment_crop(rgb: np.ndarray, gt: np.ndarray,
                 rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Vertical flip, transpose, colour-channel permutation and gain/offset, each at random.

    Geometry changes apply to both arrays; colour changes only to ``rgb`` (uint8, clipped),
    so the network cannot rely on particular colours or on image orientation.
    """
    if rng.random() < 0.5:
        rgb, gt = rgb[::-1], gt[::-1]
    if rng.random() < 0.5:
        rgb, gt = rgb.transpose(1, 0, 2), gt.T
    if rng.random() < 0.5:
        rgb = rgb[:, :, rng.permutation(3)]
    gain, offset = rng.uniform(0.7, 1.3), rng.uniform(-20.0, 20.0)
    rgb = np.clip(rgb.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb), np.ascontiguousarray(gt)


#: Scenes of ``middlebury_2003_prime`` (left and right views) added by ``--extra-data``.
EXTRA_2003_SCENES: Tuple[str, ...] = ('Cones', 'Teddy')
#: Attempts to find a crop with enough valid ground truth before giving up.
MAX_CROP_ATTEMPTS = 500


def load_2003_scenes(root: Optional[Path] = None) -> List[Scene]:
    """Middlebury 2003 Cones and Teddy, both views (``im2``/``disp2``, ``im6``/``disp6``)."""
    from PIL import Image
    root = (shared_data_dir() / 'middlebury_2003_prime') if root is None else root
    scenes = []
    for name in EXTRA_2003_SCENES:
        for view in (2, 6):
            folder = root / name
            if not (folder / f'im{view}.png').is_file():
                continue
            with Image.open(folder / f'im{view}.png') as image:
                rgb = np.asarray(image.convert('RGB'), dtype=np.uint8).copy()
            with Image.open(folder / f'disp{view}.png') as image:
                raw = np.asarray(image.convert('L'), dtype=np.float32)
            scenes.append(Scene(f'{name}/im{view}', rgb,
                                np.where(raw > 0, raw, np.nan).astype(np.float32)))
    return scenes


#: Names of the ``--extra-data`` sets.
EXTRA_DATA: Tuple[str, ...] = ('middlebury2003', 'rgbd')


def extra_scenes(names: Sequence[str] = EXTRA_DATA) -> List[Scene]:
    """``--extra-data``: Middlebury 2003 (Cones, Teddy) and/or the 640x480 RGB-D frames.

    None of them is a held-out test scene; ground truth is NaN where unknown (sensor holes).
    """
    unknown = sorted(set(names) - set(EXTRA_DATA))
    if unknown:
        raise ValueError(f'unknown extra data {unknown}; choose from {list(EXTRA_DATA)}')
    scenes: List[Scene] = []
    if 'middlebury2003' in names:
        scenes += load_2003_scenes()
    if 'rgbd' in names:
        scenes += load_rgbd_frames()
    return scenes


def bag_scenes(path: Path, rgb_topic: str, depth_topic: str, slop: float = 0.05,
               every: int = 1) -> List[Scene]:
    """RGB + dense depth pairs of a rosbag2 as training scenes (``dada_train --bag``).

    Each RGB message is paired with the depth message of the nearest header stamp within
    ``slop`` seconds; every ``every``-th pair is kept. The depth must have the RGB size
    (it is the target; its block average is the input). Depth in metres (``16UC1`` mm or
    ``32FC1`` m), NaN where invalid.

    Raises:
        ValueError: a topic is missing, or no pair matches.
    """
    from ..tools import bag_io
    from ..msgs.conversions import image_to_depth, image_to_rgb
    image_cls = bag_io.message_class('sensor_msgs/msg/Image')
    rgbs: List[Tuple[int, np.ndarray]] = []
    depths: List[Tuple[int, np.ndarray]] = []
    with bag_io.BagReader(path) as reader:
        for topic in (rgb_topic, depth_topic):
            if topic not in reader.topics:
                raise ValueError(f'{path}: no topic {topic!r}; topics: {sorted(reader.topics)}')
        for raw in reader.messages([rgb_topic, depth_topic]):
            msg = bag_io.deserialize(raw.data, image_cls)
            stamp = bag_io.stamp_ns(msg.header)
            if raw.topic == rgb_topic:
                rgbs.append((stamp, image_to_rgb(msg)))
            else:
                depths.append((stamp, image_to_depth(msg)))
    if not depths:
        raise ValueError(f'{path}: no depth messages on {depth_topic!r}')
    depth_stamps = np.asarray([d[0] for d in depths], dtype=np.int64)
    scenes = []
    for index, (stamp, rgb) in enumerate(rgbs):
        nearest = int(np.argmin(np.abs(depth_stamps - stamp)))
        if abs(int(depth_stamps[nearest]) - stamp) > slop * 1e9:
            continue
        depth = depths[nearest][1]
        if depth.shape != rgb.shape[:2]:
            raise ValueError(f'{path}: depth {depth.shape} and rgb {rgb.shape[:2]} differ in '
                             'size; --bag needs depth registered to the RGB image')
        scenes.append(Scene(f'bag/{index:05d}', rgb, depth.astype(np.float32)))
    scenes = scenes[::max(1, every)]
    if not scenes:
        raise ValueError(f'{path}: no RGB/depth pair within {slop} s')
    return scenes


def split_bag_scenes(scenes: Sequence[Scene],
                     holdout: float = 0.2) -> Tuple[List[Scene], List[Scene]]:
    """Training and selection frames of a bag: the last ``holdout`` share (>= 1) selects."""
    count = max(1, int(round(len(scenes) * holdout))) if len(scenes) > 1 else 0
    if count == 0:
        return list(scenes), list(scenes)
    return list(scenes[:-count]), list(scenes[-count:])


def pack_scenes(path: Path, train: Sequence[Scene], selection: Sequence[Scene]) -> None:
    """Write the training and selection scenes into one ``.npz`` (see :func:`unpack_scenes`).

    The GPU recipe copies this file into an ignored folder of the checkout, because the
    machine that trains sees only the checkout, not ``../shared``.
    """
    arrays: Dict[str, np.ndarray] = {}
    for split, scenes in (('train', train), ('selection', selection)):
        for index, scene in enumerate(scenes):
            key = f'{split}/{index:04d}/{scene.name.replace("/", ":")}'
            arrays[key + '/rgb'] = scene.rgb
            arrays[key + '/gt'] = scene.disparity
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def unpack_scenes(path: Path) -> Tuple[List[Scene], List[Scene]]:
    """Read a pack written by :func:`pack_scenes`: ``(train, selection)``."""
    with np.load(path) as pack:
        keys = sorted({k.rsplit('/', 1)[0] for k in pack.files})
        out: Dict[str, List[Scene]] = {'train': [], 'selection': []}
        for key in keys:
            split, _, name = key.split('/', 2)
            out[split].append(Scene(name.replace(':', '/'), pack[key + '/rgb'],
                                    pack[key + '/gt']))
    if not out['train'] or not out['selection']:
        raise ValueError(f'{path}: the pack needs training and selection scenes')
    return out['train'], out['selection']


def scene_spread(scene: Scene, factor: int) -> float:
    """Return the standard deviation of the scene's whole low-resolution input (raw units)."""
    source = block_average(crop_to_factor(scene.disparity, factor), factor)
    return float(np.nanstd(source))


def draw_batch(scenes: Sequence[Scene], step: int, seed: int, batch_size: int,
               factors: Sequence[int], device: torch.device, augment: bool = False) -> Batch:
    """Draw the batch of step ``step`` (deterministic in ``(seed, step)``).

    ``augment`` adds :func:`augment_crop` (and its random draws) to every crop.
    """
    rng = np.random.default_rng([seed, step])
    factor = int(rng.choice(factors))
    size = int(rng.choice(CROP_SIZES))
    rgbs: List[np.ndarray] = []
    inits: List[np.ndarray] = []
    sources: List[np.ndarray] = []
    valids: List[np.ndarray] = []
    gts: List[np.ndarray] = []
    spreads: List[float] = []
    attempts = 0
    while len(rgbs) < batch_size:
        attempts += 1
        if attempts > MAX_CROP_ATTEMPTS * batch_size:
            raise ValueError('no crop with at least 80% valid ground truth found; the '
                             'training depth has too many holes')
        scene = scenes[int(rng.integers(len(scenes)))]
        h, w = scene.disparity.shape
        size_h, size_w = min(size, h - h % 32), min(size, w - w % 32)
        top = int(rng.integers(h - size_h + 1))
        left = int(rng.integers(w - size_w + 1))
        gt = scene.disparity[top:top + size_h, left:left + size_w]
        rgb = scene.rgb[top:top + size_h, left:left + size_w]
        if np.isfinite(gt).mean() < 0.8:
            continue
        if rng.random() < 0.5:
            gt, rgb = gt[:, ::-1], rgb[:, ::-1]
        if augment:
            rgb, gt = augment_crop(rgb, gt, rng)
        gt = np.ascontiguousarray(gt)
        prepared = prepare_lowres(block_average(gt, factor), factor)  # as the node does
        scale = prepared.scale
        rgbs.append(normalise_rgb(np.ascontiguousarray(rgb)))
        inits.append(prepared.initial[None])
        sources.append(prepared.source[None])
        valids.append(prepared.valid[None])
        gts.append((gt / scale).astype(np.float32)[None])
        spreads.append(scene_spread(scene, factor) / scale)
    if len({r.shape for r in rgbs}) != 1:  # scenes smaller than the crop: use the smallest
        hs, ws = min(r.shape[1] for r in rgbs), min(r.shape[2] for r in rgbs)
        rgbs = [r[:, :hs, :ws] for r in rgbs]
        inits = [i[:, :hs, :ws] for i in inits]
        gts = [g[:, :hs, :ws] for g in gts]
        sources = [s[:, :hs // factor, :ws // factor] for s in sources]
        valids = [v[:, :hs // factor, :ws // factor] for v in valids]

    def stack(arrays: List[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.stack(arrays))).to(device)
    spread = torch.tensor(spreads, dtype=torch.float32, device=device).reshape(-1, 1, 1, 1)
    return Batch(factor, stack(rgbs), stack(inits), stack(sources), stack(valids), stack(gts),
                 spread)
