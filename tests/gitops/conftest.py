"""Fixtures for the GitOps tests.

`stack` and `namespace` are the e2e stack (operator process + Kubernetes API sandbox + ECE simulator) for tests that
capture real statuses; `kube_sandbox` is the API sandbox alone with a kubectl bound to it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ece_restart.sandbox import Sandbox
from tests.e2e.conftest import namespace, stack

__all__ = ["KubectlSandbox", "kube_sandbox", "namespace", "stack"]


@dataclass
class KubectlSandbox:
    """The Kubernetes API sandbox (no operator) and a kubectl bound to it."""

    sandbox: Sandbox
    kubeconfig: Path

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                              capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def kube_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubectlSandbox]:
    sandbox = Sandbox()
    with sandbox.serving_in_thread(port=0):
        kubeconfig = sandbox.write_kubeconfig(tmp_path_factory.mktemp("kubectl") / "kubeconfig")
        yield KubectlSandbox(sandbox, kubeconfig)
