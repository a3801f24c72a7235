"""Fuzz: CR parsing never fails with anything but InvalidSpecError, the status transitions accept whatever a status
holds, and every request our client can build conforms to the official ECE Swagger spec.

Client *response* parsing (arbitrary status, headers and bodies) is fuzzed in tests/client/test_response_parsing.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ece_restart import status as status_patches
from ece_restart.client import EceClient
from ece_restart.connection import ApiKeyCredentials, ConnectionConfig, Secret
from ece_restart.decisions import decide
from ece_restart.resource_restart import InvalidSpecError, Phase, from_body, parse_spec
from ece_restart.results import Classification, Outcome, RequestFailed
from ece_restart.targets import ElasticsearchRestartOptions, InvalidTargetError, ResourceKind, RestartTarget
from tests.support.swagger import current_spec

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
json_like = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=25)
SPEC_KEYS = ["deploymentId", "resourceKind", "refId", "cancelPending", "elasticsearch", "connection", "retry",
             "restartToken", "waitForCompletion", "completionTimeoutSeconds", "ttlSecondsAfterFinished"]
STATUS_KEYS = ["phase", "attempts", "activeToken", "lastHandledToken", "lastAttemptTime", "nextAttemptTime",
               "startTime", "completionTime", "conditions", "observedGeneration", "plan", "outcome", "message"]
plausible = st.one_of(
    json_like,
    st.sampled_from(["0123456789abcdef0123456789abcdef", "kibana", "elasticsearch", "main-kibana", "_main", "..",
                     "Requesting", "Retrying", "InProgress", "Succeeded", "Pending", "2026-11-30T12:00:00Z",
                     "2026-13-45T99:99:99Z", "", " "]),
    st.lists(st.dictionaries(st.sampled_from(["type", "status", "reason", "message", "lastTransitionTime",
                                              "observedGeneration"]), json_like, max_size=6), max_size=4),
)
bodies = st.fixed_dictionaries({}, optional={
    "metadata": st.fixed_dictionaries({}, optional={k: plausible for k in
                                                    ["namespace", "name", "uid", "generation", "resourceVersion"]})
    | json_like,
    "spec": st.fixed_dictionaries({}, optional={k: plausible for k in SPEC_KEYS}) | json_like,
    "status": st.fixed_dictionaries({}, optional={k: plausible for k in STATUS_KEYS}) | json_like,
})
FAILURE = RequestFailed(Classification.RETRYABLE, "HTTP 503", http_status=503, outcome=Outcome.SERVER_ERROR)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
def test_any_body_parses_and_decides(body: dict[str, Any]) -> None:
    cr = from_body(body)
    decide(cr)
    with contextlib.suppress(InvalidSpecError):
        parse_spec(cr.spec)


# A status as the CRD's status schema admits it (any value of the declared type), for the transitions.
texts = st.text(max_size=30) | st.sampled_from(["Requesting", "Retrying", "InProgress", "Succeeded",
                                                 "2026-11-30T12:00:00Z", "2026-13-45T99:99:99Z", "", "Z"])
conditions = st.lists(st.fixed_dictionaries(
    {"type": texts, "status": st.sampled_from(["True", "False", "Unknown"]) | texts, "lastTransitionTime": texts,
     "reason": texts, "message": texts}, optional={"observedGeneration": st.integers()}), max_size=5)
schema_statuses = st.fixed_dictionaries({}, optional={
    "phase": st.sampled_from(["Pending", "Requesting", "Retrying", "InProgress", "Succeeded", "Failed", "Unknown"]),
    "outcome": texts, "errorCode": texts, "message": texts, "activeToken": texts, "lastHandledToken": texts,
    "httpStatus": st.integers(), "attempts": st.integers(), "observedGeneration": st.integers(),
    "startTime": texts, "lastAttemptTime": texts, "nextAttemptTime": texts, "completionTime": texts,
    "plan": st.dictionaries(st.text(max_size=10), json_like, max_size=4), "conditions": conditions})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(SPEC_KEYS), plausible, max_size=6), schema_statuses,
       st.integers(min_value=0, max_value=10**6))
def test_every_transition_accepts_any_schema_valid_status(spec: dict[str, Any], status: dict[str, Any],
                                                          generation: int) -> None:
    """Every status patch the controller may write from this object can be computed (a user may edit the status)."""
    cr = from_body({"metadata": {"name": "n", "namespace": "ns", "uid": "u", "generation": generation},
                    "spec": spec, "status": status})
    decide(cr)
    status_patches.attempt_intent(cr, token="t", attempt=1, max_attempts=3, now=NOW)
    status_patches.retry_scheduled(cr, FAILURE, next_attempt=NOW, attempt=1, now=NOW)
    for phase in ("Succeeded", "Failed", "Unknown"):
        status_patches.finished(cr, phase=Phase(phase), outcome=Outcome.RESTART_ACCEPTED,
                                message="m", now=NOW)
    status_patches.tracking_started(cr, http_status=202, plan=None, message="m", now=NOW)
    status_patches.pending(cr, message="m", now=NOW)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(SPEC_KEYS), plausible, max_size=len(SPEC_KEYS)))
def test_parse_spec_raises_only_invalid_spec_error(spec: dict[str, Any]) -> None:
    try:
        parsed = parse_spec(spec)
    except InvalidSpecError:
        return
    assert parsed.target.deployment_id == spec["deploymentId"]


# ---------------------------------------------------------------------------------------------------- requests
ref_ids = st.text(min_size=1, max_size=64).filter(lambda r: _valid_ref_id(r))
es_options = st.builds(ElasticsearchRestartOptions,
                       restore_snapshot=st.none() | st.booleans(), skip_snapshot=st.none() | st.booleans(),
                       group_attribute=st.none() | st.from_regex(r"[A-Za-z0-9_.,-]{1,40}", fullmatch=True)
                       .filter(lambda g: all(p for p in g.split(","))) | st.sampled_from(["__all__", "__zone__",
                                                                                            "__name__"]),
                       shard_init_wait_time=st.none() | st.integers(0, 86400))


def _valid_ref_id(ref_id: str) -> bool:
    try:
        RestartTarget.of("0" * 32, "kibana", ref_id)
    except InvalidTargetError:
        return False
    return True


def _captured_requests(call: Any) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={})

    config = ConnectionConfig(url="https://ece.invalid:12443", credentials=ApiKeyCredentials(Secret("k")))

    async def main() -> None:
        async with EceClient(config, transport=httpx.MockTransport(handler)) as client:
            await call(client)

    asyncio.run(main())
    return seen


@settings(max_examples=120, deadline=None)
@given(deployment=st.from_regex(r"[0-9a-f]{32}", fullmatch=True), kind=st.sampled_from(list(ResourceKind)),
       ref_id=ref_ids, cancel_pending=st.booleans(), es=st.none() | es_options)
def test_every_request_the_client_builds_conforms_to_the_swagger_spec(
        deployment: str, kind: ResourceKind, ref_id: str, cancel_pending: bool,
        es: ElasticsearchRestartOptions | None) -> None:
    target = RestartTarget.of(deployment, kind, ref_id)
    options = es if kind is ResourceKind.ELASTICSEARCH else None

    async def calls(client: EceClient) -> None:
        await client.restart_target(target, cancel_pending=cancel_pending, elasticsearch=options)
        await client.get_resource(target)
        await client.get_resource(target, show_plan_logs=False, show_plan_history=False)

    spec = current_spec()
    for request in _captured_requests(calls):
        raw_path = request.url.raw_path.decode().split("?", 1)[0]
        query = dict(request.url.params)
        problems = spec.validate_request(request.method, raw_path, query)
        assert problems == [], (request.method, raw_path, query, problems)
        match = spec.match(request.method, raw_path)
        assert match is not None
        # Every query parameter we send is one the operation declares.
        declared = {p["name"] for p in match.operation.get("parameters", []) if p.get("in") == "query"}
        assert set(query) <= declared, (match.template, set(query) - declared)
        assert request.headers["Authorization"].startswith("ApiKey ")
        assert request.headers["Accept"] == "application/json"
