# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""ROS-free run-time core of dada_ros: solver, guides, inputs, pairing, the parameter table.

``from dada_ros.core import DepthUpsampler`` is the public API. The names are resolved
lazily (PEP 562), so that importing a light submodule such as ``dada_ros.core.params``
(read by launch files and tools) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any, List, TYPE_CHECKING

if TYPE_CHECKING:  # the type checker sees the real names; at run time they load lazily
    from .params import PARAMETERS, ParamSpec
    from .upsampler import DepthUpsampler

__all__ = ['DepthUpsampler', 'PARAMETERS', 'ParamSpec']

_SOURCES = {'DepthUpsampler': '.upsampler', 'PARAMETERS': '.params', 'ParamSpec': '.params'}


def __getattr__(name: str) -> Any:
    if name not in _SOURCES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(_SOURCES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(list(globals()) + __all__)
