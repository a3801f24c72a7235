"""The shipped Argo CD health check (charts/ece-restart-operator/argocd/health.lua), run with Lua 5.1.

Statuses come from two places: the real operator process in the e2e stack (captured here, in this run, so they are
never stale) and the status builders for every phase (tests/gitops/phases.py).
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from ece_restart.resource_restart import Phase
from ece_restart.simulator import Fault
from tests.e2e.conftest import Stack
from tests.gitops.lua_health import HEALTH_LUA, ROOT, health
from tests.gitops.phases import Scenario, new_object, scenarios, token_changed_mid_run

FAST_RETRY = {"maxAttempts": 3, "initialDelaySeconds": 0, "maxDelaySeconds": 1}
# A 503 with Retry-After: 3600 and maxDelaySeconds 3600 makes the wait exactly an hour: the CR stays Retrying.
SLOW_RETRY = {"maxAttempts": 5, "initialDelaySeconds": 3600, "maxDelaySeconds": 3600}
EXPECTED_HEALTH = {
    Phase.PENDING: "Progressing",
    Phase.REQUESTING: "Progressing",
    Phase.RETRYING: "Progressing",
    Phase.IN_PROGRESS: "Progressing",
    Phase.SUCCEEDED: "Healthy",
    Phase.FAILED: "Degraded",
    Phase.UNKNOWN: "Degraded",
}


def _spec(deployment_id: str, **extra: Any) -> dict[str, Any]:
    return {"deploymentId": deployment_id, "resourceKind": "kibana", "refId": "main-kibana", **extra}


def _phase_is(*phases: str) -> Any:
    return lambda obj: obj.get("status", {}).get("phase") in phases


@pytest.fixture(scope="module")
def captured(stack: Stack) -> dict[str, dict[str, Any]]:
    """Objects as the real operator left them, one per situation, keyed by situation."""
    namespace = f"argo-{secrets.token_hex(3)}"
    stack.kube.create_namespace(namespace)

    ok = stack.new_deployment("kibana")
    retried = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", status=500, times=None, deployment_id=retried))
    reset = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", reset=True, times=1, deployment_id=reset))
    waiting = stack.new_deployment("kibana")
    stack.simulator.add_fault(Fault(route="restart", status=503, retry_after=3600, times=None,
                                    deployment_id=waiting))
    slow_plan = stack.new_deployment("kibana", plan_seconds=600)
    quick_plan = stack.new_deployment("kibana", plan_seconds=0.5)

    wanted: dict[str, tuple[dict[str, Any], Any]] = {
        "succeeded": (_spec(ok, restartToken="t1"), _phase_is("Succeeded", "Failed", "Unknown")),
        "not-found": (_spec("ffffffffffffffffffffffffffffffff"), _phase_is("Succeeded", "Failed", "Unknown")),
        "retries-exhausted": (_spec(retried, retry=FAST_RETRY), _phase_is("Succeeded", "Failed", "Unknown")),
        "unknown": (_spec(reset, retry=FAST_RETRY), _phase_is("Succeeded", "Failed", "Unknown")),
        "retrying": (_spec(waiting, retry=SLOW_RETRY), _phase_is("Retrying", "Succeeded", "Failed", "Unknown")),
        "in-progress": (_spec(slow_plan, waitForCompletion=True),
                        _phase_is("InProgress", "Succeeded", "Failed", "Unknown")),
        "completed": (_spec(quick_plan, waitForCompletion=True), _phase_is("Succeeded", "Failed", "Unknown")),
    }
    for name, (spec, _) in wanted.items():
        response = stack.kube.create_restart(namespace, name, spec)
        assert response.status_code == 201, response.text
    captured = {name: stack.kube.wait_for_restart(namespace, name, done, timeout=60)
                for name, (_, done) in wanted.items()}
    captured["already-executed"] = _recreated(stack, namespace)
    return captured


def _recreated(stack: Stack, namespace: str) -> dict[str, Any]:
    """What Argo CD or Flux sees after re-creating a deleted CR whose token already ran: the ledger's answer."""
    deployment = stack.new_deployment("kibana")
    spec = _spec(deployment, restartToken="gitops-1")
    assert stack.kube.create_restart(namespace, "recreated", spec).status_code == 201
    first = stack.kube.wait_terminal(namespace, "recreated", timeout=60)
    assert first["status"]["outcome"] == "RestartAccepted", first["status"]
    assert stack.kube.delete_restart(namespace, "recreated").status_code in (200, 202)
    deadline = time.monotonic() + 30
    while stack.kube.get_restart(namespace, "recreated") is not None:
        assert time.monotonic() < deadline, "the deleted ResourceRestart did not go away"
        time.sleep(0.05)
    assert stack.kube.create_restart(namespace, "recreated", spec).status_code == 201
    second = stack.kube.wait_for_restart(
        namespace, "recreated", lambda o: o.get("metadata", {}).get("uid") != first["metadata"]["uid"]
        and o.get("status", {}).get("phase") in ("Succeeded", "Failed", "Unknown"), timeout=60)
    assert stack.simulator.accepted_restarts(deployment, "kibana", "main-kibana") == 1
    assert f"ResourceRestart {namespace}/recreated (uid {first['metadata']['uid']})" in second["status"]["message"]
    return second


