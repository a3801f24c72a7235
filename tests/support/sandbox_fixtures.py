"""Fixtures for tests against the Kubernetes API sandbox (registered in tests/conftest.py)."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes
import pytest

from ece_restart.crd import API_VERSION, KIND
from ece_restart.sandbox import Sandbox

RR_PATH = "/apis/eceops.io/v1alpha1/namespaces/{namespace}/resourcerestarts"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}


def resource_restart(name: str | None = "demo", **spec: Any) -> dict[str, Any]:
    """A valid ResourceRestart body; keyword arguments override spec fields (None removes one)."""
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name} if name else {"generateName": "rr-"},
        "spec": {"deploymentId": "0123456789abcdef0123456789abcdef", "resourceKind": "kibana", "refId": "main-kibana"},
    }
    for key, value in spec.items():
        if value is None:
            body["spec"].pop(key, None)
        else:
            body["spec"][key] = copy.deepcopy(value)
    return body


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll `condition` until it returns something truthy (returned) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


def kube_configuration(url: str, *, ca_file: Path | None = None, client_pem: Path | None = None,
                       token: str | None = "Bearer test-token") -> kubernetes.client.Configuration:
    """A Configuration as the `kubernetes` loaders leave one, for the operator's own client (ece_restart.kube)."""
    config = kubernetes.client.Configuration()
    config.host = url
    config.ssl_ca_cert = str(ca_file) if ca_file else None
    if client_pem is not None:
        config.cert_file = config.key_file = str(client_pem)
    if token is not None:
        config.api_key["BearerToken"] = token
    return config


@pytest.fixture
def sandbox() -> Sandbox:
    """A fresh sandbox with the ResourceRestart CRD and the "default" namespace; not serving yet."""
    return Sandbox()


@pytest.fixture
async def sandbox_url(sandbox: Sandbox) -> AsyncIterator[str]:
    """The sandbox served in the test's own event loop."""
    async with sandbox.serving(port=0) as url:
        yield url


@pytest.fixture
async def kube(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the in-loop sandbox, sending a bearer token as real clients do."""
    headers = {"Authorization": "Bearer test-token", "User-Agent": "sandbox-tests/1.0"}
    async with httpx.AsyncClient(base_url=sandbox_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def threaded_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The sandbox served from its own thread (for sync tests, kubectl and Kopf)."""
    with sandbox.serving_in_thread(port=0):
        yield sandbox


@pytest.fixture
def sandbox_kubeconfig(
    threaded_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """KUBECONFIG pointing at the threaded sandbox."""
    path = threaded_sandbox.write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert os.environ["KUBECONFIG"] == str(path)
    yield path
