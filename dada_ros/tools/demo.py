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
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

from .make_sample_bag import camera_info_msg
from .package_files import PACKAGE, packaged_params_file
from .preview import (bicubic_depth, colorize_depth, colorize_error, depth_metrics, depth_range,
                      DepthMetrics, label_panel, upscale_nearest, write_ply, write_png)
from .sample import block_average, sample_scene
from ..pipeline import OUTPUT_TOPICS

Array = np.ndarray
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
def bicubic_metrics(low_m: Array, factor: int, truth: Array) -> DepthMetrics:
    """Accuracy of plain bicubic upsampling of the low-res input (NaN without valid input)."""
    upsampled = bicubic_depth(low_m, factor)
    if upsampled is None:
        return DepthMetrics(float('nan'), float('nan'), 0, 0.0)
    return depth_metrics(upsampled, truth)


def write_preview(path: Path, frame: DemoScene, low_m: Array, dense: Array, factor: int,
                  dada: DepthMetrics, cubic: DepthMetrics) -> None:
    """Write RGB | low-res input | dense output | abs error, colour-mapped, labelled."""
    lo, hi = depth_range(frame.depth)
    error = np.abs(dense - frame.depth)
    finite_err = error[np.isfinite(error)]
    err_hi = max(0.05, float(np.percentile(finite_err, 99))) if finite_err.size else 0.05
    low_big = upscale_nearest(low_m, frame.depth.shape)
    panels = [
        label_panel(frame.rgb, ['RGB guide', frame.name]),
        label_panel(colorize_depth(low_big, lo, hi),
                    [f'input 16UC1 x{factor} ({low_m.shape[1]}x{low_m.shape[0]})',
                     f'colour {lo:.2f}-{hi:.2f} m; bicubic RMSE {cubic.rmse:.3f} m']),
        label_panel(colorize_depth(dense, lo, hi),
                    [f'dada_node {OUTPUT_TOPICS["depth"]}',
                     f'RMSE {dada.rmse:.3f} m  MAE {dada.mae:.3f} m']),
        label_panel(colorize_error(dense, frame.depth, err_hi),
                    ['|dense - ground truth|', f'colour 0-{err_hi:.2f} m']),
    ]
    write_png(path, np.hstack(panels))


# --- the node process ------------------------------------------------------------------------
def node_command(params_file: Optional[Path], iterations: Optional[int]) -> List[str]:
    """Command line of the ``dada_node`` child (the current interpreter, ``-m``)."""
    cmd = [sys.executable, '-m', f'{PACKAGE}.ros.node', '--ros-args']
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


class NodeFailed(Exception):
    """``dada_node`` exited, did not connect or did not answer in time (the reason)."""


class NodeLink:
    """The demo's side of the topics: inputs published, the node's outputs received.

    ``received[topic]`` maps a stamp ``(sec, nanosec)`` to the message of the output
    ``topic`` (:data:`~dada_ros.pipeline.OUTPUT_TOPICS` names ``depth_dense/image`` and
    ``points``); ``arrival`` the time the depth image of a stamp arrived.
    """

    def __init__(self, node: Any, process: 'subprocess.Popen[bytes]', timeout: float) -> None:
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image, PointCloud2

        self.node = node
        self.process = process
        self.timeout = timeout
        qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE)
        self.pub_rgb = node.create_publisher(Image, 'rgb/image', qos)
        self.pub_info = node.create_publisher(CameraInfo, 'rgb/camera_info', qos)
        self.pub_depth = node.create_publisher(Image, 'depth/image', qos)
        self.depth_topic, self.points_topic = OUTPUT_TOPICS['depth'], OUTPUT_TOPICS['points']
        self.received: Dict[str, Dict[Tuple[int, int], Any]] = {
            self.depth_topic: {}, self.points_topic: {}}
        self.arrival: Dict[Tuple[int, int], float] = {}
        self.sub_depth = node.create_subscription(Image, self.depth_topic, self._on_depth, qos)
        self.sub_points = node.create_subscription(
            PointCloud2, self.points_topic,
            lambda msg: self.received[self.points_topic].__setitem__(_key(msg.header), msg), qos)

    def _on_depth(self, msg: Any) -> None:
        key = _key(msg.header)
        self.received[self.depth_topic][key] = msg
        self.arrival.setdefault(key, time.perf_counter())

    def _spin_until(self, done: Callable[[], bool], what: str, timeout: float,
                    period: float = 0.01) -> None:
        import rclpy

        deadline = time.monotonic() + timeout
        while not done():
            if self.process.poll() is not None:
                raise NodeFailed(f'dada_node exited with code {self.process.returncode}')
            if time.monotonic() > deadline:
                raise NodeFailed(f'{what} within {timeout:.0f} s')
            rclpy.spin_once(self.node, timeout_sec=period)

    def connect(self) -> None:
        """Wait until the node and the demo see each other in both directions.

        The node publishes ``points`` only while it sees a subscriber, and volatile topics
        do not replay: so both directions must be matched before the first frame.
        """
        self._spin_until(lambda: min(
            self.pub_rgb.get_subscription_count(), self.pub_depth.get_subscription_count(),
            self.pub_info.get_subscription_count(), self.sub_depth.get_publisher_count(),
            self.sub_points.get_publisher_count()) > 0, 'dada_node did not connect',
            self.timeout, 0.1)
        # Each side sees the match on its own; a short pause lets the node's writers see our
        # readers as well.
        import rclpy
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def round_trip(self, index: int, stamp_ns: int, frame: DemoScene,
                   low_mm: Array) -> Tuple[float, Any, Any]:
        """Send frame ``index``; return ``(latency ms, depth_dense/image, points or None)``."""
        from std_msgs.msg import Header

        from ..msgs.conversions import array_to_image, rgb_to_image

        header = Header(frame_id=FRAME_ID)
        header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        key = _key(header)
        height, width = frame.depth.shape
        info = camera_info_msg(frame.k, width, height, header)
        start = time.perf_counter()
        self.pub_info.publish(info)
        self.pub_rgb.publish(rgb_to_image(frame.rgb, header))
        self.pub_depth.publish(array_to_image(low_mm, '16UC1', header))
        depth, points = self.received[self.depth_topic], self.received[self.points_topic]
        self._spin_until(lambda: key in depth,
                         f'no {self.depth_topic} for frame {index + 1}', self.timeout)
        try:  # the cloud follows the depth image
            self._spin_until(lambda: key in points, 'no points', 2.0)
        except NodeFailed:
            pass
        result = ((self.arrival[key] - start) * 1000.0, depth[key], points.get(key))
        depth.clear()
        points.clear()
        return result


