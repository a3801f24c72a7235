"""The operator pod meets the Pod Security Standards "restricted" profile plus the usual hardening, for every values
matrix entry (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.chartlib import MATRIX, Case, case_objects, of_kind, only, render

# Volume types the restricted profile allows.
RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}


def pod_spec(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return only(objects, "Deployment")["spec"]["template"]["spec"]


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What in a pod spec breaks the restricted profile or the chart's hardening; empty when compliant."""
    problems = []
    pod_context = pod.get("securityContext") or {}
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            problems.append(f"{host} is set")
    if pod_context.get("runAsUser") == 0:
        problems.append("pod runs as UID 0")
    if (pod_context.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append("pod seccompProfile is not RuntimeDefault")
    for volume in pod.get("volumes") or []:
        types = set(volume) - {"name"}
        if not types <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} uses {sorted(types - RESTRICTED_VOLUME_TYPES)}")
    for container in (pod.get("initContainers") or []) + pod["containers"]:
        name = container["name"]
        context = container.get("securityContext") or {}
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        capabilities = context.get("capabilities") or {}
        if capabilities.get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities.drop is not [ALL]")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot is not true")
        if context.get("runAsUser") == 0:
            problems.append(f"{name}: runs as UID 0")
        seccomp = context.get("seccompProfile") or pod_context.get("seccompProfile") or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is not RuntimeDefault/Localhost")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is writable")
        if any(port.get("hostPort") for port in container.get("ports") or []):
            problems.append(f"{name}: uses a hostPort")
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(section) or {}):
                    problems.append(f"{name}: no {resource} {section[:-1]}")
    return problems


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: case.id)
def test_operator_pod_is_restricted(case: Case) -> None:
    assert restricted_violations(pod_spec(case_objects(case))) == []


@pytest.mark.parametrize(
    ("mutation", "violation"),
    [
        (lambda pod: pod["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
         "operator: allowPrivilegeEscalation is not false"),
        (lambda pod: pod["containers"][0]["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
         "operator: adds capabilities ['NET_ADMIN']"),
        (lambda pod: pod["containers"][0]["securityContext"].update(readOnlyRootFilesystem=False),
         "operator: root filesystem is writable"),
        (lambda pod: pod["securityContext"].update(runAsUser=0), "pod runs as UID 0"),
        (lambda pod: pod.update(hostNetwork=True), "hostNetwork is set"),
        (lambda pod: pod["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "volume h uses ['hostPath']"),
        (lambda pod: pod["containers"][0]["resources"].pop("limits"), "operator: no cpu limit"),
    ],
    ids=["escalation", "capability", "writable-root", "root-uid", "host-network", "host-path", "no-limits"],
)
def test_the_checker_catches_violations(mutation: Any, violation: str) -> None:
    # Guards test_operator_pod_is_restricted: the checker is not vacuous.
    pod = pod_spec(render())
    mutation(pod)
    assert violation in restricted_violations(pod)


def test_default_uid_and_gid_are_fixed_and_high() -> None:
    pod = pod_spec(render())
    context = pod["securityContext"]
    assert context == {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
                       "seccompProfile": {"type": "RuntimeDefault"}}
    container_context = pod["containers"][0]["securityContext"]
    assert container_context["runAsUser"] == container_context["runAsGroup"] == 65532


def test_null_ids_leave_the_uid_to_the_platform_but_keep_run_as_non_root() -> None:
    pod = pod_spec(render({"securityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None}}))
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert "runAsUser" not in pod["containers"][0]["securityContext"]
    assert restricted_violations(pod) == []


def test_tmp_is_a_size_limited_empty_dir_because_the_root_filesystem_is_read_only() -> None:
    pod = pod_spec(render())
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert {"name": "tmp", "mountPath": "/tmp"} in pod["containers"][0]["volumeMounts"]  # noqa: S108 (the emptyDir)


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: case.id)
def test_service_account_token_is_mounted_only_into_the_operator_pod(case: Case) -> None:
    objects = case_objects(case)
    for account in of_kind(objects, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False
    pod = pod_spec(objects)
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] != "default"
    assert pod["enableServiceLinks"] is False


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: case.id)
def test_no_credential_is_a_literal_in_the_manifest(case: Case) -> None:
    for variable in pod_spec(case_objects(case))["containers"][0]["env"]:
        if any(word in variable["name"] for word in ("KEY", "PASSWORD", "TOKEN", "SECRET", "USERNAME")):
            assert "value" not in variable, variable["name"]
            assert "secretKeyRef" in variable["valueFrom"], variable["name"]
