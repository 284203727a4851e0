# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Files the package ships (``config/dada.yaml``...), from a source checkout or an install.

One lookup for the offline tools (``dada_process_bag``, ``dada_demo``): the source tree
first (a checkout run with ``python -m``), then the ament index (``colcon`` install), then
``<sys.prefix>/share/dada_ros`` (a pip install of the package's data files).
"""

from __future__ import annotations

from pathlib import Path
import sys
from typing import Optional

__all__ = ['PACKAGE', 'package_file', 'packaged_params_file']

PACKAGE = 'dada_ros'
#: The root of the source tree this module belongs to (holds ``config/`` in a checkout).
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def package_file(relative: str) -> Optional[Path]:
    """Return the shipped file ``relative`` (e.g. ``'config/dada.yaml'``), or ``None``."""
    source = _SOURCE_ROOT / relative
    if source.is_file():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory(PACKAGE)) / relative
        if installed.is_file():
            return installed
    except (ImportError, LookupError, ValueError, OSError):  # not installed through ament
        pass
    installed = Path(sys.prefix) / 'share' / PACKAGE / relative
    return installed if installed.is_file() else None


def packaged_params_file() -> Optional[Path]:
    """Return the shipped ``config/dada.yaml`` (the node's parameters), or ``None``."""
    return package_file('config/dada.yaml')
