"""`Sandbox`: one in-memory Kubernetes API, served on loopback, inspectable and controllable from tests."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ssl
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from ece_restart.crd import load_crd
from ece_restart.sandbox.apiserver import MERGE_PATCH, ApiServer, WriteOptions
from ece_restart.sandbox.errors import ApiError
from ece_restart.sandbox.faults import Faults
from ece_restart.sandbox.kubeconfig import write_kubeconfig
from ece_restart.sandbox.requestlog import RequestLog, RequestRecord
from ece_restart.sandbox.resources import CRD_GROUP, Registry, ResourceType
from ece_restart.sandbox.routes import Router, Settings
from ece_restart.sandbox.storage import Store

_HELPER = WriteOptions(field_manager="sandbox")


class Sandbox:
    """A strict local Kubernetes API server for tests, the demo and users.

    `crds=None` installs the ResourceRestart CRD shipped with the chart; pass a list (possibly empty) for others.
    `bookmark_interval` is how often idle watches that allow bookmarks get one (the apiserver: about a minute).
    `history` is how many changes watches can resume from before they get 410 Expired.
    """

    def __init__(
        self,
        crds: Sequence[Mapping[str, Any]] | None = None,
        *,
        namespaces: Sequence[str] = ("default",),
        bookmark_interval: float = 60.0,
        history: int = 100_000,
    ) -> None:
        self.registry = Registry()
        self.store = Store(history=history)
        self.api = ApiServer(self.registry, self.store)
        self.log = RequestLog()
        self.faults = Faults(self.store)
        self.settings = Settings(bookmark_interval=bookmark_interval)
        self.url: str | None = None
        for name in namespaces:
            self.create_namespace(name)
        for crd in [load_crd()] if crds is None else crds:
            self.install_crd(crd)

    # ------------------------------------------------------------------------------------------------ serving
    @asynccontextmanager
    async def serving(self, host: str = "127.0.0.1", port: int = 0,
                      tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
        """Serve in the running event loop; yields the base URL (`http://127.0.0.1:PORT`, or `https://` with a
        server TLS context, which may also require client certificates as an apiserver can)."""
        router = Router(self.api, self.log, self.faults, self.settings)
        runner = web.AppRunner(router.application(), handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=tls)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        router.address = f"{bound_host}:{bound_port}"
        self.url = f"{'https' if tls else 'http'}://{bound_host}:{bound_port}"
        try:
            yield self.url
        finally:
            self.faults.drop_watches()
            await runner.cleanup()
            self.url = None

    @contextmanager
    def serving_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve from a private event loop in a daemon thread; for sync tests and for Kopf in its own thread."""
        ready = threading.Event()
        failure: list[BaseException] = []
        box: dict[str, Any] = {}

        async def main() -> None:
            stop = asyncio.Event()
            box["loop"], box["stop"] = asyncio.get_running_loop(), stop
            try:
                async with self.serving(host, port) as url:
                    box["url"] = url
                    ready.set()
                    await stop.wait()
            except BaseException as error:
                failure.append(error)
                ready.set()
                raise

        def target() -> None:
            with contextlib.suppress(BaseException):  # reported to the caller through `failure`
                asyncio.run(main())

        thread = threading.Thread(target=target, name="k8s-sandbox", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        try:
            yield str(box["url"])
        finally:
            box["loop"].call_soon_threadsafe(box["stop"].set)
            thread.join(timeout=30)

    def write_kubeconfig(self, path: Path | str, namespace: str = "default") -> Path:
        """A kubeconfig for the running sandbox (server http://127.0.0.1:PORT, any bearer token accepted)."""
        if self.url is None:
            raise RuntimeError("the sandbox is not serving; call it inside serving() or serving_in_thread()")
        return write_kubeconfig(path, self.url, namespace)

    # ------------------------------------------------------------------------------------------------ inspection
    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request answered so far, oldest first."""
        return self.log.snapshot()

    def clear_requests(self) -> None:
        self.log.clear()

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out."""
        return self.store.revision

    def resource_type(self, resource: str, group: str | None = None, version: str | None = None) -> ResourceType:
        found = self.registry.find(group, version, resource) if group is not None and version else None
        found = found or self.registry.find_plural(resource, group)
        if found is None:
            raise KeyError(f"the sandbox serves no resource {resource!r} in group {group!r}")
        return found

    def get(
        self, resource: str, name: str, namespace: str | None = None, group: str | None = None
    ) -> dict[str, Any] | None:
        """The stored object (a deep copy) or None."""
        rt = self.resource_type(resource, group)
        try:
            return self.api.get(rt, namespace or "", name)
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def list(self, resource: str, namespace: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
        rt = self.resource_type(resource, group)
        items: list[dict[str, Any]] = self.api.list(rt, namespace)["items"]
        return items

    # ------------------------------------------------------------------------------------------------ writes
    def create(self, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create an object through full admission, as a client would; the type comes from apiVersion/kind."""
        rt = self.registry.find_kind(str(body.get("apiVersion", "")), str(body.get("kind", "")))
        if rt is None:
            raise KeyError(f"the sandbox serves no {body.get('apiVersion')} {body.get('kind')}")
        namespace = namespace or (body.get("metadata") or {}).get("namespace") or "default"
        return self.api.create(rt, namespace if rt.namespaced else "", copy.deepcopy(dict(body)), _HELPER).obj

    def patch(
        self,
        resource: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        group: str | None = None,
        subresource: str | None = None,
        content_type: str = MERGE_PATCH,
    ) -> dict[str, Any]:
        """Patch an object (merge patch unless `content_type` says otherwise), `/status` if `subresource="status"`."""
        rt = self.resource_type(resource, group)
        return self.api.patch(rt, namespace or "", name, content_type, patch, subresource, _HELPER).obj

    def delete(
        self, resource: str, name: str, namespace: str | None = None, group: str | None = None
    ) -> dict[str, Any]:
        rt = self.resource_type(resource, group)
        return self.api.delete(rt, namespace or "", name).obj

    def create_namespace(self, name: str) -> dict[str, Any]:
        return self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def install_crd(self, crd: Mapping[str, Any]) -> dict[str, Any]:
        """Install a CustomResourceDefinition: its served versions become API resources immediately."""
        return self.create(crd) if crd.get("apiVersion") == f"{CRD_GROUP}/v1" else self.create(
            {**crd, "apiVersion": f"{CRD_GROUP}/v1", "kind": "CustomResourceDefinition"}
        )

    # ------------------------------------------------------------------------------------------------ control
    def bookmark_watches(self) -> None:
        """Send a BOOKMARK now on every open watch that allows bookmarks."""
        for subscription in self.store.subscriptions():
            subscription.bookmark_requested = True
            subscription.ring()

    def compact(self) -> int:
        """Forget the change history (etcd compaction): watches from older resourceVersions get 410 Expired."""
        return self.store.compact()
