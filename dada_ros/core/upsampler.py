# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``DepthUpsampler``: the public, ROS-free entry point of dada_ros."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from .diffusion import reference_diffusion
from .fractional import FractionalSolver
from .guides import Guide, make_guide, RefiningGuide
from .inputs import as_tensor, check_inputs, plausible_depth, prepare_lowres, rgb_features, \
    RGB_MEAN, RGB_STD, size_ratio, upsampling_factor
from .params import BY_NAME, resolve_solver_params, solver_keywords
from .solver import (check_cancel, half_budget_factors, level_iterations, MOMENTUM_SCALE,
                     PyramidSolver, SolveCancelled)
from .sparse import complete_sparse
from .sparse_solver import MAX_LEVELS, SparseSolver

#: Largest finite float32: the output is clamped to it (a product with the scale could
#: round above it for depth near the top of the float32 range).
FLOAT32_MAX = float(np.finfo(np.float32).max)


def resolve_device(name: str) -> torch.device:
    """Map the ``device`` parameter to a torch device.

    ``auto`` picks CUDA when available, else CPU; an explicit CUDA device that is not
    available is an error (``RuntimeError``) rather than a silent fallback.
    """
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(name)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise RuntimeError(f"device '{name}' requested but CUDA is not available "
                               "(use device 'cpu' or 'auto')")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"device '{name}' requested but only "
                               f'{torch.cuda.device_count()} CUDA device(s) exist')
    return device


def resolve_depth_mode(mode: str, factor: float) -> str:
    """'auto' means sparse when the depth has the RGB size (factor 1), else low-res."""
    if mode == 'register':  # the caller registered the depth into the RGB camera: sparse
        mode = 'sparse'
    if mode == 'auto':
        return 'sparse' if factor == 1 else 'lowres'
    if mode == 'sparse' and factor != 1:
        raise ValueError(f"depth.mode 'sparse' needs depth at the rgb size, got factor {factor}")
    return mode


__all__ = ['DepthUpsampler', 'RGB_MEAN', 'RGB_STD', 'SolveCancelled', 'check_inputs',
           'release_memory', 'resolve_depth_mode', 'resolve_device', 'rgb_features',
           'size_ratio', 'upsampling_factor']


def release_memory() -> None:
    """Give freed heap memory back to the operating system (glibc ``malloc_trim``).

    Freed tensors of a huge frame stay in the process heap otherwise (RSS does not drop);
    a no-op where the C library has no ``malloc_trim``.
    """
    name = ctypes.util.find_library('c')
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, 'malloc_trim', None)
    except OSError:
        trim = None
    if trim is not None:
        trim(0)


#: The two passes of a refining (learned) guide run at most this many times the
#: finest-level steps ``model: rgb`` runs on the same frame (issue 21: ``model: learned``
#: costs at most 1.5x ``model: rgb``; the rest pays for its second coefficients).
REFINING_STEP_RATIO = 4.0 / 3.0


def refining_passes(guide: RefiningGuide, budget: int, factor: float, height: int,
                    width: int) -> Tuple[int, int]:
    """Return the steps of the two passes of ``guide`` on a ``height x width`` frame.

    The guide's own split of ``budget`` (:meth:`RefiningGuide.pass_iterations`), scaled
    down in proportion where together they exceed :data:`REFINING_STEP_RATIO` times the
    finest-level steps of ``model: rgb`` on the frame: in frames of 1280x720 and more,
    ``rgb`` runs half the budget at x8 (:func:`dada_ros.core.solver.level_iterations`),
    which the learned guide's sharper coefficients cannot (up to +10 % off at x8).
    """
    first, second = guide.pass_iterations(budget)
    rgb_steps = budget
    if float(factor).is_integer():
        rgb_steps = level_iterations(budget, 0, int(factor), half_budget_factors(height, width))
    cap = max(2, int(round(REFINING_STEP_RATIO * rgb_steps)))
    if first + second > cap:
        first = max(1, int(round(cap * first / (first + second))))
        second = max(1, cap - first)
    return first, second


def _default(name: str) -> Any:
    return BY_NAME[name].default


