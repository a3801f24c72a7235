"""The operator as a separate process (`python -m ece_restart run`), exactly as users and the container run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ece_restart.sandbox import Sandbox

LEDGER_NAMESPACE = "ece-restart-operator"


class OperatorProcess:
    def __init__(self, *, kubeconfig: Path, env: Mapping[str, str], log_path: Path,
                 args: tuple[str, ...] = ("--all-namespaces",)) -> None:
        self.kubeconfig = kubeconfig
        self.extra_env = dict(env)
        self.log_path = log_path
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.starts = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ECE_", "KUBECONFIG"))}
        env.update(self.extra_env)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PYTHONUNBUFFERED"] = "1"
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts} =====\n".encode())
        log.flush()
        self.started_at = time.time()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ece_restart", "run", "--health-port", "0", "--log-level", "debug",
             "--plan-poll-interval", "0.2", "--plan-poll-max-interval", "1",
             "--ledger-namespace", LEDGER_NAMESPACE, *self.args],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        log.close()

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"operator exited with {self.process.returncode} while waiting for {what}:\n"
                                     + self.log())
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; operator log:\n{self.log()}")

    def wait_watching(self, sandbox: Sandbox) -> None:
        """Until this start of the operator has listed or watched ResourceRestarts on the sandbox."""
        started = self.started_at
        self.wait_until(
            lambda: any(r.verb in ("list", "watch") and r.resource == "resourcerestarts" and r.time >= started
                        for r in sandbox.requests),
            "the operator to watch resourcerestarts",
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return "(no log)"
