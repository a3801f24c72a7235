"""Plan lifecycle: a restart creates a pending attempt that succeeds or fails when the clock reaches its end.

Nothing runs in the background: `settle(resource, now)` is called on every request and finishes any attempt whose
time has come, stamping it with its scheduled end time (so results never depend on when a client happens to poll).

Rules (research notes section 10.1):
  - active resource (`started`): the pending plan is the current plan plus
    `transient.plan_configuration.cluster_reboot: forced` (and, for Elasticsearch, the rolling strategy and
    `skip_snapshot` from the query); status becomes `restarting` (or the resource's `restart_status`);
  - inactive resource (`stopped`): the pending plan is the last successful plan without transient settings (plus
    `transient.restore_snapshot` for Elasticsearch when `restore_snapshot=true`); status becomes `initializing`;
  - success: the attempt becomes `current` and the last element of `history`; status `started`;
  - error: the same, with `healthy: false`, an `error` and a `plan-completed` step in status `error`; the status
    returns to what it was (`started`, or `stopped` for a failed start);
  - cancel (cancel_pending=true, or DELETE .../plan/pending): the attempt goes to `history` as unhealthy with a
    `plan-completed` error step; `current` is unchanged; status returns to what it was.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

from ece_restart.simulator.state import ELASTICSEARCH, Deployment, PlanAttempt, Resource

STATELESS_RESTART_ACTION = "deployments.restart-deployment-stateless-resource"
ES_RESTART_ACTION = "deployments.restart-deployment-es-resource"
CREATE_ACTION = "deployments.create-deployment"
CANCELLED_FAILURE_TYPE = "PlanCancelled:CancelledByUser"

ACTIVE_STEPS: tuple[str, ...] = (
    "plan-validator",
    "validate-plan-prerequisites",
    "restart-instances",
    "wait-until-running",
)
ES_ACTIVE_STEPS: tuple[str, ...] = (
    "plan-validator",
    "validate-plan-prerequisites",
    "rolling-restart",
    "wait-for-shards",
)
START_STEPS: tuple[str, ...] = ("plan-validator", "allocate-instances", "start-instances", "wait-until-running")
CREATE_STEPS: tuple[str, ...] = ("plan-validator", "allocate-instances", "start-instances", "wait-until-running")


class PlanConflict(Exception):
    """The resource is in a state that forbids a restart (422 `deployments.deployment_resource_plan_change_error`)."""


@dataclass(frozen=True)
class ElasticsearchRestart:
    """The Elasticsearch `_restart` query parameters, with the spec defaults."""

    restore_snapshot: bool = True
    skip_snapshot: bool = True
    group_attribute: str = "__zone__"
    shard_init_wait_time: int = 600


def initial_plan_body(deployment: Deployment, resource: Resource) -> dict[str, Any]:
    """A plausible plan for a resource loaded from state (the `plan` of its creation attempt)."""
    memory = 4096 if resource.kind == ELASTICSEARCH else 1024
    topology: dict[str, Any] = {
        "instance_configuration_id": f"{resource.kind}.default" if resource.kind != ELASTICSEARCH else "data.default",
        "size": {"resource": "memory", "value": memory},
        "zone_count": resource.zones,
    }
    if resource.kind == ELASTICSEARCH:
        topology["id"] = "hot_content"
        topology["node_roles"] = ["master", "ingest", "data_hot", "data_content", "remote_cluster_client", "transform"]
        return {"cluster_topology": [topology], "elasticsearch": {"version": resource.version}}
    return {"cluster_topology": [topology], resource.kind: {"version": resource.version}}


def ensure_initial_plan(deployment: Deployment, resource: Resource, now: float) -> None:
    """Give a freshly loaded resource its creation attempt (ended 10 minutes before `now`)."""
    if resource.history or resource.pending is not None or resource.initial_plan == "none":
        return
    failed = resource.initial_plan == "error"
    attempt = PlanAttempt(
        attempt_id=str(uuid.uuid4()),
        plan=initial_plan_body(deployment, resource),
        action=CREATE_ACTION,
        started_at=now - 600.0,
        duration=120.0,
        outcome="error" if failed else "success",
        steps=CREATE_STEPS,
        visible_at=now - 600.0,
        failure_type=resource.failure_type,
        failure_message=resource.failure_message,
        ended_at=now - 480.0,
        result="error" if failed else "success",
    )
    resource.history.append(attempt)
    resource.current = attempt
    if failed:
        resource.status = "stopped"


def settle(resource: Resource, now: float) -> None:
    """Finish the pending attempt if the clock has reached its end."""
    attempt = resource.pending
    if attempt is None or now < attempt.due_at:
        return
    end = attempt.due_at
    attempt.ended_at = end
    attempt.result = attempt.outcome
    if resource.current is not None:
        resource.current.superseded_at = end
    resource.current = attempt
    resource.history.append(attempt)
    resource.pending = None
    if attempt.result == "success":
        resource.status = "started"
    else:
        resource.status = "stopped" if attempt.from_stopped else "started"
    resource.metadata_version += 1


def begin_restart(
    resource: Resource,
    now: float,
    *,
    duration: float,
    visibility_delay: float,
    elasticsearch: ElasticsearchRestart | None = None,
    user_id: str | None = None,
    remote_address: str | None = None,
) -> PlanAttempt:
    """Create the pending restart attempt (the caller has already dealt with any earlier pending plan)."""
    if resource.pending is not None:
        raise PlanConflict("There is a plan still pending, cancel that or wait for it to complete before restarting")
    is_es = resource.kind == ELASTICSEARCH
    options = elasticsearch or ElasticsearchRestart()
    from_stopped = resource.status == "stopped"
    if from_stopped:
        base = resource.last_successful
        if base is None:
            raise PlanConflict("The resource is not running and has no successful plan to start it with")
        plan = _without_transient(base.plan)
        steps = START_STEPS
        if is_es and options.restore_snapshot:
            plan["transient"] = {"restore_snapshot": {"snapshot_name": "__latest_success__"}}
            steps = (*START_STEPS[:-1], "restore-snapshot", START_STEPS[-1])
    else:
        if resource.current is None:
            raise PlanConflict("The resource has no plan to re-apply")
        plan = _without_transient(resource.current.plan)
        plan_configuration: dict[str, Any] = {"cluster_reboot": "forced"}
        transient: dict[str, Any] = {"plan_configuration": plan_configuration}
        steps = ACTIVE_STEPS
        if is_es:
            plan_configuration["skip_snapshot"] = options.skip_snapshot
            transient["strategy"] = {
                "rolling": {
                    "group_by": options.group_attribute,
                    "shard_init_wait_time": options.shard_init_wait_time,
                }
            }
            steps = ES_ACTIVE_STEPS
            if not options.skip_snapshot:
                steps = (*ES_ACTIVE_STEPS[:2], "snapshot", *ES_ACTIVE_STEPS[2:])
        plan["transient"] = transient
    failing = resource.fail_next_plans > 0 or resource.plan_outcome == "error"
    if resource.fail_next_plans > 0:
        resource.fail_next_plans -= 1
    attempt = PlanAttempt(
        attempt_id=str(uuid.uuid4()),
        plan=plan,
        action=ES_RESTART_ACTION if is_es else STATELESS_RESTART_ACTION,
        started_at=now,
        duration=max(0.0, duration),
        outcome="error" if failing else "success",
        steps=steps,
        visible_at=now + max(0.0, visibility_delay),
        failure_type=resource.failure_type,
        failure_message=resource.failure_message,
        user_id=user_id,
        remote_address=remote_address,
        from_stopped=from_stopped,
    )
    resource.pending = attempt
    resource.restart_count += 1
    resource.metadata_version += 1
    # A zero-length plan finishes within the same request (still strictly after the 202 was decided).
    settle(resource, now)
    return attempt


def cancel_pending(resource: Resource, now: float, message: str) -> PlanAttempt | None:
    """Cancel the pending attempt (if any) into history as unhealthy; returns it."""
    attempt = resource.pending
    if attempt is None:
        return None
    attempt.ended_at = max(now, attempt.started_at)
    attempt.result = "cancelled"
    attempt.cancel_message = message
    attempt.superseded_at = attempt.ended_at
    resource.history.append(attempt)
    resource.pending = None
    resource.status = "stopped" if attempt.from_stopped else "started"
    resource.metadata_version += 1
    return attempt


def _without_transient(plan: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(plan)
    body.pop("transient", None)
    return body
