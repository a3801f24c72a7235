"""One restart run: the first request plus bounded retries of retryable failures.

Used directly by the `restart` CLI command. The controller persists each step in the CR's status instead, so
that a wait between attempts survives an operator restart; both follow the same policy and classification.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from ece_restart.client import EceClient
from ece_restart.results import Classification, Outcome, RequestFailed, RestartResult
from ece_restart.retry import RetryPolicy
from ece_restart.targets import ElasticsearchRestartOptions, RestartTarget

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RunReport:
    result: RestartResult
    attempts: int
    delays: tuple[float, ...]


async def run_restart(
    client: EceClient,
    target: RestartTarget,
    *,
    policy: RetryPolicy,
    cancel_pending: bool = False,
    elasticsearch: ElasticsearchRestartOptions | None = None,
    sleep: Sleep = asyncio.sleep,
    on_retry: Callable[[int, RequestFailed, float], None] | None = None,
) -> RunReport:
    """Retry only what is safe to retry; stop at the first permanent or ambiguous failure."""
    delays: list[float] = []
    attempts = 0
    while True:
        attempts += 1
        result = await client.restart_target(target, cancel_pending=cancel_pending, elasticsearch=elasticsearch)
        if not isinstance(result, RequestFailed) or result.classification is not Classification.RETRYABLE:
            return RunReport(result, attempts, tuple(delays))
        if not policy.should_retry(attempts):
            exhausted = replace(
                result,
                classification=Classification.PERMANENT,
                outcome=Outcome.RETRIES_EXHAUSTED,
                message=f"gave up after {attempts} attempts; last error: {result.message}",
            )
            return RunReport(exhausted, attempts, tuple(delays))
        delay = policy.delay(attempts, result.retry_after)
        delays.append(delay)
        logger.info("restart of %s failed (%s); retrying in %.1f s", target, result.message, delay)
        if on_retry is not None:
            on_retry(attempts, result, delay)
        await sleep(delay)
