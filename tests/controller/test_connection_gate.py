"""Shared back-off per connection: isolated failures pass, an outage lets one probe through at a time."""

from __future__ import annotations

import asyncio
import random

from ece_restart.connection_gate import ConnectionGate
from ece_restart.results import Classification, Outcome, RequestFailed, RestartAccepted

FAIL = RequestFailed(Classification.RETRYABLE, "HTTP 503", http_status=503, outcome=Outcome.SERVER_ERROR)
PERMANENT = RequestFailed(Classification.PERMANENT, "HTTP 404", http_status=404, outcome=Outcome.RESOURCE_NOT_FOUND)
OK = RestartAccepted(202)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def gate_with(time: FakeTime) -> ConnectionGate:
    return ConnectionGate(threshold=3, initial_pause=2, max_pause=8, clock=time.clock, sleep=time.sleep,
                          rng=random.Random(1))


async def test_isolated_failures_never_trip_the_gate() -> None:
    time = FakeTime()
    gate = gate_with(time)
    for result in [FAIL, OK, FAIL, FAIL, PERMANENT, FAIL, OK] * 10:
        async with gate.admission():
            gate.record(result)
    assert not gate.tripped and time.slept == [] and gate.trips == 0


async def test_an_outage_serialises_probes_with_growing_pauses_until_it_ends() -> None:
    time = FakeTime()
    gate = gate_with(time)
    for _ in range(3):
        async with gate.admission():
            gate.record(FAIL)
    assert gate.tripped and gate.trips == 1
    in_flight = 0
    most = 0

    async def run(result: RequestFailed | RestartAccepted) -> None:
        nonlocal in_flight, most
        async with gate.admission():
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0)
            in_flight -= 1
            gate.record(result)

    await asyncio.gather(run(FAIL), run(FAIL), run(FAIL))
    assert most == 1  # one probe at a time while tripped
    assert len(time.slept) == 3 and time.slept == sorted(time.slept) and max(time.slept) <= 8
    await run(OK)
    assert not gate.tripped
    before = len(time.slept)
    await asyncio.gather(*(run(OK) for _ in range(5)))
    assert len(time.slept) == before  # closed again: nobody waits
