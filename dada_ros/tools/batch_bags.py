# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_process_bag --jobs N FOLDER OUT``: a folder of bags, one process per bag.

Every bag directly inside ``FOLDER`` (a rosbag2 folder with ``metadata.yaml``, or a single
``.mcap`` / ``.db3`` file) is processed by its own ``dada_process_bag`` process into
``OUT/<bag name>``, at most ``N`` at a time. Memory is bounded by ``N`` times one process:
each process streams its bag message by message and holds one image size of solver
buffers. Each process gets ``--threads`` torch/OpenMP threads (default: the cores divided by
``N``, at least 1), so ``N`` jobs never oversubscribe the machine.

Afterwards a summary per bag is printed and written to ``OUT/batch_summary.md``: exit code,
frames, wall and CPU seconds, frames per second of wall time and per CPU-core second, and
peak memory (``ru_maxrss``) of the process. A bag that fails does not stop the others; the
exit code is 1 when any bag failed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import os
from pathlib import Path
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ['BagJob', 'JobResult', 'find_bags', 'child_arguments', 'run_jobs', 'summary_table',
           'run_batch']

#: File suffixes of single-file bags.
BAG_SUFFIXES = ('.mcap', '.db3')
_FRAMES = re.compile(r'^frames processed: (\d+)', re.MULTILINE)


@dataclass
class BagJob:
    """One input bag and where its output goes."""

    name: str
    source: Path
    output: Path


@dataclass
class JobResult:
    """What one ``dada_process_bag`` process did."""

    job: BagJob
    returncode: int
    frames: int
    wall_s: float
    cpu_s: float
    max_rss_mib: float
    log: Path

    @property
    def frames_per_s(self) -> float:
        """Frames per second of wall time."""
        return self.frames / self.wall_s if self.wall_s > 0 else float('nan')

    @property
    def frames_per_core_s(self) -> float:
        """Frames per CPU-core second (user + system time of the process)."""
        return self.frames / self.cpu_s if self.cpu_s > 0 else float('nan')


def find_bags(folder: Path) -> List[Path]:
    """Return the bags directly inside ``folder``, sorted by name.

    Raises:
        ValueError: ``folder`` is not a folder, is itself one bag, or holds no bag.
    """
    if not folder.is_dir():
        raise ValueError(f'--jobs needs a folder of bags, {folder} is not a folder')
    if (folder / 'metadata.yaml').is_file():
        raise ValueError(f'{folder} is one bag; --jobs takes a folder that contains bags')
    bags = [path for path in sorted(folder.iterdir())
            if (path.is_dir() and (path / 'metadata.yaml').is_file())
            or (path.is_file() and path.suffix in BAG_SUFFIXES)]
    if not bags:
        raise ValueError(f'no bags in {folder} (rosbag2 folders with metadata.yaml, or '
                         f'{", ".join(BAG_SUFFIXES)} files)')
    return bags


def child_arguments(args: argparse.Namespace, job: BagJob) -> List[str]:
    """Return the ``dada_process_bag`` arguments of one bag, from the batch's arguments."""
    child = [str(job.source), str(job.output), '--no-progress', '--storage', args.storage,
             '--node-name', args.node_name, '--rgb-topic', args.rgb_topic,
             '--depth-topic', args.depth_topic, '--camera-info-topic', args.camera_info_topic,
             '--gt-topic', args.gt_topic, '--namespace', args.namespace,
             '--preview-every', str(args.preview_every)]
    if args.params_file is not None:
        child += ['--params-file', str(args.params_file)]
    for override in args.param:
        child += ['-p', override]
    if args.preview is not None:
        child += ['--preview', str(args.preview / job.name)]
    if args.eval_dir is not None:
        child += ['--eval-dir', str(args.eval_dir / job.name)]
    if args.depth_range is not None:
        child += ['--depth-range', f'{args.depth_range[0]},{args.depth_range[1]}']
    return child


def _start(job: BagJob, arguments: Sequence[str], threads: int,
           log_dir: Path) -> Tuple[subprocess.Popen, Path, float]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONUNBUFFERED='1')
    log = log_dir / f'{job.name}.log'
    with open(log, 'wb') as stream:
        process = subprocess.Popen([sys.executable, '-m', 'dada_ros.tools.process_bag',
                                    *arguments],
                                   stdout=stream, stderr=subprocess.STDOUT, env=env)
    return process, log, time.monotonic()


