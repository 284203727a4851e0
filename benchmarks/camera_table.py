# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
r"""The camera table: node rate and accuracy against interpolation, one row per camera.

One row per camera configuration of issue 21 and per preset (``config/preset_*.yaml``, a
spinning LiDAR, a phone ToF). Each row gives:

* the mode (``depth.mode``, ``depth.source``) the node runs with;
* the node's rate: ``dada_node`` in a second process over real topics (reliable QoS,
  ``model: rgb``, default budget, cloud published), frames sent one at a time; the time
  from the message's arrival in the node to its outputs published is read from the node's
  debug log with :func:`node_latency.node_frames` (as ``benchmarks/node_latency.py``
  does); rate = 1000 / mean ms;
* the accuracy: RMSE of ``DepthUpsampler.up`` (same mode, in this process) over the
  RMSE of interpolation of the same input (bicubic for low-res depth, linear
  (``griddata``) for sparse depth), pooled over the scored pixels of all frames, on real
  frames from ``../shared/data`` rendered at the camera's geometry (see :data:`ROWS`).

Run (the node needs a ROS network: use the loopback namespace on a shared machine)::

    bash scripts/localhost.sh .venv/bin/python benchmarks/camera_table.py \
        [--rows hd_x8,lidar64] [--frames 3] [--max-frames 3] [--splits 1] \
        [--markdown FILE] [--no-node] [--no-accuracy]

Every row at the defaults took 20 minutes on the shared 2-core machine at a load of 8-16
(the 1920x1440 phone LiDAR row alone about 3); docs/cameras.md has the table.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import math
import os
from pathlib import Path
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy import interpolate
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'test'))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core import DepthUpsampler  # noqa: E402, I100
from dada_ros.core.footprints import Footprints  # noqa: E402
from dada_ros.core.geometry import backproject  # noqa: E402
from dada_ros.core.registration import (matrix_to_pose, project_points,  # noqa: E402
                                        register_depth, transform_points)
from dada_ros.training import completion_baselines as completion  # noqa: E402
from dada_ros.training import lidar  # noqa: E402
from dada_ros.training.datasets import load_rgbd_frames, shared_data_dir  # noqa: E402
from node_latency import node_frames, summary  # noqa: E402
from ros_helpers import isolate_network, NodeProcess, ros_env, RosHarness  # noqa: E402
from solver_benchmark import block_average, load_scene, SCENES  # noqa: E402
from sparse_benchmark import machine_info, nyu_cases  # noqa: E402

#: RGB camera matrix ``(3, 4)`` (``K | 0`` or KITTI's rectified ``P2``).
Camera = np.ndarray


@dataclass(frozen=True)
class Frame:
    """One real frame rendered at a camera's geometry.

    Attributes:
        name: data set and frame id.
        rgb: ``(H, W, 3)`` uint8 RGB.
        camera: ``(3, 4)`` projection of the RGB camera (pixels).
        sensor: what the node receives: ``(h, w)`` float32 metres (NaN = none) for
            ``depth.source: image``, ``(N, 3)`` float32 points in the camera frame for
            ``cloud``.
        up_input: what ``DepthUpsampler.up`` gets (the registered depth for ``register``).
        truth: ``(H, W)`` float32, NaN where not scored.
        depth_k: ``(3, 3)`` K of the depth camera (``register`` only).
        cloud: ``sensor`` is a point cloud (``depth.source: cloud``).
    """

    name: str
    rgb: np.ndarray
    camera: Camera
    sensor: np.ndarray
    up_input: np.ndarray
    truth: np.ndarray
    depth_k: Optional[np.ndarray] = None
    cloud: bool = False


@dataclass(frozen=True)
class Row:
    """One camera configuration: how the node runs and which frames it is scored on."""

    key: str
    group: str  # 'issue 21' or 'preset'
    camera: str
    data: str
    params: Tuple[Tuple[str, str], ...]
    up_mode: str  # depth_mode of DepthUpsampler.up: 'lowres' or 'sparse'
    frames: Callable[[], List[Frame]]
    #: Rows with the same key are scored on the same inputs (computed once per run).
    accuracy_key: str = ''

    def mode(self) -> str:
        values = dict(self.params)
        mode = values.get('depth.mode', 'auto')
        resolved = f' (-> {self.up_mode})' if mode == 'auto' else ''
        return f"{mode}{resolved} / {values.get('depth.source', 'image')}"


def k_camera(fx: float, fy: float, cx: float, cy: float) -> Camera:
    """``[K | 0]`` of a pinhole camera."""
    return np.array([[fx, 0.0, cx, 0.0], [0.0, fy, cy, 0.0], [0.0, 0.0, 1.0, 0.0]])


# ---------------------------------------------------------------- frames: low-res depth


def footprint_means(gt: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Area-weighted means of the valid ``gt`` pixels over each footprint of ``shape``.

    ``gt`` ``(H, W)`` float32 (NaN = unknown); any size ratio (fractional footprints,
    :class:`dada_ros.core.footprints.Footprints`). A footprint with less than half of its
    area valid is NaN (a sensor reports no depth there).
    """
    valid = np.isfinite(gt)
    prints = Footprints(gt.shape, shape, torch.device('cpu'))
    values = torch.from_numpy(np.where(valid, gt, 0.0).astype(np.float32))
    weights = torch.from_numpy(valid.astype(np.float32))
    sums, areas = prints.sums(values).numpy(), prints.sums(weights).numpy()
    with np.errstate(invalid='ignore', divide='ignore'):
        means = sums / areas
    return np.where(areas >= 0.5 * prints.area, means, np.nan).astype(np.float32)


