"""URL anatomy: what a request path addresses (group, version, resource, namespace, name, subresource) and its verb.

Shared by the router, the request log and fault matching, so all three agree on what a request is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class Route:
    """A parsed request path; `resource` is None for non-resource paths (discovery, OpenAPI, health)."""

    verb: str
    group: str | None = None
    version: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def _resource_verb(method: str, name: str | None, query: Mapping[str, str]) -> str:
    if method == "GET":
        if name is None:
            return "watch" if query.get("watch") in ("true", "1") else "list"
        return "get"
    if method == "DELETE":
        return "delete" if name is not None else "deletecollection"
    return _WRITE_VERBS.get(method, method.lower())


def parse(method: str, path: str, query: Mapping[str, str]) -> Route:
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Route(verb=method.lower())
    if not rest:
        return Route(verb=method.lower(), group=group, version=version)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    subresource = "/".join(rest[2:]) or None
    if resource == "namespaces" and name is not None and namespace is None:
        namespace = name  # the apiserver attributes a namespace object to itself
    verb = _resource_verb(method, name, query)
    return Route(verb, group, version, resource, namespace, name, subresource)
