"""What a user does by hand: kubectl apply / get / wait on the examples, and invalid CRs refused by the schema."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is on every project machine; install it to run these")


def kubectl(stack: Stack, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run([KUBECTL, f"--kubeconfig={stack.kubeconfig}", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def example_restarts() -> list[str]:
    names = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "ResourceRestart":
                names.append(document["metadata"]["name"])
    return names


def test_kubectl_applies_the_examples_and_waits_for_success(stack: Stack, namespace: str) -> None:
    applied = kubectl(stack, "apply", "-n", namespace, "-f", str(ROOT / "examples"))
    assert applied.returncode == 0, applied.stderr
    assert "resourcerestart.eceops.io/production-kibana created" in applied.stdout
    waited = kubectl(stack, "wait", "-n", namespace, "--for=condition=Succeeded", "--timeout=60s",
                     "rr/production-kibana", "rr/staging-kibana")
    assert waited.returncode == 0, waited.stderr + waited.stdout
    failed = kubectl(stack, "wait", "-n", namespace, "--for=jsonpath={.status.phase}=Failed", "--timeout=60s",
                     "rr/missing-deployment", "rr/missing-apm", "rr/missing-secret")
    assert failed.returncode == 0, failed.stderr + failed.stdout
    table = kubectl(stack, "get", "rr", "-n", namespace)
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0].split()
    assert header == ["NAME", "DEPLOYMENT", "KIND", "REFID", "PHASE", "OUTCOME", "HTTP", "ATTEMPTS", "AGE"]
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert set(rows) == set(example_restarts())
    assert rows["production-kibana"][4:8] == ["Succeeded", "RestartAccepted", "202", "1"]
    assert rows["missing-deployment"][4:7] == ["Failed", "DeploymentNotFound", "404"]
    reapplied = kubectl(stack, "apply", "-n", namespace, "-f", str(ROOT / "examples"))
    assert reapplied.returncode == 0 and "production-kibana unchanged" in reapplied.stdout


def refused(stack: Stack, namespace: str, spec: dict[str, Any]) -> str:
    response = stack.kube.create_restart(namespace, "bad", spec)
    assert response.status_code == 422, response.text
    message: str = response.json()["message"]
    return message


GOOD = {"deploymentId": "0123456789abcdef0123456789abcdef", "resourceKind": "kibana", "refId": "main-kibana"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({**GOOD, "deploymentId": "not-hex"}, "spec.deploymentId"),
        ({**GOOD, "resourceKind": "logstash"}, 'Unsupported value: "logstash"'),
        ({**GOOD, "elasticsearch": {"skipSnapshot": True}}, "only allowed when resourceKind is elasticsearch"),
        ({**GOOD, "refId": "../etc"}, "spec.refId"),
        ({k: v for k, v in GOOD.items() if k != "deploymentId"}, "spec.deploymentId: Required value"),
        ({**GOOD, "retry": {"maxAttempts": 50}}, "spec.retry.maxAttempts"),
    ],
)
def test_invalid_restarts_are_refused_with_the_schema_message(stack: Stack, namespace: str, spec: dict[str, Any],
                                                              expected: str) -> None:
    assert expected in refused(stack, namespace, spec)


def test_only_the_restart_token_may_change(stack: Stack, namespace: str) -> None:
    assert stack.kube.create_restart(namespace, "immutable", {**GOOD, "restartToken": "a"}).status_code == 201
    changed = stack.kube.patch_restart(namespace, "immutable", {"spec": {"refId": "other"}})
    assert changed.status_code == 422 and "immutable" in changed.json()["message"]
    changed = stack.kube.patch_restart(namespace, "immutable", {"spec": {"cancelPending": True}})
    assert changed.status_code == 422 and "immutable" in changed.json()["message"]
    assert stack.kube.patch_restart(namespace, "immutable", {"spec": {"restartToken": "b"}}).status_code == 200
