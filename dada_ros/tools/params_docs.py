# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Documents generated from the parameter table (:data:`dada_ros.core.params.PARAMETERS`).

* :func:`render_params_yaml` - the text of ``config/dada.yaml``: every parameter with its
  default, its description, and its choices or range as comments.
* :func:`render_params_table` - the markdown table of ``docs/parameters.md``, one row per
  parameter; :func:`replace_params_table` regenerates it between :data:`TABLE_BEGIN` and
  :data:`TABLE_END` in a page.

``python scripts/params_table.py --write`` rewrites both files; ``test/test_docs.py`` and
``test/test_launch.py`` fail when either is stale. Nothing here runs in the node.
"""

from __future__ import annotations

import textwrap
from typing import Any, List

from ..core.params import PARAMETERS, PARAMS_FILE_KEY, ParamSpec

__all__ = ['TABLE_BEGIN', 'TABLE_END', 'render_params_table', 'render_params_yaml',
           'replace_params_table']

_YAML_HEADER = f"""\
# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
# Parameters of dada_node with their defaults (generated from dada_ros/core/params.py by
# `python scripts/params_table.py --write`; a test checks that the two never drift). Use with
#   ros2 run dada_ros dada_node --ros-args --params-file config/dada.yaml
# or the params_file argument of launch/dada.launch.py. The key {PARAMS_FILE_KEY} applies to
# dada_node in any namespace. (ro) = read only, needs a restart.
{PARAMS_FILE_KEY}:
  ros__parameters:
"""

#: Markers of the generated parameter table in docs/parameters.md.
TABLE_BEGIN = '<!-- params-table:begin -->'
TABLE_END = '<!-- params-table:end -->'


def _render_value(value: Any) -> str:
    """Render a default as YAML (bool lower case, strings single-quoted)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def render_params_yaml() -> str:
    """Text of ``config/dada.yaml``: every parameter with its default and description."""
    lines = []
    for spec in PARAMETERS:
        text = spec.description + (' (ro)' if spec.read_only else '')
        if spec.choices is not None:
            text += ' Choices: ' + ', '.join(str(c) for c in spec.choices) + '.'
        elif spec.min_value is not None:
            text += f' Range: [{spec.min_value}, {spec.max_value}].'
        lines += ['    # ' + line for line in textwrap.wrap(text, 90)]
        lines.append(f'    {spec.name}: {_render_value(spec.default)}')
    return _YAML_HEADER + '\n'.join(lines) + '\n'


def _table_value(value: Any) -> str:
    """Render a default or choice as markdown code (strings quoted: '' stays visible)."""
    if isinstance(value, bool):
        return '`true`' if value else '`false`'
    if isinstance(value, str):
        return f"`'{value}'`" if value else "`''`"
    return f'`{value}`'


def _allowed(spec: ParamSpec) -> str:
    """Return the choices or the range of a parameter; empty when any value goes."""
    if spec.choices is not None:
        return ', '.join(_table_value(c) for c in spec.choices)
    if spec.min_value is not None or spec.max_value is not None:
        lo = '' if spec.min_value is None else f'{spec.min_value:g}'
        hi = '' if spec.max_value is None else f'{spec.max_value:g}'
        return f'{lo} .. {hi}'
    return ''


def render_params_table() -> str:
    """Return the parameter table (markdown), one row per parameter, ending in a newline."""
    rows: List[str] = [
        '| name | default | type | allowed | scope | restart | description |',
        '|---|---|---|---|---|---|---|',
    ]
    for spec in PARAMETERS:
        description = spec.description.replace('|', '\\|')
        rows.append(f'| `{spec.name}` | {_table_value(spec.default)} | {spec.type.__name__} '
                    f'| {_allowed(spec)} | {spec.scope} | {"yes" if spec.read_only else "no"} '
                    f'| {description} |')
    return '\n'.join(rows) + '\n'


def replace_params_table(text: str) -> str:
    """Return the page ``text`` with the block between the markers regenerated.

    Raises ``ValueError`` when ``text`` lacks a marker or has them in the wrong order.
    """
    start, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    if end < start:
        raise ValueError(f'{TABLE_END!r} comes before {TABLE_BEGIN!r}')
    return text[:start] + '\n' + render_params_table() + text[end:]
