"""The client over real loopback HTTP against the ECE simulator: every answer maps to the right typed result."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable

import pytest
import trustme

from ece_restart.client import USER_AGENT, EceClient, ResourceInfo
from ece_restart.connection import ApiKeyCredentials, BasicCredentials, ConnectionConfig, Secret, Timeouts
from ece_restart.plans import AttemptState
from ece_restart.results import Classification, Outcome, RequestFailed, RestartAccepted
from ece_restart.retry import RetryPolicy
from ece_restart.runs import run_restart
from ece_restart.simulator import Fault, Simulator
from ece_restart.simulator.state import EXAMPLE_DEPLOYMENT_ID, EXAMPLE_STOPPED_DEPLOYMENT_ID
from ece_restart.targets import ElasticsearchRestartOptions, RestartTarget
from tests.support.simulator_fixtures import API_KEY, BASIC_PASSWORD, BASIC_USER, ELEVATED_API_KEY

MakeSimulator = Callable[..., Awaitable[Simulator]]
KIBANA = RestartTarget.of(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana")


def client_for(sim: Simulator, *, key: str = API_KEY, timeouts: Timeouts | None = None) -> EceClient:
    return EceClient(ConnectionConfig(sim.url, ApiKeyCredentials(Secret(key)), timeouts=timeouts or Timeouts()))


async def no_sleep(_: float) -> None:
    return None


async def test_accepted_restart_with_apikey(simulator: Simulator) -> None:
    async with client_for(simulator) as client:
        result = await client.restart(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana")
    assert isinstance(result, RestartAccepted) and result.http_status == 202
    (call,) = simulator.calls
    assert (call.method, call.route, call.auth_scheme, call.query) == ("POST", "restart", "ApiKey",
                                                                       {"cancel_pending": "false"})
    assert simulator.accepted_restarts(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana") == 1


async def test_accepted_restart_with_basic_auth_and_user_agent(simulator: Simulator) -> None:
    config = ConnectionConfig(simulator.url, BasicCredentials(BASIC_USER, Secret(BASIC_PASSWORD)))
    async with EceClient(config) as client:
        result = await client.restart(EXAMPLE_DEPLOYMENT_ID, "elasticsearch", "main-elasticsearch",
                                      elasticsearch=ElasticsearchRestartOptions(group_attribute="__all__"))
    assert isinstance(result, RestartAccepted)
    (call,) = simulator.calls
    assert call.auth_scheme == "Basic" and call.query["group_attribute"] == "__all__"
    assert USER_AGENT.startswith("ece-restart-operator/")


@pytest.mark.parametrize(
    ("deployment_id", "kind", "ref_id", "status", "code", "outcome"),
    [
        ("ffffffffffffffffffffffffffffffff", "kibana", "main-kibana", 404, "deployments.deployment_not_found",
         Outcome.DEPLOYMENT_NOT_FOUND),
        (EXAMPLE_STOPPED_DEPLOYMENT_ID, "apm", "main-apm", 404, "deployments.deployment_resource_not_found",
         Outcome.RESOURCE_NOT_FOUND),
    ],
)
async def test_not_found_is_permanent(simulator: Simulator, deployment_id: str, kind: str, ref_id: str,
                                      status: int, code: str, outcome: Outcome) -> None:
    async with client_for(simulator) as client:
        result = await client.restart(deployment_id, kind, ref_id)
    assert isinstance(result, RequestFailed)
    assert (result.http_status, result.error_code, result.outcome, result.classification) == (
        status, code, outcome, Classification.PERMANENT)


async def test_wrong_key_is_unauthorized(simulator: Simulator) -> None:
    async with client_for(simulator, key="wrong") as client:
        result = await client.restart_target(KIBANA)
    assert isinstance(result, RequestFailed)
    assert (result.http_status, result.error_code, result.outcome) == (401, "root.unauthenticated",
                                                                       Outcome.UNAUTHORIZED)


async def test_pending_plan_conflict_and_cancel_pending(simulator: Simulator) -> None:
    async with client_for(simulator) as client:
        assert isinstance(await client.restart_target(KIBANA), RestartAccepted)
        conflict = await client.restart_target(KIBANA)
        assert isinstance(conflict, RequestFailed)
        assert (conflict.http_status, conflict.outcome, conflict.classification) == (
            422, Outcome.PLAN_CHANGE_CONFLICT, Classification.PERMANENT)
        assert isinstance(await client.restart_target(KIBANA, cancel_pending=True), RestartAccepted)
    assert simulator.accepted_restarts(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana") == 2


async def test_legacy_ece_asks_for_elevated_permissions(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator(legacy_449=True)
    async with client_for(sim) as client:
        result = await client.restart_target(KIBANA)
    async with client_for(sim, key=ELEVATED_API_KEY) as client:
        elevated = await client.restart_target(KIBANA)
    assert isinstance(result, RequestFailed)
    assert (result.http_status, result.outcome) == (449, Outcome.ELEVATED_PERMISSIONS_REQUIRED)
    assert "Retry With" in result.message
    assert isinstance(elevated, RestartAccepted)


async def test_vanished_resource_is_a_retryable_500(simulator: Simulator) -> None:
    simulator.resource(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana").mark_vanished()
    async with client_for(simulator) as client:
        result = await client.restart_target(KIBANA)
    assert isinstance(result, RequestFailed)
    assert (result.http_status, result.outcome, result.classification) == (
        500, Outcome.RESOURCE_GONE, Classification.RETRYABLE)


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (502, None), (503, "7"), (504, None), (429, "3"),
                                                     (429, None)])
async def test_transient_statuses_are_retryable(simulator: Simulator, status: int, retry_after: str | None) -> None:
    simulator.add_fault(Fault(route="restart", status=status, retry_after=retry_after))
    async with client_for(simulator) as client:
        result = await client.restart_target(KIBANA)
    assert isinstance(result, RequestFailed)
    assert result.http_status == status and result.classification is Classification.RETRYABLE
    assert result.retry_after == (float(retry_after) if retry_after else None)
    assert "<html" not in result.message.lower()


async def test_500_is_retried_then_succeeds_when_the_fault_clears(simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", status=500, times=2))
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    async with client_for(simulator) as client:
        report = await run_restart(client, KIBANA, policy=RetryPolicy(max_attempts=5, initial_delay=1, max_delay=4),
                                   sleep=record)
    assert isinstance(report.result, RestartAccepted)
    assert report.attempts == 3 and len(delays) == 2 and all(0 <= d <= 2 for d in delays)
    assert simulator.accepted_restarts(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana") == 1


async def test_retries_stop_at_the_cap(simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", status=503, times=None, retry_after="1000"))
    delays: list[float] = []

    async def record(delay: float) -> None:
        delays.append(delay)

    async with client_for(simulator) as client:
        report = await run_restart(client, KIBANA, policy=RetryPolicy(max_attempts=4, initial_delay=1, max_delay=30),
                                   sleep=record)
    assert isinstance(report.result, RequestFailed)
    assert report.result.outcome is Outcome.RETRIES_EXHAUSTED and report.attempts == 4
    assert delays == [30, 30, 30]  # Retry-After honoured, capped at max_delay
    assert len([c for c in simulator.calls if c.route == "restart"]) == 4


async def test_lost_answer_is_ambiguous_and_not_retried(simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", drop_response=True))
    async with client_for(simulator) as client:
        report = await run_restart(client, KIBANA, policy=RetryPolicy(max_attempts=5), sleep=no_sleep)
    assert isinstance(report.result, RequestFailed)
    assert report.result.classification is Classification.AMBIGUOUS and report.attempts == 1
    assert "may or may not have been applied" in report.result.message
    assert simulator.accepted_restarts(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana") == 1


async def test_slow_answer_beyond_the_read_timeout_is_ambiguous(simulator: Simulator) -> None:
    simulator.add_fault(Fault(route="restart", latency=2.0))
    async with client_for(simulator, timeouts=Timeouts(read=0.2, total=5)) as client:
        result = await client.restart_target(KIBANA)
    assert isinstance(result, RequestFailed) and result.classification is Classification.AMBIGUOUS


async def test_connection_refused_is_retryable() -> None:
    config = ConnectionConfig("http://127.0.0.1:9", ApiKeyCredentials(Secret(API_KEY)))
    async with EceClient(config) as client:
        result = await client.restart_target(KIBANA)
    assert isinstance(result, RequestFailed)
    assert (result.classification, result.outcome, result.http_status) == (
        Classification.RETRYABLE, Outcome.CONNECTION_FAILED, None)


async def test_plan_info_shows_our_attempt_until_it_completes(simulator: Simulator) -> None:
    async with client_for(simulator) as client:
        before = await client.get_resource(KIBANA)
        assert isinstance(before, ResourceInfo) and before.plans.pending is None
        assert isinstance(await client.restart_target(KIBANA), RestartAccepted)
        running = await client.get_resource(KIBANA)
        assert isinstance(running, ResourceInfo) and running.plans.pending is not None
        assert running.plans.pending.state is AttemptState.RUNNING
        attempt_id = running.plans.pending.attempt_id
        simulator.clock.advance(60)  # type: ignore[attr-defined]
        done = await client.get_resource(KIBANA)
    assert isinstance(done, ResourceInfo) and done.plans.pending is None
    finished = done.plans.find(attempt_id or "")
    assert finished is not None and finished.state is AttemptState.SUCCEEDED and finished.end_time is not None


async def test_failed_plan_is_reported_with_its_failure_type(simulator: Simulator) -> None:
    simulator.resource(EXAMPLE_DEPLOYMENT_ID, "kibana", "main-kibana").fail_next_plan()
    async with client_for(simulator) as client:
        assert isinstance(await client.restart_target(KIBANA), RestartAccepted)
        simulator.clock.advance(60)  # type: ignore[attr-defined]
        info = await client.get_resource(KIBANA)
    assert isinstance(info, ResourceInfo) and info.plans.current is not None
    assert info.plans.current.state is AttemptState.FAILED
    assert info.plans.current.failure_type and info.plans.current.error_message


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


async def test_tls_with_a_self_signed_ca(make_simulator: MakeSimulator, tls_ca: trustme.CA) -> None:
    sim = await make_simulator(ssl_context=server_context(tls_ca))
    assert sim.url.startswith("https://")
    config = ConnectionConfig(sim.url, ApiKeyCredentials(Secret(API_KEY)), ca_pem=tls_ca.cert_pem.bytes().decode())
    async with EceClient(config) as client:
        assert isinstance(await client.restart_target(KIBANA), RestartAccepted)


async def test_tls_without_the_ca_fails_cleanly_and_permanently(make_simulator: MakeSimulator,
                                                                tls_ca: trustme.CA) -> None:
    sim = await make_simulator(ssl_context=server_context(tls_ca))
    async with EceClient(ConnectionConfig(sim.url, ApiKeyCredentials(Secret(API_KEY)))) as client:
        result = await client.restart_target(KIBANA)
    assert isinstance(result, RequestFailed)
    assert (result.classification, result.outcome) == (Classification.PERMANENT, Outcome.TLS_VERIFICATION_FAILED)
    assert "ca.crt" in result.message
    assert sim.accepted_restarts() == 0


async def test_insecure_flag_skips_verification_and_warns_once(make_simulator: MakeSimulator, tls_ca: trustme.CA,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    sim = await make_simulator(ssl_context=server_context(tls_ca))
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        config = ConnectionConfig(sim.url, ApiKeyCredentials(Secret(API_KEY)), insecure_skip_verify=True)
        async with EceClient(config) as client:
            assert isinstance(await client.restart_target(KIBANA, cancel_pending=True), RestartAccepted)
    assert sum("TLS verification is disabled" in r.getMessage() for r in caplog.records) == 1


CANARY = "canary-9f8e7d6c5b4a-key"


async def test_a_canary_key_never_appears_in_logs_results_or_errors(
    make_simulator: MakeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim = await make_simulator(api_keys={CANARY})
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with client_for(sim, key=CANARY) as client:
        seen.append(repr(client))
        seen.append(repr(await client.restart_target(KIBANA)))
        sim.add_fault(Fault(route="restart", status=500))
        seen.append(repr(await client.restart_target(KIBANA, cancel_pending=True)))
        sim.add_fault(Fault(route="restart", reset=True))
        seen.append(repr(await client.restart_target(KIBANA, cancel_pending=True)))
    async with client_for(sim, key="wrong-" + CANARY[:4]) as client:
        seen.append(repr(await client.restart_target(KIBANA)))
    try:
        RestartTarget.of(CANARY, "kibana", "x")
    except ValueError as error:  # a deployment id is not a secret, but prove exceptions carry only what they got
        seen.append(str(error))
    text = "\n".join(seen[:-1]) + "\n" + caplog.text
    assert CANARY not in text
    assert any(call.auth_scheme == "ApiKey" for call in sim.calls)
