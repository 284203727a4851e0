# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the DADA solver: the paper's equations, the adjustment guarantee, the public API."""

from __future__ import annotations

from typing import Tuple

from dada_ros.core import DepthUpsampler
from dada_ros.core.diffusion import (adjust_step, block_mean, coefficients, diffuse_step, LAMBDA,
                                     perona_malik, reference_diffusion, weighted_coefficients)
from dada_ros.core.inputs import rgb_features, RGB_MEAN, RGB_STD
from dada_ros.core.solver import (coarsen_coefficients, coarsen_compiled, half_budget_factors,
                                  level_factors, level_iterations, PyramidSolver)
from dada_ros.training.differentiable import solve_differentiable
import numpy as np
import pytest
import torch


def scene(height: int, width: int, factor: int,
          seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make a piecewise-planar depth with an RGB that has matching and other edges."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = 2.0 + 0.002 * rows + 0.001 * cols
    box = (rows > height * 0.3) & (rows < height * 0.7) & (cols > width * 0.25) & \
        (cols < width * 0.6)
    depth[box] = 1.2
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 0] = 60 + 30 * ((cols // 7) % 2)          # texture that is not a depth edge
    rgb[..., 1] = np.where(box, 200, 40)                 # colour edge at the depth edge
    rgb[..., 2] = rng.integers(0, 20, (height, width))   # sensor noise
    low = depth.reshape(height // factor, factor, width // factor, factor).mean(axis=(1, 3))
    return rgb, depth, low.astype(np.float32)


def literal_iteration(image: np.ndarray, cv: np.ndarray, ch: np.ndarray, source: np.ndarray,
                      valid: np.ndarray, factor: int) -> np.ndarray:
    """Eq. 1 then Eq. 3 written pixel by pixel, as in the paper, in float64."""
    height, width = image.shape
    new = image.copy()
    for i in range(height):
        for j in range(width):
            flow = 0.0
            if i > 0:
                flow += cv[i - 1, j] * (image[i - 1, j] - image[i, j])
            if i < height - 1:
                flow += cv[i, j] * (image[i + 1, j] - image[i, j])
            if j > 0:
                flow += ch[i, j - 1] * (image[i, j - 1] - image[i, j])
            if j < width - 1:
                flow += ch[i, j] * (image[i, j + 1] - image[i, j])
            new[i, j] = image[i, j] + LAMBDA * flow
    out = new.copy()
    for bi in range(source.shape[0]):
        for bj in range(source.shape[1]):
            if valid[bi, bj]:
                block = new[bi * factor:(bi + 1) * factor, bj * factor:(bj + 1) * factor]
                out[bi * factor:(bi + 1) * factor, bj * factor:(bj + 1) * factor] = \
                    block * source[bi, bj] / block.mean()
    return out


def test_perona_malik_values() -> None:
    x = torch.tensor([0.0, 0.03, 0.3])
    np.testing.assert_allclose(perona_malik(x, 0.03).numpy(), [1.0, 0.5, 1 / 101], rtol=1e-6)


def test_reference_matches_literal_transcription_iteration_by_iteration() -> None:
    rgb, _, low = scene(12, 16, 4)
    low[0, 1] = np.nan
    valid = np.isfinite(low)
    source = np.where(valid, low, 1.0)
    rng = np.random.default_rng(1)
    features = torch.from_numpy(rng.random((1, 4, 12, 16)).astype(np.float32))
    cv, ch = coefficients(features, 0.3)
    image = torch.from_numpy(1.0 + rng.random((12, 16)).astype(np.float32))[None, None]
    literal = image[0, 0].double().numpy()
    src_t = torch.from_numpy(source.astype(np.float32))[None, None]
    valid_t = torch.from_numpy(valid)[None, None]
    for _ in range(5):
        image = reference_diffusion(image, cv, ch, src_t, valid_t, 4, 1)
        literal = literal_iteration(literal, cv[0, 0].double().numpy(),
                                    ch[0, 0].double().numpy(), source, valid, 4)
        np.testing.assert_allclose(image[0, 0].numpy(), literal, rtol=2e-5, atol=1e-6)


def test_steps_do_not_modify_inputs_and_conserve_mass() -> None:
    image = torch.rand(1, 1, 8, 8) + 1.0
    before = image.clone()
    cv, ch = torch.rand(1, 1, 7, 8), torch.rand(1, 1, 8, 7)
    out = diffuse_step(image, cv, ch)
    assert torch.equal(image, before)
    # Eq. 1 only moves depth between neighbours: the total is conserved.
    assert float(out.sum()) == pytest.approx(float(image.sum()), rel=1e-6)
    source = torch.rand(1, 1, 2, 2) + 1.0
    adjusted = adjust_step(out, source, torch.ones(1, 1, 2, 2, dtype=torch.bool), 4)
    torch.testing.assert_close(block_mean(adjusted, 4), source)


def test_coarsened_coefficients_keep_uniform_values_and_cut_edges() -> None:
    cv = torch.full((1, 1, 7, 8), 0.6)
    ch = torch.full((1, 1, 8, 7), 0.6)
    cv_c, ch_c = coarsen_coefficients(cv, ch)
    assert cv_c.shape == (1, 1, 3, 4) and ch_c.shape == (1, 1, 4, 3)
    torch.testing.assert_close(cv_c, torch.full_like(cv_c, 0.6))
    cv[:, :, 3, :] = 1e-4  # a horizontal edge between fine rows 3 and 4 = coarse rows 1 and 2
    cv_c, _ = coarsen_coefficients(cv, ch)
    assert float(cv_c[0, 0, 1].max()) < 1e-3
    assert float(cv_c[0, 0, 0].min()) == pytest.approx(0.6)


def test_compiled_coarsening_equals_the_torch_form() -> None:
    """The one-pass compiled resistor-network coarsening gives the torch values."""
    generator = torch.Generator().manual_seed(3)
    cv = torch.rand(2, 1, 47, 64, generator=generator).clamp_min(1e-4)
    ch = torch.rand(2, 1, 48, 63, generator=generator).clamp_min(1e-4)
    cv[:, :, 21, :] = 0.0  # a cut: resistance capped at 1e12 in both
    ch[:, :, :, 30] = 1e-9
    for want, got in zip(coarsen_coefficients(cv, ch), coarsen_compiled(cv, ch)):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-6, atol=0.0)


def test_level_factors() -> None:
    assert level_factors(480, 640, 8) == [8, 4, 2, 1]
    assert level_factors(480, 640, 12) == [12, 6, 3]
    assert level_factors(90, 120, 3) == [3]


@pytest.mark.parametrize('solver', ['pyramid', 'reference', 'pyramid-torch'])
@pytest.mark.parametrize('factor', [2, 4, 8, 16, 32])
def test_block_means_equal_source_for_every_factor(solver: str, factor: int) -> None:
    rgb, _, low = scene(480 // factor * factor // 2, 640 // factor * factor // 2, factor) \
        if factor < 32 else scene(256, 384, factor)
    low = low.copy()
    low[0, 0] = np.nan           # an invalid block stays free
    solver, _, kernel = solver.partition('-')  # pyramid-torch: the eager torch step
    up = DepthUpsampler(iterations=8 if solver == 'reference' else 16, solver=solver,
                        device='cpu', cpu_kernel=kernel or 'numba')
    dense = up.up(rgb, low)
    assert dense.shape == rgb.shape[:2] and dense.dtype == np.float32
    assert np.isfinite(dense).all() and (dense > 0).all()
    h, w = low.shape
    means = dense.reshape(h, factor, w, factor).astype(np.float64).mean(axis=(1, 3))
    valid = np.isfinite(low)
    np.testing.assert_allclose(means[valid], low[valid], rtol=1e-4)


def test_non_square_480x640_output_and_units() -> None:
    rgb, depth, low = scene(480, 640, 8)
    up = DepthUpsampler(device='cpu')
    metres = up.up(rgb, low)
    millimetres = up.up(rgb, low * 1000.0)
    assert metres.shape == (480, 640)
    # any positive unit: the result scales with the input
    np.testing.assert_allclose(millimetres, metres * 1000.0, rtol=1e-4)
    assert np.sqrt(np.mean((metres - depth) ** 2)) < 0.2


def test_caller_inputs_are_not_modified() -> None:
    rgb, _, low = scene(64, 96, 8)
    low[1, 1] = np.nan
    rgb_before, low_before = rgb.copy(), low.copy()
    DepthUpsampler(iterations=4, device='cpu').up(rgb, low)
    assert np.array_equal(rgb, rgb_before)
    assert np.array_equal(low, low_before, equal_nan=True)


def test_invalid_input_values_and_holes() -> None:
    rgb, _, low = scene(64, 96, 8)
    low = low.copy()
    low[0, 0], low[0, 1], low[1, 0], low[1, 1] = np.nan, np.inf, 0.0, -1.0
    filled = DepthUpsampler(iterations=8, device='cpu').up(rgb, low)
    assert np.isfinite(filled).all()
    unfilled = DepthUpsampler(iterations=8, device='cpu', fill_holes=False).up(rgb, low)
    assert np.isnan(unfilled[:16, :16]).all()
    assert np.isfinite(unfilled[16:, :]).all()
    empty = DepthUpsampler(iterations=8, device='cpu').up(rgb, np.full_like(low, np.nan))
    assert np.isnan(empty).all()


@pytest.mark.parametrize('depth_shape', [(9, 12), (8, 13), (16, 12), (0, 12)])
def test_sizes_that_do_not_fit_raise(depth_shape: Tuple[int, int]) -> None:
    rgb = np.zeros((64, 96, 3), np.uint8)
    with pytest.raises(ValueError):
        DepthUpsampler.from_params({'iterations': 2, 'device': 'cpu', 'depth.mode': 'lowres'}).up(
            rgb, np.ones(depth_shape, np.float32))


def test_wrong_types_raise() -> None:
    up = DepthUpsampler(iterations=2, device='cpu')
    with pytest.raises(ValueError):
        up.up(np.zeros((64, 96), np.uint8), np.ones((8, 12), np.float32))
    with pytest.raises(ValueError):
        up.up(np.zeros((64, 96, 3), np.float32), np.ones((8, 12), np.float32))
    with pytest.raises(ValueError):
        up.up(np.zeros((64, 96, 3), np.uint8), np.ones((8, 12), np.uint16))


def test_parameters_are_validated() -> None:
    with pytest.raises(ValueError):
        DepthUpsampler(iterations=0)
    with pytest.raises(ValueError):
        DepthUpsampler(model='nope')
    with pytest.raises(ValueError):
        DepthUpsampler(device='gpu')
    with pytest.raises(TypeError):  # every solver parameter is a named argument
        DepthUpsampler(no_such_parameter=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        DepthUpsampler.from_params({'no_such_parameter': 1})
    up = DepthUpsampler.from_params({'iterations': 3, 'depth_mode': 'lowres', 'sync.slop': 0.1})
    assert up.params['depth.mode'] == 'lowres' and up.iterations == 3
    up.iterations = 7
    assert up.params['iterations'] == 7
    with pytest.raises(ValueError):
        up.set_param('iterations', -1)


def test_cuda_without_cuda_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip('CUDA is available on this machine')
    with pytest.raises(RuntimeError, match='CUDA is not available'):
        DepthUpsampler(device='cuda')
    assert DepthUpsampler(device='auto').device.type == 'cpu'


def test_level_iterations_halve_the_budget_at_block_factor_8() -> None:
    """A level of block factor 8 runs half the budget; the others as before."""
    x4 = [level_iterations(96, level, factor) for level, factor in enumerate([4, 2])]
    x8 = [level_iterations(96, level, factor) for level, factor in enumerate([8, 4, 2])]
    x16 = [level_iterations(96, level, factor) for level, factor in enumerate([16, 8, 4, 2])]
    assert (x4, x8, x16) == ([96, 48], [48, 48, 24], [96, 48, 24, 12])
    assert [level_iterations(96, level) for level in range(3)] == [96, 48, 24]
    assert level_iterations(1, 0, 8) == 1
    assert level_iterations(96, 0, 8, half_budget_factors=()) == 96
    # only from 1280x720 up (a 640x480 frame was up to 2.5 % off with half)
    assert half_budget_factors(720, 1280) == (8,) and half_budget_factors(1080, 1920) == (8,)
    assert half_budget_factors(480, 640) == ()


@pytest.mark.parametrize('kernel', ['numba', 'torch'])
def test_pyramid_reaches_the_reference_fixed_point(kernel: str) -> None:
    """With a generous budget the fast solver lands on the paper's converged answer."""
    rgb, _, low = scene(64, 96, 8)
    ref = DepthUpsampler(solver='reference', iterations=20000, device='cpu').up(rgb, low)
    fast = DepthUpsampler(solver='pyramid', iterations=400, device='cpu',
                          cpu_kernel=kernel).up(rgb, low)
    assert np.abs(fast - ref).max() < 2e-3 * float(np.abs(ref).max())


@pytest.mark.parametrize('kernel', ['numba', 'torch'])
def test_pyramid_solver_reuses_buffers(kernel: str) -> None:
    solver = PyramidSolver(kernel=kernel)
    initial = torch.rand(32, 48) + 1.0
    cv, ch = torch.rand(31, 48), torch.rand(32, 47)
    source = torch.rand(4, 6) + 1.0
    valid = torch.ones(4, 6, dtype=torch.bool)
    first = solver.solve(initial, cv, ch, source, valid, 8, 5)

    def pointers() -> set:
        return {t.data_ptr() for level in solver._levels
                for t in (level.x, level.x_prev, level.y, level.padded_estimates)
                if t is not None}

    buffers = pointers()
    second = solver.solve(initial, cv, ch, source, valid, 8, 5)
    assert buffers == pointers()
    assert torch.equal(first, second)


@pytest.mark.parametrize('kernel', ['numba', 'torch'])
@pytest.mark.parametrize('factor', [4, 8, 16])
def test_differentiable_twin_matches_the_pyramid_solver(factor: int, kernel: str) -> None:
    """The training twin computes what the deployed solver computes, and has gradients."""
    _, _, low = scene(64, 96, factor)
    generator = torch.Generator().manual_seed(0)
    height, width = 64, 96
    initial = torch.rand(height, width, generator=generator) + 1.0
    cv = torch.rand(height - 1, width, generator=generator)
    ch = torch.rand(height, width - 1, generator=generator)
    source = torch.from_numpy(low)
    valid = torch.ones_like(source, dtype=torch.bool)
    valid[0, 0] = False  # one free block: the factor-1 level runs too
    deployed = PyramidSolver(kernel=kernel).solve(initial, cv, ch, source, valid, factor, 24)
    cv_grad = cv[None, None].clone().requires_grad_(True)
    twin = solve_differentiable(initial[None, None], cv_grad, ch[None, None],
                                source[None, None], valid[None, None], factor, 24)
    assert torch.allclose(twin[0, 0], deployed, rtol=1e-4, atol=1e-5)
    twin.square().sum().backward()
    assert cv_grad.grad is not None and float(cv_grad.grad.abs().sum()) > 0.0


def test_weighted_coefficients_equal_the_general_form_with_and_without_autograd() -> None:
    """The allocation-free form gives the coefficients of the concatenated features."""
    generator = torch.Generator().manual_seed(2)
    rgb = torch.randn(2, 3, 23, 31, generator=generator)
    depth = torch.rand(2, 1, 23, 31, generator=generator)
    expected = coefficients(torch.cat([0.3 * rgb, 4.0 * depth], 1), 0.05)
    rgb_before, depth_before = rgb.clone(), depth.clone()
    with torch.inference_mode():
        fast = weighted_coefficients(rgb, depth, 0.3, 4.0, 0.05)
    for got, want in zip(fast, expected):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)
    with torch.inference_mode():  # one image: the compiled kernel where numba is installed
        single = weighted_coefficients(rgb[1:], depth[1:], 0.3, 4.0, 0.05)
    for got, want in zip(single, expected):
        assert got.shape == want[1:].shape
        assert torch.allclose(got, want[1:], rtol=1e-5, atol=1e-6)
    weight = torch.tensor(4.0, requires_grad=True)  # training: the general, autograd form
    cv, ch = weighted_coefficients(rgb, depth, 0.3, weight, 0.05)
    assert torch.allclose(cv, expected[0], rtol=1e-5, atol=1e-6)
    (cv.sum() + ch.sum()).backward()
    assert weight.grad is not None and float(weight.grad) < 0.0  # stronger edges, smaller c
    # the in-place temporaries never touch the inputs
    assert torch.equal(rgb, rgb_before) and torch.equal(depth, depth_before)
    with pytest.raises(ValueError):
        weighted_coefficients(rgb, depth[:, :, 1:], 0.3, 4.0)


def test_rgb_features_normalise_any_layout_of_the_image() -> None:
    """(x / 255 - mean) / std per channel, planar; interleaved, strided and read-only input."""
    rgb, _, _ = scene(37, 53, 1)
    mean, std = np.asarray(RGB_MEAN), np.asarray(RGB_STD)
    expected = ((rgb / 255.0 - mean) / std).transpose(2, 0, 1)[None]
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    read_only = rgb.copy()
    read_only.flags.writeable = False
    for image in (rgb, bgr[..., ::-1], rgb[::2, 1::3], read_only):
        features = rgb_features(image, torch.device('cpu'))
        assert features.shape == (1, 3) + image.shape[:2] and features.dtype == torch.float32
        want = expected if image.shape == rgb.shape else expected[..., ::2, 1::3]
        np.testing.assert_allclose(features.numpy(), want, rtol=1e-5, atol=1e-5)


def _refine_problem(factor: int) -> Tuple[torch.Tensor, ...]:
    rgb, _, low = scene(64, 96, factor)
    first = DepthUpsampler(model='rgb', iterations=48, device='cpu')(rgb, low)
    generator = torch.Generator().manual_seed(4)
    cv = 0.05 + 0.95 * torch.rand(63, 96, generator=generator)
    ch = 0.05 + 0.95 * torch.rand(64, 95, generator=generator)
    source = torch.from_numpy(low)
    valid = torch.ones_like(source, dtype=torch.bool)
    valid[1, 2] = False  # one free block
    return torch.from_numpy(first), cv, ch, source, valid


@pytest.mark.parametrize('kernel', ['numba', 'torch'])
@pytest.mark.parametrize('factor', [2, 4, 8, 16, 32])
def test_warm_start_keeps_exact_block_means(factor: int, kernel: str) -> None:
    start, cv, ch, source, valid = _refine_problem(factor)
    out = PyramidSolver(kernel=kernel).solve(start, cv, ch, source, valid, factor, 24,
                                             warm_start=True, momentum_scale=0.06)
    means = block_mean(out[None, None], factor)[0, 0]
    assert torch.allclose(means[valid], source[valid], rtol=1e-5)
    assert bool((out > 0).all())


def test_warm_start_reaches_the_reference_fixed_point_and_keeps_detail() -> None:
    """A warm start changes the path, not the answer; it starts from the detail it was given.

    With a budget of 1 the result stays close to the warm start (the detail of a first
    solve survives), whereas the cold pyramid starts from smooth upsampled coarse levels.
    """
    start, cv, ch, source, valid = _refine_problem(8)
    reference = reference_diffusion(start[None, None], cv[None, None], ch[None, None],
                                    source[None, None], valid[None, None], 8, 20000)[0, 0]
    warm = PyramidSolver().solve(start, cv, ch, source, valid, 8, 600, warm_start=True,
                                 momentum_scale=0.06)
    assert float((warm - reference).abs().max()) < 2e-3 * float(reference.abs().max())
    one_warm = PyramidSolver().solve(start, cv, ch, source, valid, 8, 1, warm_start=True)
    one_cold = PyramidSolver().solve(start, cv, ch, source, valid, 8, 1)
    assert float((one_warm - start).abs().mean()) < 0.5 * float((one_cold - start).abs().mean())


def test_differentiable_twin_matches_the_warm_started_pyramid_solver() -> None:
    start, cv, ch, source, valid = _refine_problem(16)
    deployed = PyramidSolver().solve(start, cv, ch, source, valid, 16, 24, warm_start=True,
                                     momentum_scale=0.06)
    twin = solve_differentiable(start[None, None], cv[None, None], ch[None, None],
                                source[None, None], valid[None, None], 16, 24,
                                warm_start=True, momentum_scale=0.06)
    assert torch.allclose(twin[0, 0], deployed, rtol=1e-4, atol=1e-5)


Problem = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _random_problem(height: int, width: int, factor: int, seed: int = 0) -> Problem:
    """Return a positive start, coefficients in (0, 1] with an edge, a source with holes."""
    generator = torch.Generator().manual_seed(seed)
    initial = torch.rand(height, width, generator=generator) + 0.5
    cv = torch.rand(height - 1, width, generator=generator).clamp_min(1e-3)
    ch = torch.rand(height, width - 1, generator=generator).clamp_min(1e-3)
    cv[:, width // 3] = 1e-4  # a guide edge
    source = torch.rand(height // factor, width // factor, generator=generator) + 0.5
    valid = torch.rand(source.shape, generator=generator) > 0.2
    return initial, cv, ch, source, valid


@pytest.mark.parametrize('factor', [1, 2, 4, 8, 16, 32])
@pytest.mark.parametrize('warm_start', [False, True])
def test_compiled_kernel_gives_the_torch_answer(factor: int, warm_start: bool) -> None:
    """cpu_kernel numba and torch run the same steps: equal to float32 rounding."""
    height, width = (96, 128) if factor < 32 else (128, 192)
    initial, cv, ch, source, valid = _random_problem(height, width, factor)
    answers = {kernel: PyramidSolver(kernel=kernel).solve(
        initial, cv, ch, source, valid, factor, 40, warm_start=warm_start)
        for kernel in ('numba', 'torch')}
    assert torch.allclose(answers['numba'], answers['torch'], rtol=2e-4, atol=1e-5)
    means = block_mean(answers['numba'][None, None], factor)[0, 0]
    assert torch.allclose(means[valid], source[valid], rtol=1e-5)


@pytest.mark.parametrize('steps', [1, 2, 7, 40])
def test_compiled_steps_do_not_depend_on_the_thread_count(steps: int) -> None:
    """Pairs of steps run as a wavefront per thread: any thread count, the same bits."""
    initial, cv, ch, source, valid = _random_problem(136, 96, 8)  # 17 block rows: uneven
    threads = torch.get_num_threads()
    answers = []
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            answers.append(PyramidSolver(kernel='numba').solve(
                initial, cv, ch, source, valid, 8, steps))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(answers[0], answers[1]) and torch.equal(answers[0], answers[2])


def test_compiled_kernel_is_used_and_can_be_switched_off() -> None:
    """'auto' runs the compiled sweep on the CPU (its buffers exist), 'torch' does not."""
    initial, cv, ch, source, valid = _random_problem(64, 96, 8)
    for kernel, compiled in (('auto', True), ('numba', True), ('torch', False)):
        solver = PyramidSolver(kernel=kernel)
        solver.solve(initial, cv, ch, source, valid, 8, 8)
        assert (solver._levels[0].padded_estimates is not None) == compiled
    up = DepthUpsampler(device='cpu', cpu_kernel='torch')
    up.set_param('cpu_kernel', 'numba')
    assert up._pyramid.kernel == 'numba'
    with pytest.raises(ValueError, match='cpu_kernel'):
        DepthUpsampler(device='cpu', cpu_kernel='fortran')


def test_compiled_kernel_is_cancellable_and_safe_from_two_threads() -> None:
    """Cancel stops a compiled solve; two threads solving at once get their own answers."""
    from concurrent.futures import ThreadPoolExecutor
    from dada_ros.core.diffusion import SolveCancelled

    def solve(problem: Problem) -> torch.Tensor:
        initial, cv, ch, source, valid = problem
        return PyramidSolver(kernel='numba').solve(initial, cv, ch, source, valid, 8, 200)

    problems = [_random_problem(96, 128, 8, seed) for seed in (1, 2)]
    alone = [solve(problem) for problem in problems]
    polls: list = []

    def cancel() -> bool:  # True from the 6th poll: only polls inside a level get there
        polls.append(1)
        return len(polls) > 5

    with pytest.raises(SolveCancelled):
        PyramidSolver(kernel='numba').solve(*problems[0], 8, 200, cancel=cancel)
    assert len(polls) == 6 and len(level_factors(96, 128, 8)) == 4
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(solve, problems * 3))
    for index, answer in enumerate(together):
        assert torch.equal(answer, alone[index % 2])


def test_compiled_kernel_keeps_the_callers_torch_thread_count() -> None:
    """The OpenMP start-up of numba must not change torch's thread setting (fresh process)."""
    import subprocess
    import sys

    code = ('import numpy as np, torch\n'
            'torch.set_num_threads(1)\n'
            'from dada_ros.core import DepthUpsampler\n'
            "up = DepthUpsampler(device='cpu', cpu_kernel='numba')\n"
            'up(np.zeros((96, 128, 3), np.uint8), np.ones((12, 16), np.float32))\n'
            'print(torch.get_num_threads())\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            timeout=300, check=True)
    assert result.stdout.split()[-1] == '1', result.stdout + result.stderr
