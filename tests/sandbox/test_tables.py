"""`as=Table` responses from additionalPrinterColumns (what `kubectl get` prints), for lists, gets and watches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from ece_restart.sandbox.tables import human_age, json_path
from tests.sandbox.watchstream import Watcher
from tests.support.sandbox_fixtures import MERGE, RR_PATH, resource_restart

RR = RR_PATH.format(namespace="default")
TABLE = {
    "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
}


async def test_list_as_table_uses_printer_columns(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("t"))
    await kube.patch(f"{RR}/t/status", json={"status": {"phase": "Succeeded", "httpStatus": 202, "attempts": 1}},
                     headers=MERGE)
    table = (await kube.get(RR, headers=TABLE)).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    names = [column["name"] for column in table["columnDefinitions"]]
    assert names == ["Name", "Deployment", "Kind", "RefId", "Phase", "Outcome", "HTTP", "Attempts", "Age"]
    cells = table["rows"][0]["cells"]
    assert cells[:8] == ["t", "0123456789abcdef0123456789abcdef", "kibana", "main-kibana", "Succeeded", None, 202, 1]
    assert cells[8].endswith("s")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["metadata"]["resourceVersion"]


async def test_get_as_table_and_include_object(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("one"))
    table = (await kube.get(f"{RR}/one", headers=TABLE, params={"includeObject": "Object"})).json()
    assert len(table["rows"]) == 1 and table["rows"][0]["object"]["spec"]["refId"] == "main-kibana"
    assert (await kube.get(f"{RR}/one")).json()["kind"] == "ResourceRestart"  # plain JSON without the Accept


async def test_builtin_tables(kube: httpx.AsyncClient) -> None:
    await kube.post("/api/v1/namespaces/default/secrets", json={"metadata": {"name": "s"}, "data": {"a": "Yg=="}})
    secrets = (await kube.get("/api/v1/namespaces/default/secrets", headers=TABLE)).json()
    assert [c["name"] for c in secrets["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert secrets["rows"][0]["cells"][:3] == ["s", "Opaque", 1]
    namespaces = (await kube.get("/api/v1/namespaces", headers=TABLE)).json()
    assert namespaces["rows"][0]["cells"][:2] == ["default", "Active"]


async def test_watch_as_table_sends_headers_once(kube: httpx.AsyncClient) -> None:
    async with Watcher(kube, RR, {}, headers=TABLE) as watcher:
        await kube.post(RR, json=resource_restart("w1"))
        await kube.post(RR, json=resource_restart("w2"))
        await watcher.wait_count(2)
    first, second = (event["object"] for event in watcher.events)
    assert first["kind"] == "Table" and first["columnDefinitions"]
    assert second["columnDefinitions"] is None and second["rows"][0]["cells"][0] == "w2"


def test_human_age_matches_kubectl() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    def age(delta: timedelta) -> str:
        return human_age((now - delta).strftime("%Y-%m-%dT%H:%M:%SZ"), now)
    assert [age(timedelta(seconds=s)) for s in (5, 119, 150, 600, 7200, 4 * 3600 + 60, 30 * 3600, 3 * 86400)] == [
        "5s", "119s", "2m30s", "10m", "120m", "4h1m", "30h", "3d"
    ]


def test_json_path_subset() -> None:
    obj = {"status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}}
    assert json_path(obj, '.status.conditions[?(@.type=="Ready")].status') == "True"
    assert json_path(obj, ".status.conditions[0].type") == "A"
    assert json_path(obj, ".status.missing") is None
