"""HTTP front of the sandbox: aiohttp routes mapping Kubernetes URLs onto `ApiServer`, discovery and OpenAPI.

A middleware records every request in the request log and applies injected faults before any handler runs.
Bodies may be JSON or YAML (server-side apply sends YAML); responses are JSON, or a meta.k8s.io Table when the
client asks for one. Authentication: any bearer token (or none) is accepted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from ece_restart.sandbox import discovery, errors, openapi, paths, protobuf
from ece_restart.sandbox.apiserver import APPLY_PATCH, ApiServer, WriteOptions
from ece_restart.sandbox.errors import ApiError
from ece_restart.sandbox.faults import Faults
from ece_restart.sandbox.requestlog import RequestLog, RequestRecord, who
from ece_restart.sandbox.resources import ResourceType
from ece_restart.sandbox.selectors import FieldSelector, LabelSelector
from ece_restart.sandbox.tables import table, wants_table
from ece_restart.sandbox.watching import Watch

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HEALTH = ("/healthz", "/livez", "/readyz")
_LOGGED = web.RequestKey("sandbox.logged", bool)


def _json(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type="application/json"
    )
    for warning in warnings or ():
        response.headers.add("Warning", f'299 - "{warning.replace(chr(34), chr(92) + chr(34))}"')
    return response


def _error(error: ApiError) -> web.Response:
    response = _json(error.status(), error.code)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


@dataclass
class Settings:
    bookmark_interval: float = 60.0


class Router:
    """Builds the aiohttp application for one sandbox."""

    def __init__(self, api: ApiServer, log: RequestLog, faults: Faults, settings: Settings) -> None:
        self.api = api
        self.log = log
        self.faults = faults
        self.settings = settings
        self.address = "127.0.0.1:0"

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response: web.StreamResponse
        started = time.time()
        route = paths.parse(request.method, request.path, request.query)
        status = 0
        try:
            if self.faults.refusing_now:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=503)
            while self.faults.held:  # noqa: ASYNC110 - the switch is a threading.Event flipped from test threads
                await asyncio.sleep(0.005)
            rule = self.faults.take(request.method, route)
            if rule is not None:
                error = errors.by_code(rule.status, rule.message)
                if rule.retry_after is not None:
                    error.headers["Retry-After"] = str(rule.retry_after)
                response = _error(error)
            else:
                try:
                    response = await handler(request)
                except ApiError as error:
                    response = _error(error)
            status = response.status
            return response
        finally:
            if not request.get(_LOGGED):  # watches are logged when their stream starts
                self._record(request, route, status, started)

    def _record(self, request: web.Request, route: paths.Route, status: int, started: float) -> None:
        request[_LOGGED] = True
        self.log.append(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=request.query_string,
                verb=route.verb,
                api_group=route.group,
                api_version=route.version,
                resource=route.resource,
                subresource=route.subresource,
                namespace=route.namespace,
                name=route.name,
                user_agent=request.headers.get("User-Agent", ""),
                content_type=request.headers.get("Content-Type", ""),
                credentials=who(request.headers.get("Authorization", "")),
                status_code=status,
                time=started,
            )
        )

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        route = paths.parse(request.method, path, request.query)
        if route.resource is not None and route.group is not None and route.version is not None:
            rt = self.api.registry.find(route.group, route.version, route.resource)
            if rt is None:
                raise _not_found()
            return await self._resource(request, rt, route)
        if request.method != "GET":
            raise errors.method_not_allowed()
        return self._non_resource(path)

    def _non_resource(self, path: str) -> web.Response:
        registry = self.api.registry
        parts = [part for part in path.split("/") if part]
        if path in _HEALTH:
            return web.Response(text="ok")
        if path == "/version":
            return _json(discovery.version_info())
        if path == "/api":
            return _json(discovery.api_versions(self.address))
        if path == "/apis":
            return _json(discovery.api_group_list(registry))
        if len(parts) == 2 and parts[0] == "apis":
            versions = registry.groups().get(parts[1])
            if versions:
                return _json(discovery.api_group(parts[1], versions))
        if len(parts) == 2 and parts[0] == "api":
            document = discovery.resource_list(registry, "", parts[1])
            if document:
                return _json(document)
        if len(parts) == 3 and parts[0] == "apis":
            document = discovery.resource_list(registry, parts[1], parts[2])
            if document:
                return _json(document)
        if path == "/openapi/v3":
            return _json(openapi.index(registry))
        if parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
            group, version = (parts[3], parts[4]) if parts[2] == "apis" and len(parts) == 5 else ("", parts[3])
            document = openapi.group_version_document(registry, group, version)
            if document:
                return _json(document)
        raise _not_found()

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return None
        content_type = request.headers.get("Content-Type", "application/json").lower()
        if "protobuf" in content_type:
            try:
                return protobuf.decode(raw)
            except ValueError as error:
                raise ApiError(415, "UnsupportedMediaType", str(error)) from error
        try:
            if "yaml" in content_type:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as error:
            raise errors.bad_request(f"the body of the request could not be decoded: {error}") from error

    def _options(self, request: web.Request) -> WriteOptions:
        query = request.query
        validation = query.get("fieldValidation", "Warn")
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(f"fieldValidation must be one of Strict, Warn, Ignore; got {validation!r}")
        return WriteOptions(
            field_manager=query.get("fieldManager"),
            field_validation=validation,
            dry_run=query.get("dryRun") == "All",
            force=query.get("force") in ("true", "1"),
            user_agent=request.headers.get("User-Agent", ""),
        )

    async def _resource(self, request: web.Request, rt: ResourceType, route: paths.Route) -> web.StreamResponse:
        namespace = route.namespace or ""
        if rt.namespaced and route.namespace is None and route.verb not in ("list", "watch"):
            raise _not_found()
        if route.subresource not in (None, "status") or (route.subresource == "status" and not rt.status_subresource):
            raise _not_found()
        name = route.name or ""
        verb = route.verb
        accept = request.headers.get("Accept", "")
        include = request.query.get("includeObject", "Metadata")
        if verb == "watch":
            return await self._watch(request, rt, route.namespace)
        if verb == "list":
            listing = self.api.list(
                rt,
                route.namespace,
                request.query.get("labelSelector"),
                request.query.get("fieldSelector"),
                int(request.query["limit"]) if request.query.get("limit", "").isdigit() else None,
                request.query.get("continue"),
            )
            if wants_table(accept):
                return _json(table(rt, listing["items"], include, listing["metadata"]))
            return _json(listing)
        if verb == "get":
            obj = self.api.get(rt, namespace, name)
            if wants_table(accept):
                return _json(table(rt, [obj], include, {"resourceVersion": obj["metadata"]["resourceVersion"]}))
            return _json(obj)
        body = await self._body(request)
        options = self._options(request)
        if verb == "create" and route.subresource is None and route.name is None:
            result = self.api.create(rt, namespace, body, options)
        elif verb == "update":
            result = self.api.replace(rt, namespace, name, body, route.subresource, options)
        elif verb == "patch":
            content_type = request.headers.get("Content-Type", "application/merge-patch+json")
            if content_type.startswith(APPLY_PATCH) and not options.field_manager:
                raise errors.bad_request(
                    "PATCH requests with apply patch type must have a fieldManager query parameter"
                )
            result = self.api.patch(rt, namespace, name, content_type, body, route.subresource, options)
        elif verb == "delete" and route.subresource is None:
            result = self.api.delete(rt, namespace, name, body, options)
        else:
            raise errors.method_not_allowed()
        return _json(result.obj, result.code, result.warnings)

    async def _watch(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.StreamResponse:
        query = request.query
        labels = LabelSelector.parse(query.get("labelSelector"))
        fields = FieldSelector.parse(query.get("fieldSelector"), rt.field_selectors, rt.kind)
        revision_text = query.get("resourceVersion", "")
        if revision_text not in ("", "0") and not revision_text.isdigit():
            raise errors.bad_request(f"invalid resource version: {revision_text!r}")
        start = int(revision_text) if revision_text not in ("", "0") else None
        send_initial = query.get("sendInitialEvents") in ("true", "1")
        if send_initial:
            start = None
        timeout_text = query.get("timeoutSeconds", "")
        timeout = float(timeout_text) if timeout_text.isdigit() and int(timeout_text) > 0 else None
        wants = wants_table(request.headers.get("Accept", ""))
        table_objects = query.get("includeObject", "Metadata") if wants else None
        watch = Watch(
            self.api,
            rt,
            namespace,
            labels,
            fields,
            bookmarks=query.get("allowWatchBookmarks") in ("true", "1"),
            table_objects=table_objects,
        )
        started = time.time()
        route = paths.parse(request.method, request.path, request.query)
        return await watch.serve(
            request,
            start,
            send_initial,
            timeout,
            self.settings.bookmark_interval,
            on_start=lambda: self._record(request, route, 200, started),
        )
