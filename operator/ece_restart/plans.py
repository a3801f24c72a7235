"""Plan information of one deployment resource, parsed from `GET /deployments/{id}/{kind}/{ref_id}`.

ECE runs a restart as a plan change: after the 202 the resource has a *pending* plan attempt, which later
becomes *current* (success) or ends as a failed attempt. The last step of an attempt's log decides: `plan-completed`
with status `error` is a failure, `plan-completed` with any other status is a success, anything else is running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

PLAN_COMPLETED_STEP = "plan-completed"


class AttemptState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PlanAttempt:
    attempt_id: str | None
    start_time: datetime | None
    end_time: datetime | None
    healthy: bool
    last_step: str | None
    last_step_status: str | None
    failure_type: str | None
    error_message: str | None
    source_action: str | None

    @property
    def state(self) -> AttemptState:
        if self.last_step == PLAN_COMPLETED_STEP:
            return AttemptState.FAILED if self.last_step_status == "error" else AttemptState.SUCCEEDED
        if self.error_message is not None:  # ended with an error before the plan-completed step was logged
            return AttemptState.FAILED
        return AttemptState.RUNNING


@dataclass(frozen=True, slots=True)
class ResourcePlans:
    status: str | None
    healthy: bool | None
    pending: PlanAttempt | None
    current: PlanAttempt | None
    history: tuple[PlanAttempt, ...]

    def attempts(self) -> tuple[PlanAttempt, ...]:
        """Every attempt the response shows, each once, oldest first."""
        seen: set[str] = set()
        ordered: list[PlanAttempt] = []
        for attempt in (*self.history, self.current, self.pending):
            if attempt is None:
                continue
            if attempt.attempt_id is not None:
                if attempt.attempt_id in seen:
                    continue
                seen.add(attempt.attempt_id)
            ordered.append(attempt)
        return tuple(ordered)

    def find(self, attempt_id: str) -> PlanAttempt | None:
        return next((a for a in self.attempts() if a.attempt_id == attempt_id), None)

    def started_at_or_after(self, moment: datetime) -> tuple[PlanAttempt, ...]:
        return tuple(a for a in self.attempts() if a.start_time is not None and a.start_time >= moment)


def parse_resource_info(document: Any) -> ResourcePlans:
    """Tolerant parse: missing or malformed parts become None rather than errors."""
    info = _dict(_dict(document).get("info"))
    plan_info = _dict(info.get("plan_info"))
    history = plan_info.get("history")
    return ResourcePlans(
        status=_str(info.get("status")),
        healthy=_bool(info.get("healthy")),
        pending=_attempt(plan_info.get("pending")),
        current=_attempt(plan_info.get("current")),
        history=tuple(a for a in (_attempt(h) for h in (history if isinstance(history, list) else [])) if a),
    )


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.year <= 1:  # ECE writes 0001-01-01T00:00:00Z for "no time"
        return None
    return parsed


def _attempt(raw: Any) -> PlanAttempt | None:
    if not isinstance(raw, dict):
        return None
    steps = raw.get("plan_attempt_log")
    last = _dict(steps[-1]) if isinstance(steps, list) and steps else {}
    failure_type = None
    info_log = last.get("info_log")
    if isinstance(info_log, list):
        for entry in reversed(info_log):
            failure_type = _str(_dict(entry).get("failure_type"))
            if failure_type:
                break
    error = _dict(raw.get("error"))
    if failure_type is None:
        failure_type = _str(error.get("failure_type"))
    error_message = _str(error.get("message"))
    if error_message is None and last.get("status") == "error" and isinstance(info_log, list) and info_log:
        error_message = _str(_dict(info_log[-1]).get("message"))
    return PlanAttempt(
        attempt_id=_str(raw.get("plan_attempt_id")),
        start_time=parse_time(raw.get("attempt_start_time")),
        end_time=parse_time(raw.get("attempt_end_time")),
        healthy=raw.get("healthy") is not False,
        last_step=_str(last.get("step_id")),
        last_step_status=_str(last.get("status")),
        failure_type=failure_type,
        error_message=error_message,
        source_action=_str(_dict(raw.get("source")).get("action")),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
