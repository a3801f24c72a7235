"""Status patches for each transition of a run. Pure: the caller writes them to the status subresource."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ece_restart import conditions
from ece_restart.resource_restart import Phase, ResourceRestart
from ece_restart.results import Outcome, RequestFailed


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_conditions(
    cr: ResourceRestart, now: datetime, patch: dict[str, Any], wanted: list[conditions.Condition],
    *, generation: int | None = None,
) -> dict[str, Any]:
    previous = cr.status.raw.get("conditions")
    observed = cr.generation if generation is None else generation
    patch["observedGeneration"] = observed
    patch["conditions"] = conditions.merge_conditions(
        previous if isinstance(previous, list) else None, wanted, generation=observed, now=timestamp(now)
    )
    return patch


def attempt_intent(
    cr: ResourceRestart, *, token: str, attempt: int, max_attempts: int, now: datetime
) -> dict[str, Any]:
    """Written, with a resourceVersion precondition, before a restart request leaves the operator."""
    message = f"Sending restart request {attempt} of at most {max_attempts}"
    patch: dict[str, Any] = {
        "phase": Phase.REQUESTING.value,
        "activeToken": token,
        "attempts": attempt,
        "lastAttemptTime": timestamp(now),
        "nextAttemptTime": None,
        "completionTime": None,
        "message": message,
    }
    if attempt == 1:
        patch.update({"startTime": timestamp(now), "outcome": None, "httpStatus": None, "errorCode": None})
    return _with_conditions(cr, now, patch, conditions.in_progress(Phase.REQUESTING.value, message))


def retry_scheduled(
    cr: ResourceRestart, failure: RequestFailed, *, next_attempt: datetime, attempt: int, now: datetime
) -> dict[str, Any]:
    message = f"Attempt {attempt} failed: {failure.message}. Next attempt at {timestamp(next_attempt)}"
    patch: dict[str, Any] = {
        "phase": Phase.RETRYING.value,
        "outcome": failure.outcome.value,
        "httpStatus": failure.http_status,
        "errorCode": failure.error_code,
        "nextAttemptTime": timestamp(next_attempt),
        "message": message,
    }
    return _with_conditions(cr, now, patch, conditions.in_progress(Phase.RETRYING.value, message))


def finished(
    cr: ResourceRestart,
    *,
    phase: Phase,
    outcome: Outcome,
    message: str,
    now: datetime,
    http_status: int | None = None,
    error_code: str | None = None,
    attempts: int | None = None,
    plan: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A terminal status: the run's token becomes lastHandledToken and is never run again."""
    token = cr.status.active_token if cr.status.active_token is not None else cr.restart_token
    patch: dict[str, Any] = {
        "phase": phase.value,
        "outcome": outcome.value,
        "httpStatus": http_status,
        "errorCode": error_code,
        "message": message,
        "activeToken": None,
        "lastHandledToken": token,
        "nextAttemptTime": None,
        "completionTime": timestamp(now),
    }
    if attempts is not None:
        patch["attempts"] = attempts
    if plan is not None:
        patch["plan"] = plan
    if cr.status.start_time is None:
        patch["startTime"] = timestamp(now)
    if phase is Phase.SUCCEEDED:
        wanted = conditions.succeeded(outcome.value, message)
    elif phase is Phase.UNKNOWN:
        wanted = conditions.unknown(outcome.value, message)
    else:
        wanted = conditions.failed(outcome.value, message)
    # A run that ends after spec.restartToken changed describes the generation it started from, not the new one:
    # kstatus must keep reporting InProgress until the new token's run has been observed.
    generation = None
    if token != cr.restart_token:
        previous = cr.status.raw.get("observedGeneration")
        generation = previous if isinstance(previous, int) and not isinstance(previous, bool) else 0
    return _with_conditions(cr, now, patch, wanted, generation=generation)


def tracking_started(
    cr: ResourceRestart, *, http_status: int, plan: dict[str, Any] | None, message: str, now: datetime,
    attempts: int | None = None,
) -> dict[str, Any]:
    """ECE accepted the restart; the run continues while its plan runs (spec.waitForCompletion)."""
    patch: dict[str, Any] = {
        "phase": Phase.IN_PROGRESS.value,
        "outcome": Outcome.RESTART_ACCEPTED.value,
        "httpStatus": http_status,
        "errorCode": None,
        "nextAttemptTime": None,
        "message": message,
        "plan": plan if plan is not None else {"lastPollTime": timestamp(now)},
    }
    if attempts is not None:
        patch["attempts"] = attempts
    return _with_conditions(cr, now, patch, conditions.in_progress(Phase.IN_PROGRESS.value, message))


def pending(cr: ResourceRestart, *, message: str, now: datetime) -> dict[str, Any]:
    """The run cannot start yet (e.g. the ledger cannot be written); nothing was sent to ECE."""
    patch: dict[str, Any] = {"phase": Phase.PENDING.value, "message": message}
    return _with_conditions(cr, now, patch, conditions.in_progress(Phase.PENDING.value, message))
