# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""The README and the pages in docs/ stay true to the code.

* ``docs/parameters.md`` is the rendering of the parameter table (and
  ``scripts/params_table.py`` regenerates it);
* the README stays a front door (at most 300 lines, the two commands, the launch line, the
  node's topics and key parameters as the code has them, a link to every page);
* every relative link of the README and the pages points to a file that exists, and every
  module, name and repository file they mention in code spans exists;
* ``docs/architecture.md`` names every module of the package;
* ``scripts/readme_figure.py`` still draws the README's picture.
"""

from __future__ import annotations

from pathlib import Path
import re
import subprocess
import sys
from typing import Dict, Iterator, List, Tuple

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dada_ros.core.params import BY_NAME, PARAMETERS  # noqa: E402, I100
from dada_ros.tools.params_docs import (render_params_table, replace_params_table,  # noqa: E402
                                        TABLE_BEGIN, TABLE_END)

README = ROOT / 'README.md'
DOCS = ROOT / 'docs'
PARAMS_PAGE = DOCS / 'parameters.md'
#: A markdown link or image: [text](target) or ![alt](target); the target without a title.
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')


def _pages() -> List[Path]:
    return [README] + sorted(DOCS.glob('*.md'))


def _section(text: str, title: str) -> str:
    """Return the body of the markdown section headed ``title`` (any level)."""
    match = re.search(rf'^(#+) {re.escape(title)}\n', text, re.MULTILINE)
    assert match, f'no section {title!r}'
    level = len(match.group(1))
    end = re.search(rf'^#{{1,{level}}} ', text[match.end():], re.MULTILINE)
    return text[match.end():match.end() + end.start() if end else None]


def _table_rows(section: str) -> Iterator[List[str]]:
    """Cells of the body rows of the first markdown table in ``section``."""
    rows = [line for line in section.splitlines() if line.startswith('|')]
    for line in rows[2:]:
        yield [cell.strip() for cell in line.strip('|').split(' | ')]


def test_parameter_page_is_generated_from_the_table() -> None:
    page = PARAMS_PAGE.read_text()
    assert page.count(TABLE_BEGIN) == 1 and page.count(TABLE_END) == 1
    assert replace_params_table(page) == page, \
        'docs/parameters.md is stale: run python scripts/params_table.py --write'
    names = [row[0] for row in _table_rows(page[page.index(TABLE_BEGIN):])]
    assert names == [f'`{spec.name}`' for spec in PARAMETERS]


def test_params_table_script_rewrites_a_stale_page(tmp_path: Path) -> None:
    page = PARAMS_PAGE.read_text()
    start, end = page.index(TABLE_BEGIN) + len(TABLE_BEGIN), page.index(TABLE_END)
    stale = tmp_path / 'parameters.md'
    stale.write_text(page[:start] + '\n| `gone` | old row |\n' + page[end:])
    result = subprocess.run([sys.executable, str(ROOT / 'scripts' / 'params_table.py'),
                             '--update', str(stale)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert stale.read_text() == page
    printed = subprocess.run([sys.executable, str(ROOT / 'scripts' / 'params_table.py')],
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0 and printed.stdout == render_params_table()


def test_readme_is_a_front_door() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 300, 'README.md is a front door: at most 300 lines'
    for command in ('bash scripts/demo.sh', 'bash scripts/test.sh',
                    'ros2 launch dada_ros dada.launch.py preset:='):
        assert command in text, command
    linked = {Path(target.split('#')[0]).name for target in LINK.findall(text)
              if target.startswith('docs/')}
    pages = {path.name for path in DOCS.glob('*.md')}
    assert pages - linked == set(), f'pages not linked from the README: {pages - linked}'


def _code_strings() -> str:
    """All source text of the package, where topic names are string literals."""
    return '\n'.join(p.read_text() for p in (ROOT / 'dada_ros').rglob('*.py'))


def test_readme_topics_are_the_nodes_topics() -> None:
    text = README.read_text()
    code = _code_strings()
    for title in ('Subscribed topics', 'Published topics'):
        topics = [row[0].strip('`') for row in _table_rows(_section(text, title))]
        assert topics, title
        for topic in topics:
            assert f"'{topic}'" in code, f'{title}: {topic} is not a topic name in dada_ros/'


def test_readme_key_parameters_have_the_tables_defaults() -> None:
    rows: Dict[str, Tuple[str, ...]] = {
        row[0].strip('`'): tuple(row[1:])
        for row in _table_rows(_section(README.read_text(), 'Parameters'))}
    assert len(rows) == 5, 'five key parameters, the rest in docs/parameters.md'
    for name, (default, _) in rows.items():
        assert name in BY_NAME, name
        value = BY_NAME[name].default
        expected = f"`'{value}'`" if isinstance(value, str) else f'`{value!r}`'
        assert default == expected, f'{name}: README says {default}, the table {expected}'


def test_relative_links_point_to_existing_files() -> None:
    broken = []
    for page in _pages():
        for target in LINK.findall(page.read_text()):
            if re.match(r'[a-z]+:', target) or target.startswith('#'):
                continue
            if not (page.parent / target.split('#')[0]).exists():
                broken.append(f'{page.relative_to(ROOT)}: {target}')
    assert not broken, f'links to missing files: {broken}'


def test_readme_figure_script_draws_the_picture(tmp_path: Path) -> None:
    """The script that draws the README's picture runs (on the embedded scene, no data)."""
    out = tmp_path / 'figure.png'
    result = subprocess.run([sys.executable, str(ROOT / 'scripts' / 'readme_figure.py'),
                             '--frame', 'sample', '--out', str(out)],
                            capture_output=True, text=True, timeout=200)
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r'bicubic RMSE ([\d.]+) m, DADA RMSE ([\d.]+) m', result.stdout)
    assert match, result.stdout
    assert float(match.group(2)) < float(match.group(1))
    picture = cv2.imread(str(out))
    committed = cv2.imread(str(DOCS / 'before_after.png'))
    assert picture is not None and committed is not None
    assert picture.shape[1] == committed.shape[1] == 5 * 256
    assert '](docs/before_after.png)' in README.read_text()


