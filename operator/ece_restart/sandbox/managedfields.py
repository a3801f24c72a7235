"""managedFields bookkeeping: which field manager touched which fields, in the apiserver's FieldsV1 notation.

The sandbox does not resolve SSA ownership conflicts; it records plausible entries (one per manager, operation and
subresource) so clients and humans that read managedFields see what they would see on a cluster: `kubectl apply
--server-side` entries with operation Apply, Kopf's status patches under subresource "status", and so on.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from ece_restart.sandbox.clock import now

_OWNED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")


def changed(old: Any, new: Any) -> dict[str, Any]:
    """The fieldsV1 tree of what differs between two objects (the fields an Update touched)."""
    if not (isinstance(old, Mapping) and isinstance(new, Mapping)):
        return {}
    result: dict[str, Any] = {}
    for key, value in new.items():
        if key in old and old[key] == value:
            continue
        if isinstance(value, Mapping) and isinstance(old.get(key), Mapping):
            result[f"f:{key}"] = changed(old[key], value)
        elif isinstance(value, Mapping):
            result[f"f:{key}"] = field_set(value)
        else:
            result[f"f:{key}"] = {}
    return result


def owned_part(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an object field managers can own (no system metadata)."""
    result = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind", "metadata")}
    metadata = obj.get("metadata") or {}
    owned = {k: v for k, v in metadata.items() if k in _OWNED_METADATA}
    if owned:
        result["metadata"] = owned
    return result


def field_set(value: Any, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The managedFields `fieldsV1` tree of the fields present in `value`."""
    if not isinstance(value, Mapping):
        return {}
    result: dict[str, Any] = {}
    properties = (schema or {}).get("properties") or {}
    for key, child in value.items():
        child_schema = properties.get(key) if isinstance(properties, Mapping) else None
        if isinstance(child, Mapping):
            result[f"f:{key}"] = field_set(child, child_schema)
        elif isinstance(child, list) and child_schema and child_schema.get("x-kubernetes-list-type") == "map":
            keys = tuple(child_schema.get("x-kubernetes-list-map-keys") or ())
            entries: dict[str, Any] = {}
            for item in child:
                if isinstance(item, Mapping):
                    identity = json.dumps({k: item.get(k) for k in keys}, separators=(",", ":"))
                    entries[f"k:{identity}"] = {".": {}, **field_set(item, child_schema.get("items"))}
            result[f"f:{key}"] = entries
        else:
            result[f"f:{key}"] = {}
    return result


def merge_field_sets(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(left)
    for key, value in right.items():
        result[key] = merge_field_sets(result.get(key) or {}, value) if value else result.get(key, {})
    return result


def entry(
    api_version: str, manager: str, fields: dict[str, Any], operation: str, subresource: str | None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        result["subresource"] = subresource
    return result


def record(
    obj: dict[str, Any],
    api_version: str,
    manager: str,
    fields: dict[str, Any],
    operation: str,
    subresource: str | None,
    replace: bool,
) -> None:
    """Record a write in `obj`'s managedFields: one entry per (manager, operation, subresource)."""
    entries: list[dict[str, Any]] = obj["metadata"].get("managedFields") or []
    for existing in entries:
        if (existing.get("manager"), existing.get("operation"), existing.get("subresource")) == (
            manager, operation, subresource
        ):
            existing["fieldsV1"] = fields if replace else merge_field_sets(existing.get("fieldsV1") or {}, fields)
            existing["time"] = now()
            break
    else:
        if fields or not entries:
            entries.append(entry(api_version, manager, fields, operation, subresource))
    obj["metadata"]["managedFields"] = entries
