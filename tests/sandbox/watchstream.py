"""A small watch client for the sandbox tests: collects events from a streaming GET with a deadline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx


class Watcher:
    """Reads one watch stream in a background task; `events` fills up as lines arrive."""

    def __init__(
        self, client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> None:
        self.client, self.path, self.params, self.headers = client, path, {**params, "watch": "true"}, headers or {}
        self.events: list[dict[str, Any]] = []
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.changed = asyncio.Event()
        self.error: BaseException | None = None
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        try:
            async with self.client.stream("GET", self.path, params=self.params, headers=self.headers) as response:
                assert response.status_code == 200, await response.aread()
                self.connected.set()
                async for line in response.aiter_lines():
                    if line:
                        self.events.append(json.loads(line))
                        self.changed.set()
        except (httpx.HTTPError, AssertionError) as error:
            self.error = error
        finally:
            self.connected.set()
            self.ended.set()
            self.changed.set()

    async def __aenter__(self) -> Watcher:
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.connected.wait(), 10)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> None:
        """Wait until `predicate(events)` holds; fail after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate(self.events):
                if self.ended.is_set():
                    raise AssertionError(f"watch ended early after {len(self.events)} events: {self.error!r}")
                self.changed.clear()
                await self.changed.wait()

    async def wait_count(self, count: int, event_type: str | None = None, timeout: float = 10.0) -> None:
        def enough(events: list[dict[str, Any]]) -> bool:
            return len([e for e in events if event_type in (None, e["type"])]) >= count

        await self.wait_for(enough, timeout)

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] in types]
