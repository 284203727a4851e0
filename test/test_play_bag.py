# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""``dada_play_bag --clock``: the recorded time on /clock, received by a real subscriber.

The player runs in its own process (as a user starts it) and publishes a sample bag; this
process subscribes to ``/clock`` (best effort, as rclpy's TimeSource does) and to one of
the bag's topics.
"""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
from typing import Any, List

from dada_ros.tools.bag_io import BagReader
from dada_ros.tools.make_sample_bag import make_sample_bag, SampleBagOptions
from dada_ros.tools.play_bag import parse_args
from ros_helpers import REPO, ros_env, wait_until
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo

OPTIONS = SampleBagOptions(duration=1.0, rate=5.0, width=160, height=120, factor=4, gt=False)


def _ns(msg: Any) -> int:
    return int(msg.clock.sec) * 1_000_000_000 + int(msg.clock.nanosec)


def test_clock_option_parses() -> None:
    """--clock alone means 40 Hz, a value sets the rate; without it no clock."""
    assert parse_args(['bag']).clock == 0.0
    assert parse_args(['bag', '--clock']).clock == 40.0
    assert parse_args(['bag', '--clock', '100']).clock == 100.0


def test_clock_follows_the_recorded_time(ros: Any, tmp_path: Path,
                                         unique_namespace: str) -> None:
    """Every message is preceded by its recorded time; ticks in between; never backwards."""
    bag = tmp_path / 'bag'
    make_sample_bag(bag, OPTIONS)
    with BagReader(bag) as reader:
        log_times = sorted(raw.log_time for raw in reader.messages(['/rgb/camera_info']))
    clocks: List[Clock] = ros.collect(Clock, '/clock', reliable=False, depth=1000)
    infos: List[CameraInfo] = ros.collect(CameraInfo, f'{unique_namespace}/rgb/camera_info')
    command = [sys.executable, '-m', 'dada_ros.tools.play_bag', str(bag), '--topics',
               '/rgb/camera_info', '--remap',
               f'/rgb/camera_info:={unique_namespace}/rgb/camera_info',
               '--wait-for-subscribers', '20', '--clock', '50']
    player = subprocess.run(command, cwd=REPO, env=ros_env(), capture_output=True, text=True,
                            timeout=120)
    assert player.returncode == 0, player.stderr
    assert f'published {len(log_times)} messages' in player.stdout, player.stdout
    assert '/clock' in player.stdout
    wait_until(lambda: len(infos) >= len(log_times) or None, 10,
               message='the played camera_info messages')
    times = [_ns(msg) for msg in clocks]
    assert times, 'no /clock message received'
    assert times == sorted(times), 'clock went backwards'
    # Each message's recorded time was published (the very first may race the discovery
    # of /clock, which --wait-for-subscribers does not wait for).
    assert set(log_times[1:]) <= set(times)
    assert log_times[0] <= times[0] and times[-1] == log_times[-1]
    # 0.8 s of recording at 50 Hz: ticks between the 5 Hz messages, not only the messages.
    assert len(times) > 2 * len(log_times)


def test_without_clock_nothing_is_published_on_clock(ros: Any, tmp_path: Path) -> None:
    """Plain playback leaves /clock alone."""
    bag = tmp_path / 'bag'
    make_sample_bag(bag, OPTIONS)
    clocks: List[Clock] = ros.collect(Clock, '/clock', reliable=False)
    command = [sys.executable, '-m', 'dada_ros.tools.play_bag', str(bag), '--topics',
               '/rgb/camera_info', '--remap', '/rgb/camera_info:=/unused_info_topic']
    player = subprocess.run(command, cwd=REPO, env=ros_env(), capture_output=True, text=True,
                            timeout=120)
    assert player.returncode == 0, player.stderr
    assert '/clock' not in player.stdout
    assert not clocks