@pytest.mark.parametrize(
    ("situation", "phase", "outcome", "argo"),
    [
        ("succeeded", "Succeeded", "RestartAccepted", "Healthy"),
        ("completed", "Succeeded", "RestartCompleted", "Healthy"),
        ("not-found", "Failed", "DeploymentNotFound", "Degraded"),
        ("retries-exhausted", "Failed", "RetriesExhausted", "Degraded"),
        ("unknown", "Unknown", "OutcomeUnknown", "Degraded"),
        ("retrying", "Retrying", "ServerError", "Progressing"),
        ("in-progress", "InProgress", "RestartAccepted", "Progressing"),
        ("already-executed", "Succeeded", "AlreadyExecuted", "Healthy"),
    ],
)
def test_real_operator_statuses(captured: dict[str, dict[str, Any]], situation: str, phase: str, outcome: str,
                                argo: str) -> None:
    obj = captured[situation]
    status = obj["status"]
    assert (status["phase"], status.get("outcome")) == (phase, outcome), status
    result = health(obj)
    assert result.status == argo, (result, status)
    label = outcome if argo != "Progressing" else phase
    assert result.message == f"{label}: {status['message']}"


def test_real_statuses_become_progressing_again_when_the_token_changes(captured: dict[str, dict[str, Any]]) -> None:
    """Right after a commit bumps restartToken, the old terminal status must not count as the new run's health."""
    for situation in ("succeeded", "not-found", "unknown"):
        obj = copy.deepcopy(captured[situation])
        obj["metadata"]["generation"] += 1
        result = health(obj)
        assert result.status == "Progressing", (situation, result)
        assert "generation" in result.message


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s.name)
def test_builder_statuses_of_every_phase(scenario: Scenario) -> None:
    result = health(scenario.obj)
    assert result.status == EXPECTED_HEALTH[scenario.phase], result
    assert scenario.obj["status"]["message"] in result.message


def test_every_phase_is_covered() -> None:
    assert set(EXPECTED_HEALTH) == set(Phase)


def test_no_status_is_progressing() -> None:
    assert health(new_object()) == health(new_object()) and health(new_object()).status == "Progressing"
    obj = new_object()
    obj["status"] = {}  # an empty status (a status patch that only removed fields)
    assert health(obj).status == "Progressing"
    del obj["metadata"]["generation"]  # no generation at all: nothing to compare, still no phase
    assert health(obj).status == "Progressing"


def test_phase_this_script_does_not_know_follows_the_conditions() -> None:
    base = new_object()

    def with_conditions(*pairs: tuple[str, str]) -> dict[str, Any]:
        obj = copy.deepcopy(base)
        obj["status"] = {"phase": "Cancelled", "observedGeneration": 1, "message": "m",
                         "conditions": [{"type": t, "status": s, "reason": "Why", "message": "because"}
                                        for t, s in pairs]}
        return obj

    assert health(with_conditions(("Stalled", "True"), ("Ready", "False"))).status == "Degraded"
    assert health(with_conditions(("Stalled", "False"), ("Ready", "True"))).status == "Healthy"
    assert health(with_conditions(("Reconciling", "True"), ("Ready", "False"))).status == "Progressing"


def test_readme_installs_exactly_the_shipped_script() -> None:
    """The argocd-cm snippet in the README is the script, byte for byte (after YAML block decoding)."""
    readme = (HEALTH_LUA.parent / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    documents = [yaml.safe_load(block) for block in blocks]
    config_maps = [d for d in documents if isinstance(d, Mapping) and d.get("kind") == "ConfigMap"]
    assert config_maps, "README.md has no argocd-cm ConfigMap snippet"
    for config_map in config_maps:
        assert config_map["metadata"]["name"] == "argocd-cm"
        script = config_map["data"]["resource.customizations.health.eceops.io_ResourceRestart"]
        assert script == HEALTH_LUA.read_text()


def test_readme_is_linked_from_the_gitops_guide() -> None:
    assert "../charts/ece-restart-operator/argocd/README.md" in (ROOT / "docs" / "gitops.md").read_text()


def test_the_end_of_an_earlier_tokens_run_is_not_the_new_tokens_health() -> None:
    obj = token_changed_mid_run()
    assert (obj["status"]["lastHandledToken"], obj["spec"]["restartToken"]) == ("t1", "t2")
    assert health(obj).status == "Progressing"
    # The check does not depend on observedGeneration alone: a status that claims the new generation (as operators
    # before the fix of status.finished wrote it) is still not the new token's result.
    obj["status"]["observedGeneration"] = obj["metadata"]["generation"]
    result = health(obj)
    assert result.status == "Progressing", result
    assert "'t2'" in result.message and "'t1'" in result.message
    obj["spec"]["restartToken"] = "t1"  # the same status with matching tokens is the finished run
    assert health(obj).status == "Healthy"
    del obj["spec"]["restartToken"]  # no token at all: lastHandledToken "" is the match
    obj["status"]["lastHandledToken"] = ""
    assert health(obj).status == "Healthy"
