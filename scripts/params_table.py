# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Print the README's parameter table, generated from ``dada_ros/core/params.py``.

Usage: ``python scripts/params_table.py`` prints the markdown table;
``python scripts/params_table.py --update README.md`` rewrites the block between the
markers; ``python scripts/params_table.py --write`` rewrites ``config/dada.yaml`` and the
README table. The generators are :func:`dada_ros.core.params.render_readme_table` and
:func:`dada_ros.core.params.render_params_yaml`, beside the table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core.params import (README_BEGIN as BEGIN, README_END as END,  # noqa: E402,I100
                                  render_params_yaml, render_readme_table as table,
                                  replace_readme_table)

ROOT = Path(__file__).resolve().parents[1]

__all__ = ['BEGIN', 'END', 'main', 'replace_block', 'table']


def replace_block(text: str, block: str) -> str:
    """Return ``text`` with the marked block replaced by ``block``."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + '\n' + block + text[end:]


def main(argv: Optional[List[str]] = None) -> int:
    """Print the table or update a README in place."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--update', type=Path, help='README to rewrite in place')
    parser.add_argument('--write', action='store_true',
                        help='rewrite config/dada.yaml and the table in README.md')
    args = parser.parse_args(argv)
    if args.write:
        (ROOT / 'config' / 'dada.yaml').write_text(render_params_yaml())
        args.update = ROOT / 'README.md'
    if args.update is None:
        sys.stdout.write(table())
        return 0
    args.update.write_text(replace_readme_table(args.update.read_text()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
