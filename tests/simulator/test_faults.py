"""Fault injection over real loopback HTTP: status faults, HTML proxy pages, 429, latency, reset, answer-then-drop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ece_restart.simulator import EXAMPLE_DEPLOYMENT_ID, EXAMPLE_STOPPED_DEPLOYMENT_ID, Fault, Simulator
from tests.support.simulator_fixtures import AUTH_HEADERS

DEP = EXAMPLE_DEPLOYMENT_ID
KIBANA = f"/api/v1/deployments/{DEP}/kibana/main-kibana"
APM = f"/api/v1/deployments/{DEP}/apm/main-apm"


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=simulator.url, headers=AUTH_HEADERS, timeout=10) as http:
        yield http


async def test_next_n_calls_answer_500_then_the_restart_goes_through(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    fault = simulator.add_fault(Fault(route="restart", status=500, times=2))
    statuses = []
    for _ in range(3):
        response = await client.post(KIBANA + "/_restart")
        statuses.append(response.status_code)
        if response.status_code == 500:
            assert response.headers["x-cloud-error-codes"] == "internal.server.error"
            assert response.json()["errors"][0]["code"] == "internal.server.error"
    assert statuses == [500, 500, 202]
    assert simulator.accepted_restarts(DEP, "kibana", "main-kibana") == 1
    assert fault.used == 2 and fault.exhausted
    assert [c.fault for c in simulator.calls] == ["status:500", "status:500", None]
    assert [c.applied for c in simulator.calls] == [False, False, True]


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_statuses_answer_a_proxy_html_page(
    client: httpx.AsyncClient, simulator: Simulator, status: int
) -> None:
    simulator.add_fault(Fault(route="restart", status=status))
    response = await client.post(KIBANA + "/_restart")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text and str(status) in response.text
    assert "x-cloud-error-codes" not in response.headers
    assert simulator.accepted_restarts() == 0
    assert simulator.calls[-1].response_text is not None and simulator.calls[-1].response_body is None


async def test_json_body_can_be_forced_for_a_gateway_status(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", status=503, body="json", retry_after=7))
    response = await client.post(KIBANA + "/_restart")
    assert response.status_code == 503 and response.headers["retry-after"] == "7"
    assert response.json()["errors"][0]["code"] == response.headers["x-cloud-error-codes"]


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (3, "3"), (1.5, "1.5"), ("120", "120")])
async def test_429_with_or_without_retry_after(
    client: httpx.AsyncClient, simulator: Simulator, retry_after: int | float | str | None, header: str | None
) -> None:
    simulator.add_fault(Fault(route="restart", status=429, retry_after=retry_after))
    response = await client.post(KIBANA + "/_restart")
    assert response.status_code == 429
    assert response.headers.get("retry-after") == header
    assert response.headers["x-cloud-error-codes"] == "root.rate_limited"
    assert simulator.accepted_restarts() == 0


async def test_faults_match_only_their_target(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.add_fault(
        Fault(route="restart", status=500, times=None, deployment_id=DEP, kind="apm", ref_id="main-apm")
    )
    assert (await client.post(APM + "/_restart")).status_code == 500
    assert (await client.post(KIBANA + "/_restart")).status_code == 202
    assert (await client.get(APM)).status_code == 200  # other route
    other = f"/api/v1/deployments/{EXAMPLE_STOPPED_DEPLOYMENT_ID}/kibana/main-kibana/_restart"
    assert (await client.post(other)).status_code == 202  # other deployment
    assert (await client.post(APM + "/_restart")).status_code == 500  # times=None: forever


async def test_fault_on_a_main_ref_matches_the_resolved_resource(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    simulator.add_fault(Fault(route="restart", status=500, ref_id="main-kibana"))
    assert (await client.post(f"/api/v1/deployments/{DEP}/kibana/_main/_restart")).status_code == 500


async def test_fault_on_elasticsearch_only(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", kind="elasticsearch", status=500))
    assert (await client.post(KIBANA + "/_restart")).status_code == 202
    es = await client.post(f"/api/v1/deployments/{DEP}/elasticsearch/main-elasticsearch/_restart")
    assert es.status_code == 500


async def test_skip_lets_the_first_calls_through(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="get_resource", status=500, skip=2, times=1))
    statuses = [(await client.get(KIBANA)).status_code for _ in range(4)]
    assert statuses == [200, 200, 500, 200]


async def test_faults_apply_to_read_routes_and_before_auth(simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="get_deployment", status=503))
    async with httpx.AsyncClient(base_url=simulator.url) as http:  # no credentials: the proxy answers first
        response = await http.get(f"/api/v1/deployments/{DEP}")
    assert response.status_code == 503


async def test_connection_reset_does_not_apply_the_restart(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", reset=True))
    with pytest.raises(httpx.TransportError):
        await client.post(KIBANA + "/_restart")
    assert simulator.accepted_restarts() == 0
    call = simulator.calls[-1]
    assert (call.status, call.delivered, call.applied, call.fault) == (None, False, False, "reset")
    # The next call is answered normally, on a new connection.
    assert (await client.post(KIBANA + "/_restart")).status_code == 202


async def test_answer_then_drop_applies_the_restart_but_loses_the_response(
    client: httpx.AsyncClient, simulator: Simulator
) -> None:
    simulator.add_fault(Fault(route="restart", drop_response=True))
    with pytest.raises(httpx.TransportError):
        await client.post(KIBANA + "/_restart")
    assert simulator.accepted_restarts(DEP, "kibana", "main-kibana") == 1
    call = simulator.calls[-1]
    assert (call.status, call.delivered, call.applied, call.fault) == (202, False, True, "drop_response")
    # A blind retry now meets the plan the lost call created.
    retry = await client.post(KIBANA + "/_restart")
    assert retry.status_code == 422


async def test_latency_delays_the_answer_past_a_client_timeout(simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", latency=30.0))
    async with httpx.AsyncClient(base_url=simulator.url, headers=AUTH_HEADERS, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(KIBANA + "/_restart")
    # Teardown stops the simulator without waiting out the 30 s.


async def test_small_latency_still_answers(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", latency=0.05, status=500))
    assert (await client.post(KIBANA + "/_restart")).status_code == 500
    assert simulator.calls[-1].fault == "status:500+latency:0.05"
    simulator.add_fault(Fault(route="restart", latency=0.01))
    assert (await client.post(KIBANA + "/_restart")).status_code == 202
    assert simulator.calls[-1].fault == "latency:0.01"


async def test_unrouted_fault_and_clear(client: httpx.AsyncClient, simulator: Simulator) -> None:
    simulator.add_fault(Fault(status=500, times=None))
    assert (await client.get("/api/v1/whatever")).status_code == 500
    simulator.clear_faults()
    assert (await client.get("/api/v1/whatever")).status_code == 404


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"status": 500, "reset": True},
        {"status": 200},
        {"route": "nope", "status": 500},
        {"status": 500, "times": 0},
        {"latency": -1.0},
        {"status": 500, "skip": -1},
    ],
)
def test_invalid_faults_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)  # type: ignore[arg-type]
