"""spec.waitForCompletion: the run ends when the restart's ECE plan ends, never earlier, never on a foreign plan."""

from __future__ import annotations

import signal
import time
from typing import Any

import httpx

from ece_restart.simulator import Fault
from tests.e2e.conftest import API_KEY, Stack
from tests.support.kube_http import spec


def waiting(deployment: str, **extra: Any) -> dict[str, Any]:
    return spec(deployment, waitForCompletion=True, **extra)


def in_progress_with_attempt(obj: dict[str, Any]) -> bool:
    status = obj.get("status", {})
    return status.get("phase") == "InProgress" and bool(status.get("plan", {}).get("attemptId"))


def test_completed_plan_succeeds_with_plan_details(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=1)
    assert stack.kube.create_restart(namespace, "done", waiting(deployment)).status_code == 201
    seen = stack.kube.wait_for_restart(namespace, "done", in_progress_with_attempt)
    assert seen["status"]["outcome"] == "RestartAccepted" and seen["status"]["httpStatus"] == 202
    assert {c["type"]: c["status"] for c in seen["status"]["conditions"]}["Reconciling"] == "True"
    status = stack.kube.wait_terminal(namespace, "done")["status"]
    assert (status["phase"], status["outcome"]) == ("Succeeded", "RestartCompleted")
    plan = status["plan"]
    resource = stack.simulator.resource(deployment, "kibana", "main-kibana")
    assert plan["attemptId"] == resource.current.attempt_id  # type: ignore[union-attr]
    assert plan["lastStep"] == "plan-completed"
    assert plan["startTime"] <= plan["endTime"] and plan["durationSeconds"] >= 0
    assert len(stack.restart_calls(deployment)) == 1


def test_failed_plan_fails_with_the_plan_message_and_failure_type(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=0.5)
    stack.simulator.resource(deployment, "kibana", "main-kibana").fail_next_plan(
        failure_type="ClusterFailure:InstanceDidNotStartWhileWaitingForRunning", message="Kibana did not start")
    status = stack.run(namespace, "planfail", waiting(deployment))["status"]
    assert (status["phase"], status["outcome"]) == ("Failed", "PlanFailed")
    assert status["plan"]["failureType"] == "ClusterFailure:InstanceDidNotStartWhileWaitingForRunning"
    assert "Kibana did not start" in status["message"]
    assert status["plan"]["lastStep"] == "plan-completed"


def test_plan_slower_than_the_timeout_fails_with_completion_timeout(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=600)
    assert stack.kube.create_restart(namespace, "slow", waiting(deployment, completionTimeoutSeconds=10)
                                     ).status_code == 201
    status = stack.kube.wait_terminal(namespace, "slow", timeout=40)["status"]
    assert (status["phase"], status["outcome"]) == ("Failed", "CompletionTimeout")
    assert "did not finish within 10 s" in status["message"] and status["plan"]["attemptId"]


def test_polling_errors_are_retried_and_never_read_as_done(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=2)
    stack.simulator.add_fault(Fault(route="get_resource", status=500, times=3, deployment_id=deployment))
    stack.simulator.add_fault(Fault(route="get_resource", status=429, retry_after=1, times=2,
                                    deployment_id=deployment))
    stack.simulator.add_fault(Fault(route="get_resource", status=503, times=1, deployment_id=deployment))
    status = stack.run(namespace, "flakypoll", waiting(deployment))["status"]
    assert (status["phase"], status["outcome"]) == ("Succeeded", "RestartCompleted")
    polls = [c for c in stack.simulator.calls if c.route == "get_resource" and c.deployment_id == deployment]
    assert sum(1 for c in polls if c.status in (429, 500, 503)) == 6
    assert polls[-1].status == 200


def test_pending_plan_not_yet_visible_after_the_202(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=1)
    resource = stack.simulator.resource(deployment, "kibana", "main-kibana")
    resource.pending_visibility_delay = 1.5
    status = stack.run(namespace, "invisible", waiting(deployment))["status"]
    assert (status["phase"], status["outcome"]) == ("Succeeded", "RestartCompleted")
    assert status["plan"]["attemptId"] == resource.current.attempt_id  # type: ignore[union-attr]


def test_a_foreign_plan_after_ours_is_not_taken_for_ours(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=1)
    stack.simulator.resource(deployment, "kibana", "main-kibana").set_plan_duration(1)
    assert stack.kube.create_restart(namespace, "ours", waiting(deployment)).status_code == 201
    ours = stack.kube.wait_for_restart(namespace, "ours", in_progress_with_attempt)["status"]["plan"]["attemptId"]
    # The foreign plan will fail: if it were taken for ours, the run would end PlanFailed.
    stack.simulator.resource(deployment, "kibana", "main-kibana").fail_next_plan()
    url = f"{stack.ece_url}/api/v1/deployments/{deployment}/kibana/main-kibana/_restart"
    foreign_started = False
    deadline = time.monotonic() + 20
    with httpx.Client(headers={"Authorization": f"ApiKey {API_KEY}"}) as http:
        while not foreign_started and time.monotonic() < deadline:  # 422 while our plan is pending
            foreign_started = http.post(url).status_code == 202
            time.sleep(0.05)
    assert foreign_started
    status = stack.kube.wait_terminal(namespace, "ours")["status"]
    assert (status["phase"], status["outcome"], status["plan"]["attemptId"]) == (
        "Succeeded", "RestartCompleted", ours)


def test_a_foreign_restart_that_cancels_ours_fails_ours(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=30)
    assert stack.kube.create_restart(namespace, "cancelled", waiting(deployment)).status_code == 201
    ours = stack.kube.wait_for_restart(namespace, "cancelled", in_progress_with_attempt)["status"]["plan"]
    with httpx.Client(headers={"Authorization": f"ApiKey {API_KEY}"}) as http:
        assert http.post(f"{stack.ece_url}/api/v1/deployments/{deployment}/kibana/main-kibana/_restart",
                         params={"cancel_pending": "true"}).status_code == 202
    status = stack.kube.wait_terminal(namespace, "cancelled")["status"]
    assert (status["phase"], status["outcome"], status["plan"]["attemptId"]) == (
        "Failed", "PlanFailed", ours["attemptId"])


def test_operator_restart_during_tracking_resumes_without_a_second_request(private_stack: Stack,
                                                                          namespace: str) -> None:
    stack = private_stack
    deployment = stack.new_deployment("kibana", plan_seconds=4)
    assert stack.kube.create_restart(namespace, "resume", waiting(deployment)).status_code == 201
    stack.kube.wait_for_restart(namespace, "resume", in_progress_with_attempt)
    stack.operator.stop(signal.SIGKILL)
    stack.operator.start()
    stack.wait_watching()
    status = stack.kube.wait_terminal(namespace, "resume")["status"]
    assert (status["phase"], status["outcome"]) == ("Succeeded", "RestartCompleted")
    assert len(stack.restart_calls(deployment)) == 1
    assert stack.operator.starts == 2
