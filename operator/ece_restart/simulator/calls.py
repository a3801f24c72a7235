"""The call log: every /api/v1 request the simulator received and what it answered.

Credentials are never recorded: only the scheme of the `Authorization` header (`ApiKey`, `Basic`, `Bearer`, another
scheme's name, or None when absent) and whether it was accepted.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CallRecord:
    seq: int
    time: float  # simulator clock reading when the request arrived
    timestamp: str  # the same moment, ISO-8601 UTC
    method: str
    path: str  # decoded path, e.g. /api/v1/deployments/<id>/kibana/main-kibana/_restart
    raw_path: str  # path as sent (percent-encoding kept)
    query: dict[str, str]
    auth_scheme: str | None
    authenticated: bool
    route: str  # restart | get_deployment | get_resource | cancel_pending_plan | unrouted
    deployment_id: str | None
    kind: str | None
    ref_id: str | None  # as written in the path
    resolved_ref_id: str | None  # what `_main` resolved to (else the same as ref_id; None if no such resource)
    status: int | None  # None when the connection was reset before answering
    response_body: Any  # decoded JSON body, None for HTML or no response
    response_text: str | None  # the raw body when it is not JSON (e.g. a proxy HTML page)
    content_type: str | None
    response_headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None  # e.g. "status:500", "reset", "drop_response", "latency:2"
    delivered: bool = True  # False when the response never reached the client (reset, drop_response)
    applied: bool = False  # True when this call created a restart plan (a 202 from _restart)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []

    def next_seq(self) -> int:
        with self._lock:
            return len(self._records) + 1

    def append(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
