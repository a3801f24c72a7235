"""Many writers and watchers at once: 1,000 creates in a burst with 3 watchers, and 50 idle watchers at once."""

from __future__ import annotations

import asyncio

import httpx

from tests.sandbox.watchstream import Watcher
from tests.support.sandbox_fixtures import RR_PATH, resource_restart

RR = RR_PATH.format(namespace="default")
ALL_RR = "/apis/eceops.io/v1alpha1/resourcerestarts"


async def test_thousand_creates_with_three_watchers_every_event_in_order(kube: httpx.AsyncClient) -> None:
    count = 1000
    version = (await kube.get(RR)).json()["metadata"]["resourceVersion"]
    params = {"resourceVersion": version, "allowWatchBookmarks": "true"}
    async with Watcher(kube, RR, params) as first, Watcher(kube, ALL_RR, params) as second, \
            Watcher(kube, RR, {**params, "labelSelector": "burst=yes"}) as third:
        gate = asyncio.Semaphore(32)

        async def create(index: int) -> str:
            body = resource_restart(f"burst-{index:04d}")
            body["metadata"]["labels"] = {"burst": "yes"}
            async with gate:
                response = await kube.post(RR, json=body)
            assert response.status_code == 201, response.text
            return str(response.json()["metadata"]["resourceVersion"])

        created_versions = await asyncio.gather(*(create(index) for index in range(count)))
        for watcher in (first, second, third):
            await watcher.wait_count(count, "ADDED", timeout=60)

    expected = sorted(int(v) for v in created_versions)
    for watcher in (first, second, third):
        added = watcher.of_type("ADDED")
        assert len(added) == count, len(added)
        versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in added]
        assert versions == expected  # every event, each once, in resourceVersion order
        assert len({event["object"]["metadata"]["name"] for event in added}) == count


async def test_fifty_watchers_all_get_the_event(kube: httpx.AsyncClient) -> None:
    version = (await kube.get(RR)).json()["metadata"]["resourceVersion"]
    limits = httpx.Limits(max_connections=80)
    async with httpx.AsyncClient(base_url=str(kube.base_url), limits=limits, timeout=30) as client:
        watchers = [Watcher(client, RR, {"resourceVersion": version}) for _ in range(50)]
        for watcher in watchers:
            await watcher.__aenter__()
        try:
            await kube.post(RR, json=resource_restart("shared"))
            await asyncio.gather(*(watcher.wait_count(1) for watcher in watchers))
        finally:
            for watcher in watchers:
                await watcher.__aexit__()
    assert all(w.events[0]["object"]["metadata"]["name"] == "shared" for w in watchers)
