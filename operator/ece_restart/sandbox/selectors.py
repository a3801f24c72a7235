"""Label and field selectors, parsed and matched the way the apiserver does for the queries clients send.

Labels: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, comma = AND.
Fields: `path=value`, `path==value`, `path!=value` over the fields a type declares selectable; any other field is
a 400 like the apiserver's "field label not supported".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ece_restart.sandbox.errors import bad_request

_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator == "=":
            return present and value == self.values[0]
        if self.operator == "!=":
            return not present or value != self.values[0]
        if self.operator == "in":
            return present and value in self.values
        return not present or value not in self.values


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term.strip() for term in terms if term.strip()]


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        requirements = []
        for term in _split_terms(text or ""):
            set_term = _SET_TERM.match(term)
            if set_term:
                values = tuple(value.strip() for value in set_term.group(3).split(",") if value.strip())
                requirements.append(Requirement(set_term.group(1), set_term.group(2), values))
            elif "!=" in term:
                key, value = term.split("!=", 1)
                requirements.append(Requirement(key.strip(), "!=", (value.strip(),)))
            elif "=" in term:
                key, value = term.replace("==", "=", 1).split("=", 1)
                requirements.append(Requirement(key.strip(), "=", (value.strip(),)))
            elif term.startswith("!"):
                requirements.append(Requirement(term[1:].strip(), "!"))
            elif re.fullmatch(r"[A-Za-z0-9._/-]+", term):
                requirements.append(Requirement(term, "exists"))
            else:
                raise bad_request(f"unable to parse requirement: {term!r}")
        return cls(tuple(requirements))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(requirement.matches(labels) for requirement in self.requirements)


def _lookup(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return ""
    if isinstance(value, Mapping):  # "source" on events selects source.component
        value = value.get("component", "")
    return str(value)


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...] = ()  # (path, equal?, value)

    @classmethod
    def parse(cls, text: str | None, allowed: frozenset[str], kind: str = "") -> FieldSelector:
        terms = []
        for term in _split_terms(text or ""):
            if "!=" in term:
                path, value = term.split("!=", 1)
                equal = False
            elif "=" in term:
                path, value = term.replace("==", "=", 1).split("=", 1)
                equal = True
            else:
                raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
            path = path.strip()
            if path not in allowed:
                raise bad_request(f'"{path}" is not a known field selector: only "{", ".join(sorted(allowed))}"')
            terms.append((path, equal, value.strip()))
        return cls(tuple(terms))

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((_lookup(obj, path) == value) == equal for path, equal, value in self.terms)

    def name(self) -> str | None:
        """The single `metadata.name=X` a selector pins, if it pins one (kubectl wait/get NAME -w do)."""
        for path, equal, value in self.terms:
            if path == "metadata.name" and equal:
                return value
        return None
