"""A strict simulator of the Elastic Cloud Enterprise (ECE) / Elastic Cloud deployments API, for tests and demos.

It serves, over real HTTP (aiohttp), the endpoints the operator uses:

    POST   /api/v1/deployments/{id}/{kibana|apm|appsearch|enterprise_search|integrations_server}/{ref_id}/_restart
           [?cancel_pending=true|false]
    POST   /api/v1/deployments/{id}/elasticsearch/{ref_id}/_restart
           [?restore_snapshot=&skip_snapshot=&cancel_pending=&group_attribute=&shard_init_wait_time=]
    GET    /api/v1/deployments/{id}[?show_plans=&show_plan_logs=&show_plan_history=...]
    GET    /api/v1/deployments/{id}/{kind}/{ref_id}[?show_plans=&show_plan_logs=&show_plan_history=...]
    DELETE /api/v1/deployments/{id}/{kind}/{ref_id}/plan/pending[?force_delete=&ignore_missing=]

Rules, checked in this order (every error is a `BasicFailedReply` with an `x-cloud-error-codes` header):
  401 root.unauthenticated          missing/unknown credentials: `Authorization: ApiKey <key>`, or HTTP Basic in
                                    ECE mode only (Basic is always 401 in ESS mode; Bearer is not supported -> 401)
  404 root.resource_not_found       unknown route or kind
  400 root.invalid_data             a boolean (only `true`/`false`) or integer query parameter that does not parse
  449 root.unauthorized.rbac.elevated_permissions_required
                                    legacy_449 (ECE <= 3.6) mode, restart or DELETE pending, caller not elevated
  404 deployments.deployment_not_found / deployments.deployment_resource_not_found
  500 deployments.deployment_resource_no_longer_exists   resource marked vanished (restart, GET resource, DELETE)
  422 deployments.deployment_resource_plan_change_error  a plan is pending and cancel_pending is not true
                                    (also: stopped resource without a successful plan)
  202 {}                            restart accepted: a pending plan runs for `plan_seconds` of the simulator clock
                                    and then succeeds or fails (see `plans.py` for the exact plan-info shapes)

Python API (everything below is importable from `ece_restart.simulator`):

    sim = Simulator(
        state=SimulatorState.example(),      # default; or SimulatorState.from_file("state.yaml") / from_yaml(text)
        api_keys={"k"},                      # accepted `ApiKey` values
        users={"admin": "pw"},               # HTTP Basic users (ECE mode only)
        mode="ece",                          # or "ess"
        legacy_449=False,                    # True: ECE <= 3.6, restarts need elevated permissions (449)
        elevated_api_keys=(), elevated_users=(),  # callers that do not get 449 in legacy mode
        clock=ManualClock(),                 # any () -> float seconds; default time.time
        plan_seconds=3.0,                    # default plan duration (per resource: Resource.plan_seconds)
        pending_visibility_delay=0.0,        # seconds after a 202 before GETs show the pending plan
    )
    async with sim.serving(port=0) as url: ...          # url == "http://127.0.0.1:PORT" (also sim.url)
    with sim.serving_in_thread(port=0) as url: ...      # own event loop in a daemon thread
    sim.serving(port=0, ssl_context=ctx)                # HTTPS (e.g. a trustme server context); url is https://
    sim.add_fault(Fault(route="restart", status=500, times=2, deployment_id=..., kind=..., ref_id=...))
    sim.calls -> list[CallRecord]; sim.clear_calls()
    sim.accepted_restarts(deployment_id=None, kind=None, ref_id=None) -> int
    sim.advance(seconds)                                # ManualClock only
    sim.reset()                                         # initial state, no faults, empty call log
    sim.resource(deployment_id, kind, ref_id) -> Resource
    sim.state.add_deployment(deployment_id, name, resources=[{"kind": "kibana", "ref_id": "main-kibana"}])
    resource.mark_vanished(); resource.set_stopped(); resource.set_plan_duration(10); resource.fail_next_plan()

Admin endpoints (no auth, outside /api/v1, not in the call log): see `server.py`.
"""

from ece_restart.simulator.calls import CallRecord
from ece_restart.simulator.clock import Clock, ManualClock
from ece_restart.simulator.faults import ROUTES, Fault
from ece_restart.simulator.server import Simulator
from ece_restart.simulator.state import (
    EXAMPLE_DEPLOYMENT_ID,
    EXAMPLE_STOPPED_DEPLOYMENT_ID,
    KINDS,
    STATELESS_KINDS,
    Deployment,
    PlanAttempt,
    Resource,
    SimulatorState,
    StateError,
)

__all__ = [
    "EXAMPLE_DEPLOYMENT_ID",
    "EXAMPLE_STOPPED_DEPLOYMENT_ID",
    "KINDS",
    "ROUTES",
    "STATELESS_KINDS",
    "CallRecord",
    "Clock",
    "Deployment",
    "Fault",
    "ManualClock",
    "PlanAttempt",
    "Resource",
    "Simulator",
    "SimulatorState",
    "StateError",
]
