# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_process_bag --jobs N``: a folder of real bags, one process per bag, in parallel."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

from dada_ros.tools.bag_io import BagReader
from dada_ros.tools.batch_bags import find_bags
from dada_ros.tools.make_sample_bag import make_sample_bag, SampleBagOptions
import pytest

REPO = Path(__file__).resolve().parents[1]


def _options(storage: str, duration: float) -> SampleBagOptions:
    return SampleBagOptions(duration=duration, rate=5.0, width=128, height=96, factor=4,
                            storage=storage)


def _run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'dada_ros.tools.process_bag', *arguments],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_folder_of_bags_in_parallel(tmp_path: Path) -> None:
    """Two bags (sqlite3, mcap) and one broken bag: every good bag is processed, each counted."""
    folder = tmp_path / 'bags'
    folder.mkdir()
    frames = {'a_sqlite': len(make_sample_bag(folder / 'a_sqlite', _options('sqlite3', 0.6))),
              'b_mcap': len(make_sample_bag(folder / 'b_mcap', _options('mcap', 1.0)))}
    broken = folder / 'c_broken'
    broken.mkdir()
    (broken / 'metadata.yaml').write_text('not: a bag\n')
    (folder / 'notes.txt').write_text('not a bag either\n')
    assert [p.name for p in find_bags(folder)] == ['a_sqlite', 'b_mcap', 'c_broken']

    out = tmp_path / 'out'
    result = _run(str(folder), str(out), '--jobs', '2', '-p', 'iterations:=4',
                  '-p', 'device:=cpu', '-p', 'model:=rgb')
    assert result.returncode == 1, result.stderr  # the broken bag fails, the others do not
    summary = (out / 'batch_summary.md').read_text()
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
            for line in summary.splitlines() if line.startswith('| ') and '---' not in line}
    for name, count in frames.items():
        state, frames_done, wall, cpu, rate, per_core, rss = rows[name]
        assert state == 'ok' and int(frames_done) == count, rows[name]
        assert float(cpu) > 0 and float(per_core) > 0 and float(rss) > 50
        with BagReader(out / name) as reader:
            assert reader.topics['/depth_dense/image'].count == count
            assert reader.storage == ('mcap' if 'mcap' in name else 'sqlite3')
    assert rows['c_broken'][0].startswith('FAILED')
    assert (out / 'logs' / 'c_broken.log').read_text().strip()
    assert rows['**all**'][0] == '2/3 ok' and int(rows['**all**'][1]) == sum(frames.values())
    assert 'frames/s per core' in result.stdout


@pytest.mark.parametrize('problem', ['not_a_folder', 'one_bag', 'empty'])
def test_bad_batch_inputs_are_usage_errors(tmp_path: Path, problem: str) -> None:
    """A file, a single bag or an empty folder given to --jobs: exit 2 and a clear message."""
    target = tmp_path / problem
    if problem == 'not_a_folder':
        target.write_text('x')
    elif problem == 'one_bag':
        make_sample_bag(target, _options('sqlite3', 0.2))
    else:
        target.mkdir()
    result = _run(str(target), str(tmp_path / 'out'), '--jobs', '2')
    assert result.returncode == 2
    assert 'error' in result.stderr and ('folder' in result.stderr or 'bag' in result.stderr)
