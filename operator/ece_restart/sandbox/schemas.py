"""Structural-schema admission for custom resources: pruning, defaulting and OpenAPI v3 validation.

Order and wording follow the apiserver: unknown fields are pruned first (reported to the caller so it can honour
`fieldValidation=Strict|Warn`), then `default:`s are applied top-down (defaults inside a defaulted object apply too),
then the object is validated with jsonschema's Draft 4 validator (the dialect OpenAPI 3.0 schemas derive from,
including boolean `exclusiveMinimum`), taught `nullable` and an RFC 3339 `date-time` check; it is a runtime
dependency already, so the `sandbox` command needs nothing from the test extras. Each error becomes a 422 cause
with the apiserver's reason and a `spec.x.y` / `status.conditions[0].type` path.
`x-kubernetes-list-type: map|set` uniqueness is checked here as well; CEL rules live in `rules.py`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators

from ece_restart.sandbox.errors import Cause

_ROOT_KEEP = frozenset({"apiVersion", "kind", "metadata"})
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATE_TIME.match(value))


FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(_is_date_time)

def _type(validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    """Draft 4 `type`, except that null is fine where the schema says `nullable: true` (OpenAPI 3.0)."""
    if instance is None and schema.get("nullable"):
        return
    wanted = [types] if isinstance(types, str) else list(types)
    if not any(validator.is_type(instance, name) for name in wanted):
        yield ValidationError(f"{instance!r} is not of type {', '.join(map(repr, wanted))}")


OpenApi30Validator = validators.extend(Draft4Validator, {"type": _type})


def field_path(parts: Any) -> str:
    """`spec.conditions[0].type` from a sequence of keys and indexes."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text


def prune(value: Any, schema: Mapping[str, Any], path: str = "", root: bool = True) -> list[str]:
    """Drop fields the schema does not declare, in place; return their paths (for strict field validation)."""
    pruned: list[str] = []
    if isinstance(value, MutableMapping):
        if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
            return pruned
        properties: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        for key in list(value):
            child_path = f"{path}.{key}" if path else str(key)
            if key in properties:
                if not (root and key == "metadata"):
                    pruned += prune(value[key], properties[key], child_path, root=False)
            elif isinstance(additional, Mapping):
                pruned += prune(value[key], additional, child_path, root=False)
            elif not (((root or embedded) and key in _ROOT_KEEP) or additional is True or preserve):
                del value[key]
                pruned.append(child_path)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            pruned += prune(item, schema["items"], f"{path}[{index}]", root=False)
    return pruned


def apply_defaults(value: Any, schema: Mapping[str, Any]) -> None:
    """Fill in `default:` values top-down, in place."""
    if isinstance(value, MutableMapping):
        for key, child in (schema.get("properties") or {}).items():
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
            if key in value:
                apply_defaults(value[key], child)
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            for key, item in value.items():
                if key not in (schema.get("properties") or {}):
                    apply_defaults(item, additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for item in value:
            apply_defaults(item, schema["items"])


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return json.dumps(value)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return "object"


def _cause(error: Any) -> list[Cause]:
    """Translate one jsonschema error into the apiserver's cause(s)."""
    path = field_path(error.absolute_path)
    instance, expected, keyword = error.instance, error.validator_value, error.validator
    body = path or "<root>"
    if keyword == "required":
        missing = [name for name in expected if isinstance(instance, Mapping) and name not in instance]
        return [Cause("FieldValueRequired", "Required value", f"{path}.{name}" if path else name) for name in missing]
    if keyword == "type":
        given = _type_name(instance)
        message = f'Invalid value: "{given}": {body} in body must be of type {expected}: "{given}"'
        return [Cause("FieldValueTypeInvalid", message, path)]
    if keyword == "enum":
        supported = ", ".join(json.dumps(item) for item in expected)
        message = f"Unsupported value: {_shown(instance)}: supported values: {supported}"
        return [Cause("FieldValueNotSupported", message, path)]
    if keyword == "maxLength":
        return [Cause("FieldValueTooLong", f"Too long: may not be more than {expected} bytes", path)]
    if keyword == "maxItems":
        return [Cause("FieldValueTooMany", f"Too many: {len(instance)}: must have at most {expected} items", path)]
    wording = {
        "pattern": f"should match '{expected}'",
        "minimum": f"should be greater than or equal to {expected}",
        "maximum": f"should be less than or equal to {expected}",
        "exclusiveMinimum": f"should be greater than {expected}",
        "exclusiveMaximum": f"should be less than {expected}",
        "minLength": f"should be at least {expected} chars long",
        "minItems": f"should have at least {expected} items",
        "minProperties": f"should have at least {expected} properties",
        "maxProperties": f"should have at most {expected} properties",
        "multipleOf": f"should be a multiple of {expected}",
        "format": f"must be of type {expected}",
    }.get(str(keyword))
    if wording is None:
        return [Cause("FieldValueInvalid", f"Invalid value: {_shown(instance)}: {error.message}", path)]
    return [Cause("FieldValueInvalid", f"Invalid value: {_shown(instance)}: {body} in body {wording}", path)]


def _list_uniqueness(value: Any, schema: Mapping[str, Any], path: str, causes: list[Cause]) -> None:
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        for key, child in properties.items():
            if key in value:
                _list_uniqueness(value[key], child, f"{path}.{key}" if path else key, causes)
        return
    if not isinstance(value, list):
        return
    list_type = schema.get("x-kubernetes-list-type")
    keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
    seen: set[str] = set()
    for index, item in enumerate(value):
        if list_type == "map" and isinstance(item, Mapping):
            identity = json.dumps({key: item.get(key) for key in keys}, separators=(",", ":"), sort_keys=True)
        elif list_type == "set":
            identity = json.dumps(item, sort_keys=True)
        else:
            identity = ""
        if identity and identity in seen:
            causes.append(Cause("FieldValueDuplicate", f"Duplicate value: {identity}", f"{path}[{index}]"))
        seen.add(identity)
        if isinstance(schema.get("items"), Mapping):
            _list_uniqueness(item, schema["items"], f"{path}[{index}]", causes)


class SchemaValidator:
    """The OpenAPI part of admission for one CRD version; built once per installed type."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._validator = OpenApi30Validator(dict(schema), format_checker=FORMATS)

    def validate(self, obj: Mapping[str, Any]) -> list[Cause]:
        causes: list[Cause] = []
        errors = sorted(self._validator.iter_errors(obj), key=lambda error: list(map(str, error.absolute_path)))
        for error in errors:
            causes += _cause(error)
        _list_uniqueness(obj, self.schema, "", causes)
        return causes
