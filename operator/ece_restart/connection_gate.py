"""Shared back-off per ECE connection, so an outage does not become a retry storm.

Each CR retries on its own schedule, but when one connection has failed `threshold` times in a row with
retryable errors (5xx, 429, refused connections), it trips: from then on only one request at a time goes out (a
probe), after a growing, jittered pause. The first answer that is not a retryable failure closes the gate again
and every waiting run proceeds. Random, isolated failures (say 10% of requests) never trip it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from ece_restart.results import Classification, RequestFailed, RestartResult


class ConnectionGate:
    def __init__(self, *, threshold: int = 5, initial_pause: float = 1.0, max_pause: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None) -> None:
        self._threshold = threshold
        self._initial = initial_pause
        self._max = max_pause
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._failures = 0
        self._pauses = 0  # pauses since the gate tripped; each one twice as long as the one before
        self._next_probe = 0.0
        self._probe = asyncio.Lock()
        self.trips = 0

    @property
    def tripped(self) -> bool:
        return self._is_tripped()

    def _is_tripped(self) -> bool:
        return self._failures >= self._threshold

    @asynccontextmanager
    async def admission(self, slots: asyncio.Semaphore | None = None) -> AsyncIterator[None]:
        """Wait for permission to send one request on this connection.

        With `slots` (the operator's limit of requests in flight), the gate is checked again once a slot is held:
        runs that queued for a slot before the gate tripped must not all go out during the outage.
        """
        limit = slots if slots is not None else asyncio.Semaphore(1)
        while True:
            if self._is_tripped():
                async with self._probe:
                    if self._is_tripped():  # it may have closed while this run waited for the lock
                        delay = self._next_probe - self._clock()
                        if delay > 0:
                            await self._sleep(delay)
                        async with limit:
                            yield  # the probe: held under the lock, so one at a time
                        return
                continue
            await limit.acquire()
            if self._is_tripped():  # tripped while this run waited for a slot: queue for the probe instead
                limit.release()
                continue
            try:
                yield
            finally:
                limit.release()
            return

    def record(self, result: RestartResult | RequestFailed) -> None:
        if isinstance(result, RequestFailed) and result.classification is Classification.RETRYABLE:
            self._failures += 1
            if self._failures == self._threshold:
                self.trips += 1
            # Only a failure after the pause has run out (a failed probe) grows the pause: the failures of requests
            # that were already in flight when the gate tripped must not push the first probe minutes away.
            if self._failures >= self._threshold and self._clock() >= self._next_probe:
                pause = min(self._max, self._initial * 2 ** min(self._pauses, 32))
                self._pauses += 1
                self._next_probe = self._clock() + pause * self._rng.uniform(0.5, 1.0)
        else:
            self._failures = 0
            self._pauses = 0
