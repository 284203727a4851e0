# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_play_bag``: publish a rosbag2's messages with their recorded timing.

A small stand-in for ``ros2 bag play`` on machines without rosbag2 (e.g. rclpy from PyPI):
the bag is read with ``rosbags`` (sqlite3 or mcap) and every message is published as its
recorded bytes, at the recorded log-time spacing divided by ``--rate``. Publishers use
reliable, volatile QoS with a keep-last history of ``--qos-depth`` (as ``ros2 bag play``
does by default), so both reliable and best-effort subscribers match; the program waits for
all reliable deliveries to be acknowledged and exits at the end of the bag.

Options: ``--topics`` (play only these), ``--remap OLD:=NEW`` (rename topics; repeatable),
``--rate``, ``--delay`` (seconds before the first message), ``--wait-for-subscribers
SECONDS`` (wait until every publisher is matched, at most that long, so nothing is lost to
discovery), ``--clock [HZ]`` (publish ``rosgraph_msgs/Clock`` on ``/clock`` with the
recorded time, as ``ros2 bag play --clock`` does: right before every message with its
recorded time and at HZ, default 40, in between; nodes with ``use_sim_time`` follow it).

Message types must be importable (``sensor_msgs`` etc.); topics of unknown types are
skipped and reported. DDS settings come from the environment, as for any ROS 2 program:
set ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (or ``ROS_LOCALHOST_ONLY=1`` on older
distributions) and ``ROS_DOMAIN_ID`` as needed to keep the replay on this machine; large
images with best-effort subscribers need the shipped Fast DDS profile
(``config/fastdds_shm.xml``, see the node's documentation).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
import sys
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .bag_io import BagError, BagReader, message_class

__all__ = ['PlayStats', 'parse_remaps', 'play_bag', 'main']


@dataclass
class PlayStats:
    """What :func:`play_bag` did."""

    published: Dict[str, int] = field(default_factory=dict)
    skipped_topics: Dict[str, str] = field(default_factory=dict)
    unmatched_topics: List[str] = field(default_factory=list)
    seconds: float = 0.0
    max_lag: float = 0.0
    """Largest delay (s) of a publication behind its scheduled wall time."""
    clock_published: int = 0
    """Number of ``/clock`` messages published (``clock_hz > 0``)."""


def parse_remaps(items: Sequence[str]) -> Dict[str, str]:
    """Parse ``OLD:=NEW`` remapping rules into a dict (``ValueError`` on bad syntax)."""
    remaps: Dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition(':=')
        if not sep or not old.strip() or not new.strip():
            raise ValueError(f'remapping must look like OLD:=NEW, got {item!r}')
        remaps[old.strip()] = new.strip()
    return remaps


def play_bag(path: Path, rate: float = 1.0, topics: Optional[Sequence[str]] = None,
             remaps: Optional[Mapping[str, str]] = None, delay: float = 0.0,
             wait_for_subscribers: float = 0.0, qos_depth: int = 100,
             node_name: str = 'dada_play_bag', args: Optional[List[str]] = None,
             log: Any = None, clock_hz: float = 0.0) -> PlayStats:
    """Publish the messages of ``path``; return the statistics.

    Initialises and shuts down its own rclpy context, so it can run beside other contexts.
    With ``clock_hz > 0`` the recorded time is published on ``/clock`` (before each message,
    with its recorded log time, and at ``clock_hz`` while waiting for the next one).

    Raises:
        BagError: the bag cannot be read.
        ValueError: bad arguments.
    """
    import rclpy
    from rclpy.context import Context
    from rclpy.duration import Duration
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    if not rate > 0:
        raise ValueError(f'rate must be > 0, got {rate}')
    if clock_hz < 0:
        raise ValueError(f'clock rate must be >= 0, got {clock_hz}')
    remaps = dict(remaps or {})
    log = log or sys.stderr
    stats = PlayStats()
    context = Context()
    # Never let rclpy parse sys.argv: our OLD:=NEW remaps would read as (deprecated) ROS
    # remapping rules of the player node itself.
    rclpy.init(args=[node_name] if args is None else args, context=context)
    try:
        node = rclpy.create_node(node_name, context=context)
        qos = QoSProfile(depth=qos_depth, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        with BagReader(path) as reader:
            wanted = list(reader.topics) if topics is None else list(topics)
            missing = [t for t in wanted if t not in reader.topics]
            if missing:
                print(f'warning: topics not in the bag: {missing}', file=log)
            publishers = _publishers(node, reader, wanted, remaps, qos, stats, log)
            clock = _ClockPublisher(node, clock_hz, stats) if clock_hz > 0 else None
            if wait_for_subscribers > 0:
                _wait_for_subscribers(publishers, wait_for_subscribers, stats, log)
            if delay > 0:
                time.sleep(delay)
            started = time.monotonic()
            _replay(reader, publishers, context, clock, started, rate, stats)
            for publisher in publishers.values():
                publisher.wait_for_all_acked(Duration(seconds=5))
            stats.seconds = time.monotonic() - started
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    return stats


def _publishers(node: Any, reader: BagReader, wanted: Sequence[str], remaps: Mapping[str, str],
                qos: Any, stats: PlayStats, log: Any) -> Dict[str, Any]:
    """One publisher per wanted topic of the bag (remapped); unknown types are skipped."""
    publishers: Dict[str, Any] = {}
    for name in wanted:
        if name not in reader.topics:
            continue
        try:
            cls = message_class(reader.topics[name].msgtype)
        except BagError as error:
            stats.skipped_topics[name] = str(error)
            print(f'warning: skipping {name}: {error}', file=log)
            continue
        publishers[name] = node.create_publisher(cls, remaps.get(name, name), qos)
        stats.published[name] = 0
    return publishers


def _wait_for_subscribers(publishers: Mapping[str, Any], seconds: float, stats: PlayStats,
                          log: Any) -> None:
    """Wait up to ``seconds`` until every publisher is matched; record those that are not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(
            p.get_subscription_count() == 0 for p in publishers.values()):
        time.sleep(0.05)
    stats.unmatched_topics = [p.topic_name for p in publishers.values()
                              if p.get_subscription_count() == 0]
    if stats.unmatched_topics:
        print(f'warning: no subscriber after {seconds:g} s on {stats.unmatched_topics}',
              file=log)


def _replay(reader: BagReader, publishers: Mapping[str, Any], context: Any,
            clock: Optional['_ClockPublisher'], started: float, rate: float,
            stats: PlayStats) -> None:
    """Publish the messages at their recorded pace times ``rate`` (and the clock)."""
    first: Optional[int] = None
    for raw in reader.messages(list(publishers)):
        if not context.ok():
            break
        if first is None:
            first = raw.log_time
        due = started + (raw.log_time - first) * 1e-9 / rate
        wait = due - time.monotonic()
        if wait > 0:
            if clock is None:
                time.sleep(wait)
            else:
                clock.tick_until(due, started, first, rate, raw.log_time)
        else:
            stats.max_lag = max(stats.max_lag, -wait)
        if clock is not None:
            clock.publish(raw.log_time)
        publishers[raw.topic].publish(raw.data)
        stats.published[raw.topic] += 1


class _ClockPublisher:
    """Publishes the recorded time on ``/clock`` (``rosgraph_msgs/Clock``)."""

    def __init__(self, node: Any, hz: float, stats: PlayStats) -> None:
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        from rosgraph_msgs.msg import Clock
        self._message = Clock
        # Reliable keep-last 1 matches the best-effort subscription of rclpy's TimeSource
        # as well as reliable ones.
        qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        self._publisher = node.create_publisher(Clock, '/clock', qos)
        self._period = 1.0 / hz
        self._stats = stats
        self._last = -1

    def publish(self, nanoseconds: int) -> None:
        """Publish ``nanoseconds`` of recorded time, never going backwards."""
        nanoseconds = max(int(nanoseconds), self._last)
        msg = self._message()
        msg.clock.sec, msg.clock.nanosec = divmod(nanoseconds, 1_000_000_000)
        self._publisher.publish(msg)
        self._last = nanoseconds
        self._stats.clock_published += 1

    def tick_until(self, due: float, started: float, first: int, rate: float,
                   next_time: int) -> None:
        """Sleep until the wall time ``due``, publishing the playback time every period."""
        while True:
            now = time.monotonic()
            if now >= due:
                return
            playback = first + int((now - started) * rate * 1e9)
            self.publish(min(playback, next_time))
            time.sleep(min(self._period, due - now))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line of ``dada_play_bag``."""
    parser = argparse.ArgumentParser(
        prog='dada_play_bag',
        description='Publish a rosbag2 (sqlite3 or mcap) with its recorded timing and '
        'reliable QoS, then exit. DDS scope comes from the environment (e.g. '
        'ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).')
    parser.add_argument('bag', type=Path, help='bag folder or .mcap file')
    parser.add_argument('-r', '--rate', type=float, default=1.0,
                        help='playback speed factor (default %(default)s)')
    parser.add_argument('--topics', nargs='+', default=None, metavar='TOPIC',
                        help='play only these topics (default: all)')
    parser.add_argument('--remap', action='append', default=[], metavar='OLD:=NEW',
                        help='publish topic OLD as NEW (repeatable)')
    parser.add_argument('-d', '--delay', type=float, default=0.0,
                        help='seconds to sleep before the first message')
    parser.add_argument('--wait-for-subscribers', type=float, default=0.0, metavar='SECONDS',
                        help='before playing, wait up to SECONDS until every topic has a '
                        'subscriber')
    parser.add_argument('--qos-depth', type=int, default=100,
                        help='keep-last depth of the publishers (default %(default)s)')
    parser.add_argument('--clock', type=float, nargs='?', const=40.0, default=0.0,
                        metavar='HZ',
                        help='publish the recorded time on /clock (rosgraph_msgs/Clock) before '
                        'every message and at HZ in between (default 40 when given)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``dada_play_bag``; return the exit code."""
    args = parse_args(argv)
    try:
        remaps = parse_remaps(args.remap)
        stats = play_bag(args.bag, args.rate, args.topics, remaps, args.delay,
                         args.wait_for_subscribers, args.qos_depth, clock_hz=args.clock)
    except (BagError, ValueError) as error:
        print(f'dada_play_bag: error: {error}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    total = sum(stats.published.values())
    print(f'published {total} messages in {stats.seconds:.2f} s (largest lag '
          f'{1e3 * stats.max_lag:.1f} ms): '
          + ', '.join(f'{t} {n}' for t, n in stats.published.items())
          + (f'; /clock {stats.clock_published}' if stats.clock_published else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
