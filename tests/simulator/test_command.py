"""`ece-restart-operator simulator`: --help documents every flag; a real subprocess serves and stops on signals."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ece_restart.cli import build_parser, main
from ece_restart.simulator import EXAMPLE_DEPLOYMENT_ID
from tests.support.swagger import current_spec

ROOT = Path(__file__).resolve().parents[2]
KEY = "cli-test-key-9876543210"
FLAGS = [
    "--port",
    "--host",
    "--state",
    "--api-key",
    "--user",
    "--mode",
    "--legacy-449",
    "--elevated-api-key",
    "--elevated-user",
    "--plan-seconds",
    "--pending-visibility-delay",
    "--manual-clock",
    "--tls-cert",
    "--tls-key",
    "--access-log",
]


def test_help_documents_every_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ece_restart", "simulator", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    for flag in FLAGS:
        line = next((line for line in result.stdout.splitlines() if line.strip().startswith(flag)), None)
        assert line is not None, f"{flag} missing from --help"
    assert "free port" in result.stdout and "SIGTERM" in result.stdout


def test_every_declared_flag_is_in_the_documented_list() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    simulator = subparsers.choices["simulator"]
    declared = {o for a in simulator._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
    assert declared == set(FLAGS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulator"], "at least one"),
        (["simulator", "--user", "nopassword"], "NAME:PASSWORD"),
        (["simulator", "--api-key", "k", "--state", "/nonexistent/state.yaml"], "No such file"),
        (["simulator", "--api-key", "k", "--tls-cert", "x.pem"], "go together"),
        (["simulator", "--api-key", "k", "--mode", "ess", "--legacy-449"], "ECE mode"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECE_SIMULATOR_API_KEYS", raising=False)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_invalid_state_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("deployments: [{id: nope}]", encoding="utf-8")
    assert main(["simulator", "--api-key", "k", "--state", str(path)]) == 2
    assert "32 lowercase hex" in capsys.readouterr().err


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    extra: list[str] = getattr(request, "param", [])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ece_restart", "simulator", "--port", "0", "--api-key", KEY, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the simulator is listening (or exits)
        found = re.search(r"listening on (https?://\S+)", line)
        assert found, f"unexpected first line {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        yield Served(process, found.group(1))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_subprocess_prints_its_url_answers_and_stops_on_signal(served: Served, signum: signal.Signals) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", served.url)
    with httpx.Client(base_url=served.url, headers={"Authorization": f"ApiKey {KEY}"}, timeout=10) as http:
        response = http.post(f"/api/v1/deployments/{EXAMPLE_DEPLOYMENT_ID}/kibana/main-kibana/_restart")
        assert response.status_code == 202
        body = http.get(f"/api/v1/deployments/{EXAMPLE_DEPLOYMENT_ID}").json()
        assert not current_spec().validate_response("GET", f"/api/v1/deployments/{EXAMPLE_DEPLOYMENT_ID}", 200, body)
        assert http.get("/_simulator/restarts").json() == {"count": 1}
    served.process.send_signal(signum)
    assert served.process.wait(timeout=30) == 0
    assert served.process.stdout is not None
    assert "stopped" in served.process.stdout.read()
    assert served.process.stderr is not None
    assert KEY not in served.process.stderr.read()


@pytest.mark.parametrize("served", [["--manual-clock", "--plan-seconds", "5", "--access-log"]], indirect=True)
def test_subprocess_with_a_manual_clock(served: Served) -> None:
    path = f"/api/v1/deployments/{EXAMPLE_DEPLOYMENT_ID}/kibana/main-kibana"
    with httpx.Client(base_url=served.url, headers={"Authorization": f"ApiKey {KEY}"}, timeout=10) as http:
        assert http.post(path + "/_restart").status_code == 202
        assert "pending" in http.get(path).json()["info"]["plan_info"]
        assert http.post("/_simulator/clock", json={"advance": 5}).status_code == 200
        assert "pending" not in http.get(path).json()["info"]["plan_info"]
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=30) == 0
    assert served.process.stderr is not None
    log = served.process.stderr.read()
    assert "POST /api/v1/deployments" in log and KEY not in log


@pytest.mark.parametrize("served", [["--state", str(ROOT / "examples" / "simulator" / "state.yaml")]], indirect=True)
def test_subprocess_loads_a_state_file(served: Served) -> None:
    with httpx.Client(base_url=served.url, headers={"Authorization": f"ApiKey {KEY}"}, timeout=10) as http:
        assert http.get(f"/api/v1/deployments/{EXAMPLE_DEPLOYMENT_ID}").status_code == 200
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=30) == 0
