"""Kubernetes `Status` errors: every refusal the sandbox gives is shaped like the apiserver's, so clients react alike.

Kopf and kubectl branch on `code` and `reason` (409 Conflict, 410 Expired, 422 Invalid), so those must be exact;
the messages follow the apiserver's wording closely enough for humans to recognise them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One field-level cause of a 422 Invalid, as in `details.causes[]`."""

    reason: str
    message: str
    field: str

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def line(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ApiError(Exception):
    """A failed API call; `status()` is the response body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(plural: str, group: str) -> str:
    """`resourcerestarts.eceops.io`, or `configmaps` for the core group, as the apiserver names resources."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    details = {"name": name, "group": group, "kind": plural}
    return ApiError(404, "NotFound", f'{qualified(plural, group)} "{name}" not found', details)


def already_exists(plural: str, group: str, name: str) -> ApiError:
    details = {"name": name, "group": group, "kind": plural}
    return ApiError(409, "AlreadyExists", f'{qualified(plural, group)} "{name}" already exists', details)


def conflict(plural: str, group: str, name: str, why: str | None = None) -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    details = {"name": name, "group": group, "kind": plural}
    message = f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": {why}'
    return ApiError(409, "Conflict", message, details)


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    subject = f"{kind}.{group}" if group else kind
    lines = [cause.line() for cause in causes]
    summary = lines[0] if len(lines) == 1 else "[" + ", ".join(lines) + "]"
    details = {"name": name, "group": group, "kind": kind, "causes": [cause.as_dict() for cause in causes]}
    return ApiError(422, "Invalid", f'{subject} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str, what: str, accepted: list[str]) -> ApiError:
    # kubectl itself prefixes "<content type> is not supported by <what>: "; the apiserver's message does not.
    del content_type, what
    message = f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}"
    return ApiError(415, "UnsupportedMediaType", message)


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    details = {"name": name, "group": group, "kind": plural}
    return ApiError(403, "Forbidden", f'{qualified(plural, group)} "{name}" is forbidden: {why}', details)


def patch_rejected(why: str) -> ApiError:
    """What the apiserver answers when a JSON patch cannot be applied (including a failed `test`): 422."""
    details = {"causes": [{"reason": "UnexpectedServerResponse", "message": why}]}
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request", details)


def by_code(code: int, message: str | None = None) -> ApiError:
    """A generic error for a status code, used by injected faults."""
    reasons = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        405: "MethodNotAllowed",
        409: "Conflict",
        410: "Expired",
        422: "Invalid",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
        504: "Timeout",
    }
    reason = reasons.get(code, "Unknown")
    return ApiError(code, reason, message or f"injected fault: {code} {reason}")
