"""What the people running the operator see: /metrics values that move with what happens, health, logs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ece_restart.simulator import Fault
from tests.e2e.conftest import Stack, start_stack
from tests.support.kube_http import spec

SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def health_port(stack: Stack) -> int:
    found: list[int] = []

    def logged() -> bool:
        match = re.findall(r"serving health on port (\d+)", stack.operator.log())
        if match:
            found.append(int(match[-1]))
        return bool(match)

    stack.operator.wait_until(logged, "the health server to start")
    return found[-1]


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match is None or line.startswith("#"):
            continue
        labels = frozenset(tuple(pair.split("=", 1)) for pair in re.findall(r'[a-z_]+="[^"]*"', match["labels"] or "")
                           ) if match["labels"] else frozenset()
        samples[(match["name"], frozenset((k, v.strip('"')) for k, v in labels))] = float(match["value"])
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_follow_the_scenarios(stack: Stack, namespace: str) -> None:
    port = health_port(stack)
    before = scrape(port)
    stack.run(namespace, "ok", spec(stack.new_deployment("kibana")))
    stack.run(namespace, "missing", spec("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"))
    flaky = stack.new_deployment("apm")
    stack.simulator.add_fault(Fault(route="restart", status=500, times=1, deployment_id=flaky))
    stack.run(namespace, "flaky", spec(flaky, "apm", retry={"maxAttempts": 3, "initialDelaySeconds": 0,
                                                             "maxDelaySeconds": 1}))
    after = scrape(port)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("ece_restart_runs_total", outcome="RestartAccepted", kind="kibana") == 1
    assert delta("ece_restart_runs_total", outcome="DeploymentNotFound", kind="kibana") == 1
    assert delta("ece_restart_runs_total", outcome="RestartAccepted", kind="apm") == 1
    assert delta("ece_restart_ece_requests_total", route="restart", code="202") == 2
    assert delta("ece_restart_ece_requests_total", route="restart", code="404") == 1
    assert delta("ece_restart_ece_requests_total", route="restart", code="500") == 1
    assert delta("ece_restart_retries_total", kind="apm") == 1
    assert delta("ece_restart_run_attempts_count") == 3 and delta("ece_restart_run_attempts_sum") == 4
    assert delta("ece_restart_run_duration_seconds_count", kind="kibana") == 2
    names = {name for name, _ in after}
    assert not any(label == "name" or "deployment" in label for _, labels in after for label, _ in labels), (
        "unbounded labels")
    assert {"ece_restart_runs_in_flight", "ece_restart_plans_tracked"} <= names


def test_plans_tracked_gauge_counts_runs_in_progress(stack: Stack, namespace: str) -> None:
    port = health_port(stack)
    deployment = stack.new_deployment("kibana", plan_seconds=30)
    assert stack.kube.create_restart(namespace, "tracked", spec(deployment, waitForCompletion=True)).status_code == 201
    stack.kube.wait_for_restart(namespace, "tracked", lambda o: o.get("status", {}).get("phase") == "InProgress")
    stack.operator.wait_until(lambda: value(scrape(port), "ece_restart_plans_tracked") >= 1, "the gauge to count it")
    assert value(scrape(port), "ece_restart_ece_requests_total", route="get_resource", code="200") >= 1


def test_health_and_readiness_follow_the_kubernetes_api(private_stack: Stack, namespace: str) -> None:
    stack = private_stack
    port = health_port(stack)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"alive": True}
    ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert ready.json()["defaultConnection"] == stack.ece_url
    stack.sandbox.faults.refuse()
    try:
        stack.operator.wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 503,
                                  "readiness to fail while the API server refuses connections")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # alive, just not ready
    finally:
        stack.sandbox.faults.accept()
    stack.operator.wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200,
                              "readiness to recover")


@pytest.fixture
def json_stack(tmp_path: Path) -> Iterator[Stack]:
    yield from start_stack(tmp_path, args=("--all-namespaces", "--log-format", "json"))


def test_json_logs_carry_the_cr_identity_on_every_line_about_it(json_stack: Stack) -> None:
    stack = json_stack
    namespace = "jsonlogs"
    stack.kube.create_namespace(namespace)
    obj = stack.run(namespace, "logged", spec(stack.new_deployment("kibana"), restartToken="tok-7"))
    uid = obj["metadata"]["uid"]
    deadline = time.monotonic() + 10
    while "RestartAccepted" not in stack.operator.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    records = []
    for line in stack.operator.log().splitlines():
        if line.startswith(("=====", "failpoint")) or not line.strip():
            continue
        records.append(json.loads(line))  # every line is one JSON object
    about = [r for r in records if r.get("uid") == uid]
    assert about, "no log line about the CR"
    assert all(r["namespace"] == namespace and r["resourcerestart"] == "logged" and r["token"] == "tok-7"
               for r in about)
    assert {"time", "level", "logger", "message"} <= set(about[0])
    assert any("restart request 1" in r["message"] for r in about)
