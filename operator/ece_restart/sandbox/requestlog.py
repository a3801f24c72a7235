"""The request log: every request the sandbox answered, readable in-process.

Tests count API writes per object (how many PATCHes did one CR cost?), check which verbs on which resources an
operator used (to keep RBAC rules honest), and wait for an operator to be ready (its first WATCH).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    """One answered request."""

    method: str
    path: str
    query: str
    verb: str
    api_group: str | None
    api_version: str | None
    resource: str | None
    subresource: str | None
    namespace: str | None
    name: str | None
    user_agent: str
    content_type: str
    credentials: str  # who authenticated, as an audit log says it: never the secret itself (see `who`)
    status_code: int
    time: float


def who(authorization: str) -> str:
    """`bearer:<first 12 hex of the token's SHA-256>`, `basic:<user>`, `other:<scheme>`, or "" with no header."""
    scheme, _, value = authorization.strip().partition(" ")
    if not scheme:
        return ""
    if scheme.lower() == "bearer":
        return "bearer:" + hashlib.sha256(value.strip().encode()).hexdigest()[:12]
    if scheme.lower() == "basic":
        try:
            return "basic:" + base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return "basic:?"
    return f"other:{scheme[:20]}"


class RequestLog:
    """Thread-safe append-only list of `RequestRecord`s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
