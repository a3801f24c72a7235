"""Following a restart's ECE plan to its end, for ResourceRestarts with `spec.waitForCompletion`.

One shared poller serves every CR in phase InProgress: a heap of due times and one loop, so a CR waiting for its
plan costs a heap entry, not a task or a worker. Polls run with bounded parallelism. The interval starts short and
grows to a cap; errors never end tracking early (Elastic's own tracker counts errors as "no pending plan" and can
report done too soon): they only lengthen the interval, and the run fails only when the completion timeout passes.

The restart's attempt is the earliest plan attempt that started at or after the restart request (less the clock
skew allowance); once its id is known, only that id counts, so a foreign plan that starts later is never taken
for ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ece_restart import failpoints
from ece_restart.client import ResourceInfo
from ece_restart.connection import InvalidConnectionError
from ece_restart.connections import ConnectionResolver
from ece_restart.kube import ConflictError, KubeApi, NotFoundError
from ece_restart.plans import AttemptState, PlanAttempt, ResourcePlans
from ece_restart.resource_restart import InvalidSpecError, Phase, ResourceRestart, from_body
from ece_restart.results import Outcome, RequestFailed
from ece_restart.status import timestamp

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Finish = Callable[..., Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class TrackingSettings:
    initial_interval: float = 2.0
    max_interval: float = 30.0
    growth: float = 1.5
    max_parallel_polls: int = 20
    recovery_skew: timedelta = timedelta(seconds=30)


@dataclass(order=True)
class _Due:
    when: float
    uid: str = field(compare=False)


@dataclass
class _Tracked:
    body: dict[str, Any]
    interval: float
    consecutive_errors: int = 0
    last_error: str | None = None


def find_our_attempt(plans: ResourcePlans, attempt_id: str | None, requested_at: datetime | None,
                     skew: timedelta) -> PlanAttempt | None:
    """The restart's attempt: by id once known. Otherwise the earliest attempt that started after the request;
    failing that (ECE's clock behind ours), the latest one that started within the skew allowance before it, so a
    plan that just ran, or that our cancelPending cancelled, is not taken for ours when clocks agree."""
    if attempt_id:
        return plans.find(attempt_id)
    if requested_at is None:
        return None
    after = sorted((a for a in plans.started_at_or_after(requested_at) if a.start_time is not None),
                   key=lambda a: a.start_time or requested_at)
    if after:
        return after[0]
    nearby = sorted((a for a in plans.started_at_or_after(requested_at - skew) if a.start_time is not None),
                    key=lambda a: a.start_time or requested_at)
    return nearby[-1] if nearby else None


def plan_status(attempt: PlanAttempt, now: datetime) -> dict[str, Any]:
    plan: dict[str, Any] = {"lastPollTime": timestamp(now)}
    if attempt.attempt_id:
        plan["attemptId"] = attempt.attempt_id
    if attempt.last_step:
        plan["lastStep"] = attempt.last_step
    if attempt.start_time:
        plan["startTime"] = timestamp(attempt.start_time)
    if attempt.end_time:
        plan["endTime"] = timestamp(attempt.end_time)
        if attempt.start_time:
            plan["durationSeconds"] = max(0, round((attempt.end_time - attempt.start_time).total_seconds()))
    if attempt.failure_type:
        plan["failureType"] = attempt.failure_type
    return plan


class PlanTracker:
    def __init__(self, kube: KubeApi, connections: ConnectionResolver, *, finish: Finish, clock: Clock,
                 settings: TrackingSettings | None = None) -> None:
        self._kube = kube
        self._connections = connections
        self._finish = finish
        self._clock = clock
        self._settings = settings or TrackingSettings()
        self._tracked: dict[str, _Tracked] = {}
        self._heap: list[_Due] = []
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._polls: set[asyncio.Task[None]] = set()
        self._in_poll: set[str] = set()
        self._slots = asyncio.Semaphore(self._settings.max_parallel_polls)

    @property
    def tracked(self) -> int:
        return len(self._tracked)

    def track(self, body: Mapping[str, Any], *, delay: float = 0.0) -> None:
        """Start (or keep) following the plan of an InProgress CR. Idempotent."""
        uid = str(body.get("metadata", {}).get("uid", ""))
        if not uid or uid in self._tracked:
            return
        self._tracked[uid] = _Tracked(dict(body), self._settings.initial_interval)
        self._schedule(uid, delay)
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._loop(), name="plan tracker")

    def forget(self, uid: str) -> None:
        self._tracked.pop(uid, None)

    async def shutdown(self) -> None:
        for task in [self._loop_task, *self._polls]:
            if task is not None:
                task.cancel()
        for task in [self._loop_task, *self._polls]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _schedule(self, uid: str, delay: float) -> None:
        heapq.heappush(self._heap, _Due(self._clock().timestamp() + delay, uid))
        self._wakeup.set()

    async def _loop(self) -> None:
        while True:
            self._wakeup.clear()
            now = self._clock().timestamp()
            while self._heap and self._heap[0].when <= now:
                due = heapq.heappop(self._heap)
                if due.uid in self._tracked and due.uid not in self._in_poll:
                    self._in_poll.add(due.uid)
                    task = asyncio.create_task(self._poll(due.uid))
                    self._polls.add(task)
                    task.add_done_callback(self._polls.discard)
            timeout = max(0.0, self._heap[0].when - now) if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _poll(self, uid: str) -> None:
        try:
            async with self._slots:
                again = await self._poll_once(uid)
        except NotFoundError:
            again = False
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("plan tracking failed unexpectedly; retrying")
            again = True
        finally:
            self._in_poll.discard(uid)
        tracked = self._tracked.get(uid)
        if tracked is None:
            return
        if not again:
            self._tracked.pop(uid, None)
            return
        self._schedule(uid, tracked.interval)

    async def _poll_once(self, uid: str) -> bool:
        """One poll; True to poll again later."""
        tracked = self._tracked[uid]
        cr = from_body(tracked.body)
        if cr.status.phase is not Phase.IN_PROGRESS:
            return False
        try:
            spec = cr.parse_spec()
            config = await self._connections.resolve(cr.namespace, spec.secret_name)
        except (InvalidSpecError, InvalidConnectionError) as error:
            return await self._deadline_or_retry(cr, tracked, f"the connection cannot be used now: {error}")
        client = await self._connections.client(config)
        failpoints.reach("during_tracking")
        info = await client.get_resource(spec.target)
        now = self._clock()
        if isinstance(info, RequestFailed):
            return await self._deadline_or_retry(cr, tracked, f"reading the plan failed: {info.message}")
        assert isinstance(info, ResourceInfo)
        previous = cr.status.raw.get("plan")
        plan_before: Mapping[str, Any] = previous if isinstance(previous, Mapping) else {}
        attempt = find_our_attempt(info.plans, plan_before.get("attemptId"), cr.status.last_attempt_time,
                                   self._settings.recovery_skew)
        tracked.consecutive_errors, tracked.last_error = 0, None
        if attempt is not None and attempt.state is AttemptState.SUCCEEDED:
            duration = plan_status(attempt, now).get("durationSeconds")
            message = f"ECE completed the restart plan of {spec.target}" + (
                f" in {duration} s" if duration is not None else "")
            return not await self._end(cr, tracked, Phase.SUCCEEDED, Outcome.RESTART_COMPLETED, message,
                                       plan=plan_status(attempt, now))
        if attempt is not None and attempt.state is AttemptState.FAILED:
            message = (f"ECE's restart plan of {spec.target} failed"
                       + (f" ({attempt.failure_type})" if attempt.failure_type else "")
                       + (f": {attempt.error_message}" if attempt.error_message else ""))
            return not await self._end(cr, tracked, Phase.FAILED, Outcome.PLAN_FAILED, message,
                                       plan=plan_status(attempt, now))
        if self._timed_out(cr, spec.completion_timeout_seconds, now):
            return not await self._end(
                cr, tracked, Phase.FAILED, Outcome.COMPLETION_TIMEOUT,
                f"The restart plan of {spec.target} did not finish within {spec.completion_timeout_seconds} s"
                + (f" (last step {attempt.last_step})" if attempt and attempt.last_step else
                   " (ECE shows no plan attempt for it)"),
                plan=plan_status(attempt, now) if attempt else None)
        if attempt is not None and (attempt.attempt_id != plan_before.get("attemptId")
                                    or attempt.last_step != plan_before.get("lastStep")):
            patch = {"plan": plan_status(attempt, now),
                     "message": f"ECE is running the restart plan of {spec.target}: step {attempt.last_step}"}
            await self._write(cr, tracked, patch)
        tracked.interval = min(self._settings.max_interval, tracked.interval * self._settings.growth)
        return True

    def _timed_out(self, cr: ResourceRestart, timeout_seconds: int, now: datetime) -> bool:
        started = cr.status.last_attempt_time or cr.status.start_time
        return started is not None and (now - started).total_seconds() > timeout_seconds

    async def _deadline_or_retry(self, cr: ResourceRestart, tracked: _Tracked, problem: str) -> bool:
        tracked.consecutive_errors += 1
        tracked.last_error = problem
        tracked.interval = min(self._settings.max_interval,
                               self._settings.initial_interval * 2 ** min(tracked.consecutive_errors, 10))
        logger.warning("%s: %s; polling again in %.1f s", cr.key, problem, tracked.interval)
        try:
            spec = cr.parse_spec()
        except InvalidSpecError:
            return True
        if self._timed_out(cr, spec.completion_timeout_seconds, self._clock()):
            return not await self._end(
                cr, tracked, Phase.FAILED, Outcome.COMPLETION_TIMEOUT,
                f"The restart plan could not be confirmed within {spec.completion_timeout_seconds} s; "
                f"last problem: {problem}", plan=None)
        return True

    async def _write(self, cr: ResourceRestart, tracked: _Tracked, patch: dict[str, Any]) -> None:
        try:
            tracked.body = await self._kube.patch_restart_status(cr.namespace, cr.name, patch,
                                                                 resource_version=cr.resource_version)
        except ConflictError:
            fresh = await self._kube.get_restart(cr.namespace, cr.name)
            if fresh is None:
                raise NotFoundError(cr.key) from None
            tracked.body = fresh

    async def _end(self, cr: ResourceRestart, tracked: _Tracked, phase: Phase, outcome: Outcome, message: str,
                   *, plan: dict[str, Any] | None) -> bool:
        """Write the terminal status; False when the object changed meanwhile and must be polled again."""
        try:
            tracked.body = await self._finish(cr, phase, outcome, message, cas=True, plan=plan,
                                              http_status=cr.status.raw.get("httpStatus"))
            return True
        except ConflictError:
            fresh = await self._kube.get_restart(cr.namespace, cr.name)
            if fresh is None or from_body(fresh).status.phase is not Phase.IN_PROGRESS:
                return True
            tracked.body = fresh
            return False
