# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_process_bag``: run DADA offline over a rosbag2 and write the node's outputs.

``dada_process_bag IN OUT`` reads ``IN`` (sqlite3 or mcap), pairs RGB and depth images with
the node's policy (:class:`dada_ros.core.sync.ApproximateTimePairer` with ``sync.slop`` and
``sync.queue_size``), upsamples every pair and writes ``OUT``: every input message unchanged
plus, per pair, what ``dada_node`` publishes:

* ``depth_dense/image`` - ``32FC1`` metres with the RGB image header;
* ``depth_dense/camera_info`` - the latest valid RGB camera_info with the RGB header;
* ``points`` - organized ``PointCloud2`` (``points.enable``, ``points.color``,
  ``points.stride``);
* with ``--confidence``: ``depth_dense/confidence`` (32FC1, 0..1); with ``--sparse``:
  ``depth_sparse/image`` (the registered depth or the projected cloud, 32FC1 metres).

Inputs as recorded from real sensors: ``--rgb-topic`` and ``--depth-topic`` may be
``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage`` topics (image_transport
``compressed`` / ``compressedDepth``), chosen by the topic's type in the bag;
``--depth-camera-info-topic`` (default ``/depth/camera_info``, used when present) gives the
depth camera's K for ``depth.mode: register``; ``--cloud-topic`` pairs a ``PointCloud2``
(e.g. a LiDAR) with the RGB images instead of the depth topic (``depth.source: cloud`` is
implied). Offline there is no TF: set ``depth.to_rgb`` / ``cloud.to_rgb`` with ``-p`` when
the frames differ.

Output topics are the node's names under ``--namespace`` (default ``/``). Each output is
logged at the log time of the input message that completed its pair. Every frame takes the
node's road, :class:`dada_ros.pipeline.FramePipeline` (decoding, checks, pairing, zero
stamps, camera_info by stamp else the latest, solve, output messages, counters); unlike the
live node, no pair is dropped for being busy: every pair is processed.

Parameters come from the node's YAML (``--params-file``, default the packaged
``config/dada.yaml``), read with rcl's rules by :func:`dada_ros.core.params.read_params_file`
for the node ``<--namespace>/<--node-name>``, with ``-p name:=value`` overrides, validated
against :mod:`dada_ros.core.params`.

