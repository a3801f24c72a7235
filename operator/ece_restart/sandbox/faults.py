"""Fault injection: the failures an operator must survive, on demand.

* `fail_next(count, status=...)` makes the next `count` matching requests answer an error Status (409 on a status
  patch, 503, 429 with Retry-After...), without touching storage.
* `drop_watches()` ends every open watch stream (cleanly, like a server timeout, or abruptly, like a load balancer
  cutting the connection).
* `hold()`/`release()` (or `with faults.holding():`) parks incoming requests until released: a slow apiserver.
* `refuse()`/`accept()` (or `with faults.refusing():`) closes incoming connections without an answer: an apiserver
  that is down.
All methods are thread-safe and can be called from tests while the sandbox serves in another thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ece_restart.sandbox.paths import Route
from ece_restart.sandbox.storage import Store


@dataclass
class FaultRule:
    """Answer `status` to the next `remaining` requests that match every given criterion."""

    status: int
    remaining: int
    method: str | None = None
    verb: str | None = None
    resource: str | None = None
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    retry_after: int | None = None
    message: str | None = None

    def matches(self, method: str, route: Route) -> bool:
        wanted = (
            (self.method, method.upper()),
            (self.verb, route.verb),
            (self.resource, route.resource),
            (self.subresource, route.subresource),
            (self.namespace, route.namespace),
            (self.name, route.name),
        )
        return all(expected is None or expected == actual for expected, actual in wanted)


class Faults:
    """The sandbox's fault switches."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._released = threading.Event()
        self._released.set()
        self._refusing = False

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int,
        method: str | None = None,
        verb: str | None = None,
        resource: str | None = None,
        subresource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> FaultRule:
        rule = FaultRule(status, count, method and method.upper(), verb, resource, subresource, namespace, name,
                         retry_after, message)
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(self, method: str, route: Route) -> FaultRule | None:
        """Consume one use of the first rule matching this request (called by the server)."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(method, route):
                    rule.remaining -= 1
                    return rule
            self._rules = [rule for rule in self._rules if rule.remaining > 0]
        return None

    def drop_watches(self, abrupt: bool = False) -> int:
        """End every open watch stream now; returns how many there were."""
        subscriptions = self._store.subscriptions()
        for subscription in subscriptions:
            subscription.dropped = True
            subscription.abrupt = abrupt
            subscription.ring()
        return len(subscriptions)

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    @property
    def held(self) -> bool:
        return not self._released.is_set()

    @contextmanager
    def holding(self) -> Iterator[None]:
        self.hold()
        try:
            yield
        finally:
            self.release()

    def refuse(self) -> None:
        with self._lock:
            self._refusing = True

    def accept(self) -> None:
        with self._lock:
            self._refusing = False

    @property
    def refusing_now(self) -> bool:
        with self._lock:
            return self._refusing

    @contextmanager
    def refusing(self) -> Iterator[None]:
        self.refuse()
        try:
            yield
        finally:
            self.accept()

    def clear(self) -> None:
        """Forget every pending rule and release held requests."""
        with self._lock:
            self._rules.clear()
            self._refusing = False
        self._released.set()
