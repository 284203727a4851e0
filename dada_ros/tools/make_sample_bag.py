# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_make_sample_bag``: write a short RGB-D rosbag2 with ground truth for tests and demos.

The bag holds, per frame (default 3 s at 10 Hz, 640x480):

* ``/rgb/image`` - ``rgb8`` image;
* ``/rgb/camera_info`` - the pinhole calibration of the RGB camera (``plumb_bob``, no
  distortion), same header as the image;
* ``/depth/image`` - low-resolution depth, ``16UC1`` millimetres (0 = invalid) or
  ``32FC1`` metres, the RGB size divided by ``--factor`` (default 8), registered to the
  RGB camera (same ``frame_id``), stamped ``--depth-offset`` seconds after the RGB image;
* ``/depth_gt/image`` - the full-resolution ground truth, ``32FC1`` metres (NaN = unknown),
  with the RGB header (``--no-gt`` leaves it out).

The scene is the embedded procedural sample (:mod:`dada_ros.tools.sample`) or a
Middlebury-layout folder (``--scene DIR`` with ``view1.png``, ``disp1.png`` and optionally
``dmin.txt``). Frames differ by a slow exposure change, RGB sensor noise and depth noise
that grows with the square of the distance (like structured-light sensors); the geometry
and the calibration stay fixed. Low-resolution depth is the block average of the ground
truth (invalid pixels ignored) plus that noise. Everything is seeded (``--seed``).

``--skip-depth`` and ``--skip-camera-info`` leave out the depth image or the camera_info
of chosen frames, to exercise unpaired-message and missing-calibration handling.

Recordings of real sensors, for the compressed and LiDAR inputs:

