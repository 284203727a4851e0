# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Print or rewrite the documents generated from ``dada_ros/core/params.py``.

Usage: ``python scripts/params_table.py`` prints the markdown parameter table;
``python scripts/params_table.py --write`` rewrites ``config/dada.yaml`` and the table in
``docs/parameters.md`` (run it after changing the parameter table; ``test/test_docs.py``
and ``test/test_launch.py`` fail while either is stale); ``--update PAGE`` rewrites the
table between the markers of another page. The generators are in
:mod:`dada_ros.tools.params_docs`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dada_ros.tools.params_docs import (render_params_table, render_params_yaml,  # noqa: E402,I100
                                        replace_params_table)

#: The files that ``--write`` regenerates, relative to the repository root.
PARAMS_YAML = ROOT / 'config' / 'dada.yaml'
PARAMS_PAGE = ROOT / 'docs' / 'parameters.md'


def main(argv: Optional[List[str]] = None) -> int:
    """Print the table, or rewrite the generated files in place."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--update', type=Path, help='markdown page to rewrite in place')
    parser.add_argument('--write', action='store_true',
                        help='rewrite config/dada.yaml and the table in docs/parameters.md')
    args = parser.parse_args(argv)
    if args.write:
        PARAMS_YAML.write_text(render_params_yaml())
        args.update = PARAMS_PAGE
    if args.update is None:
        sys.stdout.write(render_params_table())
        return 0
    args.update.write_text(replace_params_table(args.update.read_text()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