def _key(header: Any) -> Tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


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
    cubic = bicubic_metrics(low_sent, args.factor, frame.depth)
    print(f'[demo] input: {frame.name}, RGB {w}x{h}, depth 16UC1 {low_mm.shape[1]}x'
          f'{low_mm.shape[0]} (x{args.factor}), {args.frames} frame(s), ROS_DOMAIN_ID={domain}')

    params_file = packaged_params_file()
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
    """Talk to the running node: connect, send the frames, write the results."""
    import rclpy

    rclpy.init(args=None)
    node = rclpy.create_node('dada_demo')
    try:
        link = NodeLink(node, process, args.timeout)
        link.connect()
        print('[demo] dada_node is up')
        dense, result, points_msg = _send_frames(link, args, frame, low_mm, cubic)
        preview = args.out / 'demo_preview.png'
        write_preview(preview, frame, low_sent, dense, args.factor, result, cubic)
        ply = args.out / 'demo_points.ply'
        count, source = _write_cloud(ply, points_msg, dense, frame)
        print(f'[demo] wrote {preview} and {ply} ({count} points from {source})')
        return 0
    except NodeFailed as failure:
        print(f'[demo] FAILED: {failure}\n[demo] last lines of {log_path}:\n'
              f'{_tail(log_path)}', file=sys.stderr)
        return 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def _send_frames(link: NodeLink, args: argparse.Namespace, frame: DemoScene, low_mm: Array,
                 cubic: DepthMetrics) -> Tuple[Array, DepthMetrics, Any]:
    """Send ``--frames`` frames, print each one's numbers; return the last dense, metrics, points.

    Raises:
        NodeFailed: the node died, or a frame's dense depth did not come back in time.
    """
    from ..msgs.conversions import image_to_depth

    latencies: List[float] = []
    dense = np.empty((0, 0), np.float32)
    result = DepthMetrics(float('nan'), float('nan'), 0, 0.0)
    points_msg = None
    base = link.node.get_clock().now().nanoseconds
    for i in range(args.frames):
        latency_ms, depth_msg, points_msg = link.round_trip(i, base + i * 100_000_000, frame,
                                                            low_mm)
        latencies.append(latency_ms)
        dense = image_to_depth(depth_msg)
        if dense.shape != frame.depth.shape:
            raise NodeFailed(f'{OUTPUT_TOPICS["depth"]} is {dense.shape[1]}x{dense.shape[0]}, '
                             f'expected {frame.depth.shape[1]}x{frame.depth.shape[0]}')
        result = depth_metrics(dense, frame.depth)
        print(f'[demo] frame {i + 1}/{args.frames}: latency {latency_ms:7.1f} ms | '
              f'DADA RMSE {result.rmse:.4f} m MAE {result.mae:.4f} m | '
              f'bicubic RMSE {cubic.rmse:.4f} m MAE {cubic.mae:.4f} m | '
              f'points {"yes" if points_msg is not None else "no"}')
    steady = latencies[1:] or latencies
    print(f'[demo] latency: first {latencies[0]:.1f} ms, then median '
          f'{float(np.median(steady)):.1f} ms (min {min(steady):.1f}, max '
          f'{max(steady):.1f}) over {len(steady)} frame(s)')
    print(f'[demo] accuracy vs ground truth: DADA RMSE {result.rmse:.4f} m, MAE '
          f'{result.mae:.4f} m, coverage {100 * result.coverage:.1f}% | bicubic RMSE '
          f'{cubic.rmse:.4f} m, MAE {cubic.mae:.4f} m')
    return dense, result, points_msg


def _write_cloud(path: Path, points_msg: Any, dense: Array, frame: DemoScene) -> Tuple[int, str]:
    """Write the last frame's cloud as PLY; return ``(points written, where they came from)``.

    The node's ``points`` message when one came, else ``dense`` back-projected with K.
    """
    if points_msg is not None:
        from ..msgs.clouds import read_points

        fields = read_points(points_msg)
        xyz = np.stack([fields['x'], fields['y'], fields['z']], axis=-1)
        colours = fields.get('rgb')
        source = f'the {OUTPUT_TOPICS["points"]} topic'
    else:
        from ..core.geometry import backproject

        xyz = backproject(dense, frame.k)
        colours = frame.rgb
        source = f'{OUTPUT_TOPICS["depth"]} (no points message received)'
    return write_ply(path, xyz, colours, comment='dada_ros demo'), source


if __name__ == '__main__':
    sys.exit(main())
