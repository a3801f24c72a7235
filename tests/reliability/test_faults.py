"""Fault matrix: every ECE and Kubernetes API failure converges to the right terminal status, with the right number
of restart requests. The operator runs as a process with a short ECE read timeout (`--ece-read-timeout 1.5`)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from ece_restart.simulator import Fault, Simulator, SimulatorState
from tests.support.kube_http import spec
from tests.support.stack import API_KEY, Stack, operator_stack, wait_for

READ_TIMEOUT = 1.5
FAST = {"maxAttempts": 4, "initialDelaySeconds": 0, "maxDelaySeconds": 1}
USERS = {f"user{i}": f"password-{i}" for i in range(40)}
_user_ids = iter(range(40))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    simulator = Simulator(state=SimulatorState(), api_keys={API_KEY}, users=USERS, plan_seconds=0.5)
    with operator_stack(tmp_path_factory.mktemp("faults"), simulator=simulator,
                           operator_args=("--all-namespaces", "--ece-read-timeout", str(READ_TIMEOUT))) as built:
        yield built


def own_connection(stack: Stack, namespace: str, url: str | None = None, **extra: str) -> dict[str, Any]:
    """A Secret with a user of its own: each test gets its own client and its own shared back-off (gate)."""
    user = f"user{next(_user_ids)}"
    stack.kube.create_secret(namespace, user, {"url": url or stack.ece_url, "username": user,
                                               "password": USERS[user], **extra})
    return {"secretRef": {"name": user}}


def status_of(obj: dict[str, Any]) -> tuple[Any, ...]:
    s = obj["status"]
    return s["phase"], s.get("outcome"), s.get("httpStatus"), s.get("errorCode"), s.get("attempts")


def event_messages(stack: Stack, namespace: str, reason: str) -> list[str]:
    return [str(e.get("message", "")) for e in stack.kube.list_events(namespace) if e.get("reason") == reason]


# ---------------------------------------------------------------------------------------------------- ECE API
def test_ece_500_burst_is_retried_until_it_clears(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    stack.simulator.add_fault(Fault(route="restart", status=500, times=3, deployment_id=dep))
    obj = stack.run(ns, "burst", spec(dep, retry=FAST, connection=own_connection(stack, ns)))
    assert status_of(obj) == ("Succeeded", "RestartAccepted", 202, None, 4)
    assert [c.status for c in stack.restart_calls(dep)] == [500, 500, 500, 202]
    assert stack.simulator.accepted_restarts(dep) == 1
    assert len(event_messages(stack, ns, "RestartRetrying")) == 3


@pytest.mark.parametrize("status", [502, 503])
def test_proxy_html_pages_are_retried(stack: Stack, status: int) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    stack.simulator.add_fault(Fault(route="restart", status=status, body="html", times=2, deployment_id=dep))
    obj = stack.run(ns, "html", spec(dep, retry=FAST, connection=own_connection(stack, ns)))
    assert status_of(obj) == ("Succeeded", "RestartAccepted", 202, None, 3)
    assert [c.status for c in stack.restart_calls(dep)] == [status, status, 202]
    retrying = event_messages(stack, ns, "RestartRetrying")
    assert len(retrying) == 2 and all("without an ECE error body" in m for m in retrying), retrying


def test_html_503_until_attempts_run_out_fails_with_the_last_status(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    stack.simulator.add_fault(Fault(route="restart", status=503, times=None, deployment_id=dep))
    retry = {"maxAttempts": 3, "initialDelaySeconds": 0, "maxDelaySeconds": 1}
    obj = stack.run(ns, "down", spec(dep, retry=retry, connection=own_connection(stack, ns)))
    assert status_of(obj) == ("Failed", "RetriesExhausted", 503, None, 3)
    assert "Gave up after 3 attempts" in obj["status"]["message"]
    assert len(stack.restart_calls(dep)) == 3 and stack.simulator.accepted_restarts(dep) == 0


def test_429_with_retry_after_waits_at_least_that_long(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    stack.simulator.add_fault(Fault(route="restart", status=429, retry_after=2, times=1, deployment_id=dep))
    retry = {"maxAttempts": 3, "initialDelaySeconds": 0, "maxDelaySeconds": 10}
    obj = stack.run(ns, "ratelimited", spec(dep, retry=retry, connection=own_connection(stack, ns)))
    assert status_of(obj) == ("Succeeded", "RestartAccepted", 202, None, 2)
    first, second = stack.restart_calls(dep)
    assert (first.status, second.status) == (429, 202)
    # Retry-After is a floor: the second request never comes earlier than the server asked.
    assert second.time - first.time >= 2.0, f"retried {second.time - first.time:.2f}s after a Retry-After of 2s"
    assert any("HTTP 429" in m for m in event_messages(stack, ns, "RestartRetrying"))


def test_429_without_retry_after_uses_the_backoff(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    stack.simulator.add_fault(Fault(route="restart", status=429, times=2, deployment_id=dep))
    obj = stack.run(ns, "ratelimited2", spec(dep, retry=FAST, connection=own_connection(stack, ns)))
    assert status_of(obj) == ("Succeeded", "RestartAccepted", 202, None, 3)
    assert [c.status for c in stack.restart_calls(dep)] == [429, 429, 202]


def test_connection_reset_before_ece_acted_ends_unknown_without_a_second_request(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    stack.simulator.add_fault(Fault(route="restart", reset=True, times=1, deployment_id=dep))
    obj = stack.run(ns, "reset", spec(dep, retry=FAST, connection=own_connection(stack, ns)))
    assert status_of(obj)[:2] == ("Unknown", "OutcomeUnknown")
    assert "connection was lost after the request was sent" in obj["status"]["message"]
    assert "ECE shows no plan attempt since then" in obj["status"]["message"]
    assert len(stack.restart_calls(dep)) == 1 and stack.simulator.accepted_restarts(dep) == 0


@pytest.mark.parametrize(("fault", "said"), [
    # ECE acted, then the connection broke before its answer arrived.
    ({"drop_response": True}, "the connection was lost after the request was sent"),
    # ECE answers (and acts) 1 s after the operator gave up waiting: within the read timeout's length again.
    ({"latency": READ_TIMEOUT + 1.0}, "no answer arrived within the read timeout"),
], ids=["reset-after-ece-acted", "applied-just-after-the-read-timeout"])
def test_a_lost_answer_to_a_restart_ece_applied_succeeds_from_plan_info(stack: Stack, fault: dict[str, Any],
                                                                         said: str) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    stack.simulator.add_fault(Fault(route="restart", times=1, deployment_id=dep, **fault))
    obj = stack.run(ns, "lost", spec(dep, retry=FAST, connection=own_connection(stack, ns)))
    assert status_of(obj)[:2] == ("Succeeded", "RestartAccepted")
    assert said in obj["status"]["message"] and "so it accepted the restart" in obj["status"]["message"]
    assert len(stack.restart_calls(dep)) == 1 and stack.simulator.accepted_restarts(dep) == 1


def test_read_timeout_is_never_answered_with_a_second_request(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    slow = stack.simulator.add_fault(Fault(route="restart", latency=READ_TIMEOUT + 2.0, times=1, deployment_id=dep))
    obj = stack.run(ns, "timeout", spec(dep, retry=FAST, connection=own_connection(stack, ns)))
    # ECE still held the request when the operator stopped reading the plans (the read timeout's length after
    # giving up): the documented Unknown, never a resend.
    assert status_of(obj)[:2] == ("Unknown", "OutcomeUnknown")
    assert "no answer arrived within the read timeout" in obj["status"]["message"]
    assert f"nor {READ_TIMEOUT:g} s later" in obj["status"]["message"]
    assert slow.used == 1
    wait_for(lambda: stack.simulator.accepted_restarts(dep) == 1, "ECE to finish the held request")
    stack.run(ns, "marker", spec(stack.new_deployment()))  # later work done: nothing more was sent for `dep`
    assert len(stack.restart_calls(dep)) == 1


def test_slow_answer_within_the_read_timeout_succeeds(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    stack.simulator.add_fault(Fault(route="restart", latency=READ_TIMEOUT / 2, times=1, deployment_id=dep))
    obj = stack.run(ns, "slow", spec(dep, retry=FAST, connection=own_connection(stack, ns)))
    assert status_of(obj) == ("Succeeded", "RestartAccepted", 202, None, 1)
    assert len(stack.restart_calls(dep)) == 1


def test_dns_failure_is_retried_then_reported(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    url = "https://ece-restart-operator-test.invalid:12443"  # RFC 2606: never resolves
    retry = {"maxAttempts": 2, "initialDelaySeconds": 0, "maxDelaySeconds": 1}
    obj = stack.run(ns, "dns", spec(dep, retry=retry, connection=own_connection(stack, ns, url)))
    assert status_of(obj) == ("Failed", "ConnectionFailed", None, None, 2)
    assert f"could not connect to {url}" in obj["status"]["message"]
    assert stack.restart_calls(dep) == []


def test_tls_certificate_for_another_host_fails_permanently(stack: Stack, tmp_path: Path) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("ece.example.test").configure_cert(server_context)  # not 127.0.0.1
    other = Simulator(state=SimulatorState(), api_keys={API_KEY}, users=USERS)
    dep = "abcdefabcdefabcdefabcdefabcdef02"
    other.state.add_deployment(dep, "tls", resources=[{"kind": "kibana", "ref_id": "main-kibana"}])
    ns = stack.new_namespace()
    with other.serving_in_thread(port=0, ssl_context=server_context) as url:
        connection = own_connection(stack, ns, url, **{"ca.crt": ca.cert_pem.bytes().decode()})
        obj = stack.run(ns, "tls", spec(dep, retry=FAST, connection=connection))
    assert status_of(obj) == ("Failed", "TLSVerificationFailed", None, None, 1)
    assert "mismatch" in obj["status"]["message"] and "ca.crt" in obj["status"]["message"]
    assert other.calls == [] and other.accepted_restarts(dep) == 0


# ---------------------------------------------------------------------------------------------------- Kubernetes API
@pytest.mark.parametrize("abrupt", [False, True])
def test_watch_stream_drop(stack: Stack, abrupt: bool) -> None:
    ns = stack.new_namespace()
    before = stack.run(ns, "before", spec(before_dep := stack.new_deployment()))
    assert stack.sandbox.faults.drop_watches(abrupt=abrupt) >= 1
    after = stack.run(ns, "after", spec(dep := stack.new_deployment()))
    assert status_of(after) == ("Succeeded", "RestartAccepted", 202, None, 1)
    assert before["status"]["phase"] == "Succeeded"
    assert len(stack.restart_calls(dep)) == 1 and len(stack.restart_calls(before_dep)) == 1


def test_410_gone_relists_and_never_reruns_finished_crs(stack: Stack) -> None:
    ns = stack.new_namespace()
    stack.run(ns, "old", spec(old := stack.new_deployment()))

    def lists() -> int:
        return sum(1 for r in stack.sandbox.requests if r.resource == "resourcerestarts" and r.verb == "list")

    before = lists()
    stack.sandbox.compact()  # the operator's resourceVersion is gone: its next watch gets 410 Expired
    stack.sandbox.faults.drop_watches()
    wait_for(lambda: lists() > before, "the operator to list again after 410 Gone")
    obj = stack.run(ns, "new", spec(dep := stack.new_deployment()))
    assert status_of(obj) == ("Succeeded", "RestartAccepted", 202, None, 1)
    assert len(stack.restart_calls(dep)) == 1 and len(stack.restart_calls(old)) == 1


@pytest.mark.parametrize(("status", "times"), [(409, 1), (503, 2)], ids=["409-re-read", "503-retried"])
def test_a_refused_intent_write_is_tried_again_and_restarts_once(stack: Stack, status: int, times: int) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    rule = stack.sandbox.faults.fail_next(times, status=status, verb="patch", resource="resourcerestarts",
                                          subresource="status", namespace=ns)
    obj = stack.run(ns, f"refused-{status}", spec(dep))
    assert rule.remaining == 0
    assert status_of(obj) == ("Succeeded", "RestartAccepted", 202, None, 1)
    assert len(stack.restart_calls(dep)) == 1


def test_409_on_the_result_write_is_settled_from_plan_info(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    held = stack.simulator.add_fault(Fault(route="restart", latency=1.0, times=1, deployment_id=dep))
    assert stack.kube.create_restart(ns, "conflict2", spec(dep)).status_code == 201
    wait_for(lambda: held.used == 1, "the restart request to reach ECE")
    rule = stack.sandbox.faults.fail_next(1, status=409, verb="patch", resource="resourcerestarts",
                                          subresource="status", namespace=ns, name="conflict2")
    obj = stack.kube.wait_terminal(ns, "conflict2")
    assert rule.remaining == 0
    assert status_of(obj)[:2] == ("Succeeded", "RestartAccepted")
    assert len(stack.restart_calls(dep)) == 1 and stack.simulator.accepted_restarts(dep) == 1


def test_api_server_briefly_unreachable(stack: Stack) -> None:
    ns, dep = stack.new_namespace(), stack.new_deployment()
    held = stack.simulator.add_fault(Fault(route="restart", latency=1.0, times=1, deployment_id=dep))
    assert stack.kube.create_restart(ns, "offline", spec(dep)).status_code == 201
    wait_for(lambda: held.used == 1, "the restart request to reach ECE")
    log_before = stack.operator.log().count("writing status failed")
    stack.sandbox.faults.refuse()
    try:
        # Created while the API server refuses clients (in-process, as another client would have done before).
        dep2 = stack.new_deployment()
        stack.sandbox.create({"apiVersion": "eceops.io/v1alpha1", "kind": "ResourceRestart",
                              "metadata": {"name": "during", "namespace": ns}, "spec": spec(dep2)})
        wait_for(lambda: stack.operator.log().count("writing status failed") > log_before,
                 "the operator to fail writing the result")
    finally:
        stack.sandbox.faults.accept()
    obj = stack.kube.wait_terminal(ns, "offline", timeout=60)
    assert status_of(obj) == ("Succeeded", "RestartAccepted", 202, None, 1)
    during = stack.kube.wait_terminal(ns, "during", timeout=60)
    assert status_of(during) == ("Succeeded", "RestartAccepted", 202, None, 1)
    assert len(stack.restart_calls(dep)) == 1 and len(stack.restart_calls(dep2)) == 1
