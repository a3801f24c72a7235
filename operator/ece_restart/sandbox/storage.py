"""Object storage with one global, monotonically increasing resourceVersion and a bounded change log.

Like etcd behind the apiserver: every write gets the next revision; watches resume from any revision still in the
log and get 410 Expired for older ones. The store is shared between the server's event loop and test threads, so
every access holds one lock; watchers living on other event loops are woken with `call_soon_threadsafe`.
Objects handed out are deep copies; objects inside the log are never mutated after they are appended.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]  # storage (group, plural)
Name = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True)
class Change:
    """One committed write, as watchers see it: ADDED, MODIFIED or DELETED, with the previous state."""

    revision: int
    type: str
    key: Key
    namespace: str
    name: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


class Expired(Exception):
    """The requested revision is older than the oldest one still in the log."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(eq=False)
class Subscription:
    """A watcher's doorbell: rung on every commit and when the watcher must stop."""

    loop: asyncio.AbstractEventLoop
    bell: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False
    abrupt: bool = False
    bookmark_requested: bool = False

    def ring(self) -> None:
        with contextlib.suppress(RuntimeError):  # the watcher's loop is closed: nobody listens any more
            self.loop.call_soon_threadsafe(self.bell.set)


class Store:
    """All objects of all types, keyed by storage key and (namespace, name)."""

    def __init__(self, history: int = 100_000, first_revision: int = 1000) -> None:
        self.lock = threading.RLock()
        self._objects: dict[Key, dict[Name, dict[str, Any]]] = {}
        self._revision = first_revision
        self._log: list[Change] = []
        self._floor = first_revision  # watches from revisions below this are expired
        self._history = history
        self._subscriptions: set[Subscription] = set()

    @property
    def revision(self) -> int:
        with self.lock:
            return self._revision

    def get(self, key: Key, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects.get(key, {}).get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def peek(self, key: Key, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object itself, not a copy: callers holding the lock must not mutate it."""
        return self._objects.get(key, {}).get((namespace, name))

    def items(self, key: Key, namespace: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Deep copies of all objects (of one namespace, if given) sorted by namespace/name, and the revision."""
        with self.lock:
            bucket = self._objects.get(key, {})
            names = sorted(name for name in bucket if namespace is None or name[0] == namespace)
            return [copy.deepcopy(bucket[name]) for name in names], self._revision

    def namespaces_in_use(self, namespace: str) -> Iterator[tuple[Key, str]]:
        with self.lock:
            for key, bucket in self._objects.items():
                for ns, name in list(bucket):
                    if ns == namespace:
                        yield key, name

    def next_revision(self) -> int:
        with self.lock:
            self._revision += 1
            return self._revision

    def commit(self, change_type: str, key: Key, obj: dict[str, Any], old: dict[str, Any] | None) -> Change:
        """Store (or, for DELETED, remove) `obj`, whose resourceVersion the caller already set, and log it."""
        metadata = obj["metadata"]
        namespace, name = metadata.get("namespace", ""), metadata["name"]
        with self.lock:
            revision = int(metadata["resourceVersion"])
            bucket = self._objects.setdefault(key, {})
            if change_type == "DELETED":
                bucket.pop((namespace, name), None)
            else:
                bucket[(namespace, name)] = obj
            change = Change(revision, change_type, key, namespace, name, obj, old)
            self._log.append(change)
            if len(self._log) > self._history:
                cut = len(self._log) - self._history // 2
                self._floor = self._log[cut - 1].revision
                del self._log[:cut]
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.ring()
        return change

    def changes_since(self, revision: int) -> tuple[list[Change], int]:
        """All changes after `revision` and the current revision; raises Expired if they are gone."""
        with self.lock:
            if revision < self._floor:
                raise Expired(revision, self._floor + 1)
            start = bisect.bisect_right(self._log, revision, key=lambda change: change.revision)
            return self._log[start:], self._revision

    def compact(self) -> int:
        """Forget the whole change log, like an etcd compaction; returns the new floor."""
        with self.lock:
            self._log.clear()
            self._floor = self._revision
            return self._floor

    def subscribe(self, subscription: Subscription) -> None:
        with self.lock:
            self._subscriptions.add(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            self._subscriptions.discard(subscription)

    def subscriptions(self) -> list[Subscription]:
        with self.lock:
            return list(self._subscriptions)
