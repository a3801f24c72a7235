"""Create (generateName), get, update (409 on stale resourceVersion), delete with finalizers, and every patch type."""

from __future__ import annotations

import httpx
import pytest

from ece_restart.sandbox import Sandbox
from tests.support.sandbox_fixtures import JSON_PATCH, MERGE, RR_PATH, STRATEGIC, resource_restart

RR = RR_PATH.format(namespace="default")
CM = "/api/v1/namespaces/default/configmaps"


async def test_create_then_get_with_system_metadata(kube: httpx.AsyncClient) -> None:
    created = await kube.post(RR, json=resource_restart("one"))
    assert created.status_code == 201
    metadata = created.json()["metadata"]
    assert metadata["uid"] and metadata["creationTimestamp"].endswith("Z") and metadata["generation"] == 1
    assert int(metadata["resourceVersion"]) > 0
    got = (await kube.get(f"{RR}/one")).json()
    assert got["metadata"] == metadata and got["kind"] == "ResourceRestart"


async def test_generate_name_makes_unique_names(kube: httpx.AsyncClient) -> None:
    names = set()
    for _ in range(20):
        response = await kube.post(RR, json=resource_restart(None))
        assert response.status_code == 201
        names.add(response.json()["metadata"]["name"])
    assert len(names) == 20 and all(name.startswith("rr-") and len(name) == 8 for name in names)


async def test_duplicate_create_is_409_already_exists(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("dup"))
    response = await kube.post(RR, json=resource_restart("dup"))
    assert response.status_code == 409 and response.json()["reason"] == "AlreadyExists"


async def test_missing_namespace_is_404_and_namespaces_are_created_first(kube: httpx.AsyncClient) -> None:
    response = await kube.post(RR_PATH.format(namespace="nowhere"), json=resource_restart())
    assert response.status_code == 404
    assert response.json()["message"] == 'namespaces "nowhere" not found'
    assert (await kube.post("/api/v1/namespaces", json={"metadata": {"name": "nowhere"}})).status_code == 201
    assert (await kube.post(RR_PATH.format(namespace="nowhere"), json=resource_restart())).status_code == 201


async def test_put_with_stale_resource_version_is_409(kube: httpx.AsyncClient) -> None:
    created = (await kube.post(RR, json=resource_restart("put"))).json()
    updated = dict(created, spec=dict(created["spec"], restartToken="1"))
    first = await kube.put(f"{RR}/put", json=updated)
    assert first.status_code == 200 and first.json()["spec"]["restartToken"] == "1"
    stale = await kube.put(f"{RR}/put", json=dict(updated, spec=dict(created["spec"], restartToken="2")))
    assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"
    no_version = dict(updated, metadata={"name": "put", "namespace": "default"})
    assert (await kube.put(f"{RR}/put", json=no_version)).status_code == 422


async def test_delete_waits_for_finalizers(kube: httpx.AsyncClient) -> None:
    body = resource_restart("fin")
    body["metadata"]["finalizers"] = ["eceops.io/cleanup"]
    await kube.post(RR, json=body)
    deleted = await kube.delete(f"{RR}/fin")
    assert deleted.status_code == 200 and deleted.json()["metadata"]["deletionTimestamp"]
    still = await kube.get(f"{RR}/fin")
    assert still.status_code == 200
    more = await kube.patch(f"{RR}/fin", json={"metadata": {"finalizers": ["eceops.io/cleanup", "x/y"]}}, headers=MERGE)
    assert more.status_code == 422  # no new finalizers on an object being deleted
    released = await kube.patch(f"{RR}/fin", json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert released.status_code == 200
    assert (await kube.get(f"{RR}/fin")).status_code == 404


async def test_delete_without_finalizers_and_missing_object(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("gone"))
    assert (await kube.delete(f"{RR}/gone")).status_code == 200
    assert (await kube.get(f"{RR}/gone")).status_code == 404
    assert (await kube.delete(f"{RR}/gone")).status_code == 404


async def test_merge_patch_and_resource_version_precondition(kube: httpx.AsyncClient) -> None:
    created = (await kube.post(RR, json=resource_restart("mp"))).json()
    patched = await kube.patch(f"{RR}/mp", json={"metadata": {"labels": {"a": "b"}}}, headers=MERGE)
    assert patched.json()["metadata"]["labels"] == {"a": "b"}
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"], "labels": {"a": "c"}}}
    assert (await kube.patch(f"{RR}/mp", json=stale, headers=MERGE)).status_code == 409


async def test_json_patch_with_failed_test_is_422(kube: httpx.AsyncClient) -> None:
    created = (await kube.post(RR, json=resource_restart("jp"))).json()
    version = created["metadata"]["resourceVersion"]
    ok = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": version},
        {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]},
    ]
    response = await kube.patch(f"{RR}/jp", json=ok, headers=JSON_PATCH)
    assert response.status_code == 200 and response.json()["metadata"]["finalizers"]
    again = await kube.patch(f"{RR}/jp", json=ok, headers=JSON_PATCH)  # the version moved on
    assert again.status_code == 422
    assert again.json()["reason"] == "Invalid" and "test operation does not apply" in again.text
    missing = await kube.patch(f"{RR}/jp", json=[{"op": "remove", "path": "/spec/nothing"}], headers=JSON_PATCH)
    assert missing.status_code == 422


