# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Real sparse depth for the completion tests and benchmarks.

* KITTI Velodyne scans projected into the left colour camera with the calibration files
  of the KITTI object benchmark (``kitti_object_lidar``).
* KITTI frames with semi-dense ground truth and NYUv2 frames with holes
  (``metric3d_kitti_nyu_demo``).
* A LiDAR-like sampling of ground-truth pixels: the pixels hit by a simulated spinning
  multi-beam LiDAR (beam rows at even elevation steps, samples at even azimuth steps).
* The held-out-points protocol for real scans without ground truth
  (:func:`hold_out_points`).
* Sparser LiDARs from the real scans: the laser ring of every point derived from the scan
  (:func:`ring_indices`) and every 2nd or 4th ring kept (:func:`keep_rings`), over all nine
  KITTI object frames of ``kitti_object_lidar`` and ``kitti_object_lidar_extra``
  (:func:`kitti_scans`).

All depth maps returned here are ``(H, W)`` float32 in metres with NaN where invalid;
RGB images are ``(H, W, 3)`` uint8 in RGB order. The data lives outside the repository,
in ``../shared/data`` beside the checkout (see :func:`shared_data_dir`).
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from .datasets import shared_data_dir

#: Beam count of a Velodyne HDL-64E.
HDL64_BEAMS = 64
#: Elevation of its top and bottom beams (degrees, up positive) as seen from the KITTI
#: colour camera: the data sheet gives +2 to -24.8, but the projected scans of
#: ``kitti_object_lidar`` reach up to about 4.7 degrees above the optical axis (row 121 at
#: fy = 721, cy = 173), so the simulated pattern covers the same rows as a real scan.
HDL64_FOV_DEG: Tuple[float, float] = (4.7, -24.8)


def require_shared_data() -> Path:
    """Return the shared data folder; ``FileNotFoundError`` with a clear message if absent."""
    root = shared_data_dir()
    if not root.is_dir():
        raise FileNotFoundError(
            f'shared data folder {root} not found: the real-data tests and benchmarks need '
            '../shared/data beside the checkout (or DADA_DATA_DIR)')
    return root


@dataclass(frozen=True)
class RgbdFrame:
    """One RGB image with depth.

    Attributes:
        name: data set and frame id, for reporting.
        rgb: ``(H, W, 3)`` uint8 RGB.
        depth: ``(H, W)`` float32 metres, NaN where invalid (ground truth or a scan).
        fx, fy, cx, cy: pinhole intrinsics of the RGB camera in pixels.
    """

    name: str
    rgb: np.ndarray
    depth: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert('RGB'), dtype=np.uint8).copy()


def _read_uint16_depth(path: Path, scale: float) -> np.ndarray:
    with Image.open(path) as image:
        raw = np.asarray(image, dtype=np.uint16 if image.mode != 'I' else np.int32)
    depth = raw.astype(np.float32) / np.float32(scale)
    depth[raw == 0] = np.nan
    return depth


def _annotated_frames(folder: Path, prefix: str) -> List[RgbdFrame]:
    with open(folder / 'test_annotations.json', encoding='utf-8') as handle:
        entries = json.load(handle)['files']
    frames = []
    for entry in sorted(entries, key=lambda e: e['rgb']):
        rgb_path = folder / 'rgb' / Path(entry['rgb']).name
        depth_path = folder / 'depth' / Path(entry['depth']).name
        if not rgb_path.is_file() or not depth_path.is_file():
            continue  # the annotation file lists frames that were not copied
        fx, fy, cx, cy = (float(v) for v in entry['cam_in'])
        frames.append(RgbdFrame(f'{prefix}/{rgb_path.stem}', _read_rgb(rgb_path),
                                _read_uint16_depth(depth_path, float(entry['depth_scale'])),
                                fx, fy, cx, cy))
    return frames


def kitti_gt_frames() -> List[RgbdFrame]:
    """KITTI frames with semi-dense ground truth (uint16 value / 256 = metres)."""
    return _annotated_frames(require_shared_data() / 'metric3d_kitti_nyu_demo' / 'kitti_demo',
                             'kitti')


def nyu_frames() -> List[RgbdFrame]:
    """NYUv2 frames with raw depth (uint16 millimetres, 0 = hole)."""
    return _annotated_frames(require_shared_data() / 'metric3d_kitti_nyu_demo' / 'nyu_demo',
                             'nyu')


