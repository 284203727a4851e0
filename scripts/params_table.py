# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Print the README's parameter table, generated from ``dada_ros/core/params.py``.

Usage: ``python scripts/params_table.py`` prints the markdown table;
``python scripts/params_table.py --update README.md`` rewrites the block between the
``<!-- params-table:begin -->`` and ``<!-- params-table:end -->`` markers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from typing import Any, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dada_ros.core.params import PARAMETERS, ParamSpec  # noqa: E402

BEGIN = '<!-- params-table:begin -->'
END = '<!-- params-table:end -->'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return f"`'{value}'`" if value else "`''`"
    return f'`{value}`'


def _allowed(spec: ParamSpec) -> str:
    if spec.choices is not None:
        return ', '.join(_value(c) for c in spec.choices)
    if spec.min_value is not None or spec.max_value is not None:
        lo = '' if spec.min_value is None else f'{spec.min_value:g}'
        hi = '' if spec.max_value is None else f'{spec.max_value:g}'
        return f'{lo} .. {hi}'
    return ''


def table() -> str:
    """Return the markdown table of every parameter (one row each, table order)."""
    rows: List[str] = [
        '| name | default | type | allowed | scope | restart | description |',
        '|---|---|---|---|---|---|---|',
    ]
    for spec in PARAMETERS:
        default = _value(spec.default) if not isinstance(spec.default, bool) \
            else f'`{_value(spec.default)}`'
        description = spec.description.replace('|', '\\|')
        rows.append(f'| `{spec.name}` | {default} | {spec.type.__name__} | {_allowed(spec)} '
                    f"| {spec.scope} | {'yes' if spec.read_only else 'no'} | {description} |")
    return '\n'.join(rows) + '\n'


def replace_block(text: str, block: str) -> str:
    """Return ``text`` with the marked block replaced by ``block``."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + '\n' + block + text[end:]


def main(argv: Optional[List[str]] = None) -> int:
    """Print the table or update a README in place."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--update', type=Path, help='README to rewrite in place')
    args = parser.parse_args(argv)
    if args.update is None:
        sys.stdout.write(table())
        return 0
    text = args.update.read_text()
    args.update.write_text(replace_block(text, table()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
