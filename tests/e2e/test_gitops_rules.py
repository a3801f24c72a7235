"""GitOps re-runs: the ledger survives CR deletion, and ttlSecondsAfterFinished cleans up imperative CRs."""

from __future__ import annotations

import time

from tests.e2e.conftest import Stack
from tests.support.kube_http import spec
from tests.support.operator_process import LEDGER_NAMESPACE


def test_recreated_cr_with_a_token_that_ran_is_already_executed(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=0)
    body = spec(deployment, restartToken="release-42")
    first = stack.run(namespace, "gitops", body)
    assert first["status"]["outcome"] == "RestartAccepted"
    assert stack.kube.delete_restart(namespace, "gitops").status_code == 200
    deadline = time.monotonic() + 10
    while stack.kube.get_restart(namespace, "gitops") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    again = stack.run(namespace, "gitops", body)
    status = again["status"]
    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    assert (status["phase"], status["outcome"]) == ("Succeeded", "AlreadyExecuted")
    assert first["metadata"]["uid"] in status["message"] and "release-42" in status["message"]
    assert len(stack.restart_calls(deployment)) == 1
    # The same token under another name in another namespace is the same request, too.
    other = f"{namespace}-b"
    stack.kube.create_namespace(other)
    assert stack.run(other, "copy", body)["status"]["outcome"] == "AlreadyExecuted"
    # A new token runs.
    assert stack.run(namespace, "next", spec(deployment, restartToken="release-43"))["status"]["outcome"] == (
        "RestartAccepted")
    assert len(stack.restart_calls(deployment)) == 2
    ledgers = stack.kube.http.get(f"/api/v1/namespaces/{LEDGER_NAMESPACE}/configmaps").json()["items"]
    assert ledgers and all(cm["metadata"]["name"].startswith("ece-restart-ledger-") for cm in ledgers)


def test_crs_without_a_token_are_not_deduplicated(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana", plan_seconds=0)
    assert stack.run(namespace, "one", spec(deployment))["status"]["outcome"] == "RestartAccepted"
    assert stack.run(namespace, "two", spec(deployment))["status"]["outcome"] == "RestartAccepted"
    assert len(stack.restart_calls(deployment)) == 2


def test_ttl_deletes_a_finished_cr(stack: Stack, namespace: str) -> None:
    deployment = stack.new_deployment("kibana")
    # completionTime has one-second resolution, so the deletion may come up to a second early.
    done = stack.run(namespace, "shortlived", spec(deployment, ttlSecondsAfterFinished=3))
    assert done["status"]["phase"] == "Succeeded"
    deadline = time.monotonic() + 15
    while stack.kube.get_restart(namespace, "shortlived") is not None:
        assert time.monotonic() < deadline, "the CR was not deleted after its TTL:\n" + stack.operator.log()[-4000:]
        time.sleep(0.1)
    kept = stack.run(namespace, "kept", spec(stack.new_deployment("kibana")))
    assert "ttlSecondsAfterFinished" not in kept["spec"]
