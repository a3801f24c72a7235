"""The chart's RBAC covers every Kubernetes API call the operator makes, and grants nothing it does not use.

The operator runs real scenarios against the sandbox (plain run, a token recorded in the ledger, a connection
Secret, retries, a label edit mid-request, waitForCompletion, TTL deletion, events); the sandbox logs every request
with its user agent. Each request of the operator is checked against the RBAC rendered by the chart for the same
set-up (cluster-wide, ledger in the release namespace), and each rendered permission must have been used by some
request.
"""

from __future__ import annotations

import time
from typing import Any

from ece_restart.sandbox.kubeconfig import TOKEN
from ece_restart.sandbox.requestlog import RequestRecord, who
from ece_restart.simulator import Fault
from tests.chart.chartlib import render
from tests.e2e.conftest import API_KEY, Stack
from tests.support import rbac
from tests.support.kube_http import spec
from tests.support.operator_process import LEDGER_NAMESPACE

RELEASE = "ece-restart-operator"


def operator_requests(stack: Stack) -> list[RequestRecord]:
    """Requests made by the operator process (Kopf and its own API client), not by the test's own httpx."""
    return [r for r in stack.sandbox.requests if not r.user_agent.startswith("python-httpx") and r.resource]


def describe(r: RequestRecord) -> str:
    return f"{r.verb} {r.api_group or 'core'}/{r.resource}{'/' + r.subresource if r.subresource else ''} " \
           f"ns={r.namespace} ({r.user_agent.split('/')[0]})"


def exercise(stack: Stack, namespace: str) -> None:
    stack.run(namespace, "plain", spec(stack.new_deployment("kibana")))
    # 17 tokens over 16 ledger shards: at least one shard is created and then patched.
    ledgered = stack.new_deployment("kibana", plan_seconds=0)
    for index in range(17):
        assert stack.kube.create_restart(namespace, f"ledgered-{index}",
                                         spec(ledgered, restartToken=f"t-{index}", cancelPending=True)
                                         ).status_code == 201
    for index in range(17):
        stack.kube.wait_terminal(namespace, f"ledgered-{index}")
    stack.kube.create_secret(namespace, "conn", {"url": stack.ece_url, "apiKey": API_KEY})
    stack.run(namespace, "secret", spec(stack.new_deployment("kibana"), connection={"secretRef": {"name": "conn"}}))
    flaky = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", status=500, times=1, deployment_id=flaky))
    stack.run(namespace, "retried", spec(flaky, retry={"maxAttempts": 2, "initialDelaySeconds": 0,
                                                         "maxDelaySeconds": 1}))
    # A label edit while ECE is still answering: the operator reads the CR again once its run is done.
    slow = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", latency=2.0, times=1, deployment_id=slow))
    assert stack.kube.create_restart(namespace, "relabelled", spec(slow)).status_code == 201
    stack.kube.wait_for_restart(namespace, "relabelled", lambda o: o.get("status", {}).get("phase") == "Requesting")
    assert stack.kube.patch_restart(namespace, "relabelled", {"metadata": {"labels": {"edited": "yes"}}}).is_success
    stack.kube.wait_terminal(namespace, "relabelled")
    stack.run(namespace, "tracked", spec(stack.new_deployment("kibana", plan_seconds=0.5), waitForCompletion=True))
    stack.run(namespace, "expiring", spec(stack.new_deployment("kibana"), ttlSecondsAfterFinished=3))
    deadline = time.monotonic() + 15
    while stack.kube.get_restart(namespace, "expiring") is not None:
        assert time.monotonic() < deadline, "TTL deletion did not happen"
        time.sleep(0.05)


def test_rbac_covers_every_call_and_nothing_more(private_stack: Stack, namespace: str) -> None:
    stack = private_stack
    exercise(stack, namespace)
    assert LEDGER_NAMESPACE == RELEASE
    objects: list[dict[str, Any]] = render({"clusterWide": True}, name="rr", namespace=RELEASE)
    grants = rbac.effective_rules(objects, service_account=(RELEASE, "rr-ece-restart-operator"))
    requests = operator_requests(stack)
    assert requests, "no operator request was recorded"
    # Kopf and the operator's own client both authenticate with the kubeconfig's token on every request.
    assert {r.credentials for r in requests} == {who(f"Bearer {TOKEN}")}
    denied = sorted({describe(r) for r in requests
                     if not rbac.rules_allow(grants, r.verb, r.api_group or "", r.resource or "", r.subresource,
                                             r.namespace, r.name)})
    assert denied == [], "the chart's RBAC would deny these operator calls:\n" + "\n".join(denied)
    unused = sorted(
        f"{p.verb} {p.api_group or 'core'}/{p.resource}{'/' + p.subresource if p.subresource else ''} ns={p.namespace}"
        for p in rbac.permissions(grants)
        if not any(r.verb == p.verb and (r.api_group or "") == p.api_group and r.resource == p.resource
                   and r.subresource == p.subresource and (p.namespace is None or r.namespace == p.namespace)
                   for r in requests)
    )
    assert unused == [], "the chart grants permissions the operator never used:\n" + "\n".join(unused)