def read_kitti_calib(path: Path) -> Dict[str, np.ndarray]:
    """Read a KITTI object calibration file: ``P0..P3``, ``Tr_*`` (3x4), ``R0_rect`` (3x3)."""
    calib: Dict[str, np.ndarray] = {}
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            key, sep, values = line.partition(':')
            if not sep or not values.strip():
                continue
            numbers = np.array([float(v) for v in values.split()], dtype=np.float64)
            calib[key.strip()] = numbers.reshape(3, 3) if numbers.size == 9 \
                else numbers.reshape(3, 4)
    return calib


def read_velodyne(path: Path) -> np.ndarray:
    """Read a KITTI Velodyne scan: ``(N, 4)`` float32 x, y, z (metres), reflectance."""
    return np.fromfile(path, dtype='<f4').reshape(-1, 4)


def project_velodyne(points: np.ndarray, calib: Dict[str, np.ndarray],
                     shape: Tuple[int, int], camera: int = 2,
                     min_depth: float = 0.1) -> np.ndarray:
    """Project a Velodyne scan into camera ``camera`` (2 = left colour) of a KITTI frame.

    ``x_image ~ P_camera @ R0_rect @ Tr_velo_to_cam @ x_velo``; each point goes to the pixel
    that contains its projection; when several points fall into one pixel the nearest
    wins (z-buffer). Points behind ``min_depth`` (metres) are dropped.

    Args:
        points: ``(N, >=3)`` scan in the Velodyne frame, metres.
        calib: as returned by :func:`read_kitti_calib`.
        shape: ``(H, W)`` of the image.
        camera: index of the projection matrix ``P<camera>``.
        min_depth: smallest accepted depth along the optical axis.

    Returns:
        ``(H, W)`` float32 depth along the optical axis (metres), NaN without a point.
    """
    height, width = shape
    rect = np.eye(4)
    rect[:3, :3] = calib['R0_rect']
    velo_to_cam = np.eye(4)
    velo_to_cam[:3, :] = calib['Tr_velo_to_cam']
    projection = calib[f'P{camera}'] @ rect @ velo_to_cam
    homogeneous = np.c_[points[:, :3].astype(np.float64), np.ones(len(points))]
    image = homogeneous @ projection.T
    depth = image[:, 2]
    ahead = depth > min_depth
    u = np.floor(image[ahead, 0] / depth[ahead] + 0.5).astype(np.int64)
    v = np.floor(image[ahead, 1] / depth[ahead] + 0.5).astype(np.int64)
    z = depth[ahead]
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    u, v, z = u[inside], v[inside], z[inside]
    order = np.argsort(-z)  # far first, so the nearest point is written last and wins
    out = np.full((height, width), np.nan, dtype=np.float32)
    out[v[order], u[order]] = z[order].astype(np.float32)
    return out


def kitti_lidar_frames() -> List[RgbdFrame]:
    """KITTI object frames: RGB and the projected Velodyne scan (no ground truth)."""
    root = require_shared_data() / 'kitti_object_lidar' / 'training'
    frames = []
    for scan_path in sorted((root / 'velodyne').glob('*.bin')):
        frame_id = scan_path.stem
        rgb = _read_rgb(root / 'image_2' / f'{frame_id}.png')
        calib = read_kitti_calib(root / 'calib' / f'{frame_id}.txt')
        depth = project_velodyne(read_velodyne(scan_path), calib, rgb.shape[:2])
        p2 = calib['P2']
        frames.append(RgbdFrame(f'kitti_lidar/{frame_id}', rgb, depth, float(p2[0, 0]),
                                float(p2[1, 1]), float(p2[0, 2]), float(p2[1, 2])))
    return frames


@dataclass(frozen=True)
class KittiScan:
    """One KITTI object frame with its raw Velodyne scan.

    Attributes:
        name: ``<folder>/<frame id>``, for reporting.
        rgb: ``(H, W, 3)`` uint8 RGB of the left colour camera.
        points: ``(N, 4)`` float32 scan in the Velodyne frame (x, y, z metres, reflectance),
            in the order of the file.
        calib: as returned by :func:`read_kitti_calib`.
    """

    name: str
    rgb: np.ndarray
    points: np.ndarray
    calib: Dict[str, np.ndarray]

    def frame(self, points: Optional[np.ndarray] = None) -> RgbdFrame:
        """Return the scan (or ``points``, a subset of it) projected into the colour camera."""
        depth = project_velodyne(self.points if points is None else points, self.calib,
                                 self.rgb.shape[:2])
        p2 = self.calib['P2']
        return RgbdFrame(self.name, self.rgb, depth, float(p2[0, 0]), float(p2[1, 1]),
                         float(p2[0, 2]), float(p2[1, 2]))


