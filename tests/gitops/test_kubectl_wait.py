"""The kubectl wait recipes of docs/gitops.md, with statuses from the operator's builders, against the sandbox."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
import yaml

from tests.gitops.conftest import KubectlSandbox
from tests.gitops.phases import Scenario, scenarios

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is on every project machine")
NAMESPACE = "waits"
BY_NAME = {s.name: s for s in scenarios()}


def create_with_status(kube: KubectlSandbox, name: str, scenario: Scenario) -> None:
    kube.kubectl("create", "namespace", NAMESPACE)  # AlreadyExists after the first test: ignored
    manifest = {"apiVersion": "eceops.io/v1alpha1", "kind": "ResourceRestart",
                "metadata": {"name": name, "namespace": NAMESPACE}, "spec": scenario.obj["spec"]}
    created = kube.kubectl("create", "-f", "-", stdin=yaml.safe_dump(manifest))
    assert created.returncode == 0, created.stderr
    patched = kube.kubectl("patch", "rr", name, "-n", NAMESPACE, "--subresource=status", "--type=merge",
                           "-p", json.dumps({"status": scenario.obj["status"]}))
    assert patched.returncode == 0, patched.stderr


def wait(kube: KubectlSandbox, name: str, condition: str, timeout: str) -> Any:
    return kube.kubectl("wait", f"rr/{name}", "-n", NAMESPACE, condition, f"--timeout={timeout}")


@pytest.mark.parametrize("scenario", ["succeeded-accepted", "failed-not-found", "unknown", "failed-plan"])
def test_reconciling_false_returns_for_every_terminal_result(kube_sandbox: KubectlSandbox, scenario: str) -> None:
    create_with_status(kube_sandbox, f"done-{scenario}", BY_NAME[scenario])
    result = wait(kube_sandbox, f"done-{scenario}", "--for=condition=Reconciling=false", "20s")
    assert result.returncode == 0 and "condition met" in result.stdout, result.stderr


@pytest.mark.parametrize("scenario", ["retrying", "in-progress"])
def test_reconciling_false_waits_while_the_run_goes_on(kube_sandbox: KubectlSandbox, scenario: str) -> None:
    create_with_status(kube_sandbox, f"running-{scenario}", BY_NAME[scenario])
    result = wait(kube_sandbox, f"running-{scenario}", "--for=condition=Reconciling=false", "1s")
    assert result.returncode != 0 and "timed out" in result.stderr, (result.stdout, result.stderr)


def test_succeeded_never_returns_for_a_failed_run(kube_sandbox: KubectlSandbox) -> None:
    create_with_status(kube_sandbox, "failed", BY_NAME["failed-not-found"])
    result = wait(kube_sandbox, "failed", "--for=condition=Succeeded", "1s")
    assert result.returncode != 0 and "timed out" in result.stderr, (result.stdout, result.stderr)
    failed = wait(kube_sandbox, "failed", "--for=jsonpath={.status.phase}=Failed", "20s")
    assert failed.returncode == 0, failed.stderr


def test_a_previous_runs_result_is_ignored_after_a_token_change(kube_sandbox: KubectlSandbox) -> None:
    create_with_status(kube_sandbox, "rerun", BY_NAME["succeeded-accepted"])
    assert wait(kube_sandbox, "rerun", "--for=condition=Succeeded", "20s").returncode == 0
    bumped = kube_sandbox.kubectl("patch", "rr", "rerun", "-n", NAMESPACE, "--type=merge",
                                  "-p", '{"spec":{"restartToken":"t2"}}')
    assert bumped.returncode == 0, bumped.stderr
    generation = kube_sandbox.kubectl("get", "rr", "rerun", "-n", NAMESPACE, "-o", "jsonpath={.metadata.generation}")
    assert generation.stdout == "2"
    stale = wait(kube_sandbox, "rerun", "--for=condition=Succeeded", "1s")
    assert stale.returncode != 0 and "timed out" in stale.stderr, (stale.stdout, stale.stderr)
