"""Status subresource separation, generation bumps on spec changes only, sane uid/timestamps/managedFields."""

from __future__ import annotations

import httpx

from tests.support.sandbox_fixtures import MERGE, RR_PATH, resource_restart

RR = RR_PATH.format(namespace="default")


async def test_status_on_create_is_dropped(kube: httpx.AsyncClient) -> None:
    body = resource_restart("s")
    body["status"] = {"phase": "Succeeded"}
    assert "status" not in (await kube.post(RR, json=body)).json()


async def test_status_writes_change_only_status(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("s"))
    patch = {"spec": {"restartToken": "sneaky"}, "metadata": {"labels": {"x": "y"}}, "status": {"phase": "Pending"}}
    response = await kube.patch(f"{RR}/s/status", json=patch, headers=MERGE)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == {"phase": "Pending"}
    assert "restartToken" not in body["spec"] and "labels" not in body["metadata"]
    assert body["metadata"]["generation"] == 1


async def test_main_writes_ignore_status(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("m"))
    await kube.patch(f"{RR}/m/status", json={"status": {"phase": "Pending"}}, headers=MERGE)
    response = await kube.patch(f"{RR}/m", json={"status": {"phase": "Failed"}, "metadata": {"labels": {"a": "b"}}},
                                headers=MERGE)
    assert response.json()["status"] == {"phase": "Pending"}
    assert response.json()["metadata"]["labels"] == {"a": "b"}
    current = response.json()
    put = await kube.put(f"{RR}/m", json=dict(current, status={"phase": "Failed"}))
    assert put.json()["status"] == {"phase": "Pending"}


async def test_status_put_and_get(kube: httpx.AsyncClient) -> None:
    created = (await kube.post(RR, json=resource_restart("p"))).json()
    response = await kube.put(f"{RR}/p/status", json=dict(created, status={"phase": "Requesting", "attempts": 1}))
    assert response.status_code == 200 and response.json()["status"]["attempts"] == 1
    assert (await kube.get(f"{RR}/p/status")).json()["status"]["phase"] == "Requesting"
    assert (await kube.get(f"{RR}/p/scale")).status_code == 404


async def test_generation_bumps_on_spec_changes_only(kube: httpx.AsyncClient) -> None:
    created = (await kube.post(RR, json=resource_restart("g"))).json()
    version = int(created["metadata"]["resourceVersion"])
    labels = (await kube.patch(f"{RR}/g", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)).json()
    assert labels["metadata"]["generation"] == 1 and int(labels["metadata"]["resourceVersion"]) > version
    status = (await kube.patch(f"{RR}/g/status", json={"status": {"phase": "Pending"}}, headers=MERGE)).json()
    assert status["metadata"]["generation"] == 1
    spec = (await kube.patch(f"{RR}/g", json={"spec": {"restartToken": "2"}}, headers=MERGE)).json()
    assert spec["metadata"]["generation"] == 2


async def test_no_op_patch_keeps_resource_version(kube: httpx.AsyncClient) -> None:
    created = (await kube.post(RR, json=resource_restart("n"))).json()
    same = (await kube.patch(f"{RR}/n", json={"spec": {"refId": "main-kibana"}}, headers=MERGE)).json()
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_uid_timestamp_and_managed_fields_are_sane(kube: httpx.AsyncClient) -> None:
    created = (await kube.post(RR, json=resource_restart("u"), params={"fieldManager": "creator"})).json()
    metadata = created["metadata"]
    assert len(metadata["uid"]) == 36 and metadata["creationTimestamp"][10] == "T"
    assert [entry["manager"] for entry in metadata["managedFields"]] == ["creator"]
    assert "f:deploymentId" in metadata["managedFields"][0]["fieldsV1"]["f:spec"]
    patch = {"metadata": {"uid": "forged", "creationTimestamp": "2000-01-01T00:00:00Z"}, "status": {"phase": "Pending"}}
    updated = (await kube.patch(f"{RR}/u/status", json=patch, headers=MERGE)).json()
    assert updated["metadata"]["uid"] == metadata["uid"]
    assert updated["metadata"]["creationTimestamp"] == metadata["creationTimestamp"]
    entries = {(e["manager"], e.get("subresource")) for e in updated["metadata"]["managedFields"]}
    assert ("sandbox-tests", "status") in entries  # derived from the User-Agent, like the apiserver does
    forged = (await kube.patch(f"{RR}/u", json={"metadata": {"uid": "forged"}}, headers=MERGE)).json()
    assert forged["metadata"]["uid"] == metadata["uid"]
