"""The simulator's HTTP side: an aiohttp application behaving like the ECE deployments API, plus admin endpoints.

aiohttp is used because it is maintained, asynchronous, and already installed as a Kopf dependency, so the
simulator adds nothing to the operator's dependency tree.

Routes (all under /api/v1 need credentials):
  POST   /api/v1/deployments/{deployment_id}/{kind}/{ref_id}/_restart      route "restart" (kind elasticsearch too)
  GET    /api/v1/deployments/{deployment_id}                               route "get_deployment"
  GET    /api/v1/deployments/{deployment_id}/{kind}/{ref_id}               route "get_resource"
  DELETE /api/v1/deployments/{deployment_id}/{kind}/{ref_id}/plan/pending  route "cancel_pending_plan"
  anything else under /api/v1                                              route "unrouted": 404 root.resource_not_found
Admin (no auth, never in the call log):
  GET    /_simulator/health                  {"ok": true, "mode": ..., "legacy_449": ...}
  GET    /_simulator/calls[?route=restart]   {"calls": [CallRecord as JSON, ...]};  DELETE clears the log
  GET    /_simulator/faults                  {"faults": [...]};  POST a Fault as JSON -> 201 {"fault": {...}};
                                             DELETE clears all; DELETE /_simulator/faults/{id} removes one
  POST   /_simulator/reset                   initial state, no faults, empty call log
  GET    /_simulator/restarts[?deployment_id=&kind=&ref_id=]   {"count": accepted restarts}
  POST   /_simulator/clock {"advance": S}    advance a ManualClock (409 with a real clock)
  PATCH  /_simulator/resources/{deployment_id}/{kind}/{ref_id}  {"vanished": true, "status": "stopped",
         "plan_seconds": 5, "plan_outcome": "error", "fail_next_plans": 1, ...}
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from ece_restart.simulator import plans, views
from ece_restart.simulator.calls import CallLog, CallRecord
from ece_restart.simulator.clock import Clock, ManualClock, Timeline
from ece_restart.simulator.faults import Fault, FaultBook
from ece_restart.simulator.state import ELASTICSEARCH, KINDS, STATELESS_KINDS, Resource, SimulatorState, StateError

Mode = Literal["ece", "ess"]

ELEVATED_CODE = "root.unauthorized.rbac.elevated_permissions_required"
PLAN_CHANGE_CODE = "deployments.deployment_resource_plan_change_error"
PENDING_MESSAGE = "There is a plan still pending, cancel that or wait for it to complete before restarting"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    applied: bool = False


def error_reply(status: int, code: str, message: str, fields: list[str] | None = None) -> Reply:
    """A `BasicFailedReply` with the `x-cloud-error-codes` header."""
    element: dict[str, Any] = {"code": code, "message": message}
    if fields:
        element["fields"] = fields
    return Reply(status, {"errors": [element]}, {"x-cloud-error-codes": code})


def _not_found_route() -> Reply:
    return error_reply(404, "root.resource_not_found", "The requested resource could not be found")


class BadQuery(Exception):
    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(name)
        self.reply = error_reply(
            400,
            "root.invalid_data",
            f"Invalid value [{value}] for query parameter [{name}]: expected {expected}",
            [name],
        )


def _query_bool(query: Mapping[str, str], name: str, default: bool) -> bool:
    if name not in query:
        return default
    value = query[name]
    # Strict on purpose: only the JSON literals. Catches clients that send Python's str(True) == "True".
    if value == "true":
        return True
    if value == "false":
        return False
    raise BadQuery(name, value, "a boolean (true or false)")


def _query_int(query: Mapping[str, str], name: str, default: int) -> int:
    if name not in query:
        return default
    value = query[name]
    try:
        number = int(value, 10)
    except ValueError:
        raise BadQuery(name, value, "an integer") from None
    if number < 0 or number > 2**31 - 1:
        raise BadQuery(name, value, "a non-negative 32-bit integer")
    return number


@dataclass(frozen=True)
class Principal:
    scheme: str
    user_id: str | None
    elevated: bool


class Simulator:
    """A strict, in-process ECE API simulator. See the package docstring for the full API."""

    def __init__(
        self,
        state: SimulatorState | None = None,
        *,
        api_keys: Iterable[str] = (),
        users: Mapping[str, str] | None = None,
        mode: Mode = "ece",
        legacy_449: bool = False,
        elevated_api_keys: Iterable[str] = (),
        elevated_users: Iterable[str] = (),
        clock: Clock | None = None,
        plan_seconds: float = 3.0,
        pending_visibility_delay: float = 0.0,
        wall_origin: float | None = None,
    ) -> None:
        if mode not in ("ece", "ess"):
            raise ValueError("mode must be 'ece' or 'ess'")
        if legacy_449 and mode != "ece":
            raise ValueError("legacy_449 (ECE <= 3.6 behaviour) only exists in ECE mode")
        if plan_seconds < 0 or pending_visibility_delay < 0:
            raise ValueError("plan_seconds and pending_visibility_delay must be >= 0")
        self.state = state if state is not None else SimulatorState.example()
        self.mode: Mode = mode
        self.legacy_449 = legacy_449
        self._elevated_api_keys = frozenset(elevated_api_keys)
        self._api_keys = frozenset(api_keys) | self._elevated_api_keys
        self._users = dict(users or {})
        self._elevated_users = frozenset(elevated_users)
        unknown = self._elevated_users - set(self._users)
        if unknown:
            raise ValueError("elevated_users must be among users")
        self.clock: Clock = clock if clock is not None else time.time
        self.timeline = Timeline(self.clock, wall_origin)
        self.plan_seconds = float(plan_seconds)
        self.pending_visibility_delay = float(pending_visibility_delay)
        self.faults = FaultBook()
        self._calls = CallLog()
        self._materialize()
        self._initial = self.state.copy()
        self._url: str | None = None
        self._stopping: asyncio.Event | None = None

    def __repr__(self) -> str:  # never shows credentials
        return f"Simulator(mode={self.mode!r}, legacy_449={self.legacy_449}, url={self._url!r})"

    # -- Python API -------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL while serving (e.g. `http://127.0.0.1:PORT`); the client appends `/api/v1/...`."""
        if self._url is None:
            raise RuntimeError("the simulator is not serving")
        return self._url

    @property
    def calls(self) -> list[CallRecord]:
        """Every /api/v1 call so far, oldest first (a copy)."""
        return self._calls.snapshot()

    def clear_calls(self) -> None:
        self._calls.clear()

    def add_fault(self, fault: Fault) -> Fault:
        """Activate a fault; returns it (its `id`, `used` and `seen` fields update as calls match)."""
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def accepted_restarts(
        self, deployment_id: str | None = None, kind: str | None = None, ref_id: str | None = None
    ) -> int:
        """Restarts that reached ECE (a `_restart` call that created a plan) for the matching resources.

        Each filter None matches all; `ref_id="_main"` resolves like the API. Injected `status`/`reset` faults do not
        count (the call never reached ECE); `drop_response` calls do.
        """
        with self.state.lock:
            total = 0
            for deployment, resource in self.state.all_resources():
                if deployment_id is not None and deployment.id != deployment_id:
                    continue
                if kind is not None and resource.kind != kind:
                    continue
                if ref_id is not None and resource is not deployment.find(resource.kind, ref_id):
                    continue
                total += resource.restart_count
            return total

    def resource(self, deployment_id: str, kind: str, ref_id: str) -> Resource:
        """Shortcut for `state.resource(...)`."""
        return self.state.resource(deployment_id, kind, ref_id)

    def advance(self, seconds: float) -> None:
        """Advance a `ManualClock` (TypeError for any other clock)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs the simulator to use a ManualClock")
        self.clock.advance(seconds)

    def reset(self) -> None:
        """Back to the state given at construction; clears faults and the call log."""
        with self.state.lock:
            fresh = self._initial.copy()
            self.state.deployments = fresh.deployments
            self._materialize()
        self.faults.clear()
        self._calls.clear()

    def settle(self) -> None:
        """Finish every plan whose time has come (requests do this by themselves)."""
        now = self.clock()
        with self.state.lock:
            self._materialize()
            for _deployment, resource in self.state.all_resources():
                plans.settle(resource, now)

    def _materialize(self) -> None:
        now = self.clock()
        with self.state.lock:
            for deployment, resource in self.state.all_resources():
                plans.ensure_initial_plan(deployment, resource, now)

    # -- serving ----------------------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application()
        api = "/api/v1/deployments/{deployment_id}"
        app.router.add_route("POST", api + "/{kind}/{ref_id}/_restart", self._api, name="restart")
        app.router.add_route("GET", api, self._api, name="get_deployment")
        app.router.add_route("GET", api + "/{kind}/{ref_id}", self._api, name="get_resource")
        app.router.add_route("DELETE", api + "/{kind}/{ref_id}/plan/pending", self._api, name="cancel_pending_plan")
        app.router.add_route("*", "/api/v1{tail:.*}", self._api, name="unrouted")
        admin = "/_simulator"
        app.router.add_get(admin + "/health", self._admin_health)
        app.router.add_get(admin + "/calls", self._admin_calls)
        app.router.add_delete(admin + "/calls", self._admin_clear_calls)
        app.router.add_get(admin + "/faults", self._admin_faults)
        app.router.add_post(admin + "/faults", self._admin_add_fault)
        app.router.add_delete(admin + "/faults", self._admin_clear_faults)
        app.router.add_delete(admin + "/faults/{fault_id}", self._admin_remove_fault)
        app.router.add_post(admin + "/reset", self._admin_reset)
        app.router.add_get(admin + "/restarts", self._admin_restarts)
        app.router.add_post(admin + "/clock", self._admin_clock)
        app.router.add_patch(admin + "/resources/{deployment_id}/{kind}/{ref_id}", self._admin_patch_resource)
        return app

    @contextlib.asynccontextmanager
    async def serving(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        access_log: bool = False,
    ) -> AsyncIterator[str]:
        """Serve on the running loop; yields the base URL (`http[s]://HOST:PORT`)."""
        if self._url is not None:
            raise RuntimeError("the simulator is already serving")
        self._stopping = asyncio.Event()
        kwargs: dict[str, Any] = {} if access_log else {"access_log": None}
        runner = web.AppRunner(self.make_app(), shutdown_timeout=1.0, **kwargs)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
            await site.start()
            server = site._server
            assert server is not None
            sockets: list[socket.socket] = list(getattr(server, "sockets", None) or ())
            bound_port = int(sockets[0].getsockname()[1])
            scheme = "https" if ssl_context is not None else "http"
            shown_host = f"[{host}]" if ":" in host else host
            self._url = f"{scheme}://{shown_host}:{bound_port}"
            yield self._url
        finally:
            self._stopping.set()
            self._url = None
            await runner.cleanup()

    @contextlib.contextmanager
    def serving_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None
    ) -> Iterator[str]:
        """Serve from a daemon thread with its own event loop; yields the base URL; stops on exit."""
        started = threading.Event()
        outcome: dict[str, Any] = {}
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        async def run() -> None:
            try:
                async with self.serving(host, port, ssl_context=ssl_context) as url:
                    outcome["url"] = url
                    started.set()
                    await stop.wait()
            except BaseException as error:  # report start-up failures to the caller's thread
                outcome["error"] = error
                started.set()

        def target() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(run())
            finally:
                loop.close()

        thread = threading.Thread(target=target, name="ece-simulator", daemon=True)
        thread.start()
        started.wait()
        if "error" in outcome:
            thread.join()
            raise outcome["error"]
        try:
            yield str(outcome["url"])
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join()

    # -- the API ----------------------------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        arrival = self.clock()
        info = request.match_info
        route = info.route.name or "unrouted"
        deployment_id = info.get("deployment_id")
        kind = info.get("kind")
        ref_id = info.get("ref_id")
        query = {key: request.query.getone(key) for key in request.query}
        scheme, principal = self._authenticate(request.headers.get("Authorization"))
        with self.state.lock:
            resolved = self._resolve(deployment_id, kind, ref_id)
        fault = self.faults.take(route, deployment_id, kind, (ref_id, resolved))
        fault_label = fault.label if fault is not None else None

        def record(
            reply_status: int | None,
            body: Any,
            text: str | None,
            ctype: str | None,
            headers: Mapping[str, str],
            *,
            delivered: bool = True,
            applied: bool = False,
        ) -> None:
            self._calls.append(
                CallRecord(
                    seq=self._calls.next_seq(),
                    time=arrival,
                    timestamp=self.timeline.iso(arrival),
                    method=request.method,
                    path=request.path,
                    raw_path=request.raw_path.split("?", 1)[0],
                    query=query,
                    auth_scheme=scheme,
                    authenticated=principal is not None,
                    route=route,
                    deployment_id=deployment_id,
                    kind=kind,
                    ref_id=ref_id,
                    resolved_ref_id=resolved,
                    status=reply_status,
                    response_body=body,
                    response_text=text,
                    content_type=ctype,
                    response_headers=dict(headers),
                    fault=fault_label,
                    delivered=delivered,
                    applied=applied,
                )
            )

        if fault is not None and fault.latency > 0 and not await self._wait(fault.latency):
            record(None, None, None, None, {}, delivered=False)
            return self._abort(request)
        if fault is not None and fault.reset:
            record(None, None, None, None, {}, delivered=False)
            return self._abort(request)
        if fault is not None and fault.status is not None:
            status, ctype, payload, headers = fault.response()
            body = json.loads(payload) if ctype == "application/json" else None
            text = None if body is not None else payload.decode()
            record(status, body, text, ctype, {"Content-Type": ctype, **headers})
            return web.Response(status=status, body=payload, content_type=ctype, headers=headers)

        reply = self._dispatch(request, route, principal, query)
        headers = {"Content-Type": "application/json", **reply.headers}
        if fault is not None and fault.drop_response:
            record(reply.status, reply.body, None, "application/json", headers, delivered=False, applied=reply.applied)
            return self._abort(request)
        record(reply.status, reply.body, None, "application/json", headers, applied=reply.applied)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)

    async def _wait(self, seconds: float) -> bool:
        """Sleep `seconds` of real time; False if the simulator is stopping meanwhile."""
        stopping = self._stopping
        if stopping is None:
            await asyncio.sleep(seconds)
            return True
        try:
            await asyncio.wait_for(stopping.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    @staticmethod
    def _abort(request: web.Request) -> web.StreamResponse:
        """Close the connection with a TCP reset and send nothing."""
        transport = request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        return web.Response(status=500)  # never reaches the client: the transport is gone

    def _authenticate(self, header: str | None) -> tuple[str | None, Principal | None]:
        """(scheme for the call log, principal or None). Never stores or returns the secret."""
        if header is None:
            return None, None
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        lowered = scheme.lower()
        if lowered == "apikey":
            scheme = "ApiKey"
            for key in self._api_keys:
                if credentials and hmac.compare_digest(key.encode(), credentials.encode()):
                    return scheme, Principal(scheme, None, key in self._elevated_api_keys)
            return scheme, None
        if lowered == "basic":
            scheme = "Basic"
            if self.mode != "ece":
                return scheme, None
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return scheme, None
            name, sep, password = decoded.partition(":")
            expected = self._users.get(name)
            if sep and expected is not None and hmac.compare_digest(expected.encode(), password.encode()):
                return scheme, Principal(scheme, name, name in self._elevated_users)
            return scheme, None
        if lowered == "bearer":
            return "Bearer", None
        return (scheme[:32] or None), None

    def _resolve(self, deployment_id: str | None, kind: str | None, ref_id: str | None) -> str | None:
        if deployment_id is None or kind is None or ref_id is None:
            return None
        deployment = self.state.deployments.get(deployment_id)
        if deployment is None:
            return None
        resource = deployment.find(kind, ref_id)
        return resource.ref_id if resource is not None else None

    def _dispatch(self, request: web.Request, route: str, principal: Principal | None, query: dict[str, str]) -> Reply:
        if principal is None:
            return error_reply(401, "root.unauthenticated", "The supplied authentication is invalid")
        if route == "unrouted":
            return _not_found_route()
        info = request.match_info
        now = self.clock()
        try:
            with self.state.lock:
                self._materialize()
                for _deployment, resource in self.state.all_resources():
                    plans.settle(resource, now)
                if route == "get_deployment":
                    return self._get_deployment(info["deployment_id"], query, now)
                kind = info["kind"]
                if route == "restart":
                    if kind != ELASTICSEARCH and kind not in STATELESS_KINDS:
                        return _not_found_route()
                    return self._restart(request, principal, info["deployment_id"], kind, info["ref_id"], query, now)
                if kind not in KINDS:
                    return _not_found_route()
                if route == "get_resource":
                    return self._get_resource(info["deployment_id"], kind, info["ref_id"], query, now)
                return self._cancel_pending(principal, info["deployment_id"], kind, info["ref_id"], query, now)
        except BadQuery as bad:
            return bad.reply

    def _lookup(self, deployment_id: str, kind: str, ref_id: str) -> tuple[Reply | None, Any, Resource | None]:
        deployment = self.state.deployments.get(deployment_id)
        if deployment is None:
            return (
                error_reply(
                    404, "deployments.deployment_not_found", f"No Deployment with id [{deployment_id}] could be found"
                ),
                None,
                None,
            )
        resource = deployment.find(kind, ref_id)
        if resource is None:
            return (
                error_reply(
                    404,
                    "deployments.deployment_resource_not_found",
                    f"The Resource specified by [{ref_id}] cannot be found",
                ),
                deployment,
                None,
            )
        if resource.vanished:
            return (
                error_reply(
                    500,
                    "deployments.deployment_resource_no_longer_exists",
                    f"The Resource [{kind}/{resource.ref_id}] that was previously stored no longer exists",
                ),
                deployment,
                resource,
            )
        return None, deployment, resource

    def _writable(self, principal: Principal, deployment_id: str, kind: str,
                  ref_id: str) -> tuple[Reply | None, Resource | None]:
        """A write's checks in ECE's order: elevated permissions (legacy 449 mode), then the resource exists."""
        if self.legacy_449 and not principal.elevated:
            return error_reply(449, ELEVATED_CODE, "Elevated permissions are required."), None
        problem, _deployment, resource = self._lookup(deployment_id, kind, ref_id)
        return problem, resource

    def _restart(
        self,
        request: web.Request,
        principal: Principal,
        deployment_id: str,
        kind: str,
        ref_id: str,
        query: dict[str, str],
        now: float,
    ) -> Reply:
        cancel = _query_bool(query, "cancel_pending", False)
        options: plans.ElasticsearchRestart | None = None
        if kind == ELASTICSEARCH:
            options = plans.ElasticsearchRestart(
                restore_snapshot=_query_bool(query, "restore_snapshot", True),
                skip_snapshot=_query_bool(query, "skip_snapshot", True),
                group_attribute=query.get("group_attribute", "__zone__"),
                shard_init_wait_time=_query_int(query, "shard_init_wait_time", 600),
            )
            if not options.group_attribute.strip() or any(
                not part.strip() for part in options.group_attribute.split(",")
            ):
                raise BadQuery("group_attribute", options.group_attribute, "__all__, __zone__, __name__ or attributes")
        problem, resource = self._writable(principal, deployment_id, kind, ref_id)
        if problem is not None:
            return problem
        assert resource is not None
        if resource.pending is not None and not cancel:
            return error_reply(422, PLAN_CHANGE_CODE, PENDING_MESSAGE)
        if resource.pending is None and resource.status == "stopped" and resource.last_successful is None:
            return error_reply(422, PLAN_CHANGE_CODE, "The resource is not running and has no successful plan to start")
        if resource.pending is None and resource.status == "started" and resource.current is None:
            return error_reply(422, PLAN_CHANGE_CODE, "The resource has no plan to re-apply")
        if cancel:
            plans.cancel_pending(resource, now, "The plan was cancelled by a restart with cancel_pending=true")
        duration = self.plan_seconds if resource.plan_seconds is None else resource.plan_seconds
        delay = (
            self.pending_visibility_delay
            if resource.pending_visibility_delay is None
            else resource.pending_visibility_delay
        )
        try:
            plans.begin_restart(
                resource,
                now,
                duration=duration,
                visibility_delay=delay,
                elasticsearch=options,
                user_id=principal.user_id,
                remote_address=request.remote,
            )
        except plans.PlanConflict as conflict:
            return error_reply(422, PLAN_CHANGE_CODE, str(conflict))
        return Reply(202, {}, applied=True)

    def _show_flags(self, query: dict[str, str]) -> views.ShowFlags:
        return views.ShowFlags(
            plans=_query_bool(query, "show_plans", True),
            plan_logs=_query_bool(query, "show_plan_logs", False),
            plan_history=_query_bool(query, "show_plan_history", False),
        )

    def _check_other_bools(self, query: dict[str, str], names: Iterable[str]) -> None:
        for name in names:
            _query_bool(query, name, False)

    def _get_deployment(self, deployment_id: str, query: dict[str, str], now: float) -> Reply:
        flags = self._show_flags(query)
        self._check_other_bools(query, _GET_DEPLOYMENT_BOOLS)
        if "show_system_alerts" in query:
            try:
                int(query["show_system_alerts"], 10)
            except ValueError:
                raise BadQuery("show_system_alerts", query["show_system_alerts"], "an integer") from None
        deployment = self.state.deployments.get(deployment_id)
        if deployment is None:
            return error_reply(
                404, "deployments.deployment_not_found", f"No Deployment with id [{deployment_id}] could be found"
            )
        return Reply(200, views.deployment_view(deployment, now, self.timeline, flags))

    def _get_resource(self, deployment_id: str, kind: str, ref_id: str, query: dict[str, str], now: float) -> Reply:
        flags = self._show_flags(query)
        self._check_other_bools(query, _GET_RESOURCE_BOOLS)
        problem, deployment, resource = self._lookup(deployment_id, kind, ref_id)
        if problem is not None:
            return problem
        assert resource is not None
        return Reply(200, views.resource_view(deployment, resource, now, self.timeline, flags))

    def _cancel_pending(
        self, principal: Principal, deployment_id: str, kind: str, ref_id: str, query: dict[str, str], now: float
    ) -> Reply:
        force = _query_bool(query, "force_delete", False)
        ignore_missing = _query_bool(query, "ignore_missing", False)
        problem, resource = self._writable(principal, deployment_id, kind, ref_id)
        if problem is not None:
            return problem
        assert resource is not None
        body = {"id": deployment_id, "kind": kind, "ref_id": resource.ref_id}
        if resource.pending is None:
            if ignore_missing:
                return Reply(200, body)
            return error_reply(
                400, "deployments.resource_does_not_have_a_pending_plan", "The Resource does not have a pending plan."
            )
        message = "The pending plan was deleted (force_delete)" if force else "The pending plan was cancelled"
        plans.cancel_pending(resource, now, message)
        return Reply(200, body)

    # -- admin endpoints ----------------------------------------------------------------------------------------------

    async def _admin_health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "mode": self.mode, "legacy_449": self.legacy_449})

    async def _admin_calls(self, request: web.Request) -> web.Response:
        route = request.query.get("route")
        calls = [c.to_dict() for c in self.calls if route is None or c.route == route]
        return web.json_response({"calls": calls})

    async def _admin_clear_calls(self, request: web.Request) -> web.Response:
        self.clear_calls()
        return web.json_response({})

    async def _admin_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": [f.to_dict() for f in self.faults.active()]})

    async def _admin_add_fault(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("a fault is a JSON object")
            fault = self.add_fault(Fault.from_dict(data))
        except (ValueError, TypeError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"fault": fault.to_dict()}, status=201)

    async def _admin_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({})

    async def _admin_remove_fault(self, request: web.Request) -> web.Response:
        try:
            fault_id = int(request.match_info["fault_id"])
        except ValueError:
            return web.json_response({"error": "fault id must be an integer"}, status=400)
        if not self.faults.remove(fault_id):
            return web.json_response({"error": f"no fault {fault_id}"}, status=404)
        return web.json_response({})

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({})

    async def _admin_restarts(self, request: web.Request) -> web.Response:
        query = request.query
        count = self.accepted_restarts(query.get("deployment_id"), query.get("kind"), query.get("ref_id"))
        return web.json_response({"count": count})

    async def _admin_clock(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            seconds = float(data["advance"])
            self.advance(seconds)
        except TypeError as error:
            return web.json_response({"error": str(error)}, status=409)
        except (ValueError, KeyError) as error:
            return web.json_response({"error": f'expected {{"advance": seconds}}: {error}'}, status=400)
        return web.json_response({"now": self.clock()})

    async def _admin_patch_resource(self, request: web.Request) -> web.Response:
        info = request.match_info
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            with self.state.lock:
                resource = self.state.resource(info["deployment_id"], info["kind"], info["ref_id"])
                _patch_resource(resource, data)
        except KeyError:
            return web.json_response({"error": "no such resource"}, status=404)
        except (ValueError, TypeError, StateError) as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"ok": True})


_PATCHABLE = {
    "status",
    "vanished",
    "plan_seconds",
    "plan_outcome",
    "fail_next_plans",
    "failure_type",
    "failure_message",
    "restart_status",
    "pending_visibility_delay",
}

_GET_DEPLOYMENT_BOOLS = (
    "show_security",
    "show_metadata",
    "show_plan_defaults",
    "convert_legacy_plans",
    "show_settings",
    "show_instance_configurations",
    "enrich_with_template",
    "force_all_plan_history",
    "clear_transient",
)
_GET_RESOURCE_BOOLS = (
    "show_security",
    "show_metadata",
    "show_plan_defaults",
    "convert_legacy_plans",
    "show_settings",
    "enrich_with_template",
    "clear_transient",
)


def _patch_resource(resource: Resource, data: dict[str, Any]) -> None:
    unknown = set(data) - _PATCHABLE
    if unknown:
        raise ValueError(f"cannot patch {', '.join(sorted(unknown))}; patchable: {', '.join(sorted(_PATCHABLE))}")
    choices = {
        "status": ("started", "stopped"),
        "plan_outcome": ("success", "error"),
        "restart_status": ("restarting", "rebooting"),
    }
    for key, value in data.items():
        if key in choices and value not in choices[key]:
            raise ValueError(f"{key} must be one of {', '.join(choices[key])}")
        setattr(resource, key, value)
