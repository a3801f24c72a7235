"""The real kubectl against the sandbox: apply (client- and server-side), get with columns, patch, wait, explain,
delete. No `--validate=false`: kubectl finds server-side field validation in the OpenAPI v3 document."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ece_restart.sandbox import Sandbox

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: eceops.io/v1alpha1
kind: ResourceRestart
metadata:
  name: kibana
  namespace: demo
spec:
  deploymentId: 0123456789abcdef0123456789abcdef
  resourceKind: kibana
  refId: main-kibana
"""
READY = {
    "status": {
        "phase": "Succeeded",
        "httpStatus": 202,
        "attempts": 1,
        "conditions": [{"type": "Ready", "status": "True", "reason": "RestartAccepted", "message": "done",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}],
    }
}


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


@pytest.mark.slow
def test_kubectl_workflow(threaded_sandbox: Sandbox, sandbox_kubeconfig: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "demo.yaml"
    manifest.write_text(MANIFEST)
    applied = kubectl("apply", "-f", str(manifest)).stdout
    assert "namespace/demo created" in applied and "resourcerestart.eceops.io/kibana created" in applied
    assert "resourcerestart.eceops.io/kibana unchanged" in kubectl("apply", "-f", str(manifest)).stdout

    header = kubectl("get", "rr", "-n", "demo").stdout.splitlines()[0].split()
    assert header == ["NAME", "DEPLOYMENT", "KIND", "REFID", "PHASE", "OUTCOME", "HTTP", "ATTEMPTS", "AGE"]

    waiting = subprocess.Popen(  # started before the condition holds: kubectl must watch for it
        ["kubectl", "wait", "rr/kibana", "-n", "demo", "--for=condition=Ready", "--timeout=30s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        kubectl("patch", "rr", "kibana", "-n", "demo", "--subresource=status", "--type=merge", "-p", json.dumps(READY))
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 0 and "condition met" in out, err
    jsonpath = kubectl("wait", "rr/kibana", "-n", "demo", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=10s")
    assert "condition met" in jsonpath.stdout
    row = kubectl("get", "rr", "kibana", "-n", "demo", "--no-headers").stdout.split()
    # the missing Outcome prints as an empty cell, as for CRDs on a real cluster
    assert row[:7] == ["kibana", "0123456789abcdef0123456789abcdef", "kibana", "main-kibana", "Succeeded", "202", "1"]

    kubectl("patch", "rr", "kibana", "-n", "demo", "--type=merge", "-p", '{"spec":{"restartToken":"2"}}')
    generation = kubectl("get", "rr", "kibana", "-n", "demo", "-o", "jsonpath={.metadata.generation}").stdout
    assert generation == "2"
    immutable = kubectl("patch", "rr", "kibana", "-n", "demo", "--type=merge", "-p", '{"spec":{"refId":"x"}}',
                        check=False)
    assert immutable.returncode != 0 and "refId are immutable" in immutable.stderr

    invalid = kubectl("apply", "-f", "-", stdin=MANIFEST.replace("kibana\n  refId", "pods\n  refId"), check=False)
    assert invalid.returncode != 0 and "spec.resourceKind: Unsupported value" in invalid.stderr
    unknown = kubectl("apply", "-f", "-", stdin=MANIFEST.replace("  refId:", "  refid: typo\n  refId:"), check=False)
    assert unknown.returncode != 0 and 'unknown field "spec.refid"' in unknown.stderr

    server_side = kubectl("apply", "--server-side", "-f", "-", stdin=MANIFEST.replace("name: kibana", "name: ssa"))
    assert "resourcerestart.eceops.io/ssa serverside-applied" in server_side.stdout

    explained = kubectl("explain", "resourcerestarts.spec").stdout
    assert "deploymentId" in explained and "restartToken" in explained

    # typed clients send protobuf bodies for built-in kinds; the sandbox decodes them
    kubectl("create", "secret", "generic", "ece", "-n", "demo", "--from-literal=apiKey=k", "--from-literal=url=u")
    secret = threaded_sandbox.get("secrets", "ece", namespace="demo") or {}
    assert secret["data"] == {"apiKey": "aw==", "url": "dQ=="} and secret["type"] == "Opaque"
    kubectl("create", "configmap", "settings", "-n", "demo", "--from-literal=a=1")
    kubectl("label", "configmap", "settings", "-n", "demo", "team=ops")
    assert kubectl("get", "cm", "-n", "demo", "-l", "team=ops", "-o", "name").stdout.strip() == "configmap/settings"

    assert "deleted" in kubectl("delete", "rr", "kibana", "-n", "demo").stdout
    missing = kubectl("get", "rr", "kibana", "-n", "demo", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    assert threaded_sandbox.get("resourcerestarts", "kibana", namespace="demo") is None
    agents = {r.user_agent.split("/")[0] for r in threaded_sandbox.requests}
    assert "kubectl" in agents
