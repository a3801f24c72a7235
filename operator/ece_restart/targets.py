"""What can be restarted: resource kinds, validated targets and the restart request they map to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import quote

DEPLOYMENT_ID_PATTERN: Final = re.compile(r"[0-9a-f]{32}")
# ECE documents ref_id only as "user-specified"; we refuse what could change the meaning of the URL path
# (empty, dot segments, slashes, control characters) and URL-encode everything else.
_MAX_REF_ID_LENGTH: Final = 256
_FORBIDDEN_REF_ID_CHARACTERS: Final = re.compile(r"[/\\\x00-\x1f\x7f]")


class InvalidTargetError(ValueError):
    """A deployment id, kind or ref_id that must not be sent to ECE."""


class ResourceKind(StrEnum):
    KIBANA = "kibana"
    APM = "apm"
    APPSEARCH = "appsearch"
    ENTERPRISE_SEARCH = "enterprise_search"
    INTEGRATIONS_SERVER = "integrations_server"
    ELASTICSEARCH = "elasticsearch"

    @property
    def is_stateless(self) -> bool:
        return self is not ResourceKind.ELASTICSEARCH


STATELESS_KINDS: Final = tuple(kind for kind in ResourceKind if kind.is_stateless)


def validate_deployment_id(deployment_id: str) -> str:
    if not isinstance(deployment_id, str) or not DEPLOYMENT_ID_PATTERN.fullmatch(deployment_id):
        raise InvalidTargetError(
            f"deployment id {deployment_id!r} is invalid: expected 32 lowercase hexadecimal characters"
        )
    return deployment_id


def validate_ref_id(ref_id: str) -> str:
    if not isinstance(ref_id, str) or not ref_id:
        raise InvalidTargetError("ref_id must be a non-empty string")
    if len(ref_id) > _MAX_REF_ID_LENGTH:
        raise InvalidTargetError(f"ref_id is longer than {_MAX_REF_ID_LENGTH} characters")
    if ref_id in {".", ".."} or _FORBIDDEN_REF_ID_CHARACTERS.search(ref_id):
        raise InvalidTargetError(f"ref_id {ref_id!r} is invalid: no '/', '\\', control characters or dot segments")
    return ref_id


def parse_kind(kind: str | ResourceKind) -> ResourceKind:
    try:
        return ResourceKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in ResourceKind)
        raise InvalidTargetError(f"resource kind {kind!r} is invalid: expected one of {allowed}") from None


@dataclass(frozen=True, slots=True)
class ElasticsearchRestartOptions:
    """Query parameters of the Elasticsearch restart endpoint; None leaves ECE's default in force."""

    restore_snapshot: bool | None = None
    skip_snapshot: bool | None = None
    group_attribute: str | None = None
    shard_init_wait_time: int | None = None

    def __post_init__(self) -> None:
        if self.group_attribute is not None and not self.group_attribute.strip():
            raise InvalidTargetError("group_attribute must not be blank")
        if self.shard_init_wait_time is not None and self.shard_init_wait_time < 0:
            raise InvalidTargetError("shard_init_wait_time must not be negative")

    def query(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.restore_snapshot is not None:
            params["restore_snapshot"] = _bool(self.restore_snapshot)
        if self.skip_snapshot is not None:
            params["skip_snapshot"] = _bool(self.skip_snapshot)
        if self.group_attribute is not None:
            params["group_attribute"] = self.group_attribute
        if self.shard_init_wait_time is not None:
            params["shard_init_wait_time"] = str(self.shard_init_wait_time)
        return params


@dataclass(frozen=True, slots=True)
class RestartTarget:
    """One resource of one deployment, validated on construction."""

    deployment_id: str
    kind: ResourceKind
    ref_id: str

    @classmethod
    def of(cls, deployment_id: str, kind: str | ResourceKind, ref_id: str) -> RestartTarget:
        return cls(validate_deployment_id(deployment_id), parse_kind(kind), validate_ref_id(ref_id))

    def __post_init__(self) -> None:
        validate_deployment_id(self.deployment_id)
        validate_ref_id(self.ref_id)
        if not isinstance(self.kind, ResourceKind):
            raise InvalidTargetError(f"kind must be a ResourceKind, not {self.kind!r}")

    @property
    def resource_path(self) -> str:
        """`/api/v1/deployments/{id}/{kind}/{ref_id}` with every segment URL-encoded."""
        return "/api/v1/deployments/{}/{}/{}".format(
            quote(self.deployment_id, safe=""), quote(self.kind.value, safe=""), quote(self.ref_id, safe="")
        )

    @property
    def restart_path(self) -> str:
        return f"{self.resource_path}/_restart"

    @property
    def pending_plan_path(self) -> str:
        return f"{self.resource_path}/plan/pending"

    def __str__(self) -> str:
        return f"{self.deployment_id}/{self.kind.value}/{self.ref_id}"


def restart_query(
    target: RestartTarget, *, cancel_pending: bool = False, elasticsearch: ElasticsearchRestartOptions | None = None
) -> dict[str, str]:
    """The query string of a restart request. Elasticsearch options are refused for other kinds."""
    if elasticsearch is not None and target.kind.is_stateless:
        raise InvalidTargetError(f"elasticsearch options are not allowed for kind {target.kind.value}")
    params = {"cancel_pending": _bool(cancel_pending)}
    if elasticsearch is not None:
        params.update(elasticsearch.query())
    return params


def _bool(value: bool) -> str:
    return "true" if value else "false"
