# Copyright 2026 The dada_ros authors
# SPDX-License-Identifier: Apache-2.0
"""Approximate-time pairing of an RGB stream with a depth stream (ROS-free).

The node, the offline bag tool and the tests share this policy. It is a simplified form
of ``message_filters`` ApproximateTime for exactly two streams, tuned for zero added
latency:

* A message that arrives is paired **at once** with the queued message of the other
  stream whose stamp is closest to its own, if that difference is at most ``slop``
  seconds (``<=``, so a difference of exactly ``slop`` pairs). On a tie the older
  partner wins. No pair is held back waiting for a possibly closer partner, so choose
  ``slop`` below half the frame period for unambiguous pairs.
* Invariant: the two queues never hold a pairable couple, so only a newly arrived message
  can complete a pair, and each ``add_*`` call returns zero or one pair (as a list).
* Pairs are monotonic: once ``(r, d)`` is emitted, queued messages older than ``r`` (RGB)
  or ``d`` (depth) can never pair without crossing it; they are dropped and counted as
  ``dropped_unpaired``. A message that arrives later with a stamp older than the last
  emitted stamp of its stream is dropped and counted as ``dropped_late``.
* Duplicates: a message whose stamp equals a queued stamp or the last emitted stamp of its
  stream is ignored (the first one wins) and counted as ``duplicate``.
* Bounded memory: each queue keeps at most ``queue_size`` messages; when a queue is full
  the oldest message is evicted and counted as ``overflow``.
* Zero stamps: this class pairs by stamp only, so a stream whose stamps are all zero
  yields one pair and then only duplicates; :class:`ArrivalPairer` is the policy for such
  unstamped messages (the node routes stamp 0 there).
* Stamps going backwards (a stamp older than the newest one seen on that stream) are
  counted per stream and flagged in :attr:`ApproximateTimePairer.stamp_going_backwards`.
  A backward jump larger than ``reset_jump`` seconds (bag loop, simulated clock reset)
  clears all state, so pairing resumes on the new time line, and is counted as ``reset``;
  the messages it cleared from the queues are counted as ``dropped_reset``.
* Accounting: every message ends in exactly one counter, so per stream
  ``received = paired + dropped_unpaired + dropped_late + duplicate + overflow +
  dropped_reset + pending`` (the drop counters are kept per stream, their sum in
  :attr:`ApproximateTimePairer.stats`).

Stamps are integer nanoseconds (:func:`stamp_to_ns` of a header stamp), so a difference
of exactly ``slop`` always pairs and two stamps 1 ns apart are never equal, at any epoch;
``slop`` is given in seconds and rounded to nanoseconds once. Items are opaque.
"""

from __future__ import annotations

import bisect
import math
import numbers
from typing import Any, cast, Dict, Generic, List, Optional, Tuple, TypeVar

RgbT = TypeVar('RgbT')
DepthT = TypeVar('DepthT')

#: Names of the two streams, as used in :attr:`ApproximateTimePairer.stamp_going_backwards`.
STREAMS: Tuple[str, str] = ('rgb', 'depth')

#: Counter names of :attr:`ApproximateTimePairer.stats`.
STAT_KEYS: Tuple[str, ...] = (
    'received_rgb', 'received_depth', 'paired', 'dropped_unpaired', 'dropped_late',
    'duplicate', 'overflow', 'dropped_reset', 'backwards_rgb', 'backwards_depth', 'reset')

