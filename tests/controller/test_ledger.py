"""The ledger of tokens against the Kubernetes API sandbox, with the operator's own API client: claims waiting for
the same shard are recorded together, each answered only once its write is stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from ece_restart.kube import KubeApi
from ece_restart.ledger import Claim, Ledger
from ece_restart.sandbox import Sandbox
from tests.support.sandbox_fixtures import kube_configuration

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SHARD = "ece-restart-ledger-a"


@pytest.fixture
async def ledger(sandbox: Sandbox, sandbox_url: str) -> AsyncIterator[Ledger]:
    kube = KubeApi(kube_configuration(sandbox_url))
    yield Ledger(kube, "default")
    await kube.aclose()


def shard_requests(sandbox: Sandbox) -> list[str]:
    return [r.verb for r in sandbox.requests if r.resource == "configmaps" and r.name in (SHARD, None)]


def stored(sandbox: Sandbox) -> dict[str, str]:
    config_map = sandbox.store.get(("", "configmaps"), "default", SHARD)
    assert config_map is not None
    return dict(config_map["data"])


async def test_a_burst_of_claims_on_one_shard_is_one_read_and_one_write(sandbox: Sandbox, ledger: Ledger) -> None:
    keys = [f"a{index:039d}" for index in range(40)]
    answers = await asyncio.gather(*(ledger.claim(key, uid=f"uid-{index}", resource=f"ns/rr-{index}", now=NOW)
                                     for index, key in enumerate(keys)))
    assert answers == [None] * 40
    assert shard_requests(sandbox) == ["get", "create"]
    assert sorted(stored(sandbox)) == keys


async def test_the_first_claim_of_a_token_wins_even_within_one_batch(sandbox: Sandbox, ledger: Ledger) -> None:
    key = "a" * 40
    first, second = await asyncio.gather(ledger.claim(key, uid="uid-1", resource="ns/first", now=NOW),
                                         ledger.claim(key, uid="uid-2", resource="ns/second", now=NOW))
    assert first is None
    assert second == Claim(uid="uid-1", resource="ns/first", time="2026-11-30T12:00:00Z")
    # Later: the winner finds its own claim (an operator restart in between), the loser still finds the winner's.
    assert await ledger.claim(key, uid="uid-1", resource="ns/first", now=NOW) is None
    assert await ledger.claim(key, uid="uid-3", resource="ns/third", now=NOW) == second
    assert shard_requests(sandbox) == ["get", "create", "get", "get"]


async def test_a_conflicting_write_is_read_again_and_retried(sandbox: Sandbox, ledger: Ledger) -> None:
    assert await ledger.claim("a" + "0" * 39, uid="uid-0", resource="ns/zero", now=NOW) is None
    sandbox.faults.fail_next(1, status=409, method="PATCH", resource="configmaps")
    answers = await asyncio.gather(*(ledger.claim(f"a{index:039d}", uid=f"uid-{index}", resource="ns/rr", now=NOW)
                                     for index in range(1, 4)))
    assert answers == [None, None, None]
    assert shard_requests(sandbox) == ["get", "create", "get", "patch", "get", "patch"]
    assert len(stored(sandbox)) == 4


async def test_a_failed_write_fails_every_claim_of_the_batch_and_records_none(sandbox: Sandbox,
                                                                              ledger: Ledger) -> None:
    sandbox.faults.fail_next(1, status=503, method="POST", resource="configmaps")
    results = await asyncio.gather(*(ledger.claim(f"a{index:039d}", uid=f"uid-{index}", resource="ns/rr", now=NOW)
                                     for index in range(3)), return_exceptions=True)
    assert all(isinstance(result, Exception) and "503" in str(result) for result in results), results
    # The next claim starts over: nothing of the failed batch was recorded.
    assert await ledger.claim("a" * 40, uid="uid-9", resource="ns/rr", now=NOW) is None
    assert list(stored(sandbox)) == ["a" * 40]
