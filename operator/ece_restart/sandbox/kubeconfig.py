"""A kubeconfig pointing kubectl, Kopf and the kubernetes client at the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TOKEN = "sandbox-token"  # noqa: S105 - any bearer token is accepted; this one only makes clients send an Authorization header
CONTEXT = "ece-restart-sandbox"


def kubeconfig(server: str, namespace: str = "default", token: str = TOKEN) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: Path | str, server: str, namespace: str = "default") -> Path:
    """Write (replace) a kubeconfig file for `server`, readable only by its owner; returns the path."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig(server, namespace), sort_keys=False), encoding="utf-8")
    target.chmod(0o600)
    return target
