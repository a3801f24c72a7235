"""The real thing, end to end: the operator process against the Kubernetes API sandbox and the ECE simulator."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ece_restart.sandbox import Sandbox
from ece_restart.simulator import Simulator, SimulatorState
from tests.support.kube_http import KubeHttp
from tests.support.operator_process import LEDGER_NAMESPACE, OperatorProcess
from tests.support.simulator_fixtures import contract_problems

API_KEY = "operator-test-key"
_names = itertools.count(1)


@dataclass
class Stack:
    sandbox: Sandbox
    simulator: Simulator
    kube: KubeHttp
    kube_url: str
    ece_url: str
    kubeconfig: Path
    operator: OperatorProcess

    def new_deployment(self, *kinds: str, plan_seconds: float | None = None) -> str:
        """A fresh deployment in the simulator so tests never share plan state."""
        deployment_id = secrets.token_hex(16)
        resources = [{"kind": kind, "ref_id": f"main-{kind}"} for kind in kinds or ("kibana",)]
        if plan_seconds is not None:
            for resource in resources:
                resource["plan_seconds"] = plan_seconds  # type: ignore[assignment]
        self.simulator.state.add_deployment(deployment_id, f"test-{next(_names)}", resources=resources)
        return deployment_id

    def wait_operator_watching(self) -> None:
        self.operator.wait_watching(self.sandbox)


def start_stack(tmp: Path, args: tuple[str, ...] = ("--all-namespaces",)) -> Iterator[Stack]:
    sandbox = Sandbox()
    # The example state serves examples/; each test adds deployments of its own with new_deployment().
    simulator = Simulator(state=SimulatorState.example(), api_keys={API_KEY, "change-me-api-key"}, plan_seconds=2.0)
    with sandbox.serving_in_thread(port=0) as kube_url, simulator.serving_in_thread(port=0) as ece_url:
        kubeconfig = tmp / "kubeconfig"
        sandbox.write_kubeconfig(kubeconfig)
        operator = OperatorProcess(kubeconfig=kubeconfig, env={"ECE_URL": ece_url, "ECE_API_KEY": API_KEY},
                                   log_path=tmp / "operator.log", args=args)
        kube = KubeHttp(kube_url)
        kube.create_namespace(LEDGER_NAMESPACE)
        stack = Stack(sandbox, simulator, kube, kube_url, ece_url, kubeconfig, operator)
        operator.start()
        try:
            stack.wait_operator_watching()
            yield stack
        finally:
            operator.stop()
            kube.close()
        problems = contract_problems(simulator.calls)
        assert not problems, "simulator answers off the ECE spec:\n" + "\n".join(problems[:20])


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
    name = f"t{next(_names)}-{secrets.token_hex(3)}"
    stack.kube.create_namespace(name)
    return name
