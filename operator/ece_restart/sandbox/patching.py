"""The four PATCH flavours: JSON merge (RFC 7386), JSON patch (RFC 6902), strategic merge, and apply (SSA).

Failures raise `PatchError`; the API layer turns them into the apiserver's 422 (a failed JSON-patch `test` included,
which Kopf relies on for optimistic concurrency).

Strategic merge is implemented for what our built-in types need: maps merge recursively, `null` deletes,
`$patch: replace|delete` directives, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>` (ignored),
`$retainKeys`, and list merging by key for the few merge-keyed lists of ObjectMeta (finalizers as a set,
ownerReferences by uid); every other list is replaced, which is right for ConfigMap/Secret/Namespace/Lease/Event.
Server-side apply is approximated: the applied configuration is merged into the live object (list-map lists by
their keys, other lists replaced) and recorded in managedFields; fields a manager stops applying are not removed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any


class PatchError(Exception):
    """A patch that cannot be applied; the message is what the apiserver would say."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _split(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer: {pointer!r}")
    return [_unescape(token) for token in pointer[1:].split("/")]


def _index(container: list[Any], token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:  # noqa: S105 - the JSON-pointer end marker
        return len(container)
    if not token.isdigit():
        raise PatchError(f"invalid array index: {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index out of bounds: {index}")
    return index


def _parent(doc: Any, tokens: list[str], op: str, path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")
    return node


def _get(doc: Any, path: str, op: str) -> Any:
    tokens = _split(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")


def _remove(doc: Any, path: str, op: str) -> Any:
    tokens = _split(path)
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing key: {path}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")


def _add(doc: Any, path: str, value: Any, op: str, replace: bool = False) -> Any:
    tokens = _split(path)
    if not tokens:
        return copy.deepcopy(value)
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path}")
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, allow_end=False)] = copy.deepcopy(value)
        else:
            parent.insert(_index(parent, last, allow_end=True), copy.deepcopy(value))
    else:
        raise PatchError(f"{op} operation does not apply: doc is missing path: {path}")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch; a failed `test` raises PatchError like any other inapplicable operation."""
    if not isinstance(operations, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, Mapping) or "op" not in operation or "path" not in operation:
            raise PatchError(f"invalid JSON patch operation: {json.dumps(operation)}")
        op, path = operation["op"], str(operation["path"])
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"{op} operation does not apply: missing value")
        if op == "add":
            doc = _add(doc, path, operation["value"], op)
        elif op == "remove":
            _remove(doc, path, op)
        elif op == "replace":
            doc = _add(doc, path, operation["value"], op, replace=True)
        elif op in ("move", "copy"):
            source = str(operation.get("from", ""))
            value = _remove(doc, source, op) if op == "move" else copy.deepcopy(_get(doc, source, op))
            doc = _add(doc, path, value, op)
        elif op == "test":
            try:
                actual = _get(doc, path, op)
            except PatchError:
                actual = None
            if actual != operation["value"]:
                raise PatchError(
                    f"testing value {path} failed: test operation does not apply: "
                    f"is {json.dumps(actual)}, expected {json.dumps(operation['value'])}"
                )
        else:
            raise PatchError(f"Unexpected kind: {op}")
    return doc


# Merge keys of lists the strategic merge patch merges instead of replacing (path without indexes).
STRATEGIC_MERGE_KEYS: dict[str, str | None] = {
    "metadata.finalizers": None,  # a set of scalars
    "metadata.ownerReferences": "uid",
}


def strategic_merge(target: Any, patch: Any, path: str = "") -> Any:
    """A strategic merge patch for the built-in types the sandbox serves."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, Mapping) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [item for item in result.get(name) or [] if item not in value]
            continue
        child = f"{path}.{key}" if path else key
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and child in STRATEGIC_MERGE_KEYS:
            result[key] = _merge_list(result.get(key) or [], value, STRATEGIC_MERGE_KEYS[child])
        else:
            merged = strategic_merge(result.get(key), value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str | None) -> list[Any]:
    result = copy.deepcopy(current)
    for item in patch:
        if key is None:
            if item not in result:
                result.append(copy.deepcopy(item))
            continue
        if isinstance(item, Mapping) and item.get("$patch") == "delete":
            result = [existing for existing in result if existing.get(key) != item.get(key)]
            continue
        for index, existing in enumerate(result):
            if isinstance(existing, Mapping) and isinstance(item, Mapping) and existing.get(key) == item.get(key):
                result[index] = strategic_merge(existing, item)
                break
        else:
            result.append(copy.deepcopy(item))
    return result


def apply_merge(live: Any, applied: Any, schema: Mapping[str, Any] | None) -> Any:
    """Merge an applied configuration into the live object (the SSA approximation described above)."""
    if not isinstance(applied, Mapping):
        return copy.deepcopy(applied)
    result = dict(live) if isinstance(live, Mapping) else {}
    properties = (schema or {}).get("properties") or {}
    for key, value in applied.items():
        child_schema = properties.get(key) if isinstance(properties, Mapping) else None
        if isinstance(value, list) and child_schema and child_schema.get("x-kubernetes-list-type") == "map":
            keys = tuple(child_schema.get("x-kubernetes-list-map-keys") or ())
            merged = copy.deepcopy(result.get(key) or [])
            for item in value:
                identity = tuple(item.get(k) for k in keys) if isinstance(item, Mapping) else None
                for index, existing in enumerate(merged):
                    if isinstance(existing, Mapping) and tuple(existing.get(k) for k in keys) == identity:
                        merged[index] = apply_merge(existing, item, child_schema.get("items"))
                        break
                else:
                    merged.append(copy.deepcopy(item))
            result[key] = merged
        elif isinstance(value, Mapping):
            result[key] = apply_merge(result.get(key), value, child_schema)
        else:
            result[key] = copy.deepcopy(value)
    return result
