"""The operator's own Kubernetes API calls (besides Kopf's watching and event posting).

The official `kubernetes` client is synchronous; calls run in worker threads so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import kubernetes
from kubernetes.client.exceptions import ApiException

from ece_restart.crd import GROUP, PLURAL, VERSION

T = TypeVar("T")


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


class ConflictError(Exception):
    """The object changed since it was read (HTTP 409): re-read and decide again."""


class NotFoundError(Exception):
    pass


class KubeApi:
    def __init__(self, api_client: kubernetes.client.ApiClient,
                 on_error: Callable[[str], None] | None = None) -> None:
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._on_error = on_error

    async def _run(self, operation: str, call: Callable[[], T]) -> T:
        """Run a blocking client call in a worker thread; count failures other than the expected outcomes."""
        try:
            return await asyncio.to_thread(call)
        except (ConflictError, NotFoundError):
            raise
        except Exception:
            if self._on_error is not None:
                self._on_error(operation)
            raise

    @classmethod
    def from_environment(cls, kubeconfig: str | None = None,
                         on_error: Callable[[str], None] | None = None) -> KubeApi:
        return cls(kubernetes.client.ApiClient(load_configuration(kubeconfig)), on_error)

    async def list_restarts_probe(self) -> None:
        """One cheap list (limit 1) of ResourceRestarts in any namespace it may read: readiness."""
        def call() -> None:
            self._custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=1, _request_timeout=5)

        await self._run("list", call)

    async def get_restart(self, namespace: str, name: str) -> dict[str, Any] | None:
        def call() -> dict[str, Any] | None:
            try:
                return cast(dict[str, Any], self._custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name))
            except ApiException as error:
                if error.status == 404:
                    return None
                raise

        return await self._run("get", call)

    async def patch_restart_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any]:
        """Merge-patch the status subresource; with `resource_version` the write is a compare-and-swap."""
        body: dict[str, Any] = {"status": dict(status)}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}

        def call() -> dict[str, Any]:
            try:
                return cast(dict[str, Any], self._custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, PLURAL, name, body, _content_type="application/merge-patch+json"))
            except ApiException as error:
                if error.status == 409:
                    raise ConflictError(f"{namespace}/{name} changed concurrently") from None
                if error.status == 404:
                    raise NotFoundError(f"{namespace}/{name} no longer exists") from None
                raise

        return await self._run("patch_status", call)

    async def delete_restart(self, namespace: str, name: str, *, uid: str) -> bool:
        """Delete the CR if it is still the object with this uid; False when it is already gone or replaced."""
        def call() -> bool:
            options = kubernetes.client.V1DeleteOptions(preconditions=kubernetes.client.V1Preconditions(uid=uid))
            try:
                self._custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, body=options)
            except ApiException as error:
                if error.status in (404, 409):
                    return False
                raise
            return True

        return await self._run("delete", call)

    async def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        def call() -> dict[str, Any] | None:
            try:
                config_map = self._core.read_namespaced_config_map(name, namespace)
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
            return cast(dict[str, Any], self._core.api_client.sanitize_for_serialization(config_map))

        return await self._run("get_configmap", call)

    async def create_config_map(self, namespace: str, name: str, data: Mapping[str, str], *,
                                labels: Mapping[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "data": dict(data),
                "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)}}

        def call() -> None:
            try:
                self._core.create_namespaced_config_map(namespace, cast(Any, body))
            except ApiException as error:
                if error.status == 409:
                    raise ConflictError(f"ConfigMap {namespace}/{name} already exists") from None
                raise

        await self._run("create_configmap", call)

    async def replace_config_map_data(self, namespace: str, name: str, data: Mapping[str, str], *,
                                      resource_version: str) -> None:
        """Set the whole data map, only if the ConfigMap is still at `resource_version`."""
        body: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "add", "path": "/data", "value": dict(data)},
        ]

        def call() -> None:
            try:
                self._core.patch_namespaced_config_map(name, namespace, body,
                                                       _content_type="application/json-patch+json")
            except ApiException as error:
                if error.status in (409, 422):
                    raise ConflictError(f"ConfigMap {namespace}/{name} changed concurrently") from None
                raise

        await self._run("patch_configmap", call)

    async def read_secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        """The Secret's data decoded, or None when it does not exist."""
        def call() -> dict[str, bytes] | None:
            try:
                secret = self._core.read_namespaced_secret(name, namespace)
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
            data = secret.data or {}
            return {key: base64.b64decode(value) for key, value in data.items() if value is not None}

        return await self._run("get_secret", call)
