"""`ece-restart-operator demo`: the whole product on one machine, no cluster and no ECE needed.

Starts the Kubernetes API sandbox and the ECE simulator in-process, runs the operator against them, applies the
manifests of `examples/`, and prints every ResourceRestart's status as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml

from ece_restart.connection import ApiKeyCredentials, ConnectionConfig, Secret
from ece_restart.sandbox import Sandbox
from ece_restart.simulator import Simulator, SimulatorState

DEMO_API_KEY = "demo-api-key"
EXAMPLE_SECRET_API_KEY = "change-me-api-key"  # noqa: S105 - the placeholder in examples/03-…-with-secret.yaml
TERMINAL = {"Succeeded", "Failed", "Unknown"}
LEDGER_NAMESPACE = "ece-restart-operator"
_REPO_EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=Path, default=None, help="folder of manifests to apply (default: examples/)")
    parser.add_argument("--namespace", default="demo", help="namespace the examples are applied to (default demo)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for every run to end")


def examples_folder(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    if _REPO_EXAMPLES.is_dir():
        return _REPO_EXAMPLES
    return Path(str(resources.files("ece_restart").joinpath("data", "examples")))


def load_manifests(folder: Path) -> list[dict[str, Any]]:
    """Kubernetes objects from every YAML file of the folder, in file order (other YAML is skipped)."""
    objects: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and "apiVersion" in document and "kind" in document:
                objects.append(document)
    return objects


@contextmanager
def operator_thread(kubeconfig: Path, connection: ConnectionConfig) -> Iterator[None]:
    """The operator in its own thread and event loop, stopped (and awaited) on exit."""
    from ece_restart.commands.run import serve

    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(serve(connection, clusterwide=True, namespaces=[], max_concurrent=10, health_port=-1,
                              kubeconfig=str(kubeconfig), ledger_namespace=LEDGER_NAMESPACE,
                              stop_flag=stop, ready_flag=ready))
        except BaseException as error:  # reported by the main thread
            errors.append(error)
            ready.set()

    thread = threading.Thread(target=target, name="operator", daemon=True)
    thread.start()
    ready.wait(30)
    if errors:
        raise RuntimeError(f"the operator did not start: {errors[0]!r}")
    try:
        yield
    finally:
        stop.set()
        thread.join(30)


def apply(http: httpx.Client, namespace: str, manifest: dict[str, Any], ece_url: str) -> None:
    kind, api_version = manifest["kind"], manifest["apiVersion"]
    manifest = dict(manifest)
    manifest["metadata"] = {**manifest.get("metadata", {}), "namespace": namespace}
    if kind == "Secret":
        manifest["stringData"] = {**manifest.get("stringData", {}), "url": ece_url}
        path = f"/api/v1/namespaces/{namespace}/secrets"
    elif kind == "ResourceRestart":
        path = f"/apis/{api_version}/namespaces/{namespace}/resourcerestarts"
    else:
        raise ValueError(f"the demo does not apply {kind} objects")
    response = http.post(path, json=manifest)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"applying {kind} {manifest['metadata'].get('name')} failed: {response.text}")


def table(items: list[dict[str, Any]]) -> str:
    header = ("NAME", "KIND", "REFID", "PHASE", "OUTCOME", "HTTP", "ATTEMPTS", "MESSAGE")
    rows = [header]
    for item in items:
        spec, status = item.get("spec", {}), item.get("status", {})
        message = str(status.get("message", ""))
        rows.append((
            item["metadata"]["name"], spec.get("resourceKind", ""), spec.get("refId", ""), status.get("phase", ""),
            status.get("outcome", ""), str(status.get("httpStatus", "") or ""), str(status.get("attempts", "")),
            message if len(message) <= 70 else message[:69] + "…",
        ))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def main(args: argparse.Namespace) -> int:
    manifests = load_manifests(examples_folder(args.examples))
    restarts = [m["metadata"]["name"] for m in manifests if m["kind"] == "ResourceRestart"]
    simulator = Simulator(state=SimulatorState.example(), api_keys={DEMO_API_KEY, EXAMPLE_SECRET_API_KEY},
                          plan_seconds=1.0)
    sandbox = Sandbox()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="ece-restart-demo-") as workdir:
        ece_url = stack.enter_context(simulator.serving_in_thread(port=0))
        kube_url = stack.enter_context(sandbox.serving_in_thread(port=0))
        kubeconfig = Path(workdir) / "kubeconfig"
        sandbox.write_kubeconfig(kubeconfig)
        os.environ["KUBECONFIG"] = str(kubeconfig)
        print(f"Kubernetes API sandbox: {kube_url}\nECE simulator:          {ece_url}\n")
        connection = ConnectionConfig(ece_url, ApiKeyCredentials(Secret(DEMO_API_KEY)))
        http = stack.enter_context(httpx.Client(base_url=kube_url, headers={"Authorization": "Bearer demo"}))
        for namespace in (args.namespace, LEDGER_NAMESPACE):
            http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": namespace}})
        stack.enter_context(operator_thread(kubeconfig, connection))
        for manifest in manifests:
            apply(http, args.namespace, manifest, ece_url)
        deadline = time.monotonic() + args.timeout
        items: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            listed = http.get(f"/apis/eceops.io/v1alpha1/namespaces/{args.namespace}/resourcerestarts").json()
            items = [i for i in listed.get("items", []) if i["metadata"]["name"] in restarts]
            if len(items) == len(restarts) and all(i.get("status", {}).get("phase") in TERMINAL for i in items):
                break
            time.sleep(0.1)
        else:
            print(table(items))
            print(f"\nnot every ResourceRestart finished within {args.timeout:g} s")
            return 1
        items.sort(key=lambda i: restarts.index(i["metadata"]["name"]))
        print(table(items))
        print(f"\nECE received {simulator.accepted_restarts()} accepted restart(s) for "
              f"{sum(1 for i in items if i['status'].get('phase') == 'Succeeded')} succeeded ResourceRestart(s).")
        return 0
