"""The `_restart` endpoints over real loopback HTTP: auth, not-found, validation, conflicts, 449, vanished."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from ece_restart.simulator import EXAMPLE_DEPLOYMENT_ID, EXAMPLE_STOPPED_DEPLOYMENT_ID, STATELESS_KINDS, Simulator
from tests.support.simulator_fixtures import API_KEY, AUTH_HEADERS, BASIC_PASSWORD, BASIC_USER, ELEVATED_API_KEY

DEP = EXAMPLE_DEPLOYMENT_ID
MakeSimulator = Callable[..., Awaitable[Simulator]]


def restart_path(kind: str = "kibana", ref_id: str = "main-kibana", deployment_id: str = DEP) -> str:
    return f"/api/v1/deployments/{deployment_id}/{kind}/{ref_id}/_restart"


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.url, headers=AUTH_HEADERS) as http:
        yield http


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-cloud-error-codes"] == code
    body = response.json()
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["message"]


# -- authentication ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "ApiKey wrong-key",
        "ApiKey",
        f"Bearer {API_KEY}",
        f"Token {API_KEY}",
        "Basic " + base64.b64encode(f"{BASIC_USER}:wrong".encode()).decode(),
        "Basic " + base64.b64encode(b"nobody:x").decode(),
        "Basic !!!not-base64!!!",
    ],
)
async def test_bad_or_missing_credentials_are_401_and_change_nothing(
    simulator: Simulator, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient(base_url=simulator.url, headers=headers) as http:
        response = await http.post(restart_path())
    assert_error(response, 401, "root.unauthenticated")
    assert simulator.accepted_restarts() == 0
    assert simulator.calls[-1].authenticated is False


async def test_api_key_and_basic_auth_are_accepted_in_ece_mode(simulator: Simulator) -> None:
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        by_key = await http.post(restart_path("apm", "main-apm"), headers={"Authorization": f"ApiKey {API_KEY}"})
        by_basic = await http.post(restart_path(), auth=(BASIC_USER, BASIC_PASSWORD))
    assert (by_key.status_code, by_basic.status_code) == (202, 202)
    assert [c.auth_scheme for c in simulator.calls] == ["ApiKey", "Basic"]


async def test_ess_mode_rejects_basic_auth_but_accepts_api_keys(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator(mode="ess")
    async with httpx.AsyncClient(base_url=sim.url) as http:
        basic = await http.post(restart_path(), auth=(BASIC_USER, BASIC_PASSWORD))
        key = await http.post(restart_path(), headers=AUTH_HEADERS)
    assert_error(basic, 401, "root.unauthenticated")
    assert key.status_code == 202


async def test_the_call_log_never_holds_a_credential(simulator: Simulator) -> None:
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        await http.post(restart_path(), headers=AUTH_HEADERS)
        await http.get(f"/api/v1/deployments/{DEP}", auth=(BASIC_USER, BASIC_PASSWORD))
        await http.get(f"/api/v1/deployments/{DEP}", headers={"Authorization": "ApiKey leaked-canary-123"})
        admin = await http.get("/_simulator/calls")
    dumped = repr(simulator.calls) + admin.text + repr(simulator)
    for secret in (API_KEY, BASIC_PASSWORD, "leaked-canary-123", base64.b64encode(b"admin:").decode()[:6] + "zaW"):
        assert secret not in dumped


# -- success and conflicts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["kibana", "apm", "appsearch", "enterprise_search", "integrations_server"])
async def test_every_stateless_kind_restarts_with_202_empty_body(
    client: httpx.AsyncClient, simulator: Simulator, kind: str
) -> None:
    response = await client.post(restart_path(kind, f"main-{kind}"))
    assert response.status_code == 202
    assert response.json() == {}
    assert response.headers["content-type"].startswith("application/json")
    assert simulator.accepted_restarts(DEP, kind, f"main-{kind}") == 1
    assert simulator.calls[-1].applied is True
    assert set(STATELESS_KINDS) >= {kind}


async def test_elasticsearch_restart_records_its_query_parameters_in_the_plan(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    response = await client.post(
        restart_path("elasticsearch", "main-elasticsearch"),
        params={"group_attribute": "__all__", "shard_init_wait_time": "30", "skip_snapshot": "false"},
    )
    assert response.status_code == 202
    pending = simulator.resource(DEP, "elasticsearch", "main-elasticsearch").pending
    assert pending is not None
    transient = pending.plan["transient"]
    assert transient["plan_configuration"] == {"cluster_reboot": "forced", "skip_snapshot": False}
    assert transient["strategy"]["rolling"] == {"group_by": "__all__", "shard_init_wait_time": 30}
    assert "snapshot" in pending.steps
    assert pending.action == "deployments.restart-deployment-es-resource"


async def test_elasticsearch_defaults_follow_the_spec(client: httpx.AsyncClient, simulator: Simulator) -> None:
    assert (await client.post(restart_path("elasticsearch", "_main"))).status_code == 202
    pending = simulator.resource(DEP, "elasticsearch", "main-elasticsearch").pending
    assert pending is not None
    assert pending.plan["transient"]["strategy"]["rolling"] == {"group_by": "__zone__", "shard_init_wait_time": 600}
    assert pending.plan["transient"]["plan_configuration"]["skip_snapshot"] is True
    assert "snapshot" not in pending.steps


async def test_second_restart_while_pending_is_422_and_changes_nothing(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    assert (await client.post(restart_path())).status_code == 202
    before = simulator.resource(DEP, "kibana", "main-kibana").pending
    for query in ({}, {"cancel_pending": "false"}):
        second = await client.post(restart_path(), params=query)
        assert_error(second, 422, "deployments.deployment_resource_plan_change_error")
        assert "pending" in second.json()["errors"][0]["message"]
    assert simulator.resource(DEP, "kibana", "main-kibana").pending is before
    assert simulator.accepted_restarts(DEP, "kibana", "main-kibana") == 1


async def test_cancel_pending_true_cancels_the_pending_plan_first(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    assert (await client.post(restart_path())).status_code == 202
    first = simulator.resource(DEP, "kibana", "main-kibana").pending
    assert first is not None
    again = await client.post(restart_path(), params={"cancel_pending": "true"})
    assert again.status_code == 202
    resource = simulator.resource(DEP, "kibana", "main-kibana")
    assert resource.pending is not None and resource.pending is not first
    assert first.result == "cancelled" and resource.history[-1] is first
    assert simulator.accepted_restarts(DEP, "kibana", "main-kibana") == 2
    info = (
        await client.get(f"/api/v1/deployments/{DEP}/kibana/main-kibana", params={"show_plan_history": "true"})
    ).json()
    cancelled = info["info"]["plan_info"]["history"][-1]
    assert cancelled["plan_attempt_id"] == first.attempt_id
    assert cancelled["healthy"] is False and "error" in cancelled
    assert info["info"]["plan_info"]["pending"]["plan_attempt_id"] == resource.pending.attempt_id


async def test_cancel_pending_true_without_a_pending_plan_is_a_plain_restart(client: httpx.AsyncClient) -> None:
    assert (await client.post(restart_path(), params={"cancel_pending": "true"})).status_code == 202


async def test_main_ref_id_resolves_to_the_only_resource_of_a_kind(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    assert (await client.post(restart_path("kibana", "_main"))).status_code == 202
    assert simulator.accepted_restarts(DEP, "kibana", "main-kibana") == 1
    assert simulator.accepted_restarts(DEP, "kibana", "_main") == 1
    assert simulator.calls[-1].resolved_ref_id == "main-kibana"


async def test_main_is_not_found_when_a_kind_has_two_resources(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator()
    sim.state.deployment(DEP).add_resource("kibana", "second-kibana")
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS) as http:
        response = await http.post(restart_path("kibana", "_main"))
        named = await http.post(restart_path("kibana", "second-kibana"))
    assert_error(response, 404, "deployments.deployment_resource_not_found")
    assert named.status_code == 202


async def test_stopped_resource_is_started_with_its_last_successful_plan(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    path = restart_path(deployment_id=EXAMPLE_STOPPED_DEPLOYMENT_ID)
    assert (await client.post(path)).status_code == 202
    resource = simulator.resource(EXAMPLE_STOPPED_DEPLOYMENT_ID, "kibana", "main-kibana")
    assert resource.pending is not None and resource.pending.from_stopped
    assert "transient" not in resource.pending.plan  # no cluster_reboot when starting
    body = (await client.get(f"/api/v1/deployments/{EXAMPLE_STOPPED_DEPLOYMENT_ID}/kibana/main-kibana")).json()
    assert body["info"]["status"] == "initializing"
    simulator.advance(60)
    body = (await client.get(f"/api/v1/deployments/{EXAMPLE_STOPPED_DEPLOYMENT_ID}/kibana/main-kibana")).json()
    assert body["info"]["status"] == "started"


async def test_stopped_resource_without_a_successful_plan_is_422(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator()
    sim.state.add_deployment(
        "a" * 32, "broken", resources=[{"kind": "kibana", "ref_id": "k", "status": "stopped", "initial_plan": "error"}]
    )
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS) as http:
        response = await http.post(restart_path("kibana", "k", "a" * 32))
    assert_error(response, 422, "deployments.deployment_resource_plan_change_error")
    assert sim.accepted_restarts() == 0


# -- not found, bad input ----------------------------------------------------------------------------------------------


async def test_unknown_deployment_is_404_deployment_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(restart_path(deployment_id="0" * 32))
    assert_error(response, 404, "deployments.deployment_not_found")
    assert "0" * 32 in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("kind", ["kibana", "elasticsearch"])
async def test_unknown_ref_id_is_404_resource_not_found(client: httpx.AsyncClient, kind: str) -> None:
    assert_error(await client.post(restart_path(kind, "nope")), 404, "deployments.deployment_resource_not_found")


async def test_kind_absent_from_the_deployment_is_404_resource_not_found(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator()
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS) as http:
        response = await http.post(restart_path("apm", "_main", EXAMPLE_STOPPED_DEPLOYMENT_ID))
    assert_error(response, 404, "deployments.deployment_resource_not_found")


@pytest.mark.parametrize("kind", ["foo", "agent", "Kibana", "elasticsearchx"])
async def test_unknown_kind_is_404_root_resource_not_found(client: httpx.AsyncClient, kind: str) -> None:
    assert_error(await client.post(restart_path(kind, "main-kibana")), 404, "root.resource_not_found")


async def test_unknown_routes_and_methods_are_404_root_resource_not_found(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(restart_path()), 404, "root.resource_not_found")
    assert_error(
        await client.post(f"/api/v1/deployments/{DEP}/kibana/main-kibana/_stop"), 404, "root.resource_not_found"
    )
    assert_error(await client.get("/api/v1/nothing-here"), 404, "root.resource_not_found")


@pytest.mark.parametrize(
    ("kind", "query", "field"),
    [
        ("kibana", {"cancel_pending": "yes"}, "cancel_pending"),
        ("kibana", {"cancel_pending": ""}, "cancel_pending"),
        ("kibana", {"cancel_pending": "1"}, "cancel_pending"),
        ("elasticsearch", {"restore_snapshot": "nope"}, "restore_snapshot"),
        ("elasticsearch", {"skip_snapshot": "maybe"}, "skip_snapshot"),
        ("elasticsearch", {"shard_init_wait_time": "ten"}, "shard_init_wait_time"),
        ("elasticsearch", {"shard_init_wait_time": "-1"}, "shard_init_wait_time"),
        ("elasticsearch", {"group_attribute": ""}, "group_attribute"),
    ],
)
async def test_unparseable_query_parameters_are_400(
    client: httpx.AsyncClient, simulator: Simulator, kind: str, query: dict[str, str], field: str
) -> None:
    response = await client.post(restart_path(kind, "_main"), params=query)
    assert_error(response, 400, "root.invalid_data")
    assert response.json()["errors"][0]["fields"] == [field]
    assert simulator.accepted_restarts() == 0


@pytest.mark.parametrize("value", ["True", "FALSE", "0"])
async def test_booleans_are_strict_json_literals(client: httpx.AsyncClient, value: str) -> None:
    # Python's str(True) is "True": a client bug the simulator must expose, not forgive.
    assert_error(await client.post(restart_path(), params={"cancel_pending": value}), 400, "root.invalid_data")


async def test_percent_encoded_path_segments_are_decoded(client: httpx.AsyncClient, simulator: Simulator) -> None:
    response = await client.post(f"/api/v1/deployments/{DEP}/kibana/main%2Dkibana/_restart")
    assert response.status_code == 202
    assert simulator.accepted_restarts(DEP, "kibana", "main-kibana") == 1


# -- vanished, 449 ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "ref_id"), [("kibana", "main-kibana"), ("elasticsearch", "main-elasticsearch")])
async def test_vanished_resource_is_500_no_longer_exists(
    client: httpx.AsyncClient, simulator: Simulator, kind: str, ref_id: str
) -> None:
    simulator.resource(DEP, kind, ref_id).mark_vanished()
    assert_error(await client.post(restart_path(kind, ref_id)), 500, "deployments.deployment_resource_no_longer_exists")
    assert_error(
        await client.get(f"/api/v1/deployments/{DEP}/{kind}/{ref_id}"),
        500,
        "deployments.deployment_resource_no_longer_exists",
    )
    deployment = (await client.get(f"/api/v1/deployments/{DEP}")).json()
    assert all(r["ref_id"] != ref_id for r in deployment["resources"][kind])
    assert simulator.accepted_restarts() == 0


async def test_legacy_449_requires_elevated_permissions(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator(legacy_449=True, elevated_users=set())
    async with httpx.AsyncClient(base_url=sim.url) as http:
        plain = await http.post(restart_path(), headers=AUTH_HEADERS)
        basic = await http.post(restart_path(), auth=(BASIC_USER, BASIC_PASSWORD))
        es = await http.post(restart_path("elasticsearch", "main-elasticsearch"), headers=AUTH_HEADERS)
        delete = await http.delete(f"/api/v1/deployments/{DEP}/kibana/main-kibana/plan/pending", headers=AUTH_HEADERS)
        read = await http.get(f"/api/v1/deployments/{DEP}", headers=AUTH_HEADERS)
        elevated = await http.post(restart_path(), headers={"Authorization": f"ApiKey {ELEVATED_API_KEY}"})
    for response in (plain, basic, es, delete):
        assert_error(response, 449, "root.unauthorized.rbac.elevated_permissions_required")
    assert read.status_code == 200
    assert elevated.status_code == 202
    assert sim.accepted_restarts() == 1


async def test_legacy_449_with_an_elevated_basic_user(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator(legacy_449=True, elevated_users={BASIC_USER})
    async with httpx.AsyncClient(base_url=sim.url) as http:
        assert (await http.post(restart_path(), auth=(BASIC_USER, BASIC_PASSWORD))).status_code == 202


async def test_without_legacy_mode_there_is_never_a_449(client: httpx.AsyncClient) -> None:
    assert (await client.post(restart_path())).status_code == 202


def test_legacy_449_is_refused_in_ess_mode() -> None:
    with pytest.raises(ValueError, match="ECE mode"):
        Simulator(api_keys={"k"}, mode="ess", legacy_449=True)


@pytest.mark.parametrize(("restore", "expected"), [("true", True), ("false", False)])
async def test_stopped_elasticsearch_start_honours_restore_snapshot(
    make_simulator: MakeSimulator, restore: str, expected: bool
) -> None:
    sim = await make_simulator()
    sim.resource(EXAMPLE_STOPPED_DEPLOYMENT_ID, "elasticsearch", "main-elasticsearch").set_stopped()
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS) as http:
        path = restart_path("elasticsearch", "main-elasticsearch", EXAMPLE_STOPPED_DEPLOYMENT_ID)
        assert (await http.post(path, params={"restore_snapshot": restore})).status_code == 202
        info = await http.get(
            f"/api/v1/deployments/{EXAMPLE_STOPPED_DEPLOYMENT_ID}/elasticsearch/main-elasticsearch",
            params={"show_plan_logs": "true"},
        )
    pending = info.json()["info"]["plan_info"]["pending"]
    assert info.json()["info"]["status"] == "initializing"
    assert ("restore_snapshot" in pending["plan"].get("transient", {})) is expected
    steps = [step["step_id"] for step in pending["plan_attempt_log"]]
    assert steps[0] == "plan-validator"
