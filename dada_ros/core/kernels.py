# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Optional compiled CPU kernels of the solvers' steps (numba), one sweep per step.

The eager torch step (:meth:`dada_ros.core.solver.PyramidSolver._iterate`) is ten or so
image-sized passes: Eq. 1 as a product and four shifted multiply-adds, Eq. 3 as a
row-block sum and a broadcast product, momentum and the positivity floor. It runs close
to the copy bandwidth of those passes, so the only way to go faster on a CPU is to move
fewer bytes. :func:`fused_steps` does one step in one pass over each block row of ``f``
image rows: it reads the estimate, the previous answer and the two link-weight arrays once
and writes the new answer and the next extrapolated point once; the block sums of Eq. 3
and the rescaling happen while the block row is still in cache. Block rows are
independent within a step, so they run in parallel (``numba.prange``).
:func:`masked_stencil_steps` does the same for the sparse solver's plain Eq. 1 stencil
(:class:`dada_ros.core.sparse_solver.SparseSolver`): one pass per row instead of five, reading one
weight per link and a byte per pixel for the held measurements.

numba compiles each kernel on first use (cached on disk afterwards); installing numba is optional
(the ``fast`` extra). Without it, or with ``cpu_kernel: torch``, the torch step runs, and
both give the same answer to float32 rounding (the test compares them).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from typing import Any, Callable, Dict, Tuple

import numpy as np
import torch

#: Whether the compiled kernel can run here: numba is installed (it is optional; the Jazzy
#: test venv has none, so the torch step runs there). numba itself (0.4 s) is imported on
#: the first compiled solve, not with this module.
AVAILABLE = importlib.util.find_spec('numba') is not None
#: The numba module once imported (the kernel's ``numba.prange`` resolves through it).
numba: Any = None
#: Choices of the ``cpu_kernel`` parameter.
CPU_KERNELS = ('auto', 'numba', 'torch')

# numba's fallback thread pool ('workqueue', used where neither TBB nor OpenMP is found)
# aborts the process when two threads launch parallel kernels at once; one kernel already
# uses every core, so serialising calls costs nothing.
_LOCK = threading.Lock()


def use_compiled(kernel: str, device: torch.device) -> bool:
    """Whether a pyramid solve with parameter ``cpu_kernel = kernel`` runs :func:`fused_steps`.

    Raises:
        ValueError: ``kernel`` is unknown, or ``'numba'`` without numba installed.
    """
    if kernel not in CPU_KERNELS:
        raise ValueError(f'cpu_kernel must be one of {list(CPU_KERNELS)}, got {kernel!r}')
    if kernel == 'numba' and not AVAILABLE:
        raise ValueError("cpu_kernel 'numba' needs the numba package (pip install numba, or "
                         "the 'fast' extra of dada_ros); use 'auto' or 'torch'")
    return device.type == 'cpu' and kernel != 'torch' and AVAILABLE