def run_jobs(jobs: Sequence[Tuple[BagJob, Sequence[str]]], parallel: int, threads: int,
             log_dir: Path) -> List[JobResult]:
    """Run one ``dada_process_bag`` process per job, at most ``parallel`` at once.

    Each process is reaped with ``os.wait4``, which gives its own CPU time and peak RSS.
    """
    if parallel < 1:
        raise ValueError(f'--jobs must be >= 1, got {parallel}')
    log_dir.mkdir(parents=True, exist_ok=True)
    waiting = list(jobs)
    running: Dict[int, Tuple[BagJob, subprocess.Popen, Path, float]] = {}
    results: List[JobResult] = []
    while waiting or running:
        while waiting and len(running) < parallel:
            job, arguments = waiting.pop(0)
            process, log, started = _start(job, arguments, threads, log_dir)
            running[process.pid] = (job, process, log, started)
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        job, process, log, started = running.pop(pid)
        process.returncode = os.waitstatus_to_exitcode(status)
        text = log.read_text(errors='replace')
        match = _FRAMES.search(text)
        results.append(JobResult(
            job=job, returncode=process.returncode, frames=int(match.group(1)) if match else 0,
            wall_s=time.monotonic() - started, cpu_s=usage.ru_utime + usage.ru_stime,
            max_rss_mib=usage.ru_maxrss / 1024.0, log=log))
    order = {job.name: index for index, (job, _) in enumerate(jobs)}
    return sorted(results, key=lambda result: order[result.job.name])


def summary_table(results: Sequence[JobResult], parallel: int, threads: int,
                  wall_s: float) -> str:
    """Markdown summary: one row per bag and a total row."""
    lines = [f'{len(results)} bags, {parallel} parallel jobs, {threads} thread(s) per job, '
             f'{os.cpu_count()} cores, {wall_s:.1f} s wall in total', '',
             '| bag | result | frames | wall s | CPU s | frames/s | frames/s per core '
             '| peak RSS MiB |',
             '|---|---|---:|---:|---:|---:|---:|---:|']
    for result in results:
        state = 'ok' if result.returncode == 0 else f'FAILED (exit {result.returncode}; ' \
            f'log {result.log})'
        lines.append(f'| {result.job.name} | {state} | {result.frames} | {result.wall_s:.1f} '
                     f'| {result.cpu_s:.1f} | {result.frames_per_s:.2f} '
                     f'| {result.frames_per_core_s:.2f} | {result.max_rss_mib:.0f} |')
    frames = sum(result.frames for result in results)
    cpu = sum(result.cpu_s for result in results)
    peak = max((result.max_rss_mib for result in results), default=0.0)
    lines.append(f'| **all** | {sum(r.returncode == 0 for r in results)}/{len(results)} ok '
                 f'| {frames} | {wall_s:.1f} | {cpu:.1f} '
                 f'| {frames / wall_s if wall_s > 0 else float("nan"):.2f} '
                 f'| {frames / cpu if cpu > 0 else float("nan"):.2f} '
                 f'| {peak:.0f} per process, <= {parallel} at once |')
    return '\n'.join(lines)


def run_batch(args: argparse.Namespace, threads: Optional[int] = None) -> int:
    """Process every bag of ``args.input`` into ``args.output``; return the exit code."""
    try:
        bags = find_bags(args.input)
    except ValueError as error:
        print(f'dada_process_bag: error: {error}', file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f'dada_process_bag: error: --jobs must be >= 1, got {args.jobs}', file=sys.stderr)
        return 2
    if args.output.exists():
        print(f'dada_process_bag: error: output folder {args.output} exists', file=sys.stderr)
        return 1
    per_job = threads or max(1, (os.cpu_count() or 1) // args.jobs)
    args.output.mkdir(parents=True)
    jobs = []
    for bag in bags:
        name = bag.stem if bag.is_file() else bag.name
        job = BagJob(name=name, source=bag, output=args.output / name)
        jobs.append((job, child_arguments(args, job)))
    print(f'dada_process_bag: {len(jobs)} bags from {args.input} -> {args.output}, '
          f'{args.jobs} at a time, {per_job} thread(s) each', file=sys.stderr)
    started = time.monotonic()
    results = run_jobs(jobs, args.jobs, per_job, args.output / 'logs')
    table = summary_table(results, args.jobs, per_job, time.monotonic() - started)
    (args.output / 'batch_summary.md').write_text('# dada_process_bag batch\n\n' + table + '\n')
    print(table)
    print(f'wrote {args.output / "batch_summary.md"}')
    return 0 if all(result.returncode == 0 for result in results) else 1