#: Counters that end a message's life without a pair (summed over both streams in
#: ``stats``, per stream in :attr:`ApproximateTimePairer.stream_stats`).
DROP_KEYS: Tuple[str, ...] = ('dropped_unpaired', 'dropped_late', 'duplicate', 'overflow',
                              'dropped_reset')

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp: Any) -> int:
    """``builtin_interfaces/Time`` (``sec``, ``nanosec``) -> integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def seconds_to_ns(seconds: float) -> int:
    """Seconds (e.g. the ``sync.slop`` parameter) -> integer nanoseconds, rounded."""
    return int(round(float(seconds) * NS_PER_S))


class _Queue:
    """Stamp-sorted queue of one stream with its pairing watermark."""

    def __init__(self) -> None:
        self.stamps: List[int] = []
        self.items: List[object] = []
        self.newest_seen: Optional[int] = None
        self.last_emitted: Optional[int] = None
        self.went_backwards = False

    def clear(self) -> None:
        self.stamps.clear()
        self.items.clear()
        self.newest_seen = None
        self.last_emitted = None
        self.went_backwards = False

    def nearest(self, stamp: int, slop: int) -> Optional[int]:
        """Index of the queued stamp closest to ``stamp`` within ``slop`` (older on ties)."""
        i = bisect.bisect_left(self.stamps, stamp)
        best: Optional[int] = None
        best_diff = math.inf
        for j in (i - 1, i):  # the two neighbours; the older is tried first
            if 0 <= j < len(self.stamps):
                diff = abs(self.stamps[j] - stamp)
                if diff <= slop and diff < best_diff:
                    best, best_diff = j, diff
        return best

    def pop_through(self, index: int) -> Tuple[object, int]:
        """Remove entries ``0..index``; return entry ``index`` and how many older were dropped."""
        item = self.items[index]
        self.last_emitted = self.stamps[index]
        del self.stamps[:index + 1]
        del self.items[:index + 1]
        return item, index

    def drop_older_than(self, stamp: int) -> int:
        """Remove entries with a stamp older than ``stamp``; return how many."""
        n = bisect.bisect_left(self.stamps, stamp)
        del self.stamps[:n]
        del self.items[:n]
        return n


class ApproximateTimePairer(Generic[RgbT, DepthT]):
    """Pair RGB and depth messages whose stamps differ by at most ``slop`` seconds.

    Args:
        slop: Largest stamp difference (seconds, >= 0) of a pair.
        queue_size: Messages kept per stream while waiting for a partner (>= 1).
        reset_jump: A stamp more than this many seconds older than the newest stamp of its
            stream resets the pairer (time line restarted). ``math.inf`` disables it.

    ``add_rgb`` / ``add_depth`` take the stamp in integer nanoseconds.
    """

    def __init__(self, slop: float, queue_size: int, reset_jump: float = 1.0) -> None:
        if not (isinstance(slop, (int, float)) and math.isfinite(slop) and slop >= 0):
            raise ValueError(f'slop must be a finite number >= 0 (seconds), got {slop!r}')
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f'queue_size must be an int >= 1, got {queue_size!r}')
        if not (isinstance(reset_jump, (int, float)) and reset_jump > 0):
            raise ValueError(f'reset_jump must be > 0 seconds, got {reset_jump!r}')
        self.slop = float(slop)
        self._slop_ns = seconds_to_ns(slop)
        self.queue_size = queue_size
        self.reset_jump = float(reset_jump)
        self._reset_jump_ns = math.inf if math.isinf(reset_jump) else seconds_to_ns(reset_jump)
        self._queues: Dict[str, _Queue] = {name: _Queue() for name in STREAMS}
        self.stats: Dict[str, int] = dict.fromkeys(STAT_KEYS, 0)
        #: Per stream: how many of its messages were paired or ended in each drop counter.
        self.stream_stats: Dict[str, Dict[str, int]] = {
            name: dict.fromkeys(('paired',) + DROP_KEYS, 0) for name in STREAMS}

    # --- public API ------------------------------------------------------------------------
    def add_rgb(self, stamp: int, item: RgbT) -> List[Tuple[RgbT, DepthT]]:
        """Add an RGB message; return the pairs ``(rgb_item, depth_item)`` it completed."""
        return cast(List[Tuple[RgbT, DepthT]], self._add('rgb', stamp, item))

    def add_depth(self, stamp: int, item: DepthT) -> List[Tuple[RgbT, DepthT]]:
        """Add a depth message; return the pairs ``(rgb_item, depth_item)`` it completed."""
        return cast(List[Tuple[RgbT, DepthT]], self._add('depth', stamp, item))

    def set_slop(self, slop: float) -> None:
        """Change ``slop`` at run time (applies to the next arrival)."""
        if not (isinstance(slop, (int, float)) and math.isfinite(slop) and slop >= 0):
            raise ValueError(f'slop must be a finite number >= 0 (seconds), got {slop!r}')
        self.slop = float(slop)
        self._slop_ns = seconds_to_ns(slop)

    def reset(self) -> None:
        """Forget all queued messages (counted as ``dropped_reset``) and watermarks."""
        for name, queue in self._queues.items():
            self._drop(name, 'dropped_reset', len(queue.stamps))
            queue.clear()

    def _drop(self, stream: str, key: str, count: int = 1) -> None:
        self.stats[key] += count
        self.stream_stats[stream][key] += count

    @property
    def pending(self) -> Dict[str, int]:
        """Number of queued messages per stream."""
        return {name: len(q.stamps) for name, q in self._queues.items()}

    @property
    def stamp_going_backwards(self) -> Dict[str, bool]:
        """Per stream: whether its latest message was older than the newest seen before."""
        return {name: q.went_backwards for name, q in self._queues.items()}

    # --- implementation ------------------------------------------------------------------------
    def _add(self, stream: str, stamp: int, item: object) -> List[Tuple[object, object]]:
        if isinstance(stamp, bool) or not isinstance(stamp, numbers.Integral):
            raise TypeError(f'stamp must be integer nanoseconds, got {stamp!r}')
        stamp = int(stamp)
        other_name = 'depth' if stream == 'rgb' else 'rgb'
        own = self._queues[stream]
        other = self._queues[other_name]
        self.stats['received_' + stream] += 1

        own.went_backwards = own.newest_seen is not None and stamp < own.newest_seen
        if own.went_backwards:
            self.stats['backwards_' + stream] += 1
            assert own.newest_seen is not None
            if own.newest_seen - stamp > self._reset_jump_ns:
                self.stats['reset'] += 1
                self.reset()
                own.went_backwards = True
        own.newest_seen = stamp if own.newest_seen is None else max(own.newest_seen, stamp)

        if own.last_emitted is not None:
            if stamp == own.last_emitted:
                self._drop(stream, 'duplicate')
                return []
            if stamp < own.last_emitted:
                self._drop(stream, 'dropped_late')
                return []
        position = bisect.bisect_left(own.stamps, stamp)
        if position < len(own.stamps) and own.stamps[position] == stamp:
            self._drop(stream, 'duplicate')
            return []

        partner = other.nearest(stamp, self._slop_ns)
        if partner is None:
            own.stamps.insert(position, stamp)
            own.items.insert(position, item)
            if len(own.stamps) > self.queue_size:
                del own.stamps[0]
                del own.items[0]
                self._drop(stream, 'overflow')
            return []

        partner_item, older_partners = other.pop_through(partner)
        own.last_emitted = stamp
        self._drop(other_name, 'dropped_unpaired', older_partners)
        self._drop(stream, 'dropped_unpaired', own.drop_older_than(stamp))
        self.stats['paired'] += 1
        for name in STREAMS:
            self.stream_stats[name]['paired'] += 1
        if stream == 'rgb':
            return [(item, partner_item)]
        return [(partner_item, item)]


class ArrivalPairer(Generic[RgbT, DepthT]):
    """Pair unstamped RGB and depth messages by arrival order (newest with newest).

    Some drivers leave every header stamp at zero. Such messages carry no timing, so
    :class:`ApproximateTimePairer` cannot pair them (after one pair every further zero
    stamp is a duplicate). This pairer is the policy for them:

    * Each stream keeps at most its newest unpaired message; a newer one replaces it and
      the replaced one is counted as ``dropped_unpaired``.
    * A message that arrives while the other stream holds a message is paired with it at
      once; both are consumed (each message is used in at most one pair).
    * ``received_rgb`` / ``received_depth`` and ``paired`` count as in
      :class:`ApproximateTimePairer`; :meth:`reset` counts what it forgets as
      ``dropped_reset``, so
      ``received = 2 * paired + dropped_unpaired + dropped_reset + pending`` always holds.
    """

    STAT_KEYS: Tuple[str, ...] = ('received_rgb', 'received_depth', 'paired',
                                  'dropped_unpaired', 'dropped_reset')

    def __init__(self) -> None:
        """Start with nothing held and all counters at zero."""
        self._held: Dict[str, Optional[Tuple[object]]] = dict.fromkeys(STREAMS)
        self.stats: Dict[str, int] = dict.fromkeys(self.STAT_KEYS, 0)

    def add_rgb(self, item: RgbT) -> List[Tuple[RgbT, DepthT]]:
        """Add an unstamped RGB message; return the pair it completed (zero or one)."""
        return cast(List[Tuple[RgbT, DepthT]], self._add('rgb', item))

    def add_depth(self, item: DepthT) -> List[Tuple[RgbT, DepthT]]:
        """Add an unstamped depth message; return the pair it completed (zero or one)."""
        return cast(List[Tuple[RgbT, DepthT]], self._add('depth', item))

    def reset(self) -> None:
        """Forget the held messages (counted as ``dropped_reset``)."""
        for name in STREAMS:
            if self._held[name] is not None:
                self.stats['dropped_reset'] += 1
            self._held[name] = None

    @property
    def pending(self) -> Dict[str, int]:
        """Number of held messages per stream (0 or 1)."""
        return {name: int(held is not None) for name, held in self._held.items()}

    def _add(self, stream: str, item: object) -> List[Tuple[object, object]]:
        other = 'depth' if stream == 'rgb' else 'rgb'
        self.stats['received_' + stream] += 1
        partner = self._held[other]
        if partner is None:
            if self._held[stream] is not None:
                self.stats['dropped_unpaired'] += 1
            self._held[stream] = (item,)
            return []
        self._held[other] = None
        self.stats['paired'] += 1
        if stream == 'rgb':
            return [(item, partner[0])]
        return [(partner[0], item)]
