"""README's first command: `ece-restart-operator demo` works with no cluster and no ECE."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_the_examples_and_prints_the_table() -> None:
    result = subprocess.run([sys.executable, "-m", "ece_restart", "demo"], capture_output=True, text=True,
                            timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("NAME"))
    assert header.split()[:7] == ["NAME", "KIND", "REFID", "PHASE", "OUTCOME", "HTTP", "ATTEMPTS"]
    rows = {line.split()[0]: line.split() for line in lines[lines.index(header) + 1:] if line and
            not line.startswith("ECE received")}
    assert rows["production-kibana"][3:6] == ["Succeeded", "RestartAccepted", "202"]
    assert rows["production-integrations-server"][3] == "Succeeded"
    assert rows["staging-kibana"][3] == "Succeeded"
    assert rows["missing-deployment"][3:6] == ["Failed", "DeploymentNotFound", "404"]
    assert rows["missing-secret"][3:5] == ["Failed", "InvalidConnection"]
    assert "ECE received 4 accepted restart(s) for 4 succeeded" in result.stdout
