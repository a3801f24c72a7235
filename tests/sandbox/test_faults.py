"""Fault switches for later resilience tests: injected error answers, dropped watches, held and refused requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ece_restart.sandbox import Sandbox
from tests.sandbox.watchstream import Watcher
from tests.support.sandbox_fixtures import MERGE, RR_PATH, resource_restart

RR = RR_PATH.format(namespace="default")


async def test_next_requests_to_a_route_fail_with_the_given_status(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("f"))
    rule = sandbox.faults.fail_next(2, status=409, resource="resourcerestarts", subresource="status", verb="patch")
    status_patch = {"status": {"phase": "Pending"}}
    assert (await kube.patch(f"{RR}/f", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)).status_code == 200
    for _ in range(2):
        failed = await kube.patch(f"{RR}/f/status", json=status_patch, headers=MERGE)
        assert failed.status_code == 409 and failed.json()["reason"] == "Conflict"
    assert "status" not in (sandbox.get("resourcerestarts", "f", namespace="default") or {})
    assert (await kube.patch(f"{RR}/f/status", json=status_patch, headers=MERGE)).status_code == 200
    assert rule.remaining == 0
    assert [r.status_code for r in sandbox.requests if r.subresource == "status"] == [409, 409, 200]


async def test_throttling_with_retry_after(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    sandbox.faults.fail_next(status=429, method="GET", retry_after=3)
    throttled = await kube.get("/apis")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert (await kube.get("/apis")).status_code == 200
    sandbox.faults.fail_next(status=503)
    assert (await kube.post(RR, json=resource_restart("x"))).status_code == 503
    assert sandbox.get("resourcerestarts", "x", namespace="default") is None


@pytest.mark.parametrize("abrupt", [False, True])
async def test_drop_all_watch_streams(sandbox: Sandbox, kube: httpx.AsyncClient, abrupt: bool) -> None:
    async with Watcher(kube, RR, {}) as first, Watcher(kube, "/api/v1/namespaces", {}) as second:
        await second.wait_count(1)  # the "default" namespace, so both streams are surely open
        assert sandbox.faults.drop_watches(abrupt=abrupt) >= 2
        await asyncio.wait_for(asyncio.gather(first.ended.wait(), second.ended.wait()), 10)
    assert (first.error is not None) is abrupt
    async with Watcher(kube, RR, {}) as again:  # new watches work as before
        await kube.post(RR, json=resource_restart("after-drop"))
        await again.wait_count(1)


async def test_held_requests_wait_until_released(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    with sandbox.faults.holding():
        pending = asyncio.ensure_future(kube.get("/version"))
        done, _ = await asyncio.wait({pending}, timeout=0.3)
        assert not done  # still parked
    assert (await asyncio.wait_for(pending, 10)).status_code == 200


async def test_refused_connections_until_accepted(sandbox: Sandbox, sandbox_url: str) -> None:
    with sandbox.faults.refusing():
        async with httpx.AsyncClient(base_url=sandbox_url) as client:
            with pytest.raises(httpx.TransportError):
                await client.get("/version")
    async with httpx.AsyncClient(base_url=sandbox_url) as client:
        assert (await client.get("/version")).status_code == 200


async def test_clear_forgets_pending_faults(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    sandbox.faults.fail_next(5, status=500)
    sandbox.faults.clear()
    assert (await kube.get("/version")).status_code == 200