class DepthUpsampler:
    """Guided depth super-resolution by (Deep) Anisotropic Diffusion.

    >>> up = DepthUpsampler(model='rgb', iterations=64, device='cpu')
    >>> dense = up(rgb, depth)            # or up.up(rgb, depth)

    Every keyword is a solver parameter of :data:`dada_ros.core.params.PARAMETERS` (same
    name, default and range as the node's; ``depth_mode`` is ``depth.mode``). A node or
    YAML parameter dict goes through :meth:`from_params`, which leaves the node-only
    parameters out by name.

    Args:
        model: ``'rgb'`` (unlearned guide) or ``'learned'`` (the guide in ``weights``: the
            packaged two-pass guide or a CNN checkpoint).
        weights: checkpoint of ``model='learned'`` (empty = the packaged weights).
        device: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        iterations: iteration budget per frame; its meaning per solver is stated in the
            parameter table (pyramid: steps at the finest level; reference: all steps).
        solver: ``'pyramid'`` (fast) or ``'reference'`` (the paper's loop).
        depth_mode: ``'auto'``, ``'lowres'`` or ``'sparse'``.
        fill_holes: fill regions without any valid input (else NaN there).
        cpu_kernel: ``'auto'``, ``'numba'`` (the compiled step) or ``'torch'``.
        guide: a guide object to use instead of the one ``model`` names: anything with
            ``coefficients(rgb (1,3,H,W), initial (1,1,H,W), scale) -> (cv, ch)``, e.g. a
            network being trained (:class:`dada_ros.core.models.LearnedGuide`).
    """

    def __init__(self, model: str = _default('model'), weights: str = _default('weights'),
                 device: str = _default('device'), iterations: int = _default('iterations'),
                 solver: str = _default('solver'), depth_mode: str = _default('depth.mode'),
                 fill_holes: bool = _default('fill_holes'),
                 cpu_kernel: str = _default('cpu_kernel'), *,
                 guide: Optional[Guide] = None) -> None:
        self.params: Dict[str, Any] = resolve_solver_params({
            'model': model, 'weights': weights, 'device': device, 'iterations': iterations,
            'solver': solver, 'depth.mode': depth_mode, 'fill_holes': fill_holes,
            'cpu_kernel': cpu_kernel})
        self.device = resolve_device(self.params['device'])
        self.guide: Guide = guide if guide is not None else make_guide(
            self.params['model'], self.params['weights'], self.device)
        self._pyramid = PyramidSolver(kernel=self.params['cpu_kernel'])
        #: Solver of non-integer size ratios (fractional footprints; the torch step).
        self._fractional = FractionalSolver()
        # Solvers of the sparse path (complete_sparse) by "reference solver": their buffers
        # live as long as the image size does.
        self._sparse_solvers: Dict[bool, SparseSolver] = {}

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *,
                    guide: Optional[Guide] = None) -> 'DepthUpsampler':
        """Build from a parameter dict (a YAML section, the node's values; dotted names).

        Node-only parameters are left out (:func:`dada_ros.core.params.solver_keywords`);
        unknown names and invalid values raise ``ValueError``.
        """
        return cls(guide=guide, **solver_keywords(params))

    @property
    def iterations(self) -> int:
        """Iteration budget (at the finest level for the pyramid solver)."""
        return int(self.params['iterations'])

    @iterations.setter
    def iterations(self, value: int) -> None:
        self.set_param('iterations', value)

    def set_param(self, name: str, value: Any) -> None:
        """Change one solver parameter that needs no rebuild (``iterations``, ``solver``...)."""
        resolved = resolve_solver_params({**self.params, name: value})
        if any(resolved[key] != self.params[key] for key in ('model', 'device', 'weights')):
            raise ValueError(f'{name} cannot change at run time; build a new DepthUpsampler')
        PyramidSolver(kernel=resolved['cpu_kernel'])  # 'numba' without numba: ValueError
        self.params = resolved
        self._pyramid.kernel = resolved['cpu_kernel']

    def release(self) -> None:
        """Drop the solver buffers kept for the last image size and trim the heap."""
        self._pyramid = PyramidSolver(kernel=self.params['cpu_kernel'])
        self._fractional = FractionalSolver()
        self._sparse_solvers.clear()
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()
        release_memory()

    def _sparse_solver(self, reference: bool) -> SparseSolver:
        """Return the sparse path's solver (one level for the reference loop), kept per size."""
        solver = self._sparse_solvers.get(reference)
        if solver is None:
            solver = self._sparse_solvers[reference] = SparseSolver(
                max_levels=1 if reference else MAX_LEVELS)
        return solver

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray, depth: np.ndarray, *,
                 iterations: Optional[int] = None,
                 cancel: Optional[Callable[[], bool]] = None,
                 depth_mode: Optional[str] = None) -> np.ndarray:
        """Upsample ``depth`` to the size of ``rgb``.

        Args:
            rgb: ``(H, W, 3)`` uint8 image in RGB order (read-only arrays are fine).
            depth: ``(h, w)`` float array, any positive unit; NaN, Inf, values <= 0 and
                values more than :data:`~dada_ros.core.inputs.MAX_DEPTH_RATIO` (1e6) times
                above or below the median valid value are invalid. ``H = f * h`` and
                ``W = f * w`` for one size ratio ``f >= 1``, an integer or not (the same
                field of view; each depth pixel covers a rectangle of ``f x f`` RGB pixels,
                with fractional edges where ``f`` is not an integer). Not modified.
            iterations: budget of this call only (default: the ``iterations`` parameter).
            cancel: polled between solver levels; when it returns True the call raises
                :class:`SolveCancelled` (a parameter change or shutdown stops a long solve).
            depth_mode: ``depth.mode`` of this call only (default: the parameter); the frame
                pipeline passes ``'sparse'`` for registered depth and projected clouds.

        Returns:
            ``(H, W)`` float32 depth in the unit of ``depth``, finite where the input had
            a valid neighbourhood; NaN only where no input was valid (everywhere when
            ``depth`` has no valid pixel, or in unfilled holes when ``fill_holes`` is
            false).
        """
        factor = check_inputs(rgb, depth)
        depth = plausible_depth(depth)  # a bounded dynamic range: float32 cannot overflow
        budget = self.iterations if iterations is None else int(iterations)
        if budget < 1:
            raise ValueError(f'iterations must be >= 1, got {budget}')
        mode = self.params['depth.mode'] if depth_mode is None else depth_mode
        if resolve_depth_mode(mode, factor) == 'sparse':
            reference = self.params['solver'] == 'reference'
            return complete_sparse(rgb, depth, self.guide, self._sparse_solver(reference),
                                   budget, device=self.device,
                                   fill_holes=bool(self.params['fill_holes']),
                                   kernel=self.params['cpu_kernel'], reference=reference)
        big_h, big_w = rgb.shape[:2]
        try:
            prepared = prepare_lowres(depth, factor)
        except ValueError:  # no valid pixel
            return np.full((big_h, big_w), np.nan, dtype=np.float32)
        device = self.device
        source = as_tensor(prepared.source, device)
        valid = as_tensor(prepared.valid, device)
        initial = as_tensor(prepared.initial, device)
        rgb_t = rgb_features(rgb, device)
        guide = self.guide
        first, second = budget, 0
        momentum = (MOMENTUM_SCALE, MOMENTUM_SCALE)
        if isinstance(guide, RefiningGuide):
            first, second = refining_passes(guide, budget, factor, big_h, big_w)
            momentum = guide.momentum_scales
        cv, ch = guide.coefficients(rgb_t, initial[None, None], scale=prepared.scale)
        check_cancel(cancel)
        result = self._solve(initial, cv[0, 0], ch[0, 0], source, valid, factor, first,
                             cancel, momentum_scale=momentum[0])
        if isinstance(guide, RefiningGuide):  # the first answer guides a second solve
            # the learned parameters are per integer factor: the nearest one
            cv, ch = guide.refine_coefficients(rgb_t, result[None, None], max(1, round(factor)))
            check_cancel(cancel)
            result = self._solve(result, cv[0, 0], ch[0, 0], source, valid, factor, second,
                                 cancel, warm_start=True, momentum_scale=momentum[1])
        # back to the caller's unit in place (``result`` is the solver's own copy); a
        # product beyond float32 becomes its largest value
        out = torch.mul(result, prepared.scale, out=result).clamp_(max=FLOAT32_MAX).cpu() \
            .numpy()
        if not self.params['fill_holes'] and not prepared.valid.all():
            # NaN where the footprint holding the pixel centre is invalid (whole blocks:
            # exactly the blocks of the invalid pixels)
            h, w = prepared.valid.shape
            rows = (2 * np.arange(big_h) + 1) * h // (2 * big_h)
            cols = (2 * np.arange(big_w) + 1) * w // (2 * big_w)
            out[~prepared.valid[np.ix_(rows, cols)]] = np.nan
        return out

    #: The name used before ``DepthUpsampler`` became callable; kept for existing callers.
    up = __call__

    def _solve(self, initial: torch.Tensor, cv: torch.Tensor, ch: torch.Tensor,
               source: torch.Tensor, valid: torch.Tensor, factor: float, iterations: int,
               cancel: Optional[Callable[[], bool]] = None, warm_start: bool = False,
               momentum_scale: float = MOMENTUM_SCALE) -> torch.Tensor:
        """Run the chosen solver (``warm_start``: ``initial`` is a first answer to refine)."""
        if self.params['solver'] == 'reference':  # the paper's loop simply continues
            return reference_diffusion(initial[None, None], cv[None, None], ch[None, None],
                                       source[None, None], valid[None, None], factor,
                                       iterations, cancel=cancel)[0, 0]
        if not float(factor).is_integer():  # fractional footprints
            return self._fractional.solve(initial, cv, ch, source, valid, factor, iterations,
                                          cancel=cancel, warm_start=warm_start,
                                          momentum_scale=momentum_scale)
        # the learned two-pass guide keeps the full budget at x8 (level_iterations)
        return self._pyramid.solve(initial, cv, ch, source, valid, int(factor), iterations,
                                   cancel=cancel, warm_start=warm_start,
                                   momentum_scale=momentum_scale,
                                   half_budget=not isinstance(self.guide, RefiningGuide))