The final report counts frames processed, unpaired messages per stream, frames without
camera_info, bad messages and warnings by kind (the node's kinds, ``stream.kind``); nothing
is dropped silently. With ``--preview DIR``
colour-mapped PNGs (input, dense, ground truth, error) and a ``.ply`` of the last frame are
written. When the bag has a ground-truth topic (``--gt-topic``, default
``/depth_gt/image``, ``32FC1`` metres or ``16UC1`` millimetres at the RGB size with the RGB
stamp) RMSE and MAE per frame are printed and written as ``eval.csv`` and ``eval.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
import math
import os
from pathlib import Path
import sys
import time
from typing import Any, Dict, IO, List, Mapping, Optional, Sequence, Tuple

from .bag_io import (BagError, BagReader, BagWriter, deserialize, message_class, RawMessage,
                     stamp_ns, STORAGE_FORMATS)
from .bag_report import (EvalRow, evaluation_summary, FrameReview, Progress,  # noqa: F401 (API)
                         Report, write_evaluation)
from .package_files import packaged_params_file
from ..core.params import (NODE_NAME, parse_override, read_params_file,  # noqa: F401 (API)
                           resolve_parameters)
from ..pipeline import FramePipeline, OUTPUT_TOPICS, PairedFrame

__all__ = ['Topics', 'Report', 'BagProcessor', 'packaged_params_file', 'read_params_file',
           'parse_override', 'resolve_parameters', 'output_topics', 'process_bag', 'main']

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
CAMERA_INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
CLOUD_TYPE = 'sensor_msgs/msg/PointCloud2'


# --- parameters and topics ------------------------------------------------------------------
def node_fqn(namespace: str, node_name: str = NODE_NAME) -> str:
    """Fully qualified node name, e.g. ``('/cam', 'dada_node')`` -> ``/cam/dada_node``."""
    ns = namespace.strip('/')
    return f'/{ns}/{node_name}' if ns else f'/{node_name}'


@dataclass(frozen=True)
class Topics:
    """Input topics (absolute names) and the namespace of the outputs."""

    rgb: str = '/rgb/image'
    depth: str = '/depth/image'
    camera_info: str = '/rgb/camera_info'
    gt: Optional[str] = '/depth_gt/image'
    namespace: str = '/'
    depth_camera_info: Optional[str] = '/depth/camera_info'
    cloud: Optional[str] = None
    """A ``PointCloud2`` topic paired in place of ``depth`` (``None``: the depth image)."""


def output_topics(namespace: str) -> Dict[str, str]:
    """Absolute output topic names of a node in ``namespace``: key = the node's name."""
    ns = '/' + namespace.strip('/')
    prefix = ns if ns != '/' else ''
    return {name: f'{prefix}/{name}' for name in OUTPUT_TOPICS.values()}


# --- the bag processor ----------------------------------------------------------------------
class BagProcessor:
    """Stream a bag through the node's :class:`~dada_ros.pipeline.FramePipeline` into a bag.

    Args:
        params: Validated parameter values.
        topics: Input topic names and the output namespace.
        preview_dir: Folder for PNG / PLY previews (``None``: none).
        preview_every: Write the PNGs of every n-th frame.
        eval_dir: Folder for ``eval.csv`` / ``eval.md`` (``None``: none are written).
        depth_range: Colour range (m) of the depth PNGs; default from the first frame.
    """

    def __init__(self, params: Mapping[str, Any], topics: Topics = Topics(),
                 preview_dir: Optional[Path] = None, preview_every: int = 1,
                 eval_dir: Optional[Path] = None,
                 depth_range: Optional[Tuple[float, float]] = None,
                 write_confidence: bool = False, write_sparse: bool = False) -> None:
        self.params = dict(params)
        if topics.cloud:
            self.params['depth.source'] = 'cloud'
        self.topics = topics
        self.pipeline = FramePipeline(self.params)
        self.write_confidence = write_confidence
        self.write_sparse = write_sparse
        self._classes: Dict[str, type] = {}
        self.outputs = output_topics(topics.namespace)
        self.report = Report()
        self.review = FrameReview(self.report, self.pipeline.report, self.params, preview_dir,
                                  preview_every, eval_dir, depth_range)

    @property
    def frames(self) -> int:
        """Frames processed so far (the pipeline's count)."""
        return self.pipeline.counters.frames

    # -- input ---------------------------------------------------------------------------------
    def check_topics(self, reader: BagReader) -> List[str]:
        """Validate the input topics; return warnings (``ValueError`` on a fatal problem)."""
        warnings = []
        image_types = (IMAGE_TYPE, COMPRESSED_TYPE)
        expected: Dict[str, Tuple[str, ...]] = {self.topics.rgb: image_types,
                                                self.topics.camera_info: (CAMERA_INFO_TYPE,)}
        if self.topics.cloud:
            expected[self.topics.cloud] = (CLOUD_TYPE,)
        else:
            expected[self.topics.depth] = image_types
        optional = {self.topics.gt, self.topics.depth_camera_info}
        if self.topics.gt:
            expected[self.topics.gt] = (IMAGE_TYPE,)
        if self.topics.depth_camera_info and not self.topics.cloud:
            expected[self.topics.depth_camera_info] = (CAMERA_INFO_TYPE,)
        for topic, msgtypes in expected.items():
            info = reader.topics.get(topic)
            if info is None:
                if topic not in optional:
                    warnings.append(f'topic {topic} is not in the bag')
                elif topic == self.topics.gt:
                    self.topics = dataclasses.replace(self.topics, gt=None)
            elif info.msgtype not in msgtypes:
                raise ValueError(f'topic {topic} has type {info.msgtype}, expected '
                                 f'{" or ".join(msgtypes)}')
            else:
                self._classes[topic] = message_class(info.msgtype)
        clash = sorted(set(self.outputs.values()) & set(reader.topics))
        if clash:
            raise ValueError(f'the input bag already has output topics {clash}; choose another '
                             '--namespace')
        return warnings

    def _decode(self, raw: RawMessage, stream: str, cls: type) -> Optional[Any]:
        try:
            return deserialize(raw.data, cls)
        except Exception:  # noqa: B902 - rclpy raises several types on malformed CDR
            # The pipeline counts what reaches it as received; this message never does.
            self.pipeline.counters.receive(stream)
            self.pipeline.report('error', 'deserialize_error', stream,
                                 f'{raw.topic}: message does not deserialize')
            return None

    def feed(self, raw: RawMessage, writer: BagWriter) -> None:
        """Handle one input message (already copied to the output by the caller)."""
        from sensor_msgs.msg import CameraInfo, Image, PointCloud2

        topic = raw.topic
        pipeline = self.pipeline
        classes = self._classes
        if topic == self.topics.camera_info:
            msg = self._decode(raw, 'camera_info', CameraInfo)
            if msg is not None:
                pipeline.add_camera_info(msg, self.topics.rgb)
        elif topic == self.topics.rgb:
            msg = self._decode(raw, 'rgb', classes.get(topic, Image))
            if msg is not None:
                for frame in pipeline.add_rgb(msg, arrival=0.0):
                    self._frame(frame, raw.log_time, writer)
        elif self.topics.cloud and topic == self.topics.cloud:
            msg = self._decode(raw, 'cloud', PointCloud2)
            if msg is not None:
                for frame in pipeline.add_cloud(msg, arrival=0.0):
                    self._frame(frame, raw.log_time, writer)
        elif topic == self.topics.depth and not self.topics.cloud:
            msg = self._decode(raw, 'depth', classes.get(topic, Image))
            if msg is not None:
                for frame in pipeline.add_depth(msg, arrival=0.0):
                    self._frame(frame, raw.log_time, writer)
        elif self.topics.depth_camera_info and topic == self.topics.depth_camera_info \
                and not self.topics.cloud:
            msg = self._decode(raw, 'depth_camera_info', CameraInfo)
            if msg is not None:
                pipeline.add_depth_camera_info(msg)
        elif self.topics.gt and topic == self.topics.gt:
            self._ground_truth(raw)

    def _ground_truth(self, raw: RawMessage) -> None:
        from sensor_msgs.msg import Image

        from ..msgs.conversions import image_to_depth, ImageConversionError

        msg = self._decode(raw, 'gt', Image)
        if msg is None:
            return
        self.pipeline.counters.receive('gt')  # the pipeline never sees ground truth
        try:
            gt = image_to_depth(msg)
        except ImageConversionError as error:
            self.pipeline.report('error', error.kind, 'gt', str(error))
            return
        self.review.ground_truth(stamp_ns(msg.header), gt)

    def _frame(self, frame: PairedFrame, log_time: int, writer: BagWriter) -> None:
        result = self.pipeline.process(frame, want_confidence=self.write_confidence,
                                       want_sparse=self.write_sparse)

        def send(topic: str, message: Any) -> bool:
            writer.write_msg(self.outputs[topic], log_time, message)
            return True
        self.pipeline.emit(result, send)
        index = self.frames - 1  # the pipeline counted this frame when it built its outputs
        self.review.frame(index, frame.stamp_ns, frame.rgb, frame.depth, frame.factor, result,
                          wait_for_gt=bool(self.topics.gt))

    def finish(self) -> None:
        """Settle the counters and write the PLY and evaluation files."""
        self.report.counters = self.pipeline.counters.snapshot()
        self.report.pairing = self.pipeline.pairing_stats()
        self.review.finish()


def process_bag(in_path: Path, out_path: Path, params: Mapping[str, Any],
                topics: Topics = Topics(), storage: Optional[str] = None,
                preview_dir: Optional[Path] = None, preview_every: int = 1,
                eval_dir: Optional[Path] = None,
                depth_range: Optional[Tuple[float, float]] = None,
                progress: Optional[IO[str]] = None, write_confidence: bool = False,
                write_sparse: bool = False) -> Report:
    """Process ``in_path`` into ``out_path`` (see the module docstring); return the report.

    Args:
        storage: ``'sqlite3'``, ``'mcap'`` or ``None`` (the input's format).
        progress: Stream for the progress bar (``None``: no bar).
        write_confidence: Also write ``depth_dense/confidence``.
        write_sparse: Also write ``depth_sparse/image`` (registered / projected input).

    Raises:
        BagError: the input cannot be read or the output cannot be written.
        ValueError: bad topics or parameters.
    """
    started = time.monotonic()
    processor = BagProcessor(params, topics, preview_dir, preview_every, eval_dir, depth_range,
                             write_confidence, write_sparse)
    with BagReader(in_path) as reader:
        for warning in processor.check_topics(reader):
            print(f'warning: {warning}', file=sys.stderr)
        bar = Progress(reader.message_count, progress or sys.stderr, progress is not None)
        with BagWriter(out_path, storage or reader.storage) as writer:
            for info in reader.topics.values():
                for connection in info.connections:
                    writer.add_topic(info.name, connection.msgtype, like=connection)
            done = 0
            for raw in reader.messages():
                writer.write(raw.topic, raw.msgtype, raw.log_time, raw.data)
                processor.feed(raw, writer)
                done += 1
                bar.update(done, processor.frames)
            bar.finish(done, processor.frames)
            processor.finish()
            processor.report.written = dict(writer.counts)
    processor.report.seconds = time.monotonic() - started
    return processor.report


# --- command line ---------------------------------------------------------------------------
def _depth_range_arg(text: str) -> Tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected MIN,MAX in metres, got {text!r}') from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise argparse.ArgumentTypeError(f'expected MIN < MAX, got {text!r}')
    return lo, hi


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line of ``dada_process_bag``."""
    defaults = Topics()
    parser = argparse.ArgumentParser(
        prog='dada_process_bag',
        description="Run DADA depth super-resolution over a rosbag2 and write the node's "
        'outputs (depth_dense/image, depth_dense/camera_info, points) into a new bag.')
    parser.add_argument('input', type=Path, help='input bag (folder, sqlite3 or mcap)')
    parser.add_argument('output', type=Path, help='output bag folder (must not exist)')
    parser.add_argument('--storage', choices=('same',) + STORAGE_FORMATS, default='same',
                        help='storage of the output bag (default: as the input)')
    parser.add_argument('--params-file', type=Path, default=None,
                        help='ROS 2 parameter YAML (default: the packaged config/dada.yaml)')
    parser.add_argument('--node-name', default=NODE_NAME,
                        help='node name whose sections of the parameter file apply, in '
                        "--namespace, with rcl's rules (/**, /**/NAME, NS/NAME...; default "
                        '%(default)s)')
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='parameter override, e.g. -p iterations:=32 (repeatable)')
    parser.add_argument('--rgb-topic', default=defaults.rgb, help='default %(default)s')
    parser.add_argument('--depth-topic', default=defaults.depth, help='default %(default)s')
    parser.add_argument('--camera-info-topic', default=defaults.camera_info,
                        help='default %(default)s')
    parser.add_argument('--depth-camera-info-topic', default=defaults.depth_camera_info,
                        help="the depth camera's camera_info, for depth.mode register "
                        '(used when in the bag; default %(default)s)')
    parser.add_argument('--cloud-topic', default=None,
                        help='pair this PointCloud2 topic (e.g. a LiDAR) with the RGB images '
                        'instead of --depth-topic (implies depth.source cloud; set '
                        'cloud.to_rgb with -p when its frame is not the RGB frame)')
    parser.add_argument('--confidence', action='store_true',
                        help='also write depth_dense/confidence (32FC1, 0..1)')
    parser.add_argument('--sparse', action='store_true',
                        help='also write depth_sparse/image (the registered depth or the '
                        'projected cloud)')
    parser.add_argument('--gt-topic', default=defaults.gt,
                        help='ground-truth depth topic for the evaluation (default '
                        "%(default)s; '' = none)")
    parser.add_argument('--namespace', default=defaults.namespace,
                        help='namespace of the output topics (default %(default)s)')
    parser.add_argument('--preview', type=Path, default=None, metavar='DIR',
                        help='write colour-mapped PNGs and last_frame.ply into DIR')
    parser.add_argument('--preview-every', type=int, default=1, metavar='N',
                        help='PNGs for every N-th frame only (default %(default)s)')
    parser.add_argument('--depth-range', type=_depth_range_arg, default=None,
                        metavar='MIN,MAX', help='colour range of the depth PNGs in metres '
                        '(default: 1st..99th percentile of the first frame)')
    parser.add_argument('--eval-dir', type=Path, default=None, metavar='DIR',
                        help='where eval.csv / eval.md go (default: the --preview DIR, else '
                        'OUTPUT_eval next to the output bag)')
    parser.add_argument('--jobs', type=int, default=None, metavar='N',
                        help='INPUT is a folder of bags: process them with N parallel '
                        'processes, one per bag, into OUTPUT/<bag> '
                        '(see dada_ros.tools.batch_bags)')
    parser.add_argument('--threads', type=int, default=None, metavar='T',
                        help='with --jobs: threads per process (default: cores / N)')
    bar = parser.add_mutually_exclusive_group()
    bar.add_argument('--progress', dest='progress', action='store_true', default=None,
                     help='show a progress bar (default: when stderr is a terminal)')
    bar.add_argument('--no-progress', dest='progress', action='store_false')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``dada_process_bag``; return the exit code (0 ok, 1 error, 2 usage)."""
    args = parse_args(argv)
    if args.jobs is not None:
        from .batch_bags import run_batch
        return run_batch(args, args.threads)
    try:
        params_file = args.params_file or packaged_params_file()
        fqn = node_fqn(args.namespace, args.node_name)
        file_values = read_params_file(params_file, fqn) if params_file else {}
        overrides = dict(parse_override(text) for text in args.param)
        params = resolve_parameters(file_values, overrides, warn=sys.stderr)
    except ValueError as error:
        print(f'dada_process_bag: error: {error}', file=sys.stderr)
        return 2
    topics = Topics(args.rgb_topic, args.depth_topic, args.camera_info_topic,
                    args.gt_topic or None, args.namespace,
                    args.depth_camera_info_topic or None, args.cloud_topic or None)
    try:
        with BagReader(args.input) as reader:
            has_gt = bool(topics.gt) and topics.gt in reader.topics
    except BagError as error:
        print(f'dada_process_bag: error: {error}', file=sys.stderr)
        return 1
    eval_dir = args.eval_dir
    if eval_dir is None and has_gt:
        eval_dir = args.preview or args.output.with_name(args.output.name + '_eval')
    show = sys.stderr.isatty() if args.progress is None else args.progress
    print(f'dada_process_bag: {args.input} -> {args.output} (params '
          f'{params_file or "defaults"}; model {params["model"]}, solver {params["solver"]}, '
          f'iterations {params["iterations"]}, device {params["device"]})', file=sys.stderr)
    try:
        report = process_bag(args.input, args.output, params, topics,
                             None if args.storage == 'same' else args.storage,
                             args.preview, args.preview_every, eval_dir, args.depth_range,
                             sys.stderr if show else None, args.confidence, args.sparse)
    except (BagError, ValueError, OSError) as error:
        print(f'dada_process_bag: error: {error}', file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    for path in report.files:
        if path.suffix != '.png':
            print(f'wrote {path}')
    pngs = sum(1 for p in report.files if p.suffix == '.png')
    if pngs:
        print(f'wrote {pngs} PNG previews to {args.preview}')
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    sys.exit(main())