def kitti_scans() -> List[KittiScan]:
    """All KITTI object frames with a Velodyne scan in the shared data, sorted by name.

    ``kitti_object_lidar/training`` (2 frames) and every ``<source>`` folder of
    ``kitti_object_lidar_extra`` (7 frames; the scan of ``pointpillars_training/000134`` is
    cropped to the camera frustum, which leaves its projection unchanged).
    """
    root = require_shared_data()
    folders = [root / 'kitti_object_lidar' / 'training']
    extra = root / 'kitti_object_lidar_extra'
    if extra.is_dir():
        folders += sorted(path for path in extra.iterdir() if (path / 'velodyne').is_dir())
    scans = []
    for folder in folders:
        for scan_path in sorted((folder / 'velodyne').glob('*.bin')):
            frame_id = scan_path.stem
            scans.append(KittiScan(f'{folder.parent.name}/{folder.name}/{frame_id}',
                                   _read_rgb(folder / 'image_2' / f'{frame_id}.png'),
                                   read_velodyne(scan_path),
                                   read_kitti_calib(folder / 'calib' / f'{frame_id}.txt')))
    return scans


#: A backward azimuth step (degrees) larger than this starts a new sweep: within one sweep
#: the azimuth of consecutive points only moves on (KITTI scans: backward jitter below
#: 0.03 degrees, 64 restarts of 80-360 degrees per full scan).
SWEEP_RESTART_DEG = 1.0


def elevation_deg(points: np.ndarray) -> np.ndarray:
    """Elevation angle ``atan2(z, hypot(x, y))`` of ``(N, >=3)`` points, degrees."""
    return np.degrees(np.arctan2(points[:, 2], np.hypot(points[:, 0], points[:, 1])))


def ring_indices(points: np.ndarray) -> Tuple[np.ndarray, int]:
    """Laser ring of every point of a spinning-LiDAR scan, derived from the scan itself.

    The ring follows from the elevation angle, but not point by point: one ring's elevation
    moves by about a degree around the sweep (sensor tilt, per-laser calibration, range),
    while neighbouring rings of a 64-beam sensor are 0.3-0.5 degrees apart, so clustering the
    elevations of a whole scan blurs rings together. A scan file stores the points sweep by
    sweep (one laser's revolution, azimuth moving one way); so the scan is cut where the
    azimuth steps back by more than :data:`SWEEP_RESTART_DEG` against the direction of
    rotation (found from the data: the sign of the median step), the first and the last
    sweep are one ring when their azimuths do not overlap (the file starts within a
    revolution), and the rings are numbered by their median elevation. Nothing assumes a
    beam count or a beam table.

    Args:
        points: ``(N, >=3)`` scan in the sensor frame (metres), in the file's order.

    Returns:
        ``(rings, count)``: ``(N,)`` int64 ring index, 0 = the highest ring, increasing
        downwards, and the number of rings.

    Raises:
        ValueError: when the points are not stored sweep by sweep (no restart found).
    """
    if points.ndim != 2 or points.shape[1] < 3 or len(points) < 2:
        raise ValueError(f'points must be (N >= 2, >= 3), got {points.shape}')
    azimuth = np.degrees(np.arctan2(points[:, 1], points[:, 0]))
    step = np.diff(azimuth)
    direction = 1.0 if np.median(step) >= 0 else -1.0
    restart = direction * step < -SWEEP_RESTART_DEG
    if not restart.any():
        raise ValueError('no sweep restart found: the points are not stored sweep by sweep')
    sweep = np.r_[0, np.cumsum(restart)]
    turned = direction * azimuth
    first, last = sweep == 0, sweep == sweep[-1]
    if turned[first].min() > turned[last].max():
        # the file starts within a revolution: its first and last sweeps are one ring
        sweep[last] = 0
    elevation = elevation_deg(points)
    sweeps = np.unique(sweep)
    medians = np.array([np.median(elevation[sweep == index]) for index in sweeps])
    ring_of_sweep = np.zeros(int(sweep.max()) + 1, dtype=np.int64)
    ring_of_sweep[sweeps[np.argsort(-medians)]] = np.arange(len(sweeps))  # highest first
    return ring_of_sweep[sweep], len(sweeps)


def keep_rings(points: np.ndarray, every: int, offset: int = 0) -> np.ndarray:
    """Return a sparser LiDAR from a scan: the points of every ``every``-th ring (a copy).

    Keeping every 2nd or 4th ring of a 64-beam scan gives a 32- or 16-beam pattern with the
    same horizontal sampling. Rings come from :func:`ring_indices`.

    Args:
        points: ``(N, >=3)`` scan in the sensor frame, in the file's order.
        every: keep one ring in ``every`` (>= 1).
        offset: the first kept ring, in ``[0, every)``.

    Returns:
        ``(M, points.shape[1])`` the points of the kept rings, in their order.
    """
    if every < 1 or not 0 <= offset < every:
        raise ValueError(f'every must be >= 1 and offset in [0, every), got {every}, {offset}')
    rings, _ = ring_indices(points)
    return points[rings % every == offset].copy()


