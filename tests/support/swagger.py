"""Validate requests and responses against the vendored official Swagger 2.0 specs (tests/contract/ece-api/).

    spec = current_spec()                                   # ECE 3.8 (MS-112); ece36_spec() documents 449
    spec.validate_response("POST", "/api/v1/deployments/<id>/kibana/main-kibana/_restart", 202, {}) -> []
    spec.validate_request("POST", "/api/v1/deployments/<id>/foo/x/_restart", {"cancel_pending": "yes"}) -> [problems]

Bodies are checked with jsonschema Draft 4 (Swagger 2.0 schemas are a Draft 4 dialect) with `#/definitions` refs
resolved against the spec, and with format checks (`date-time`, `int32`, `int64`).

Policy for what the spec does not document (the simulator still has to answer something):
  - an error status the operation does not declare (401 on `_restart`, 400 for a bad query, 429/5xx faults) must still
    be a `BasicFailedReply`;
  - a request matching no operation (unknown route or kind) must be answered with a `BasicFailedReply` error;
  - every JSON error must carry `x-cloud-error-codes` equal to its codes (comma-separated), and where the spec declares
    an enum for that header, the value must be in it, with two documented exceptions:
      * a request the spec itself rejects (`validate_request` finds a problem, e.g. `cancel_pending=yes`) may be
        answered with any code (the simulator uses 400 `root.invalid_data`): the enums describe valid requests;
      * a 404 on a resource-scoped path (one with `{ref_id}`) may be `deployments.deployment_resource_not_found`: the
        GET-resource and DELETE-pending operations list only `deployments.deployment_not_found`, but the restart
        operations document both, and the research notes (section 10.3, P2) choose the same code for an unknown ref.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker

SPEC_DIR = Path(__file__).resolve().parent.parent / "contract" / "ece-api"
CURRENT_SPEC_PATH = SPEC_DIR / "apidocs.json"
ECE36_SPEC_PATH = SPEC_DIR / "ece-3.6" / "apidocs.json"

RESOURCE_NOT_FOUND = "deployments.deployment_resource_not_found"
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    for name, (low, high) in _INT_RANGES.items():

        def check(value: object, low: int = low, high: int = high) -> bool:
            return not isinstance(value, int) or isinstance(value, bool) or low <= value <= high

        checker.checks(name)(check)
    return checker


@dataclass(frozen=True)
class Match:
    template: str  # swagger path, e.g. /deployments/{deployment_id}/{stateless_resource_kind}/{ref_id}/_restart
    params: dict[str, str]
    operation: dict[str, Any]


class Spec:
    def __init__(self, document: dict[str, Any], name: str) -> None:
        self.document = document
        self.name = name
        self.base_path: str = str(document.get("basePath", "")).rstrip("/")
        self.definitions: dict[str, Any] = document["definitions"]
        self._checker = _format_checker()
        self._validators: dict[str, Draft4Validator] = {}
        self._templates: list[tuple[int, re.Pattern[str], str]] = []
        for template in document["paths"]:
            names = re.findall(r"\{([^}]+)\}", template)
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
            self._templates.append((len(names), re.compile(pattern), template))
        # Literal segments beat parameters: /deployments/{id}/elasticsearch/{ref}/_restart before {kind}.
        self._templates.sort(key=lambda item: item[0])

    def __repr__(self) -> str:
        return f"Spec({self.name})"

    # -- lookup ---------------------------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> Match | None:
        """The operation for a concrete request path (with or without the /api/v1 base path)."""
        if self.base_path and path.startswith(self.base_path + "/"):
            path = path[len(self.base_path) :]
        for _count, pattern, template in self._templates:
            found = pattern.match(path)
            if found is None:
                continue
            operation = self.document["paths"][template].get(method.lower())
            if operation is None:
                continue
            names = re.findall(r"\{([^}]+)\}", template)
            params = dict(zip(names, found.groups(), strict=True))
            if not self._path_enums_hold(operation, params):
                continue  # e.g. kind "foo": the operation does not cover this path; it is a route miss
            return Match(template, params, operation)
        return None

    @staticmethod
    def _path_enums_hold(operation: Mapping[str, Any], params: Mapping[str, str]) -> bool:
        for parameter in operation.get("parameters", []):
            if (
                parameter.get("in") == "path"
                and "enum" in parameter
                and params.get(parameter["name"]) not in [str(v) for v in parameter["enum"]]
            ):
                return False
        return True

    def validator(self, schema: dict[str, Any]) -> Draft4Validator:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            root = dict(schema)
            root["definitions"] = self.definitions
            validator = Draft4Validator(root, format_checker=self._checker)
            self._validators[key] = validator
        return validator

    def definition(self, name: str) -> dict[str, Any]:
        return {"$ref": f"#/definitions/{name}"}

    # -- validation -------------------------------------------------------------------------------------------------

    def validate_schema(self, schema: dict[str, Any], body: Any) -> list[str]:
        errors = sorted(self.validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors[:20]]

    def validate_response(
        self,
        method: str,
        path: str,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Problems with a JSON response (empty list when it conforms); see the module docstring for the policy.

        Pass the request's `query` so a response to an invalid request is judged as such.
        """
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        invalid_request = bool(self.validate_request(method, path, query or {}))
        problems: list[str] = []
        match = self.match(method, path)
        declared = match.operation["responses"].get(str(status)) if match is not None else None
        if declared is not None and "schema" in declared:
            problems += self.validate_schema(declared["schema"], body)
        elif status >= 400:
            problems += self.validate_schema(self.definition("BasicFailedReply"), body)
        elif match is None:
            problems.append(f"{method} {path}: no operation in {self.name} answers with {status}")
        elif declared is None:
            problems.append(f"{method} {match.template}: status {status} is not declared in {self.name}")
        if status >= 400 and isinstance(body, dict) and isinstance(body.get("errors"), list):
            codes = [e.get("code") for e in body["errors"] if isinstance(e, dict)]
            header = headers.get("x-cloud-error-codes")
            if header is None:
                problems.append("error response without an x-cloud-error-codes header")
            elif header != ",".join(str(c) for c in codes):
                problems.append(f"x-cloud-error-codes {header!r} does not match the body codes {codes}")
            enum = (((declared or {}).get("headers") or {}).get("x-cloud-error-codes") or {}).get("enum")
            if enum is not None and match is not None and status == 404 and "{ref_id}" in match.template:
                enum = [*enum, RESOURCE_NOT_FOUND]
            if enum is not None and header is not None and header not in enum and not invalid_request:
                problems.append(f"x-cloud-error-codes {header!r} is not one the spec declares for {status}: {enum}")
        return [f"{self.name} {method} {path} -> {status}: {problem}" for problem in problems]

    def validate_error(self, body: Any, headers: Mapping[str, str] | None = None) -> list[str]:
        """An error outside any operation's contract (an injected fault): a `BasicFailedReply` whose
        `x-cloud-error-codes` header matches its codes."""
        problems = self.validate_schema(self.definition("BasicFailedReply"), body)
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        if not problems:
            codes = ",".join(str(e["code"]) for e in body["errors"])
            if lowered.get("x-cloud-error-codes") != codes:
                problems.append(f"x-cloud-error-codes {lowered.get('x-cloud-error-codes')!r} does not match {codes!r}")
        return problems

    def validate_request(self, method: str, path: str, query: Mapping[str, str]) -> list[str]:
        """Problems with a request: unknown operation, path parameter enums, query parameter types and enums."""
        match = self.match(method, path)
        if match is None:
            return [f"{method} {path}: no operation in {self.name}"]
        problems: list[str] = []
        for parameter in match.operation.get("parameters", []):
            where, name = parameter.get("in"), parameter["name"]
            if where == "path":
                value: str | None = match.params.get(name)
            elif where == "query":
                value = query.get(name)
                if value is None:
                    if parameter.get("required"):
                        problems.append(f"missing required query parameter {name}")
                    continue
            else:
                continue
            if value is None:
                continue
            problems += [f"{where} parameter {name}={value!r}: {p}" for p in _check_value(parameter, value)]
        return problems