#: ``dada_ros.x.y`` in prose, and module paths: ``dada_ros/x/y.py`` or ``core/y.py``.
DOTTED = re.compile(r'\bdada_ros(?:\.[A-Za-z_]\w*)+')
MODULE_PATH = re.compile(r'\b((?:dada_ros/)?(?:core|msgs|ros|tools|training)/\w+\.py|'
                         r'dada_ros/\w+\.py)\b')
#: Repository files in backticks: ``scripts/test.sh``, ``config/dada.yaml``, ...
REPO_PATH = re.compile(r'`((?:scripts|benchmarks|test|config|launch|rviz|docs)/[\w./-]+)`')
PACKAGE = ROOT / 'dada_ros'


def _module_file(parts: List[str]) -> Path:
    """Return the file of module ``dada_ros.<parts>`` (a package: its ``__init__.py``)."""
    base = PACKAGE.joinpath(*parts)
    return base / '__init__.py' if base.is_dir() else base.with_suffix('.py')


def _defines(module: Path, name: str) -> bool:
    """Whether ``module`` defines ``name`` at its top level (or exports it lazily)."""
    source = module.read_text()
    if module.name == '__init__.py' and f"'{name}'" in source:
        return True
    return re.search(rf'^(?:def|class) {name}\b|^{name}\s*[:=]', source, re.MULTILINE) is not None


def test_code_named_in_the_docs_exists() -> None:
    """Every ``dada_ros.module[.name]``, module path and repository file named is real."""
    missing = []
    for page in _pages():
        text = page.read_text()
        for dotted in set(DOTTED.findall(text)):
            parts = dotted.split('.')[1:]
            depth = max((n for n in range(1, len(parts) + 1)
                         if _module_file(parts[:n]).is_file()), default=0)
            rest = parts[depth:]
            if depth == 0 or len(rest) > 1 or (
                    rest and not _defines(_module_file(parts[:depth]), rest[0])):
                missing.append(f'{page.name}: {dotted}')
        for path in set(MODULE_PATH.findall(text)):
            relative = path if path.startswith('dada_ros/') else 'dada_ros/' + path
            if not (ROOT / relative).is_file():
                missing.append(f'{page.name}: {path}')
        for path in set(REPO_PATH.findall(text)):
            if not (ROOT / path).exists():
                missing.append(f'{page.name}: {path}')
    assert not missing, f'the docs name code that does not exist: {sorted(missing)}'


def test_architecture_page_names_every_module() -> None:
    page = (DOCS / 'architecture.md').read_text()
    named = set(re.findall(r'`(dada_ros/[\w/]+\.py)`', page))
    modules = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob('*.py')
               if p.name != '__init__.py' and '__pycache__' not in p.parts}
    assert modules - named == set(), \
        f'modules missing from docs/architecture.md: {sorted(modules - named)}'
    assert named - modules == set(), \
        f'docs/architecture.md names modules that do not exist: {sorted(named - modules)}'
