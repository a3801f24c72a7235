"""Plan lifecycle on the injectable clock: pending -> current/history, success and failure, visibility, GET flags."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from ece_restart.simulator import EXAMPLE_DEPLOYMENT_ID, Simulator
from tests.support.simulator_fixtures import AUTH_HEADERS, PLAN_SECONDS

DEP = EXAMPLE_DEPLOYMENT_ID
KIBANA = f"/api/v1/deployments/{DEP}/kibana/main-kibana"
MakeSimulator = Callable[..., Awaitable[Simulator]]
LOGS = {"show_plan_logs": "true"}
ALL = {"show_plan_logs": "true", "show_plan_history": "true"}


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.url, headers=AUTH_HEADERS) as http:
        yield http


async def kibana_info(client: httpx.AsyncClient, params: dict[str, str] | None = None) -> dict[str, Any]:
    response = await client.get(KIBANA, params=params or {})
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()["info"]
    return info


async def restart(client: httpx.AsyncClient, path: str = KIBANA, **params: str) -> None:
    response = await client.post(path + "/_restart", params=params)
    assert response.status_code == 202, response.text


async def test_pending_plan_is_visible_at_once_with_a_first_step(client: httpx.AsyncClient) -> None:
    before = await kibana_info(client)
    assert before["status"] == "started" and "pending" not in before["plan_info"]
    await restart(client)
    info = await kibana_info(client, LOGS)
    pending = info["plan_info"]["pending"]
    assert info["status"] == "restarting"
    assert info["plan_info"]["healthy"] is True and pending["healthy"] is True
    uuid.UUID(pending["plan_attempt_id"])
    assert "attempt_end_time" not in pending
    assert pending["plan"]["transient"]["plan_configuration"]["cluster_reboot"] == "forced"
    steps = pending["plan_attempt_log"]
    assert steps[0]["step_id"] == "plan-validator" and steps[0]["status"] == "success"
    assert steps[-1]["stage"] == "in_progress" and steps[-1]["status"] == "pending"
    assert all(step["step_id"] != "plan-completed" for step in steps)
    assert pending["source"]["action"] == "deployments.restart-deployment-stateless-resource"
    assert pending["source"]["remote_addresses"] == ["127.0.0.1"]


async def test_steps_progress_with_the_clock_and_the_plan_completes(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    await restart(client)
    first = (await kibana_info(client, LOGS))["plan_info"]["pending"]
    simulator.advance(PLAN_SECONDS * 0.6)
    middle = (await kibana_info(client, LOGS))["plan_info"]["pending"]
    assert len(middle["plan_attempt_log"]) > len(first["plan_attempt_log"])
    assert middle["plan_attempt_id"] == first["plan_attempt_id"]
    simulator.advance(PLAN_SECONDS * 0.4)
    info = await kibana_info(client, ALL)
    plan_info = info["plan_info"]
    assert info["status"] == "started" and info["healthy"] is True
    assert "pending" not in plan_info and plan_info["healthy"] is True
    current = plan_info["current"]
    assert current["plan_attempt_id"] == first["plan_attempt_id"]
    assert current["healthy"] is True
    assert current["plan_end_time"] == "0001-01-01T00:00:00.000Z"
    assert current["attempt_end_time"] > current["attempt_start_time"]
    final = current["plan_attempt_log"][-1]
    assert (final["step_id"], final["status"], final["stage"]) == ("plan-completed", "success", "completed")
    history = plan_info["history"]
    assert history[-1]["plan_attempt_id"] == current["plan_attempt_id"]
    assert [h["plan_attempt_name"] for h in history] == ["attempt-0000000000", "attempt-0000000001"]
    assert history[0]["plan_end_time"] == current["attempt_end_time"]  # superseded when the restart completed
    # Ready for another restart.
    await restart(client)


async def test_plan_just_before_its_end_is_still_pending(client: httpx.AsyncClient, simulator: Simulator) -> None:
    await restart(client)
    simulator.advance(PLAN_SECONDS - 0.001)
    assert "pending" in (await kibana_info(client))["plan_info"]
    simulator.advance(0.001)
    assert "pending" not in (await kibana_info(client))["plan_info"]


async def test_a_failing_plan_ends_unhealthy_with_plan_completed_error(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    simulator.resource(DEP, "kibana", "main-kibana").fail_next_plan(failure_type="ClusterFailure:Boom")
    await restart(client)
    simulator.advance(PLAN_SECONDS)
    info = await kibana_info(client, ALL)
    current = info["plan_info"]["current"]
    assert info["plan_info"]["healthy"] is False and info["healthy"] is False
    assert info["status"] == "started"
    assert current["healthy"] is False
    assert current["error"]["failure_type"] == "ClusterFailure:Boom"
    final = current["plan_attempt_log"][-1]
    assert (final["step_id"], final["status"]) == ("plan-completed", "error")
    assert final["info_log"][0]["failure_type"] == "ClusterFailure:Boom"
    assert info["plan_info"]["history"][-1]["plan_attempt_id"] == current["plan_attempt_id"]
    # Only the next plan failed: the one after succeeds again.
    await restart(client)
    simulator.advance(PLAN_SECONDS)
    healed = await kibana_info(client)
    assert healed["plan_info"]["healthy"] is True and healed["plan_info"]["current"]["healthy"] is True


async def test_plan_outcome_error_fails_every_plan(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.resource(DEP, "kibana", "main-kibana").plan_outcome = "error"
    for _ in range(2):
        await restart(client)
        simulator.advance(PLAN_SECONDS)
        assert (await kibana_info(client))["plan_info"]["current"]["healthy"] is False


async def test_per_resource_plan_duration(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.resource(DEP, "kibana", "main-kibana").set_plan_duration(100)
    await restart(client)
    simulator.advance(PLAN_SECONDS)
    assert "pending" in (await kibana_info(client))["plan_info"]
    simulator.advance(100)
    assert "pending" not in (await kibana_info(client))["plan_info"]


async def test_zero_duration_plan_completes_immediately(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator(plan_seconds=0)
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS) as http:
        await restart(http)
        info = await kibana_info(http)
        assert "pending" not in info["plan_info"]
        assert info["plan_info"]["current"]["source"]["action"].startswith("deployments.restart-")


async def test_pending_visibility_delay_hides_the_plan_but_still_blocks_restarts(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator(pending_visibility_delay=2.0)
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS) as http:
        await restart(http)
        hidden = await kibana_info(http)
        assert "pending" not in hidden["plan_info"] and hidden["status"] == "started"
        assert (await http.post(KIBANA + "/_restart")).status_code == 422
        sim.advance(2.0)
        shown = await kibana_info(http)
        assert "pending" in shown["plan_info"] and shown["status"] == "restarting"


async def test_rebooting_status_is_configurable(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.resource(DEP, "kibana", "main-kibana").restart_status = "rebooting"
    await restart(client)
    assert (await kibana_info(client))["status"] == "rebooting"


async def test_get_deployment_flags(client: httpx.AsyncClient, simulator: Simulator) -> None:
    await restart(client)
    default = (await client.get(f"/api/v1/deployments/{DEP}")).json()
    assert set(default["resources"]) == {
        "elasticsearch",
        "kibana",
        "apm",
        "appsearch",
        "enterprise_search",
        "integrations_server",
    }
    plan_info = default["resources"]["kibana"][0]["info"]["plan_info"]
    assert plan_info["pending"]["plan_attempt_log"] == []  # show_plan_logs defaults to false
    assert plan_info["history"] == []  # show_plan_history defaults to false
    assert "current" in plan_info
    no_plans = (await client.get(f"/api/v1/deployments/{DEP}", params={"show_plans": "false"})).json()
    bare = no_plans["resources"]["kibana"][0]["info"]["plan_info"]
    assert set(bare) == {"healthy", "history"} and bare["history"] == []
    full = (await client.get(f"/api/v1/deployments/{DEP}", params=ALL)).json()
    full_info = full["resources"]["kibana"][0]["info"]["plan_info"]
    assert full_info["pending"]["plan_attempt_log"] and full_info["history"]
    assert default["resources"]["kibana"][0]["elasticsearch_cluster_ref_id"] == "main-elasticsearch"
    assert default["healthy"] is True and default["name"] == "production"


async def test_get_unknown_deployment_and_resource(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"/api/v1/deployments/{'f' * 32}")
    assert missing.status_code == 404 and missing.headers["x-cloud-error-codes"] == "deployments.deployment_not_found"
    nope = await client.get(f"/api/v1/deployments/{DEP}/kibana/nope")
    assert nope.status_code == 404
    assert nope.headers["x-cloud-error-codes"] == "deployments.deployment_resource_not_found"
    kind = await client.get(f"/api/v1/deployments/{DEP}/foo/main-kibana")
    assert kind.status_code == 404 and kind.headers["x-cloud-error-codes"] == "root.resource_not_found"
    bad = await client.get(f"/api/v1/deployments/{DEP}", params={"show_plans": "perhaps"})
    assert bad.status_code == 400 and bad.headers["x-cloud-error-codes"] == "root.invalid_data"


@pytest.mark.parametrize(
    ("kind", "ref_id"),
    [
        ("elasticsearch", "main-elasticsearch"),
        ("kibana", "main-kibana"),
        ("apm", "main-apm"),
        ("appsearch", "main-appsearch"),
        ("enterprise_search", "main-enterprise_search"),
        ("integrations_server", "main-integrations_server"),
    ],
)
async def test_get_resource_for_every_kind(client: httpx.AsyncClient, kind: str, ref_id: str) -> None:
    path = f"/api/v1/deployments/{DEP}/{kind}/{ref_id}"
    await restart(client, path)
    body = (await client.get(path, params=ALL)).json()
    assert body["ref_id"] == ref_id and len(body["id"]) == 32
    assert body["info"]["plan_info"]["pending"]["plan_attempt_log"]
    # the contract fixture validates the full <Kind>ResourceInfo shape at teardown


# -- DELETE .../plan/pending -----------------------------------------------------------------------------------------


async def test_delete_pending_plan_cancels_it_into_history(client: httpx.AsyncClient, simulator: Simulator) -> None:
    await restart(client)
    attempt = simulator.resource(DEP, "kibana", "main-kibana").pending
    assert attempt is not None
    response = await client.delete(KIBANA + "/plan/pending")
    assert response.status_code == 200
    assert response.json() == {"id": DEP, "kind": "kibana", "ref_id": "main-kibana"}
    info = await kibana_info(client, ALL)
    assert info["status"] == "started" and "pending" not in info["plan_info"]
    cancelled = info["plan_info"]["history"][-1]
    assert cancelled["plan_attempt_id"] == attempt.attempt_id and cancelled["healthy"] is False
    assert cancelled["plan_attempt_log"][-1]["step_id"] == "plan-completed"
    assert cancelled["plan_attempt_log"][-1]["status"] == "error"
    assert info["plan_info"]["current"]["plan_attempt_id"] != attempt.attempt_id
    await restart(client)  # no longer blocked


async def test_delete_without_pending_plan(client: httpx.AsyncClient) -> None:
    response = await client.delete(KIBANA + "/plan/pending")
    assert response.status_code == 400
    assert response.headers["x-cloud-error-codes"] == "deployments.resource_does_not_have_a_pending_plan"
    ignored = await client.delete(KIBANA + "/plan/pending", params={"ignore_missing": "true"})
    assert ignored.status_code == 200
    forced = await client.delete(KIBANA + "/plan/pending", params={"force_delete": "true", "ignore_missing": "true"})
    assert forced.status_code == 200


async def test_delete_pending_with_force_and_main(client: httpx.AsyncClient) -> None:
    await restart(client)
    response = await client.delete(
        f"/api/v1/deployments/{DEP}/kibana/_main/plan/pending", params={"force_delete": "true"}
    )
    assert response.status_code == 200 and response.json()["ref_id"] == "main-kibana"


async def test_delete_pending_errors(client: httpx.AsyncClient, simulator: Simulator) -> None:
    missing = await client.delete(f"/api/v1/deployments/{'e' * 32}/kibana/main-kibana/plan/pending")
    assert missing.status_code == 404
    bad = await client.delete(KIBANA + "/plan/pending", params={"force_delete": "x"})
    assert bad.status_code == 400
    simulator.resource(DEP, "kibana", "main-kibana").mark_vanished()
    gone = await client.delete(KIBANA + "/plan/pending")
    assert gone.status_code == 500
    assert gone.headers["x-cloud-error-codes"] == "deployments.deployment_resource_no_longer_exists"
