"""metav1.Condition lists with kstatus semantics.

kstatus (sigs.k8s.io/cli-utils) reads `Reconciling=True` as InProgress, `Stalled=True` as Failed, and otherwise
Current once `observedGeneration` matches. `Succeeded` is the monotonic outcome of a bounded run and is what
`kubectl wait --for=condition=Succeeded` waits for. A condition keeps its lastTransitionTime while its status holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SUCCEEDED = "Succeeded"
READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
CONDITION_TYPES = (SUCCEEDED, READY, RECONCILING, STALLED)


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


def merge_conditions(
    previous: Iterable[Mapping[str, Any]] | None,
    wanted: Iterable[Condition],
    *,
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """The full condition list to write: wanted conditions, keeping lastTransitionTime when status is unchanged."""
    old = {c["type"]: c for c in (previous or []) if isinstance(c, Mapping) and isinstance(c.get("type"), str)}
    merged: list[dict[str, Any]] = []
    for condition in wanted:
        before = old.get(condition.type)
        transition = now
        if before is not None and before.get("status") == condition.status and before.get("lastTransitionTime"):
            transition = str(before["lastTransitionTime"])
        merged.append(
            {
                "type": condition.type,
                "status": condition.status,
                "observedGeneration": generation,
                "lastTransitionTime": transition,
                "reason": condition.reason,
                "message": condition.message[:32768],
            }
        )
    return merged


def in_progress(reason: str, message: str) -> list[Condition]:
    return [
        Condition(SUCCEEDED, "Unknown", reason, message),
        Condition(READY, "False", reason, message),
        Condition(RECONCILING, "True", reason, message),
        Condition(STALLED, "False", reason, message),
    ]


def succeeded(reason: str, message: str) -> list[Condition]:
    return [
        Condition(SUCCEEDED, "True", reason, message),
        Condition(READY, "True", reason, message),
        Condition(RECONCILING, "False", reason, message),
        Condition(STALLED, "False", reason, message),
    ]


def failed(reason: str, message: str) -> list[Condition]:
    return [
        Condition(SUCCEEDED, "False", reason, message),
        Condition(READY, "False", reason, message),
        Condition(RECONCILING, "False", reason, message),
        Condition(STALLED, "True", reason, message),
    ]


def unknown(reason: str, message: str) -> list[Condition]:
    """The run ended without knowing whether ECE restarted: a human must look, so kstatus must stop waiting."""
    return [
        Condition(SUCCEEDED, "Unknown", reason, message),
        Condition(READY, "False", reason, message),
        Condition(RECONCILING, "False", reason, message),
        Condition(STALLED, "True", reason, message),
    ]
