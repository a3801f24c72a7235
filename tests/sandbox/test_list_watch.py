"""List and watch: global resourceVersions, selectors, bookmarks, 410 Expired, timeouts, resumption."""

from __future__ import annotations

import asyncio

import httpx

from ece_restart.sandbox import Sandbox
from tests.sandbox.watchstream import Watcher
from tests.support.sandbox_fixtures import MERGE, RR_PATH, resource_restart

RR = RR_PATH.format(namespace="default")
ALL_RR = "/apis/eceops.io/v1alpha1/resourcerestarts"


async def _labelled(kube: httpx.AsyncClient, name: str, namespace: str = "default", **labels: str) -> dict[str, str]:
    body = resource_restart(name)
    body["metadata"]["labels"] = labels
    response = await kube.post(RR_PATH.format(namespace=namespace), json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_list_is_a_typed_list_with_a_resource_version(kube: httpx.AsyncClient) -> None:
    created = [await _labelled(kube, name) for name in ("b", "a")]
    listing = (await kube.get(RR)).json()
    assert listing["kind"] == "ResourceRestartList" and listing["apiVersion"] == "eceops.io/v1alpha1"
    assert [item["metadata"]["name"] for item in listing["items"]] == ["a", "b"]
    assert int(listing["metadata"]["resourceVersion"]) >= max(int(c["metadata"]["resourceVersion"]) for c in created)


async def test_resource_versions_are_global_and_increasing(kube: httpx.AsyncClient) -> None:
    versions = [int((await _labelled(kube, f"r{i}"))["metadata"]["resourceVersion"]) for i in range(3)]
    config_map = await kube.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "c"}})
    versions.append(int(config_map.json()["metadata"]["resourceVersion"]))
    assert versions == sorted(versions) and len(set(versions)) == 4


async def test_cluster_wide_list_and_label_and_field_selectors(kube: httpx.AsyncClient) -> None:
    await kube.post("/api/v1/namespaces", json={"metadata": {"name": "other"}})
    await _labelled(kube, "x", app="a", tier="1")
    await _labelled(kube, "y", app="b")
    await _labelled(kube, "z", namespace="other", app="a")
    names = lambda response: sorted(item["metadata"]["name"] for item in response.json()["items"])  # noqa: E731
    assert names(await kube.get(ALL_RR)) == ["x", "y", "z"]
    assert names(await kube.get(ALL_RR, params={"labelSelector": "app=a"})) == ["x", "z"]
    assert names(await kube.get(ALL_RR, params={"labelSelector": "app!=a"})) == ["y"]
    assert names(await kube.get(ALL_RR, params={"labelSelector": "app in (a,b),!tier"})) == ["y", "z"]
    assert names(await kube.get(ALL_RR, params={"labelSelector": "tier"})) == ["x"]
    assert names(await kube.get(ALL_RR, params={"fieldSelector": "metadata.namespace=other"})) == ["z"]
    assert names(await kube.get(RR, params={"fieldSelector": "metadata.name=y"})) == ["y"]
    unsupported = await kube.get(RR, params={"fieldSelector": "spec.refId=x"})
    assert unsupported.status_code == 400


async def test_limit_and_continue(kube: httpx.AsyncClient) -> None:
    for index in range(5):
        await _labelled(kube, f"item{index}")
    first = (await kube.get(RR, params={"limit": "2"})).json()
    assert len(first["items"]) == 2 and first["metadata"]["remainingItemCount"] == 3
    rest = (await kube.get(RR, params={"limit": "10", "continue": first["metadata"]["continue"]})).json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["item2", "item3", "item4"]
    assert "continue" not in rest["metadata"]


async def test_watch_from_list_version_sees_every_change_in_order(kube: httpx.AsyncClient) -> None:
    await _labelled(kube, "before")
    version = (await kube.get(RR)).json()["metadata"]["resourceVersion"]
    async with Watcher(kube, RR, {"resourceVersion": version, "allowWatchBookmarks": "true"}) as watcher:
        await _labelled(kube, "w")
        await kube.patch(f"{RR}/w", json={"spec": {"restartToken": "1"}}, headers=MERGE)
        await kube.patch(f"{RR}/w/status", json={"status": {"phase": "Pending"}}, headers=MERGE)
        await kube.delete(f"{RR}/w")
        await watcher.wait_count(4)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in watcher.events] == [
        ("ADDED", "w"), ("MODIFIED", "w"), ("MODIFIED", "w"), ("DELETED", "w")
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in watcher.events]
    assert versions == sorted(versions) and versions[0] > int(version)


async def test_watch_without_version_starts_with_current_state(kube: httpx.AsyncClient) -> None:
    await _labelled(kube, "existing")
    async with Watcher(kube, RR, {}) as watcher:
        await watcher.wait_count(1)
        await _labelled(kube, "new")
        await watcher.wait_count(2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in watcher.events] == [
        ("ADDED", "existing"), ("ADDED", "new")
    ]


async def test_watch_resumes_from_an_older_version(kube: httpx.AsyncClient) -> None:
    first = await _labelled(kube, "one")
    await _labelled(kube, "two")
    await _labelled(kube, "three")
    async with Watcher(kube, RR, {"resourceVersion": first["metadata"]["resourceVersion"]}) as watcher:
        await watcher.wait_count(2)
    assert [e["object"]["metadata"]["name"] for e in watcher.events] == ["two", "three"]


