"""`x-kubernetes-validations`: CEL rules from a CRD schema, evaluated with cel-python like the apiserver does.

Every rule is compiled when the CRD is installed (a rule that does not compile makes the CRD invalid, as in a real
cluster). On a write, each rule runs with `self` bound to its schema node's value; transition rules (those naming
`oldSelf`) run only on updates where the old object has a value at the same place, correlated through object
properties, map keys and `x-kubernetes-list-type: map` keys; list items of other lists are not correlated, exactly
as in Kubernetes. Not available: the Kubernetes CEL libraries (`quantity`, `url`, `ip`, `isSorted`, `sum`...) and
the string/optional extensions; rules using them fail to compile and the CRD is refused, so nothing is silently
unenforced. The cost budget is not modelled.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel

from ece_restart.sandbox.errors import ApiError, Cause

_ENVIRONMENT = celpy.Environment()
# celpy logs every evaluation step at DEBUG; with a verbose root logger (kopf --verbose) that is megabytes per write.
logging.getLogger("celpy").setLevel(logging.INFO)

_REASON_WORDS = {
    "FieldValueInvalid": None,
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
}


@dataclass(frozen=True)
class Rule:
    """One compiled rule with what the apiserver reports when it fails."""

    text: str
    program: Any
    message: str | None
    message_program: Any | None
    reason: str
    field_path: str
    transition: bool


@dataclass
class Node:
    """The rule-bearing part of a schema: rules here plus children that (transitively) have rules."""

    type: str = "object"
    rules: list[Rule] = field(default_factory=list)
    properties: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None
    additional: Node | None = None
    map_keys: tuple[str, ...] = ()
    # CEL is deterministic: the causes for one (self, oldSelf, path) are remembered. A status write leaves the
    # spec as it was, so its spec rules would otherwise be interpreted again on every write (cel-python walks the
    # parse tree: half the sandbox's CPU under a burst of operator writes, bench/README.md).
    memo: dict[tuple[str, str | None, str], tuple[Cause, ...]] = field(default_factory=dict, repr=False)

    def empty(self) -> bool:
        return not (self.rules or self.properties or self.items or self.additional)


def _compile(text: str, where: str) -> Any:
    try:
        return _ENVIRONMENT.program(_ENVIRONMENT.compile(text))
    except Exception as error:  # celpy raises its own parse errors with no common base
        raise ApiError(
            422,
            "Invalid",
            f"{where}: Invalid value: {text!r}: compilation failed: {error}",
        ) from error


def _node(schema: Mapping[str, Any], where: str) -> Node:
    node = Node(type=str(schema.get("type", "object")))
    node.map_keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
    for index, entry in enumerate(schema.get("x-kubernetes-validations") or ()):
        text = str(entry["rule"])
        location = f"{where}.x-kubernetes-validations[{index}]"
        message_expression = entry.get("messageExpression")
        node.rules.append(
            Rule(
                text=text,
                program=_compile(text, f"{location}.rule"),
                message=entry.get("message"),
                message_program=_compile(str(message_expression), location) if message_expression else None,
                reason=str(entry.get("reason", "FieldValueInvalid")),
                field_path=str(entry.get("fieldPath", "")),
                transition="oldSelf" in text,
            )
        )
    for name, child_schema in (schema.get("properties") or {}).items():
        child = _node(child_schema, f"{where}.properties[{name}]")
        if not child.empty():
            node.properties[name] = child
    if isinstance(schema.get("items"), Mapping):
        items = _node(schema["items"], f"{where}.items")
        node.items = None if items.empty() else items
    if isinstance(schema.get("additionalProperties"), Mapping):
        additional = _node(schema["additionalProperties"], f"{where}.additionalProperties")
        node.additional = None if additional.empty() else additional
    return node


def _truthy(result: Any) -> bool | str:
    """True/False for a boolean result, or an error text for evaluation errors and non-booleans."""
    if isinstance(result, celtypes.BoolType | bool):
        return bool(result)
    if isinstance(result, Exception):
        return str(result.args[0] if result.args else result)
    return f"rule evaluated to {type(result).__name__}, not bool"


@dataclass
class RuleSet:
    """All CEL rules of one schema, ready to check objects."""

    root: Node
    count: int

    @classmethod
    def compile(cls, schema: Mapping[str, Any]) -> RuleSet:
        """Compile every rule of `schema`; cached by content, since every Sandbox installs the same CRD."""
        return _compiled(json.dumps(schema, sort_keys=True))

    def check(self, new: Any, old: Any | None) -> list[Cause]:
        """Causes for every rule `new` breaks; `old` is None on create (transition rules are then skipped)."""
        causes: list[Cause] = []
        _walk(self.root, new, old, old is not None, "", causes)
        return causes


@functools.lru_cache(maxsize=32)
def _compiled(schema_json: str) -> RuleSet:
    root = _node(json.loads(schema_json), "openAPIV3Schema")
    return RuleSet(root=root, count=_count(root))


def _count(node: Node) -> int:
    total = len(node.rules) + sum(_count(child) for child in node.properties.values())
    total += _count(node.items) if node.items else 0
    total += _count(node.additional) if node.additional else 0
    return total


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(node: Node, value: Any, old: Any, has_old: bool, path: str, causes: list[Cause]) -> None:
    if value is None:
        return
    if node.rules:
        _run_rules(node, value, old, has_old, path, causes)
    if isinstance(value, Mapping):
        for name, child in node.properties.items():
            if name in value:
                child_has_old = has_old and isinstance(old, Mapping) and name in old
                old_child = old[name] if child_has_old else None
                _walk(child, value[name], old_child, child_has_old, _join(path, name), causes)
        if node.additional:
            for key, item in value.items():
                if key in node.properties:
                    continue
                item_has_old = has_old and isinstance(old, Mapping) and key in old
                old_item = old[key] if item_has_old else None
                _walk(node.additional, item, old_item, item_has_old, f"{path}[{key}]", causes)
    elif isinstance(value, list) and node.items:
        old_by_key: dict[tuple[Any, ...], Any] = {}
        if node.map_keys and has_old and isinstance(old, list):
            for item in old:
                if isinstance(item, Mapping):
                    old_by_key[tuple(item.get(key) for key in node.map_keys)] = item
        for index, item in enumerate(value):
            key = tuple(item.get(k) for k in node.map_keys) if node.map_keys and isinstance(item, Mapping) else None
            old_item = old_by_key.get(key) if key is not None else None
            _walk(node.items, item, old_item, old_item is not None, f"{path}[{index}]", causes)


_MEMO_SIZE = 4096


def _run_rules(node: Node, value: Any, old: Any, has_old: bool, path: str, causes: list[Cause]) -> None:
    key = (json.dumps(value, sort_keys=True), json.dumps(old, sort_keys=True) if has_old else None, path)
    found = node.memo.get(key)
    if found is None:
        fresh: list[Cause] = []
        _evaluate_rules(node, value, old, has_old, path, fresh)
        if len(node.memo) >= _MEMO_SIZE:
            node.memo.clear()
        found = node.memo[key] = tuple(fresh)
    causes.extend(found)


def _evaluate_rules(node: Node, value: Any, old: Any, has_old: bool, path: str, causes: list[Cause]) -> None:
    activation = {"self": json_to_cel(value)}
    if has_old:
        activation["oldSelf"] = json_to_cel(old)
    for rule in node.rules:
        if rule.transition and not has_old:
            continue
        try:
            outcome = _truthy(rule.program.evaluate(activation))
        except Exception as error:  # celpy raises CELEvalError subclasses of Exception
            outcome = str(error)
        if outcome is True:
            continue
        if outcome is False:
            text = rule.message or f"failed rule: {rule.text}"
            if rule.message_program is not None:
                with contextlib.suppress(Exception):  # the apiserver also falls back to the static message
                    text = str(rule.message_program.evaluate(activation))
        else:
            text = f"{outcome} evaluating rule: {rule.text}"
        word = _REASON_WORDS.get(rule.reason)
        message = f'Invalid value: "{node.type}": {text}' if word is None else f"{word}: {text}"
        field_path = path
        if rule.field_path:  # relative, like ".spec.x" or "[0]"
            field_path = (path + rule.field_path) if path else rule.field_path.lstrip(".")
        causes.append(Cause(reason=rule.reason, message=message, field=field_path))
