"""The restart lifecycle of ResourceRestart objects, independent of Kopf.

Kopf hands every watch event to `Controller.observe`. A CR that needs work gets one asyncio task that drives
it to a terminal phase. The status is the state machine, so the operator can stop at any instant and continue:

* Before a restart request leaves, the intent (phase Requesting, attempt number) is written with a
  resourceVersion precondition. Two evaluations of the same object version cannot both claim an attempt, and a
  decision taken on a stale watch event fails with 409 instead of restarting twice.
* A wait between attempts is `phase: Retrying` with `nextAttemptTime`; after a restart the operator waits for the
  rest of it instead of sending at once.
* A CR found in phase Requesting (a request may have been in flight when an operator stopped), or a request whose
  answer was lost, is settled by reading ECE's plan information: a plan attempt that started after the intent
  means ECE accepted the restart (Succeeded); otherwise the run ends Unknown. It never sends a second request
  it cannot rule out being a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ece_restart import failpoints
from ece_restart import status as status_patches
from ece_restart.client import EceClient, ResourceInfo
from ece_restart.connection import ConnectionConfig, InvalidConnectionError
from ece_restart.connections import ConnectionResolver
from ece_restart.decisions import Step, decide
from ece_restart.kube import ConflictError, KubeApi, NotFoundError
from ece_restart.ledger import Ledger, ledger_key
from ece_restart.logs import CrLogger, cr_logger
from ece_restart.metrics import OperatorMetrics
from ece_restart.plan_tracking import PlanTracker, TrackingSettings, find_our_attempt, plan_status
from ece_restart.plans import parse_time
from ece_restart.resource_restart import InvalidSpecError, Phase, ResourceRestart, RestartSpec, from_body
from ece_restart.results import Classification, Outcome, RequestFailed, RestartAccepted
from ece_restart.targets import ResourceKind

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
# Clock difference tolerated between the operator and ECE when matching a plan attempt to our request.
RECOVERY_SKEW = timedelta(seconds=30)


class Notifier(Protocol):
    def __call__(self, body: Mapping[str, Any], *, event_type: str, reason: str, message: str) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def _ceil_to_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0) + timedelta(seconds=1) if moment.microsecond else moment


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    max_concurrent: int = 10
    recovery_skew: timedelta = RECOVERY_SKEW
    # A first request still unanswered after this long gets a RestartRequested Event; one answered sooner is
    # reported by the Event of its outcome alone (one Event write per CR on the fast path, not two).
    requested_event_after: float = 1.0
    # After a lost answer, ECE's plans are read again for the read timeout's length, but at most this long.
    lost_answer_window: float = 10.0
    tracking: TrackingSettings = field(default_factory=TrackingSettings)


class Controller:
    def __init__(
        self,
        kube: KubeApi,
        connections: ConnectionResolver,
        *,
        notify: Notifier,
        settings: ControllerSettings | None = None,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        ledger: Ledger | None = None,
        metrics: OperatorMetrics | None = None,
    ) -> None:
        self._kube = kube
        self.metrics = metrics if metrics is not None else OperatorMetrics.create()
        self._ledger = ledger
        self._ledger_failures: dict[str, int] = {}
        self._expiries: dict[str, asyncio.TimerHandle] = {}
        self._connections = connections
        self._notify = notify
        self._settings = settings or ControllerSettings()
        self._clock = clock
        self._sleep = sleep
        self._slots = asyncio.Semaphore(self._settings.max_concurrent)
        self._target_locks: dict[tuple[object, str], asyncio.Lock] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._latest: dict[str, dict[str, Any]] = {}
        # resourceVersions the watch delivered while a CR's task ran, and those the task wrote itself: only a
        # version the task did not write makes it re-read the CR before it ends.
        self._event_rvs: dict[str, set[str]] = {}
        self._written_rvs: dict[str, set[str]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._tracker = PlanTracker(kube, connections, finish=self._finish, clock=clock,
                                    settings=self._settings.tracking)
        self.metrics.runs_in_flight.set_function(lambda: len(self._tasks))
        self.metrics.plans_tracked.set_function(lambda: self._tracker.tracked)

    # ---- intake -------------------------------------------------------------------------------------------

    async def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Called for every watch event (and for each object listed at start-up)."""
        uid = str(body.get("metadata", {}).get("uid", ""))
        if not uid:
            return
        if event_type == "DELETED":
            task = self._tasks.pop(uid, None)
            if task is not None:
                task.cancel()
            self._latest.pop(uid, None)
            self._tracker.forget(uid)
            expiry = self._expiries.pop(uid, None)
            if expiry is not None:
                expiry.cancel()
            return
        if uid in self._tasks:
            self._event_rvs.setdefault(uid, set()).add(str(body.get("metadata", {}).get("resourceVersion")))
            return
        cr = from_body(body)
        step = decide(cr).step
        if step is Step.NOTHING:
            self._schedule_expiry(cr)
            return
        if step is Step.TRACK:
            self._tracker.track(body)
            return
        self._latest[uid] = dict(body)
        self._tasks[uid] = asyncio.create_task(self._drive(uid), name=f"resourcerestart {cr.key}")

    def _schedule_expiry(self, cr: ResourceRestart) -> None:
        """spec.ttlSecondsAfterFinished: delete a finished CR once its time is up (survives operator restarts,
        since every CR is seen again at start-up)."""
        ttl = cr.spec.get("ttlSecondsAfterFinished")
        finished_at = parse_time(cr.status.raw.get("completionTime"))
        if not isinstance(ttl, int) or isinstance(ttl, bool) or finished_at is None or cr.uid in self._expiries:
            return
        if cr.status.phase is None or not cr.status.phase.is_terminal:
            return
        delay = max(0.0, (finished_at + timedelta(seconds=ttl) - self._clock()).total_seconds())
        loop = asyncio.get_running_loop()

        def expire() -> None:
            task = asyncio.create_task(self._expire(cr))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        self._expiries[cr.uid] = loop.call_later(delay, expire)

    async def _expire(self, cr: ResourceRestart) -> None:
        self._expiries.pop(cr.uid, None)
        try:
            if await self._kube.delete_restart(cr.namespace, cr.name, uid=cr.uid):
                logger.info("%s: deleted %s s after it finished (ttlSecondsAfterFinished)", cr.key,
                            cr.spec.get("ttlSecondsAfterFinished"))
        except Exception:
            logger.exception("%s: could not delete after its TTL; trying again on its next event", cr.key)

    @property
    def active_runs(self) -> int:
        return len(self._tasks)

    @property
    def tracked_plans(self) -> int:
        return self._tracker.tracked

    async def shutdown(self) -> None:
        await self._tracker.shutdown()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._connections.aclose()

    # ---- the driving loop ---------------------------------------------------------------------------------

    async def _drive(self, uid: str) -> None:
        failures = 0
        try:
            while True:
                body = self._latest.get(uid)
                if body is None:
                    return
                cr = from_body(body)
                decision = decide(cr)
                if decision.step is Step.TRACK:
                    self._tracker.track(body)
                    return
                if decision.step is Step.NOTHING:
                    if not self._event_rvs.pop(uid, set()) - self._written_rvs.get(uid, set()):
                        self._schedule_expiry(cr)
                        return
                    # The watch showed a version this task did not write: read the CR again before ending.
                    if not await self._refresh(uid, cr):
                        return
                    continue
                try:
                    updated = await self._perform(cr, decision.step, decision.not_before)
                except ConflictError:
                    logger.debug("%s changed while deciding; re-reading", cr.key)
                    if not await self._refresh(uid, cr):
                        return
                    continue
                except NotFoundError:
                    return
                except Exception as error:
                    # The API server refused or is unreachable (a 5xx, a reset): nothing of this step is stored, or
                    # a stored intent is found again (phase Requesting) and settled from ECE's plans. Giving up here
                    # would leave the CR unhandled until its next event, which may never come.
                    failures += 1
                    delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                    self._log(cr).warning("handling failed (%s: %s); trying again in %.1f s", type(error).__name__,
                                          str(error)[:300], delay)
                    await self._sleep(delay)
                    with contextlib.suppress(Exception):  # still unreachable: a stale body fails its CAS with 409
                        if not await self._refresh(uid, cr):
                            return
                    continue
                failures = 0
                self._latest[uid] = updated
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("unexpected error while handling a ResourceRestart; handled again on its next event")
        finally:
            self._tasks.pop(uid, None)
            self._latest.pop(uid, None)
            self._event_rvs.pop(uid, None)
            self._written_rvs.pop(uid, None)

    async def _patch_status(self, cr: ResourceRestart, patch: dict[str, Any], *, cas: bool) -> dict[str, Any]:
        """Write the status (with `cas`, only if the CR is still at the version read). The version written is
        remembered so that its watch echo does not make the CR's task read the CR again."""
        body = await self._kube.patch_restart_status(cr.namespace, cr.name, patch,
                                                     resource_version=cr.resource_version if cas else None)
        if cr.uid in self._tasks:
            self._written_rvs.setdefault(cr.uid, set()).add(str(body.get("metadata", {}).get("resourceVersion")))
        return body

    async def _refresh(self, uid: str, cr: ResourceRestart) -> bool:
        fresh = await self._kube.get_restart(cr.namespace, cr.name)
        if fresh is None or str(fresh.get("metadata", {}).get("uid")) != uid:
            return False
        self._latest[uid] = fresh
        return True

    async def _perform(self, cr: ResourceRestart, step: Step, not_before: datetime | None) -> dict[str, Any]:
        if step is Step.RECOVER:
            return await self._recover(cr)
        try:
            spec = cr.parse_spec()
        except InvalidSpecError as error:
            return await self._finish(cr, Phase.FAILED, Outcome.INVALID_SPEC, f"Invalid spec: {error}", cas=True)
        try:
            config = await self._connections.resolve(cr.namespace, spec.secret_name)
        except InvalidConnectionError as error:
            return await self._finish(cr, Phase.FAILED, Outcome.INVALID_CONNECTION, str(error), cas=True)
        if step is Step.START and self._ledger is not None and spec.restart_token:
            claim_or_body = await self._claim_token(cr, spec, config)
            if claim_or_body is not None:
                return claim_or_body
        if step is Step.RETRY and not_before is not None:
            delay = (not_before - self._clock()).total_seconds()
            if delay > 0:
                failpoints.reach("during_backoff")
                await self._sleep(delay)
        attempt = 1 if step is Step.START else cr.status.attempts + 1
        # A retry belongs to the run's own token; a token changed meanwhile gets a run of its own (and its own
        # ledger claim) once this one has ended.
        token = spec.restart_token if step is Step.START else (cr.status.active_token or spec.restart_token)
        return await self._attempt(cr, spec, config, attempt, token)

    async def _claim_token(
        self, cr: ResourceRestart, spec: RestartSpec, config: ConnectionConfig
    ) -> dict[str, Any] | None:
        """None when this CR may run its token; else the status written (AlreadyExecuted, or Pending to retry)."""
        assert self._ledger is not None
        key = ledger_key(config.url, str(spec.target), spec.restart_token)
        try:
            claim = await self._ledger.claim(key, uid=cr.uid, resource=cr.key, now=self._clock())
        except Exception as error:  # the API server refused or is unreachable: wait, never run unrecorded
            failures = self._ledger_failures.get(cr.uid, 0) + 1
            self._ledger_failures[cr.uid] = failures
            delay = min(60.0, 2.0 ** failures)
            message = (f"Waiting to record restartToken {spec.restart_token!r} in the ledger "
                       f"(ConfigMaps {self._ledger.shard(key)} in namespace {self._ledger.namespace}): "
                       f"{type(error).__name__}: {str(error)[:300]}; retrying in {delay:.0f} s")
            self._log(cr).warning("%s", message)
            body = await self._patch_status(cr, status_patches.pending(cr, message=message, now=self._clock()),
                                            cas=True)
            await self._sleep(delay)
            return body
        self._ledger_failures.pop(cr.uid, None)
        if claim is None:
            return None
        message = (f"restartToken {spec.restart_token!r} already ran against {spec.target} by "
                   f"{claim.description}; not restarting again. Set a new restartToken to restart once more")
        return await self._finish(cr, Phase.SUCCEEDED, Outcome.ALREADY_EXECUTED, message, cas=True)

    async def _attempt(
        self, cr: ResourceRestart, spec: RestartSpec, config: ConnectionConfig, attempt: int, token: str
    ) -> dict[str, Any]:
        client = await self._connections.client(config)
        policy = spec.retry.policy()
        lock = self._target_locks.setdefault((config.key, str(spec.target)), asyncio.Lock())
        gate = self._connections.gate(config)
        async with gate.admission(self._slots), lock:
            now = self._clock()
            intent = status_patches.attempt_intent(
                cr, token=token, attempt=attempt, max_attempts=policy.max_attempts, now=now
            )
            failpoints.reach("before_intent_write")
            written = await self._patch_status(cr, intent, cas=True)
            claimed = from_body(written)
            failpoints.reach("after_intent_write")
            self._log(claimed).info("restart request %d of at most %d for %s", attempt, policy.max_attempts,
                                    spec.target)
            announcement = None
            if attempt == 1:
                announcement = asyncio.get_running_loop().call_later(
                    self._settings.requested_event_after, self._emit, cr, "Normal", "RestartRequested",
                    f"Restarting {spec.target} ({config.url}); waiting for ECE's answer")
            try:
                result = await client.restart_target(
                    spec.target, cancel_pending=spec.cancel_pending, elasticsearch=spec.elasticsearch
                )
            finally:
                if announcement is not None:
                    announcement.cancel()
            gate.record(result)
            failpoints.reach("after_response")
        if isinstance(result, RestartAccepted):
            message = f"ECE accepted the restart of {spec.target} (HTTP {result.http_status})"
            if result.warnings:
                message += "; warnings: " + "; ".join(f"{w.code}: {w.message}" for w in result.warnings)
            if spec.wait_for_completion:
                patch = status_patches.tracking_started(
                    claimed, http_status=result.http_status, plan=None, attempts=attempt, now=self._clock(),
                    message=message + "; following its plan until it ends")
                self._emit(claimed, "Normal", "RestartAccepted", patch["message"])
                return await self._write(claimed, patch)
            return await self._finish(claimed, Phase.SUCCEEDED, result.outcome, message,
                                      http_status=result.http_status, attempts=attempt)
        if result.classification is Classification.AMBIGUOUS:
            window = min(config.timeouts.read, self._settings.lost_answer_window)
            return await self._settle_from_plans(claimed, spec, client, result, window=window)
        if result.classification is Classification.RETRYABLE and policy.should_retry(attempt):
            delay = policy.delay(attempt, result.retry_after)
            # Status times have whole seconds: round up, or the stored time is up to 1 s earlier than the delay (a
            # server's Retry-After would not be honoured).
            next_attempt = _ceil_to_second(self._clock() + timedelta(seconds=delay))
            patch = status_patches.retry_scheduled(claimed, result, next_attempt=next_attempt, attempt=attempt,
                                                   now=self._clock())
            self.metrics.retries.labels(kind=spec.target.kind.value).inc()
            self._emit(claimed, "Warning", "RestartRetrying", patch["message"])
            return await self._write(claimed, patch)
        if result.classification is Classification.RETRYABLE:
            outcome = Outcome.RETRIES_EXHAUSTED if result.http_status is not None else Outcome.CONNECTION_FAILED
            message = f"Gave up after {attempt} attempts; last error: {result.message}"
            return await self._finish(claimed, Phase.FAILED, outcome, message, http_status=result.http_status,
                                      error_code=result.error_code, attempts=attempt)
        return await self._finish(claimed, Phase.FAILED, result.outcome, result.message,
                                  http_status=result.http_status, error_code=result.error_code, attempts=attempt)

    async def _recover(self, cr: ResourceRestart) -> dict[str, Any]:
        """A CR left in phase Requesting by an operator that stopped mid-request."""
        fresh_body = await self._kube.get_restart(cr.namespace, cr.name)
        if fresh_body is None:
            raise NotFoundError(cr.key)
        fresh = from_body(fresh_body)
        if fresh.status.phase is not Phase.REQUESTING:
            return fresh_body
        try:
            spec = fresh.parse_spec()
            config = await self._connections.resolve(fresh.namespace, spec.secret_name)
        except (InvalidSpecError, InvalidConnectionError) as error:
            return await self._finish(fresh, Phase.UNKNOWN, Outcome.OUTCOME_UNKNOWN,
                                      f"A restart request may have been sent before the operator stopped, and ECE "
                                      f"cannot be asked now: {error}", cas=True)
        client = await self._connections.client(config)
        lost = RequestFailed(Classification.AMBIGUOUS, "the operator stopped while a restart request was in flight",
                             outcome=Outcome.OUTCOME_UNKNOWN)
        return await self._settle_from_plans(fresh, spec, client, lost, cas=True)

    async def _settle_from_plans(
        self, cr: ResourceRestart, spec: RestartSpec, client: EceClient, lost: RequestFailed, *, cas: bool = False,
        window: float = 0.0,
    ) -> dict[str, Any]:
        """Decide a run whose request may or may not have reached ECE, from ECE's plan history.

        ECE may still act on a request whose answer was lost (it held it past the read timeout): for `window`
        seconds the plans are read again until our attempt shows up, before concluding it is not there."""
        intent_time = cr.status.last_attempt_time
        deadline = self._clock() + timedelta(seconds=window)
        interval = max(0.5, min(5.0, window / 4))
        while True:
            info = await self._read_plans(spec, client)
            attempt = (find_our_attempt(info.plans, None, intent_time, self._settings.recovery_skew)
                       if isinstance(info, ResourceInfo) and intent_time is not None else None)
            remaining = (deadline - self._clock()).total_seconds()
            if attempt is not None or not isinstance(info, ResourceInfo) or intent_time is None or remaining <= 0:
                break
            await self._sleep(min(interval, remaining))
        if isinstance(info, ResourceInfo) and intent_time is not None:
            if attempt is not None:
                message = (f"{lost.message}; ECE shows plan attempt {attempt.attempt_id or '(no id)'} started at "
                           f"{attempt.start_time.isoformat() if attempt.start_time else '?'}, so it accepted the "
                           "restart")
                if spec.wait_for_completion:
                    patch = status_patches.tracking_started(cr, http_status=202, now=self._clock(), message=message,
                                                            plan=plan_status(attempt, self._clock()))
                    if cas:
                        return await self._patch_status(cr, patch, cas=True)
                    return await self._write(cr, patch)
                return await self._finish(cr, Phase.SUCCEEDED, Outcome.RESTART_ACCEPTED, message, cas=cas)
            waited = f" (nor {window:g} s later)" if window > 0 else ""
            message = (f"{lost.message}; ECE shows no plan attempt since then{waited}. The restart was probably not "
                       "applied, but a second request could restart twice: check the deployment's activity in ECE "
                       "and set a new spec.restartToken to try again")
        else:
            reason = info.message if isinstance(info, RequestFailed) else "no intent time recorded"
            message = (f"{lost.message}; ECE's plan information could not be read ({reason}). Check the deployment's "
                       "activity in ECE and set a new spec.restartToken to try again")
        return await self._finish(cr, Phase.UNKNOWN, Outcome.OUTCOME_UNKNOWN, message, cas=cas)

    async def _read_plans(self, spec: RestartSpec, client: EceClient) -> ResourceInfo | RequestFailed:
        """The target's plan information, read with the CR's retry policy for retryable failures."""
        policy = spec.retry.policy()
        for reads in range(1, policy.max_attempts + 1):
            info = await client.get_resource(spec.target)
            if isinstance(info, ResourceInfo) or info.classification is Classification.PERMANENT:
                return info
            if reads < policy.max_attempts:
                await self._sleep(policy.delay(reads, info.retry_after))
        return info

    # ---- writing --------------------------------------------------------------------------------------------

    async def _finish(
        self,
        cr: ResourceRestart,
        phase: Phase,
        outcome: Outcome,
        message: str,
        *,
        http_status: int | None = None,
        error_code: str | None = None,
        attempts: int | None = None,
        cas: bool = False,
        plan: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        patch = status_patches.finished(cr, phase=phase, outcome=outcome, message=message, now=self._clock(),
                                        http_status=http_status, error_code=error_code, attempts=attempts,
                                        plan=plan)
        body = await (self._patch_status(cr, patch, cas=True) if cas else self._write(cr, patch))
        self._emit(cr, "Normal" if phase is Phase.SUCCEEDED else "Warning", outcome.value, message)
        self._log(cr).info("%s (%s): %s", phase.value, outcome.value, message)
        self._count_finished(cr, outcome, attempts)
        return body

    def _count_finished(self, cr: ResourceRestart, outcome: Outcome, attempts: int | None) -> None:
        kind = str(cr.spec.get("resourceKind", "unknown"))
        if kind not in {k.value for k in ResourceKind}:
            kind = "unknown"
        self.metrics.runs.labels(outcome=outcome.value, kind=kind).inc()
        runs = attempts if attempts is not None else cr.status.attempts
        if runs:
            self.metrics.attempts.observe(runs)
        started = cr.status.start_time
        if started is not None:
            self.metrics.run_duration.labels(kind=kind).observe(max(0.0, (self._clock() - started).total_seconds()))
        if cr.status.phase is Phase.IN_PROGRESS and cr.status.last_attempt_time is not None:
            self.metrics.plan_duration.labels(result=outcome.value).observe(
                max(0.0, (self._clock() - cr.status.last_attempt_time).total_seconds()))

    def _log(self, cr: ResourceRestart) -> CrLogger:
        token = cr.status.active_token if cr.status.active_token is not None else cr.restart_token
        return cr_logger(logger, namespace=cr.namespace, name=cr.name, uid=cr.uid, token=token)

    async def _write(self, cr: ResourceRestart, patch: dict[str, Any]) -> dict[str, Any]:
        """Write the result of a run this task owns; retried until the API server takes it, never dropped."""
        failures = 0
        while True:
            try:
                return await self._patch_status(cr, patch, cas=False)
            except (ConflictError, NotFoundError):
                raise
            except Exception as error:  # API server unreachable or 5xx: the result must not be lost
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                self._log(cr).warning("writing status failed (%s); retrying in %.1f s", type(error).__name__, delay)
                await self._sleep(delay)

    def _emit(self, cr: ResourceRestart, type_: str, reason: str, message: str) -> None:
        body = {
            "apiVersion": "eceops.io/v1alpha1",
            "kind": "ResourceRestart",
            "metadata": {"namespace": cr.namespace, "name": cr.name, "uid": cr.uid},
        }
        try:
            self._notify(body, event_type=type_, reason=reason, message=message)
        except Exception:  # events are best effort; the status is the record
            logger.debug("could not post event %s for %s", reason, cr.key, exc_info=True)
