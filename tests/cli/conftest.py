"""Running the real console command (`python -m ece_restart ...`) as a subprocess, as users do."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The test's environment without any ECE or Kubernetes settings of the machine, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECE_", "KUBECONFIG", "KUBERNETES_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "operator"), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ece_restart", *args], env=clean_env(env), capture_output=True,
                          text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)


def run_cli_many(*commands: tuple[tuple[str, ...], Mapping[str, str]]) -> list[subprocess.CompletedProcess[str]]:
    """Several independent commands at once (each `(args, env)`), results in the same order."""
    processes = [subprocess.Popen([sys.executable, "-m", "ece_restart", *args], env=clean_env(env),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL) for args, env in commands]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


class RunningCli:
    """A command running in the background whose stdout lines the test can wait for (to move a manual clock)."""

    def __init__(self, *args: str, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "ece_restart", *args], env=clean_env(env),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        stdin=subprocess.DEVNULL)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, predicate_text: str, timeout: float = 30.0) -> str:
        """Block until a stdout line containing `predicate_text` arrives; fail with the output so far otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line with {predicate_text!r} within {timeout}s; stdout so far:\n"
                                     + "\n".join(self.lines))
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the command exited without printing {predicate_text!r}; stdout:\n"
                                     + "\n".join(self.lines) + "\nstderr:\n" + self._stderr())
            self.lines.append(line)
            if predicate_text in line:
                return line

    def finish(self, timeout: float = TIMEOUT) -> tuple[int, str, str]:
        """(exit code, whole stdout, stderr) once the command has exited."""
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        while True:
            line = self._queue.get_nowait() if not self._queue.empty() else None
            if line is None:
                break
            self.lines.append(line)
        return code, "\n".join(self.lines), self._stderr()

    def _stderr(self) -> str:
        assert self.process.stderr is not None
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)


@pytest.fixture
def running_cli() -> Iterator[list[RunningCli]]:
    """Background commands started by the test; killed at teardown if still running."""
    started: list[RunningCli] = []
    yield started
    for command in started:
        command.kill()
