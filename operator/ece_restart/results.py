"""Typed outcomes of ECE calls. Callers never see a raw HTTP response."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final

ERROR_CODES_HEADER: Final = "x-cloud-error-codes"
_MAX_MESSAGE: Final = 1024


class Classification(StrEnum):
    """What a caller may do after a failed request."""

    PERMANENT = "permanent"  # asking again cannot help (4xx, TLS verification, invalid request)
    RETRYABLE = "retryable"  # nothing was applied, or ECE asked us to come back (500/502/503/504/429, refused)
    AMBIGUOUS = "ambiguous"  # the request left us and no answer came back: the restart may have been applied


class Outcome(StrEnum):
    """CamelCase machine reasons shared by the controller's status, events and the CLI's exit message."""

    RESTART_ACCEPTED = "RestartAccepted"
    RESTART_COMPLETED = "RestartCompleted"
    PLAN_FAILED = "PlanFailed"
    COMPLETION_TIMEOUT = "CompletionTimeout"
    ALREADY_EXECUTED = "AlreadyExecuted"
    INVALID_SPEC = "InvalidSpec"
    DEPLOYMENT_NOT_FOUND = "DeploymentNotFound"
    RESOURCE_NOT_FOUND = "ResourceNotFound"
    PLAN_CHANGE_CONFLICT = "PlanChangeConflict"
    ELEVATED_PERMISSIONS_REQUIRED = "ElevatedPermissionsRequired"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    CONNECTION_FAILED = "ConnectionFailed"
    TLS_VERIFICATION_FAILED = "TLSVerificationFailed"
    INVALID_CONNECTION = "InvalidConnection"
    RESOURCE_GONE = "ResourceNoLongerExists"
    RATE_LIMITED = "RateLimited"
    SERVER_ERROR = "ServerError"
    REQUEST_REJECTED = "RequestRejected"
    OUTCOME_UNKNOWN = "OutcomeUnknown"


_OUTCOME_BY_CODE: Final = {
    "deployments.deployment_not_found": Outcome.DEPLOYMENT_NOT_FOUND,
    "deployments.deployment_resource_not_found": Outcome.RESOURCE_NOT_FOUND,
    "root.resource_not_found": Outcome.RESOURCE_NOT_FOUND,
    "deployments.deployment_resource_plan_change_error": Outcome.PLAN_CHANGE_CONFLICT,
    "root.unauthorized.rbac.elevated_permissions_required": Outcome.ELEVATED_PERMISSIONS_REQUIRED,
    "root.needs_elevated_permissions": Outcome.ELEVATED_PERMISSIONS_REQUIRED,
    "deployments.deployment_resource_no_longer_exists": Outcome.RESOURCE_GONE,
}
_OUTCOME_BY_STATUS: Final = {
    401: Outcome.UNAUTHORIZED,
    403: Outcome.FORBIDDEN,
    404: Outcome.RESOURCE_NOT_FOUND,
    422: Outcome.PLAN_CHANGE_CONFLICT,
    429: Outcome.RATE_LIMITED,
    449: Outcome.ELEVATED_PERMISSIONS_REQUIRED,
}
RETRYABLE_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class ReplyWarning:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RestartAccepted:
    """ECE accepted the restart (HTTP 202); the resource now has a pending plan."""

    http_status: int
    warnings: tuple[ReplyWarning, ...] = ()

    @property
    def outcome(self) -> Outcome:
        return Outcome.RESTART_ACCEPTED


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """A request that did not succeed. `http_status` is None when no response arrived."""

    classification: Classification
    message: str
    http_status: int | None = None
    error_codes: tuple[str, ...] = ()
    retry_after: float | None = None
    outcome: Outcome = field(default=Outcome.SERVER_ERROR)

    @property
    def error_code(self) -> str | None:
        """The first ECE error code, verbatim."""
        return self.error_codes[0] if self.error_codes else None


RestartResult = RestartAccepted | RequestFailed


def classify_status(status: int) -> Classification:
    if status in RETRYABLE_STATUSES:
        return Classification.RETRYABLE
    return Classification.PERMANENT


def failure_from_response(status: int, headers: Mapping[str, str], body: bytes) -> RequestFailed:
    """Build a failure from any HTTP answer: JSON BasicFailedReply, a proxy's HTML page, or garbage."""
    codes: list[str] = []
    for header_code in _header(headers, ERROR_CODES_HEADER).split(","):
        if header_code.strip() and header_code.strip() not in codes:
            codes.append(header_code.strip())
    messages: list[str] = []
    for element in _reply_errors(body):
        code = element.get("code")
        if isinstance(code, str) and code and code not in codes:
            codes.append(code)
        text = element.get("message")
        if isinstance(text, str) and text:
            prefix = f"{code}: " if isinstance(code, str) and code else ""
            messages.append(prefix + text)
    reason = _reason_phrase(status)
    if messages:
        message = f"HTTP {status} {reason}: " + "; ".join(messages)
    elif codes:
        message = f"HTTP {status} {reason}: {', '.join(codes)}"
    else:
        message = f"HTTP {status} {reason} without an ECE error body (a proxy or load balancer may have answered)"
    outcome = next((_OUTCOME_BY_CODE[c] for c in codes if c in _OUTCOME_BY_CODE), None)
    if outcome is None:
        outcome = _OUTCOME_BY_STATUS.get(status, Outcome.SERVER_ERROR if status >= 500 else Outcome.REQUEST_REJECTED)
    return RequestFailed(
        classification=classify_status(status),
        message=_clip(message),
        http_status=status,
        error_codes=tuple(codes),
        retry_after=parse_retry_after(_header(headers, "retry-after")),
        outcome=outcome,
    )


def accepted_from_response(status: int, body: bytes) -> RestartAccepted:
    warnings: list[ReplyWarning] = []
    document = _json(body)
    if isinstance(document, dict) and isinstance(document.get("warnings"), list):
        for item in document["warnings"]:
            if isinstance(item, dict) and isinstance(item.get("code"), str):
                message = item.get("message")
                warnings.append(ReplyWarning(item["code"], message if isinstance(message, str) else ""))
    return RestartAccepted(http_status=status, warnings=tuple(warnings))


def parse_retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form only; HTTP dates are ignored)."""
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN, negative or infinite
        return None
    return seconds


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return ""


def _reply_errors(body: bytes) -> list[dict[str, Any]]:
    document = _json(body)
    if not isinstance(document, dict):
        return []
    errors = document.get("errors")
    if isinstance(errors, list):
        return [e for e in errors if isinstance(e, dict)]
    if isinstance(document.get("code"), str):  # some ECE endpoints answer a bare element
        return [document]
    return []


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _reason_phrase(status: int) -> str:
    if status == 449:
        return "Retry With"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "(non-standard status)"


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"
