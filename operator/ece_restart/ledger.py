"""The ledger of restart tokens that already ran: it outlives the ResourceRestarts themselves.

Argo CD or Flux may delete a ResourceRestart and create it again from Git (a prune and re-sync, a moved
namespace, a restored backup). Its status is gone, but its restartToken already ran against that target. Before a
run's first request the operator claims `(connection, deployment, kind, refId, token)` in the ledger; a CR with a
different uid that finds the claim taken ends as AlreadyExecuted instead of restarting again.

Storage: ConfigMaps `ece-restart-ledger-<0-f>` in the operator's namespace, sharded by the key's first hex digit
so that a burst of claims spreads over 16 objects. Each claim is a compare-and-swap on its shard. Runs without a
restartToken are not recorded (a new CR without a token is a new request). Entries older than the retention are
pruned when their shard is next written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from ece_restart.kube import ConflictError, KubeApi
from ece_restart.plans import parse_time
from ece_restart.status import timestamp

LEDGER_PREFIX: Final = "ece-restart-ledger"
_MAX_ENTRIES_PER_SHARD: Final = 2000


@dataclass(frozen=True, slots=True)
class Claim:
    """Who ran a token first."""

    uid: str
    resource: str  # namespace/name of the ResourceRestart
    time: str

    @property
    def description(self) -> str:
        return f"ResourceRestart {self.resource} (uid {self.uid}) at {self.time}"


def ledger_key(connection_url: str, target: str, token: str) -> str:
    return hashlib.sha256(f"{connection_url}\n{target}\n{token}".encode()).hexdigest()[:40]


class Ledger:
    def __init__(self, kube: KubeApi, namespace: str, *, retention: timedelta = timedelta(days=90)) -> None:
        self._kube = kube
        self.namespace = namespace
        self._retention = retention

    def shard(self, key: str) -> str:
        return f"{LEDGER_PREFIX}-{key[0]}"

    async def claim(self, key: str, *, uid: str, resource: str, now: datetime) -> Claim | None:
        """Claim `key` for this CR. Returns the earlier claim of another CR, or None when this CR may run."""
        name = self.shard(key)
        while True:
            config_map = await self._kube.get_config_map(self.namespace, name)
            data: dict[str, str] = dict((config_map or {}).get("data") or {})
            existing = _parse(data.get(key))
            if existing is not None and existing.uid != uid:
                return existing
            if existing is not None:
                return None  # this CR claimed it before (an operator restart in between)
            data[key] = json.dumps({"uid": uid, "resource": resource, "time": timestamp(now)}, sort_keys=True)
            pruned = self._prune(data, now, keep=key)
            try:
                if config_map is None:
                    await self._kube.create_config_map(self.namespace, name, pruned,
                                                       labels={"app.kubernetes.io/part-of": "ece-restart-operator"})
                else:
                    await self._kube.replace_config_map_data(self.namespace, name, pruned,
                                                             resource_version=config_map["metadata"]["resourceVersion"])
                return None
            except ConflictError:
                continue  # another claim landed in the same shard: read again

    def _prune(self, data: dict[str, str], now: datetime, *, keep: str) -> dict[str, str]:
        cutoff = now - self._retention
        entries = []
        for key, value in data.items():
            claim = _parse(value)
            when = parse_time(claim.time) if claim else None
            if key != keep and (when is None or when < cutoff):
                continue
            entries.append((when or now, key, value))
        entries.sort()
        if len(entries) > _MAX_ENTRIES_PER_SHARD:
            entries = [e for e in entries if e[1] == keep] + [e for e in entries if e[1] != keep][
                -(_MAX_ENTRIES_PER_SHARD - 1):]
        return {key: value for _, key, value in entries}


def _parse(value: Any) -> Claim | None:
    if not isinstance(value, str):
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    uid, resource, when = document.get("uid"), document.get("resource"), document.get("time")
    if isinstance(uid, str) and isinstance(resource, str) and isinstance(when, str):
        return Claim(uid=uid, resource=resource, time=when)
    return None