def _fused_steps(estimate: np.ndarray, padded: np.ndarray, padded_next: np.ndarray,
                 w_vertical: np.ndarray, w_horizontal: np.ndarray, source_sums: np.ndarray,
                 invalid: np.ndarray, column_sums: np.ndarray, factor: int, momentum: float,
                 floor: float, eps: float, steps: int, threads: int) -> np.ndarray:
    """Run ``steps`` accelerated DADA steps (Eq. 1, Eq. 3, momentum) in place.

    Per step and pixel, with ``y`` the extrapolated point and ``x`` the last answer:
    ``z = (1 - sum of the four link weights) y + sum of weight * neighbour`` (Eq. 1),
    ``x' = z * source_sum / (block sum of z + eps)`` per ``f x f`` block, or ``x' = z`` where
    the source is invalid (Eq. 3), then ``y' = max(x' + momentum (x' - x), floor)``.

    Steps run in pairs, as a wavefront over the block rows (temporal blocking): the second
    step of block row ``b - 1`` follows the first step of block row ``b``, while both are
    still in the core's cache, so a pair reads the weights and the estimate from memory
    once instead of twice. Step ``k + 1`` of a block row needs step ``k`` of its two
    neighbours (one stencil row each way) and overwrites the ``y`` they read, so each
    thread's range of block rows defers the second step of its first and last block rows
    to a short second parallel pass; the answer is that of one step after another, bit for
    bit.

    Args:
        estimate: ``(H, W)`` float32 ``x``, overwritten with the answer of the last step.
        padded: ``(H+2, W+2)`` float32 ``y`` inside a border of zeros (the border is read,
            never written; its weights are zero).
        padded_next: same shape, the other buffer of the pair (its border also zero).
        w_vertical: ``(H+1, W)``: row ``r`` weights the link between rows ``r-1`` and ``r``
            (``rate * cv``); rows 0 and H are zero.
        w_horizontal: ``(H, W+1)``: column ``c`` the link between columns ``c-1`` and ``c``;
            columns 0 and W are zero.
        source_sums: ``(H/f, W/f)`` float32 target block sums (source * f^2).
        invalid: ``(H/f, W/f)`` bool, blocks left free.
        column_sums: ``(H/f, W)`` float32 scratch.
        factor: block factor ``f``.
        momentum: heavy-ball factor.
        floor: smallest value of ``y``.
        eps: added to every block sum (the adjustment divides by it).
        steps: number of steps.
        threads: the threads the kernel runs on (one range of block rows each).

    Returns:
        The one of ``padded`` / ``padded_next`` that holds the last ``y``.
    """
    height, width = estimate.shape
    block_rows, block_cols = height // factor, width // factor
    one = np.float32(1.0)
    chunks = max(1, min(threads, block_rows // 2))
    deferred = np.zeros(block_rows, np.bool_)  # block rows whose second step waits
    for chunk in range(1, chunks):
        deferred[chunk * block_rows // chunks - 1] = True
        deferred[chunk * block_rows // chunks] = True
    # passes: (pair of steps as a wavefront per chunk, the deferred second steps) per pair,
    # then one plain step when ``steps`` is odd
    passes = 2 * (steps // 2) + steps % 2
    for done in range(passes):
        kind = 2 if done == passes - 1 and steps % 2 == 1 else done % 2
        items = chunks if kind == 0 else block_rows  # (numba parallelises a plain name)
        for item in numba.prange(items):
            first = item * block_rows // chunks if kind == 0 else item
            stop = (item + 1) * block_rows // chunks if kind == 0 else item + 1
            for front in range(first, stop + 1):
                for stage in range(2):
                    block_row = front - stage
                    if kind == 0 and (block_row < first or block_row == stop
                                      or (stage == 1 and deferred[block_row])):
                        continue  # outside the chunk, or its second step is deferred
                    if kind == 1 and (stage == 0 or block_row < first
                                      or not deferred[block_row]):
                        continue
                    if kind == 2 and (stage == 1 or block_row == stop):
                        continue
                    second = stage == 1 or kind == 1
                    source = padded_next if second else padded
                    target = padded if second else padded_next
                    sums = column_sums[block_row]
                    for col in range(width):  # (a loop: ``sums[:] = 0`` would be a parfor)
                        sums[col] = 0.0
                    # Eq. 1 into the interior of target, which nobody reads in this step
                    for k in range(factor):
                        row = block_row * factor + k
                        above, below = w_vertical[row], w_vertical[row + 1]
                        left, right = w_horizontal[row, :width], w_horizontal[row, 1:]
                        y_above, y_row = source[row, 1:width + 1], source[row + 1]
                        y_below, diffused = source[row + 2, 1:width + 1], \
                            target[row + 1, 1:width + 1]
                        for col in range(width):
                            value = (y_row[col + 1] * (one - above[col] - below[col]
                                                       - left[col] - right[col])
                                     + above[col] * y_above[col] + below[col] * y_below[col]
                                     + left[col] * y_row[col] + right[col] * y_row[col + 2])
                            diffused[col] = value
                            sums[col] += value
                    # Eq. 3: source / mean of every block of this block row, spread over
                    # its columns (reusing ``sums``)
                    for block_col in range(block_cols):
                        total = np.float32(0.0)
                        for q in range(factor):
                            total += sums[block_col * factor + q]
                        ratio = one if invalid[block_row, block_col] else \
                            source_sums[block_row, block_col] / (total + eps)
                        for q in range(factor):
                            sums[block_col * factor + q] = ratio
                    # x' = ratio z, y' = max(x' + momentum (x' - x), floor), still in cache
                    for k in range(factor):
                        row = block_row * factor + k
                        answer, diffused = estimate[row], target[row + 1, 1:width + 1]
                        for col in range(width):
                            adjusted = diffused[col] * sums[col]
                            extrapolated = adjusted + momentum * (adjusted - answer[col])
                            answer[col] = adjusted
                            diffused[col] = max(extrapolated, floor)
    return padded_next if steps % 2 == 1 else padded


def _masked_stencil_steps(padded: np.ndarray, padded_next: np.ndarray,
                          w_vertical: np.ndarray, w_horizontal: np.ndarray,
                          free: np.ndarray, steps: int) -> bool:
    """Run ``steps`` Eq. 1 steps with symmetric link weights; pixels not ``free`` stay.

    ``out = I + free * sum_q w_pq (I_q - I)``: the torch step of the sparse solver (centre
    weight ``1 - sum_q w_pq``; a fixed pixel keeps its value), from four arrays instead of
    seven (each link weight stored once, not once per end, and no centre weight).

    Args:
        padded: ``(H+2, W+2)`` float32 start inside a border (read, never written; its
            weights are zero).
        padded_next: same shape, the other buffer of the pair.
        w_vertical: ``(H+1, W)``: row ``r`` weights the link between rows ``r-1`` and ``r``;
            rows 0 and H zero.
        w_horizontal: ``(H, W+1)``: column ``c`` the link between columns ``c-1`` and ``c``;
            columns 0 and W zero.
        free: ``(H, W)`` uint8, 0 where the pixel is held (a measurement).
        steps: number of steps.

    Returns:
        True when the result is in ``padded_next`` (an odd number of steps), else False.
    """
    height, width = free.shape
    source, target = padded, padded_next
    for _ in range(steps):
        for row in numba.prange(height):
            above, below = w_vertical[row], w_vertical[row + 1]
            left, right = w_horizontal[row, :width], w_horizontal[row, 1:]
            y_above, y_row, y_below = source[row], source[row + 1], source[row + 2]
            out, held = target[row + 1], free[row]
            for col in range(width):
                value = y_row[col + 1]
                flow = (above[col] * (y_above[col + 1] - value)
                        + below[col] * (y_below[col + 1] - value)
                        + left[col] * (y_row[col] - value)
                        + right[col] * (y_row[col + 2] - value))
                out[col + 1] = value + flow if held[col] else value
        source, target = target, source
    return steps % 2 == 1


def _nearest_indices(valid: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                     scratch: np.ndarray) -> None:
    """Exact Euclidean nearest valid pixel of every pixel (a feature transform), in place.

    Two separable passes (Felzenszwalb and Huttenlocher's lower envelope of parabolas):
    per column the nearest valid row, then per row the column whose parabola
    ``(c - c')**2 + vertical distance(c')**2`` is lowest. The same nearest distances as
    scipy's ``distance_transform_edt``; only exact ties may pick another pixel.

    Args:
        valid: ``(H, W)`` bool with at least one True.
        rows: ``(H, W)`` int32 out: row of the nearest valid pixel.
        cols: ``(H, W)`` int32 out: its column.
        scratch: ``(H, W)`` int32: row of the nearest valid pixel in the same column
            (-1 where the column has none).
    """
    height, width = valid.shape
    blocks = (width + 63) // 64
    for block in numba.prange(blocks):  # columns in blocks: contiguous inner loops
        start, stop = block * 64, min(width, block * 64 + 64)
        for col in range(start, stop):
            scratch[0, col] = 0 if valid[0, col] else -1
        for row in range(1, height):
            for col in range(start, stop):
                scratch[row, col] = row if valid[row, col] else scratch[row - 1, col]
        below = np.full(stop - start, -1, np.int64)
        for row in range(height - 1, -1, -1):
            for col in range(start, stop):
                if valid[row, col]:
                    below[col - start] = row
                up, down = scratch[row, col], below[col - start]
                if down >= 0 and (up < 0 or down - row < row - up):
                    scratch[row, col] = down
    for row in numba.prange(height):
        envelope = np.empty(width, np.int64)
        bounds = np.empty(width + 1, np.float64)
        heights = np.empty(width, np.float64)
        count = 0
        for col in range(width):
            nearest = scratch[row, col]
            if nearest < 0:
                continue
            value = float(nearest - row) ** 2 + float(col) ** 2
            heights[col] = value
            while True:
                if count == 0:
                    envelope[0], bounds[0] = col, -np.inf
                    count = 1
                    break
                last = envelope[count - 1]
                crossing = (value - heights[last]) / (2.0 * (col - last))
                if crossing <= bounds[count - 1]:
                    count -= 1
                    continue
                envelope[count], bounds[count] = col, crossing
                count += 1
                break
        bounds[count] = np.inf
        index = 0
        for col in range(width):
            while bounds[index + 1] < col:
                index += 1
            best = envelope[index]
            rows[row, col] = scratch[row, best]
            cols[row, col] = best


def _coarsen_links(cv: np.ndarray, ch: np.ndarray, cv_out: np.ndarray,
                   ch_out: np.ndarray) -> None:
    """:func:`dada_ros.core.solver.coarsen_coefficients` of one image in one pass.

    Resistances ``1/c`` in series along a link's axis (half the two interior links plus
    the crossing one), the two fine links across it in parallel (conductances averaged).

    Args:
        cv: ``(H-1, W)`` float32 vertical coefficients, H and W even.
        ch: ``(H, W-1)`` float32 horizontal coefficients.
        cv_out: ``(H/2-1, W/2)`` float32, written.
        ch_out: ``(H/2, W/2-1)`` float32, written.
    """
    tiny, one, half = np.float32(1e-12), np.float32(1.0), np.float32(0.5)
    for i in numba.prange(cv_out.shape[0]):
        first, cross, last, out = cv[2 * i], cv[2 * i + 1], cv[2 * i + 2], cv_out[i]
        for j in range(out.shape[0]):
            total = np.float32(0.0)
            for c in range(2 * j, 2 * j + 2):
                resistance = (half * (one / max(first[c], tiny) + one / max(last[c], tiny))
                              + one / max(cross[c], tiny))
                total += one / resistance
            out[j] = total  # 0.5 * (2 / r + 2 / r')
    for i in numba.prange(ch_out.shape[0]):
        out = ch_out[i]
        for j in range(out.shape[0]):
            total = np.float32(0.0)
            for r in range(2 * i, 2 * i + 2):
                row = ch[r]
                resistance = (half * (one / max(row[2 * j], tiny)
                                      + one / max(row[2 * j + 2], tiny))
                              + one / max(row[2 * j + 1], tiny))
                total += one / resistance
            out[j] = total


def _normalise_rgb(rgb: np.ndarray, gains: np.ndarray, offsets: np.ndarray,
                   out: np.ndarray) -> None:
    """Planar ``out[c] = rgb[..., c] * gains[c] + offsets[c]`` in one pass over the image.

    Args:
        rgb: ``(H, W, 3)`` uint8, interleaved (any row stride).
        gains: ``(3,)`` float32, ``1 / (255 std_c)``.
        offsets: ``(3,)`` float32, ``-mean_c / std_c``.
        out: ``(3, H, W)`` float32, written.
    """
    height, width = rgb.shape[0], rgb.shape[1]
    for row in numba.prange(height):
        pixels = rgb[row]
        for c in range(3):
            gain, offset, target = gains[c], offsets[c], out[c, row]
            for col in range(width):
                target[col] = np.float32(pixels[col, c]) * gain + offset


def _weighted_coefficients(rgb: np.ndarray, depth: np.ndarray, colour_gain: float,
                           depth_gain: float, cv: np.ndarray, ch: np.ndarray) -> None:
    """``g(colour_gain * sum_c |d rgb_c| + depth_gain * |d depth|)`` per link, one pass.

    ``g(x) = 1 / (1 + x^2)``: :func:`dada_ros.core.diffusion.weighted_coefficients` with the
    gains already divided by ``4 K`` (the channel mean of the four features over K).

    Args:
        rgb: ``(3, H, W)`` float32 colour features.
        depth: ``(H, W)`` float32 depth feature.
        colour_gain: ``rgb_weight / (4 K)``.
        depth_gain: ``depth_weight / (4 K)``.
        cv: ``(H-1, W)`` float32 out: links between rows ``r`` and ``r+1``.
        ch: ``(H, W-1)`` float32 out: links between columns ``c`` and ``c+1``.
    """
    height, width = depth.shape
    one = np.float32(1.0)
    for row in numba.prange(height):
        r0, g0, b0, d0 = rgb[0, row], rgb[1, row], rgb[2, row], depth[row]
        horizontal = ch[row]
        for col in range(width - 1):
            x = (colour_gain * (abs(r0[col + 1] - r0[col]) + abs(g0[col + 1] - g0[col])
                                + abs(b0[col + 1] - b0[col]))
                 + depth_gain * abs(d0[col + 1] - d0[col]))
            horizontal[col] = one / (one + x * x)
        if row + 1 < height:
            r1, g1, b1, d1 = rgb[0, row + 1], rgb[1, row + 1], rgb[2, row + 1], depth[row + 1]
            vertical = cv[row]
            for col in range(width):
                x = (colour_gain * (abs(r1[col] - r0[col]) + abs(g1[col] - g0[col])
                                    + abs(b1[col] - b0[col]))
                     + depth_gain * abs(d1[col] - d0[col]))
                vertical[col] = one / (one + x * x)


#: Compiled kernels by name, made on first use.
_COMPILED: Dict[str, Callable[..., Any]] = {}


def _threads() -> int:
    """Threads a compiled kernel runs on: torch's count, at most numba's."""
    limit = numba.config.NUMBA_NUM_THREADS if numba is not None else 1
    return max(1, min(torch.get_num_threads(), limit))


def _run_compiled(function: Callable[..., Any], args: Tuple[Any, ...],
                  pass_threads: bool = False) -> Any:
    """Compile ``function`` once (cached on disk) and run it on every core torch uses.

    ``pass_threads``: append that number of threads to ``args`` (a kernel that splits its
    work into one range per thread; numba's own query cannot be cached on disk).
    """
    global numba
    if not AVAILABLE:
        raise RuntimeError('numba is not installed')
    threads = torch.get_num_threads()
    with _LOCK:
        compiled = _COMPILED.get(function.__name__)
        if compiled is None:
            numba = importlib.import_module('numba')
            compiled = numba.njit(parallel=True, nogil=True, cache=True)(function)
            _COMPILED[function.__name__] = compiled
        count = _threads()
        numba.set_num_threads(count)
        try:
            return compiled(*(args + (count,) if pass_threads else args))
        finally:
            # numba's OpenMP layer shares torch's runtime (libgomp) and may reset its
            # thread count when it starts; the caller's torch setting stays as it was.
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)


def normalise_rgb(*args: Any) -> None:
    """Run :func:`_normalise_rgb` compiled (same arguments)."""
    _run_compiled(_normalise_rgb, args)


def weighted_coefficients(*args: Any) -> None:
    """Run :func:`_weighted_coefficients` compiled (same arguments)."""
    _run_compiled(_weighted_coefficients, args)


def coarsen_links(*args: Any) -> None:
    """Run :func:`_coarsen_links` compiled (same arguments)."""
    _run_compiled(_coarsen_links, args)


def fused_steps(*args: Any) -> np.ndarray:
    """Run :func:`_fused_steps` compiled (the same arguments but ``threads``)."""
    result: np.ndarray = _run_compiled(_fused_steps, args, pass_threads=True)
    return result


def nearest_indices(*args: Any) -> None:
    """Run :func:`_nearest_indices` compiled (same arguments)."""
    _run_compiled(_nearest_indices, args)


def masked_stencil_steps(*args: Any) -> bool:
    """Run :func:`_masked_stencil_steps` compiled (same arguments)."""
    return bool(_run_compiled(_masked_stencil_steps, args))


def _line_ends(bridged: np.ndarray, filled: np.ndarray, length: int, values: np.ndarray,
               extended: np.ndarray) -> None:
    """Extend every run of ``filled`` pixels of a row by its end value, ``length`` px each way.

    The compiled form of :func:`dada_ros.core.sparse.line_ends` (the same pixels and values:
    the nearer run's end wins, the left one at a tie): one pass per row instead of a dozen
    full-image numpy passes (about 40 ms at 1280x720).

    Args:
        bridged: ``(H, W)`` float32 values at the filled pixels.
        filled: ``(H, W)`` bool.
        length: most pixels past a run's end.
        values: ``(H, W)`` float32 output, the end value at extended pixels, else 0.
        extended: ``(H, W)`` bool output, the extended pixels.
    """
    height, width = filled.shape
    far = 2 * width + length + 2  # farther than any pixel of the row
    for row in numba.prange(height):
        last = -far  # column of the last filled pixel at or left of ``col``
        following = -1  # column of the next filled pixel at or right of it (width: none)
        for col in range(width):
            if following < col:  # passed: find the next one (each gap is scanned once)
                following = col
                while following < width and not filled[row, following]:
                    following += 1
            values[row, col] = 0.0
            extended[row, col] = False
            if filled[row, col]:
                last = col
                continue
            from_left = col - last
            from_right = following - col if following < width else far
            if from_left <= from_right and from_left <= length:
                values[row, col] = bridged[row, last]
                extended[row, col] = True
            elif from_right < from_left and from_right <= length:
                values[row, col] = bridged[row, following]
                extended[row, col] = True


def line_ends(*args: Any) -> None:
    """Run :func:`_line_ends` compiled (same arguments)."""
    _run_compiled(_line_ends, args)
