"""Pytest fixtures serving the ECE API simulator on loopback, with contract checks at teardown.

Fixtures (registered in tests/conftest.py):
  simulator                 async; a started `Simulator` on 127.0.0.1:<free port>; `simulator.url` is the base URL
  make_simulator            async factory: `await make_simulator(state=None, ssl_context=None, **Simulator kwargs)`
  simulator_in_thread       sync; the same, served from its own event loop in a thread (for Kopf-in-a-thread tests)
  make_simulator_in_thread  sync factory with the same signature

Defaults: the example state, `api_keys={API_KEY}` (send `AUTH_HEADERS`), `elevated_api_keys={ELEVATED_API_KEY}`
(also accepted; the only key that avoids 449 in legacy mode), `users={BASIC_USER: BASIC_PASSWORD}`, ECE mode, a
`ManualClock` (`simulator.advance(seconds)`), plans of `PLAN_SECONDS` (10 s). Any default can be overridden through
the factories' keyword arguments.

At teardown EVERY response the simulator gave during the test is validated against the official spec (449 against
the ECE 3.6 spec) and the test fails on any mismatch. Responses injected by a `Fault(status=...)` are outside any
operation's contract: JSON ones must still be a `BasicFailedReply` with a matching `x-cloud-error-codes`; HTML ones
(proxy pages) are accepted only when injected. `contract_problems(calls)` is the same check for simulators a test
builds itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

import pytest

from ece_restart.simulator import CallRecord, ManualClock, Simulator, SimulatorState
from tests.support.swagger import spec_for_status

API_KEY = "sim-test-api-key-0123456789"
ELEVATED_API_KEY = "sim-test-elevated-key-0123456789"
BASIC_USER = "admin"
BASIC_PASSWORD = "sim-test-password"
PLAN_SECONDS = 10.0

AUTH_HEADERS = {"Authorization": f"ApiKey {API_KEY}"}

MakeSimulator = Callable[..., Awaitable[Simulator]]
MakeSimulatorInThread = Callable[..., Simulator]


def simulator_options(**overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "api_keys": {API_KEY},
        "elevated_api_keys": {ELEVATED_API_KEY},
        "users": {BASIC_USER: BASIC_PASSWORD},
        "clock": ManualClock(),
        "plan_seconds": PLAN_SECONDS,
    }
    options.update(overrides)
    return options


def contract_problems(calls: Iterable[CallRecord]) -> list[str]:
    """Every answered call checked against the spec; returns human-readable problems."""
    problems: list[str] = []
    for call in calls:
        if call.status is None:
            continue  # connection reset: nothing was answered
        where = f"call #{call.seq} {call.method} {call.path}"
        if call.content_type == "text/html":
            if call.fault is None or not call.fault.startswith("status:"):
                problems.append(f"{where}: HTML body without an injected fault (status {call.status})")
            continue
        if call.content_type != "application/json":
            problems.append(f"{where}: content type {call.content_type!r} is not application/json")
            continue
        spec = spec_for_status(call.status)
        if call.fault is not None and call.fault.startswith("status:"):
            # Injected by a test (proxy, overload): outside the operation's contract, but still ECE-shaped.
            problems += [
                f"{where} (fault {call.fault}): {p}"
                for p in spec.validate_error(call.response_body, call.response_headers)
            ]
            continue
        problems += [
            f"{where}: {p}"
            for p in spec.validate_response(
                call.method, call.path, call.status, call.response_body, call.response_headers, call.query
            )
        ]
    return problems


def _fail_on_problems(simulators: list[Simulator]) -> None:
    problems = [problem for sim in simulators for problem in contract_problems(sim.calls)]
    if problems:
        pytest.fail("simulator responses do not match the ECE API spec:\n" + "\n".join(problems[:50]), pytrace=False)


@pytest.fixture
async def make_simulator() -> AsyncIterator[Callable[..., Awaitable[Simulator]]]:
    simulators: list[Simulator] = []
    async with contextlib.AsyncExitStack() as stack:

        async def make(state: SimulatorState | None = None, *, ssl_context: Any = None, **options: Any) -> Simulator:
            sim = Simulator(state, **simulator_options(**options))
            await stack.enter_async_context(sim.serving(port=0, ssl_context=ssl_context))
            simulators.append(sim)
            return sim

        yield make
    _fail_on_problems(simulators)


@pytest.fixture
async def simulator(make_simulator: Callable[..., Awaitable[Simulator]]) -> Simulator:
    return await make_simulator()


@pytest.fixture
def make_simulator_in_thread() -> Iterator[Callable[..., Simulator]]:
    simulators: list[Simulator] = []
    with contextlib.ExitStack() as stack:

        def make(state: SimulatorState | None = None, *, ssl_context: Any = None, **options: Any) -> Simulator:
            sim = Simulator(state, **simulator_options(**options))
            stack.enter_context(sim.serving_in_thread(port=0, ssl_context=ssl_context))
            simulators.append(sim)
            return sim

        yield make
    _fail_on_problems(simulators)


@pytest.fixture
def simulator_in_thread(make_simulator_in_thread: Callable[..., Simulator]) -> Simulator:
    return make_simulator_in_thread()
