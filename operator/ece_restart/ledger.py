"""The ledger of restart tokens that already ran: it outlives the ResourceRestarts themselves.

Argo CD or Flux may delete a ResourceRestart and create it again from Git (a prune and re-sync, a moved
namespace, a restored backup). Its status is gone, but its restartToken already ran against that target. Before a
run's first request the operator claims `(connection, deployment, kind, refId, token)` in the ledger; a CR with a
different uid that finds the claim taken ends as AlreadyExecuted instead of restarting again.

Storage: ConfigMaps `ece-restart-ledger-<0-f>` in the operator's namespace, sharded by the key's first hex digit
so that a burst of claims spreads over 16 objects. One writer per shard takes every claim waiting for that shard
and records them with one read and one compare-and-swap write (a burst of claims costs a write per shard and
round, not one per claim plus a retry per conflict); each claim is answered only once its write is stored. Runs
without a restartToken are not recorded (a new CR without a token is a new request). Entries older than the
retention are pruned when their shard is next written.
"""

from __future__ import annotations

import asyncio
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


@dataclass(slots=True)
class _Pending:
    key: str
    uid: str
    resource: str
    now: datetime
    answer: asyncio.Future[Claim | None]


class Ledger:
    def __init__(self, kube: KubeApi, namespace: str, *, retention: timedelta = timedelta(days=90)) -> None:
        self._kube = kube
        self.namespace = namespace
        self._retention = retention
        self._waiting: dict[str, list[_Pending]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}

    def shard(self, key: str) -> str:
        return f"{LEDGER_PREFIX}-{key[0]}"

    async def claim(self, key: str, *, uid: str, resource: str, now: datetime) -> Claim | None:
        """Claim `key` for this CR. Returns the earlier claim of another CR, or None when this CR may run (its
        claim is stored). Raises what the API server answered when the shard cannot be read or written."""
        name = self.shard(key)
        answer: asyncio.Future[Claim | None] = asyncio.get_running_loop().create_future()
        answer.add_done_callback(_retrieve)  # a run cancelled meanwhile leaves its answer unread: not an error
        self._waiting.setdefault(name, []).append(_Pending(key, uid, resource, now, answer))
        if name not in self._writers:
            self._writers[name] = asyncio.create_task(self._write_shard(name), name=f"ledger {name}")
        return await asyncio.shield(answer)  # a cancelled run must not cancel the claims batched with it

    async def _write_shard(self, name: str) -> None:
        try:
            while batch := self._waiting.pop(name, []):
                try:
                    answers = await self._record(name, batch)
                except BaseException as error:  # the claims wait for an answer: hand them the failure
                    for pending in batch:
                        if not pending.answer.done():
                            pending.answer.set_exception(error if isinstance(error, Exception) else
                                                         RuntimeError("the operator is stopping"))
                    if not isinstance(error, Exception):
                        raise
                    continue
                for pending, claim in zip(batch, answers, strict=True):
                    if not pending.answer.done():
                        pending.answer.set_result(claim)
        finally:
            self._writers.pop(name, None)

    async def _record(self, name: str, batch: list[_Pending]) -> list[Claim | None]:
        """One read and one compare-and-swap write for the whole batch (again on a conflict)."""
        while True:
            config_map = await self._kube.get_config_map(self.namespace, name)
            data: dict[str, str] = dict((config_map or {}).get("data") or {})
            answers: list[Claim | None] = []
            added: list[str] = []
            for pending in batch:
                existing = _parse(data.get(pending.key))
                if existing is not None:
                    # Another CR's claim, or this CR's own from before an operator restart (or earlier in this batch).
                    answers.append(existing if existing.uid != pending.uid else None)
                    continue
                data[pending.key] = json.dumps({"uid": pending.uid, "resource": pending.resource,
                                                "time": timestamp(pending.now)}, sort_keys=True)
                added.append(pending.key)
                answers.append(None)
            if not added:
                return answers
            pruned = self._prune(data, max(p.now for p in batch), keep=set(added))
            try:
                if config_map is None:
                    await self._kube.create_config_map(self.namespace, name, pruned,
                                                       labels={"app.kubernetes.io/part-of": "ece-restart-operator"})
                else:
                    await self._kube.replace_config_map_data(self.namespace, name, pruned,
                                                             resource_version=config_map["metadata"]["resourceVersion"])
                return answers
            except ConflictError:
                continue  # the shard changed since it was read: read again

    def _prune(self, data: dict[str, str], now: datetime, *, keep: set[str]) -> dict[str, str]:
        cutoff = now - self._retention
        entries = []
        for key, value in data.items():
            claim = _parse(value)
            when = parse_time(claim.time) if claim else None
            if key not in keep and (when is None or when < cutoff):
                continue
            entries.append((when or now, key, value))
        entries.sort()
        if len(entries) > _MAX_ENTRIES_PER_SHARD:
            kept = [e for e in entries if e[1] in keep]
            others = [e for e in entries if e[1] not in keep]
            entries = kept + others[len(others) - max(0, _MAX_ENTRIES_PER_SHARD - len(kept)):]
        return {key: value for _, key, value in entries}


def _retrieve(answer: asyncio.Future[Claim | None]) -> None:
    if not answer.cancelled():
        answer.exception()


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
