# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the approximate-time pairing policy (dada_ros.core.sync)."""

from __future__ import annotations

import math
import random
from typing import Any, Dict, List, Optional, Tuple

from dada_ros.core.sync import ApproximateTimePairer, ArrivalPairer, seconds_to_ns as ns, STAT_KEYS
from hypothesis import given, settings, strategies as st
import pytest

Event = Tuple[str, float]  # (stream, stamp)


def feed(pairer: ApproximateTimePairer[float, float],
         events: List[Event]) -> List[Tuple[float, float]]:
    """Feed events whose items are their own stamps; return all pairs in emission order."""
    out: List[Tuple[float, float]] = []
    for stream, stamp in events:
        if stream == 'rgb':
            out += pairer.add_rgb(ns(stamp), stamp)
        else:
            out += pairer.add_depth(ns(stamp), stamp)
    return out


class ReferencePairer:
    """Brute-force restatement of the documented policy (plain lists, full scans)."""

    def __init__(self, slop: float, queue_size: int) -> None:
        self.slop = ns(slop)
        self.queue_size = queue_size
        self.queues: Dict[str, List[float]] = {'rgb': [], 'depth': []}
        self.emitted: Dict[str, Optional[float]] = {'rgb': None, 'depth': None}
        self.stats: Dict[str, int] = dict.fromkeys(
            ('paired', 'dropped_unpaired', 'dropped_late', 'duplicate', 'overflow'), 0)

    def add(self, stream: str, seconds: float) -> List[Tuple[float, float]]:
        stamp = ns(seconds)
        other = 'depth' if stream == 'rgb' else 'rgb'
        last = self.emitted[stream]
        if last is not None and stamp == last or stamp in self.queues[stream]:
            self.stats['duplicate'] += 1
            return []
        if last is not None and stamp < last:
            self.stats['dropped_late'] += 1
            return []
        candidates = [s for s in self.queues[other] if abs(s - stamp) <= self.slop]
        if not candidates:
            self.queues[stream].append(stamp)
            if len(self.queues[stream]) > self.queue_size:
                self.queues[stream].remove(min(self.queues[stream]))
                self.stats['overflow'] += 1
            return []
        partner = min(candidates, key=lambda s: (abs(s - stamp), s))
        self.queues[other].remove(partner)
        self.emitted[stream] = stamp
        self.emitted[other] = partner
        for name, bound in ((stream, stamp), (other, partner)):
            older = [s for s in self.queues[name] if s < bound]
            self.stats['dropped_unpaired'] += len(older)
            self.queues[name] = [s for s in self.queues[name] if s >= bound]
        self.stats['paired'] += 1
        pair = (stamp, partner) if stream == 'rgb' else (partner, stamp)
        return [(pair[0] / 1e9, pair[1] / 1e9)]


def check_invariants(pairer: ApproximateTimePairer[Any, Any],
                     pairs: List[Tuple[float, float]], events: List[Event]) -> None:
    """Properties every run must have, whatever the arrival order."""
    for r, d in pairs:
        assert abs(ns(r) - ns(d)) <= ns(pairer.slop)
    for (r0, d0), (r1, d1) in zip(pairs, pairs[1:]):
        assert r1 > r0 and d1 > d0, 'pairs must be strictly monotonic on both streams'
    s = pairer.stats
    n_rgb = sum(1 for e in events if e[0] == 'rgb')
    n_depth = len(events) - n_rgb
    assert s['received_rgb'] == n_rgb and s['received_depth'] == n_depth
    pending = pairer.pending
    assert max(pending.values()) <= pairer.queue_size
    accounted = (2 * s['paired'] + s['dropped_unpaired'] + s['dropped_late'] + s['duplicate']
                 + s['overflow'] + s['dropped_reset'] + pending['rgb'] + pending['depth'])
    assert accounted == len(events), (s, pending)
    for stream, count in (('rgb', n_rgb), ('depth', n_depth)):
        assert sum(pairer.stream_stats[stream].values()) + pending[stream] == count


def test_exact_stamps_pair_immediately_in_either_order() -> None:
    pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.01, 5)
    assert pairer.add_rgb(ns(1.0), 'r1') == []
    assert pairer.add_depth(ns(1.0), 'd1') == [('r1', 'd1')]
    assert pairer.add_depth(ns(2.0), 'd2') == []
    assert pairer.add_rgb(ns(2.0), 'r2') == [('r2', 'd2')]
    assert pairer.stats['paired'] == 2
    assert pairer.pending == {'rgb': 0, 'depth': 0}