async def test_label_selector_watch_turns_moves_into_added_and_deleted(kube: httpx.AsyncClient) -> None:
    await _labelled(kube, "mover", app="a")
    version = (await kube.get(RR)).json()["metadata"]["resourceVersion"]
    params = {"resourceVersion": version, "labelSelector": "app=a"}
    async with Watcher(kube, RR, params) as watcher:
        await kube.patch(f"{RR}/mover", json={"metadata": {"labels": {"app": "b"}}}, headers=MERGE)
        await _labelled(kube, "ignored", app="b")
        await kube.patch(f"{RR}/mover", json={"metadata": {"labels": {"app": "a"}}}, headers=MERGE)
        await watcher.wait_count(2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in watcher.events] == [
        ("DELETED", "mover"), ("ADDED", "mover")
    ]


async def test_field_selector_watch_on_one_name(kube: httpx.AsyncClient) -> None:
    params = {"fieldSelector": "metadata.name=target"}
    async with Watcher(kube, RR, params) as watcher:
        await _labelled(kube, "other")
        await _labelled(kube, "target")
        await watcher.wait_count(1)
    assert [e["object"]["metadata"]["name"] for e in watcher.events] == ["target"]


async def test_bookmarks_on_demand_and_periodically(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    version = (await kube.get(RR)).json()["metadata"]["resourceVersion"]
    async with Watcher(kube, RR, {"resourceVersion": version, "allowWatchBookmarks": "true"}) as watcher, \
            Watcher(kube, RR, {"resourceVersion": version}) as no_bookmarks:
        await _labelled(kube, "b")
        await no_bookmarks.wait_count(1)
        sandbox.bookmark_watches()
        await watcher.wait_count(1, "BOOKMARK")
    bookmark = watcher.of_type("BOOKMARK")[0]["object"]
    assert bookmark["kind"] == "ResourceRestart" and bookmark["apiVersion"] == "eceops.io/v1alpha1"
    assert int(bookmark["metadata"]["resourceVersion"]) == sandbox.resource_version
    assert no_bookmarks.of_type("BOOKMARK") == []

    sandbox.settings.bookmark_interval = 0.1
    async with Watcher(kube, RR, {"resourceVersion": version, "allowWatchBookmarks": "true"}) as periodic:
        await periodic.wait_count(2, "BOOKMARK")


async def test_send_initial_events_ends_with_the_marker_bookmark(kube: httpx.AsyncClient) -> None:
    await _labelled(kube, "init")
    params = {"sendInitialEvents": "true", "allowWatchBookmarks": "true", "resourceVersionMatch": "NotOlderThan"}
    async with Watcher(kube, RR, params) as watcher:
        await watcher.wait_count(1, "BOOKMARK")
    assert watcher.events[0]["type"] == "ADDED"
    assert watcher.events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_too_old_resource_version_is_410_expired(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    old = (await _labelled(kube, "old"))["metadata"]["resourceVersion"]
    await _labelled(kube, "newer")
    sandbox.compact()
    async with Watcher(kube, RR, {"resourceVersion": old}) as watcher:
        await asyncio.wait_for(watcher.ended.wait(), 10)
    assert len(watcher.events) == 1 and watcher.events[0]["type"] == "ERROR"
    status = watcher.events[0]["object"]
    assert (status["code"], status["reason"]) == (410, "Expired")
    current = str(sandbox.resource_version)
    async with Watcher(kube, RR, {"resourceVersion": current}) as fresh:
        await _labelled(kube, "after")
        await fresh.wait_count(1)
    assert fresh.events[0]["type"] == "ADDED"


async def test_timeout_seconds_ends_the_stream(kube: httpx.AsyncClient) -> None:
    async with Watcher(kube, RR, {"timeoutSeconds": "1"}) as watcher:
        await asyncio.wait_for(watcher.ended.wait(), 10)
    assert watcher.error is None


async def test_events_are_visible_in_both_event_groups(kube: httpx.AsyncClient) -> None:
    core_event = {
        "metadata": {"generateName": "kopf-event-"},
        "involvedObject": {"kind": "ResourceRestart", "name": "x", "namespace": "default"},
        "reason": "Logging", "message": "hello", "type": "Normal", "source": {"component": "kopf"},
    }
    async with Watcher(kube, "/apis/events.k8s.io/v1/namespaces/default/events", {}) as watcher:
        created = await kube.post("/api/v1/namespaces/default/events", json=core_event)
        assert created.status_code == 201
        await watcher.wait_count(1)
    event = watcher.events[0]["object"]
    assert event["apiVersion"] == "events.k8s.io/v1" and event["note"] == "hello"
    assert event["regarding"]["name"] == "x"
    selected = await kube.get("/api/v1/namespaces/default/events", params={"fieldSelector": "involvedObject.name=x"})
    assert [item["message"] for item in selected.json()["items"]] == ["hello"]
    new_style = {"metadata": {"name": "e2"}, "note": "via events.k8s.io", "reason": "R", "type": "Normal",
                 "regarding": {"kind": "Pod", "name": "p"}, "eventTime": "2026-01-01T00:00:00.000000Z",
                 "reportingController": "tests", "reportingInstance": "t", "action": "Test"}
    assert (await kube.post("/apis/events.k8s.io/v1/namespaces/default/events", json=new_style)).status_code == 201
    core = (await kube.get("/api/v1/namespaces/default/events/e2")).json()
    assert core["message"] == "via events.k8s.io" and core["involvedObject"]["name"] == "p"


async def test_leases_round_trip(kube: httpx.AsyncClient) -> None:
    path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    lease = {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}}
    created = (await kube.post(path, json=lease)).json()
    created["spec"]["holderIdentity"] = "you"
    assert (await kube.put(f"{path}/leader", json=created)).json()["spec"]["holderIdentity"] == "you"
    assert (await kube.put(f"{path}/leader", json=created)).status_code == 409
