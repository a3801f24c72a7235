"""The operator's own Kubernetes API calls (besides Kopf's watching and event posting).

Credentials, server and TLS settings come from the official `kubernetes` library's loaders (in-cluster service
account with token rotation, or a kubeconfig with its auth plugins). The calls themselves go out on aiohttp, the
asynchronous HTTP client Kopf already uses against the same API server: the `kubernetes` client is synchronous, and
a call through it in a worker thread cost about 1 ms of CPU against 0.3 ms here (bench/README.md, "What changed").
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import time
from collections.abc import Callable, Collection, Mapping
from importlib import metadata
from typing import Any, cast
from urllib.parse import quote

import aiohttp
import kubernetes

from ece_restart.crd import GROUP, PLURAL, VERSION

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=5)
CREDENTIALS_REFRESH_SECONDS = 60.0


def load_configuration(kubeconfig: str | None = None) -> kubernetes.client.Configuration:
    """In-cluster service account when running in a pod, else the kubeconfig file.

    The file is `kubeconfig`, else $KUBECONFIG read now (the client library reads it once at import), else
    ~/.kube/config.
    """
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, client_configuration=configuration
        )
    return configuration


def authorization(configuration: kubernetes.client.Configuration) -> str | None:
    """The Authorization header value: a bearer token (refreshed by the loader's hook when it rotates) or Basic."""
    header = (configuration.get_api_key_with_prefix("BearerToken")
              or configuration.get_api_key_with_prefix("authorization"))
    if header:
        return str(header)
    if configuration.username or configuration.password:
        return configuration.get_basic_auth_token()
    return None


def ssl_context(configuration: kubernetes.client.Configuration) -> ssl.SSLContext | bool:
    """TLS as the kubeconfig or service account says: its CA, client certificate, or no verification."""
    if not configuration.verify_ssl:
        return False
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None,
                                         cadata=configuration.ca_cert_data or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


def _user_agent() -> str:
    try:
        return f"ece-restart-operator/{metadata.version('ece-restart-operator')}"
    except metadata.PackageNotFoundError:
        return "ece-restart-operator/0"


class ConflictError(Exception):
    """The object changed since it was read (HTTP 409): re-read and decide again."""


class NotFoundError(Exception):
    pass


class KubeApiError(Exception):
    """The API server answered with an error other than the ones a call expects."""

    def __init__(self, operation: str, status: int, message: str) -> None:
        super().__init__(f"{operation}: HTTP {status}: {message}")
        self.status = status


class KubeApi:
    def __init__(self, configuration: kubernetes.client.Configuration,
                 on_error: Callable[[str], None] | None = None) -> None:
        self._configuration = configuration
        self._base = configuration.host.rstrip("/")
        self._ssl = ssl_context(configuration) if self._base.startswith("https:") else False
        self._proxy = configuration.proxy or None
        self._on_error = on_error
        self._user_agent = _user_agent()
        self._session: aiohttp.ClientSession | None = None
        self._credentials: str | None = None
        self._credentials_checked: float | None = None

    @classmethod
    def from_environment(cls, kubeconfig: str | None = None,
                         on_error: Callable[[str], None] | None = None) -> KubeApi:
        return cls(load_configuration(kubeconfig), on_error)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self, operation: str, method: str, path: str, *, expect: Collection[int], body: object = None,
        content_type: str = "application/json", params: Mapping[str, str] | None = None,
        time_limits: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> tuple[int, Any]:
        """One request; returns the status code and the decoded JSON body. A status outside `expect` (those the
        caller handles) raises KubeApiError; it and a request without an answer are counted as failures."""
        if self._session is None:  # created on first use: a session belongs to the running event loop
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32), timeout=DEFAULT_TIMEOUT)
        headers = {"Accept": "application/json", "User-Agent": self._user_agent}
        credentials = self._authorization()
        if credentials:
            headers["Authorization"] = credentials
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = content_type
        try:
            async with self._session.request(method, self._base + path, params=params, data=data, headers=headers,
                                             ssl=self._ssl, proxy=self._proxy, timeout=time_limits) as response:
                text = await response.text()
                status = response.status
        except Exception:
            self._failed(operation)
            raise
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = None
        if status == 401:
            self._credentials_checked = None  # a token rotated early: ask the loader again on the next call
        if status not in expect:
            self._failed(operation)
            message = payload.get("message") if isinstance(payload, dict) else text[:200]
            raise KubeApiError(operation, status, str(message or "unexpected answer"))
        return status, payload

    def _authorization(self) -> str | None:
        """The loader's refresh hook re-reads a rotated token but is costly (it rebuilds the configuration, proxy
        lookup included): ask it once a minute, well within the lifetime of a projected service account token."""
        now = time.monotonic()
        if self._credentials_checked is None or now - self._credentials_checked >= CREDENTIALS_REFRESH_SECONDS:
            self._credentials = authorization(self._configuration)
            self._credentials_checked = now
        return self._credentials

    def _failed(self, operation: str) -> None:
        if self._on_error is not None:
            self._on_error(operation)

    @staticmethod
    def _restarts(namespace: str | None = None, name: str | None = None) -> str:
        path = f"/apis/{GROUP}/{VERSION}"
        if namespace is not None:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{PLURAL}"
        if name is not None:
            path += f"/{quote(name, safe='')}"
        return path

    @staticmethod
    def _core(namespace: str, resource: str, name: str | None = None) -> str:
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/{resource}"
        return path if name is None else f"{path}/{quote(name, safe='')}"

    async def list_restarts_probe(self) -> None:
        """One cheap list (limit 1) of ResourceRestarts in any namespace it may read: readiness."""
        await self._call("list", "GET", self._restarts(), expect=(200,), params={"limit": "1"},
                         time_limits=PROBE_TIMEOUT)

    async def _get(self, operation: str, path: str) -> dict[str, Any] | None:
        status, payload = await self._call(operation, "GET", path, expect=(200, 404))
        return None if status == 404 else cast(dict[str, Any], payload)

    async def get_restart(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._get("get", self._restarts(namespace, name))

    async def patch_restart_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any]:
        """Merge-patch the status subresource; with `resource_version` the write is a compare-and-swap."""
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        code, payload = await self._call("patch_status", "PATCH", self._restarts(namespace, name) + "/status",
                                         expect=(200, 404, 409), body=body,
                                         content_type="application/merge-patch+json")
        if code == 409:
            raise ConflictError(f"{namespace}/{name} changed concurrently")
        if code == 404:
            raise NotFoundError(f"{namespace}/{name} no longer exists")
        return cast(dict[str, Any], payload)

    async def delete_restart(self, namespace: str, name: str, *, uid: str) -> bool:
        """Delete the CR if it is still the object with this uid; False when it is already gone or replaced."""
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
        status, _ = await self._call("delete", "DELETE", self._restarts(namespace, name),
                                     expect=(200, 202, 404, 409), body=options)
        return status in (200, 202)

    async def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._get("get_configmap", self._core(namespace, "configmaps", name))

    async def create_config_map(self, namespace: str, name: str, data: Mapping[str, str], *,
                                labels: Mapping[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "data": dict(data),
                "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)}}
        status, _ = await self._call("create_configmap", "POST", self._core(namespace, "configmaps"),
                                     expect=(201, 409), body=body)
        if status == 409:
            raise ConflictError(f"ConfigMap {namespace}/{name} already exists")

    async def replace_config_map_data(self, namespace: str, name: str, data: Mapping[str, str], *,
                                      resource_version: str) -> None:
        """Set the whole data map, only if the ConfigMap is still at `resource_version` (a failed JSON-patch
        test answers 422, a stale write 409: both mean it changed)."""
        body: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "add", "path": "/data", "value": dict(data)},
        ]
        status, _ = await self._call("patch_configmap", "PATCH", self._core(namespace, "configmaps", name),
                                     expect=(200, 409, 422), body=body, content_type="application/json-patch+json")
        if status in (409, 422):
            raise ConflictError(f"ConfigMap {namespace}/{name} changed concurrently")

    async def read_secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        """The Secret's data decoded, or None when it does not exist."""
        secret = await self._get("get_secret", self._core(namespace, "secrets", name))
        if secret is None:
            return None
        data = secret.get("data") or {}
        return {key: base64.b64decode(value) for key, value in data.items() if value is not None}
