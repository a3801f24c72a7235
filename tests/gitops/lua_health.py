"""Runs the shipped Argo CD health check with Lua 5.1, the language version of Argo CD's gopher-lua."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51  # type: ignore[import-untyped]  # no stubs unless types-lupa is installed

ROOT = Path(__file__).resolve().parents[2]
HEALTH_LUA = ROOT / "charts" / "ece-restart-operator" / "argocd" / "health.lua"
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


@dataclass(frozen=True)
class Health:
    status: str
    message: str


def _to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, Mapping):
        return runtime.table_from({k: _to_lua(runtime, v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(runtime, v) for v in value])
    return value


def health(obj: Mapping[str, Any], script: str | None = None) -> Health:
    """Evaluate the script the way Argo CD does: a global `obj`, the script's return value is the health."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=False, register_eval=False)
    runtime.globals().obj = _to_lua(runtime, obj)
    result = runtime.execute(script if script is not None else HEALTH_LUA.read_text())
    assert result is not None, "the health script returned nothing"
    status, message = result["status"], result["message"]
    assert status in ARGO_STATUSES, status
    assert isinstance(message, str), message
    return Health(status, message)
