"""`helm lint --strict` (the Helm v4 linter, through helm-python-sdk) finds nothing, for every values matrix entry."""

from __future__ import annotations

import tomllib

import helm_python as helm
import kubernetes_validate.utils
import pytest
import yaml

from tests.chart.chartlib import CHART_DIR, MATRIX, MIN_KUBE_VERSION, ROOT, Case

KUBE_VERSIONS = (MIN_KUBE_VERSION, kubernetes_validate.utils.latest_version())


def lint(values: dict[str, object], kube_version: str) -> dict[str, object]:
    return helm.lint(str(CHART_DIR), values, strict=True, namespace="ece-ops", kube_version=f"v{kube_version}")


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("case", MATRIX, ids=lambda case: case.id)
def test_helm_lint_strict_reports_nothing(case: Case, kube_version: str) -> None:
    report = lint(case.values, kube_version)
    assert report["errors"] == []
    # Info-level findings too (e.g. "icon is recommended"): the chart should not need any excuse.
    assert report["messages"] == []


def test_chart_metadata_matches_the_package_and_the_tested_kubernetes_floor() -> None:
    metadata = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert metadata["apiVersion"] == "v2"
    assert metadata["appVersion"] == project["version"], "appVersion is the operator version and default image tag"
    assert metadata["kubeVersion"] == f">={MIN_KUBE_VERSION}-0", "the floor the tests validate against"


def test_helm_lint_reports_values_that_break_the_schema() -> None:
    report = lint({"maxConcurrent": 0}, MIN_KUBE_VERSION)
    messages = [message for message in report["messages"] if message["severity"] == 3]  # type: ignore[index]
    assert any("maxConcurrent" in message["error"] for message in messages), report  # type: ignore[index]