def _check_value(parameter: Mapping[str, Any], value: str) -> list[str]:
    kind = parameter.get("type")
    if kind == "boolean" and value not in ("true", "false"):
        return ["not a boolean"]
    if kind == "integer":
        try:
            number = int(value, 10)
        except ValueError:
            return ["not an integer"]
        low, high = _INT_RANGES.get(str(parameter.get("format", "int64")), _INT_RANGES["int64"])
        if not low <= number <= high:
            return ["out of range"]
    if "enum" in parameter and value not in [str(v) for v in parameter["enum"]]:
        return [f"not one of {parameter['enum']}"]
    return []


@cache
def load_spec(path: Path) -> Spec:
    return Spec(json.loads(path.read_text(encoding="utf-8")), path.relative_to(SPEC_DIR).as_posix())


def current_spec() -> Spec:
    """ECE 3.8 / MS-112: the current contract."""
    return load_spec(CURRENT_SPEC_PATH)


def ece36_spec() -> Spec:
    """ECE 3.6 / ms-89: the last spec documenting 449 on the restart endpoints."""
    return load_spec(ECE36_SPEC_PATH)


def spec_for_status(status: int) -> Spec:
    """449 is only documented by the 3.6 spec; everything else is checked against the current one."""
    return ece36_spec() if status == 449 else current_spec()
