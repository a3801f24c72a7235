"""The Grafana dashboard only queries metrics and labels the operator exports, and shows every metric."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from ece_restart.metrics import METRIC_NAMES, OperatorMetrics

DASHBOARD = (Path(__file__).resolve().parents[2] / "charts" / "ece-restart-operator" / "dashboards"
             / "ece-restart-operator.json")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Labels Prometheus adds at scrape time (the ServiceMonitor's target labels), valid on every metric.
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "service", "container", "endpoint"})
METRIC = re.compile(r"\b(ece_restart_[a-z0-9_]+)\b")
SELECTOR = re.compile(r"\b(ece_restart_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def labels_by_metric() -> dict[str, frozenset[str]]:
    """Exported metric name (as in METRIC_NAMES) -> its label names, read from the operator's own collectors."""
    metrics = OperatorMetrics.create(CollectorRegistry())
    labels: dict[str, frozenset[str]] = {}
    for field in fields(metrics):
        collector = getattr(metrics, field.name)
        if not isinstance(collector, MetricWrapperBase):
            continue  # the registry
        [family] = collector.describe()
        name = family.name + ("_total" if family.type == "counter" else "")
        # prometheus-client keeps the declared label names here; children with no samples yet expose nothing else.
        labels[name] = frozenset(collector._labelnames)
    return labels


def panels(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in document.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def queries(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel title, PromQL expression, legend format) of every panel target."""
    return [(panel.get("title", ""), target["expr"], target.get("legendFormat", ""))
            for panel in panels(document) for target in panel.get("targets", []) if target.get("expr")]


def base_name(name: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in METRIC_NAMES:
            return name[: -len(suffix)]
    return name


def test_the_dashboard_is_a_modern_grafana_dashboard_with_a_datasource_variable(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_no_datasource_uid_is_hard_coded(dashboard: dict[str, Any]) -> None:
    def datasources(node: Any) -> Iterator[Any]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "datasource":
                    yield value
                yield from datasources(value)
        elif isinstance(node, list):
            for item in node:
                yield from datasources(item)

    for datasource in datasources(dashboard):
        if isinstance(datasource, dict) and datasource.get("type") == "grafana":
            continue  # the built-in annotation source
        assert datasource == {"type": "prometheus", "uid": "${datasource}"}, datasource
    assert "__inputs" not in dashboard


def test_every_queried_metric_is_exported(dashboard: dict[str, Any]) -> None:
    expressions = [expr for _title, expr, _legend in queries(dashboard)]
    expressions += [json.dumps(variable.get("query")) for variable in dashboard["templating"]["list"]]
    used = {base_name(name) for expr in expressions for name in METRIC.findall(expr)}

    assert used, "no metric found in the dashboard"
    assert used <= set(METRIC_NAMES), f"not exported by the operator: {sorted(used - set(METRIC_NAMES))}"


def test_every_exported_metric_is_on_the_dashboard(dashboard: dict[str, Any]) -> None:
    used = {base_name(name) for _title, expr, _legend in queries(dashboard) for name in METRIC.findall(expr)}

    assert set(METRIC_NAMES) <= used, f"missing from the dashboard: {sorted(set(METRIC_NAMES) - used)}"


def test_the_labels_of_the_metrics_match_metric_names(labels_by_metric: dict[str, frozenset[str]]) -> None:
    # The labels are read from the collectors the operator registers: METRIC_NAMES names exactly those.
    assert set(labels_by_metric) == set(METRIC_NAMES)


def test_every_label_used_exists_on_its_metric(dashboard: dict[str, Any],
                                               labels_by_metric: dict[str, frozenset[str]]) -> None:
    for title, expr, legend in queries(dashboard):
        metrics = {base_name(name) for name in METRIC.findall(expr)}
        for name, matchers in SELECTOR.findall(expr):
            allowed = labels_by_metric[base_name(name)] | TARGET_LABELS
            if name.endswith("_bucket"):
                allowed |= {"le"}
            for label in MATCHER.findall(matchers):
                assert label in allowed, f"{title!r}: {name} has no label {label!r}"
        # Grouping and legends refer to the labels left after aggregation: each must exist on a metric of the query.
        some_metric = frozenset().union(*(labels_by_metric[m] for m in metrics)) | TARGET_LABELS
        if any(name.endswith("_bucket") for name in METRIC.findall(expr)):
            some_metric |= {"le"}
        grouped = {label.strip() for group in GROUPING.findall(expr) for label in group.split(",") if label.strip()}
        for label in grouped | set(LEGEND_LABEL.findall(legend)):
            assert label in some_metric, f"{title!r}: no metric of {expr!r} has the label {label!r}"


def test_the_required_panels_exist(dashboard: dict[str, Any]) -> None:
    titles = " | ".join(panel.get("title", "") for panel in panels(dashboard)).lower()
    for wanted in ("runs by outcome", "failure ratio", "ece requests by status code", "retries",
                   "run duration (p50 / p95 / p99)", "attempts per run", "runs in flight", "plans tracked",
                   "plan tracking duration", "kubernetes api errors"):
        assert wanted in titles, wanted
    run_duration = next(expr for title, expr, _legend in queries(dashboard) if title.startswith("Run duration"))
    assert "histogram_quantile(0.5," in run_duration
