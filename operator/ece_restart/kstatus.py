"""The kstatus rules (sigs.k8s.io/cli-utils/pkg/kstatus/status) for a ResourceRestart, in Python.

Flux (`wait: true`, `healthChecks`), `kpt live` and `kapply` decide whether an object is done with kstatus. This
module reproduces `status.Compute` for an object that is not one of kstatus's built-in kinds, in the same order:

1. `metadata.deletionTimestamp` set and not empty: Terminating.
2. `metadata.generation` and `status.observedGeneration` both present and different: InProgress
   (`LatestGenerationNotObserved`). An absent `status.observedGeneration` skips the check.
3. The first condition, in list order, that is `Reconciling=True` gives InProgress and the first that is
   `Stalled=True` gives Failed, with that condition's message.
4. (Built-in kinds have their own rules here; a custom resource has none.)
5. The first `Ready` condition: True gives Current, False or Unknown gives InProgress; any other value is skipped.
6. Otherwise Current ("Resource is current"), which is what a ResourceRestart with no status yet reads as.

Where kstatus's Go code would return an error (a field of the wrong type), `compute` returns Unknown, which is what
the kstatus status readers report for such an object. `compute(None)` is NotFound, as for an object that is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

STALLED: Final = "Stalled"
RECONCILING: Final = "Reconciling"
READY: Final = "Ready"


class KStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    CURRENT = "Current"
    TERMINATING = "Terminating"
    NOT_FOUND = "NotFound"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class KStatusResult:
    status: KStatus
    message: str
    # The condition kstatus reports with the result (type, reason), e.g. ("Reconciling", "LatestGenerationNotObserved").
    condition: tuple[str, str] | None = None


class _Malformed(ValueError):
    """A field kstatus's Go code could not read (it returns an error; pollers report Unknown)."""


@dataclass(frozen=True, slots=True)
class _Condition:
    type: str
    status: str
    reason: str
    message: str


def compute(obj: Mapping[str, Any] | None) -> KStatusResult:
    """The kstatus status of one object as read from the API server (None when the object does not exist)."""
    if obj is None:
        return KStatusResult(KStatus.NOT_FOUND, "Resource not found")
    try:
        return _compute(obj)
    except _Malformed as error:
        return KStatusResult(KStatus.UNKNOWN, str(error))


def _compute(obj: Mapping[str, Any]) -> KStatusResult:
    deletion = _nested(obj, "metadata", "deletionTimestamp")
    if deletion is not _ABSENT:
        if not isinstance(deletion, str):
            raise _Malformed(f".metadata.deletionTimestamp accessor error: {deletion!r} is not a string")
        if deletion:
            return KStatusResult(KStatus.TERMINATING, "Resource scheduled for deletion")

    generation = _nested_int(obj, "metadata", "generation")
    if generation is not None:
        observed = _nested_int(obj, "status", "observedGeneration")
        if observed is not None and observed != generation:
            kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
            message = f"{kind} generation is {generation}, but latest observed generation is {observed}"
            return KStatusResult(KStatus.IN_PROGRESS, message, (RECONCILING, "LatestGenerationNotObserved"))

    conditions = _conditions(obj)
    for condition in conditions:
        if condition.type == RECONCILING and condition.status == "True":
            return KStatusResult(KStatus.IN_PROGRESS, condition.message, (RECONCILING, condition.reason))
        if condition.type == STALLED and condition.status == "True":
            return KStatusResult(KStatus.FAILED, condition.message, (STALLED, condition.reason))

    for condition in conditions:
        if condition.type != READY:
            continue
        if condition.status == "True":
            return KStatusResult(KStatus.CURRENT, "Resource is Ready")
        if condition.status in ("False", "Unknown"):
            return KStatusResult(KStatus.IN_PROGRESS, condition.message, (RECONCILING, condition.reason))

    return KStatusResult(KStatus.CURRENT, "Resource is current")


class _Absent:
    pass


_ABSENT: Final = _Absent()


def _nested(obj: Mapping[str, Any], *fields: str) -> Any:
    """unstructured.NestedFieldNoCopy: _ABSENT when a level is missing or null, an error when it is not a map."""
    value: Any = obj
    for index, name in enumerate(fields):
        if value is None:
            return _ABSENT
        if not isinstance(value, Mapping):
            path = "." + ".".join(fields[: index + 1])
            raise _Malformed(f"{path} accessor error: {value!r} is of the type {type(value).__name__}, "
                             "expected map[string]interface{}")
        if name not in value:
            return _ABSENT
        value = value[name]
    return value


def _nested_int(obj: Mapping[str, Any], *fields: str) -> int | None:
    """unstructured.NestedInt64: None when absent, an error when present but not an integer."""
    value = _nested(obj, *fields)
    if value is _ABSENT:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f".{'.'.join(fields)} accessor error: {value!r} is of the type {type(value).__name__}, "
                         "expected int64")
    return value


def _conditions(obj: Mapping[str, Any]) -> list[_Condition]:
    """status.conditions as kstatus's ObjWithConditions reads them (strict types, missing fields empty)."""
    status = obj.get("status")
    if status is None:
        return []
    if not isinstance(status, Mapping):
        raise _Malformed(f".status is of the type {type(status).__name__}, expected an object")
    items = status.get("conditions")
    if items is None:
        return []
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise _Malformed(f".status.conditions is of the type {type(items).__name__}, expected an array")
    result: list[_Condition] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise _Malformed(f".status.conditions[{index}] is of the type {type(item).__name__}, expected an object")
        fields = []
        for name in ("type", "status", "reason", "message"):
            value = item.get(name)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise _Malformed(f".status.conditions[{index}].{name} is of the type {type(value).__name__}, "
                                 "expected a string")
            fields.append(value)
        result.append(_Condition(*fields))
    return result