async def test_strategic_merge_for_core_types_only(kube: httpx.AsyncClient) -> None:
    await kube.post(CM, json={"metadata": {"name": "cm", "finalizers": ["a/b"]}, "data": {"x": "1", "y": "2"}})
    patch = {"data": {"y": None, "z": "3"}, "metadata": {"finalizers": ["c/d"]}}
    response = await kube.patch(f"{CM}/cm", json=patch, headers=STRATEGIC)
    assert response.status_code == 200
    assert response.json()["data"] == {"x": "1", "z": "3"}
    assert response.json()["metadata"]["finalizers"] == ["a/b", "c/d"]  # merged, not replaced
    delete_one = {"$deleteFromPrimitiveList/finalizers": ["a/b", "c/d"]}
    response = await kube.patch(f"{CM}/cm", json={"metadata": delete_one}, headers=STRATEGIC)
    assert response.json()["metadata"].get("finalizers") == []
    await kube.post(RR, json=resource_restart("smp"))
    refused = await kube.patch(f"{RR}/smp", json={"spec": {"restartToken": "1"}}, headers=STRATEGIC)
    assert refused.status_code == 415 and refused.json()["reason"] == "UnsupportedMediaType"


async def test_server_side_apply_creates_then_merges(kube: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/apply-patch+yaml"}
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: '1'\n"
    created = await kube.patch(f"{CM}/ssa", params={"fieldManager": "me"}, content=manifest, headers=headers)
    assert created.status_code == 201
    changed = manifest.replace("a: '1'", "b: '2'")
    merged = await kube.patch(f"{CM}/ssa", params={"fieldManager": "me"}, content=changed, headers=headers)
    assert merged.json()["data"] == {"a": "1", "b": "2"}
    assert merged.json()["metadata"]["managedFields"][0]["operation"] == "Apply"
    no_manager = await kube.patch(f"{CM}/ssa", content=changed, headers=headers)
    assert no_manager.status_code == 400


async def test_secrets_string_data_is_encoded(kube: httpx.AsyncClient) -> None:
    secret = {"metadata": {"name": "creds"}, "stringData": {"apiKey": "k"}}
    created = (await kube.post("/api/v1/namespaces/default/secrets", json=secret)).json()
    assert created["data"] == {"apiKey": "aw=="} and created["type"] == "Opaque" and "stringData" not in created
    deleted = (await kube.delete("/api/v1/namespaces/default/secrets/creds")).json()
    assert (deleted["kind"], deleted["status"], deleted["details"]["uid"]) == ("Status", "Success",
                                                                                created["metadata"]["uid"])


async def test_namespace_deletion_cascades(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    await kube.post("/api/v1/namespaces", json={"metadata": {"name": "doomed"}})
    await kube.post(RR_PATH.format(namespace="doomed"), json=resource_restart("a"))
    assert (await kube.delete("/api/v1/namespaces/doomed")).status_code == 200
    assert sandbox.get("namespaces", "doomed") is None
    assert sandbox.get("resourcerestarts", "a", namespace="doomed") is None


def test_in_process_helpers_use_full_admission(sandbox: Sandbox) -> None:
    created = sandbox.create(resource_restart("helper"))
    assert created["spec"]["retry"]["maxAttempts"] == 5
    with pytest.raises(Exception, match="Invalid"):
        sandbox.create(resource_restart("bad", refId="not valid!"))
    patched = sandbox.patch("resourcerestarts", "helper", {"status": {"phase": "Pending"}}, namespace="default",
                            subresource="status")
    assert patched["status"]["phase"] == "Pending"
    assert sandbox.get("resourcerestarts", "helper", namespace="default", group="eceops.io") == patched
    sandbox.delete("resourcerestarts", "helper", namespace="default")
    assert sandbox.get("resourcerestarts", "helper", namespace="default") is None
