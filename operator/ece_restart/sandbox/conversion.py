"""events.k8s.io/v1 Events are a second view of core v1 Events, as in Kubernetes: one storage, two shapes.

Kopf posts core events and `kubectl events` / other tools may read either group, so both must see the same objects.
"""

from __future__ import annotations

import copy
from typing import Any

# events.k8s.io/v1 field -> core/v1 field
_RENAMED = {
    "note": "message",
    "regarding": "involvedObject",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}
_SAME = ("metadata", "reason", "type", "action", "related", "reportingInstance", "eventTime", "series")


def core_to_events_v1(core: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"kind": "Event", "apiVersion": "events.k8s.io/v1"}
    for name in _SAME:
        if name in core:
            result[name] = copy.deepcopy(core[name])
    for new, old in _RENAMED.items():
        if old in core:
            result[new] = copy.deepcopy(core[old])
    return result


def events_v1_to_core(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"kind": "Event", "apiVersion": "v1"}
    for name in _SAME:
        if name in event:
            result[name] = copy.deepcopy(event[name])
    for new, old in _RENAMED.items():
        if new in event:
            result[old] = copy.deepcopy(event[new])
    return result
