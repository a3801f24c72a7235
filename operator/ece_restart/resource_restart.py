"""The ResourceRestart custom resource as typed values: what the user asked for and what the status says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ece_restart.plans import parse_time
from ece_restart.retry import RetryPolicy
from ece_restart.targets import ElasticsearchRestartOptions, InvalidTargetError, RestartTarget


class Phase(StrEnum):
    PENDING = "Pending"
    REQUESTING = "Requesting"
    RETRYING = "Retrying"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"

    @property
    def is_terminal(self) -> bool:
        return self in {Phase.SUCCEEDED, Phase.FAILED, Phase.UNKNOWN}


class InvalidSpecError(ValueError):
    """A spec the API server should have rejected; reported in status rather than crashing the operator."""


@dataclass(frozen=True, slots=True)
class RetrySpec:
    max_attempts: int = 5
    initial_delay_seconds: int = 2
    max_delay_seconds: int = 60

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            initial_delay=float(self.initial_delay_seconds),
            max_delay=float(self.max_delay_seconds),
        )


@dataclass(frozen=True, slots=True)
class RestartSpec:
    target: RestartTarget
    cancel_pending: bool
    elasticsearch: ElasticsearchRestartOptions | None
    secret_name: str | None
    retry: RetrySpec
    restart_token: str
    wait_for_completion: bool = False
    completion_timeout_seconds: int = 1800
    ttl_seconds_after_finished: int | None = None


@dataclass(frozen=True, slots=True)
class RestartStatus:
    phase: Phase | None
    attempts: int
    active_token: str | None
    last_handled_token: str | None
    last_attempt_time: datetime | None
    next_attempt_time: datetime | None
    start_time: datetime | None
    raw: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ResourceRestart:
    namespace: str
    name: str
    uid: str
    generation: int
    resource_version: str
    spec: Mapping[str, Any]
    status: RestartStatus

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def restart_token(self) -> str:
        token = self.spec.get("restartToken")
        return token if isinstance(token, str) else ""

    def parse_spec(self) -> RestartSpec:
        return parse_spec(self.spec)


def from_body(body: Mapping[str, Any]) -> ResourceRestart:
    metadata = _map(body.get("metadata"))
    return ResourceRestart(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        uid=str(metadata.get("uid", "")),
        generation=_int(metadata.get("generation"), 0),
        resource_version=str(metadata.get("resourceVersion", "")),
        spec=_map(body.get("spec")),
        status=parse_status(_map(body.get("status"))),
    )


def parse_status(status: Mapping[str, Any]) -> RestartStatus:
    phase_value = status.get("phase")
    try:
        phase = Phase(phase_value) if isinstance(phase_value, str) else None
    except ValueError:
        phase = None
    return RestartStatus(
        phase=phase,
        attempts=_int(status.get("attempts"), 0),
        active_token=_optional_str(status.get("activeToken")),
        last_handled_token=_optional_str(status.get("lastHandledToken")),
        last_attempt_time=parse_time(status.get("lastAttemptTime")),
        next_attempt_time=parse_time(status.get("nextAttemptTime")),
        start_time=parse_time(status.get("startTime")),
        raw=status,
    )


def parse_spec(spec: Mapping[str, Any]) -> RestartSpec:
    """Typed spec; the CRD schema already rejected malformed specs, this guards against a CRD that did not."""
    try:
        target = RestartTarget.of(
            _required_str(spec, "deploymentId"), _required_str(spec, "resourceKind"), _required_str(spec, "refId")
        )
    except InvalidTargetError as error:
        raise InvalidSpecError(str(error)) from None
    elasticsearch = None
    es = spec.get("elasticsearch")
    if es is not None:
        if not isinstance(es, Mapping):
            raise InvalidSpecError("spec.elasticsearch must be an object")
        if target.kind.is_stateless:
            raise InvalidSpecError("spec.elasticsearch is only allowed when resourceKind is elasticsearch")
        try:
            elasticsearch = ElasticsearchRestartOptions(
                restore_snapshot=_optional_bool(es.get("restoreSnapshot")),
                skip_snapshot=_optional_bool(es.get("skipSnapshot")),
                group_attribute=_optional_str(es.get("groupAttribute")),
                shard_init_wait_time=_optional_int(es.get("shardInitWaitTimeSeconds")),
            )
        except InvalidTargetError as error:
            raise InvalidSpecError(str(error)) from None
    retry_raw = _map(spec.get("retry"))
    retry = RetrySpec(
        max_attempts=_int(retry_raw.get("maxAttempts"), 5),
        initial_delay_seconds=_int(retry_raw.get("initialDelaySeconds"), 2),
        max_delay_seconds=_int(retry_raw.get("maxDelaySeconds"), 60),
    )
    try:
        retry.policy()
    except ValueError as error:
        raise InvalidSpecError(f"spec.retry: {error}") from None
    secret_name = _optional_str(_map(_map(spec.get("connection")).get("secretRef")).get("name"))
    return RestartSpec(
        target=target,
        cancel_pending=spec.get("cancelPending") is True,
        elasticsearch=elasticsearch,
        secret_name=secret_name,
        retry=retry,
        restart_token=_optional_str(spec.get("restartToken")) or "",
        wait_for_completion=spec.get("waitForCompletion") is True,
        completion_timeout_seconds=_int(spec.get("completionTimeoutSeconds"), 1800),
        ttl_seconds_after_finished=_optional_int(spec.get("ttlSecondsAfterFinished")),
    )


def _required_str(spec: Mapping[str, Any], field: str) -> str:
    value = spec.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidSpecError(f"spec.{field} is required")
    return value


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
