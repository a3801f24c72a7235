"""A tiny test-only Kopf operator: counts handler runs per CR and writes status, events and a finalizer.

Its handlers live in their own registry so every KopfRunner start gets exactly these handlers, however often the
module has been imported. The login handler reads KUBECONFIG at call time (set by the sandbox fixtures).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import kopf

registry = kopf.OperatorRegistry()
_lock = threading.Lock()
created: collections.Counter[str] = collections.Counter()
deleted: collections.Counter[str] = collections.Counter()


def reset() -> None:
    with _lock:
        created.clear()
        deleted.clear()


@kopf.on.startup(registry=registry)
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.networking.request_timeout = 30
    settings.watching.connect_timeout = 5
    settings.posting.level = 20  # INFO: the handler's kopf.info() events are posted


@kopf.on.login(registry=registry)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.create("eceops.io", "v1alpha1", "resourcerestarts", registry=registry)
def restart(name: str, namespace: str, body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    with _lock:
        created[f"{namespace}/{name}"] += 1
        runs = created[f"{namespace}/{name}"]
    kopf.info(body, reason="Restarted", message=f"restarted {name}")
    patch.status["phase"] = "Succeeded"
    patch.status["attempts"] = runs


@kopf.on.delete("eceops.io", "v1alpha1", "resourcerestarts", registry=registry)
def forget(name: str, namespace: str, **_: Any) -> None:
    with _lock:
        deleted[f"{namespace}/{name}"] += 1
