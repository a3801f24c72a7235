"""A small synchronous Kubernetes REST client for tests, talking plain HTTP to the sandbox like any user would."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

RR_PATH = "/apis/eceops.io/v1alpha1/namespaces/{namespace}/resourcerestarts"


class KubeHttp:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": "Bearer test"}, timeout=10)

    def close(self) -> None:
        self.http.close()

    def create_namespace(self, name: str) -> None:
        response = self.http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                               "metadata": {"name": name}})
        assert response.status_code in (201, 409), response.text

    def create_secret(self, namespace: str, name: str, string_data: Mapping[str, str]) -> None:
        response = self.http.post(f"/api/v1/namespaces/{namespace}/secrets", json={
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque",
            "stringData": dict(string_data)})
        assert response.status_code == 201, response.text

    def create_restart(self, namespace: str, name: str, spec: Mapping[str, Any],
                       labels: Mapping[str, str] | None = None) -> httpx.Response:
        body: dict[str, Any] = {"apiVersion": "eceops.io/v1alpha1", "kind": "ResourceRestart",
                                "metadata": {"name": name, "namespace": namespace}, "spec": dict(spec)}
        if labels:
            body["metadata"]["labels"] = dict(labels)
        return self.http.post(RR_PATH.format(namespace=namespace), json=body)

    def get_restart(self, namespace: str, name: str) -> dict[str, Any] | None:
        response = self.http.get(f"{RR_PATH.format(namespace=namespace)}/{name}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def patch_restart(self, namespace: str, name: str, patch: Mapping[str, Any]) -> httpx.Response:
        return self.http.patch(f"{RR_PATH.format(namespace=namespace)}/{name}", json=dict(patch),
                               headers={"Content-Type": "application/merge-patch+json"})

    def delete_restart(self, namespace: str, name: str) -> httpx.Response:
        return self.http.delete(f"{RR_PATH.format(namespace=namespace)}/{name}")

    def list_events(self, namespace: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/api/v1/namespaces/{namespace}/events")
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json().get("items", [])
        return items

    def wait_for_restart(self, namespace: str, name: str, predicate: Callable[[dict[str, Any]], bool],
                         timeout: float = 30.0) -> dict[str, Any]:
        """Poll until the predicate holds; fail with the last object seen when the deadline passes."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.get_restart(namespace, name)
            if last is not None and predicate(last):
                return last
            time.sleep(0.05)
        raise AssertionError(f"{namespace}/{name} did not reach the expected state in {timeout}s; last: {last}")

    def wait_terminal(self, namespace: str, name: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_for_restart(
            namespace, name,
            lambda obj: obj.get("status", {}).get("phase") in {"Succeeded", "Failed", "Unknown"}, timeout)


def spec(deployment_id: str, kind: str = "kibana", **extra: Any) -> dict[str, Any]:
    """A ResourceRestart spec for the resource `main-<kind>` of a deployment."""
    return {"deploymentId": deployment_id, "resourceKind": kind, "refId": f"main-{kind}", **extra}


def phase_of(obj: Mapping[str, Any]) -> str | None:
    phase = obj.get("status", {}).get("phase")
    return phase if isinstance(phase, str) else None
