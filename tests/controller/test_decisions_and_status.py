"""The status state machine without Kopf: what to do next, and what each transition writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ece_restart.conditions import merge_conditions, succeeded
from ece_restart.decisions import Step, decide
from ece_restart.resource_restart import InvalidSpecError, Phase, from_body, parse_spec
from ece_restart.results import Classification, Outcome, RequestFailed
from ece_restart.status import attempt_intent, finished, retry_scheduled

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
SPEC = {"deploymentId": "0123456789abcdef0123456789abcdef", "resourceKind": "kibana", "refId": "main-kibana"}


def body(status: dict[str, Any] | None = None, token: str | None = None, generation: int = 1) -> dict[str, Any]:
    spec = dict(SPEC)
    if token is not None:
        spec["restartToken"] = token
    obj: dict[str, Any] = {"metadata": {"namespace": "ns", "name": "rr", "uid": "u1", "generation": generation,
                                        "resourceVersion": "7"}, "spec": spec}
    if status is not None:
        obj["status"] = status
    return obj


@pytest.mark.parametrize(
    ("status", "token", "step"),
    [
        (None, None, Step.START),
        ({}, None, Step.START),
        ({"phase": "Pending"}, None, Step.START),
        ({"phase": "Requesting", "attempts": 1}, None, Step.RECOVER),
        ({"phase": "Retrying", "attempts": 2, "nextAttemptTime": "2026-11-30T12:00:05Z"}, None, Step.RETRY),
        ({"phase": "Succeeded", "lastHandledToken": ""}, None, Step.NOTHING),
        ({"phase": "Failed", "lastHandledToken": "a"}, "a", Step.NOTHING),
        ({"phase": "Unknown", "lastHandledToken": "a"}, "a", Step.NOTHING),
        ({"phase": "Succeeded", "lastHandledToken": "a"}, "b", Step.START),
        ({"phase": "Failed", "lastHandledToken": ""}, "b", Step.START),
    ],
)
def test_the_next_step_follows_from_status_and_token(status: dict[str, Any] | None, token: str | None,
                                                     step: Step) -> None:
    assert decide(from_body(body(status, token))).step is step


def test_retry_waits_for_the_recorded_time() -> None:
    decision = decide(from_body(body({"phase": "Retrying", "nextAttemptTime": "2026-11-30T12:00:05Z"})))
    assert decision.not_before == NOW + timedelta(seconds=5)


def test_intent_then_success_writes_a_terminal_status_with_kstatus_conditions() -> None:
    cr = from_body(body(token="t1", generation=3))
    intent = attempt_intent(cr, token="t1", attempt=1, max_attempts=5, now=NOW)
    assert intent["phase"] == "Requesting" and intent["attempts"] == 1 and intent["activeToken"] == "t1"
    assert {c["type"]: c["status"] for c in intent["conditions"]} == {
        "Succeeded": "Unknown", "Ready": "False", "Reconciling": "True", "Stalled": "False"}
    running = from_body({**body(token="t1", generation=3), "status": intent})
    done = finished(running, phase=Phase.SUCCEEDED, outcome=Outcome.RESTART_ACCEPTED, message="ok",
                    now=NOW + timedelta(seconds=1), http_status=202, attempts=1)
    assert done["lastHandledToken"] == "t1" and done["activeToken"] is None and done["observedGeneration"] == 3
    assert done["completionTime"] == "2026-11-30T12:00:01Z"
    assert {c["type"]: c["status"] for c in done["conditions"]} == {
        "Succeeded": "True", "Ready": "True", "Reconciling": "False", "Stalled": "False"}
    assert all(c["observedGeneration"] == 3 for c in done["conditions"])


def test_a_permanent_failure_is_stalled_not_an_endless_in_progress() -> None:
    cr = from_body(body({"phase": "Requesting", "activeToken": "", "attempts": 1}))
    done = finished(cr, phase=Phase.FAILED, outcome=Outcome.DEPLOYMENT_NOT_FOUND, message="gone", now=NOW,
                    http_status=404, error_code="deployments.deployment_not_found")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in done["conditions"]}
    assert conditions["Stalled"] == ("True", "DeploymentNotFound")
    assert conditions["Succeeded"] == ("False", "DeploymentNotFound")
    assert conditions["Reconciling"][0] == "False"


def test_retry_schedule_is_visible_in_status() -> None:
    cr = from_body(body({"phase": "Requesting", "attempts": 1}))
    failure = RequestFailed(Classification.RETRYABLE, "HTTP 500", http_status=500,
                            error_codes=("deployments.deployment_resource_no_longer_exists",),
                            outcome=Outcome.RESOURCE_GONE)
    patch = retry_scheduled(cr, failure, next_attempt=NOW + timedelta(seconds=4), attempt=1, now=NOW)
    assert patch["phase"] == "Retrying" and patch["nextAttemptTime"] == "2026-11-30T12:00:04Z"
    assert patch["httpStatus"] == 500 and patch["errorCode"] == "deployments.deployment_resource_no_longer_exists"


def test_condition_transition_time_is_kept_while_status_holds() -> None:
    first = merge_conditions(None, succeeded("A", "m"), generation=1, now="2026-01-01T00:00:00Z")
    again = merge_conditions(first, succeeded("A", "m2"), generation=2, now="2026-02-02T00:00:00Z")
    assert {c["lastTransitionTime"] for c in again} == {"2026-01-01T00:00:00Z"}
    assert {c["observedGeneration"] for c in again} == {2}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**SPEC, "deploymentId": "XYZ"}, "32 lowercase hexadecimal"),
        ({**SPEC, "resourceKind": "logstash"}, "expected one of"),
        ({**SPEC, "elasticsearch": {"skipSnapshot": True}}, "only allowed when resourceKind is elasticsearch"),
        ({**SPEC, "retry": {"maxAttempts": 0}}, "spec.retry"),
        ({k: v for k, v in SPEC.items() if k != "refId"}, "spec.refId is required"),
    ],
)
def test_a_spec_the_schema_should_have_refused_is_still_reported_clearly(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        parse_spec(spec)