* ``--rgb-transport compressed`` writes the RGB image as ``sensor_msgs/CompressedImage``
  (JPEG, image_transport's format) on ``<rgb topic>/compressed`` instead;
* ``--depth-transport compressedDepth`` writes the depth as compressed_depth_image_transport
  does (PNG, or RVL with ``--depth-codec rvl``) on ``<depth topic>/compressedDepth``;
* ``--cloud-topic /points_raw`` adds a ``PointCloud2`` per frame: the ground-truth pixels a
  64-beam LiDAR would hit (:func:`dada_ros.training.lidar.lidar_like_mask`), as float32
  ``x, y, z, intensity`` points in the frame ``lidar`` (x forward, y left, z up, 8 cm above
  the camera); :data:`SAMPLE_CLOUD_TO_RGB` is its ``cloud.to_rgb``.

Log times equal the header stamps plus a small per-topic offset (camera_info first, then
RGB, depth, ground truth), so the bag replays in a realistic order.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import math
from pathlib import Path
import sys
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .bag_io import BagError, BagWriter, STORAGE_FORMATS
from .sample import block_average, sample_scene

__all__ = ['SampleBagOptions', 'SampleFrame', 'load_middlebury_scene', 'sample_frames',
           'camera_info_msg', 'make_sample_bag', 'main', 'SAMPLE_CLOUD_TO_RGB',
           'SAMPLE_CLOUD_FRAME', 'lidar_cloud_msg']

#: Middlebury 2005/2006: baseline (mm) and FullSize focal length (px); disparities in the
#: PNGs are FullSize pixels at every resolution.
MIDDLEBURY_BASELINE_MM = 160.0
MIDDLEBURY_FOCAL_FULL = 3740.0
#: Depth noise sigma (m) = DEPTH_NOISE * z^2 (z in m), structured-light-like.
DEPTH_NOISE = 0.0012
#: Log-time offsets (ns) after the stamp: camera_info, rgb, depth, ground truth.
_LOG_OFFSETS = (1_000_000, 2_000_000, 3_000_000, 4_000_000)
#: Frame of the sample cloud and its transform into the RGB optical frame
#: (``cloud.to_rgb``): LiDAR axes x forward, y left, z up; origin 8 cm above the camera.
SAMPLE_CLOUD_FRAME = 'lidar'
SAMPLE_CLOUD_TO_RGB = '[0.0, -0.08, 0.0, 0.5, -0.5, 0.5, 0.5]'


@dataclass
class SampleBagOptions:
    """What :func:`make_sample_bag` writes (see the module docstring)."""

    duration: float = 3.0
    rate: float = 10.0
    width: int = 640
    height: int = 480
    factor: int = 8
    storage: str = 'sqlite3'
    depth_encoding: str = '16UC1'
    scene: Optional[Path] = None
    frame_id: str = 'camera_color_optical_frame'
    start: float = 1_700_000_000.0
    depth_offset: float = 0.004
    seed: int = 0
    noise: bool = True
    gt: bool = True
    rgb_topic: str = '/rgb/image'
    depth_topic: str = '/depth/image'
    info_topic: str = '/rgb/camera_info'
    gt_topic: str = '/depth_gt/image'
    skip_depth: Tuple[int, ...] = ()
    skip_camera_info: Tuple[int, ...] = ()
    rgb_transport: str = 'raw'
    depth_transport: str = 'raw'
    depth_codec: str = 'png'
    cloud_topic: Optional[str] = None

    @property
    def frames(self) -> int:
        """Return the frame count (at least one)."""
        return max(1, int(round(self.duration * self.rate)))


class SampleFrame(NamedTuple):
    """One frame of the sample bag before conversion to messages."""

    seq: int
    """Frame number, from 0."""
    stamp_ns: int
    rgb: np.ndarray
    """``(H, W, 3)`` uint8 RGB."""
    depth: np.ndarray
    """``(H / factor, W / factor)`` float32 metres, NaN = invalid."""
    gt: np.ndarray
    """``(H, W)`` float32 metres, NaN = unknown."""
    k: np.ndarray
    """``(3, 3)`` float64 camera matrix of the RGB image."""


def load_middlebury_scene(folder: Path) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load a Middlebury scene as ``(rgb, depth_m, K)``.

    ``Z[mm] = 160 * 3740 / (d + dmin)`` with ``d`` the PNG disparity (FullSize pixels) and
    ``dmin`` from ``dmin.txt`` (0 when absent: depth then too large by a constant offset in
    disparity, but consistent with its own ground truth). The focal length is 3740 px scaled
    to the image width (ThirdSize, HalfSize or FullSize); the principal point is centred.
    """
    import cv2

    bgr = cv2.imread(str(folder / 'view1.png'), cv2.IMREAD_COLOR)
    disparity = cv2.imread(str(folder / 'disp1.png'), cv2.IMREAD_UNCHANGED)
    if bgr is None or disparity is None:
        raise ValueError(f'{folder}: expected a Middlebury scene (view1.png, disp1.png)')
    if disparity.ndim == 3:
        disparity = disparity[:, :, 0]
    if disparity.shape != bgr.shape[:2]:
        raise ValueError(f'{folder}: disp1.png and view1.png differ in size')
    dmin_file = folder / 'dmin.txt'
    dmin = float(dmin_file.read_text().split()[0]) if dmin_file.exists() else 0.0
    d = disparity.astype(np.float64)
    with np.errstate(divide='ignore'):
        depth = np.where(d > 0, MIDDLEBURY_BASELINE_MM * MIDDLEBURY_FOCAL_FULL / (d + dmin)
                         / 1000.0, np.nan).astype(np.float32)
    height, width = depth.shape
    scale = 1.0 if width > 1000 else (0.5 if width > 600 else 1.0 / 3.0)
    focal = MIDDLEBURY_FOCAL_FULL * scale
    k = np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0],
                  [0.0, 0.0, 1.0]])
    return np.ascontiguousarray(bgr[:, :, ::-1]), depth, k


def _base_scene(options: SampleBagOptions) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    factor = options.factor
    if options.scene is None:
        if options.height % factor or options.width % factor:
            raise ValueError(f'{options.width}x{options.height} is not divisible by the factor '
                             f'{factor}')
        return sample_scene(options.height, options.width)
    rgb, depth, k = load_middlebury_scene(Path(options.scene))
    height = depth.shape[0] - depth.shape[0] % factor
    width = depth.shape[1] - depth.shape[1] % factor
    if height == 0 or width == 0:
        raise ValueError(f'scene {options.scene} is smaller than the factor {factor}')
    return rgb[:height, :width].copy(), depth[:height, :width].copy(), k


def sample_frames(options: SampleBagOptions) -> Iterator[SampleFrame]:
    """Yield the frames of the sample bag (deterministic for given options)."""
    if not (options.rate > 0 and math.isfinite(options.rate)):
        raise ValueError(f'rate must be > 0 Hz, got {options.rate}')
    if isinstance(options.factor, bool) or options.factor < 1:
        raise ValueError(f'factor must be an integer >= 1, got {options.factor}')
    rgb0, gt, k = _base_scene(options)
    low0 = block_average(gt, options.factor)
    start_ns = int(round(options.start * 1e9))
    period_ns = int(round(1e9 / options.rate))
    for index in range(options.frames):
        rng = np.random.default_rng([options.seed, index])
        t = index / options.rate
        rgb, low = rgb0, low0
        if options.noise:
            gain = 1.0 + 0.08 * math.sin(2.0 * math.pi * t / 2.0)
            noisy = rgb0.astype(np.float32) * gain + rng.normal(0.0, 2.0, rgb0.shape)
            rgb = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
            sigma = DEPTH_NOISE * np.nan_to_num(low0) ** 2
            low = (low0 + rng.normal(0.0, 1.0, low0.shape) * sigma).astype(np.float32)
        yield SampleFrame(index, start_ns + index * period_ns, rgb, low.astype(np.float32),
                          gt, k)


def camera_info_msg(k: np.ndarray, width: int, height: int, header: object) -> object:
    """Build a ``sensor_msgs/CameraInfo`` for an undistorted pinhole camera."""
    from sensor_msgs.msg import CameraInfo

    from ..msgs.conversions import copy_header

    info = CameraInfo()
    info.header = copy_header(header)  # type: ignore[arg-type]
    info.width, info.height = int(width), int(height)
    info.distortion_model = 'plumb_bob'
    info.d = [0.0] * 5
    info.k = [float(v) for v in np.asarray(k, dtype=np.float64).reshape(9)]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [info.k[0], 0.0, info.k[2], 0.0, 0.0, info.k[4], info.k[5], 0.0,
              0.0, 0.0, 1.0, 0.0]
    return info


def _header(stamp_ns: int, frame_id: str) -> object:
    from std_msgs.msg import Header

    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return header


def make_sample_bag(out: Path, options: Optional[SampleBagOptions] = None) -> List[SampleFrame]:
    """Write the sample bag to ``out`` (a new folder); return the frames written.

    Raises:
        BagError: ``out`` exists or the bag cannot be written.
        ValueError: inconsistent options (size not divisible by the factor, ...).
    """
    from ..msgs.conversions import depth_to_image

    options = options or SampleBagOptions()
    if options.depth_encoding not in ('16UC1', '32FC1'):
        raise ValueError(f"depth_encoding must be '16UC1' or '32FC1', got "
                         f'{options.depth_encoding!r}')
    if options.rgb_transport not in ('raw', 'compressed'):
        raise ValueError(f"rgb_transport must be 'raw' or 'compressed', got "
                         f'{options.rgb_transport!r}')
    if options.depth_transport not in ('raw', 'compressedDepth'):
        raise ValueError(f"depth_transport must be 'raw' or 'compressedDepth', got "
                         f'{options.depth_transport!r}')
    frames = list(sample_frames(options))
    offset_ns = int(round(options.depth_offset * 1e9))
    info_off, rgb_off, depth_off, gt_off = _LOG_OFFSETS
    rgb_topic = options.rgb_topic + ('/compressed' if options.rgb_transport == 'compressed'
                                     else '')
    depth_topic = options.depth_topic + ('/compressedDepth'
                                         if options.depth_transport == 'compressedDepth' else '')
    with BagWriter(out, options.storage) as writer:
        for frame in frames:
            header = _header(frame.stamp_ns, options.frame_id)
            height, width = frame.gt.shape
            if frame.seq not in options.skip_camera_info:
                writer.write_msg(options.info_topic, frame.stamp_ns + info_off,
                                 camera_info_msg(frame.k, width, height, header))
            writer.write_msg(rgb_topic, frame.stamp_ns + rgb_off,
                             _rgb_msg(frame.rgb, header, options.rgb_transport))
            if frame.seq not in options.skip_depth:
                depth_header = _header(frame.stamp_ns + offset_ns, options.frame_id)
                writer.write_msg(depth_topic, frame.stamp_ns + offset_ns + depth_off,
                                 _depth_msg(frame.depth, depth_header, options))
            if options.cloud_topic:
                cloud_header = _header(frame.stamp_ns + offset_ns, SAMPLE_CLOUD_FRAME)
                writer.write_msg(options.cloud_topic, frame.stamp_ns + offset_ns + depth_off,
                                 lidar_cloud_msg(frame.gt, frame.k, cloud_header))
            if options.gt:
                writer.write_msg(options.gt_topic, frame.stamp_ns + gt_off,
                                 depth_to_image(frame.gt, header))  # type: ignore[arg-type]
    return frames


def _rgb_msg(rgb: np.ndarray, header: object, transport: str) -> object:
    from ..msgs.compressed import rgb_to_compressed
    from ..msgs.conversions import rgb_to_image

    if transport == 'compressed':
        return rgb_to_compressed(rgb, 'jpeg', header)  # type: ignore[arg-type]
    return rgb_to_image(rgb, header)  # type: ignore[arg-type]


def _depth_msg(depth: np.ndarray, header: object, options: SampleBagOptions) -> object:
    from ..msgs.compressed import depth_to_compressed_depth
    from ..msgs.conversions import array_to_image, depth_to_image

    if options.depth_encoding == '16UC1':
        mm = np.where(np.isfinite(depth), np.rint(depth * 1000.0), 0)
        pixels = np.clip(mm, 0, 65535).astype(np.uint16)
        if options.depth_transport == 'compressedDepth':
            return depth_to_compressed_depth(pixels, '16UC1', options.depth_codec,
                                             header)  # type: ignore[arg-type]
        return array_to_image(pixels, '16UC1', header)  # type: ignore[arg-type]
    if options.depth_transport == 'compressedDepth':
        return depth_to_compressed_depth(depth, '32FC1', options.depth_codec,
                                         header)  # type: ignore[arg-type]
    return depth_to_image(depth, header)  # type: ignore[arg-type]


def lidar_cloud_msg(gt: np.ndarray, k: np.ndarray, header: object) -> object:
    """Return the ground-truth pixels a 64-beam LiDAR hits as a cloud in the LiDAR frame.

    ``gt`` is ``(H, W)`` metres of the camera ``k``; the cloud is ``SAMPLE_CLOUD_FRAME``
    with float32 ``x, y, z, intensity``, the same clouds the sample bag records.
    """
    import array as array_module

    from sensor_msgs.msg import PointCloud2, PointField

    from ..msgs.conversions import copy_header
    from ..core.geometry import backproject
    from ..training.lidar import lidar_like_mask
    from ..core.registration import pose_to_matrix, transform_points

    mask = lidar_like_mask(np.isfinite(gt), float(k[0, 0]), float(k[1, 1]), float(k[0, 2]),
                           float(k[1, 2]))
    points = backproject(np.where(mask, gt, np.nan).astype(np.float32), k)[mask]
    rgb_to_cloud = np.linalg.inv(pose_to_matrix(SAMPLE_CLOUD_TO_RGB))
    lidar = transform_points(points, rgb_to_cloud).astype(np.float32)
    values = np.hstack([lidar, np.ones((len(lidar), 1), np.float32)]).astype('<f4')
    msg = PointCloud2()
    msg.header = copy_header(header)  # type: ignore[arg-type]
    msg.height, msg.width = 1, int(len(values))
    msg.fields = [PointField(name=name, offset=4 * index, datatype=PointField.FLOAT32, count=1)
                  for index, name in enumerate(('x', 'y', 'z', 'intensity'))]
    msg.is_bigendian = False
    msg.point_step, msg.row_step = 16, 16 * int(len(values))
    msg.is_dense = True
    msg.data = array_module.array('B', values.tobytes())
    return msg


def _indices(text: str) -> Tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(',') if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated frame indices, got {text!r}')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line of ``dada_make_sample_bag``."""
    defaults = SampleBagOptions()
    parser = argparse.ArgumentParser(
        prog='dada_make_sample_bag',
        description='Write a short RGB + low-res depth + camera_info + ground-truth rosbag2.')
    parser.add_argument('out', type=Path, help='bag folder to create (must not exist)')
    parser.add_argument('--duration', type=float, default=defaults.duration,
                        help='seconds of data (default %(default)s)')
    parser.add_argument('--rate', type=float, default=defaults.rate,
                        help='frames per second (default %(default)s)')
    parser.add_argument('--width', type=int, default=defaults.width,
                        help='RGB width of the embedded sample (default %(default)s)')
    parser.add_argument('--height', type=int, default=defaults.height,
                        help='RGB height of the embedded sample (default %(default)s)')
    parser.add_argument('--factor', type=int, default=defaults.factor,
                        help='RGB size / depth size (default %(default)s)')
    parser.add_argument('--storage', choices=STORAGE_FORMATS, default=defaults.storage,
                        help='rosbag2 storage (default %(default)s)')
    parser.add_argument('--depth-encoding', choices=('16UC1', '32FC1'),
                        default=defaults.depth_encoding,
                        help='16UC1 millimetres or 32FC1 metres (default %(default)s)')
    parser.add_argument('--scene', type=Path, default=None,
                        help='Middlebury scene folder (view1.png, disp1.png[, dmin.txt]) '
                        'instead of the embedded sample, e.g. '
                        '../shared/data/middlebury_2005_2006_thirdsize/Art')
    parser.add_argument('--frame-id', default=defaults.frame_id,
                        help='optical frame of the images (default %(default)s)')
    parser.add_argument('--start', type=float, default=defaults.start,
                        help='stamp of the first frame, seconds since the epoch')
    parser.add_argument('--depth-offset', type=float, default=defaults.depth_offset,
                        help='depth stamp minus RGB stamp in seconds (default %(default)s)')
    parser.add_argument('--seed', type=int, default=defaults.seed, help='noise seed')
    parser.add_argument('--no-noise', action='store_true',
                        help='identical frames: no exposure change, no sensor noise')
    parser.add_argument('--no-gt', action='store_true', help='leave out the ground truth')
    parser.add_argument('--skip-depth', type=_indices, default=(), metavar='I,J,...',
                        help='frame indices without a depth message')
    parser.add_argument('--skip-camera-info', type=_indices, default=(), metavar='I,J,...',
                        help='frame indices without a camera_info message')
    parser.add_argument('--rgb-transport', choices=('raw', 'compressed'),
                        default=defaults.rgb_transport,
                        help="'compressed': JPEG CompressedImage on <rgb topic>/compressed")
    parser.add_argument('--depth-transport', choices=('raw', 'compressedDepth'),
                        default=defaults.depth_transport,
                        help="'compressedDepth': on <depth topic>/compressedDepth")
    parser.add_argument('--depth-codec', choices=('png', 'rvl'), default=defaults.depth_codec,
                        help='codec of compressedDepth (default %(default)s)')
    parser.add_argument('--cloud-topic', default=None,
                        help='also write a LiDAR-like PointCloud2 per frame on this topic '
                        f'(frame {SAMPLE_CLOUD_FRAME!r}, cloud.to_rgb {SAMPLE_CLOUD_TO_RGB})')
    for name, value in (('rgb-topic', defaults.rgb_topic), ('depth-topic', defaults.depth_topic),
                        ('camera-info-topic', defaults.info_topic),
                        ('gt-topic', defaults.gt_topic)):
        parser.add_argument(f'--{name}', default=value, help='default %(default)s')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``dada_make_sample_bag``; return the exit code."""
    args = parse_args(argv)
    options = SampleBagOptions(
        duration=args.duration, rate=args.rate, width=args.width, height=args.height,
        factor=args.factor, storage=args.storage, depth_encoding=args.depth_encoding,
        scene=args.scene, frame_id=args.frame_id, start=args.start,
        depth_offset=args.depth_offset, seed=args.seed, noise=not args.no_noise,
        gt=not args.no_gt, rgb_topic=args.rgb_topic, depth_topic=args.depth_topic,
        info_topic=args.camera_info_topic, gt_topic=args.gt_topic,
        skip_depth=args.skip_depth, skip_camera_info=args.skip_camera_info,
        rgb_transport=args.rgb_transport, depth_transport=args.depth_transport,
        depth_codec=args.depth_codec, cloud_topic=args.cloud_topic)
    try:
        frames = make_sample_bag(args.out, options)
    except (BagError, ValueError, OSError) as error:
        print(f'dada_make_sample_bag: error: {error}', file=sys.stderr)
        return 1
    height, width = frames[0].gt.shape
    gt = f'on {options.gt_topic}' if options.gt else 'off'
    print(f'wrote {args.out} ({options.storage}): {len(frames)} frames {width}x{height} at '
          f'{options.rate:g} Hz, depth {width // options.factor}x{height // options.factor} '
          f'{options.depth_encoding}, ground truth {gt}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
