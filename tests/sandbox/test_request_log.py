"""The request log: method, path, verb, resource, namespace, user agent, status, readable in-process."""

from __future__ import annotations

import httpx

from ece_restart.sandbox import Sandbox
from tests.sandbox.watchstream import Watcher
from tests.support.sandbox_fixtures import MERGE, RR_PATH, resource_restart, wait_until

RR = RR_PATH.format(namespace="default")


async def test_every_request_is_recorded_with_its_anatomy(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    sandbox.clear_requests()
    await kube.get("/apis")
    await kube.post(RR, json=resource_restart("r"))
    await kube.patch(f"{RR}/r/status", json={"status": {"phase": "Pending"}}, headers=MERGE)
    await kube.get(f"{RR}/missing")
    await kube.delete(f"{RR}/r")
    records = sandbox.requests
    assert [(r.method, r.verb, r.resource, r.subresource, r.name, r.status_code) for r in records] == [
        ("GET", "get", None, None, None, 200),
        ("POST", "create", "resourcerestarts", None, None, 201),
        ("PATCH", "patch", "resourcerestarts", "status", "r", 200),
        ("GET", "get", "resourcerestarts", None, "missing", 404),
        ("DELETE", "delete", "resourcerestarts", None, "r", 200),
    ]
    create = records[1]
    assert (create.api_group, create.api_version, create.namespace) == ("eceops.io", "v1alpha1", "default")
    assert create.user_agent == "sandbox-tests/1.0" and create.path == RR
    assert records[2].content_type == "application/merge-patch+json"
    assert all(r.time > 0 for r in records)


async def test_verbs_for_lists_watches_and_cluster_scoped_objects(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    sandbox.clear_requests()
    await kube.get("/api/v1/namespaces/default")
    await kube.get("/apis/eceops.io/v1alpha1/resourcerestarts", params={"labelSelector": "a=b"})
    async with Watcher(kube, RR, {"allowWatchBookmarks": "true"}):
        wait_until(lambda: any(r.verb == "watch" for r in sandbox.requests), what="the watch to be logged")
    records = sandbox.requests
    assert [(r.verb, r.resource, r.namespace) for r in records] == [
        ("get", "namespaces", "default"),
        ("list", "resourcerestarts", None),
        ("watch", "resourcerestarts", "default"),
    ]
    assert "labelSelector=a%3Db" in records[1].query or "labelSelector=a=b" in records[1].query


def test_counting_writes_per_object_in_a_sync_test(threaded_sandbox: Sandbox) -> None:
    with httpx.Client(base_url=threaded_sandbox.url or "") as client:
        client.post(RR, json=resource_restart("a"))
        for token in ("1", "2"):
            client.patch(f"{RR}/a", json={"spec": {"restartToken": token}}, headers=MERGE)
    writes = [r for r in threaded_sandbox.requests if r.verb in ("create", "patch", "update") and r.name in ("a", None)]
    assert len(writes) == 3
