# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""In-process tests of the one frame pipeline (dada_ros.pipeline), without DDS.

Real messages (sensor_msgs, encoded by the project's converters) go in; the tests check
the policies the node and the bag tool share: pairing and zero stamps, the camera_info
choice, what is an error and what a warning, the accounting of every message, huge depth
values, run-time parameters and cancellation. Also the Python API of ``DepthUpsampler``.
"""

from __future__ import annotations

import inspect
from typing import Any, List, Optional, Tuple
import warnings

from dada_ros.core.diffusion import SolveCancelled
from dada_ros.core.upsampler import DepthUpsampler
from dada_ros.msgs.clouds import read_points
from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
from dada_ros.pipeline import Event, FramePipeline, MAX_DEPTH_M, PairedFrame
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
import torch

H, W, FACTOR = 48, 64, 4
FX = 50.0
FAST = {'model': 'rgb', 'iterations': 4, 'device': 'cpu'}


def header(sec: int, nanosec: int = 0, frame_id: str = 'cam') -> Header:
    """Return a header with the given stamp."""
    out = Header(frame_id=frame_id)
    out.stamp.sec, out.stamp.nanosec = sec, nanosec
    return out


def camera_info(stamp: Header, fx: float = FX) -> CameraInfo:
    """Return a valid pinhole camera_info for the H x W rgb image."""
    info = CameraInfo(header=stamp, width=W, height=H)
    info.k = [fx, 0.0, W / 2, 0.0, fx, H / 2, 0.0, 0.0, 1.0]
    return info


def rgb_image(stamp: Header, seed: int = 0) -> Any:
    """Return a random rgb8 image message."""
    rgb = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return rgb_to_image(rgb, stamp)


def depth_image(stamp: Header, value: float = 2.0,
                array: Optional[np.ndarray] = None) -> Any:
    """Return a 32FC1 low-res depth message (metres)."""
    depth = np.full((H // FACTOR, W // FACTOR), value, np.float32) if array is None else array
    return array_to_image(depth, '32FC1', stamp)


def make(**params: Any) -> Tuple[FramePipeline, List[Event]]:
    """Return a pipeline with the fast parameters and a list collecting its events."""
    events: List[Event] = []
    pipeline = FramePipeline({**FAST, **params}, on_event=events.append)
    return pipeline, events


def test_a_pair_becomes_outputs_with_camera_info_and_cloud() -> None:
    pipeline, events = make()
    pipeline.add_camera_info(camera_info(header(10)))
    assert pipeline.add_rgb(rgb_image(header(10)), arrival=1.0) == []
    frames = pipeline.add_depth(depth_image(header(10, 10_000_000)), arrival=2.0)
    assert len(frames) == 1 and frames[0].arrival == 2.0 and frames[0].factor == FACTOR
    outputs = pipeline.process(frames[0])
    np.testing.assert_allclose(outputs.dense, 2.0, rtol=1e-4)
    np.testing.assert_allclose(image_to_depth(outputs.depth), outputs.dense)
    assert outputs.info is not None and outputs.points is not None and outputs.reason is None
    assert outputs.info.header.stamp.sec == 10 and outputs.depth.header.frame_id == 'cam'
    assert read_points(outputs.points)['x'].size == H * W
    assert events == []
    snapshot = pipeline.counters.snapshot()
    assert snapshot['received'] == {'camera_info': 1, 'rgb': 1, 'depth': 1}
    assert snapshot['frames'] == 1


def test_camera_info_of_the_frame_stamp_wins_else_the_latest_at_pairing() -> None:
    pipeline, _ = make()
    pipeline.add_camera_info(camera_info(header(1), fx=40.0))
    pipeline.add_rgb(rgb_image(header(2)))
    frame = pipeline.add_depth(depth_image(header(2)))[0]
    # A camera_info with the frame's own stamp arrives after the pair: it is used.
    pipeline.add_camera_info(camera_info(header(2), fx=60.0))
    assert pipeline.process(frame).info.k[0] == 60.0  # type: ignore[union-attr]
    pipeline.add_rgb(rgb_image(header(3)))
    frame = pipeline.add_depth(depth_image(header(3)))[0]
    pipeline.add_camera_info(camera_info(header(4), fx=70.0))  # newer, but not this stamp
    assert pipeline.process(frame).info.k[0] == 60.0  # type: ignore[union-attr]


def test_missing_camera_info_is_a_warning_and_the_depth_is_still_served() -> None:
    pipeline, events = make()
    pipeline.add_rgb(rgb_image(header(5)))
    outputs = pipeline.process(pipeline.add_depth(depth_image(header(5)))[0])
    assert outputs.info is None and outputs.points is None
    assert outputs.reason == 'missing_camera_info'
    assert [(e.level, e.kind) for e in events] == [('warning', 'missing_camera_info')]


def test_zero_stamps_pair_by_arrival_and_are_counted_as_events() -> None:
    pipeline, events = make()
    frames: List[PairedFrame] = []
    for k in range(3):
        frames += pipeline.add_rgb(rgb_image(header(0), seed=k), arrival=float(k))
        frames += pipeline.add_depth(depth_image(header(0), value=1.0 + k), arrival=k + 0.5)
    assert len(frames) == 3
    assert [float(np.nanmean(f.depth)) for f in frames] == [1.0, 2.0, 3.0]
    counts = pipeline.counters.snapshot()['events']
    assert counts == {'sync_unstamped_rgb': 3, 'sync_unstamped_depth': 3}
    assert all(e.level == 'info' for e in events)


def test_all_invalid_depth_is_a_warning_and_the_frame_is_all_nan() -> None:
    pipeline, events = make()
    pipeline.add_rgb(rgb_image(header(7)))
    frames = pipeline.add_depth(depth_image(header(7), value=float('nan')))
    assert len(frames) == 1
    assert np.isnan(pipeline.process(frames[0]).dense).all()
    assert ('warning', 'all_invalid_depth') in [(e.level, e.kind) for e in events]


@pytest.mark.parametrize('values', ['two_huge', 'all_huge'])
def test_huge_finite_depth_values_are_made_invalid_and_counted(values: str) -> None:
    """Keep the frame finite with 3e38 m in two pixels (or 1e35 m everywhere)."""
    pipeline, events = make()
    depth = np.full((H // FACTOR, W // FACTOR), 2.0, np.float32)
    if values == 'two_huge':
        depth[1, 1] = depth[5, 7] = 3e38
    else:
        depth[:] = 1e35
    pipeline.add_rgb(rgb_image(header(8)))
    frame = pipeline.add_depth(depth_image(header(8), array=depth))[0]
    dense = pipeline.process(frame).dense
    kinds = [(e.level, e.kind) for e in events]
    assert ('warning', 'implausible_depth') in kinds
    if values == 'two_huge':
        assert np.isfinite(dense).all() and np.nanmax(dense) <= MAX_DEPTH_M
        assert float(np.median(dense)) == pytest.approx(2.0, rel=1e-3)
    else:
        assert np.isnan(dense).all() and ('warning', 'all_invalid_depth') in kinds


def test_the_core_normalises_huge_values_without_overflow() -> None:
    """Keep DepthUpsampler itself (no plausibility limit) finite for 1e35 everywhere.

    The float32 mean of so many such values overflows to inf; the float64 one does not.
    """
    rgb = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    depth = np.full((120, 160), 1e35, np.float32)
    depth[0, 0] = 1e37
    with np.errstate(over='ignore'):
        assert not np.isfinite(depth.mean())
    dense = DepthUpsampler.from_params(FAST)(rgb, depth)
    assert np.isfinite(dense).all()
    assert np.median(dense) == pytest.approx(1e35, rel=1e-2)


def test_rejections_are_errors_by_stream_and_every_message_is_accounted_for() -> None:
    pipeline, events = make()
    bad = rgb_image(header(20))
    bad.encoding = 'yuv422'
    assert pipeline.add_rgb(bad) == []
    short = depth_image(header(21))
    short.data = short.data[:10]
    assert pipeline.add_depth(short) == []
    info = camera_info(header(20))
    info.k = [0.0] * 9
    pipeline.add_camera_info(info)
    pipeline.add_rgb(rgb_image(header(22)))
    other_aspect = np.ones((9, 16), np.float32)  # any size ratio is served, another aspect not
    assert pipeline.add_depth(depth_image(header(22), array=other_aspect)) == []
    pipeline.add_rgb(rgb_image(header(23)))
    pipeline.add_rgb(rgb_image(header(23)))            # duplicate
    pipeline.add_depth(depth_image(header(23)))          # pairs
    pipeline.add_rgb(rgb_image(header(24)))              # stays queued
    snapshot = pipeline.counters.snapshot()
    assert snapshot['by_stream']['error'] == {
        'rgb.unknown_encoding': 1, 'depth.data_too_short': 1,
        'camera_info.bad_camera_info': 1, 'frame.size_mismatch': 1}
    stats, per_stream = pipeline.pairer.stats, pipeline.pairer.stream_stats
    assert stats['paired'] == 2 and stats['duplicate'] == 1
    for stream in ('rgb', 'depth'):
        rejected = sum(v for k, v in snapshot['by_stream']['error'].items()
                       if k.startswith(stream + '.'))
        ended = sum(per_stream[stream].values()) + pipeline.pairer.pending[stream]
        assert snapshot['received'][stream] == rejected + ended, stream
    pipeline.reset()  # deactivate: the queued rgb is counted, not lost
    assert pipeline.pairer.stats['dropped_reset'] == 1
    assert {e.kind for e in events} >= {'unknown_encoding', 'data_too_short', 'size_mismatch'}


def test_read_only_message_buffers_give_no_warning() -> None:
    """Deserialised message data is read-only; torch.from_numpy would warn on it."""
    pipeline, _ = make()
    msg = rgb_image(header(30))
    msg.data = bytes(msg.data)  # immutable buffer, as a deserialised message has
    pipeline.add_rgb(msg)
    frame = pipeline.add_depth(depth_image(header(30)))[0]
    frame.rgb.setflags(write=False)
    frame.depth.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        pipeline.process(frame)


def test_solver_parameters_apply_to_the_next_frame_and_cancel_stops_a_solve() -> None:
    pipeline, _ = make()
    pipeline.set_param('iterations', 7)
    assert pipeline.parameter_change_pending
    pipeline.add_rgb(rgb_image(header(40)))
    frame = pipeline.add_depth(depth_image(header(40)))[0]
    pipeline.process(frame)
    assert pipeline.upsampler.iterations == 7 and not pipeline.parameter_change_pending
    with pytest.raises(ValueError):
        pipeline.set_param('model', 'learned')  # needs a restart
    with pytest.raises(ValueError):
        pipeline.set_param('iterations', 0)
    pipeline.set_param('iterations', 5000)
    polls: List[int] = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) > 3
    with pytest.raises(SolveCancelled):
        pipeline.process(frame, cancel=cancel)
    pipeline.set_param('points.enable', False)
    pipeline.add_camera_info(camera_info(header(41)))
    pipeline.add_rgb(rgb_image(header(41)))
    outputs = pipeline.process(pipeline.add_depth(depth_image(header(41)))[0])
    assert outputs.info is not None and outputs.points is None


def test_buffers_of_a_huge_frame_are_released() -> None:
    """4000x3000 then small frames; release() gives the solver buffers back to the system."""
    def anon_mb() -> float:
        text = open('/proc/self/status').read()
        return int(text.split('RssAnon:')[1].split()[0]) / 1024
    pipeline, _ = make(**{'iterations': 1, 'points.enable': False})
    rng = np.random.default_rng(5)

    def serve(height: int, width: int, sec: int) -> None:
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        pipeline.add_rgb(rgb_to_image(rgb, header(sec)))
        low = np.full((height // FACTOR, width // FACTOR), 2.0, np.float32)
        pipeline.process(pipeline.add_depth(depth_image(header(sec), array=low))[0])
    serve(H, W, 50)
    base = anon_mb()
    serve(3000, 4000, 51)
    peak = anon_mb()
    serve(H, W, 52)
    pipeline.upsampler.release()
    after = anon_mb()
    # The heap this process had before (other tests) may absorb part of the peak; what
    # must hold is that the big frame's memory goes back and nothing of it is kept.
    assert peak > after + 100, (base, peak, after)
    assert after < base + 40, (base, peak, after)


def test_slop_is_compared_in_integer_nanoseconds() -> None:
    """Pair rgb at 1 s and depth at 1 s + 100,000,000 ns with slop 0.1."""
    pipeline, _ = make(**{'sync.slop': 0.1})
    pipeline.add_rgb(rgb_image(header(1)))
    assert len(pipeline.add_depth(depth_image(header(1, 100_000_000)))) == 1


# --- the Python API of DepthUpsampler -----------------------------------------------------
def test_depth_upsampler_signature_is_explicit_and_callable() -> None:
    names = list(inspect.signature(DepthUpsampler).parameters)
    for name in ('model', 'weights', 'device', 'iterations', 'solver', 'depth_mode',
                 'fill_holes', 'guide'):
        assert name in names, name
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = (1.0 + rng.random((H // FACTOR, W // FACTOR))).astype(np.float32)
    up = DepthUpsampler.from_params(FAST)
    np.testing.assert_array_equal(up(rgb, depth), up.up(rgb, depth))
    # Per-call budget: the same as an upsampler built with it, the parameter unchanged.
    two = DepthUpsampler.from_params({**FAST, 'iterations': 2})
    np.testing.assert_array_equal(up(rgb, depth, iterations=2), two(rgb, depth))
    assert up.iterations == FAST['iterations']
    # The dotted node names still work.
    dotted = DepthUpsampler.from_params({'depth.mode': 'lowres', 'model': 'rgb'})
    assert dotted.params['depth.mode'] == 'lowres'
    assert DepthUpsampler(depth_mode='lowres', model='rgb').params['depth.mode'] == 'lowres'


def test_upsampler_signature_names_every_solver_parameter() -> None:
    """Every solver parameter is a named keyword; node-only names are not accepted."""
    import inspect
    from dada_ros.core.params import BY_NAME, python_name, SOLVER_PARAMETERS
    signature = inspect.signature(DepthUpsampler)
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD
                   for p in signature.parameters.values())
    for name in SOLVER_PARAMETERS:
        assert signature.parameters[python_name(name)].default == BY_NAME[name].default
    assert DepthUpsampler(cpu_kernel='torch').params['cpu_kernel'] == 'torch'
    with pytest.raises(TypeError):
        DepthUpsampler(sync_slop=0.1)  # type: ignore[call-arg]
    # A whole node parameter dict: node-only names are left out by name, typos refused.
    up = DepthUpsampler.from_params({'sync.slop': 0.1, 'points.stride': 2, 'iterations': 3})
    assert up.iterations == 3 and 'sync.slop' not in up.params
    with pytest.raises(ValueError, match='unknown parameter'):
        DepthUpsampler.from_params({'iteration': 3})
    with pytest.raises(ValueError):
        DepthUpsampler.from_params({'cpu_kernel': 'fortran'})


def test_an_injected_guide_is_used() -> None:
    """guide= replaces the model's guide (training injects its network this way)."""
    class Flat:
        """Coefficients 1 everywhere: plain isotropic diffusion, no RGB edges."""

        calls = 0

        def coefficients(self, rgb: torch.Tensor, initial: torch.Tensor,
                         scale: Optional[float] = None) -> Tuple[torch.Tensor, torch.Tensor]:
            Flat.calls += 1
            b, _, h, w = initial.shape
            return torch.ones(b, 1, h - 1, w), torch.ones(b, 1, h, w - 1)
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    depth = (1.0 + rng.random((H // FACTOR, W // FACTOR))).astype(np.float32)
    flat = DepthUpsampler.from_params(FAST, guide=Flat())(rgb, depth)
    assert Flat.calls == 1
    assert not np.allclose(flat, DepthUpsampler.from_params(FAST)(rgb, depth))
