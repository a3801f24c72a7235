"""JSON shapes of the simulated API, following the definitions of the official Swagger spec.

`deployment_view` is a `DeploymentGetResponse`, `resource_view` a `<Kind>ResourceInfo`, `plan_attempt_view` a
`<Kind>PlanInfo` (`CommonClusterPlanInfo`). The `show_*` flags follow `GET /deployments/{id}`:
`show_plans=false` drops `current`/`pending` and empties `history`; `show_plan_logs=false` sends empty
`plan_attempt_log`s; `show_plan_history=false` sends `history: []`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ece_restart.simulator.clock import ZERO_TIME, Timeline
from ece_restart.simulator.state import ELASTICSEARCH, Deployment, PlanAttempt, Resource


@dataclass(frozen=True)
class ShowFlags:
    plans: bool = True
    plan_logs: bool = False
    plan_history: bool = False


def attempt_healthy(attempt: PlanAttempt) -> bool:
    """Plan-level healthy: the attempt succeeded, or is still running without errors."""
    return attempt.result in (None, "success")


def pending_visible(resource: Resource, now: float) -> PlanAttempt | None:
    """The pending attempt, if it exists and its visibility delay has passed."""
    attempt = resource.pending
    if attempt is None or now < attempt.visible_at:
        return None
    return attempt


def displayed_status(resource: Resource, now: float) -> str:
    attempt = pending_visible(resource, now)
    if attempt is None:
        return resource.status
    return "initializing" if attempt.from_stopped else resource.restart_status


def plans_healthy(resource: Resource) -> bool:
    """`plan_info.healthy`: false when the most recent ended attempt failed or was cancelled."""
    return not resource.history or attempt_healthy(resource.history[-1])


def _step(step_id: str, start: float, end: float | None, status: str, timeline: Timeline) -> dict[str, Any]:
    step: dict[str, Any] = {
        "step_id": step_id,
        "started": timeline.iso(start),
        "status": status,
        "stage": "completed" if end is not None else "in_progress",
        "info_log": [],
    }
    if end is not None:
        step["completed"] = timeline.iso(end)
        step["duration_in_millis"] = round((end - start) * 1000)
    return step


def plan_attempt_log(attempt: PlanAttempt, now: float, timeline: Timeline) -> list[dict[str, Any]]:
    """The steps visible at `now`: `plan-validator` at once, the rest spread evenly, then `plan-completed`."""
    horizon = now if attempt.ended_at is None else attempt.ended_at
    work = attempt.steps[1:]
    share = attempt.duration / len(work) if work else 0.0
    starts = [attempt.started_at] + [attempt.started_at + share * index for index in range(len(work))]
    ends = [attempt.started_at] + [attempt.started_at + share * (index + 1) for index in range(len(work))]
    log: list[dict[str, Any]] = []
    for step_id, start, end in zip(attempt.steps, starts, ends, strict=True):
        if start > horizon:
            break
        if end <= horizon:
            log.append(_step(step_id, start, end, "success", timeline))
        elif attempt.result == "cancelled":
            log.append(_step(step_id, start, horizon, "error", timeline))
        else:
            log.append(_step(step_id, start, None, "pending", timeline))
    if attempt.result is None:
        return log
    final = _step("plan-completed", horizon, horizon, "success" if attempt.result == "success" else "error", timeline)
    if attempt.result != "success":
        final["info_log"] = [
            {
                "timestamp": timeline.iso(horizon),
                "stage": "completed",
                "message": _failure_message(attempt),
                "details": {},
                "failure_type": _failure_type(attempt),
            }
        ]
    log.append(final)
    return log


def _failure_message(attempt: PlanAttempt) -> str:
    if attempt.result == "cancelled":
        return attempt.cancel_message or "The plan was cancelled"
    return attempt.failure_message


def _failure_type(attempt: PlanAttempt) -> str:
    return "PlanCancelled:CancelledByUser" if attempt.result == "cancelled" else attempt.failure_type


def plan_attempt_view(
    attempt: PlanAttempt,
    now: float,
    timeline: Timeline,
    *,
    logs: bool,
    current: bool = False,
    history_index: int | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "plan_attempt_id": attempt.attempt_id,
        "healthy": attempt_healthy(attempt),
        "attempt_start_time": timeline.iso(attempt.started_at),
        "plan": copy.deepcopy(attempt.plan),
        "plan_attempt_log": plan_attempt_log(attempt, now, timeline) if logs else [],
        "warnings": [],
        "source": _source(attempt, timeline),
    }
    if history_index is not None:
        view["plan_attempt_name"] = f"attempt-{history_index:010d}"
    if attempt.ended_at is not None:
        view["attempt_end_time"] = timeline.iso(attempt.ended_at)
        if current:
            view["plan_end_time"] = ZERO_TIME
        elif attempt.superseded_at is not None:
            view["plan_end_time"] = timeline.iso(attempt.superseded_at)
        else:
            view["plan_end_time"] = timeline.iso(attempt.ended_at)
    if attempt.result in ("error", "cancelled"):
        view["error"] = {
            "timestamp": timeline.iso(attempt.ended_at if attempt.ended_at is not None else now),
            "message": _failure_message(attempt),
            "details": {},
            "failure_type": _failure_type(attempt),
        }
    return view


def _source(attempt: PlanAttempt, timeline: Timeline) -> dict[str, Any]:
    source: dict[str, Any] = {
        "action": attempt.action,
        "date": timeline.iso(attempt.started_at),
        "facilitator": "adminconsole",
    }
    if attempt.user_id is not None:
        source["user_id"] = attempt.user_id
    if attempt.remote_address is not None:
        source["remote_addresses"] = [attempt.remote_address]
    return source


def plans_info_view(resource: Resource, now: float, timeline: Timeline, flags: ShowFlags) -> dict[str, Any]:
    info: dict[str, Any] = {"healthy": plans_healthy(resource), "history": []}
    if not flags.plans:
        return info
    if resource.current is not None:
        info["current"] = plan_attempt_view(resource.current, now, timeline, logs=flags.plan_logs, current=True)
    pending = pending_visible(resource, now)
    if pending is not None:
        info["pending"] = plan_attempt_view(pending, now, timeline, logs=flags.plan_logs)
    if flags.plan_history:
        info["history"] = [
            plan_attempt_view(
                attempt,
                now,
                timeline,
                logs=flags.plan_logs,
                current=attempt is resource.current,
                history_index=index,
            )
            for index, attempt in enumerate(resource.history)
        ]
    return info


def _topology(resource: Resource, status: str) -> dict[str, Any]:
    if status == "stopped":
        return {"healthy": True, "instances": []}
    running = status == "started"
    instances = [
        {
            "instance_name": f"instance-{index:010d}",
            "healthy": True,
            "container_started": True,
            "service_running": running,
            "maintenance_mode": False,
            "service_version": resource.version,
            "zone": f"ece-zone-{index % resource.zones + 1}",
        }
        for index in range(resource.instances)
    ]
    return {"healthy": True, "instances": instances}


def resource_view(
    deployment: Deployment, resource: Resource, now: float, timeline: Timeline, flags: ShowFlags
) -> dict[str, Any]:
    """`<Kind>ResourceInfo` for one resource."""
    status = displayed_status(resource, now)
    plan_info = plans_info_view(resource, now, timeline, flags)
    healthy = bool(plan_info["healthy"])
    last_modified = timeline.iso(_last_modified(resource, now))
    metadata: dict[str, Any] = {"version": resource.metadata_version, "last_modified": last_modified}
    info: dict[str, Any] = {
        "deployment_id": deployment.id,
        "healthy": healthy,
        "status": status,
        "plan_info": plan_info,
        "topology": _topology(resource, status),
        "external_links": [],
        "metadata": metadata,
        "region": resource.region,
    }
    if resource.kind == ELASTICSEARCH:
        info.update(
            cluster_id=resource.id,
            cluster_name=resource.name,
            associated_kibana_clusters=_associated(deployment, "kibana", "kibana_id"),
            associated_apm_clusters=_associated(deployment, "apm", "apm_id"),
            associated_appsearch_clusters=_associated(deployment, "appsearch", "app_search_id"),
            associated_enterprise_search_clusters=_associated(deployment, "enterprise_search", "enterprise_search_id"),
            elasticsearch={
                "healthy": True,
                "blocking_issues": {"healthy": True, "cluster_level": [], "index_level": []},
                "master_info": {"healthy": True, "instances_with_no_master": [], "masters": []},
                "shard_info": {
                    "healthy": True,
                    "available_shards": [],
                    "unavailable_shards": [],
                    "unavailable_replicas": [],
                },
            },
            snapshots={"healthy": True, "count": 0, "recent_success": False},
        )
        return {"ref_id": resource.ref_id, "id": resource.id, "region": resource.region, "info": info}
    es = deployment.find(ELASTICSEARCH, resource.elasticsearch_cluster_ref_id)
    info["elasticsearch_cluster"] = {"elasticsearch_id": es.id if es is not None else ""}
    if resource.kind == "kibana":
        info.update(cluster_id=resource.id, cluster_name=resource.name)
    else:
        info.update(id=resource.id, name=resource.name)
    if resource.kind in ("apm", "integrations_server"):
        info["apm_server_mode"] = "managed"
    return {
        "ref_id": resource.ref_id,
        "id": resource.id,
        "region": resource.region,
        "elasticsearch_cluster_ref_id": resource.elasticsearch_cluster_ref_id,
        "info": info,
    }


def _last_modified(resource: Resource, now: float) -> float:
    moments = [a.ended_at for a in resource.history if a.ended_at is not None]
    pending = pending_visible(resource, now)
    if pending is not None:
        moments.append(pending.started_at)
    return max(moments) if moments else now


def _associated(deployment: Deployment, kind: str, key: str) -> list[dict[str, Any]]:
    return [{key: r.id, "enabled": True} for r in deployment.resources if r.kind == kind and not r.vanished]


def deployment_view(deployment: Deployment, now: float, timeline: Timeline, flags: ShowFlags) -> dict[str, Any]:
    """`DeploymentGetResponse`: all six resource arrays, vanished resources left out."""
    resources: dict[str, list[dict[str, Any]]] = {
        kind: [] for kind in ("elasticsearch", "kibana", "apm", "appsearch", "enterprise_search", "integrations_server")
    }
    healthy = True
    for resource in deployment.resources:
        if resource.vanished:
            continue
        view = resource_view(deployment, resource, now, timeline, flags)
        healthy = healthy and bool(view["info"]["healthy"])
        resources[resource.kind].append(view)
    body: dict[str, Any] = {"id": deployment.id, "name": deployment.name, "healthy": healthy, "resources": resources}
    if deployment.alias is not None:
        body["alias"] = deployment.alias
    return body
