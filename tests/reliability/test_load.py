"""Load: 1,000 CRs created at once against a slow, flaky ECE; and an ECE outage that must not become a retry storm.

Budget (issue 8): total ECE restart requests <= 1.1 x CRs + the retries the policy allows. Here every faulty
deployment answers exactly one 500, so the policy allows exactly one retry for each of them, and no other request.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from ece_restart.connection_gate import ConnectionGate
from ece_restart.simulator import Fault, Simulator, SimulatorState
from tests.support.kube_http import RR_PATH, spec
from tests.support.stack import API_KEY, TERMINAL, Stack, operator_stack, wait_for

CRS = 1000
FAILING_SHARE = 0.10
LATENCY = 0.03
OUTAGE_CRS = 200
OUTAGE_SECONDS = 8.0
MAX_CONCURRENT = 10  # the operator's default --max-concurrent


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    simulator = Simulator(state=SimulatorState(), api_keys={API_KEY}, users={"outage": "outage-password"},
                          plan_seconds=0.0)
    # Debug logs of 1,000 CRs would measure the log writer; the operator logs at info here.
    with operator_stack(tmp_path_factory.mktemp("load"), simulator=simulator,
                           operator_args=("--all-namespaces", "--log-level", "info")) as built:
        yield built


def create_all(stack: Stack, namespace: str, specs: list[dict[str, Any]]) -> None:
    """Create every CR as fast as the API server takes them (8 clients in parallel)."""

    def create(chunk: list[tuple[int, dict[str, Any]]]) -> None:
        with httpx.Client(base_url=stack.kube_url, headers={"Authorization": "Bearer test"}, timeout=30) as http:
            for index, body in chunk:
                response = http.post(RR_PATH.format(namespace=namespace), json={
                    "apiVersion": "eceops.io/v1alpha1", "kind": "ResourceRestart",
                    "metadata": {"name": f"load-{index}"}, "spec": body})
                assert response.status_code == 201, response.text

    indexed = list(enumerate(specs))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, [indexed[i::8] for i in range(8)]))


def statuses(stack: Stack, namespace: str) -> list[dict[str, Any]]:
    return [obj.get("status") or {} for obj in stack.sandbox.list("resourcerestarts", namespace, "eceops.io")]


def wait_all_terminal(stack: Stack, namespace: str, count: int, timeout: float) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        found = statuses(stack, namespace)
        return found if len(found) == count and all(s.get("phase") in TERMINAL for s in found) else None

    try:
        result: list[dict[str, Any]] = wait_for(done, f"{count} CRs to be terminal", timeout=timeout, interval=0.5)
    except AssertionError:
        phases = Counter(s.get("phase") for s in statuses(stack, namespace))
        raise AssertionError(f"not all {count} CRs terminal after {timeout}s: {dict(phases)}") from None
    return result


def test_a_thousand_crs_at_once_against_a_slow_flaky_ece(stack: Stack, record_property: Any) -> None:
    namespace = stack.new_namespace()
    rng = random.Random(1000)
    deployments = [stack.new_deployment(("kibana", "elasticsearch")[i % 2]) for i in range(CRS)]
    failing = set(rng.sample(deployments, int(CRS * FAILING_SHARE)))
    for deployment in sorted(failing):  # first in the fault book: they win over the latency-for-all below
        stack.simulator.add_fault(Fault(route="restart", status=500, latency=LATENCY, times=1,
                                        deployment_id=deployment))
    stack.simulator.add_fault(Fault(route="restart", latency=LATENCY, times=None))
    retry = {"maxAttempts": 3, "initialDelaySeconds": 1, "maxDelaySeconds": 2}
    started = time.monotonic()
    create_all(stack, namespace, [spec(d, ("kibana", "elasticsearch")[i % 2], retry=retry)
                                  for i, d in enumerate(deployments)])
    created = time.monotonic() - started
    final = wait_all_terminal(stack, namespace, CRS, timeout=150)
    elapsed = time.monotonic() - started

    calls = [c for c in stack.simulator.calls if c.route == "restart" and c.deployment_id in set(deployments)]
    per_deployment = Counter(c.deployment_id for c in calls)
    accepted = Counter(c.deployment_id for c in calls if c.applied)
    phases = Counter(s["phase"] for s in final)
    retries_allowed = len(failing)  # one 500 each, so exactly one retry each
    budget = 1.1 * CRS + retries_allowed
    summary = (f"load: CRs={CRS} failing={len(failing)} restart requests={len(calls)} (budget {budget:.0f}, "
               f"1.1 x CRs = {1.1 * CRS:.0f}) duplicates={sum(1 for n in accepted.values() if n > 1)} "
               f"phases={dict(phases)} created in {created:.1f}s, all terminal after {elapsed:.1f}s")
    print(summary)
    record_property("load", summary)
    assert phases == {"Succeeded": CRS}, summary
    assert all(accepted[d] == 1 for d in deployments), summary
    assert all(per_deployment[d] == (2 if d in failing else 1) for d in deployments), summary
    assert len(calls) == CRS + retries_allowed <= budget, summary
    assert len(calls) <= 1.1 * CRS, summary
    assert {s["attempts"] for s in final} == {1, 2}


def probes_within(seconds: float, gate: ConnectionGate | None = None) -> int:
    """The most probes a tripped gate can send in `seconds`: the pause before probe j is at least
    initial_pause x 2**(j-1) x 0.5 (the jitter draws from [0.5, 1]); so m probes need at least
    0.5 x initial_pause x (2**m - 1) seconds."""
    initial = 1.0 if gate is None else gate._initial
    return math.floor(math.log2(2 * seconds / initial + 1)) + 1


def test_an_outage_is_probed_one_request_at_a_time(stack: Stack, record_property: Any) -> None:
    namespace = stack.new_namespace()
    stack.kube.create_secret(namespace, "ece", {"url": stack.ece_url, "username": "outage",
                                                 "password": "outage-password"})
    deployments = [stack.new_deployment() for _ in range(OUTAGE_CRS)]
    stack.simulator.clear_faults()  # the previous test's latency-for-all would match first
    outage = stack.simulator.add_fault(Fault(route="restart", status=503, times=None))
    retry = {"maxAttempts": 20, "initialDelaySeconds": 1, "maxDelaySeconds": 4}
    create_all(stack, namespace, [spec(d, retry=retry, connection={"secretRef": {"name": "ece"}})
                                  for d in deployments])
    wanted = set(deployments)

    def outage_calls() -> list[Any]:
        return [c for c in stack.simulator.calls if c.route == "restart" and c.deployment_id in wanted
                and c.fault == "status:503"]

    first = wait_for(lambda: outage_calls()[:1], "the first request during the outage")[0]
    wait_for(lambda: time.time() - first.time >= OUTAGE_SECONDS, "the outage to last", timeout=OUTAGE_SECONDS + 5)
    stack.simulator.faults.remove(outage.id)
    ended = time.time()
    during = outage_calls()
    final = wait_all_terminal(stack, namespace, OUTAGE_CRS, timeout=120)

    threshold = 5  # ConnectionGate's default
    burst = threshold + MAX_CONCURRENT - 1  # in flight when the 5th failure trips the gate
    bound = burst + probes_within(ended - first.time)
    without_gate = OUTAGE_CRS  # every CR's first attempt alone, before any of their own retries
    accepted = Counter(c.deployment_id for c in stack.simulator.calls if c.applied and c.deployment_id in wanted)
    phases = Counter(s["phase"] for s in final)
    summary = (f"outage: CRs={OUTAGE_CRS} outage={ended - first.time:.1f}s requests during it={len(during)} "
               f"(bound {bound} = {burst} before the trip + probes; without a shared back-off >= {without_gate}) "
               f"phases={dict(phases)}")
    print(summary)
    record_property("outage", summary)
    assert len(during) <= bound, summary + f" times: {[round(c.time - first.time, 2) for c in during]}"
    assert phases == {"Succeeded": OUTAGE_CRS}, summary
    assert all(accepted[d] == 1 for d in deployments), summary
