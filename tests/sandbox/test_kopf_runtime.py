"""The real Kopf runtime against the sandbox: discovery, list+watch, finalizers via JSON patch with `test`,
status via /status, events; each handler runs exactly once per CR, across operator restarts too.

Kopf runs in its own thread and loop (KopfRunner), never in the sandbox's loop: stopping Kopf cancels every task
of its loop, which would include the server's connection tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kopf.testing import KopfRunner

from ece_restart.sandbox import Sandbox
from tests.sandbox import kopf_operator
from tests.support.sandbox_fixtures import resource_restart, wait_until

ARGS = ["run", "--standalone", "--all-namespaces", "-m", "tests.sandbox.kopf_operator"]


@contextmanager
def operator(sandbox: Sandbox, scope: str = "--all-namespaces") -> Iterator[KopfRunner]:
    """Run the test operator until the block ends; ready once it watches resourcerestarts."""
    sandbox.clear_requests()
    args = [arg if arg != "--all-namespaces" else scope for arg in ARGS]
    with KopfRunner(args, registry=kopf_operator.registry, timeout=60) as runner:
        wait_until(
            lambda: any(r.verb == "watch" and r.resource == "resourcerestarts" and r.user_agent.startswith("kopf")
                        for r in sandbox.requests),
            timeout=30, what="Kopf to watch resourcerestarts",
        )
        yield runner
    assert runner.exit_code == 0, runner.output


def _phase(sandbox: Sandbox, name: str, namespace: str = "default") -> str | None:
    obj = sandbox.get("resourcerestarts", name, namespace=namespace)
    return None if obj is None else obj.get("status", {}).get("phase")


def _status_patches(sandbox: Sandbox, name: str) -> int:
    return sum(1 for r in sandbox.requests if r.verb == "patch" and r.subresource == "status" and r.name == name)


@pytest.mark.slow
def test_kopf_handles_every_cr_exactly_once_across_restarts(
    threaded_sandbox: Sandbox, sandbox_kubeconfig: Path
) -> None:
    sandbox = threaded_sandbox
    kopf_operator.reset()
    sandbox.create(resource_restart("early"))  # exists before the operator starts

    with operator(sandbox):
        sandbox.create(resource_restart("late"))
        for name in ("early", "late"):
            wait_until(lambda name=name: _phase(sandbox, name) == "Succeeded", what=f"{name} handled")
        wait_until(lambda: len(sandbox.list("events", namespace="default")) >= 2, what="events posted")
        first_run_requests = sandbox.requests
    finalizers = sandbox.get("resourcerestarts", "late", namespace="default")["metadata"]["finalizers"]
    assert finalizers == ["kopf.zalando.org/KopfFinalizerMarker"]
    assert {r.subresource for r in first_run_requests if r.verb == "patch"} == {None, "status"}
    assert all(r.status_code < 400 for r in first_run_requests), [
        (r.method, r.path, r.status_code) for r in first_run_requests if r.status_code >= 400
    ]
    reasons = {(e["involvedObject"]["name"], e["reason"]) for e in sandbox.list("events", namespace="default")}
    assert {("early", "Restarted"), ("late", "Restarted")} <= reasons

    sandbox.create(resource_restart("while-down"))  # created while no operator runs
    with operator(sandbox):
        wait_until(lambda: _phase(sandbox, "while-down") == "Succeeded", what="while-down handled")
        assert _status_patches(sandbox, "early") == 0 and _status_patches(sandbox, "late") == 0
        sandbox.delete("resourcerestarts", "late", namespace="default")
        wait_until(lambda: sandbox.get("resourcerestarts", "late", namespace="default") is None,
                   what="late deleted after Kopf removed its finalizer")

    assert dict(kopf_operator.created) == {"default/early": 1, "default/late": 1, "default/while-down": 1}
    assert dict(kopf_operator.deleted) == {"default/late": 1}
    for name in ("early", "while-down"):
        assert sandbox.get("resourcerestarts", name, namespace="default")["status"]["attempts"] == 1


@pytest.mark.slow
def test_namespace_glob_operator_survives_dropped_watches(threaded_sandbox: Sandbox, sandbox_kubeconfig: Path) -> None:
    """A namespaced operator (`--namespace=team-*`) observes namespaces, and reconnects after watches are cut."""
    sandbox = threaded_sandbox
    kopf_operator.reset()
    sandbox.create_namespace("team-a")
    sandbox.create(resource_restart("outside"), namespace="default")
    with operator(sandbox, scope="--namespace=team-*"):
        assert any(r.verb in ("list", "watch") and r.resource == "namespaces" for r in sandbox.requests)
        sandbox.create(resource_restart("first"), namespace="team-a")
        wait_until(lambda: _phase(sandbox, "first", "team-a") == "Succeeded", what="first handled")
        watches = sum(1 for r in sandbox.requests if r.verb == "watch" and r.resource == "resourcerestarts")
        assert sandbox.faults.drop_watches(abrupt=True) >= 1
        wait_until(lambda: sum(1 for r in sandbox.requests if r.verb == "watch" and r.resource == "resourcerestarts")
                   > watches, what="Kopf to watch again")
        sandbox.create_namespace("team-b")  # a namespace appearing later is picked up too
        sandbox.create(resource_restart("second"), namespace="team-b")
        wait_until(lambda: _phase(sandbox, "second", "team-b") == "Succeeded", what="second handled")
    assert dict(kopf_operator.created) == {"team-a/first": 1, "team-b/second": 1}
    assert _phase(sandbox, "outside") is None
