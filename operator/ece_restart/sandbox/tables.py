"""`as=Table` responses: what `kubectl get` prints, built from a type's printer columns.

For custom resources the columns are the CRD's `additionalPrinterColumns` (a Name column first, `date` columns
rendered as ages like "5m" as the apiserver does); built-in types get the columns the real apiserver prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ece_restart.sandbox.resources import PrinterColumn, ResourceType

TABLE_MEDIA = "as=table"
_NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}
_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_\-.]+)\s*==\s*[\"']([^\"']*)[\"']\)\]")


def wants_table(accept: str) -> bool:
    """True when the first acceptable media type asks for a meta.k8s.io Table."""
    for part in accept.split(","):
        if TABLE_MEDIA in part.replace(" ", "").lower():
            return True
        if part.strip():
            return False
    return False


def json_path(obj: Any, path: str) -> Any:
    """The first value of a simple JSONPath (`.a.b`, `.a[0]`, `.a[?(@.k=="v")].b`), or None."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    value: Any = obj
    position = 0
    while position < len(path) and value is not None:
        match = _TOKEN.match(path, position)
        if match is None:
            return None
        position = match.end()
        if match.group(1) is not None:
            value = value.get(match.group(1)) if isinstance(value, Mapping) else None
        elif match.group(2) is not None:
            index = int(match.group(2))
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            key, wanted = match.group(3), match.group(4)
            found = [
                item
                for item in (value if isinstance(value, list) else [])
                if isinstance(item, Mapping) and str(json_path(item, "." + key)) == wanted
            ]
            value = found[0] if found else None
    return value


def human_age(timestamp: str | None, now: datetime | None = None) -> str:
    """kubectl's HumanDuration of the time since `timestamp`."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return "<invalid>"
    seconds = int(((now or datetime.now(UTC)) - then).total_seconds())
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _cell(column: PrinterColumn, obj: Mapping[str, Any]) -> Any:
    if column.json_path == "#data":
        return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    if column.json_path == "#lastseen":
        timestamp = obj.get("lastTimestamp") or obj.get("eventTime") or obj.get("deprecatedLastTimestamp")
        return human_age(timestamp or (obj.get("metadata") or {}).get("creationTimestamp"))
    if column.json_path == "#object":
        regarding = obj.get("involvedObject") or obj.get("regarding") or {}
        return f"{str(regarding.get('kind', '')).lower()}/{regarding.get('name', '')}"
    value = json_path(obj, column.json_path)
    if value is None:
        return None
    if column.type == "date":
        return human_age(str(value))
    if column.type == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if column.type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if column.type == "boolean" and isinstance(value, bool):
        return value
    return str(value)


def column_definitions(rt: ResourceType) -> list[dict[str, Any]]:
    definitions = [dict(_NAME_COLUMN)]
    for column in rt.columns:
        definitions.append(
            {
                "name": column.name,
                "type": "string" if column.json_path.startswith("#") else column.type,
                "format": column.format,
                "description": column.description,
                "priority": column.priority,
            }
        )
    if rt.storage == ("", "events"):
        definitions.pop(0)  # events lead with Last Seen, like kubectl's event printer
    return definitions


def row(rt: ResourceType, obj: Mapping[str, Any], include_object: str) -> dict[str, Any]:
    cells = [cell for cell in (_cell(column, obj) for column in rt.columns)]
    if rt.storage != ("", "events"):
        cells.insert(0, (obj.get("metadata") or {}).get("name"))
    result: dict[str, Any] = {"cells": cells}
    if include_object == "Object":
        result["object"] = obj
    elif include_object != "None":
        result["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {},
        }
    return result


def table(
    rt: ResourceType,
    objects: list[dict[str, Any]],
    include_object: str = "Metadata",
    list_metadata: Mapping[str, Any] | None = None,
    headers: bool = True,
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of `objects`; `headers=False` for watch events after the first."""
    result: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_metadata or {}),
        "columnDefinitions": column_definitions(rt) if headers else None,
        "rows": [row(rt, obj, include_object) for obj in objects],
    }
    return result
