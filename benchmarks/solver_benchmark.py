# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Side-by-side latency and accuracy of the paper's loop and the fast solver, on real images.

Run from the repository root (with ../shared/data beside it)::

    .venv/bin/python benchmarks/solver_benchmark.py --markdown out/solver_benchmark.md

For each output size (640x480, 1280x720) and factor (x4, x8, x16; x32 on request) it
times, in this one process and on the same images, the plain reference loop of the paper at
9024 iterations, the plain loop at this package's default budget, and the pyramid solver at
the default budget (or ``--iterations``), and reports RMSE against the ground truth and
against the pyramid solver's own converged answer (``--converged-iterations`` steps). It
then prints a roofline of the solver's finest-level step: the bytes one step moves, this
machine's copy bandwidth measured in the same run, and the fraction of it the step
reaches. It also writes quality-vs-latency curves as a PNG. Images: the three Middlebury
2005 scenes of the DTS super-resolution set (1376x1088, hole-filled GT disparity),
area-downscaled to 640 px wide or centre-cropped to 1280x720; the low-res input is the
block average of the GT (the paper's protocol).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import cv2
from dada_ros.core import DepthUpsampler, kernels
from dada_ros.core.guides import RgbGuide
from dada_ros.core.initial import masked_bicubic
from dada_ros.core.inputs import rgb_features
from dada_ros.core.params import BY_NAME
from dada_ros.core.solver import PyramidSolver
from dada_ros.training.datasets import shared_data_dir
import numpy as np
import torch

DATA = shared_data_dir()
SCENES = ('art_big', 'books_big', 'moebius_big')
PAPER_ITERATIONS = 8000 + 1024


def load_scene(name: str, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """RGB (uint8) and GT disparity (float32) at ``size`` = (width, height)."""
    root = DATA / 'dts_middlebury_superres' / 'depth_superres'
    bgr = cv2.imread(str(root / '_input' / name / f'{name}_color.png'), cv2.IMREAD_COLOR)
    gt_raw = cv2.imread(str(root / '_gth' / f'{name}.png'), cv2.IMREAD_UNCHANGED)
    if bgr is None or gt_raw is None:
        raise FileNotFoundError(f'scene {name} not found under {root}')
    gt: np.ndarray = gt_raw.astype(np.float32)
    width, height = size
    if width <= bgr.shape[1] // 2:
        scale = width / bgr.shape[1]
        new_size = (width, int(round(bgr.shape[0] * scale)))
        bgr = cv2.resize(bgr, new_size, interpolation=cv2.INTER_AREA)
        gt = cv2.resize(gt, new_size, interpolation=cv2.INTER_AREA)
    top = (bgr.shape[0] - height) // 2
    left = (bgr.shape[1] - width) // 2
    rgb = np.ascontiguousarray(bgr[top:top + height, left:left + width, ::-1])
    return rgb, np.ascontiguousarray(gt[top:top + height, left:left + width])


def block_average(gt: np.ndarray, factor: int) -> np.ndarray:
    h, w = gt.shape[0] // factor, gt.shape[1] // factor
    return gt.reshape(h, factor, w, factor).mean(axis=(1, 3)).astype(np.float32)


def rmse(estimate: np.ndarray, gt: np.ndarray) -> float:
    return float(np.sqrt(np.mean((estimate.astype(np.float64) - gt) ** 2)))


def timed(function: Callable[[], np.ndarray], repeats: int) -> Tuple[np.ndarray, float]:
    """Return the result and the median wall time in ms (one warm-up call when repeating)."""
    if repeats > 1:
        function()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1000.0)
    assert result is not None
    return result, statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return (f'{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, '
            f'{torch.get_num_threads()} threads, Python {platform.python_version()}')


def run_table(sizes: List[Tuple[int, int]], factors: List[int], scenes: List[str],
              repeats: int, device: str, model: str, iterations: int,
              converged_iterations: int, with_paper: bool = True) -> List[Dict[str, Any]]:
    default_iterations = iterations
    rows: List[Dict[str, Any]] = []
    paper = DepthUpsampler(solver='reference', iterations=PAPER_ITERATIONS, device=device,
                           model=model)
    plain = DepthUpsampler(solver='reference', iterations=default_iterations, device=device,
                           model=model)
    fast = DepthUpsampler(device=device, model=model, iterations=iterations)
    # the same solver with the eager torch step (what runs without numba)
    torch_step = DepthUpsampler(device=device, model=model, iterations=iterations,
                                cpu_kernel='torch')
    with_torch_step = device == 'cpu' and kernels.AVAILABLE
    converged = DepthUpsampler(device=device, model=model, iterations=converged_iterations)
    for size in sizes:
        for factor in factors:
            stats: Dict[str, List[float]] = {}
            for scene in scenes:
                rgb, gt = load_scene(scene, size)
                source = block_average(gt, factor)
                all_valid = np.ones_like(source, dtype=bool)
                runs = {
                    'bicubic': (lambda: masked_bicubic(source, all_valid, factor), repeats),
                    f'paper loop, {PAPER_ITERATIONS} it': (lambda: paper.up(rgb, source), 1),
                    f'paper loop, {default_iterations} it':
                        (lambda: plain.up(rgb, source), repeats),
                    f'pyramid (torch step), {default_iterations} it':
                        (lambda: torch_step.up(rgb, source), repeats),
                    f'pyramid, {default_iterations} it': (lambda: fast.up(rgb, source), repeats),
                }
                if not with_torch_step:  # without numba (or on CUDA) both are the torch step
                    del runs[f'pyramid (torch step), {default_iterations} it']
                if not with_paper:  # only the pyramid against its converged answer
                    del runs[f'paper loop, {PAPER_ITERATIONS} it']
                for name, (function, count) in runs.items():
                    result, ms = timed(function, count)
                    stats.setdefault(name + ' ms', []).append(ms)
                    stats.setdefault(name + ' rmse', []).append(rmse(result, gt))
                stats.setdefault('converged rmse', []).append(
                    rmse(converged.up(rgb, source), gt))
                print(f'  {size[0]}x{size[1]} x{factor} {scene} done', file=sys.stderr,
                      flush=True)
            rows.append({'size': f'{size[0]}x{size[1]}', 'factor': factor,
                         **{k: float(np.mean(v)) for k, v in stats.items()}})
    return rows


def markdown(rows: List[Dict[str, Any]]) -> str:
    methods = [k[:-3] for k in rows[0] if isinstance(k, str) and k.endswith(' ms')]
    reference = methods[1] if methods[1].startswith(f'paper loop, {PAPER_ITERATIONS}') else ''
    lines = ['| output | factor | ' + ' | '.join(f'{m}: ms / RMSE' for m in methods)
             + ' | pyramid converged: RMSE | pyramid vs paper: speed-up / RMSE '
             '| pyramid vs its converged RMSE |',
             '|---|---|' + '---|' * len(methods) + '---|---|---|']
    for row in rows:
        cells = [f"{row[m + ' ms']:.0f} / {row[m + ' rmse']:.3f}" for m in methods]
        versus_paper = 'not run'
        if reference:
            speedup = float(row[reference + ' ms']) / float(row[methods[-1] + ' ms'])
            ratio = float(row[methods[-1] + ' rmse']) / float(row[reference + ' rmse']) - 1.0
            versus_paper = f'{speedup:.0f}x / {ratio:+.2%}'
        own = float(row[methods[-1] + ' rmse']) / float(row['converged rmse']) - 1.0
        lines.append(f"| {row['size']} | x{row['factor']} | " + ' | '.join(cells)
                     + f" | {row['converged rmse']:.3f} | {versus_paper}"
                     + f' | {own:+.2%} |')
    return '\n'.join(lines)


def interleaved_speedup(size: Tuple[int, int], factor: int, device: str, model: str,
                        rounds: int, slice_iterations: int = PAPER_ITERATIONS // 8) -> str:
    """Whole ``up()`` of the pyramid vs the paper loop, alternated call by call.

    The paper loop's cost is linear in its iterations (the same step every time), so it is
    timed in slices of ``slice_iterations`` and scaled to 9024; one pyramid call follows each
    slice, so both see the same machine load (the long single paper-loop call of the table
    is exposed to whatever ran during its seconds).
    """
    rgb, gt = load_scene('books_big', size)
    source = block_average(gt, factor)
    paper = DepthUpsampler(solver='reference', iterations=slice_iterations, device=device,
                           model=model)
    fast = DepthUpsampler(device=device, model=model)
    torch_step = DepthUpsampler(device=device, model=model, cpu_kernel='torch')
    paper.up(rgb, source)
    fast.up(rgb, source)
    torch_step.up(rgb, source)
    paper_ms: List[float] = []
    fast_ms: List[float] = []
    torch_ms: List[float] = []
    for _ in range(rounds):
        paper_ms.append(timed(lambda: paper.up(rgb, source), 1)[1]
                        * PAPER_ITERATIONS / slice_iterations)
        for _ in range(3):
            fast_ms.append(timed(lambda: fast.up(rgb, source), 1)[1])
            torch_ms.append(timed(lambda: torch_step.up(rgb, source), 1)[1])
    paper_median = statistics.median(paper_ms)
    lines = [f'Interleaved at {size[0]}x{size[1]} x{factor}, model {model}, '
             f'{torch.get_num_threads()} threads ({rounds} rounds): paper loop '
             f'{paper_median:.0f} ms (scaled from {slice_iterations}-iteration slices)']
    for name, values in ((f'pyramid, cpu_kernel {fast.params["cpu_kernel"]}', fast_ms),
                         ('pyramid, cpu_kernel torch', torch_ms)):
        median = statistics.median(values)
        lines.append(f'- {name}: whole up() {median:.1f} ms (median of {len(values)}; best '
                     f'{min(values):.1f}): {paper_median / median:.0f}x')
    return '\n'.join(lines)


#: Low-res sizes beside the 512x384 RGB-D-D frames: x4 (whole blocks) and the fractional
#: footprints of a phone ToF camera (8/3) and of 16/3, 32/3.
FRACTIONAL_SIZES = ((128, 96), (192, 144), (96, 72), (48, 36))


def area_mean_source(gt: np.ndarray, low_shape: Tuple[int, int]) -> np.ndarray:
    """Area-weighted means of ``gt`` over the footprints of ``low_shape`` (fractional edges)."""
    from dada_ros.core.footprints import Footprints
    footprints = Footprints((gt.shape[0], gt.shape[1]), low_shape, torch.device('cpu'))
    return footprints.means(torch.from_numpy(gt.astype(np.float32))).numpy()


def fractional_table(frames: int, repeats: int, iterations: int, converged: int) -> str:
    """Any size ratio on real RGB-D-D frames (512x384 RGB, ToF depth): time and accuracy.

    Per low-res size: the median ``up()`` time (``model: rgb``), the RMSE (mm) against the
    measured depth, against the solver's own answer at ``converged`` iterations and that of
    masked bicubic; every size in the same process on the same frames.
    """
    root = DATA / 'rgbdd_test_split'
    depth_files = sorted((root / 'Depth').glob('*_HR_gt.png'))[:frames]
    lines = [f'RGB-D-D, first {len(depth_files)} frames of ../shared (512x384), model rgb, '
             f'{iterations} iterations, converged = {converged}', '',
             '| depth size | ratio | up() ms | RMSE mm | own converged mm | vs converged | '
             'bicubic mm | max relative error of the footprint means |',
             '|---|---|---|---|---|---|---|---|']
    fast = DepthUpsampler(model='rgb', iterations=iterations, device='cpu')
    slow = DepthUpsampler(model='rgb', iterations=converged, device='cpu')
    for width, height in FRACTIONAL_SIZES:
        errors: Dict[str, List[float]] = {'fast': [], 'slow': [], 'cubic': []}
        times, worst = [], 0.0
        for depth_file in depth_files:
            stem = depth_file.name.replace('_HR_gt.png', '')
            bgr = cv2.imread(str(root / 'RGB' / f'{stem}_RGB.jpg'), cv2.IMREAD_COLOR)
            raw = cv2.imread(str(depth_file), cv2.IMREAD_UNCHANGED)
            if bgr is None or raw is None:
                continue
            rgb, gt = np.ascontiguousarray(bgr[..., ::-1]), raw.astype(np.float32)
            low = area_mean_source(gt, (height, width))
            dense, elapsed = timed(lambda: fast(rgb, low), repeats)
            times.append(elapsed)
            errors['fast'].append(rmse(dense, gt))
            errors['slow'].append(rmse(slow(rgb, low), gt))
            errors['cubic'].append(rmse(masked_bicubic(low, np.ones(low.shape, bool),
                                                       gt.shape[0] / height), gt))
            means = area_mean_source(dense, (height, width))
            worst = max(worst, float(np.max(np.abs(means / low - 1.0))))
        mean = {key: float(np.mean(value)) for key, value in errors.items()}
        lines.append(f'| {width}x{height} | {384 / height:.3g} | {statistics.median(times):.1f} '
                     f'| {mean["fast"]:.1f} | {mean["slow"]:.1f} | '
                     f'{100 * (mean["fast"] / mean["slow"] - 1):+.2f} % | {mean["cubic"]:.1f} '
                     f'| {worst:.1e} |')
    return '\n'.join(lines)


def copy_bandwidth(numel: int, device: str, repeats: int = 50) -> float:
    """Best bandwidth in GB/s of ``dst.copy_(src)`` (read + write counted) on float32 buffers."""
    source = torch.rand(numel, device=device)
    destination = torch.empty_like(source)
    best = float('inf')
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        destination.copy_(source)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * 4.0 * numel / best / 1e9


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def step_bytes(height: int, width: int, factor: int) -> Dict[str, float]:
    """Bytes one finest-level step of ``PyramidSolver`` moves, per kernel, and the ideal.

    Torch step (eager, one pass per op; (H, W) float32 arrays counted once per read or
    write): Eq. 1 = 1 mul (3) + 4 addcmul (4 each); Eq. 3 = row sum (1 + 1/f), ratio
    broadcast (1/f) and multiply (2 + 1/f); momentum lerp (3) and positivity clamp (2).
    Compiled step (``cpu_kernel: numba``, one sweep per block row): read y, the two link
    weights and x, write the next y and x (6; the block row is re-read from cache).
    Ideal of the former roofline: read y, x_prev and three stencil weights, write x and y (7).
    """
    plane = 4.0 * height * width
    return {'torch': plane * (3 + 16 + 1 + 2 + 3 + 2 + 3.0 / factor),
            'numba': plane * 6, 'fused ideal': plane * 7}


def step_time(solver: PyramidSolver, steps: int, device: str) -> float:
    """Best of 5 seconds per step of ``steps`` finest-level steps of a sized ``solver``."""
    level = solver._levels[0]
    timings = []
    for _ in range(5):
        synchronize(device)
        start = time.perf_counter()
        solver._iterate(level, steps)
        synchronize(device)
        timings.append((time.perf_counter() - start) / steps)
    return min(timings)


def roofline(size: Tuple[int, int], factor: int, device: str, steps: int = 96) -> str:
    """Time the finest-level loop of each kernel at ``size``; compare with copy bandwidth."""
    width, height = size
    rgb, gt = load_scene('books_big', size)
    low = block_average(gt, factor)
    low = low / low.mean()
    valid = np.ones(low.shape, dtype=bool)
    initial = torch.from_numpy(masked_bicubic(low, valid, factor)).to(device)
    names = ['torch'] + (['numba'] if device == 'cpu' and kernels.AVAILABLE else [])
    per_step: Dict[str, float] = {}
    with torch.inference_mode():
        cv, ch = RgbGuide().coefficients(rgb_features(rgb, torch.device(device)),
                                         initial[None, None])
        for name in names:
            solver = PyramidSolver(kernel=name)
            solver.use_cuda_graphs = False  # time the eager kernels themselves
            solver.solve(initial, cv[0, 0], ch[0, 0], torch.from_numpy(low).to(device),
                         torch.from_numpy(valid).to(device), factor, 1)  # sizes the levels
            per_step[name] = step_time(solver, steps, device)
    moved = step_bytes(height, width, factor)
    cache = copy_bandwidth(height * width, device)        # one image plane: cache-resident
    memory = copy_bandwidth(64 * 1024 * 1024, device, 10)  # 256 MiB: main memory
    lines = [f'Roofline of the finest-level step at {width}x{height} x{factor} '
             f'({steps} steps, best of 5, {torch.get_num_threads()} threads)',
             '',
             '| quantity | value |', '|---|---|',
             f'| copy bandwidth, {4 * height * width / 1e6:.1f} MB buffers (cache) '
             f'| {cache:.1f} GB/s |',
             f'| copy bandwidth, 256 MiB buffers (memory) | {memory:.1f} GB/s |']
    for name in names:
        achieved = moved[name] / per_step[name] / 1e9
        lines += [f'| cpu_kernel {name}: time per step | {per_step[name] * 1e3:.3f} ms |',
                  f'| cpu_kernel {name}: bytes per step | {moved[name] / 1e6:.1f} MB |',
                  f'| cpu_kernel {name}: bandwidth reached | {achieved:.1f} GB/s = '
                  f'{achieved / cache:.0%} of cache copy, {achieved / memory:.0%} of memory '
                  'copy |']
    best = min(per_step.values())
    ideal = moved['fused ideal'] / (cache * 1e9)  # seconds per step at cache-copy speed
    lines.append(f"| fused ideal ({moved['fused ideal'] / 1e6:.1f} MB) at cache copy speed | "
                 f'{ideal * 1e3:.3f} ms per step; the fastest kernel is {best / ideal:.1f}x '
                 'that |')
    return '\n'.join(lines)


def curves(path: Path, device: str) -> None:
    """Quality-vs-latency at 640x480 x8 on one scene, for both solvers."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rgb, gt = load_scene('books_big', (640, 480))
    source = block_average(gt, 8)
    series = {'pyramid (this package)': ('pyramid', [4, 8, 16, 32, 48, 64, 96, 128, 192]),
              'paper loop': ('reference', [64, 128, 256, 512, 1024, 2048, 4096, 9024])}
    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    for label, (solver, budgets) in series.items():
        points = []
        for iterations in budgets:
            up = DepthUpsampler(solver=solver, iterations=iterations, device=device)
            result, ms = timed(lambda: up.up(rgb, source), 3 if iterations <= 256 else 1)
            points.append((ms, rmse(result, gt)))
            print(f'  curve {solver} {iterations}: {ms:.0f} ms {points[-1][1]:.3f}',
                  file=sys.stderr, flush=True)
        axis.plot(*zip(*points), marker='o', label=label)
        for (ms, error), iterations in zip(points, budgets):
            axis.annotate(str(iterations), (ms, error), fontsize=7, xytext=(3, 3),
                          textcoords='offset points')
    axis.set_xscale('log')
    axis.set_xlabel('ms per frame (log)')
    axis.set_ylabel('RMSE (disparity px)')
    axis.set_title('Books, 640x480, x8: quality vs latency (labels: iterations)')
    axis.grid(True, which='both', alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='640x480,1280x720')
    parser.add_argument('--factors', default='4,8,16')
    parser.add_argument('--scenes', default=','.join(SCENES))
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--model', default='rgb', choices=('rgb', 'learned'))
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0 = default)')
    parser.add_argument('--iterations', type=int, default=BY_NAME['iterations'].default,
                        help='budget of the pyramid solver and the short plain loop')
    parser.add_argument('--converged-iterations', type=int, default=3000,
                        help="budget of the pyramid solver's converged reference")
    parser.add_argument('--no-roofline', action='store_true')
    parser.add_argument('--interleaved', type=int, default=0, metavar='ROUNDS',
                        help='only the interleaved speed-up (ROUNDS rounds)')
    parser.add_argument('--interleaved-size', default='640x480',
                        help='output size of --interleaved (WxH; 1280x720 for issue 21)')
    parser.add_argument('--interleaved-factor', type=int, default=8,
                        help='factor of --interleaved')
    parser.add_argument('--no-paper', action='store_true',
                        help=f'skip the {PAPER_ITERATIONS}-iteration paper loop (slow)')
    parser.add_argument('--markdown', type=Path, help='also write the table here')
    parser.add_argument('--curves', type=Path, default=Path('out/solver_curves.png'))
    parser.add_argument('--no-curves', action='store_true')
    parser.add_argument('--fractional', type=int, default=0, metavar='FRAMES',
                        help='only the any-size-ratio table on this many RGB-D-D frames')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (DATA / 'dts_middlebury_superres').is_dir():
        sys.exit(f'real data missing: {DATA}/dts_middlebury_superres (set DADA_DATA_DIR)')
    if args.fractional:
        print(machine())
        print(fractional_table(args.fractional, args.repeats, args.iterations,
                               args.converged_iterations))
        return
    if args.interleaved:
        print(machine())
        width, height = (int(v) for v in args.interleaved_size.split('x'))
        print(interleaved_speedup((width, height), args.interleaved_factor, args.device,
                                  args.model, args.interleaved))
        return
    sizes = [tuple(int(v) for v in s.split('x')) for s in args.sizes.split(',')]
    factors = [int(f) for f in args.factors.split(',')]
    rows = run_table(sizes, factors, args.scenes.split(','), args.repeats,  # type: ignore
                     args.device, args.model, args.iterations, args.converged_iterations,
                     not args.no_paper)
    text = (f'Machine: {machine()}, device {args.device}, model {args.model}, pyramid budget '
            f'{args.iterations}, converged = {args.converged_iterations}\n\n' + markdown(rows))
    if not args.no_roofline:
        text += '\n\n' + roofline((640, 480), 8, args.device)
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + '\n')
    if not args.no_curves:
        curves(args.curves, args.device)
        print(f'curves: {args.curves}')


if __name__ == '__main__':
    main()
