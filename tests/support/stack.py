"""The operator as a process against the Kubernetes API sandbox and the ECE simulator, with the operator flags,
environment and simulator of the test's choosing. Used by tests/e2e/ (through its fixtures), tests/gitops/ and
tests/reliability/."""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ece_restart.sandbox import Sandbox
from ece_restart.simulator import CallRecord, Simulator, SimulatorState
from tests.support.kube_http import KubeHttp
from tests.support.operator_process import LEDGER_NAMESPACE, OperatorProcess
from tests.support.sandbox_fixtures import wait_until
from tests.support.simulator_fixtures import contract_problems

API_KEY = "operator-test-key"
TERMINAL = frozenset({"Succeeded", "Failed", "Unknown"})
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
        """A fresh deployment in the simulator (one resource per kind, kibana by default) so tests never share
        plan state."""
        deployment_id = secrets.token_hex(16)
        resources: list[dict[str, Any]] = [{"kind": kind, "ref_id": f"main-{kind}"} for kind in kinds or ("kibana",)]
        if plan_seconds is not None:
            for resource in resources:
                resource["plan_seconds"] = plan_seconds
        self.simulator.state.add_deployment(deployment_id, f"test-{next(_names)}", resources=resources)
        return deployment_id

    def new_namespace(self) -> str:
        name = f"t{next(_names)}-{secrets.token_hex(3)}"
        self.kube.create_namespace(name)
        return name

    def restart_calls(self, deployment_id: str) -> list[CallRecord]:
        return [c for c in self.simulator.calls if c.route == "restart" and c.deployment_id == deployment_id]

    def run(self, namespace: str, name: str, spec: Mapping[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Create a ResourceRestart and wait for its terminal status."""
        response = self.kube.create_restart(namespace, name, spec)
        assert response.status_code == 201, response.text
        return self.kube.wait_terminal(namespace, name, timeout=timeout)

    def wait_watching(self) -> None:
        self.operator.wait_watching(self.sandbox)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
    return wait_until(condition, timeout=timeout, interval=interval, what=what)


@contextlib.contextmanager
def operator_stack(
    tmp: Path,
    *,
    operator_args: Sequence[str] = ("--all-namespaces",),
    env: Mapping[str, str] | None = None,
    simulator: Simulator | None = None,
    start: bool = True,
    check_contract: bool = True,
) -> Iterator[Stack]:
    """Sandbox and simulator served from threads, the operator a process (started unless `start` is False); on
    exit, every simulator answer the operator saw is checked against Elastic's Swagger spec."""
    sandbox = Sandbox()
    sim = simulator or Simulator(state=SimulatorState(), api_keys={API_KEY}, plan_seconds=0.5)
    with sandbox.serving_in_thread(port=0) as kube_url, sim.serving_in_thread(port=0) as ece_url:
        kubeconfig = tmp / "kubeconfig"
        sandbox.write_kubeconfig(kubeconfig)
        operator_env = {"ECE_URL": ece_url, "ECE_API_KEY": API_KEY} if env is None else dict(env)
        operator = OperatorProcess(kubeconfig=kubeconfig, env=operator_env, log_path=tmp / "operator.log",
                                   args=tuple(operator_args))
        kube = KubeHttp(kube_url)
        kube.create_namespace(LEDGER_NAMESPACE)
        stack = Stack(sandbox, sim, kube, kube_url, ece_url, kubeconfig, operator)
        try:
            if start:
                operator.start()
                stack.wait_watching()
            yield stack
        finally:
            operator.stop()
            kube.close()
        if check_contract:
            problems = contract_problems(sim.calls)
            assert not problems, "simulator answers off the ECE spec:\n" + "\n".join(problems[:20])
