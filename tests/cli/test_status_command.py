"""`ece-restart-operator status` as a subprocess against the Kubernetes API sandbox."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ece_restart import cli
from ece_restart.sandbox import Sandbox
from ece_restart.sandbox.kubeconfig import write_kubeconfig
from tests.cli.conftest import run_cli
from tests.support.kube_http import RR_PATH, KubeHttp

DEPLOYMENT = "0123456789abcdef0123456789abcdef"
LONG_MESSAGE = "ECE accepted the restart of the resource and this message goes on for much longer than a column"


@pytest.fixture
def kube(threaded_sandbox: Sandbox) -> Iterator[KubeHttp]:
    assert threaded_sandbox.url is not None
    client = KubeHttp(threaded_sandbox.url)
    yield client
    client.close()


def create(kube: KubeHttp, namespace: str, name: str, kind: str, ref_id: str,
           status: Mapping[str, Any] | None = None) -> None:
    response = kube.create_restart(namespace, name, {"deploymentId": DEPLOYMENT, "resourceKind": kind,
                                                     "refId": ref_id})
    assert response.status_code == 201, response.text
    if status is not None:
        patched = kube.http.patch(f"{RR_PATH.format(namespace=namespace)}/{name}/status",
                                  json={"status": dict(status)},
                                  headers={"Content-Type": "application/merge-patch+json"})
        assert patched.status_code == 200, patched.text


@pytest.fixture
def restarts(kube: KubeHttp) -> None:
    for namespace in ("team-a", "team-b"):
        kube.create_namespace(namespace)
    create(kube, "team-a", "kibana-now", "kibana", "main-kibana",
           {"phase": "Succeeded", "outcome": "RestartAccepted", "httpStatus": 202, "attempts": 1,
            "message": LONG_MESSAGE})
    create(kube, "team-a", "apm-missing", "apm", "main-apm",
           {"phase": "Failed", "outcome": "ResourceNotFound", "httpStatus": 404, "attempts": 1,
            "message": "HTTP 404 Not Found: no such resource"})
    create(kube, "team-b", "es-rolling", "elasticsearch", "main-elasticsearch",
           {"phase": "Retrying", "outcome": "ServerError", "httpStatus": 503, "attempts": 2,
            "message": "retrying in 4 s"})
    create(kube, "team-b", "fresh", "kibana", "main-kibana")  # no status yet


def table(stdout: str) -> list[list[str]]:
    """Rows split on runs of 3+ spaces (the column separator), header first."""
    return [re.split(r"\s{3,}", line.strip()) for line in stdout.splitlines() if line.strip()]


@pytest.mark.usefixtures("restarts")
def test_table_of_one_namespace(sandbox_kubeconfig: Path) -> None:
    result = run_cli("status", "-n", "team-a", "--kubeconfig", str(sandbox_kubeconfig), env={})

    assert result.returncode == 0, result.stderr
    header, *rows = table(result.stdout)
    assert header == ["NAME", "DEPLOYMENT", "KIND", "REFID", "PHASE", "OUTCOME", "HTTP", "ATTEMPTS", "AGE",
                      "MESSAGE"]
    assert [row[:8] for row in rows] == [
        ["apm-missing", DEPLOYMENT, "apm", "main-apm", "Failed", "ResourceNotFound", "404", "1"],
        ["kibana-now", DEPLOYMENT, "kibana", "main-kibana", "Succeeded", "RestartAccepted", "202", "1"],
    ]
    assert rows[0][8].endswith("s")  # created moments ago
    assert rows[0][9] == "HTTP 404 Not Found: no such resource"
    assert rows[1][9].endswith("…") and len(rows[1][9]) == 60 and LONG_MESSAGE.startswith(rows[1][9][:-1])


@pytest.mark.usefixtures("restarts")
def test_all_namespaces_adds_a_namespace_column(sandbox_kubeconfig: Path) -> None:
    result = run_cli("status", "-A", env={"KUBECONFIG": str(sandbox_kubeconfig)})

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAMESPACE", "NAME", "DEPLOYMENT"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["team-a", "apm-missing"], ["team-a", "kibana-now"], ["team-b", "es-rolling"], ["team-b", "fresh"]]
    fresh = next(line for line in lines if " fresh " in line).split()
    assert fresh[:5] == ["team-b", "fresh", DEPLOYMENT, "kibana", "main-kibana"]
    assert len(fresh) == 6  # no status yet: only the age follows the spec columns


@pytest.mark.usefixtures("restarts")
def test_json_output_is_the_list(sandbox_kubeconfig: Path) -> None:
    result = run_cli("status", "-n", "team-b", "-o", "json", "--kubeconfig", str(sandbox_kubeconfig), env={})

    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["es-rolling", "fresh"]
    assert listed["items"][0]["status"]["httpStatus"] == 503
    assert listed["items"][0]["spec"]["resourceKind"] == "elasticsearch"


@pytest.mark.usefixtures("restarts")
def test_default_namespace_is_the_kubeconfig_context_namespace(threaded_sandbox: Sandbox, tmp_path: Path) -> None:
    kubeconfig = threaded_sandbox.write_kubeconfig(tmp_path / "team-b.kubeconfig", namespace="team-b")

    result = run_cli("status", env={"KUBECONFIG": str(kubeconfig)})

    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["es-rolling", "fresh"]


@pytest.mark.usefixtures("restarts")
def test_an_empty_namespace_says_so(sandbox_kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # In-process (the console script's entry point) to keep the suite fast.
    assert cli.main(["status", "-n", "nobody-here", "--kubeconfig", str(sandbox_kubeconfig)]) == 0

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "No ResourceRestarts found in namespace nobody-here.\n"


def test_unreachable_api_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:1")

    result = run_cli("status", "-A", "--kubeconfig", str(kubeconfig), env={})

    assert result.returncode == 1
    assert result.stderr.startswith("error: the Kubernetes API at http://127.0.0.1:1 cannot be reached: ")
    assert "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_kubeconfig_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    assert cli.main(["status", "--kubeconfig", str(tmp_path / "absent")]) == 1

    assert capsys.readouterr().err.startswith("error: no usable Kubernetes configuration")
