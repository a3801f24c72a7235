"""ResourceRestart objects in every phase, with statuses produced by the operator's own builders (ece_restart.status).

Each scenario starts from a fresh CR and applies the status patches the controller writes, in the controller's order,
with JSON merge-patch semantics (a None value removes the field), exactly as the status subresource would store them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ece_restart import status
from ece_restart.resource_restart import Phase, from_body
from ece_restart.results import Classification, Outcome, RequestFailed

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
SPEC = {"deploymentId": "0123456789abcdef0123456789abcdef", "resourceKind": "kibana", "refId": "main-kibana",
        "restartToken": "t1"}
SERVER_ERROR = RequestFailed(Classification.RETRYABLE, "HTTP 503 Service Unavailable", http_status=503,
                             outcome=Outcome.SERVER_ERROR)


def new_object(generation: int = 1) -> dict[str, Any]:
    return {"apiVersion": "eceops.io/v1alpha1", "kind": "ResourceRestart",
            "metadata": {"namespace": "ns", "name": "rr", "uid": "u1", "generation": generation,
                         "resourceVersion": "1"},
            "spec": dict(SPEC)}


def merge_status(obj: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """The object after a JSON merge patch of its status (None deletes), as the API server stores it."""
    result = copy.deepcopy(dict(obj))
    current: dict[str, Any] = dict(result.get("status") or {})
    for key, value in patch.items():
        if value is None:
            current.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(current.get(key), Mapping):
            merged = dict(current[key])
            merged.update({k: v for k, v in value.items() if v is not None})
            current[key] = merged
        else:
            current[key] = copy.deepcopy(value)
    result["status"] = current
    version = int(result["metadata"]["resourceVersion"]) + 1
    result["metadata"]["resourceVersion"] = str(version)
    return result


Step = Callable[[dict[str, Any]], dict[str, Any]]


def _apply(obj: dict[str, Any], *steps: Step) -> dict[str, Any]:
    for step in steps:
        obj = merge_status(obj, step(obj))
    return obj


def _intent(attempt: int = 1) -> Step:
    return lambda obj: status.attempt_intent(from_body(obj), token="t1", attempt=attempt, max_attempts=3,
                                             now=NOW + timedelta(seconds=attempt))


def _retry(obj: dict[str, Any]) -> dict[str, Any]:
    return status.retry_scheduled(from_body(obj), SERVER_ERROR, next_attempt=NOW + timedelta(seconds=30),
                                  attempt=from_body(obj).status.attempts, now=NOW + timedelta(seconds=2))


def _tracking(obj: dict[str, Any]) -> dict[str, Any]:
    return status.tracking_started(from_body(obj), http_status=202, plan=None, now=NOW + timedelta(seconds=3),
                                   message="ECE accepted the restart; following its plan", attempts=1)


def _finish(phase: Phase, outcome: Outcome, message: str, **extra: Any) -> Step:
    return lambda obj: status.finished(from_body(obj), phase=phase, outcome=outcome, message=message,
                                       now=NOW + timedelta(seconds=60), **extra)


def _pending(obj: dict[str, Any]) -> dict[str, Any]:
    return status.pending(from_body(obj), message="Waiting to record restartToken 't1' in the ledger", now=NOW)


@dataclass(frozen=True)
class Scenario:
    name: str
    phase: Phase
    obj: dict[str, Any]


def scenarios() -> list[Scenario]:
    """At least one object per Phase member, built fresh each call."""
    fresh = new_object
    items = [
        Scenario("pending", Phase.PENDING, _apply(fresh(), _pending)),
        Scenario("requesting", Phase.REQUESTING, _apply(fresh(), _intent())),
        Scenario("retrying", Phase.RETRYING, _apply(fresh(), _intent(), _retry)),
        Scenario("retrying-second-attempt", Phase.RETRYING, _apply(fresh(), _intent(), _retry, _intent(2), _retry)),
        Scenario("in-progress", Phase.IN_PROGRESS, _apply(fresh(), _intent(), _tracking)),
        Scenario("succeeded-accepted", Phase.SUCCEEDED, _apply(
            fresh(), _intent(), _finish(Phase.SUCCEEDED, Outcome.RESTART_ACCEPTED, "ECE accepted the restart",
                                        http_status=202, attempts=1))),
        Scenario("succeeded-completed", Phase.SUCCEEDED, _apply(
            fresh(), _intent(), _tracking,
            _finish(Phase.SUCCEEDED, Outcome.RESTART_COMPLETED, "ECE completed the restart plan",
                    plan={"attemptId": "a-1", "lastStep": "plan-completed"}))),
        Scenario("succeeded-already-executed", Phase.SUCCEEDED, _apply(
            fresh(), _finish(Phase.SUCCEEDED, Outcome.ALREADY_EXECUTED,
                             "Token t1 already ran against this target (ResourceRestart ns/old)"))),
        Scenario("failed-not-found", Phase.FAILED, _apply(
            fresh(), _intent(), _finish(Phase.FAILED, Outcome.DEPLOYMENT_NOT_FOUND, "HTTP 404 Not Found",
                                        http_status=404, error_code="deployments.deployment_not_found",
                                        attempts=1))),
        Scenario("failed-retries-exhausted", Phase.FAILED, _apply(
            fresh(), _intent(), _retry, _intent(2), _retry, _intent(3),
            _finish(Phase.FAILED, Outcome.RETRIES_EXHAUSTED, "Gave up after 3 attempts", http_status=503,
                    attempts=3))),
        Scenario("failed-plan", Phase.FAILED, _apply(
            fresh(), _intent(), _tracking, _finish(Phase.FAILED, Outcome.PLAN_FAILED, "ECE's restart plan failed",
                                                   plan={"attemptId": "a-1", "failureType": "ClusterFailure"}))),
        Scenario("failed-completion-timeout", Phase.FAILED, _apply(
            fresh(), _intent(), _tracking,
            _finish(Phase.FAILED, Outcome.COMPLETION_TIMEOUT, "The restart plan did not finish within 1800 s"))),
        Scenario("unknown", Phase.UNKNOWN, _apply(
            fresh(), _intent(), _finish(Phase.UNKNOWN, Outcome.OUTCOME_UNKNOWN,
                                        "No answer; set a new spec.restartToken to try again"))),
    ]
    for item in items:
        assert item.obj["status"]["phase"] == item.phase.value, item.name
    return items


def condition_status(obj: Mapping[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj["status"]["conditions"]}


def token_changed_mid_run() -> dict[str, Any]:
    """With waitForCompletion, token t1's plan is being followed (InProgress) when the user commits t2; then t1's plan
    completes. The plan tracker writes the end from the re-read object (generation 2, activeToken t1)."""
    obj = _apply(new_object(), _intent(), _tracking)
    obj["spec"]["restartToken"] = "t2"
    obj["metadata"]["generation"] = 2
    return _apply(obj, _finish(Phase.SUCCEEDED, Outcome.RESTART_COMPLETED, "ECE completed the restart plan",
                               plan={"attemptId": "a-1", "lastStep": "plan-completed"}))
