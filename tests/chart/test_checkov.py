"""checkov (Kubernetes and Dockerfile policies) finds nothing on the rendered chart and the Dockerfile.

One checkov run (~3 s) scans the union of every values matrix rendering (distinct release names and namespaces, so
no object shadows another), the Dockerfile, and one deliberately insecure canary Deployment that proves the scan
really fails on findings. Deliberate findings are suppressed in the chart itself with `checkov.io/skip<N>:
<CHECK>=<reason>` annotations on the Deployment (templates/deployment.yaml), so that anyone scanning the chart or
manifests/install.yaml sees the same reasons; this test pins the list of suppressed checks.

checkov is not installed into the project environment: checkov 3.3.30 pins boto3==1.35.49, hence
python-dateutil<3, which conflicts with kubernetes>=37 (python-dateutil>=3). Install it as a separate tool
(`pipx install checkov==3.3.30`, or a dedicated venv) and put it on PATH, or point $CHECKOV at the executable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.chartlib import MATRIX, ROOT, objects_of, release_name, render_case

# Every suppression the chart may carry, and when. Adding one means adding it here, with a reason in the chart.
SUPPRESSED = {
    "CKV_K8S_38": "the operator needs its ServiceAccount token to call the Kubernetes API",
    "CKV_K8S_35": "the runtime contract reads the default ECE credentials from env (secretKeyRef)",
    "CKV_K8S_43": "no digest before the image exists; image.digest pins it",
    "CKV_K8S_15": "IfNotPresent with an immutable version tag; image.digest satisfies the check",
    "CKV2_K8S_6": "NetworkPolicy needs cluster-specific CIDRs; networkPolicy.enabled creates it",
    "CKV_K8S_40": "only when securityContext.runAsUser is null (platform-assigned UID, e.g. OpenShift)",
}

CANARY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "insecure-canary", "namespace": "canary"},
    "spec": {
        "selector": {"matchLabels": {"app": "canary"}},
        "template": {
            "metadata": {"labels": {"app": "canary"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:latest", "securityContext": {"privileged": True}}]},
        },
    },
}
# Some of what checkov must report on the canary.
CANARY_FINDINGS = {"CKV_K8S_16", "CKV_K8S_14", "CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_11", "CKV_K8S_13"}


CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ece-restart-operator" / "checkov"


def checkov_executable() -> str:
    """$CHECKOV, else checkov on PATH, else a private venv made once (checkov's pins clash with ours)."""
    executable = os.environ.get("CHECKOV") or shutil.which("checkov")
    if executable:
        return executable
    installed = CHECKOV_VENV / "bin" / "checkov"
    if not installed.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True, capture_output=True)
        pip = str(CHECKOV_VENV / "bin" / "pip")
        result = subprocess.run([pip, "install", "--quiet", f"checkov=={CHECKOV_VERSION}"],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"could not install checkov=={CHECKOV_VERSION} into {CHECKOV_VENV}:\n{result.stderr[-2000:]}")
    return str(installed)


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("checkov")
    documents = [yaml.safe_dump(obj, sort_keys=False) for case in MATRIX for obj in objects_of(render_case(case))]
    documents.append(yaml.safe_dump(CANARY, sort_keys=False))
    manifest = folder / "rendered.yaml"
    manifest.write_text("---\n".join(documents))
    dockerfile = folder / "Dockerfile"
    shutil.copyfile(ROOT / "Dockerfile", dockerfile)
    result = subprocess.run(
        [checkov_executable(), "--file", str(manifest), "--file", str(dockerfile),
         "--framework", "kubernetes", "dockerfile", "--skip-download", "--output", "json"],
        capture_output=True, text=True, check=False, timeout=120, cwd=folder,
    )
    assert result.stdout, result.stderr
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return {report["check_type"]: report for report in reports}


def failures(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(check["check_id"], check["resource"], check["check_name"])
            for check in report["results"]["failed_checks"]]


def test_both_frameworks_ran_without_parsing_errors(scan: dict[str, dict[str, Any]]) -> None:
    assert set(scan) == {"kubernetes", "dockerfile"}
    for report in scan.values():
        assert report["summary"]["parsing_errors"] == 0


def test_every_matrix_rendering_was_scanned(scan: dict[str, dict[str, Any]]) -> None:
    scanned = {check["resource"] for check in scan["kubernetes"]["results"]["passed_checks"]}
    for case in MATRIX:
        assert f"Deployment.{case.namespace}.{release_name(case)}-ece-restart-operator" in scanned, case.id


def test_the_chart_has_no_failed_check(scan: dict[str, dict[str, Any]]) -> None:
    unexpected = [failure for failure in failures(scan["kubernetes"]) if ".canary.insecure-canary" not in failure[1]]
    assert unexpected == []


def test_the_scan_does_fail_on_an_insecure_deployment(scan: dict[str, dict[str, Any]]) -> None:
    found = {check_id for check_id, resource, _ in failures(scan["kubernetes"]) if "insecure-canary" in resource}
    assert found >= CANARY_FINDINGS


def test_the_dockerfile_has_no_failed_check(scan: dict[str, dict[str, Any]]) -> None:
    assert failures(scan["dockerfile"]) == []
    assert scan["dockerfile"]["results"]["skipped_checks"] == []


def test_suppressions_are_the_known_ones_each_with_a_reason(scan: dict[str, dict[str, Any]]) -> None:
    skipped = scan["kubernetes"]["results"]["skipped_checks"]
    assert {check["check_id"] for check in skipped} == set(SUPPRESSED)
    for check in skipped:
        reason = check["check_result"].get("suppress_comment") or ""
        assert reason != "No comment provided" and len(reason) > 60, (check["check_id"], reason)


def test_suppression_annotations_are_well_formed() -> None:
    # checkov splits the value on "=": exactly one, or the suppression silently breaks.
    for case in MATRIX:
        for obj in objects_of(render_case(case)):
            for key, value in (obj["metadata"].get("annotations") or {}).items():
                if key.startswith("checkov.io/skip"):
                    check_id, _, reason = value.partition("=")
                    assert check_id in SUPPRESSED and "=" not in reason, (key, value)


def test_suppressions_follow_the_values(scan: dict[str, dict[str, Any]]) -> None:
    def skipped_for(case_id: str) -> set[str]:
        case = next(case for case in MATRIX if case.id == case_id)
        resource = f"Deployment.{case.namespace}.{release_name(case)}-ece-restart-operator"
        return {check["check_id"] for check in scan["kubernetes"]["results"]["skipped_checks"]
                if check["resource"] == resource}

    assert skipped_for("defaults") == {"CKV_K8S_38", "CKV_K8S_43", "CKV_K8S_15"}  # + CKV2_K8S_6 on the Pod entity
    # A digest and a NetworkPolicy remove their suppressions; the checks then pass on their own.
    assert skipped_for("metrics-servicemonitor-networkpolicy-digest") == {"CKV_K8S_38"}
    assert "CKV_K8S_35" in skipped_for("namespaced-apikey-ca-secret")
    assert "CKV_K8S_40" in skipped_for("everything-else")


def test_checkov_sees_the_dockerfile_user(scan: dict[str, dict[str, Any]]) -> None:
    passed = {check["check_id"] for check in scan["dockerfile"]["results"]["passed_checks"]}
    assert {"CKV_DOCKER_3", "CKV_DOCKER_2", "CKV_DOCKER_7"} <= passed  # USER, HEALTHCHECK, no latest base