def test_slop_edges() -> None:
    # Binary-exact values so that the difference is exactly the slop.
    pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.25, 5)
    pairer.add_rgb(ns(10.0), 'r')
    assert pairer.add_depth(ns(10.25), 'd') == [('r', 'd')]
    pairer = ApproximateTimePairer(0.25, 5)
    pairer.add_rgb(ns(10.0), 'r')
    assert pairer.add_depth(ns(10.25) + 1, 'd') == []
    assert pairer.add_depth(ns(10.0) - ns(0.25) - 1, 'e') == []
    assert pairer.pending == {'rgb': 1, 'depth': 2}
    zero: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.0, 5)
    zero.add_depth(ns(3.0), 'd')
    assert zero.add_rgb(ns(3.0), 'r') == [('r', 'd')]


def test_closest_partner_wins_and_ties_prefer_older() -> None:
    pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.1, 10)
    pairer.add_rgb(ns(1.00), 'far')
    pairer.add_rgb(ns(1.20), 'near')
    pairer.add_rgb(ns(1.29), 'next')
    assert pairer.add_depth(ns(1.24), 'd') == [('near', 'd')]
    assert pairer.stats['dropped_unpaired'] == 1  # 'far' can no longer pair
    assert pairer.pending == {'rgb': 1, 'depth': 0}
    tie: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.5, 10)
    tie.add_depth(ns(1.0), 'old')
    tie.add_depth(ns(2.0), 'new')
    assert tie.add_rgb(ns(1.5), 'r') == [('r', 'old')]
    assert tie.pending == {'rgb': 0, 'depth': 1}


def test_out_of_order_arrival_pairs_and_late_items_are_dropped() -> None:
    pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.005, 10)
    for k in (3, 1, 2):
        pairer.add_rgb(ns(k * 0.1), f'r{k}')
    assert pairer.add_depth(ns(0.2), 'd2') == [('r2', 'd2')]
    assert pairer.stats['dropped_unpaired'] == 1  # r1 is older than the emitted pair
    assert pairer.add_depth(ns(0.1), 'd1') == []  # older than the last emitted depth
    assert pairer.stats['dropped_late'] == 1
    assert pairer.add_rgb(ns(0.15), 'r15') == []
    assert pairer.stats['dropped_late'] == 2
    assert pairer.add_depth(ns(0.3), 'd3') == [('r3', 'd3')]
    assert pairer.stamp_going_backwards == {'rgb': True, 'depth': False}


def test_duplicates_first_wins() -> None:
    pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.01, 10)
    pairer.add_rgb(ns(1.0), 'first')
    assert pairer.add_rgb(ns(1.0), 'second') == []
    assert pairer.stats['duplicate'] == 1
    assert pairer.add_depth(ns(1.0), 'd') == [('first', 'd')]
    assert pairer.add_depth(ns(1.0), 'd-again') == []  # equals the last emitted depth stamp
    assert pairer.add_rgb(ns(1.0), 'third') == []
    assert pairer.stats['duplicate'] == 3
    assert pairer.stats['dropped_late'] == 0
    assert pairer.pending == {'rgb': 0, 'depth': 0}


def test_bounded_memory_under_a_flood_of_unpaired_messages() -> None:
    pairer: ApproximateTimePairer[int, int] = ApproximateTimePairer(0.001, 7)
    for k in range(10000):
        assert pairer.add_rgb(ns(k * 0.01), k) == []
        assert pairer.add_depth(ns(k * 0.01 + 0.005), k) == []
    assert pairer.pending == {'rgb': 7, 'depth': 7}
    assert pairer.stats['overflow'] == 2 * (10000 - 7)
    # The newest messages are the ones kept: a depth matching the newest RGB pairs.
    assert pairer.add_depth(ns(9999 * 0.01), -1) == [(9999, -1)]
    # The six older depths are dropped; the one 5 ms newer than the pair stays queued.
    assert pairer.pending == {'rgb': 0, 'depth': 1}
    assert pairer.stats['dropped_unpaired'] == 6 + 6


def test_depth_stream_silent_keeps_queue_bounded_and_recovers() -> None:
    pairer: ApproximateTimePairer[int, int] = ApproximateTimePairer(0.01, 3)
    for k in range(100):
        pairer.add_rgb(ns(k / 30.0), k)
    assert pairer.pending['rgb'] == 3
    assert pairer.add_depth(ns(99 / 30.0 + 0.002), 99) == [(99, 99)]


