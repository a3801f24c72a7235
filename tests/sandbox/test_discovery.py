"""Discovery, /version and OpenAPI v3: what Kopf and kubectl read before anything else."""

from __future__ import annotations

import httpx

from ece_restart.sandbox import Sandbox


async def test_version_and_core_group(kube: httpx.AsyncClient) -> None:
    version = (await kube.get("/version")).json()
    assert (version["major"], version["minor"]) == ("1", "32")
    api = (await kube.get("/api")).json()
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    core = (await kube.get("/api/v1")).json()
    assert core["groupVersion"] == "v1"
    names = {resource["name"] for resource in core["resources"]}
    assert {"namespaces", "namespaces/status", "secrets", "configmaps", "events"} <= names


async def test_groups_list_events_leases_crds_and_our_crd(kube: httpx.AsyncClient) -> None:
    groups = (await kube.get("/apis")).json()
    assert groups["kind"] == "APIGroupList"
    by_name = {group["name"]: group for group in groups["groups"]}
    assert {"eceops.io", "events.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io"} <= set(by_name)
    assert by_name["eceops.io"]["preferredVersion"]["groupVersion"] == "eceops.io/v1alpha1"
    assert (await kube.get("/apis/eceops.io")).json()["name"] == "eceops.io"
    leases = (await kube.get("/apis/coordination.k8s.io/v1")).json()
    assert [r["name"] for r in leases["resources"]] == ["leases"]
    events = (await kube.get("/apis/events.k8s.io/v1")).json()
    assert events["resources"][0]["kind"] == "Event"


async def test_custom_resource_entry_and_status_subresource(kube: httpx.AsyncClient) -> None:
    document = (await kube.get("/apis/eceops.io/v1alpha1")).json()
    entries = {entry["name"]: entry for entry in document["resources"]}
    main, status = entries["resourcerestarts"], entries["resourcerestarts/status"]
    assert main["kind"] == "ResourceRestart" and main["namespaced"] is True
    assert main["shortNames"] == ["rr"] and main["categories"] == ["eceops"]
    assert set(main["verbs"]) >= {"create", "get", "list", "watch", "patch", "update", "delete"}
    assert "shortNames" not in status  # else kubectl warns that "rr" is ambiguous
    assert status["verbs"] == ["get", "patch", "update"]


async def test_unknown_paths_are_404_status(kube: httpx.AsyncClient) -> None:
    for path in ("/apis/nope.io", "/apis/eceops.io/v9", "/apis/eceops.io/v1alpha1/namespaces/default/widgets"):
        response = await kube.get(path)
        assert response.status_code == 404, path
    assert (await kube.get("/apis/eceops.io/v1alpha1/namespaces/default/widgets")).json()["kind"] == "Status"


async def test_openapi_v3_declares_field_validation_and_schemas(kube: httpx.AsyncClient) -> None:
    index = (await kube.get("/openapi/v3")).json()
    assert {"api/v1", "apis/eceops.io/v1alpha1", "apis/coordination.k8s.io/v1"} <= set(index["paths"])
    document = (await kube.get(index["paths"]["apis/eceops.io/v1alpha1"]["serverRelativeURL"])).json()
    item = document["paths"]["/apis/eceops.io/v1alpha1/namespaces/{namespace}/resourcerestarts/{name}"]
    assert item["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "eceops.io", "version": "v1alpha1", "kind": "ResourceRestart"
    }
    assert "fieldValidation" in {parameter["name"] for parameter in item["patch"]["parameters"]}
    schema = document["components"]["schemas"]["io.eceops.v1alpha1.ResourceRestart"]
    assert schema["properties"]["spec"]["properties"]["deploymentId"]["pattern"] == "^[0-9a-f]{32}$"


async def test_crds_are_served_and_new_crds_become_resources(sandbox: Sandbox, kube: httpx.AsyncClient) -> None:
    crds = (await kube.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")).json()
    assert [item["metadata"]["name"] for item in crds["items"]] == ["resourcerestarts.eceops.io"]
    open_schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    widget_crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": open_schema}}],
        },
    }
    created = await kube.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=widget_crd)
    assert created.status_code == 201
    conditions = {c["type"]: c["status"] for c in created.json()["status"]["conditions"]}
    assert conditions["Established"] == "True"
    resources = (await kube.get("/apis/example.com/v1")).json()["resources"]
    assert resources[0]["name"] == "widgets" and resources[0]["namespaced"] is False
    widget = await kube.post("/apis/example.com/v1/widgets", json={"metadata": {"name": "w"}, "anything": 1})
    assert widget.status_code == 201 and widget.json()["anything"] == 1
    deleted = await kube.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    assert deleted.status_code == 200
    assert (await kube.get("/apis/example.com/v1")).status_code == 404
    assert sandbox.store.items(("example.com", "widgets"))[0] == []  # deleting a CRD deletes its objects


async def test_sandbox_without_crds_serves_only_builtins() -> None:
    bare = Sandbox(crds=[])
    async with bare.serving(port=0) as url, httpx.AsyncClient(base_url=url) as client:
        groups = {group["name"] for group in (await client.get("/apis")).json()["groups"]}
    assert "eceops.io" not in groups and "coordination.k8s.io" in groups
