"""The real thing, end to end: the operator process against the Kubernetes API sandbox and the ECE simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ece_restart.simulator import Simulator, SimulatorState
from tests.support.stack import API_KEY, Stack, operator_stack

__all__ = ["API_KEY", "Stack", "namespace", "private_stack", "stack", "start_stack"]


def start_stack(tmp: Path, args: tuple[str, ...] = ("--all-namespaces",)) -> Iterator[Stack]:
    # The example state serves examples/; each test adds deployments of its own with new_deployment().
    simulator = Simulator(state=SimulatorState.example(), api_keys={API_KEY, "change-me-api-key"}, plan_seconds=2.0)
    with operator_stack(tmp, operator_args=args, simulator=simulator) as stack:
        yield stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One operator process for a whole test module; each test uses its own namespace and deployments."""
    yield from start_stack(tmp_path_factory.mktemp("stack"))


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[Stack]:
    """An operator of the test's own, for tests that kill and restart it."""
    yield from start_stack(tmp_path)


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    stack: Stack = request.getfixturevalue("private_stack" if "private_stack" in request.fixturenames else "stack")
    return stack.new_namespace()
