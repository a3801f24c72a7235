"""Which plan attempt is the restart's own: never a plan that just ran, one we cancelled, or a later foreign one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ece_restart.plan_tracking import find_our_attempt
from ece_restart.plans import PlanAttempt, ResourcePlans

REQUEST = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
SKEW = timedelta(seconds=30)


def attempt(attempt_id: str, started: float, *, ended: float | None = None) -> PlanAttempt:
    return PlanAttempt(attempt_id=attempt_id, start_time=REQUEST + timedelta(seconds=started),
                       end_time=None if ended is None else REQUEST + timedelta(seconds=ended), healthy=True,
                       last_step=None, last_step_status=None, failure_type=None, error_message=None,
                       source_action=None)


def plans(*attempts: PlanAttempt, pending: PlanAttempt | None = None) -> ResourcePlans:
    return ResourcePlans(status="started", healthy=True, pending=pending, current=None, history=tuple(attempts))


def test_the_earliest_attempt_after_the_request_is_ours() -> None:
    found = plans(attempt("old", -3600, ended=-3000), attempt("ours", 1), pending=attempt("foreign", 20))
    assert find_our_attempt(found, None, REQUEST, SKEW).attempt_id == "ours"  # type: ignore[union-attr]


def test_a_plan_cancelled_by_our_cancel_pending_is_not_ours() -> None:
    found = plans(attempt("cancelled", -10, ended=0.5), pending=attempt("ours", 0.4))
    assert find_our_attempt(found, None, REQUEST, SKEW).attempt_id == "ours"  # type: ignore[union-attr]


def test_with_ece_clock_behind_the_latest_attempt_in_the_allowance_is_ours() -> None:
    found = plans(attempt("cancelled", -15, ended=-4), pending=attempt("ours", -4))
    assert find_our_attempt(found, None, REQUEST, SKEW).attempt_id == "ours"  # type: ignore[union-attr]


def test_nothing_recent_means_no_attempt_and_a_known_id_wins() -> None:
    assert find_our_attempt(plans(attempt("old", -3600)), None, REQUEST, SKEW) is None
    found = plans(attempt("ours", 1), pending=attempt("foreign", 20))
    assert find_our_attempt(found, "ours", REQUEST, SKEW).attempt_id == "ours"  # type: ignore[union-attr]
    assert find_our_attempt(found, "gone", REQUEST, SKEW) is None