def test_interleaved_streams_with_jitter_pair_every_frame() -> None:
    rng = random.Random(7)
    period, slop = 1.0 / 30.0, 0.015
    events: List[Event] = []
    truth = []
    for k in range(300):
        t = 100.0 + k * period
        r, d = t + rng.uniform(-0.005, 0.005), t + 0.003 + rng.uniform(-0.005, 0.005)
        truth.append((r, d))
        frame: List[Event] = [('rgb', r), ('depth', d)]
        rng.shuffle(frame)
        events += frame
    # Transport jitter: swap some adjacent arrivals across frames too.
    for i in range(1, len(events) - 1, 5):
        if rng.random() < 0.5:
            events[i], events[i + 1] = events[i + 1], events[i]
    pairer: ApproximateTimePairer[float, float] = ApproximateTimePairer(slop, 5)
    pairs = feed(pairer, events)
    check_invariants(pairer, pairs, events)
    assert pairs == truth


def test_large_backward_jump_resets_and_pairing_resumes() -> None:
    pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.01, 5, reset_jump=1.0)
    pairer.add_rgb(ns(50.0), 'r')
    pairer.add_depth(ns(50.0), 'd')
    pairer.add_rgb(ns(0.5), 'r-loop')  # bag looped: 49.5 s back
    assert pairer.stats['reset'] == 1
    assert pairer.stamp_going_backwards['rgb']
    assert pairer.add_depth(ns(0.5), 'd-loop') == [('r-loop', 'd-loop')]
    assert pairer.stats['backwards_depth'] == 0  # the reset started a new time line
    # A small step back is only counted, not a reset.
    pairer.add_rgb(ns(0.4), 'x')
    assert pairer.stats['reset'] == 1 and pairer.stats['dropped_late'] == 1


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        ApproximateTimePairer(-0.1, 5)
    with pytest.raises(ValueError):
        ApproximateTimePairer(float('nan'), 5)
    with pytest.raises(ValueError):
        ApproximateTimePairer(0.1, 0)
    pairer: ApproximateTimePairer[int, int] = ApproximateTimePairer(0.1, 5)
    with pytest.raises(TypeError):
        pairer.add_rgb(float('inf'), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pairer.add_rgb(1.5, 1)  # type: ignore[arg-type]
    assert set(pairer.stats) == set(STAT_KEYS)


stamps = st.integers(min_value=0, max_value=60).map(lambda k: k * 0.125)
event_lists = st.lists(st.tuples(st.sampled_from(['rgb', 'depth']), stamps), max_size=80)


@settings(max_examples=300, deadline=None)
@given(events=event_lists, slop_steps=st.integers(0, 6), queue_size=st.integers(1, 6))
def test_equals_brute_force_reference(events: List[Event], slop_steps: int,
                                      queue_size: int) -> None:
    slop = slop_steps * 0.125  # exact binary fractions: no rounding at the slop edge
    pairer: ApproximateTimePairer[float, float] = ApproximateTimePairer(
        slop, queue_size, reset_jump=math.inf)
    reference = ReferencePairer(slop, queue_size)
    for stream, stamp in events:
        got: List[Any] = (pairer.add_rgb(ns(stamp), stamp) if stream == 'rgb'
                          else pairer.add_depth(ns(stamp), stamp))
        assert got == reference.add(stream, stamp)
    for key, value in reference.stats.items():
        assert pairer.stats[key] == value, key
    assert pairer.pending == {k: len(v) for k, v in reference.queues.items()}


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_random_streams_properties(data: st.DataObject) -> None:
    rng = random.Random(data.draw(st.integers(0, 2 ** 32 - 1)))
    slop = data.draw(st.floats(0.0, 0.05))
    n = data.draw(st.integers(0, 60))
    events: List[Event] = [(rng.choice(['rgb', 'depth']), rng.uniform(0.0, 1.0))
                           for _ in range(n)]
    pairer: ApproximateTimePairer[float, float] = ApproximateTimePairer(
        slop, data.draw(st.integers(1, 8)), reset_jump=math.inf)
    check_invariants(pairer, feed(pairer, events), events)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_in_order_unambiguous_streams_pair_exactly_the_close_couples(data: st.DataObject) -> None:
    # Frame period 0.1 s, offsets below slop < period / 2: every frame has one partner.
    offsets = data.draw(st.lists(st.floats(-0.03, 0.03), min_size=1, max_size=40))
    rgb_first = data.draw(st.lists(st.booleans(), min_size=len(offsets),
                                   max_size=len(offsets)))
    events: List[Event] = []
    for k, (offset, first) in enumerate(zip(offsets, rgb_first)):
        frame: List[Event] = [('rgb', k * 0.1), ('depth', k * 0.1 + offset)]
        events += frame if first else frame[::-1]
    pairer: ApproximateTimePairer[float, float] = ApproximateTimePairer(0.04, 2)
    pairs = feed(pairer, events)
    assert pairs == [(k * 0.1, k * 0.1 + o) for k, o in enumerate(offsets)]
    check_invariants(pairer, pairs, events)


def test_arrival_pairer_pairs_unstamped_streams_newest_with_newest() -> None:
    pairer: ArrivalPairer[str, str] = ArrivalPairer()
    assert pairer.add_rgb('r0') == []
    assert pairer.add_rgb('r1') == []  # replaces r0
    assert pairer.add_depth('d0') == [('r1', 'd0')]
    assert pairer.add_depth('d1') == []
    assert pairer.add_rgb('r2') == [('r2', 'd1')]
    # A camera that always sends zero stamps keeps producing pairs, one per frame.
    pairs = []
    for k in range(100):
        pairs += pairer.add_rgb(f'r{k + 10}')
        pairs += pairer.add_depth(f'd{k + 10}')
    assert pairs == [(f'r{k + 10}', f'd{k + 10}') for k in range(100)]
    s = pairer.stats
    assert (s['received_rgb'], s['received_depth'], s['paired'], s['dropped_unpaired']) == \
        (103, 102, 102, 1)
    assert 2 * s['paired'] + s['dropped_unpaired'] + sum(pairer.pending.values()) == 205
    pairer.add_rgb('late')
    assert pairer.pending == {'rgb': 1, 'depth': 0}
    pairer.reset()
    assert pairer.pending == {'rgb': 0, 'depth': 0}
    assert set(pairer.stats) == set(ArrivalPairer.STAT_KEYS)


def test_zero_stamps_defeat_the_stamp_pairer() -> None:
    """Why the node routes zero stamps to ArrivalPairer: stamp pairing stalls after one pair."""
    pairer: ApproximateTimePairer[int, int] = ApproximateTimePairer(0.01, 5)
    pairs = []
    for k in range(10):
        pairs += pairer.add_rgb(ns(0.0), k)
        pairs += pairer.add_depth(ns(0.0), k)
    assert pairs == [(0, 0)]
    assert pairer.stats['duplicate'] == 18


def test_slop_edge_is_exact_in_integer_nanoseconds() -> None:
    """A difference of exactly slop pairs at any epoch (float seconds got this wrong)."""
    for base in (1, 1_700_000_000):
        pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.1, 5)
        pairer.add_rgb(base * 1_000_000_000, 'r')
        assert pairer.add_depth(base * 1_000_000_000 + 100_000_000, 'd') == [('r', 'd')]
        pairer = ApproximateTimePairer(0.1, 5)
        pairer.add_rgb(base * 1_000_000_000, 'r')
        assert pairer.add_depth(base * 1_000_000_000 + 100_000_001, 'd') == []


