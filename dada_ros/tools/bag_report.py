# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""What ``dada_process_bag`` reports: counts, accuracy against ground truth, previews.

* :class:`Report` - the final summary. Its counts are not kept here: frames, messages
  received, bad messages and warnings are the pipeline's
  :class:`~dada_ros.pipeline.Counters` (as ``dada_node`` shows them in ``/diagnostics``),
  unpaired messages and pairing its :class:`~dada_ros.pipeline.PairingStats`; the report
  only adds what the bag tool alone does (messages written, the evaluation, files).
* :class:`FrameReview` - ground truth matched to frames by stamp, RMSE / MAE of DADA and of
  plain bicubic per frame, colour-mapped PNGs and the PLY of the last frame.
* :func:`write_evaluation` - ``eval.csv`` and ``eval.md``; :class:`Progress` - the bar.
"""

from __future__ import annotations

import collections
import csv
from dataclasses import dataclass, field
from pathlib import Path
import time
from typing import Any, Callable, Dict, IO, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .preview import (bicubic_depth, colorize_depth, colorize_error, depth_metrics, depth_range,
                      DepthMetrics, upscale_nearest, write_ply, write_png)
from ..core.geometry import backproject
from ..pipeline import FrameOutputs, PairingStats

__all__ = ['EvalRow', 'Report', 'evaluation_summary', 'write_evaluation', 'Progress',
           'FrameReview', 'MAX_PENDING_EVAL']

#: Dense frames (or ground-truth images) kept while waiting for their partner.
MAX_PENDING_EVAL = 64


@dataclass
class EvalRow:
    """Accuracy of one frame against ground truth (metres)."""

    index: int
    stamp_ns: int
    dada: DepthMetrics
    bicubic: Optional[DepthMetrics]


@dataclass
class Report:
    """Everything ``dada_process_bag`` counted; the counts come from the pipeline."""

    counters: Dict[str, Any] = field(default_factory=dict)
    """:meth:`dada_ros.pipeline.Counters.snapshot` at the end."""
    pairing: Optional[PairingStats] = None
    """:meth:`dada_ros.pipeline.FramePipeline.pairing_stats` at the end."""
    written: Dict[str, int] = field(default_factory=dict)
    """Messages written per topic: the input copied, and the outputs."""
    evaluation: List[EvalRow] = field(default_factory=list)
    frames_without_gt: int = 0
    gt_without_frame: int = 0
    files: List[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def frames(self) -> int:
        """Frames whose outputs were built (``Counters.frames``)."""
        return int(self.counters.get('frames', 0))

    @property
    def received(self) -> Dict[str, int]:
        """Input messages per stream (``rgb``, ``depth``, ``camera_info``, ``gt``...)."""
        return dict(self.counters.get('received', {}))

    @property
    def bad(self) -> Dict[str, int]:
        """Rejected messages as ``stream.kind`` (the node's ``errors.*`` by stream)."""
        return dict(self.counters.get('by_stream', {}).get('error', {}))

    @property
    def warnings(self) -> Dict[str, int]:
        """Warnings by kind (the node's ``warnings.*``)."""
        return dict(self.counters.get('warnings', {}))

    @property
    def emitted(self) -> Dict[str, int]:
        """Output messages written per output topic (relative names)."""
        return dict(self.counters.get('emitted', {}))

    @property
    def frames_without_camera_info(self) -> int:
        """Frames served without camera_info / points: no valid camera_info yet."""
        return self.warnings.get('missing_camera_info', 0)

    @property
    def camera_info_size_mismatch(self) -> int:
        """Frames served without camera_info / points: a camera_info of another size."""
        return self.warnings.get('camera_info_size_mismatch', 0)

    @property
    def sync(self) -> Dict[str, int]:
        """Counters of the stamp pairer (``paired``, ``dropped_late``...)."""
        return dict(self.pairing.stamped) if self.pairing is not None else {}

    @property
    def unpaired(self) -> Dict[str, int]:
        """Per stream: messages that never made a pair (dropped or left queued)."""
        return dict(self.pairing.unpaired) if self.pairing is not None else {}

    def lines(self) -> List[str]:
        """Human-readable summary."""
        rate = self.frames / self.seconds if self.seconds > 0 else float('nan')
        out = [f'frames processed: {self.frames} in {self.seconds:.1f} s ({rate:.2f} frames/s)',
               'input messages: ' + ', '.join(f'{k} {v}'
                                              for k, v in sorted(self.received.items())),
               f'unpaired messages: rgb {self.unpaired.get("rgb", 0)}, depth '
               f'{self.unpaired.get("depth", 0)}',
               f'frames without camera_info: {self.frames_without_camera_info} (dense depth '
               'only, no camera_info / points)']
        if self.camera_info_size_mismatch:
            out.append(f'frames with a camera_info of another size: '
                       f'{self.camera_info_size_mismatch} (no camera_info / points)')
        out.append('bad messages: ' + (', '.join(f'{k} {v}' for k, v in sorted(self.bad.items()))
                                       or 'none'))
        if self.warnings:
            out.append('warnings: ' + ', '.join(f'{k} {v}'
                                                for k, v in sorted(self.warnings.items())))
        out.append('pairing: ' + ', '.join(f'{k} {self.sync.get(k, 0)}' for k in (
            'paired', 'dropped_unpaired', 'dropped_late', 'duplicate', 'overflow', 'reset')))
        out.append('written: ' + ', '.join(f'{k} {v}' for k, v in self.written.items()))
        if self.evaluation or self.frames_without_gt or self.gt_without_frame:
            out.append(evaluation_summary(self.evaluation))
            if self.frames_without_gt or self.gt_without_frame:
                out.append(f'ground truth unmatched: {self.frames_without_gt} frames without, '
                           f'{self.gt_without_frame} ground-truth images without a frame')
        return out


def evaluation_summary(rows: Sequence[EvalRow]) -> str:
    """One line: mean RMSE / MAE of DADA (and bicubic) over ``rows``."""
    if not rows:
        return 'evaluation: no frame with ground truth'
    rmse = np.nanmean([r.dada.rmse for r in rows])
    mae = np.nanmean([r.dada.mae for r in rows])
    text = (f'evaluation over {len(rows)} frames with ground truth: RMSE {rmse:.4f} m, '
            f'MAE {mae:.4f} m')
    cubic = [r.bicubic for r in rows if r.bicubic is not None]
    if cubic:
        text += (f' (bicubic: RMSE {np.nanmean([m.rmse for m in cubic]):.4f} m, '
                 f'MAE {np.nanmean([m.mae for m in cubic]):.4f} m)')
    return text


def write_evaluation(folder: Path, rows: Sequence[EvalRow]) -> List[Path]:
    """Write ``eval.csv`` (one row per frame) and ``eval.md`` (summary + table)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = folder / 'eval.csv', folder / 'eval.md'
    nan = float('nan')
    with open(csv_path, 'w', newline='') as stream:
        table = csv.writer(stream)
        table.writerow(['frame', 'stamp_ns', 'rmse_m', 'mae_m', 'pixels', 'coverage',
                        'bicubic_rmse_m', 'bicubic_mae_m'])
        for row in rows:
            table.writerow([row.index, row.stamp_ns, f'{row.dada.rmse:.6f}',
                            f'{row.dada.mae:.6f}', row.dada.pixels, f'{row.dada.coverage:.4f}',
                            f'{row.bicubic.rmse if row.bicubic else nan:.6f}',
                            f'{row.bicubic.mae if row.bicubic else nan:.6f}'])
    lines = ['# dada_process_bag evaluation', '', evaluation_summary(rows), '',
             '| frame | stamp (s) | RMSE (m) | MAE (m) | bicubic RMSE (m) | bicubic MAE (m) |',
             '|---:|---:|---:|---:|---:|---:|']
    for row in rows:
        lines.append(f'| {row.index} | {row.stamp_ns / 1e9:.3f} | {row.dada.rmse:.4f} | '
                     f'{row.dada.mae:.4f} | {row.bicubic.rmse if row.bicubic else nan:.4f} | '
                     f'{row.bicubic.mae if row.bicubic else nan:.4f} |')
    md_path.write_text('\n'.join(lines) + '\n')
    return [csv_path, md_path]


class Progress:
    """A one-line text progress bar on a stream (only when enabled)."""

    def __init__(self, total: int, stream: IO[str], enabled: bool, width: int = 30) -> None:
        self.total = max(int(total), 1)
        self.stream = stream
        self.enabled = enabled
        self.width = width
        self._last = 0.0

    def update(self, done: int, frames: int, force: bool = False) -> None:
        """Redraw (at most ten times a second unless ``force``)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        share = min(done / self.total, 1.0)
        filled = int(round(share * self.width))
        self.stream.write(f'\r[{"#" * filled}{"." * (self.width - filled)}] {100 * share:5.1f}% '
                          f'{done}/{self.total} messages, {frames} frames')
        self.stream.flush()

    def finish(self, done: int, frames: int) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self.update(done, frames, force=True)
            self.stream.write('\n')
            self.stream.flush()


@dataclass
class _Pending:
    index: int
    dense: np.ndarray
    depth: np.ndarray
    factor: float  # size ratio, any value >= 1


class FrameReview:
    """Ground truth matched to frames by stamp, accuracy rows, previews and the last PLY.

    Args:
        report: Where rows, unmatched counts and written files go.
        on_error: ``(level, kind, stream, message)``: the pipeline's
            :meth:`~dada_ros.pipeline.FramePipeline.report` (a ground-truth image of the
            wrong size is counted as ``gt.size_mismatch``).
        params: The parameters (``points.stride`` / ``points.color`` of the PLY).
        preview_dir: Folder for PNG / PLY previews (``None``: none).
        preview_every: Write the PNGs of every n-th frame.
        eval_dir: Folder for ``eval.csv`` / ``eval.md`` (``None``: none are written).
        depth_range: Colour range (m) of the depth PNGs; default from the first frame.
    """

    def __init__(self, report: Report, on_error: Callable[[str, str, str, str], None],
                 params: Mapping[str, Any], preview_dir: Optional[Path] = None,
                 preview_every: int = 1, eval_dir: Optional[Path] = None,
                 depth_range: Optional[Tuple[float, float]] = None) -> None:
        self.report = report
        self.on_error = on_error
        self.params = params
        self.preview_dir = preview_dir
        self.preview_every = max(1, int(preview_every))
        self.eval_dir = eval_dir
        self.depth_range = depth_range
        self.error_max: Optional[float] = None
        self._dense_waiting: 'collections.OrderedDict[int, _Pending]' = collections.OrderedDict()
        self._gt_waiting: 'collections.OrderedDict[int, np.ndarray]' = collections.OrderedDict()
        self._last: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]] = None

    def frame(self, index: int, stamp: int, rgb: np.ndarray, depth: np.ndarray, factor: float,
              result: FrameOutputs, wait_for_gt: bool) -> None:
        """Review frame ``index``: previews, and its score once its ground truth is here.

        ``rgb (H, W, 3)`` uint8 and ``depth (h, w)`` metres are the frame's inputs,
        ``factor`` their size ratio, ``result`` its outputs; ``wait_for_gt``: the bag has a
        ground-truth topic, so keep the frame until its ground truth arrives.
        """
        if result.info is not None:
            self._last = (result.dense, np.asarray(result.k), rgb)
        self._preview_frame(index, rgb, depth, result.dense)
        gt = self._gt_waiting.pop(stamp, None)
        pending = _Pending(index, result.dense, depth, factor)
        if gt is not None:
            self._evaluate(stamp, pending, gt)
        elif wait_for_gt:
            self._dense_waiting[stamp] = pending
            if len(self._dense_waiting) > MAX_PENDING_EVAL:
                self._dense_waiting.popitem(last=False)
                self.report.frames_without_gt += 1

    def ground_truth(self, stamp: int, gt: np.ndarray) -> None:
        """Score the frame of ``stamp`` against ``gt (H, W)`` metres, or keep it for it."""
        pending = self._dense_waiting.pop(stamp, None)
        if pending is not None:
            self._evaluate(stamp, pending, gt)
            return
        self._gt_waiting[stamp] = gt
        if len(self._gt_waiting) > MAX_PENDING_EVAL:
            self._gt_waiting.popitem(last=False)
            self.report.gt_without_frame += 1

    def _evaluate(self, stamp: int, pending: _Pending, gt: np.ndarray) -> None:
        if gt.shape != pending.dense.shape:
            self.on_error('error', 'size_mismatch', 'gt', f'ground truth is {gt.shape}, the '
                          f'frame {pending.dense.shape}: not scored')
            return
        cubic = None
        if pending.factor > 1:
            upsampled = bicubic_depth(pending.depth, pending.factor)
            cubic = depth_metrics(upsampled, gt) if upsampled is not None else None
        self.report.evaluation.append(EvalRow(pending.index, stamp,
                                              depth_metrics(pending.dense, gt), cubic))
        if self.preview_dir is not None and pending.index % self.preview_every == 0:
            lo, hi = self._range(gt)
            self._png(pending.index, 'gt', colorize_depth(gt, lo, hi))
            if self.error_max is None:
                error = np.abs(pending.dense - gt)
                finite = error[np.isfinite(error)]
                self.error_max = max(0.01, float(np.percentile(finite, 99))) if finite.size \
                    else 0.1
            self._png(pending.index, 'error', colorize_error(pending.dense, gt, self.error_max))

    def _range(self, reference: np.ndarray) -> Tuple[float, float]:
        if self.depth_range is None:
            self.depth_range = depth_range(reference)
        return self.depth_range

    def _png(self, index: int, kind: str, image: np.ndarray) -> None:
        assert self.preview_dir is not None
        self.report.files.append(write_png(self.preview_dir / f'frame_{index:04d}_{kind}.png',
                                           image))

    def _preview_frame(self, index: int, rgb: np.ndarray, depth: np.ndarray,
                       dense: np.ndarray) -> None:
        if self.preview_dir is None or index % self.preview_every:
            return
        lo, hi = self._range(dense)
        self._png(index, 'rgb', rgb)
        self._png(index, 'input', colorize_depth(upscale_nearest(depth, dense.shape), lo, hi))
        self._png(index, 'dense', colorize_depth(dense, lo, hi))

    def finish(self) -> None:
        """Count what never met its partner; write the PLY and the evaluation files."""
        self.report.frames_without_gt += len(self._dense_waiting)
        self.report.gt_without_frame += len(self._gt_waiting)
        self._dense_waiting.clear()
        self._gt_waiting.clear()
        if self.preview_dir is not None and self._last is not None:
            dense, k, rgb = self._last
            stride = int(self.params['points.stride'])
            colours = rgb[::stride, ::stride] if self.params['points.color'] else None
            path = self.preview_dir / 'last_frame.ply'
            write_ply(path, backproject(dense, k, stride), colours, comment='dada_process_bag')
            self.report.files.append(path)
        if self.eval_dir is not None and self.report.evaluation:
            self.report.files.extend(write_evaluation(self.eval_dir, self.report.evaluation))
