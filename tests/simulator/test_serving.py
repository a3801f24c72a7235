"""Serving modes: in a thread (sync tests, Kopf in other threads), TLS with a generated CA, concurrency."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
import trustme

from ece_restart.simulator import EXAMPLE_DEPLOYMENT_ID, ManualClock, Simulator
from tests.support.simulator_fixtures import API_KEY, AUTH_HEADERS, MakeSimulator, MakeSimulatorInThread

DEP = EXAMPLE_DEPLOYMENT_ID
KIBANA = f"/api/v1/deployments/{DEP}/kibana/main-kibana"


def test_simulator_in_thread_serves_sync_clients(simulator_in_thread: Simulator) -> None:
    sim = simulator_in_thread
    assert sim.url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=sim.url, headers=AUTH_HEADERS) as http:
        assert http.post(KIBANA + "/_restart").status_code == 202
        assert http.post(KIBANA + "/_restart").status_code == 422
        sim.advance(60)
        assert "pending" not in http.get(KIBANA).json()["info"]["plan_info"]
    assert sim.accepted_restarts(DEP, "kibana", "main-kibana") == 1


def test_serving_in_thread_stops_and_frees_the_port() -> None:
    sim = Simulator(api_keys={API_KEY}, clock=ManualClock())
    with sim.serving_in_thread() as url:
        assert httpx.get(url + "/_simulator/health").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_simulator/health")


def test_serving_in_thread_reports_bind_errors() -> None:
    first = Simulator(api_keys={API_KEY})
    with first.serving_in_thread() as url:
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(OSError), Simulator(api_keys={API_KEY}).serving_in_thread(port=port):
            pass


def test_thread_fixture_factory_with_options(make_simulator_in_thread: MakeSimulatorInThread) -> None:
    sim = make_simulator_in_thread(mode="ess")
    with httpx.Client(base_url=sim.url) as http:
        assert http.get(f"/api/v1/deployments/{DEP}", auth=("admin", "x")).status_code == 401


async def test_tls_with_a_generated_ca(make_simulator: MakeSimulator) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    sim = await make_simulator(ssl_context=server_context)
    assert sim.url.startswith("https://127.0.0.1:")
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS, verify=client_context) as http:
        assert (await http.post(KIBANA + "/_restart")).status_code == 202
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS) as untrusting:
        with pytest.raises(httpx.ConnectError):
            await untrusting.get(KIBANA)
    assert sim.accepted_restarts() == 1


async def test_tls_reset_fault(make_simulator: MakeSimulator) -> None:
    from ece_restart.simulator import Fault

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    sim = await make_simulator(ssl_context=server_context)
    sim.add_fault(Fault(route="restart", drop_response=True))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS, verify=client_context) as http:
        with pytest.raises(httpx.TransportError):
            await http.post(KIBANA + "/_restart")
    assert sim.accepted_restarts() == 1


async def test_concurrent_restarts_accept_exactly_one(simulator: Simulator) -> None:
    async with httpx.AsyncClient(base_url=simulator.url, headers=AUTH_HEADERS) as http:
        responses = await asyncio.gather(*(http.post(KIBANA + "/_restart") for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] + [422] * 19
    assert simulator.accepted_restarts(DEP, "kibana", "main-kibana") == 1


async def test_serving_twice_is_refused(simulator: Simulator) -> None:
    with pytest.raises(RuntimeError):
        async with simulator.serving():
            pass
