"""`ece-restart-operator sandbox`: help text, and a real process that serves, writes a kubeconfig, stops on SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from ece_restart.cli import main


def test_help_documents_the_flags(capsys: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ece_restart", "sandbox", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "--port" in result.stdout and "--kubeconfig" in result.stdout and "RBAC" in result.stdout
    assert callable(main)


def test_serves_until_interrupted(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "ece_restart", "sandbox", "--port", "0", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # blocks until the server is up (or the process died)
        assert first.startswith("Kubernetes API sandbox serving at http://127.0.0.1:"), first
        url = first.rsplit(" ", 1)[1].strip()
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == url
        assert config["users"][0]["user"]["token"]
        response = httpx.get(f"{url}/apis/eceops.io/v1alpha1", headers={"Authorization": "Bearer any"})
        assert response.status_code == 200
        assert httpx.get(f"{url}/api/v1/namespaces/default").json()["status"]["phase"] == "Active"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