def lowres_frame(name: str, rgb: np.ndarray, gt: np.ndarray, camera: Camera,
                 shape: Tuple[int, int]) -> Frame:
    """Make a frame whose depth sensor sees the same view at ``shape`` = ``(h, w)``."""
    low = footprint_means(gt, shape)
    return Frame(name, rgb, camera, low, low, gt.astype(np.float32))


def middlebury_frames(width: int, height: int, factor: int) -> List[Frame]:
    """Render the DTS Middlebury scenes (filled GT, disparity units) at ``width x height``.

    1280x720 is a centre crop (``solver_benchmark.load_scene``); larger sizes are that
    scene's centre crop of the same aspect, resized up (the GT is then smoother than a
    sensor's at that size). The input is the block average at ``factor``.
    """
    frames = []
    for name in SCENES:
        if width <= 1376 and height <= 1088:
            rgb, gt = load_scene(name, (width, height))
        else:
            crop_h = int(round(1376 * height / width))
            rgb, gt = load_scene(name, (1376, crop_h))
            rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)
            gt = cv2.resize(gt, (width, height), interpolation=cv2.INTER_LINEAR)
        camera = k_camera(width, width, width / 2 - 0.5, height / 2 - 0.5)
        low = block_average(gt, factor)
        frames.append(Frame(f'dts/{name}', rgb, camera, low, low, gt))
    return frames


def rgbdd_frames(count: int) -> List[Tuple[str, np.ndarray, np.ndarray]]:
    """``count`` RGB-D-D frames evenly spread over the test split: (name, rgb, ToF metres)."""
    root = shared_data_dir() / 'rgbdd_test_split'
    paths = sorted((root / 'RGB').glob('*_RGB.jpg'))
    chosen = paths[::max(1, len(paths) // count)][:count]
    frames = []
    for path in chosen:
        stem = path.name[:-len('_RGB.jpg')]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        raw = cv2.imread(str(root / 'Depth' / f'{stem}_HR_gt.png'), cv2.IMREAD_UNCHANGED)
        if bgr is None or raw is None:
            raise FileNotFoundError(f'RGB-D-D frame {stem} unreadable under {root}')
        depth = np.where(raw > 0, raw.astype(np.float32) / 1000.0, np.nan).astype(np.float32)
        frames.append((f'rgbdd/{stem}', np.ascontiguousarray(bgr[..., ::-1]), depth))
    return frames


def tof_frames(size: Tuple[int, int], tof: Tuple[int, int], count: int) -> List[Frame]:
    """RGB-D-D scenes: colour at ``size`` (w, h), ToF footprint means at ``tof`` (w, h).

    At 512x384 the colour and the ToF depth are the recorded ones; other sizes resize both
    (the GT is then smoother than a sensor's at that size). Intrinsics: 60 degree HFOV
    (only the point cloud uses them).
    """
    width, height = size
    frames = []
    for name, rgb, depth in rgbdd_frames(count):
        if rgb.shape[:2] != (height, width):
            rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)
            depth = cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST)
        fx = width / 2 / math.tan(math.radians(30))
        frames.append(lowres_frame(name, rgb, depth, k_camera(fx, fx, width / 2, height / 2),
                                   (tof[1], tof[0])))
    return frames


