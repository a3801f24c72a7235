"""One scenario per ECE outcome, through `ece-restart-operator run`, the sandbox and the simulator.

Each asserts the status a user reads and how many restart requests ECE received.
"""

from __future__ import annotations

import ssl
from typing import Any

import trustme

from ece_restart.simulator import Fault, Simulator, SimulatorState
from tests.e2e.conftest import API_KEY, Stack
from tests.support.kube_http import spec

FAST_RETRY = {"maxAttempts": 3, "initialDelaySeconds": 0, "maxDelaySeconds": 1}


def event_reasons(stack: Stack, namespace: str, name: str) -> list[str]:
    events = [e for e in stack.kube.list_events(namespace) if e["involvedObject"]["name"] == name]
    return [e["reason"] for e in sorted(events, key=lambda e: int(e["metadata"]["resourceVersion"]))]


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj["status"]["conditions"]}


def test_accepted_restart_succeeds_once(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    obj = stack.run(namespace, "ok", spec(deployment, restartToken="t1"))
    status = obj["status"]
    assert (status["phase"], status["outcome"], status["httpStatus"], status["attempts"]) == (
        "Succeeded", "RestartAccepted", 202, 1)
    assert status["lastHandledToken"] == "t1" and "activeToken" not in status
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert conditions(obj) == {"Succeeded": "True", "Ready": "True", "Reconciling": "False", "Stalled": "False"}
    for field in ("startTime", "lastAttemptTime", "completionTime"):
        assert status[field].endswith("Z")
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 1
    assert len(stack.restart_calls(deployment)) == 1
    # Kopf posts Events asynchronously, in order, possibly just after the status write: wait for the last one.
    # An answer that came at once is reported by its outcome's Event alone (no RestartRequested).
    stack.operator.wait_until(lambda: "RestartAccepted" in event_reasons(stack, namespace, "ok"),
                              "the RestartAccepted event")
    assert event_reasons(stack, namespace, "ok") == ["RestartAccepted"]


def test_slow_answer_is_announced_while_waiting(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", latency=5.0, times=1, deployment_id=deployment))
    response = stack.kube.create_restart(namespace, "slow", spec(deployment))
    assert response.status_code == 201, response.text
    # While ECE has not answered (it takes 5 s; the Event comes after 1 s), the CR says a request is out.
    stack.operator.wait_until(lambda: "RestartRequested" in event_reasons(stack, namespace, "slow"),
                              "the RestartRequested event while ECE is still answering")
    current = stack.kube.get_restart(namespace, "slow")
    assert current is not None and current["status"]["phase"] == "Requesting"
    assert stack.kube.wait_terminal(namespace, "slow")["status"]["outcome"] == "RestartAccepted"
    stack.operator.wait_until(lambda: "RestartAccepted" in event_reasons(stack, namespace, "slow"),
                              "the RestartAccepted event")
    assert event_reasons(stack, namespace, "slow") == ["RestartRequested", "RestartAccepted"]


def test_elasticsearch_options_reach_ece(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("elasticsearch")
    body = spec(deployment, "elasticsearch",
                elasticsearch={"groupAttribute": "__name__", "skipSnapshot": False, "shardInitWaitTimeSeconds": 60})
    assert stack.run(namespace, "es", body)["status"]["outcome"] == "RestartAccepted"
    (call,) = stack.restart_calls(deployment)
    assert call.query["group_attribute"] == "__name__"
    assert call.query["skip_snapshot"] == "false" and call.query["shard_init_wait_time"] == "60"


def test_unknown_deployment_fails_permanently(stack: Stack, namespace: str) -> None:
    missing = "ffffffffffffffffffffffffffffffff"
    status = stack.run(namespace, "nodep", spec(missing))["status"]
    assert (status["phase"], status["outcome"], status["httpStatus"], status["errorCode"], status["attempts"]) == (
        "Failed", "DeploymentNotFound", 404, "deployments.deployment_not_found", 1)
    assert missing in status["message"]
    assert len(stack.restart_calls(missing)) == 1


def test_unknown_resource_fails_permanently(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    obj = stack.run(namespace, "noref", spec(deployment, "apm"))
    status = obj["status"]
    assert (status["phase"], status["outcome"], status["httpStatus"], status["errorCode"]) == (
        "Failed", "ResourceNotFound", 404, "deployments.deployment_resource_not_found")
    assert conditions(obj)["Stalled"] == "True"


def test_pending_plan_conflicts_unless_cancel_pending(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=60)
    assert stack.run(namespace, "first", spec(deployment))["status"]["phase"] == "Succeeded"
    status = stack.run(namespace, "second", spec(deployment))["status"]
    assert (status["phase"], status["outcome"], status["httpStatus"], status["errorCode"]) == (
        "Failed", "PlanChangeConflict", 422, "deployments.deployment_resource_plan_change_error")
    status = stack.run(namespace, "third", spec(deployment, cancelPending=True))["status"]
    assert (status["phase"], status["outcome"]) == ("Succeeded", "RestartAccepted")
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 2
    assert stack.restart_calls(deployment)[-1].query["cancel_pending"] == "true"


def test_server_error_is_retried_until_it_clears(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", status=500, times=2, deployment_id=deployment))
    status = stack.run(namespace, "flaky", spec(deployment, retry=FAST_RETRY))["status"]
    assert (status["phase"], status["outcome"], status["httpStatus"], status["attempts"]) == (
        "Succeeded", "RestartAccepted", 202, 3)
    assert len(stack.restart_calls(deployment)) == 3
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 1


def test_server_error_until_attempts_are_exhausted(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", status=500, times=100, deployment_id=deployment))
    obj = stack.run(namespace, "broken", spec(deployment, retry=FAST_RETRY))
    status = obj["status"]
    assert (status["phase"], status["outcome"], status["httpStatus"], status["attempts"]) == (
        "Failed", "RetriesExhausted", 500, 3)
    assert "after 3 attempts" in status["message"]
    assert conditions(obj)["Stalled"] == "True"
    assert len(stack.restart_calls(deployment)) == 3
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 0


def test_lost_answer_is_settled_from_plan_info_without_a_second_request(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", drop_response=True, times=1, deployment_id=deployment))
    status = stack.run(namespace, "dropped", spec(deployment, retry=FAST_RETRY))["status"]
    assert (status["phase"], status["outcome"]) == ("Succeeded", "RestartAccepted")
    assert "plan attempt" in status["message"]
    assert len(stack.restart_calls(deployment)) == 1
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 1


def test_reset_connection_without_evidence_ends_unknown(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", reset=True, times=1, deployment_id=deployment))
    obj = stack.run(namespace, "reset", spec(deployment, retry=FAST_RETRY))
    status = obj["status"]
    assert (status["phase"], status["outcome"]) == ("Unknown", "OutcomeUnknown")
    assert "restartToken" in status["message"]
    assert "nor 10 s later" in status["message"]  # plans read again for min(read timeout 30 s, 10 s)
    assert conditions(obj)["Stalled"] == "True"
    assert len(stack.restart_calls(deployment)) == 1
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 0


def test_wrong_api_key_in_secret_is_unauthorized(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    stack.kube.create_secret(namespace, "wrong-key", {"url": stack.ece_url, "apiKey": "not-the-key"})
    status = stack.run(namespace, "unauth", spec(deployment, connection={"secretRef": {"name": "wrong-key"}}))[
        "status"]
    assert (status["phase"], status["outcome"], status["httpStatus"], status["errorCode"]) == (
        "Failed", "Unauthorized", 401, "root.unauthenticated")
    assert "not-the-key" not in str(status)


def test_missing_secret_says_which_and_sends_nothing(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    status = stack.run(namespace, "nosecret", spec(deployment, connection={"secretRef": {"name": "absent"}}))[
        "status"]
    assert (status["phase"], status["outcome"]) == ("Failed", "InvalidConnection")
    assert f"Secret {namespace}/absent not found" in status["message"]
    assert stack.restart_calls(deployment) == []


def test_connection_refused_is_retried_then_reported(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    stack.kube.create_secret(namespace, "closed-port", {"url": "http://127.0.0.1:9", "apiKey": API_KEY})
    status = stack.run(namespace, "refused", spec(deployment, retry=FAST_RETRY,
                                                    connection={"secretRef": {"name": "closed-port"}}))["status"]
    assert (status["phase"], status["outcome"], status["attempts"]) == ("Failed", "ConnectionFailed", 3)
    assert "could not connect" in status["message"]


def test_elevated_permissions_required_on_legacy_ece(stack: Stack, namespace: str) -> None:
    legacy = Simulator(state=SimulatorState(), api_keys={API_KEY}, legacy_449=True)
    deployment = "0123456789abcdef0123456789abcdef"
    legacy.state.add_deployment(deployment, "legacy", resources=[{"kind": "kibana", "ref_id": "main-kibana"}])
    with legacy.serving_in_thread(port=0) as url:
        stack.kube.create_secret(namespace, "legacy", {"url": url, "apiKey": API_KEY})
        status = stack.run(namespace, "legacy", spec(deployment, connection={"secretRef": {"name": "legacy"}}))[
            "status"]
    assert (status["phase"], status["outcome"], status["httpStatus"], status["errorCode"]) == (
        "Failed", "ElevatedPermissionsRequired", 449, "root.unauthorized.rbac.elevated_permissions_required")


def test_tls_fails_cleanly_without_the_ca_and_works_with_it(stack: Stack, namespace: str) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    secure = Simulator(state=SimulatorState(), api_keys={API_KEY})
    deployment = "abcdefabcdefabcdefabcdefabcdef01"
    secure.state.add_deployment(deployment, "tls", resources=[{"kind": "kibana", "ref_id": "main-kibana"}])
    with secure.serving_in_thread(port=0, ssl_context=server_context) as url:
        assert url.startswith("https://")
        stack.kube.create_secret(namespace, "no-ca", {"url": url, "apiKey": API_KEY})
        stack.kube.create_secret(namespace, "with-ca", {"url": url, "apiKey": API_KEY,
                                                        "ca.crt": ca.cert_pem.bytes().decode()})
        failed = stack.run(namespace, "no-ca", spec(deployment, connection={"secretRef": {"name": "no-ca"}}))
        ok = stack.run(namespace, "with-ca", spec(deployment, connection={"secretRef": {"name": "with-ca"}}))
    assert (failed["status"]["phase"], failed["status"]["outcome"]) == ("Failed", "TLSVerificationFailed")
    assert "ca.crt" in failed["status"]["message"]
    assert (ok["status"]["phase"], ok["status"]["outcome"]) == ("Succeeded", "RestartAccepted")
    assert secure.accepted_restarts(deployment, "kibana", "main-kibana") == 1
