"""The rendered RBAC grants exactly the API calls the operator makes, in exactly the namespaces it makes them in.

The calls (Kopf 1.45 standalone, cluster scanning disabled; the operator's own client):
  watched namespaces: resourcerestarts get/list/watch/delete (delete: ttlSecondsAfterFinished),
                      resourcerestarts/status patch, events create
                      (core/v1 only), secrets get (spec.connection.secretRef);
  release namespace:  configmaps get/create/patch (the ece-restart-ledger-* ConfigMaps).
The dynamic counterpart is tests/e2e/test_rbac_coverage.py.
The dynamic test that compares the requests recorded by the Kubernetes API sandbox with these rules reuses
tests/support/rbac.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chartlib import RELEASE_NAMESPACE, of_kind, render
from tests.support import rbac

SA = (RELEASE_NAMESPACE, "rr-ece-restart-operator")

WATCH_CALLS = [
    ("get", "eceops.io", "resourcerestarts", None),
    ("list", "eceops.io", "resourcerestarts", None),
    ("watch", "eceops.io", "resourcerestarts", None),
    ("delete", "eceops.io", "resourcerestarts", None),
    ("patch", "eceops.io", "resourcerestarts", "status"),
    ("create", "", "events", None),
    ("get", "", "secrets", None),
]
LEDGER_CALLS = [(verb, "", "configmaps", None) for verb in ("get", "create", "patch")]

# Calls the operator never makes, some of which a sloppy Role would allow.
NEVER = [
    ("list", "", "secrets", None),
    ("watch", "", "secrets", None),
    ("create", "eceops.io", "resourcerestarts", None),
    ("patch", "eceops.io", "resourcerestarts", None),
    ("get", "eceops.io", "resourcerestarts", "status"),
    ("list", "", "configmaps", None),
    ("update", "", "configmaps", None),
    ("update", "eceops.io", "resourcerestarts", None),
    ("update", "eceops.io", "resourcerestarts", "status"),
    ("patch", "", "events", None),
    ("create", "events.k8s.io", "events", None),
    ("delete", "", "configmaps", None),
    ("list", "kopf.dev", "kopfpeerings", None),
    ("create", "", "pods", "exec"),
]


def grants(values: dict[str, Any] | None = None) -> list[rbac.Grant]:
    return rbac.effective_rules(render(values), service_account=SA)


def permissions(calls: list[tuple[str, str, str, str | None]], namespace: str | None,
                names: frozenset[str] = frozenset()) -> set[rbac.Permission]:
    return {
        rbac.Permission(verb, group, resource, sub, namespace, names if resource == "secrets" else frozenset())
        for verb, group, resource, sub in calls
    }


def test_default_grants_exactly_the_calls_in_the_release_namespace() -> None:
    granted = grants()
    assert rbac.permissions(granted) == permissions(WATCH_CALLS + LEDGER_CALLS, RELEASE_NAMESPACE)
    for call in WATCH_CALLS + LEDGER_CALLS:
        assert rbac.rules_allow(granted, *call, namespace=RELEASE_NAMESPACE), call
        assert not rbac.rules_allow(granted, *call, namespace=None), f"{call} must not be cluster-wide"
        assert not rbac.rules_allow(granted, *call, namespace="elsewhere"), call
    for call in NEVER:
        assert not rbac.rules_allow(granted, *call, namespace=RELEASE_NAMESPACE), call


def test_watch_namespaces_get_one_role_each_and_the_ledger_stays_in_the_release_namespace() -> None:
    granted = grants({"watchNamespaces": ["team-a", "team-b"]})
    expected = (
        permissions(WATCH_CALLS, "team-a") | permissions(WATCH_CALLS, "team-b")
        | permissions(LEDGER_CALLS, RELEASE_NAMESPACE)
    )
    assert rbac.permissions(granted) == expected
    for call in LEDGER_CALLS:
        assert not rbac.rules_allow(granted, *call, namespace="team-a"), call
    for call in WATCH_CALLS:
        assert not rbac.rules_allow(granted, *call, namespace=RELEASE_NAMESPACE), "not watched"


def test_namespaced_mode_renders_no_cluster_roles() -> None:
    objects = render({"watchNamespaces": ["team-a", "team-b"]})
    assert not of_kind(objects, "ClusterRole") and not of_kind(objects, "ClusterRoleBinding")
    assert sorted(role["metadata"]["namespace"] for role in of_kind(objects, "Role")) == [
        RELEASE_NAMESPACE, "team-a", "team-b"
    ]


def test_cluster_wide_grants_the_watch_calls_everywhere_and_the_ledger_in_the_release_namespace() -> None:
    objects = render({"clusterWide": True})
    granted = rbac.effective_rules(objects, service_account=SA)
    assert rbac.permissions(granted) == permissions(WATCH_CALLS, None) | permissions(LEDGER_CALLS, RELEASE_NAMESPACE)
    # --all-namespaces lists and watches across namespaces (a cluster-scoped request).
    assert rbac.rules_allow(granted, "list", "eceops.io", "resourcerestarts", namespace=None)
    assert rbac.rules_allow(granted, "watch", "eceops.io", "resourcerestarts", namespace=None)
    assert not rbac.rules_allow(granted, "list", "", "configmaps", namespace="team-a")
    assert [role["metadata"]["namespace"] for role in of_kind(objects, "Role")] == [RELEASE_NAMESPACE]
    assert len(of_kind(objects, "ClusterRole")) == len(of_kind(objects, "ClusterRoleBinding")) == 1
    for call in NEVER:
        assert not rbac.rules_allow(granted, *call, namespace="team-a"), call


def test_connection_secret_names_restrict_get_to_those_secrets() -> None:
    granted = grants({"rbac": {"connectionSecrets": {"names": ["ece-a", "ece-b"]}}})
    assert rbac.rules_allow(granted, "get", "", "secrets", namespace=RELEASE_NAMESPACE, name="ece-a")
    assert not rbac.rules_allow(granted, "get", "", "secrets", namespace=RELEASE_NAMESPACE, name="other")
    assert not rbac.rules_allow(granted, "get", "", "secrets", namespace=RELEASE_NAMESPACE)
    assert rbac.permissions(granted) == permissions(
        WATCH_CALLS + LEDGER_CALLS, RELEASE_NAMESPACE, names=frozenset({"ece-a", "ece-b"})
    )


def test_connection_secrets_disabled_removes_all_secret_access() -> None:
    granted = grants({"rbac": {"connectionSecrets": {"enabled": False}}})
    assert not rbac.rules_allow(granted, "get", "", "secrets", namespace=RELEASE_NAMESPACE, name="any")
    assert rbac.permissions(granted) == permissions(
        [call for call in WATCH_CALLS if call[2] != "secrets"] + LEDGER_CALLS, RELEASE_NAMESPACE
    )


def test_rbac_create_false_renders_no_rbac() -> None:
    objects = render({"rbac": {"create": False}})
    assert not [obj for obj in objects if obj["apiVersion"].startswith("rbac.authorization.k8s.io/")]


def test_bindings_name_the_pod_service_account() -> None:
    objects = render({"watchNamespaces": ["team-a"]})
    pod = next(obj for obj in objects if obj["kind"] == "Deployment")["spec"]["template"]["spec"]
    for binding in of_kind(objects, "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": RELEASE_NAMESPACE}
        ]
    assert rbac.effective_rules(objects, service_account=(RELEASE_NAMESPACE, "someone-else")) == []


# --- the helper itself (it is reused by the dynamic RBAC-covers-calls test) ----------------------------------------


def role(kind: str, rules: list[dict[str, Any]], namespace: str | None = None, name: str = "r") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rules}


def binding(kind: str, role_kind: str, namespace: str | None = None, subject_namespace: str | None = "ops"
            ) -> dict[str, Any]:
    meta = {"name": "b", **({"namespace": namespace} if namespace else {})}
    subject = {"kind": "ServiceAccount", "name": "sa"}
    if subject_namespace:
        subject["namespace"] = subject_namespace
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": "r"}, "subjects": [subject]}


@pytest.mark.parametrize(
    ("rule", "request_", "allowed"),
    [
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, ("delete", "apps", "deployments", None), True),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, ("get", "", "pods", "log"), False),
        ({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}, ("get", "", "pods", "log"), True),
        ({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}, ("get", "", "pods", None), False),
        ({"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["patch"]},
         ("patch", "apps", "deployments", "scale"), True),
        ({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}, ("get", "", "deployments", None),
         False),
    ],
)
def test_rules_allow_matches_like_the_rbac_authorizer(rule: dict[str, Any], request_: tuple[str, str, str, str | None],
                                                      allowed: bool) -> None:
    granted = rbac.effective_rules([role("Role", [rule], "ops"), binding("RoleBinding", "Role", "ops")], ("ops", "sa"))
    assert rbac.rules_allow(granted, *request_, namespace="ops") is allowed


def test_a_cluster_role_bound_by_a_role_binding_applies_in_that_namespace_only() -> None:
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    granted = rbac.effective_rules([role("ClusterRole", [rule]), binding("RoleBinding", "ClusterRole", "team-a")],
                                   ("ops", "sa"))
    assert rbac.rules_allow(granted, "get", "", "configmaps", namespace="team-a")
    assert not rbac.rules_allow(granted, "get", "", "configmaps", namespace="team-b")
    assert not rbac.rules_allow(granted, "get", "", "configmaps", namespace=None)


def test_a_role_binding_subject_without_namespace_means_the_binding_namespace() -> None:
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    objects = [role("Role", [rule], "ops"), binding("RoleBinding", "Role", "ops", subject_namespace=None)]
    assert rbac.rules_allow(rbac.effective_rules(objects, ("ops", "sa")), "get", "", "configmaps", namespace="ops")
    assert rbac.effective_rules(objects, ("other", "sa")) == []


def test_a_binding_to_a_missing_role_grants_nothing() -> None:
    assert rbac.effective_rules([binding("ClusterRoleBinding", "ClusterRole")], ("ops", "sa")) == []
