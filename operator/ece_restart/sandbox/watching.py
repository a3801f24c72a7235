"""Watch streams: newline-delimited JSON events resumed from any resourceVersion still in the change log.

Semantics follow the apiserver: without a resourceVersion (or with "0") the stream starts with synthetic ADDED
events for the current state; with one, it replays every later change in order; an expired one gets an ERROR event
carrying a 410 Expired Status (Kopf and client-go then relist). Label/field selectors turn changes that move an
object in or out of the selection into ADDED/DELETED. With `allowWatchBookmarks` a BOOKMARK carrying the current
resourceVersion is sent every `bookmark_interval` seconds (and on demand); `sendInitialEvents` ends the initial
burst with the `k8s.io/initial-events-end` bookmark. Each watcher reads the shared log through its own cursor and
is woken by a per-watcher event, so a slow watcher never stalls writers or other watchers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ece_restart.sandbox.apiserver import ApiServer
from ece_restart.sandbox.resources import ResourceType
from ece_restart.sandbox.selectors import FieldSelector, LabelSelector
from ece_restart.sandbox.storage import Change, Expired, Subscription
from ece_restart.sandbox.tables import table

_IDLE_CHECK = 5.0  # seconds between checks for a vanished client while nothing happens


class Watch:
    """One client's watch over one type (optionally one namespace and selectors)."""

    def __init__(
        self,
        api: ApiServer,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        bookmarks: bool,
        table_objects: str | None = None,
    ) -> None:
        self.api = api
        self.rt = rt
        self.namespace = namespace if rt.namespaced else None
        self.labels = labels
        self.fields = fields
        self.bookmarks = bookmarks
        self.table_objects = table_objects  # None: plain objects; else the Table includeObject policy
        self._headers_sent = False

    def _selected(self, obj: dict[str, Any] | None) -> bool:
        return obj is not None and self.labels.matches(obj) and self.fields.matches(obj)

    def _line(self, event_type: str, obj: dict[str, Any]) -> bytes:
        if self.table_objects is not None and event_type not in ("BOOKMARK", "ERROR"):
            obj = table(self.rt, [obj], self.table_objects, headers=not self._headers_sent)
            self._headers_sent = True
        return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"

    def _bookmark(self, revision: int, initial_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return self._line("BOOKMARK", {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": metadata})

    def translate(self, change: Change) -> bytes | None:
        """The line this watcher sends for a change, if any."""
        if change.key != self.rt.storage or (self.namespace is not None and change.namespace != self.namespace):
            return None
        new = self.api.view(self.rt, change.obj)
        old = self.api.view(self.rt, change.old) if change.old is not None else None
        new_selected = self._selected(new)
        if change.type == "ADDED":
            return self._line("ADDED", new) if new_selected else None
        if change.type == "DELETED":
            return self._line("DELETED", new) if new_selected else None
        old_selected = self._selected(old)
        if new_selected and old_selected:
            return self._line("MODIFIED", new)
        if new_selected:
            return self._line("ADDED", new)
        if old_selected:
            return self._line("DELETED", new)
        return None

    def initial(self, send_initial_end: bool) -> tuple[list[bytes], int]:
        with self.api.store.lock:
            stored, revision = self.api.store.items(self.rt.storage, self.namespace)
        lines = [self._line("ADDED", obj) for obj in (self.api.view(self.rt, o) for o in stored) if self._selected(obj)]
        if send_initial_end and self.bookmarks:
            lines.append(self._bookmark(revision, initial_end=True))
        return lines, revision

    async def serve(
        self,
        request: web.Request,
        start: int | None,
        send_initial_end: bool,
        timeout_seconds: float | None,
        bookmark_interval: float,
        on_start: Callable[[], None] = lambda: None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        subscription = Subscription(asyncio.get_running_loop())
        store = self.api.store
        store.subscribe(subscription)  # before reading, so no commit can slip between snapshot and wait
        try:
            await response.prepare(request)
            on_start()
            deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
            if start is None:
                lines, cursor = self.initial(send_initial_end)
                if lines:
                    await response.write(b"".join(lines))
            else:
                cursor = start
            last_bookmark = time.monotonic()
            while True:
                subscription.bell.clear()
                if subscription.dropped:
                    if subscription.abrupt and request.transport is not None:
                        request.transport.abort()
                        return response
                    break
                try:
                    changes, head = store.changes_since(cursor)
                except Expired as error:
                    status = {
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": str(error), "reason": "Expired", "code": 410,
                    }
                    await response.write(self._line("ERROR", status))
                    break
                lines = [line for line in map(self.translate, changes) if line is not None]
                cursor = head
                if subscription.bookmark_requested and self.bookmarks:
                    subscription.bookmark_requested = False
                    lines.append(self._bookmark(cursor))
                    last_bookmark = time.monotonic()
                if lines:
                    await response.write(b"".join(lines))
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if request.transport is None or request.transport.is_closing():
                    return response
                waits = [_IDLE_CHECK, bookmark_interval - (time.monotonic() - last_bookmark)]
                if deadline is not None:
                    waits.append(deadline - time.monotonic())
                try:
                    await asyncio.wait_for(subscription.bell.wait(), timeout=max(0.0, min(waits)))
                except TimeoutError:
                    if self.bookmarks and time.monotonic() - last_bookmark >= bookmark_interval:
                        subscription.bookmark_requested = True
                        subscription.bell.set()
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client went away; nothing to tell it
        finally:
            store.unsubscribe(subscription)
        return response
