"""Crash matrix: SIGKILL the operator process at every step boundary of a run, during the restart POST, and at
random; at least 200 kills per run of this module. See `tests/support/crash_matrix.py` for the method; the heavy
variant (1,000+ kills) is `stress/crash_matrix.py`.

Invariant, for every CR: ECE accepted at most one restart for its run and never got a request after the accepted
one; the CR ends terminal; `Unknown` only where the policy allows it (the operator stopped mid-request and ECE shows
no plan attempt), and counted.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from ece_restart.failpoints import POINTS
from tests.reliability.conftest import FIGURES
from tests.support.crash_matrix import API_KEY, CrashMatrix, MatrixEnvironment, MatrixSettings
from tests.support.kube_http import spec
from tests.support.operator_process import OperatorProcess
from tests.support.stack import wait_for

KILLS = 200


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MatrixEnvironment]:
    with MatrixEnvironment(tmp_path_factory.mktemp("crash")) as built:
        yield built


def test_kills_at_every_step_boundary_never_restart_twice(env: MatrixEnvironment, record_property: Any) -> None:
    report = CrashMatrix(env, MatrixSettings(kills=KILLS)).run()
    summary = report.summary()
    FIGURES.append(summary)
    print(summary)
    record_property("crash_matrix", json.dumps(report.as_dict(), sort_keys=True))
    assert not report.problems, summary + "\n" + "\n".join(report.problems[:30])
    assert report.duplicates == 0, summary
    assert report.unexplained_unknowns == 0, summary
    assert report.kills >= KILLS, summary
    for point in (*POINTS, "during_post"):
        assert report.kills_by_point.get(point, 0) >= 5, f"too few kills at {point}: {summary}"
    assert set(report.phases) <= {"Succeeded", "Unknown"}, summary


def test_repeated_kills_while_tracking_a_plan_never_send_again(env: MatrixEnvironment, record_property: Any) -> None:
    """waitForCompletion: an operator killed at every plan poll, five times in a row, keeps following the same plan
    and finishes it; ECE receives exactly one restart request."""
    namespace = "tracking-kills"
    env.sandbox.create_namespace(namespace)
    deployment = "0f" * 16
    env.simulator.state.add_deployment(deployment, "tracked", resources=[
        {"kind": "kibana", "ref_id": "main-kibana", "plan_seconds": 6.0}])
    env.sandbox.create({"apiVersion": "eceops.io/v1alpha1", "kind": "ResourceRestart",
                        "metadata": {"name": "tracked", "namespace": namespace},
                        "spec": spec(deployment, waitForCompletion=True, completionTimeoutSeconds=600)})
    operator = OperatorProcess(kubeconfig=env.kubeconfig, env={}, log_path=env.tmp / "tracking.log",
                               args=("--namespace", namespace))
    kills = 0
    for _ in range(5):
        operator.extra_env = {"ECE_URL": env.ece_url, "ECE_API_KEY": API_KEY,
                              "ECE_RESTART_FAILPOINTS": "during_tracking@1"}
        operator.start()
        assert operator.process is not None
        wait_for(lambda: operator.process is not None and operator.process.poll() is not None,
                 "the during_tracking failpoint to kill the operator")
        assert operator.process.returncode == -signal.SIGKILL, operator.log()[-3000:]
        kills += 1
    operator.extra_env = {"ECE_URL": env.ece_url, "ECE_API_KEY": API_KEY}
    operator.start()
    try:
        def terminal() -> dict[str, Any] | None:
            obj = env.sandbox.get("resourcerestarts", "tracked", namespace=namespace, group="eceops.io") or {}
            status = obj.get("status") or {}
            return status if status.get("phase") in {"Succeeded", "Failed", "Unknown"} else None

        status = wait_for(terminal, "the tracked restart to finish", timeout=60)
    finally:
        operator.stop()
    restarts = [c for c in env.simulator.calls if c.route == "restart" and c.deployment_id == deployment]
    polls = [c for c in env.simulator.calls if c.route == "get_resource" and c.deployment_id == deployment]
    FIGURES.append(f"tracking kills: {kills} kills during plan polls, {len(restarts)} restart request(s), "
                   f"{len(polls)} plan polls, outcome {status.get('outcome')}")
    assert (status["phase"], status["outcome"]) == ("Succeeded", "RestartCompleted"), status
    assert len(restarts) == 1 and env.simulator.accepted_restarts(deployment) == 1
    assert status["plan"]["attemptId"] and status["attempts"] == 1
