# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""CUDA tests: device selection, CUDA-graph replay, out-of-memory handling, the node on CUDA.

They need a CUDA device and are skipped (each one, with the reason) on CPU-only machines;
``scripts/gpu_check.sh`` runs them together with the CUDA benchmarks in one command.
"""

from __future__ import annotations

import time
from typing import Any, Tuple

from dada_ros.core import DepthUpsampler
from dada_ros.core.solver import PyramidSolver
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason='needs a CUDA device (run scripts/gpu_check.sh on one)')

TIMEOUT = 120.0


def frame(height: int = 240, width: int = 320, factor: int = 8,
          seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Return an RGB image and a low-res depth with an edge shared by both."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    inside = (rows > height // 3) & (cols > width // 2)
    depth = np.where(inside, 1.5, 3.0) + 0.001 * rows
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 1] = np.where(inside, 200, 50)
    rgb[..., 2] = rng.integers(0, 20, (height, width))
    low = depth.reshape(height // factor, factor, width // factor, factor).mean(axis=(1, 3))
    return rgb, low.astype(np.float32)


def test_device_selection() -> None:
    """'auto' picks CUDA, 'cuda' and 'cuda:0' work, a missing index is a clear error."""
    assert DepthUpsampler(device='auto', model='rgb').device.type == 'cuda'
    assert DepthUpsampler(device='cuda:0', model='rgb').device == torch.device('cuda:0')
    with pytest.raises(RuntimeError, match='CUDA device'):
        DepthUpsampler(device=f'cuda:{torch.cuda.device_count()}', model='rgb')
    rgb, low = frame()
    on_gpu = DepthUpsampler(device='cuda', model='rgb', iterations=32).up(rgb, low)
    on_cpu = DepthUpsampler(device='cpu', model='rgb', iterations=32).up(rgb, low)
    assert isinstance(on_gpu, np.ndarray) and on_gpu.dtype == np.float32
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-3, atol=1e-4)


def _solver_inputs(seed: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                       torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    height, width, factor = 128, 192, 8
    initial = torch.rand(height, width, generator=generator) + 1.0
    cv = torch.rand(height - 1, width, generator=generator)
    ch = torch.rand(height, width - 1, generator=generator)
    source = torch.rand(height // factor, width // factor, generator=generator) + 1.0
    valid = torch.ones_like(source, dtype=torch.bool)
    valid[0, 0] = False  # one free block: the factor-1 level runs too
    cuda = torch.device('cuda')
    return (initial.to(cuda), cv.to(cuda), ch.to(cuda), source.to(cuda), valid.to(cuda))


def test_cuda_graph_replay_equals_eager() -> None:
    """Frames replayed from the captured graphs equal the eager loop, for new inputs too."""
    graphed, eager = PyramidSolver(), PyramidSolver()
    eager.use_cuda_graphs = False
    for seed in (0, 0, 1, 2):  # the first call captures, the later ones replay
        initial, cv, ch, source, valid = _solver_inputs(seed)
        replayed = graphed.solve(initial, cv, ch, source, valid, 8, 24)
        expected = eager.solve(initial, cv, ch, source, valid, 8, 24)
        torch.testing.assert_close(replayed, expected, rtol=1e-5, atol=1e-6)
    assert graphed.use_cuda_graphs and graphed._graphs, 'no graph was captured'


def test_out_of_memory_is_an_exception_and_the_next_frame_works() -> None:
    """A frame too big for the memory raises OutOfMemoryError; the next frame still works."""
    up = DepthUpsampler(device='cuda', model='rgb', iterations=8)
    rgb, low = frame()
    before = up.up(rgb, low)
    big_rgb, big_low = frame(3000, 4000, 8)
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(
        64 * 1024 ** 2 / torch.cuda.get_device_properties(0).total_memory)
    try:
        with pytest.raises(torch.cuda.OutOfMemoryError):
            up.up(big_rgb, big_low)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    np.testing.assert_allclose(up.up(rgb, low), before, rtol=1e-5, atol=1e-6)


def test_node_on_cuda(spawn_node: Any, ros: Any) -> None:
    """dada_node with device:=cuda serves real topics; its depth equals the core call's."""
    from dada_ros.msgs.conversions import array_to_image, image_to_depth, rgb_to_image
    from ros_helpers import wait_until
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    ns = f'/dada_test_cuda_{int(time.time() * 1e3) % 100000}'
    node = spawn_node('-r', f'__ns:={ns}', '-p', 'device:=cuda', '-p', 'model:=rgb',
                      '-p', 'iterations:=16', name='cuda')
    rgb_pub = ros.publisher(Image, f'{ns}/rgb/image')
    depth_pub = ros.publisher(Image, f'{ns}/depth/image')
    info_pub = ros.publisher(CameraInfo, f'{ns}/rgb/camera_info')
    outputs = ros.collect(Image, f'{ns}/depth_dense/image')
    ros.wait_for_subscribers([rgb_pub, depth_pub, info_pub], TIMEOUT)
    rgb, low = frame()
    info = CameraInfo(width=rgb.shape[1], height=rgb.shape[0])
    info.k = [300.0, 0.0, 160.0, 0.0, 300.0, 120.0, 0.0, 0.0, 1.0]

    def served() -> Any:
        """Publish one pair (again) and return the first output, if any arrived."""
        assert node.alive(), node.output()[1][-3000:]
        header = Header(frame_id='cam')
        header.stamp.sec = 100 + len(outputs) + int(time.monotonic())
        info.header = header
        info_pub.publish(info)
        rgb_pub.publish(rgb_to_image(rgb, header))
        depth_pub.publish(array_to_image(low, '32FC1', header))
        return outputs[0] if outputs else None

    message = wait_until(served, TIMEOUT, interval=1.0, message='depth_dense/image on CUDA')
    dense = image_to_depth(message)
    expected = DepthUpsampler(device='cpu', model='rgb', iterations=16).up(rgb, low)
    np.testing.assert_allclose(dense, expected, rtol=1e-3, atol=1e-3)
    assert 'device cuda' in ''.join(node.output()), 'the node did not report device cuda'