# ---------------------------------------------------------------- frames: RGB-D cameras


def indoor_frames() -> List[Tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Real 640x480 RGB-D frames with holes: (name, rgb, depth metres, (3, 3) K).

    The NYUv2 frames with their intrinsics, and the other 640x480 frames of
    ``load_rgbd_frames`` (TUM, ICL) with the PrimeSense default K (525 px).
    """
    frames = [(f.name, f.rgb, f.depth, np.array([[f.fx, 0, f.cx], [0, f.fy, f.cy], [0, 0, 1]]))
              for f in lidar.nyu_frames()]
    default_k = np.array([[525.0, 0, 319.5], [0, 525.0, 239.5], [0, 0, 1]])
    for scene in load_rgbd_frames():
        if scene.disparity.shape == (480, 640) and 'nyu' not in scene.name:
            frames.append((scene.name, scene.rgb, scene.disparity, default_k))
    return frames


def to_720p(image: np.ndarray, interpolation: int) -> np.ndarray:
    """Centre 640x360 crop of a 640x480 image, resized to 1280x720."""
    crop = image[60:420]
    return np.ascontiguousarray(cv2.resize(crop, (1280, 720), interpolation=interpolation))


def k_to_720p(k: np.ndarray) -> np.ndarray:
    """K of :func:`to_720p`'s output (crop 60 rows, then scale 2)."""
    out = k.astype(np.float64).copy()
    out[1, 2] -= 60.0
    out[:2] *= 2.0
    out[0, 2] += 0.5
    out[1, 2] += 0.5
    return out


def holes_frames(hd: bool) -> List[Frame]:
    """Same-size depth with real holes plus 150 punched 12x12 holes (scored).

    ``sparse_benchmark.nyu_cases`` (NYUv2, 640x480); ``hd``: the same crops at 1280x720.
    """
    frames = []
    nyu = {f.name: f for f in lidar.nyu_frames()}
    for name, rgb, punched, gt, held in nyu_cases():
        assert gt is not None and held is not None  # nyu_cases always scores
        f = nyu[name]
        k = np.array([[f.fx, 0, f.cx], [0, f.fy, f.cy], [0, 0, 1.0]])
        truth = np.where(held, gt, np.nan).astype(np.float32)
        if hd:
            rgb, k = to_720p(rgb, cv2.INTER_CUBIC), k_to_720p(k)
            punched = to_720p(punched, cv2.INTER_NEAREST)
            truth = to_720p(truth, cv2.INTER_NEAREST)
        camera = np.hstack([k, np.zeros((3, 1))])
        frames.append(Frame(name, rgb, camera, punched, punched, truth))
    return frames


def depth_to_rgb_pose(offset: Tuple[float, float, float]) -> Tuple[np.ndarray, str]:
    """Return the RGB -> depth transform of a camera displaced by ``offset`` and its param.

    Returns:
        ``(4, 4)`` RGB -> depth transform (metres) and the ``depth.to_rgb`` parameter
        (depth -> RGB) as its quoted-list string.
    """
    rgb_to_depth = np.eye(4)
    rgb_to_depth[:3, 3] = offset
    pose = matrix_to_pose(np.linalg.inv(rgb_to_depth))
    return rgb_to_depth, '[' + ', '.join(f'{v:.6f}' for v in pose) + ']'


def registered_frames(hd: bool, depth_k: np.ndarray, depth_shape: Tuple[int, int],
                      offset: Tuple[float, float, float], count: int = 0) -> List[Frame]:
    """Depth rendered from a displaced camera (``depth_k``, ``depth_shape``, ``offset``).

    As ``test/test_node_sensors.py::test_register_live``: the real GT is back-projected,
    moved into the depth camera and z-buffered there; ``up()`` and the baseline get it
    registered back into the RGB camera (:func:`register_depth`, what the node does).
    Scored: valid GT pixels that no registered measurement landed on. ``count``: the
    first ``count`` frames of :func:`indoor_frames` (0 = all).
    """
    rgb_to_depth, _ = depth_to_rgb_pose(offset)
    frames = []
    for name, rgb, depth, k in indoor_frames()[:count or None]:
        if hd:
            rgb, depth, k = (to_720p(rgb, cv2.INTER_CUBIC), to_720p(depth, cv2.INTER_NEAREST),
                             k_to_720p(k))
        points = backproject(depth, k).reshape(-1, 3)
        sensor = project_points(transform_points(points[np.isfinite(points[:, 2])],
                                                 rgb_to_depth), depth_k, depth_shape)
        registered = register_depth(sensor, depth_k, np.linalg.inv(rgb_to_depth), k,
                                    depth.shape)
        truth = np.where(np.isnan(registered), depth, np.nan).astype(np.float32)
        frames.append(Frame(name, rgb, np.hstack([k, np.zeros((3, 1))]), sensor, registered,
                            truth, depth_k))
    return frames


# ---------------------------------------------------------------- frames: LiDAR


def scan_frames(size: Optional[Tuple[int, int]], ring_step: int = 1, splits: int = 1,
                cloud: bool = False, count: int = 0) -> List[Frame]:
    """Projected KITTI scans, 20 % of the scan pixels held out and scored per split.

    ``size`` (w, h): the projection scaled to that image (as
    ``sparse_benchmark.scaled_scan``); None keeps KITTI's. ``ring_step`` 2 / 4 keeps
    every 2nd / 4th laser ring (a 32 / 16-beam LiDAR, :func:`lidar.keep_rings`); scans
    whose rings cannot be derived are left out then. ``cloud``: the node gets the points
    (rectified camera frame), not the image.
    ``count``: the first ``count`` scans used (0 = all).
    """
    frames: List[Frame] = []
    used = 0
    for scan in lidar.kitti_scans():
        if count and used == count:
            break
        name, rgb, points, calib = scan.name, scan.rgb, scan.points, dict(scan.calib)
        if ring_step > 1:
            try:
                points = lidar.keep_rings(points, ring_step)
            except ValueError:  # not stored sweep by sweep: no rings
                continue
        if size is not None:
            projection = calib['P2'].copy()
            projection[0] *= size[0] / rgb.shape[1]
            projection[1] *= size[1] / rgb.shape[0]
            calib['P2'] = projection
            rgb = np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
        depth = lidar.project_velodyne(points, calib, rgb.shape[:2])
        rect = np.eye(4)
        rect[:3, :3] = calib['R0_rect']
        velo = np.eye(4)
        velo[:3, :] = calib['Tr_velo_to_cam']
        in_camera = transform_points(points[:, :3].astype(np.float64), rect @ velo)
        sensor = in_camera.astype(np.float32) if cloud else depth
        used += 1
        for seed in range(splits):
            held_in, held_out = lidar.hold_out_points(depth, 0.2, seed)
            truth = np.where(held_out, depth, np.nan).astype(np.float32)
            frames.append(Frame(f'{name}/split{seed}', rgb, calib['P2'], sensor, held_in,
                                truth, cloud=cloud))
    return frames


# ---------------------------------------------------------------- the rows

D435_DEPTH_K = np.array([[447.0, 0, 423.5], [0, 447.0, 239.5], [0, 0, 1]])
DISPLACED_K = np.array([[330.0, 0, 211.5], [0, 330.0, 149.5], [0, 0, 1]])
IDENTITY_POSE = '[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]'


def make_rows(splits: int, count: int) -> List[Row]:
    """Every row of the table (frames are loaded lazily; ``count`` frames, 0 = all)."""
    scenes = count or 8  # RGB-D-D scenes of the ToF rows
    sparse = (('depth.mode', 'auto'),)
    image = (('depth.mode', 'auto'),)
    return [
        Row('hd_x8', 'issue 21', 'colour 1280x720, depth 160x90 (x8)',
            'DTS Middlebury Art/Books/Moebius, 1280x720 crops', image, 'lowres',
            lambda: middlebury_frames(1280, 720, 8)),
        Row('fhd_x8', 'issue 21', 'colour 1920x1080, depth 240x135 (x8)',
            'DTS Middlebury, 16:9 crops resized to 1920x1080', image, 'lowres',
            lambda: middlebury_frames(1920, 1080, 8)),
        Row('sparse_vga', 'issue 21', 'sparse path 640x480 (KITTI scan at 640x480)',
            f'KITTI scans projected at 640x480, {splits} split(s)', sparse, 'sparse',
            lambda: scan_frames((640, 480), splits=splits, count=count)),
        Row('sparse_hd', 'issue 21', 'sparse path 1280x720 (KITTI scan at 1280x720)',
            f'KITTI scans projected at 1280x720, {splits} split(s)', sparse, 'sparse',
            lambda: scan_frames((1280, 720), splits=splits, count=count)),
        Row('tof_8_3', 'issue 21', 'phone ToF 192x144 beside 512x384 RGB (8/3)',
            'RGB-D-D scenes, ToF = footprint means', image, 'lowres',
            lambda: tof_frames((512, 384), (192, 144), scenes)),
        Row('registered', 'issue 21', 'displaced 424x300 depth camera (5 cm) -> 640x480',
            'NYUv2 + TUM/ICL 640x480, depth rendered in the displaced camera',
            (('depth.mode', 'register'),
             ('depth.to_rgb', depth_to_rgb_pose((-0.05, 0.0, 0.0))[1])), 'sparse',
            lambda: registered_frames(False, DISPLACED_K, (300, 424), (-0.05, 0.0, 0.0), count)),
        Row('lidar64', 'issue 21', '64-beam spinning LiDAR (KITTI HDL-64E), 1242x375',
            f'KITTI scans, {splits} split(s)', sparse, 'sparse',
            lambda: scan_frames(None, splits=splits, count=count)),
        Row('lidar32', 'issue 21', '32-beam spinning LiDAR (every 2nd KITTI laser)',
            f'KITTI full scans, {splits} split(s)', sparse, 'sparse',
            lambda: scan_frames(None, ring_step=2, splits=splits, count=count)),
        Row('realsense_aligned', 'preset', 'RealSense D4xx aligned, 1280x720 '
            '(preset_realsense_aligned.yaml)',
            'NYUv2 with holes + punched holes, 640x360 crops at 1280x720', sparse, 'sparse',
            lambda: holes_frames(True)),
        Row('realsense_unaligned', 'preset', 'RealSense D4xx unaligned: depth 848x480 1.5 cm '
            'beside colour 1280x720 (preset_realsense_unaligned.yaml)',
            'NYUv2 + TUM/ICL crops at 1280x720, depth rendered in the 848x480 camera',
            (('depth.mode', 'register'),
             ('depth.to_rgb', depth_to_rgb_pose((-0.015, 0.0, 0.0))[1])), 'sparse',
            lambda: registered_frames(True, D435_DEPTH_K, (480, 848), (-0.015, 0.0, 0.0), count)),
        Row('orbbec', 'preset', 'Orbbec, D2C depth 640x480 (preset_orbbec.yaml)',
            'NYUv2 with holes + punched holes', sparse, 'sparse',
            lambda: holes_frames(False)),
        Row('zed', 'preset', 'ZED 2i HD720, depth 640x360 (x2) (preset_zed.yaml)',
            'DTS Middlebury 1280x720 crops', image, 'lowres',
            lambda: middlebury_frames(1280, 720, 2)),
        Row('spinning_lidar', 'preset', 'spinning LiDAR cloud (KITTI HDL-64E), 1242x375',
            f'KITTI scans, {splits} split(s); node gets the PointCloud2',
            (('depth.source', 'cloud'), ('cloud.to_rgb', IDENTITY_POSE)), 'sparse',
            lambda: scan_frames(None, splits=splits, cloud=True, count=count), 'lidar64'),
        Row('iphone_lidar', 'preset', 'phone LiDAR 256x192 beside 1920x1440 RGB (7.5)',
            'RGB-D-D scenes resized to 1920x1440, footprint means', image,
            'lowres', lambda: tof_frames((1920, 1440), (256, 192), scenes)),
    ]


# ---------------------------------------------------------------- accuracy


def hole_linear_fill(depth: np.ndarray, scored: np.ndarray, band: int = 3) -> np.ndarray:
    """Linear interpolation of mostly dense depth at the ``scored`` pixels of its holes.

    ``completion_baselines.linear_fill`` triangulates every measurement; on a depth image
    with holes (more than half measured) that is hundreds of thousands of points and
    minutes on this loaded machine. Inside a hole the interpolating triangles join
    measurements on its rim, so only the measurements within ``band`` pixels of a scored
    pixel are triangulated and only the scored pixels are interpolated; pixels outside
    their hull take the nearest measurement (as in ``linear_fill``). Other pixels: NaN.
    """
    valid = np.isfinite(depth) & (depth > 0)
    nearest = completion.nearest_fill(depth)
    out = np.full(depth.shape, np.nan, np.float32)
    out[scored] = nearest[scored]
    kernel = np.ones((2 * band + 1,) * 2, np.uint8)
    rim = valid & cv2.dilate(scored.astype(np.uint8), kernel, iterations=1).astype(bool)
    rows, cols = np.nonzero(rim)
    query_rows, query_cols = np.nonzero(scored)
    if len(rows) >= 3 and len(query_rows):
        linear = interpolate.griddata(np.c_[rows, cols].astype(np.float64),
                                      depth[rim].astype(np.float64),
                                      (query_rows, query_cols), method='linear')
        inside = np.isfinite(linear)
        out[query_rows[inside], query_cols[inside]] = linear[inside]
    return out


def interpolate_frame(frame: Frame, up_mode: str) -> np.ndarray:
    """Bicubic (low-res; holes nearest-filled first) or linear (sparse) interpolation.

    Linear: ``completion_baselines.linear_fill`` for inputs with less than half of the
    pixels measured (scans, registered depth), else :func:`hole_linear_fill`.
    """
    height, width = frame.rgb.shape[:2]
    if up_mode == 'lowres':
        low = frame.up_input
        filled = completion.nearest_fill(low) if np.isnan(low).any() else low
        return cv2.resize(filled, (width, height), interpolation=cv2.INTER_CUBIC)
    if np.isfinite(frame.up_input).mean() > 0.5:
        return hole_linear_fill(frame.up_input, np.isfinite(frame.truth))
    return completion.linear_fill(frame.up_input)


def accuracy(row: Row, frames: Sequence[Frame]) -> Tuple[float, float]:
    """Pooled RMSE of ``up()`` and of interpolation over the scored pixels of ``frames``."""
    upsampler = DepthUpsampler(model='rgb', depth_mode=row.up_mode)
    squared = np.zeros(2)
    count = 0
    for frame in frames:
        scored = np.isfinite(frame.truth)
        outputs = (upsampler(frame.rgb, frame.up_input), interpolate_frame(frame, row.up_mode))
        for index, output in enumerate(outputs):
            error = output[scored].astype(np.float64) - frame.truth[scored]
            squared[index] += float(np.sum(error ** 2))
        count += int(scored.sum())
    dada, interp = np.sqrt(squared / max(count, 1))
    return float(dada), float(interp)


# ---------------------------------------------------------------- the node


def messages(frame: Frame, stamp: int) -> List[Tuple[str, Any]]:
    """Build the messages of one frame, camera_infos first: ``(topic, message)``."""
    from sensor_msgs.msg import CameraInfo, PointCloud2, PointField
    from std_msgs.msg import Header

    from dada_ros.msgs.conversions import array_to_image, rgb_to_image

    def header(frame_id: str) -> Header:
        out = Header(frame_id=frame_id)
        out.stamp.sec = stamp
        return out

    def info(k: np.ndarray, p: np.ndarray, width: int, height: int, frame_id: str) -> Any:
        msg = CameraInfo(width=width, height=height, distortion_model='plumb_bob')
        msg.header = header(frame_id)
        msg.d = [0.0] * 5
        msg.k = [float(v) for v in k.reshape(9)]
        msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        msg.p = [float(v) for v in p.reshape(12)]
        return msg

    height, width = frame.rgb.shape[:2]
    k = frame.camera[:, :3]
    out: List[Tuple[str, Any]] = [('rgb/camera_info', info(k, frame.camera, width, height,
                                                           'rgb_optical'))]
    if frame.depth_k is not None:
        h, w = frame.sensor.shape
        out.append(('depth/camera_info', info(frame.depth_k, np.hstack(
            [frame.depth_k, np.zeros((3, 1))]), w, h, 'depth_optical')))
    if frame.cloud:
        cloud = PointCloud2(height=1, width=len(frame.sensor), is_bigendian=False,
                            point_step=12, row_step=12 * len(frame.sensor), is_dense=True)
        cloud.header = header('rgb_optical')
        cloud.fields = [PointField(name=name, offset=4 * index, datatype=PointField.FLOAT32,
                                   count=1) for index, name in enumerate('xyz')]
        cloud.data = frame.sensor.astype('<f4').tobytes()
        out.append(('cloud', cloud))
    else:
        depth_frame = 'depth_optical' if frame.depth_k is not None else 'rgb_optical'
        out.append(('depth/image', array_to_image(frame.sensor.astype(np.float32), '32FC1',
                                                  header(depth_frame))))
    out.append(('rgb/image', rgb_to_image(frame.rgb, header('rgb_optical'))))
    return out


def node_rate(row: Row, frames: Sequence[Frame], count: int) -> List[float]:
    """Message in -> outputs published (s) of ``count`` frames (after one warm-up frame)."""
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    ns = f'/dada_cameras_{row.key}'
    logs = Path(tempfile.mkdtemp(prefix='dada_cameras_'))
    args = ['-r', f'__ns:={ns}', '--log-level', f'{ns.strip("/")}.dada_node:=debug',
            '-p', 'model:=rgb', '-p', 'qos.reliable_input:=true']
    for name, value in row.params:
        args += ['-p', f"{name}:='{value}'" if value.startswith('[') else f'{name}:={value}']
    node = NodeProcess(logs, args, name=row.key)
    ros = RosHarness(f'dada_cameras_{row.key}')
    try:
        types = {'rgb/image': Image, 'depth/image': Image, 'cloud': PointCloud2,
                 'rgb/camera_info': CameraInfo, 'depth/camera_info': CameraInfo}
        topics = [topic for topic, _ in messages(frames[0], 1)]
        pubs = {topic: ros.publisher(types[topic], f'{ns}/{topic}') for topic in topics}
        arrived: Dict[Tuple[str, int], float] = {}
        both = threading.Event()

        def recorder(topic: str) -> Callable[[Any], None]:
            def record(msg: Any) -> None:
                arrived.setdefault((topic, msg.header.stamp.sec), time.monotonic())
                key = msg.header.stamp.sec
                if ('points', key) in arrived and ('depth_dense/image', key) in arrived:
                    both.set()
            return record

        for topic, kind in (('depth_dense/image', Image), ('points', PointCloud2)):
            ros.node.create_subscription(kind, f'{ns}/{topic}', recorder(topic), 10)
        ros.wait_for_subscribers(pubs.values(), 120.0)
        time.sleep(1.0)  # lazy subscription: let the node see ours and subscribe its inputs
        for index in range(count + 1):
            both.clear()
            for topic, msg in messages(frames[index % len(frames)], 100 + index):
                pubs[topic].publish(msg)
            if not both.wait(120.0):
                raise AssertionError(f'{row.key}: no outputs for frame {index}; node log: '
                                     f'{node.output()[1][-1500:]}')
        time.sleep(0.5)
    finally:
        node.close()
        ros.close()
    latency = node_frames(node.stderr_path.read_text(errors='replace'), 101)['latency']
    if len(latency) != count:
        raise AssertionError(f'{row.key}: {len(latency)} frame log lines, expected {count}')
    return latency


# ---------------------------------------------------------------- the table


def row_line(row: Row, frames: Sequence[Frame], rate: Optional[List[float]],
             scores: Optional[Tuple[float, float]]) -> str:
    """One markdown row."""
    speed = '-'
    if rate:
        mean, p95 = summary(rate)
        median = 1e3 * float(np.median(rate))
        speed = f'{1e3 / median:.1f} Hz ({median:.0f} / {mean:.0f} / {p95:.0f} ms)'
    score = '-'
    if scores:
        dada, interp = scores
        ratio = dada / interp
        score = f'{dada:.4g} / {interp:.4g} = {ratio:.3f} ({100 * (ratio - 1):+.0f} %)'
    sizes = {f.rgb.shape[1::-1] for f in frames}
    size = ('' if len(sizes) == 1 else 'about ') + 'x'.join(str(v) for v in max(sizes))
    names = len({f.name.split('/split')[0] for f in frames})
    load = os.getloadavg()[0]
    return (f'| {row.group} | {row.camera} | `{row.mode()}` | {size} | {speed} | {load:.1f} | '
            f'{score} | {row.data} ({names} frames) | `camera_table.py --rows {row.key}` |')


HEADER = ['| | camera | mode (`depth.mode` / `depth.source`) | RGB size | node rate '
          '(median / mean / p95 ms in -> out) | load | RMSE DADA / interpolation | frames | '
          'command |',
          '|---|---|---|---|---|---|---|---|---|']


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print (and optionally write) the camera table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', default='', help='comma-separated row keys (default all)')
    parser.add_argument('--frames', type=int, default=3,
                        help='node frames per row after one warm-up frame')
    parser.add_argument('--splits', type=int, default=1,
                        help='held-out splits per KITTI scan')
    parser.add_argument('--max-frames', type=int, default=3,
                        help='real frames per row (KITTI scans, RGB-D frames, RGB-D-D '
                             'scenes); 0 = all (9 scans, 5 RGB-D frames, 8 scenes)')
    parser.add_argument('--no-node', action='store_true', help='skip the node rate')
    parser.add_argument('--no-accuracy', action='store_true', help='skip the accuracy')
    parser.add_argument('--markdown', type=Path, help='also write the table to this file')
    args = parser.parse_args(argv)
    rows = make_rows(args.splits, args.max_frames)
    if args.rows:
        known = {row.key: row for row in rows}
        unknown = [key for key in args.rows.split(',') if key not in known]
        if unknown:
            parser.error(f'unknown rows {unknown}; known: {", ".join(known)}')
        rows = [known[key] for key in args.rows.split(',')]
    torch.set_num_threads(2)
    if not args.no_node:
        isolate_network()
        ros_env()
    lines = ['# Camera table', ''] + machine_info(torch.get_num_threads(), 'cpu') + [
        f'- node: model rgb, default budget, cloud published; {args.frames} frames per row '
        'after a warm-up frame; started ' + time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
        '', *HEADER]
    print('\n'.join(lines), flush=True)
    scored: Dict[str, Tuple[float, float]] = {}
    failed = False
    for row in rows:
        start = time.monotonic()
        try:
            frames = row.frames()
            scores = None
            if not args.no_accuracy:
                key = row.accuracy_key or row.key
                scores = scored[key] if key in scored else accuracy(row, frames)
                scored[key] = scores
            rate = None if args.no_node else node_rate(row, frames, args.frames)
            line = row_line(row, frames, rate, scores)
        except (AssertionError, OSError, ValueError, RuntimeError) as error:
            # One failing row (a node that does not answer, missing data) is reported in
            # the table; the other rows still run.
            reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
            line = f'| {row.group} | {row.camera} | `{row.mode()}` | failed: {reason} |'
            failed = True
        lines.append(line)
        print(line, flush=True)
        print(f'<!-- {row.key}: {time.monotonic() - start:.0f} s -->', file=sys.stderr,
              flush=True)
    lines.append('')
    lines.append('- load average at the end: '
                 + ', '.join(f'{v:.2f}' for v in os.getloadavg()))
    if args.markdown:
        args.markdown.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
