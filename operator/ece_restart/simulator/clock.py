"""The simulator's notion of time: an injectable clock and the timestamp format ECE uses.

A clock is any zero-argument callable returning seconds as a float (`time.time`, `time.monotonic`, or a
`ManualClock`). Plan progress is computed from it on every request, so a test that owns a `ManualClock` decides
exactly when a plan finishes. Timestamps shown in responses are anchored to wall time when the simulator is created,
so a monotonic clock (any origin) still renders plausible ISO-8601 dates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

# The zero time ECE shows as `plan_end_time` of the current plan.
ZERO_TIME = "0001-01-01T00:00:00.000Z"


class ManualClock:
    """A clock that only moves when told to; thread-safe.

    >>> clock = ManualClock(); clock.advance(5); clock()
    5.0
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds` (must be >= 0) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, now: float) -> None:
        """Jump to an absolute time (not earlier than the current one)."""
        with self._lock:
            if now < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = float(now)

    def __repr__(self) -> str:
        return f"ManualClock({self():g})"


class Timeline:
    """Maps clock readings to wall-clock timestamps, anchored at creation."""

    def __init__(self, clock: Clock, wall_origin: float | None = None) -> None:
        self.clock = clock
        self._clock_origin = clock()
        self._wall_origin = time.time() if wall_origin is None else wall_origin

    def now(self) -> float:
        return self.clock()

    def iso(self, reading: float) -> str:
        """Render a clock reading as ECE does: `2025-06-11T19:36:44.525Z` (UTC, milliseconds)."""
        wall = self._wall_origin + (reading - self._clock_origin)
        moment = datetime.fromtimestamp(wall, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
