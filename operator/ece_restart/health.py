"""Liveness, readiness and Prometheus metrics over HTTP (aiohttp, in the operator's event loop).

* `/healthz` (liveness): 200 while the Kopf runtime is running; 503 once it has stopped.
* `/readyz` (readiness): 200 when Kopf has started its watchers and the Kubernetes API answered a list of
  ResourceRestarts within the last check (cached for a few seconds); 503 with the reason otherwise.
* `/metrics`: the operator's Prometheus metrics, on the metrics port (which may be the health port).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Check = Callable[[], Awaitable[tuple[bool, str]]]


@dataclass
class Readiness:
    """Caches an expensive API check so probes every few seconds cost one request at most."""

    started: Callable[[], bool]
    api_check: Check
    details: Callable[[], dict[str, Any]]
    ttl: float = 5.0
    _last: tuple[float, bool, str] = field(default=(0.0, False, "not checked yet"))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def check(self) -> tuple[bool, dict[str, Any]]:
        if not self.started():
            return False, {"ready": False, "reason": "the Kopf runtime has not started its watchers yet"}
        async with self._lock:
            checked_at, ok, reason = self._last
            if time.monotonic() - checked_at > self.ttl:
                try:
                    ok, reason = await asyncio.wait_for(self.api_check(), timeout=5)
                except Exception as error:
                    ok, reason = False, f"Kubernetes API check failed: {type(error).__name__}"
                self._last = (time.monotonic(), ok, reason)
        return ok, {"ready": ok, "reason": reason, **self.details()}


class HealthServer:
    def __init__(self, *, alive: Callable[[], bool], readiness: Readiness, registry: CollectorRegistry) -> None:
        self._alive = alive
        self._readiness = readiness
        self._registry = registry
        self._runners: list[web.AppRunner] = []
        self.ports: dict[str, int] = {}

    async def start(self, *, host: str, health_port: int | None, metrics_port: int | None) -> None:
        health = web.Application()
        health.router.add_get("/healthz", self._healthz)
        health.router.add_get("/readyz", self._readyz)
        metrics = health if metrics_port is not None and metrics_port == health_port else web.Application()
        metrics.router.add_get("/metrics", self._metrics)
        if health_port is not None:
            self.ports["health"] = await self._serve(health, host, health_port)
        if metrics_port is not None:
            self.ports["metrics"] = (self.ports["health"] if metrics is health
                                     else await self._serve(metrics, host, metrics_port))

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runners.append(runner)
        addresses = runner.addresses  # the bound port when 0 was asked for
        return int(addresses[-1][1]) if addresses else port

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def _healthz(self, _: web.Request) -> web.Response:
        alive = self._alive()
        return web.json_response({"alive": alive}, status=200 if alive else 503)

    async def _readyz(self, _: web.Request) -> web.Response:
        ready, body = await self._readiness.check()
        return web.json_response(body, status=200 if ready else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
