"""Exactly one restart request per run: re-applies, metadata edits and operator restarts never add one."""

from __future__ import annotations

import signal
import time
from datetime import datetime

from ece_restart.simulator import Fault
from tests.e2e.conftest import Stack
from tests.support.kube_http import spec


def test_reapply_and_label_edits_never_restart_again(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    stack.run(namespace, "once", spec(deployment, restartToken="a"))
    before = stack.operator.log().count("restart request")
    assert stack.kube.patch_restart(namespace, "once", {"spec": spec(deployment, restartToken="a")}).is_success
    assert stack.kube.patch_restart(namespace, "once", {"metadata": {"labels": {"team": "search"}}}).is_success
    assert stack.kube.patch_restart(namespace, "once", {"metadata": {"annotations": {"note": "x"}}}).is_success
    # Settle deterministically: a later CR in the same namespace is handled after these edits were seen.
    stack.run(namespace, "marker", spec(stack.new_deployment("kibana")))
    assert len(stack.restart_calls(deployment)) == 1
    assert stack.operator.log().count("restart request") == before + 1  # only the marker's


def test_a_new_token_runs_exactly_once_more(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=0)
    first = stack.run(namespace, "tokens", spec(deployment, restartToken="one"))
    assert stack.kube.patch_restart(namespace, "tokens", {"spec": {"restartToken": "two"}}).is_success
    second = stack.kube.wait_for_restart(
        namespace, "tokens", lambda o: o.get("status", {}).get("lastHandledToken") == "two")
    assert second["status"]["phase"] == "Succeeded", second["status"]
    assert second["status"]["startTime"] >= first["status"]["startTime"]
    assert second["status"]["observedGeneration"] == second["metadata"]["generation"] == 2
    assert len(stack.restart_calls(deployment)) == 2


def test_operator_restart_during_backoff_waits_and_does_not_repeat(private_stack: Stack, namespace: str) -> None:
    stack = private_stack
    deployment = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", status=503, times=1, deployment_id=deployment,
                                    retry_after=3))
    body = spec(deployment, retry={"maxAttempts": 3, "initialDelaySeconds": 3, "maxDelaySeconds": 3})
    assert stack.kube.create_restart(namespace, "backoff", body).status_code == 201
    retrying = stack.kube.wait_for_restart(
        namespace, "backoff", lambda o: o.get("status", {}).get("phase") == "Retrying")
    next_attempt = datetime.fromisoformat(retrying["status"]["nextAttemptTime"].replace("Z", "+00:00"))
    stack.operator.stop(signal.SIGKILL)
    stack.operator.start()
    stack.wait_watching()
    done = stack.kube.wait_terminal(namespace, "backoff")
    assert (done["status"]["phase"], done["status"]["attempts"]) == ("Succeeded", 2)
    calls = stack.restart_calls(deployment)
    assert len(calls) == 2
    # The retry honoured the recorded time (1 s resolution of status timestamps) instead of firing on start-up.
    assert calls[1].time >= next_attempt.timestamp() - 1.0
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 1


def test_operator_killed_mid_request_settles_from_plan_info(private_stack: Stack, namespace: str) -> None:
    stack = private_stack
    deployment = stack.new_deployment("kibana", plan_seconds=30)
    slow = stack.simulator.add_fault(Fault(route="restart", latency=2.0, times=1, deployment_id=deployment))
    assert stack.kube.create_restart(namespace, "midflight", spec(deployment)).status_code == 201
    stack.kube.wait_for_restart(namespace, "midflight", lambda o: o.get("status", {}).get("phase") == "Requesting")
    stack.operator.wait_until(lambda: slow.used == 1, "the request to reach ECE")  # taken on arrival
    stack.operator.stop(signal.SIGKILL)
    # The simulator finishes the slow request (ECE applies a restart even when the caller is gone).
    deadline = time.monotonic() + 10
    while stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    stack.operator.start()
    stack.wait_watching()
    done = stack.kube.wait_terminal(namespace, "midflight")
    assert (done["status"]["phase"], done["status"]["outcome"]) == ("Succeeded", "RestartAccepted")
    assert "plan attempt" in done["status"]["message"]
    assert len(stack.restart_calls(deployment)) == 1
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 1


def test_a_token_changed_while_retrying_gets_its_own_run_after(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=0)
    # Retry-After pins the wait at the 2 s cap (a bare jittered delay may be near 0 and end Retrying too soon).
    stack.simulator.add_fault(Fault(route="restart", status=503, times=1, deployment_id=deployment, retry_after=2))
    body = spec(deployment, restartToken="t1", retry={"maxAttempts": 3, "initialDelaySeconds": 2,
                                                      "maxDelaySeconds": 2})
    assert stack.kube.create_restart(namespace, "switch", body).status_code == 201
    stack.kube.wait_for_restart(namespace, "switch", lambda o: o.get("status", {}).get("phase") == "Retrying")
    assert stack.kube.patch_restart(namespace, "switch", {"spec": {"restartToken": "t2"}}).is_success
    done = stack.kube.wait_for_restart(
        namespace, "switch", lambda o: o.get("status", {}).get("lastHandledToken") == "t2"
        and o["status"].get("phase") == "Succeeded")
    assert done["status"]["observedGeneration"] == done["metadata"]["generation"] == 2
    assert done["status"]["attempts"] == 1  # the new token's own run
    calls = stack.restart_calls(deployment)
    assert [c.status for c in calls] == [503, 202, 202]  # t1: 503 then 202; t2: its own request
