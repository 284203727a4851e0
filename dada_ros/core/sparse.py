# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Guided completion of sparse depth (depth at the RGB size with most pixels invalid)."""

from __future__ import annotations

from typing import Any

import numpy as np


def complete_sparse(upsampler: Any, rgb: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Complete sparse ``depth`` (H x W, NaN = invalid) guided by ``rgb`` (H x W x 3 uint8)."""
    raise NotImplementedError('sparse depth completion is not implemented yet')
