"""Kubernetes RBAC evaluation over rendered manifests, without a cluster.

The chart tests use it to assert the rendered Roles structurally, and the RBAC-covers-calls test uses it to check
every API request the operator made against the same rules (and that no rule goes unused):

    grants = rbac.effective_rules(objects, service_account=("ece-restart-operator", "ece-restart-operator"))
    assert rbac.rules_allow(grants, "patch", "eceops.io", "resourcerestarts", "status", namespace="team-a")

The matching follows the RBAC authorizer (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac, `rbac.go` and
`pkg/apis/rbac/v1/evaluation_helpers.go`): a RoleBinding grants its Role's (or ClusterRole's) rules in the
binding's namespace only; a ClusterRoleBinding grants a ClusterRole's rules in every namespace and for
cluster-scoped requests; "*" matches any verb, group or resource; a rule resource "pods/log" matches only that
subresource and "*/scale" any resource's scale subresource; resourceNames, when present, must contain the name.
Aggregated ClusterRoles (aggregationRule) and non-resource URLs are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


@dataclass(frozen=True)
class Grant:
    """One PolicyRule made effective for a subject by one binding.

    namespace is where the rule applies: a namespace for a RoleBinding, None (everywhere, including cluster-scoped
    requests) for a ClusterRoleBinding.
    """

    namespace: str | None
    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: frozenset[str]
    source: str


@dataclass(frozen=True)
class Permission:
    """One atomic permission: a verb on one (sub)resource of one group, in one namespace (None: cluster-wide)."""

    verb: str
    api_group: str
    resource: str
    subresource: str | None
    namespace: str | None
    resource_names: frozenset[str] = frozenset()


def _key(obj: Mapping[str, Any]) -> tuple[str, str | None, str]:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") if obj["kind"] == "Role" else None
    return obj["kind"], namespace, meta["name"]


def _binds(binding: Mapping[str, Any], service_account: tuple[str, str]) -> bool:
    namespace, name = service_account
    for subject in binding.get("subjects") or []:
        if subject.get("kind") != "ServiceAccount" or subject.get("name") != name:
            continue
        # A RoleBinding's ServiceAccount subject without a namespace means the binding's own namespace.
        subject_namespace = subject.get("namespace") or (binding.get("metadata") or {}).get("namespace")
        if subject_namespace == namespace:
            return True
    return False


def effective_rules(objects: Iterable[Mapping[str, Any]], service_account: tuple[str, str]) -> list[Grant]:
    """The rules that the rendered Roles/ClusterRoles and bindings grant to service_account (namespace, name).

    A binding whose role is not among the objects grants nothing (as in a cluster without that role).
    """
    objects = [obj for obj in objects if obj]
    roles = {_key(obj): obj for obj in objects if obj.get("kind") in ROLE_KINDS}
    grants: list[Grant] = []
    for binding in objects:
        if binding.get("kind") not in BINDING_KINDS or not _binds(binding, service_account):
            continue
        meta = binding.get("metadata") or {}
        binding_namespace = meta.get("namespace") if binding["kind"] == "RoleBinding" else None
        ref = binding["roleRef"]
        role_namespace = binding_namespace if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], role_namespace, ref["name"]))
        if role is None:
            continue
        source = f"{binding['kind']} {binding_namespace or ''}/{meta['name']} -> {ref['kind']} {ref['name']}"
        for rule in role.get("rules") or []:
            grants.append(
                Grant(
                    namespace=binding_namespace,
                    api_groups=frozenset(rule.get("apiGroups") or ()),
                    resources=frozenset(rule.get("resources") or ()),
                    verbs=frozenset(rule.get("verbs") or ()),
                    resource_names=frozenset(rule.get("resourceNames") or ()),
                    source=source,
                )
            )
    return grants


def _resource_matches(rule_resources: frozenset[str], resource: str, subresource: str | None) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    if "*" in rule_resources or combined in rule_resources:
        return True
    return bool(subresource) and f"*/{subresource}" in rule_resources


def grant_allows(
    grant: Grant,
    verb: str,
    api_group: str,
    resource: str,
    subresource: str | None = None,
    namespace: str | None = None,
    name: str | None = None,
) -> bool:
    """Whether this one grant allows the request (see rules_allow)."""
    if grant.namespace is not None and grant.namespace != namespace:
        return False
    if not ({"*", verb} & grant.verbs):
        return False
    if not ({"*", api_group} & grant.api_groups):
        return False
    if not _resource_matches(grant.resources, resource, subresource):
        return False
    return not grant.resource_names or (name is not None and name in grant.resource_names)


def rules_allow(
    rules: Iterable[Grant],
    verb: str,
    api_group: str,
    resource: str,
    subresource: str | None = None,
    namespace: str | None = None,
    name: str | None = None,
) -> bool:
    """Whether the rules allow one API request.

    verb is the RBAC verb (get, list, watch, create, update, patch, delete, deletecollection); api_group is "" for the
    core group; namespace is None for a cluster-scoped request (a cluster-scoped resource, or a list/watch across
    all namespaces); name is the object name when the request has one (a get, or a list/watch with a
    metadata.name field selector).
    """
    return any(grant_allows(g, verb, api_group, resource, subresource, namespace, name) for g in rules)


def permissions(rules: Iterable[Grant]) -> set[Permission]:
    """Expand the rules into atomic permissions, for "nothing more than needed" comparisons."""
    expanded: set[Permission] = set()
    for grant in rules:
        for verb in grant.verbs:
            for group in grant.api_groups:
                for combined in grant.resources:
                    resource, _, subresource = combined.partition("/")
                    expanded.add(
                        Permission(verb, group, resource, subresource or None, grant.namespace, grant.resource_names)
                    )
    return expanded


def iter_objects(documents: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    """The Kubernetes objects among parsed YAML documents, flattening `kind: List`."""
    for doc in documents:
        if not isinstance(doc, Mapping):
            continue
        if doc.get("kind", "").endswith("List") and "items" in doc:
            yield from iter_objects(doc["items"])
        else:
            yield doc