def lidar_like_mask(valid: np.ndarray, fx: float, fy: float, cx: float, cy: float,
                    beams: int = HDL64_BEAMS,
                    fov_deg: Tuple[float, float] = HDL64_FOV_DEG,
                    azimuth_step_deg: float = 0.24) -> np.ndarray:
    """Pixels a spinning multi-beam LiDAR would hit, among the ``valid`` ground-truth pixels.

    The beams sit at ``beams`` even elevation steps over ``fov_deg`` (upper, lower limit);
    beam ``b`` at elevation ``e`` hits image row ``cy - fy * tan(e)``; along a beam the
    samples sit at even azimuth steps ``a`` and hit columns ``cx + fx * tan(a)``. The
    LiDAR is assumed at the camera centre (KITTI: 8 cm apart vertically). A simulated
    sample is kept only where the ground truth is valid. With the defaults (HDL-64E,
    0.24 degree azimuth step) about 5 % of the KITTI semi-dense ground-truth pixels are
    kept; the other ground-truth pixels are held out for scoring.

    Args:
        valid: ``(H, W)`` bool ground-truth mask.
        fx, fy, cx, cy: intrinsics in pixels.
        beams: number of beams (>= 2).
        fov_deg: elevation of the upper and the lower beam in degrees.
        azimuth_step_deg: angle between two samples of one beam (> 0).

    Returns:
        ``(H, W)`` bool mask, a subset of ``valid``.
    """
    if valid.ndim != 2 or valid.dtype != np.bool_:
        raise ValueError(f'valid must be an (H, W) bool array, got {valid.dtype} {valid.shape}')
    if beams < 2 or azimuth_step_deg <= 0:
        raise ValueError('beams must be >= 2 and azimuth_step_deg > 0')
    height, width = valid.shape
    elevations = np.deg2rad(np.linspace(fov_deg[0], fov_deg[1], beams))
    rows = np.unique(np.floor(cy - fy * np.tan(elevations) + 0.5).astype(np.int64))
    rows = rows[(rows >= 0) & (rows < height)]
    half_fov = np.arctan(max(cx, width - cx) / fx)
    steps = int(np.ceil(half_fov / np.deg2rad(azimuth_step_deg)))
    azimuths = np.deg2rad(azimuth_step_deg) * np.arange(-steps, steps + 1)
    cols = np.unique(np.floor(cx + fx * np.tan(azimuths) + 0.5).astype(np.int64))
    cols = cols[(cols >= 0) & (cols < width)]
    mask = np.zeros_like(valid)
    mask[np.ix_(rows, cols)] = True
    return mask & valid


def sparse_from_gt(frame: RgbdFrame, **pattern: float) -> Tuple[np.ndarray, np.ndarray]:
    """LiDAR-like sparse input from a ground-truth frame and the held-out pixels.

    Returns:
        ``sparse``: ``(H, W)`` float32 metres, NaN outside the simulated samples;
        ``held_out``: ``(H, W)`` bool, valid ground truth that is not in ``sparse``.
    """
    valid = np.isfinite(frame.depth)
    mask = lidar_like_mask(valid, frame.fx, frame.fy, frame.cx, frame.cy,
                           **pattern)  # type: ignore[arg-type]
    sparse = np.where(mask, frame.depth, np.nan).astype(np.float32)
    return sparse, valid & ~mask


def hold_out_points(depth: np.ndarray, fraction: float = 0.2,
                    seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Hold out a random share of the measured pixels of a real scan for scoring.

    The held-out-points protocol for data without ground truth: every measured pixel is
    held out independently with probability ``fraction`` (random generator ``seed``); the
    method completes the rest and is scored at the held-out pixels against their measured
    depth.

    Args:
        depth: ``(H, W)`` float depth, NaN (or <= 0) where nothing was measured.
        fraction: probability of holding a measured pixel out, in (0, 1).
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        ``sparse``: ``(H, W)`` float32 with the held-out pixels set to NaN (a new array);
        ``held_out``: ``(H, W)`` bool, the held-out measured pixels.
    """
    if depth.ndim != 2 or not 0.0 < fraction < 1.0:
        raise ValueError(f'depth must be (H, W) and fraction in (0, 1), got {depth.shape}, '
                         f'{fraction}')
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth) & (depth > 0)
    held_out = valid & (np.random.default_rng(seed).random(depth.shape) < fraction)
    sparse = np.where(valid & ~held_out, depth, np.nan).astype(np.float32)
    return sparse, held_out
