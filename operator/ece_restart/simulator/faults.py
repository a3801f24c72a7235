"""Scriptable faults: what the network or a proxy in front of ECE does to the next matching calls.

A `Fault` matches calls by route name and target (each filter `None` = any) and affects `times` of them (after
letting `skip` through). Effects, checked in this order:

  - `latency` (seconds, real time): wait before answering; combines with any other effect or stands alone;
  - `reset=True`: close the connection (TCP RST) without answering. The call is NOT applied;
  - `status=N`: answer N instead of handling the call (NOT applied). 502/503/504 default to a proxy's `text/html`
    page; other statuses to a JSON `BasicFailedReply` with `x-cloud-error-codes` (codes: 401 root.unauthenticated,
    403 root.permission_denied, 404 root.resource_not_found, 429 root.rate_limited, 500 internal.server.error,
    others `root.http_<N>`; override with `error_code`). `retry_after` adds `Retry-After`;
  - `drop_response=True`: handle the call normally (a restart IS applied), then close the connection without
    sending the response.

Route names: `restart` (both `_restart` endpoints; filter Elasticsearch with `kind="elasticsearch"`),
`get_deployment`, `get_resource`, `cancel_pending_plan`, and `unrouted` (anything else under /api/v1).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ROUTES: tuple[str, ...] = ("restart", "get_deployment", "get_resource", "cancel_pending_plan", "unrouted")

_JSON_ERROR_CODES: dict[int, tuple[str, str]] = {
    401: ("root.unauthenticated", "The supplied authentication is invalid"),
    403: ("root.permission_denied", "The user does not have the required authorization for this resource."),
    404: ("root.resource_not_found", "The requested resource could not be found"),
    429: ("root.rate_limited", "Too many requests. Please retry later."),
    500: ("internal.server.error", "There was an internal server error"),
    502: ("root.bad_gateway", "Bad gateway"),
    503: ("root.service_unavailable", "The service is temporarily unavailable"),
    504: ("root.gateway_timeout", "Gateway timeout"),
}
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    """One scripted fault. Build with keywords; see the module docstring for the effects."""

    route: str | None = None
    deployment_id: str | None = None
    kind: str | None = None
    ref_id: str | None = None
    status: int | None = None
    retry_after: str | int | float | None = None
    body: Literal["json", "html"] | None = None  # None: html for 502/503/504, json otherwise
    error_code: str | None = None  # JSON body code (default per status, e.g. internal.server.error for 500)
    latency: float = 0.0
    reset: bool = False
    drop_response: bool = False
    times: int | None = 1  # None: every matching call, forever
    skip: int = 0
    id: int = field(default=0, compare=False)
    used: int = field(default=0, compare=False)
    seen: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        effects = sum((self.status is not None, self.reset, self.drop_response))
        if effects > 1:
            raise ValueError("a fault has at most one of status, reset, drop_response")
        if effects == 0 and self.latency <= 0:
            raise ValueError("a fault needs an effect: status, reset, drop_response or latency > 0")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("a fault status must be 4xx or 5xx")
        if self.latency < 0:
            raise ValueError("latency must be >= 0")
        if self.route is not None and self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; expected one of {', '.join(ROUTES)}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 (or None for always)")
        if self.skip < 0:
            raise ValueError("skip must be >= 0")
        if self.body not in (None, "json", "html"):
            raise ValueError("body must be json or html")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        known = set(cls.__dataclass_fields__) - {"id", "used", "seen"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, route: str, deployment_id: str | None, kind: str | None, ref_ids: tuple[str | None, ...]) -> bool:
        """`ref_ids`: the ref id as written in the path and, if different, the one `_main` resolved to."""
        return (
            (self.route is None or self.route == route)
            and (self.deployment_id is None or self.deployment_id == deployment_id)
            and (self.kind is None or self.kind == kind)
            and (self.ref_id is None or self.ref_id in ref_ids)
        )

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times

    @property
    def label(self) -> str:
        if self.reset:
            effect = "reset"
        elif self.drop_response:
            effect = "drop_response"
        elif self.status is not None:
            effect = f"status:{self.status}"
        else:
            effect = "latency"
        if self.latency > 0 and effect != "latency":
            effect += f"+latency:{self.latency:g}"
        elif effect == "latency":
            effect = f"latency:{self.latency:g}"
        return effect

    def response(self) -> tuple[int, str, bytes, dict[str, str]]:
        """(status, content type, body, headers) for a `status` fault."""
        assert self.status is not None
        status = self.status
        headers: dict[str, str] = {}
        if self.retry_after is not None:
            retry_after = self.retry_after
            headers["Retry-After"] = f"{retry_after:g}" if isinstance(retry_after, float) else str(retry_after)
        use_html = self.body == "html" or (self.body is None and status in (502, 503, 504))
        reason = _REASONS.get(status, "Error")
        if use_html:
            page = (
                f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
                f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            return status, "text/html", page.encode(), headers
        code, message = _JSON_ERROR_CODES.get(status, (f"root.http_{status}", reason))
        if self.error_code is not None:
            code = self.error_code
        headers["x-cloud-error-codes"] = code
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        return status, "application/json", body, headers


class FaultBook:
    """The active faults; `take` finds and consumes the first one matching a call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [fault for fault in self._faults if fault.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(
        self, route: str, deployment_id: str | None, kind: str | None, ref_ids: tuple[str | None, ...]
    ) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(route, deployment_id, kind, ref_ids):
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip:
                    continue
                fault.used += 1
                return fault
            return None
