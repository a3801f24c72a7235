"""Admin endpoints under /_simulator: no auth, outside /api/v1, never in the call log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from ece_restart.simulator import EXAMPLE_DEPLOYMENT_ID, Simulator
from tests.support.simulator_fixtures import AUTH_HEADERS, PLAN_SECONDS, MakeSimulator

DEP = EXAMPLE_DEPLOYMENT_ID
KIBANA = f"/api/v1/deployments/{DEP}/kibana/main-kibana"


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.url, timeout=10) as http:
        yield http


async def test_calls_endpoint_lists_every_api_call(client: httpx.AsyncClient, simulator: Simulator) -> None:
    await client.post(KIBANA + "/_restart", headers=AUTH_HEADERS, params={"cancel_pending": "false"})
    await client.get(KIBANA, headers=AUTH_HEADERS)
    await client.get(KIBANA)  # no auth
    await client.get("/_simulator/health")  # admin: not logged
    body = (await client.get("/_simulator/calls")).json()
    calls = body["calls"]
    assert [c["seq"] for c in calls] == [1, 2, 3]
    first = calls[0]
    assert first["method"] == "POST" and first["route"] == "restart"
    assert first["path"] == KIBANA + "/_restart"
    assert first["query"] == {"cancel_pending": "false"}
    assert first["auth_scheme"] == "ApiKey" and first["authenticated"] is True
    assert (first["deployment_id"], first["kind"], first["ref_id"]) == (DEP, "kibana", "main-kibana")
    assert first["status"] == 202 and first["response_body"] == {} and first["applied"] is True
    assert isinstance(first["time"], float) and first["timestamp"].endswith("Z")
    assert calls[1]["route"] == "get_resource" and calls[1]["status"] == 200
    assert calls[2]["auth_scheme"] is None and calls[2]["status"] == 401
    only_restarts = (await client.get("/_simulator/calls", params={"route": "restart"})).json()["calls"]
    assert len(only_restarts) == 1
    assert (await client.delete("/_simulator/calls")).status_code == 200
    assert (await client.get("/_simulator/calls")).json() == {"calls": []}
    assert simulator.calls == []


async def test_faults_endpoint_adds_lists_and_removes(client: httpx.AsyncClient) -> None:
    created = await client.post("/_simulator/faults", json={"route": "restart", "status": 503, "times": 2})
    assert created.status_code == 201
    fault = created.json()["fault"]
    assert fault["status"] == 503 and fault["id"] >= 1
    listed = (await client.get("/_simulator/faults")).json()["faults"]
    assert [f["id"] for f in listed] == [fault["id"]]
    assert (await client.post(KIBANA + "/_restart", headers=AUTH_HEADERS)).status_code == 503
    assert (await client.get("/_simulator/faults")).json()["faults"][0]["used"] == 1
    assert (await client.delete(f"/_simulator/faults/{fault['id']}")).status_code == 200
    assert (await client.delete(f"/_simulator/faults/{fault['id']}")).status_code == 404
    assert (await client.delete("/_simulator/faults/x")).status_code == 400
    assert (await client.post(KIBANA + "/_restart", headers=AUTH_HEADERS)).status_code == 202
    await client.post("/_simulator/faults", json={"status": 500})
    assert (await client.delete("/_simulator/faults")).status_code == 200
    assert (await client.get("/_simulator/faults")).json()["faults"] == []


@pytest.mark.parametrize(
    "payload", [{"status": 200}, {"bogus": 1}, {"route": "restart"}, [1, 2], {"status": 500, "reset": True}]
)
async def test_invalid_faults_are_400(client: httpx.AsyncClient, payload: object) -> None:
    response = await client.post("/_simulator/faults", json=payload)
    assert response.status_code == 400 and response.json()["error"]


async def test_restarts_count_and_reset(client: httpx.AsyncClient, simulator: Simulator) -> None:
    await client.post(KIBANA + "/_restart", headers=AUTH_HEADERS)
    await client.post(f"/api/v1/deployments/{DEP}/apm/main-apm/_restart", headers=AUTH_HEADERS)
    count = (await client.get("/_simulator/restarts", params={"deployment_id": DEP, "kind": "kibana"})).json()
    assert count == {"count": 1}
    assert (await client.get("/_simulator/restarts")).json() == {"count": 2}
    await client.post("/_simulator/faults", json={"status": 500})
    assert (await client.post("/_simulator/reset")).status_code == 200
    assert (await client.get("/_simulator/restarts")).json() == {"count": 0}
    assert simulator.calls == [] and simulator.faults.active() == []
    assert simulator.resource(DEP, "kibana", "main-kibana").pending is None
    # After a reset the old pending plan is gone: a restart is accepted again.
    assert (await client.post(KIBANA + "/_restart", headers=AUTH_HEADERS)).status_code == 202


async def test_clock_endpoint_advances_a_manual_clock(client: httpx.AsyncClient) -> None:
    await client.post(KIBANA + "/_restart", headers=AUTH_HEADERS)
    moved = await client.post("/_simulator/clock", json={"advance": PLAN_SECONDS})
    assert moved.status_code == 200 and moved.json()["now"] == PLAN_SECONDS
    info = (await client.get(KIBANA, headers=AUTH_HEADERS)).json()["info"]
    assert "pending" not in info["plan_info"]
    assert (await client.post("/_simulator/clock", json={"advance": -1})).status_code == 400
    assert (await client.post("/_simulator/clock", json={})).status_code == 400


async def test_clock_endpoint_refuses_a_real_clock(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator(clock=time.monotonic)
    async with httpx.AsyncClient(base_url=sim.url) as http:
        assert (await http.post("/_simulator/clock", json={"advance": 1})).status_code == 409


async def test_patch_resource_knobs(client: httpx.AsyncClient, simulator: Simulator) -> None:
    patch = await client.patch(f"/_simulator/resources/{DEP}/kibana/main-kibana", json={"vanished": True})
    assert patch.status_code == 200
    gone = await client.post(KIBANA + "/_restart", headers=AUTH_HEADERS)
    assert gone.status_code == 500
    await client.patch(
        f"/_simulator/resources/{DEP}/kibana/main-kibana",
        json={"vanished": False, "fail_next_plans": 1, "plan_seconds": 1},
    )
    assert (await client.post(KIBANA + "/_restart", headers=AUTH_HEADERS)).status_code == 202
    simulator.advance(1)
    info = (await client.get(KIBANA, headers=AUTH_HEADERS)).json()["info"]
    assert info["plan_info"]["current"]["healthy"] is False
    bad = await client.patch(f"/_simulator/resources/{DEP}/kibana/main-kibana", json={"status": "melting"})
    assert bad.status_code == 400
    unknown = await client.patch(f"/_simulator/resources/{DEP}/kibana/main-kibana", json={"id": "x"})
    assert unknown.status_code == 400
    missing = await client.patch(f"/_simulator/resources/{DEP}/kibana/nope", json={"vanished": True})
    assert missing.status_code == 404


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_simulator/health")).json() == {"ok": True, "mode": "ece", "legacy_449": False}
