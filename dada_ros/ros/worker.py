# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The worker thread of ``dada_node``: one solve at a time, only the newest frame waits.

:class:`FrameWorker` keeps only the newest pair while busy (older pairs are counted as
``dropped_busy``), so the executor is never blocked; a running solve stops when a solver
parameter changes or at shutdown; buffers of a past image size are released when the
size changes or after :data:`IDLE_RELEASE_S` without frames. :func:`warm_up` runs one
small solve so that the first real frame does not pay torch's first-call costs (and
builds one cloud, for the compiled cloud kernel's).
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional, Tuple

import numpy as np
import torch

from ..core.upsampler import DepthUpsampler
from ..msgs.clouds import depth_to_pointcloud
from ..pipeline import PairedFrame

__all__ = ['FrameWorker', 'IDLE_RELEASE_S', 'is_out_of_memory', 'warm_up']

#: RGB size of the warm-up frame (the depth is a quarter of it, or sparse at full size).
WARMUP_SIZE = 64
#: Iteration budget of the warm-up frame (at most; the configured budget if smaller).
WARMUP_ITERATIONS = 8
#: Seconds without a frame after which the solver buffers are released.
IDLE_RELEASE_S = 10.0

_OOM_TYPES: Tuple[type, ...] = tuple(
    t for t in (getattr(torch, 'OutOfMemoryError', None),
                getattr(torch.cuda, 'OutOfMemoryError', None), MemoryError)
    if isinstance(t, type))


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an out-of-memory error of torch (CPU or CUDA) or Python."""
    if isinstance(error, _OOM_TYPES):
        return True
    return isinstance(error, RuntimeError) and 'out of memory' in str(error).lower()


def warm_up(upsampler: DepthUpsampler) -> float:
    """Run one small solve so the first real frame does not pay first-call costs; ms."""
    size = WARMUP_SIZE
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    # 'register' solves the registered depth as sparse depth at the RGB size, like 'sparse'.
    if upsampler.params['depth.mode'] in ('sparse', 'register'):
        depth = np.full((size, size), np.nan, dtype=np.float32)
        depth[::4, ::4] = 1.0 + rng.random((size // 4, size // 4), dtype=np.float32)
    else:
        depth = 1.0 + rng.random((size // 4, size // 4), dtype=np.float32)
        depth[0, 0] = np.nan
    started = time.monotonic()
    dense = upsampler(rgb, depth, iterations=min(upsampler.iterations, WARMUP_ITERATIONS))
    # The cloud kernel too (numba's import and its cached code: most of a second).
    k = np.array([[size, 0.0, size / 2], [0.0, size, size / 2], [0.0, 0.0, 1.0]])
    depth_to_pointcloud(dense, k, rgb=rgb)
    return 1e3 * (time.monotonic() - started)


class FrameWorker:
    """One worker thread that solves frames; while it is busy only the newest frame waits.

    Args:
        solve: ``solve(frame, cancel)`` does the work of one frame; ``cancel()`` returns
            True when the worker is asked to stop.
        on_error: called with an exception ``solve`` raised (the worker keeps running).
        on_idle: called once after :data:`IDLE_RELEASE_S` without frames.
    """

    def __init__(self, solve: Callable[[PairedFrame, Callable[[], bool]], None],
                 on_error: Callable[[BaseException], None],
                 on_idle: Callable[[], None]) -> None:
        """Keep the callbacks; the thread starts with :meth:`start`."""
        self._solve = solve
        self._on_error = on_error
        self._on_idle = on_idle
        self._wake = threading.Condition()
        self._slot: Optional[PairedFrame] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._busy_since: Optional[float] = None
        self.dropped_busy = 0

    def start(self, before: Callable[[], None]) -> None:
        """Start the thread; it runs ``before`` (the warm-up) first."""
        self._stop = threading.Event()
        started = threading.Event()

        def run() -> None:
            try:
                before()
            finally:
                started.set()
            self._loop(self._stop)
        self._thread = threading.Thread(target=run, name='dada_worker', daemon=True)
        self._thread.start()
        started.wait()

    def submit(self, frame: PairedFrame) -> None:
        """Hand ``frame`` over; a frame still waiting is replaced (``dropped_busy``)."""
        with self._wake:
            if self._slot is not None:
                self.dropped_busy += 1
            self._slot = frame
            self._wake.notify()

    def clear(self) -> None:
        """Forget the waiting frame (not counted: the host's deactivate forgets input)."""
        with self._wake:
            self._slot = None

    def busy_for(self) -> float:
        """Seconds the current solve has been running (0 when idle)."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def stop(self, timeout: float = 1.5) -> bool:
        """Ask the thread to stop and wait; return whether it has finished."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self, stop: threading.Event) -> None:
        idle_since = time.monotonic()
        released = True
        while not stop.is_set():
            with self._wake:
                if self._slot is None:
                    self._wake.wait(0.1)
                frame, self._slot = self._slot, None
            if frame is None:
                if not released and time.monotonic() - idle_since > IDLE_RELEASE_S:
                    self._on_idle()
                    released = True
                continue
            self._busy_since = time.monotonic()
            try:
                self._solve(frame, stop.is_set)
            except Exception as error:  # noqa: B902 - keep serving the next frame
                if stop.is_set():
                    return
                self._on_error(error)
            finally:
                self._busy_since = None
            idle_since, released = time.monotonic(), False