def test_stamps_100_ns_apart_near_1_7e9_s_are_not_duplicates() -> None:
    pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.0, 5)
    t = 1_700_000_000 * 1_000_000_000
    assert pairer.add_rgb(t, 'a') == [] and pairer.add_rgb(t + 100, 'b') == []
    assert pairer.stats['duplicate'] == 0 and pairer.pending['rgb'] == 2
    assert pairer.add_depth(t + 100, 'd') == [('b', 'd')]


def test_reset_counts_the_messages_it_clears() -> None:
    """Queue rgb 10, 10.1, 10.2 and depth 5; depth 3 resets: all four are counted."""
    pairer: ApproximateTimePairer[str, str] = ApproximateTimePairer(0.01, 10, reset_jump=1.0)
    for t in (10.0, 10.1, 10.2):
        pairer.add_rgb(ns(t), f'r{t}')
    pairer.add_depth(ns(5.0), 'd5')
    pairer.add_depth(ns(3.0), 'd3')
    assert pairer.stats['reset'] == 1
    assert pairer.stats['dropped_reset'] == 4
    assert pairer.stream_stats['rgb']['dropped_reset'] == 3
    assert pairer.stream_stats['depth']['dropped_reset'] == 1
    assert pairer.pending == {'rgb': 0, 'depth': 1}  # d3 starts the new time line
    events: List[Event] = [('rgb', 10.0), ('rgb', 10.1), ('rgb', 10.2), ('depth', 5.0),
                           ('depth', 3.0)]
    check_invariants(pairer, [], events)
