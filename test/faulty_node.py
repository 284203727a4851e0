# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_node`` whose solver fails on chosen calls (run as a second process by the tests).

``DADA_TEST_FAULTS=oom@2,error@4 python -m faulty_node --ros-args ...`` (with ``test/`` on
``PYTHONPATH``): the 2nd solve after the warm-up
raises ``torch.OutOfMemoryError`` and the 4th a ``RuntimeError``, from inside the solve,
after the input checks and allocations, as real failures would. The node is the real
:class:`dada_ros.ros.node.DadaNode`, given a :class:`DepthUpsampler` subclass through its
``make_upsampler`` argument.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
from typing import Any, Dict, List, Optional

from dada_ros.core.upsampler import DepthUpsampler
from dada_ros.ros.node import DadaNode
from dada_ros.ros.process import run
import torch


def parse_faults(text: str) -> Dict[int, str]:
    """``oom@2,error@4`` -> {2: 'oom', 4: 'error'} (call numbers after the warm-up)."""
    faults = {}
    for part in filter(None, text.split(',')):
        kind, _, index = part.partition('@')
        if kind not in ('oom', 'error') or not index.isdigit():
            raise SystemExit(f'bad fault {part!r}: expected oom@N or error@N')
        faults[int(index)] = kind
    return faults


class FaultyUpsampler(DepthUpsampler):
    """A :class:`DepthUpsampler` whose solve fails on the listed calls."""

    def __init__(self, *args: Any, faults: Dict[int, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.faults = faults
        self.calls = itertools.count(0)  # call 0 is the node's warm-up

    def _solve(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        kind = self.faults.get(next(self.calls))
        if kind == 'oom':
            raise torch.OutOfMemoryError('out of memory (injected by faulty_node)')
        if kind == 'error':
            raise RuntimeError('solver failure (injected by faulty_node)')
        return super()._solve(*args, **kwargs)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the node with the faults of ``DADA_TEST_FAULTS``."""
    faults = parse_faults(os.environ.get('DADA_TEST_FAULTS', ''))
    factory = functools.partial(FaultyUpsampler, faults=faults)
    return run(lambda: DadaNode(make_upsampler=factory), 'dada_node', argv)


if __name__ == '__main__':
    sys.exit(main())
