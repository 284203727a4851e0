# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_demo``: the real ``dada_node`` upsamples an RGB-D frame over ROS topics.

The demo starts ``dada_node`` in a child process (with the packaged ``config/dada.yaml``),
publishes the embedded procedural sample (or ``--input``) as RGB (``rgb8``), camera info and
a low-resolution ``16UC1`` depth image (millimetres, block-averaged by ``--factor``) with
reliable QoS, and waits for ``depth_dense/image`` and ``points``. Per frame it prints the
latency (first publish to reception) and the accuracy (RMSE / MAE in metres against the
ground truth, next to plain bicubic upsampling of the same input). It writes to ``--out``
a preview PNG (RGB | low-res input | dense output | absolute error) and a coloured binary
PLY point cloud of the last frame. Exit code 0 on success; 1 when the node produced
nothing in time (the tail of its log is printed); 2 for bad arguments or input.

DDS stays on this machine: the demo sets ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` and
``ROS_LOCALHOST_ONLY=1`` for itself and the node, and uses its own ``ROS_DOMAIN_ID``
(``--domain-id``; default: the environment's, else one derived from the process id).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from .preview import depth_metrics, DepthMetrics
from .sample import block_average, sample_scene
from ..core.inputs import prepare_lowres

Array = np.ndarray
PACKAGE = 'dada_ros'
FRAME_ID = 'camera_color_optical_frame'
#: Middlebury 2005/2006: focal length (FullSize pixels) and baseline (mm).
MIDDLEBURY_FOCAL_FULL = 3740.0
MIDDLEBURY_BASELINE_MM = 160.0


class DemoScene(NamedTuple):
    """One RGB-D input: RGB uint8, ground-truth depth in metres (NaN = unknown), K."""

    name: str
    rgb: Array
    depth: Array
    k: Array


# --- inputs ---------------------------------------------------------------------------------
def _read_png(path: Path, flags: int) -> Array:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise ValueError(f'cannot read image {path}')
    return image


def load_middlebury(folder: Path) -> DemoScene:
    """Load ``view1.png`` + ``disp1.png`` (+ ``dmin.txt``) as metric depth.

    ``Z[mm] = 160 * 3740 / (d + dmin)`` with ``d`` in FullSize pixels; without ``dmin.txt``
    ``dmin = 0`` is used (depth then too large, but consistent with its own ground truth).
    The focal length is scaled to the image width (ThirdSize ~ 450 px, HalfSize ~ 690 px).
    """
    bgr = _read_png(folder / 'view1.png', cv2.IMREAD_COLOR)
    disp = _read_png(folder / 'disp1.png', cv2.IMREAD_UNCHANGED).astype(np.float64)
    if disp.ndim == 3:
        disp = disp[:, :, 0]
    dmin_file = folder / 'dmin.txt'
    if dmin_file.exists():
        dmin = float(dmin_file.read_text().split()[0])
    else:
        dmin = 0.0
        print(f'[demo] note: {folder} has no dmin.txt; depth assumes dmin = 0')
    width = bgr.shape[1]
    scale = 1.0 if width > 1000 else (0.5 if width > 600 else 1.0 / 3.0)
    with np.errstate(divide='ignore'):
        depth = np.where(disp > 0, MIDDLEBURY_BASELINE_MM * MIDDLEBURY_FOCAL_FULL
                         / (disp + dmin) / 1000.0, np.nan)
    f = MIDDLEBURY_FOCAL_FULL * scale
    h, w = depth.shape
    k = np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1]], dtype=np.float64)
    return DemoScene(folder.name, np.ascontiguousarray(bgr[:, :, ::-1]),
                     depth.astype(np.float32), k)


def load_pair(rgb_path: Path, depth_path: Path, intrinsics: Optional[str]) -> DemoScene:
    """Load an RGB image and a 16-bit depth PNG in millimetres (0 = invalid)."""
    bgr = _read_png(rgb_path, cv2.IMREAD_COLOR)
    raw = _read_png(depth_path, cv2.IMREAD_UNCHANGED)
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(f'{depth_path}: expected a single-channel 16-bit PNG in millimetres, '
                         f'got {raw.dtype} {raw.shape}')
    if raw.shape != bgr.shape[:2]:
        raise ValueError(f'{depth_path} is {raw.shape[1]}x{raw.shape[0]} but {rgb_path} is '
                         f'{bgr.shape[1]}x{bgr.shape[0]}; they must have the same size')
    depth = np.where(raw > 0, raw.astype(np.float32) / 1000.0, np.nan).astype(np.float32)
    h, w = depth.shape
    if intrinsics:
        try:
            fx, fy, cx, cy = (float(v) for v in intrinsics.split(','))
        except ValueError:
            raise ValueError(f'--intrinsics must be fx,fy,cx,cy, got {intrinsics!r}') from None
    else:
        fx = fy = 525.0 * w / 640.0
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    k = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float64)
    return DemoScene(rgb_path.stem, np.ascontiguousarray(bgr[:, :, ::-1]), depth, k)


def load_frame(spec: Optional[str], intrinsics: Optional[str]) -> DemoScene:
    """Return the embedded sample (``spec`` None) or the frame named by ``--input``."""
    if not spec:
        rgb, depth, k = sample_scene()
        return DemoScene('embedded sample', rgb, depth, k)
    if ',' in spec:
        rgb_path, depth_path = (Path(p).expanduser() for p in spec.split(',', 1))
        return load_pair(rgb_path, depth_path, intrinsics)
    folder = Path(spec).expanduser()
    if not (folder / 'view1.png').exists() or not (folder / 'disp1.png').exists():
        raise ValueError(f'--input {spec}: expected a Middlebury scene folder (view1.png, '
                         'disp1.png) or RGB_PNG,DEPTH_PNG')
    return load_middlebury(folder)


def crop_to_factor(frame: DemoScene, factor: int) -> DemoScene:
    """Crop the bottom/right so that both sides are multiples of ``factor`` (K unchanged)."""
    h, w = frame.depth.shape
    h2, w2 = h - h % factor, w - w % factor
    if h2 == 0 or w2 == 0:
        raise ValueError(f'image {w}x{h} is smaller than the factor {factor}')
    return DemoScene(frame.name, frame.rgb[:h2, :w2].copy(), frame.depth[:h2, :w2].copy(), frame.k)


def to_millimetres(depth_m: Array) -> Array:
    """Metres (NaN = invalid) to ``16UC1`` millimetres (0 = invalid)."""
    mm = np.where(np.isfinite(depth_m), np.rint(depth_m * 1000.0), 0.0)
    return np.clip(mm, 0, 65535).astype(np.uint16)


# --- evaluation and outputs -------------------------------------------------------------------
def bicubic(low_m: Array, factor: int) -> Array:
    """Plain bicubic upsampling of the low-resolution input (holes filled first)."""
    try:
        prepared = prepare_lowres(low_m, factor)
    except ValueError:  # no valid pixel
        return np.full((low_m.shape[0] * factor, low_m.shape[1] * factor), np.nan, np.float32)
    return (prepared.initial * np.float32(prepared.scale)).astype(np.float32)


def _colour(depth: Array, lo: float, hi: float) -> Array:
    scaled = (np.nan_to_num(depth, nan=lo) - lo) / max(hi - lo, 1e-9)
    img = cv2.applyColorMap(np.clip(scaled * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    img[~np.isfinite(depth)] = 0
    return img


def _label(panel: Array, lines: Sequence[str]) -> Array:
    h, w = panel.shape[:2]
    scale = max(0.4, min(0.7, w / 900.0))
    bar = np.full((int(26 * scale / 0.5) * len(lines) + 6, w, 3), 32, np.uint8)
    for i, text in enumerate(lines):
        y = int(22 * scale / 0.5) * (i + 1)
        cv2.putText(bar, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return np.vstack([bar, panel])


def write_preview(path: Path, frame: DemoScene, low_m: Array, dense: Array, factor: int,
                  dada: DepthMetrics, cubic: DepthMetrics) -> None:
    """Write RGB | low-res input | dense output | abs error, colour-mapped, labelled."""
    h, w = frame.depth.shape
    finite = frame.depth[np.isfinite(frame.depth)]
    lo, hi = (float(np.percentile(finite, 1)), float(np.percentile(finite, 99))) \
        if finite.size else (0.0, 1.0)
    error = np.abs(dense - frame.depth)
    finite_err = error[np.isfinite(error)]
    err_hi = max(0.05, float(np.percentile(finite_err, 99))) if finite_err.size else 0.05
    low_big = cv2.resize(low_m, (w, h), interpolation=cv2.INTER_NEAREST)
    err_img = _colour(error, 0.0, err_hi)
    err_img[~np.isfinite(frame.depth)] = 0
    panels = [
        _label(np.ascontiguousarray(frame.rgb[:, :, ::-1]), ['RGB guide', frame.name]),
        _label(_colour(low_big, lo, hi), [f'input 16UC1 x{factor} ({low_m.shape[1]}x'
                                          f'{low_m.shape[0]})',
                                          f'colour {lo:.2f}-{hi:.2f} m; bicubic RMSE '
                                          f'{cubic.rmse:.3f} m']),
        _label(_colour(dense, lo, hi), ['dada_node depth_dense/image',
                                        f'RMSE {dada.rmse:.3f} m  MAE {dada.mae:.3f} m']),
        _label(err_img, ['|dense - ground truth|', f'colour 0-{err_hi:.2f} m']),
    ]
    cv2.imwrite(str(path), np.hstack(panels))


def write_ply(path: Path, xyz: Array, rgb: Optional[Array]) -> int:
    """Write finite points as a binary little-endian PLY (with colours); return the count."""
    points = xyz.reshape(-1, 3).astype(np.float32)
    keep = np.isfinite(points).all(axis=1)
    colours = (rgb.reshape(-1, 3) if rgb is not None
               else np.full(points.shape, 200, np.uint8))[keep]
    points = points[keep]
    vertex = np.empty(len(points), dtype=[('x', '<f4'), ('y', '<f4'), ('z', '<f4'),
                                          ('red', 'u1'), ('green', 'u1'), ('blue', 'u1')])
    for i, name in enumerate('xyz'):
        vertex[name] = points[:, i]
    for i, name in enumerate(('red', 'green', 'blue')):
        vertex[name] = colours[:, i]
    header = ('ply\nformat binary_little_endian 1.0\ncomment dada_ros demo\n'
              f'element vertex {len(points)}\n'
              'property float x\nproperty float y\nproperty float z\n'
              'property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n')
    with open(path, 'wb') as f:
        f.write(header.encode('ascii'))
        f.write(vertex.tobytes())
    return len(points)


# --- the node process ------------------------------------------------------------------------
def package_file(relative: str) -> Optional[Path]:
    """Find a packaged file: the source tree first, then the ament index (installed)."""
    source = Path(__file__).resolve().parents[2] / relative
    if source.exists():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory(PACKAGE)) / relative
    except (ImportError, LookupError, ValueError, OSError):  # not installed via ament
        return None
    return installed if installed.exists() else None


def node_command(params_file: Optional[Path], iterations: Optional[int]) -> List[str]:
    """Command line of the ``dada_node`` child (the current interpreter, ``-m``)."""
    cmd = [sys.executable, '-m', f'{PACKAGE}.node', '--ros-args']
    if params_file is not None:
        cmd += ['--params-file', str(params_file)]
    # The demo publishes with reliable QoS; subscribe alike so no image is lost.
    cmd += ['-p', 'qos.reliable_input:=true']
    if iterations is not None:
        cmd += ['-p', f'iterations:={iterations}']
    return cmd


def localhost_env(domain_id: int) -> Dict[str, str]:
    """Return the environment for this process and the node: DDS on this machine only."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROS_LOCALHOST_ONLY'] = '1'
    env['ROS_DOMAIN_ID'] = str(domain_id)
    root = str(Path(__file__).resolve().parents[2])
    env['PYTHONPATH'] = root + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
    env['PYTHONUNBUFFERED'] = '1'
    return env


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return '\n'.join(path.read_text(errors='replace').splitlines()[-lines:])
    except OSError:
        return '(no log)'


def _stop(process: 'subprocess.Popen[bytes]') -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- main ---------------------------------------------------------------------------------------
def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog='dada_demo', description=__doc__.split('\n\n')[0] if __doc__ else None)
    parser.add_argument('--frames', type=int, default=10, help='frames to send (default 10)')
    parser.add_argument('--factor', type=int, default=8,
                        help='upsampling factor of the low-res depth (default 8)')
    parser.add_argument('--iterations', type=int, default=None,
                        help='override the node parameter iterations')
    parser.add_argument('--out', type=Path, default=Path('out'),
                        help='output folder (default out/)')
    parser.add_argument('--input', default=None,
                        help='Middlebury scene folder (view1.png, disp1.png, dmin.txt) or '
                        'RGB_PNG,DEPTH_PNG (16-bit mm); default: the embedded sample')
    parser.add_argument('--intrinsics', default=None,
                        help='fx,fy,cx,cy for an RGB/depth PNG pair')
    parser.add_argument('--timeout', type=float, default=120.0,
                        help='seconds to wait for the node to start and for each frame')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID (default: the environment or one from the pid)')
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error('--frames must be >= 1')
    if args.factor < 1:
        parser.error('--factor must be >= 1')
    if args.iterations is not None and args.iterations < 1:
        parser.error('--iterations must be >= 1')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the demo; return the exit code (0 ok, 1 node produced nothing, 2 bad input)."""
    args = parse_args(argv)
    try:
        frame = crop_to_factor(load_frame(args.input, args.intrinsics), args.factor)
    except (ValueError, OSError) as error:
        print(f'[demo] error: {error}', file=sys.stderr)
        return 2
    domain = args.domain_id
    if domain is None:
        env_domain = os.environ.get('ROS_DOMAIN_ID', '')
        domain = int(env_domain) if env_domain.isdigit() else 1 + os.getpid() % 100
    env = localhost_env(domain)
    os.environ.update({k: env[k] for k in ('ROS_AUTOMATIC_DISCOVERY_RANGE',
                                           'ROS_LOCALHOST_ONLY', 'ROS_DOMAIN_ID')})
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)

    h, w = frame.depth.shape
    low_m = block_average(frame.depth, args.factor)
    low_mm = to_millimetres(low_m)
    low_sent = np.where(low_mm > 0, low_mm.astype(np.float32) / 1000.0, np.nan)
    cubic = depth_metrics(bicubic(low_sent, args.factor), frame.depth)
    print(f'[demo] input: {frame.name}, RGB {w}x{h}, depth 16UC1 {low_mm.shape[1]}x'
          f'{low_mm.shape[0]} (x{args.factor}), {args.frames} frame(s), ROS_DOMAIN_ID={domain}')

    params_file = package_file('config/dada.yaml')
    if params_file is None:
        print('[demo] warning: config/dada.yaml not found; the node uses its defaults')
    cmd = node_command(params_file, args.iterations)
    log_path = out_dir / 'dada_node.log'
    print(f'[demo] starting: {" ".join(cmd)}  (log: {log_path})')
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        return _run(args, frame, low_mm, low_sent, cubic, process, log_path)
    finally:
        _stop(process)


def _run(args: argparse.Namespace, frame: DemoScene, low_mm: Array, low_sent: Array,
         cubic: DepthMetrics, process: 'subprocess.Popen[bytes]', log_path: Path) -> int:
    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2
    from std_msgs.msg import Header

    from ..msgs.conversions import array_to_image, image_to_depth, read_points, rgb_to_image

    rclpy.init(args=None)
    node = rclpy.create_node('dada_demo')
    try:
        qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE)
        pub_rgb = node.create_publisher(Image, 'rgb/image', qos)
        pub_info = node.create_publisher(CameraInfo, 'rgb/camera_info', qos)
        pub_depth = node.create_publisher(Image, 'depth/image', qos)
        received: Dict[str, Dict[Tuple[int, int], object]] = {'depth': {}, 'points': {}}
        arrival: Dict[Tuple[int, int], float] = {}

        def on_depth(msg: Image) -> None:
            key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
            received['depth'][key] = msg
            arrival.setdefault(key, time.perf_counter())

        def on_points(msg: PointCloud2) -> None:
            received['points'][(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg

        sub_depth = node.create_subscription(Image, 'depth_dense/image', on_depth, qos)
        sub_points = node.create_subscription(PointCloud2, 'points', on_points, qos)

        def failed(reason: str) -> int:
            print(f'[demo] FAILED: {reason}\n[demo] last lines of {log_path}:\n'
                  f'{_tail(log_path)}', file=sys.stderr)
            return 1

        # Both directions must be matched before the first frame: the node publishes
        # ``points`` only while it sees a subscriber, and volatile topics do not replay.
        deadline = time.monotonic() + args.timeout
        while min(pub_rgb.get_subscription_count(), pub_depth.get_subscription_count(),
                  pub_info.get_subscription_count(), sub_depth.get_publisher_count(),
                  sub_points.get_publisher_count()) == 0:
            if process.poll() is not None:
                return failed(f'dada_node exited with code {process.returncode}')
            if time.monotonic() > deadline:
                return failed(f'dada_node did not connect within {args.timeout:.0f} s')
            rclpy.spin_once(node, timeout_sec=0.1)
        # Each side sees the match on its own; a short pause lets the node's writers see our
        # readers as well.
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:
            rclpy.spin_once(node, timeout_sec=0.05)
        print('[demo] dada_node is up')

        h, w = frame.depth.shape
        info = CameraInfo()
        info.width, info.height = w, h
        info.distortion_model = 'plumb_bob'
        info.d = [0.0] * 5
        info.k = [float(v) for v in frame.k.reshape(-1)]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [float(frame.k[0, 0]), 0.0, float(frame.k[0, 2]), 0.0,
                  0.0, float(frame.k[1, 1]), float(frame.k[1, 2]), 0.0, 0.0, 0.0, 1.0, 0.0]
        latencies: List[float] = []
        dense: Optional[Array] = None
        result = DepthMetrics(float('nan'), float('nan'), 0, 0.0)
        points_msg = None
        base = node.get_clock().now().nanoseconds
        for i in range(args.frames):
            stamp_ns = base + i * 100_000_000
            header = Header(frame_id=FRAME_ID)
            header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
            key = (header.stamp.sec, header.stamp.nanosec)
            info.header = header
            start = time.perf_counter()
            pub_info.publish(info)
            pub_rgb.publish(rgb_to_image(frame.rgb, header))
            pub_depth.publish(array_to_image(low_mm, '16UC1', header))
            deadline = time.monotonic() + args.timeout
            while key not in received['depth']:
                if process.poll() is not None:
                    return failed(f'dada_node exited with code {process.returncode}')
                if time.monotonic() > deadline:
                    return failed(f'no depth_dense/image for frame {i + 1} within '
                                  f'{args.timeout:.0f} s')
                rclpy.spin_once(node, timeout_sec=0.01)
            latency_ms = (arrival[key] - start) * 1000.0
            latencies.append(latency_ms)
            grace = time.monotonic() + 2.0  # the cloud follows the depth image
            while key not in received['points'] and time.monotonic() < grace:
                rclpy.spin_once(node, timeout_sec=0.01)
            points_msg = received['points'].get(key)
            dense = image_to_depth(received['depth'][key])  # type: ignore[arg-type]
            if dense.shape != frame.depth.shape:
                return failed(f'depth_dense/image is {dense.shape[1]}x{dense.shape[0]}, '
                              f'expected {w}x{h}')
            result = depth_metrics(dense, frame.depth)
            print(f'[demo] frame {i + 1}/{args.frames}: latency {latency_ms:7.1f} ms | '
                  f'DADA RMSE {result.rmse:.4f} m MAE {result.mae:.4f} m | '
                  f'bicubic RMSE {cubic.rmse:.4f} m MAE {cubic.mae:.4f} m | '
                  f'points {"yes" if points_msg is not None else "no"}')
            received['depth'].clear()
            received['points'].clear()
        assert dense is not None
        steady = latencies[1:] or latencies
        print(f'[demo] latency: first {latencies[0]:.1f} ms, then median '
              f'{float(np.median(steady)):.1f} ms (min {min(steady):.1f}, max '
              f'{max(steady):.1f}) over {len(steady)} frame(s)')
        print(f'[demo] accuracy vs ground truth: DADA RMSE {result.rmse:.4f} m, MAE '
              f'{result.mae:.4f} m, coverage {100 * result.coverage:.1f}% | bicubic RMSE '
              f'{cubic.rmse:.4f} m, MAE {cubic.mae:.4f} m')
        preview = args.out / 'demo_preview.png'
        write_preview(preview, frame, low_sent, dense, args.factor, result, cubic)
        if points_msg is not None:
            fields = read_points(points_msg)  # type: ignore[arg-type]
            xyz = np.stack([fields['x'], fields['y'], fields['z']], axis=-1)
            colours = fields.get('rgb')
            source = 'the points topic'
        else:
            from ..core.geometry import backproject
            xyz = backproject(dense, frame.k)
            colours = frame.rgb
            source = 'depth_dense/image (no points message received)'
        ply = args.out / 'demo_points.ply'
        count = write_ply(ply, xyz, colours)
        print(f'[demo] wrote {preview} and {ply} ({count} points from {source})')
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
