"""`ece-restart-operator restart`: one restart of one ECE deployment resource, now, from a shell.

The imperative twin of a ResourceRestart: the same client, the same retry policy and failure classification
(`ece_restart.runs.run_restart`) and, with `--wait`, the same identification of the restart's plan attempt
(`ece_restart.plan_tracking.find_our_attempt`) as the operator. Credentials come from the environment only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final, TextIO

from ece_restart.client import EceClient, ResourceInfo
from ece_restart.connection import ConnectionConfig, InvalidConnectionError
from ece_restart.plan_tracking import TrackingSettings, find_our_attempt
from ece_restart.plans import AttemptState, PlanAttempt, ResourcePlans
from ece_restart.results import Classification, Outcome, RequestFailed, RestartAccepted, RestartResult
from ece_restart.retry import RetryPolicy
from ece_restart.runs import run_restart
from ece_restart.targets import ElasticsearchRestartOptions, InvalidTargetError, ResourceKind, RestartTarget

logger = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNKNOWN: Final = 3
EXIT_PLAN_FAILED: Final = 4

# The operator's allowance for clock differences between this machine and ECE when matching plan attempts.
PLAN_SKEW: Final = TrackingSettings().recovery_skew

_EPILOG: Final = """\
credentials:
  Read from the environment only, never from a flag, so they do not end up in shell history or process lists:
  ECE_API_KEY, or ECE_USERNAME and ECE_PASSWORD. ECE_URL, ECE_CA_FILE and ECE_INSECURE_SKIP_VERIFY are the
  defaults of --url, --ca-file and --insecure-skip-verify.

exit codes:
  0  ECE accepted the restart (with --wait: its plan completed)
  1  ECE refused the restart or it failed (the outcome, HTTP status and ECE error code are printed)
  2  invalid arguments or connection settings (nothing was sent)
  3  outcome unknown: the request was sent but no answer came back, so the restart may have happened;
     check the deployment's activity in ECE before running the command again
  4  with --wait: the restart plan failed, or did not end within --timeout
"""


def _positive_float(text: str) -> float:
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Restart one resource of an ECE / Elastic Cloud deployment now, with the operator's client, retry policy\n"
        "and failure classification (the imperative twin of a ResourceRestart)."
    )
    parser.epilog = _EPILOG
    target = parser.add_argument_group("what to restart")
    target.add_argument("--deployment", required=True, metavar="ID", help="deployment id (32 hexadecimal characters)")
    target.add_argument("--kind", required=True, choices=[kind.value for kind in ResourceKind], metavar="KIND",
                        help=f"resource kind: {', '.join(kind.value for kind in ResourceKind)}")
    target.add_argument("--ref-id", required=True, metavar="REF", help="the resource's ref_id (e.g. main-kibana)")
    target.add_argument("--cancel-pending", action="store_true",
                        help="cancel a pending plan of the resource instead of failing with PlanChangeConflict")

    wait = parser.add_argument_group("waiting for the plan")
    wait.add_argument("--wait", action="store_true",
                      help="follow the restart's plan and print its steps until it completes or fails")
    wait.add_argument("--timeout", type=_positive_float, default=1800.0, metavar="SECONDS",
                      help="with --wait, give up after this long after ECE accepted the restart (default 1800)")
    wait.add_argument("--poll-interval", type=_positive_float, default=2.0, metavar="S",
                      help="with --wait, seconds between reads of the plan (default 2)")

    retry = parser.add_argument_group("retries (of failures that applied nothing: 429, 5xx, refused connections)")
    retry.add_argument("--max-attempts", type=_positive_int, default=5, metavar="N",
                       help="restart requests at most, the first included (default 5)")
    retry.add_argument("--initial-delay", type=_non_negative_float, default=2.0, metavar="S",
                       help="ceiling of the first jittered back-off delay (default 2)")
    retry.add_argument("--max-delay", type=_non_negative_float, default=60.0, metavar="S",
                       help="cap of the back-off delay, Retry-After included (default 60)")

    es = parser.add_argument_group("Elasticsearch only (default: ECE's own defaults)")
    es.add_argument("--restore-snapshot", action=argparse.BooleanOptionalAction, default=None,
                    help="restore the latest snapshot when the cluster is stopped")
    es.add_argument("--skip-snapshot", action=argparse.BooleanOptionalAction, default=None,
                    help="skip the snapshot taken before restarting")
    es.add_argument("--group-attribute", default=None, metavar="X",
                    help="node attribute to group the rolling restart by (e.g. __zone__)")
    es.add_argument("--shard-init-wait-time", type=_non_negative_int, default=None, metavar="S",
                    help="seconds to wait for shards to initialise per group")

    connection = parser.add_argument_group("connection (credentials: ECE_API_KEY or ECE_USERNAME/ECE_PASSWORD only)")
    connection.add_argument("--url", default=None, metavar="URL", help="ECE API base URL (default: $ECE_URL)")
    connection.add_argument("--ca-file", default=None, metavar="F",
                            help="PEM CA bundle that signed the ECE certificate (default: $ECE_CA_FILE)")
    connection.add_argument("--insecure-skip-verify", action="store_true",
                            help="do not verify ECE's TLS certificate (default: $ECE_INSECURE_SKIP_VERIFY)")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                        help="verbosity of the log on stderr (default warning); never shows credentials")


class Console:
    """Progress on stdout, problems on stderr. On a terminal, one transient line shows the wait; elsewhere
    (pipes, CI logs) only plain, complete lines are written."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out = out
        self._err = err
        self._tty = out.isatty()
        self._transient = False

    def line(self, text: str) -> None:
        self._clear()
        self._out.write(text + "\n")
        self._out.flush()

    def error(self, text: str) -> None:
        self._clear()
        self._out.flush()
        self._err.write(text + "\n")
        self._err.flush()

    def status(self, text: str) -> None:
        if not self._tty:
            return
        self._out.write("\r\x1b[K" + text)
        self._out.flush()
        self._transient = True

    def _clear(self) -> None:
        if self._transient:
            self._out.write("\r\x1b[K")
            self._transient = False


class _TimedClient(EceClient):
    """The operator's client, remembering when the latest restart request left (for finding its plan)."""

    last_request_at: datetime | None = None

    async def restart_target(
        self,
        target: RestartTarget,
        *,
        cancel_pending: bool = False,
        elasticsearch: ElasticsearchRestartOptions | None = None,
    ) -> RestartResult:
        self.last_request_at = datetime.now(UTC)
        return await super().restart_target(target, cancel_pending=cancel_pending, elasticsearch=elasticsearch)


def connection_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> ConnectionConfig:
    """The environment's connection settings with the flags on top; credentials only ever from the environment."""
    env = dict(os.environ if environ is None else environ)
    if args.url:
        env["ECE_URL"] = args.url
    if args.ca_file:
        env["ECE_CA_FILE"] = args.ca_file
    if args.insecure_skip_verify:
        env["ECE_INSECURE_SKIP_VERIFY"] = "true"
    config = ConnectionConfig.from_env(env)
    if config is None:
        raise InvalidConnectionError("no ECE URL: pass --url or set ECE_URL")
    return config


def elasticsearch_options(args: argparse.Namespace, target: RestartTarget) -> ElasticsearchRestartOptions | None:
    given = {"--restore-snapshot": args.restore_snapshot, "--skip-snapshot": args.skip_snapshot,
             "--group-attribute": args.group_attribute, "--shard-init-wait-time": args.shard_init_wait_time}
    used = [flag for flag, value in given.items() if value is not None]
    if not used:
        return None
    if target.kind is not ResourceKind.ELASTICSEARCH:
        raise InvalidTargetError(f"{', '.join(used)} only apply to --kind elasticsearch, not {target.kind.value}")
    return ElasticsearchRestartOptions(restore_snapshot=args.restore_snapshot, skip_snapshot=args.skip_snapshot,
                                       group_attribute=args.group_attribute,
                                       shard_init_wait_time=args.shard_init_wait_time)


_HTTP_PREFIX: Final = re.compile(r"^HTTP \d{3} [^:]*: ")


def describe_failure(failure: RequestFailed) -> str:
    """`Outcome (HTTP 404, ece.error.code): ECE's message`."""
    details = [f"HTTP {failure.http_status}"] if failure.http_status is not None else []
    if failure.error_code:
        details.append(failure.error_code)
    message = failure.message
    if failure.http_status is not None:
        message = _HTTP_PREFIX.sub("", message, count=1)
        if failure.error_code and message.startswith(failure.error_code + ": "):
            message = message[len(failure.error_code) + 2:]
    head = failure.outcome.value + (f" ({', '.join(details)})" if details else "")
    return f"{head}: {message}"


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = Console(sys.stdout, sys.stderr)
    try:
        target = RestartTarget.of(args.deployment, args.kind, args.ref_id)
        elasticsearch = elasticsearch_options(args, target)
    except InvalidTargetError as error:
        console.error(f"error: {error}")
        return EXIT_USAGE
    try:
        policy = RetryPolicy(max_attempts=args.max_attempts, initial_delay=args.initial_delay,
                             max_delay=args.max_delay)
    except ValueError as error:
        console.error(f"error: invalid retry settings: {error}")
        return EXIT_USAGE
    try:
        config = connection_from(args)
    except InvalidConnectionError as error:
        console.error(f"error: invalid ECE connection: {error}")
        return EXIT_USAGE
    return asyncio.run(restart(config, target, console, policy=policy, cancel_pending=args.cancel_pending,
                               elasticsearch=elasticsearch, wait=args.wait, completion_timeout=args.timeout,
                               poll_interval=args.poll_interval))


async def restart(
    config: ConnectionConfig,
    target: RestartTarget,
    console: Console,
    *,
    policy: RetryPolicy,
    cancel_pending: bool = False,
    elasticsearch: ElasticsearchRestartOptions | None = None,
    wait: bool = False,
    completion_timeout: float = 1800.0,
    poll_interval: float = 2.0,
) -> int:
    async with _TimedClient(config, max_connections=2) as client:
        earlier: frozenset[str] = frozenset()
        if wait:
            earlier = await _known_attempts(client, target)
        console.line(f"restarting {target} through {config.url}" + (" (cancelling any pending plan)"
                                                                       if cancel_pending else ""))

        def on_retry(attempt: int, failure: RequestFailed, delay: float) -> None:
            console.line(f"attempt {attempt} of {policy.max_attempts} failed: {describe_failure(failure)}; "
                         f"retrying in {delay:.1f} s")

        report = await run_restart(client, target, policy=policy, cancel_pending=cancel_pending,
                                   elasticsearch=elasticsearch, on_retry=on_retry)
        result = report.result
        requested_at = client.last_request_at
        attempt_id: str | None = None
        if isinstance(result, RestartAccepted):
            console.line(f"ECE accepted the restart of {target} (HTTP {result.http_status}) after "
                         f"{report.attempts} attempt{'s' if report.attempts != 1 else ''}")
            for warning in result.warnings:
                console.line(f"warning from ECE: {warning.code}: {warning.message}")
            if not wait:
                return EXIT_OK
        elif result.classification is Classification.AMBIGUOUS:
            found: PlanAttempt | None = None
            problem = ""
            if wait:
                found, problem = await _settle_from_plans(client, target, policy, requested_at, earlier)
            if found is None:
                console.error(
                    f"error: {describe_failure(result)}\n"
                    f"The restart request of {target} was sent but its answer was lost: ECE may have applied it. "
                    + (f"{problem}. " if problem else "")
                    + "Check the deployment's activity in ECE before running this command again; do not retry "
                    "blindly, a second request could restart the resource twice.")
                return EXIT_UNKNOWN
            attempt_id = found.attempt_id
            console.line(f"the answer to the restart request was lost, but ECE shows plan attempt "
                         f"{found.attempt_id or '(no id)'} started after it: treating the restart as accepted")
        else:
            console.error(f"error: {describe_failure(result)}")
            return EXIT_FAILED
        return await follow_plan(client, target, console, requested_at=requested_at, attempt_id=attempt_id,
                                 earlier=earlier, completion_timeout=completion_timeout,
                                 poll_interval=poll_interval)


def _without(plans: ResourcePlans, earlier: frozenset[str]) -> ResourcePlans:
    """The plans minus attempts that existed before the restart request (so a plan cancelled by
    --cancel-pending, or one that ran just before, is never taken for the restart's own)."""
    if not earlier:
        return plans

    def keep(attempt: PlanAttempt | None) -> PlanAttempt | None:
        return None if attempt is None or attempt.attempt_id in earlier else attempt

    return replace(plans, pending=keep(plans.pending), current=keep(plans.current),
                   history=tuple(a for a in plans.history if a.attempt_id not in earlier))


async def _known_attempts(client: EceClient, target: RestartTarget) -> frozenset[str]:
    """Ids of the plan attempts before the restart (best effort: empty when the read fails)."""
    info = await client.get_resource(target, show_plan_logs=False)
    if not isinstance(info, ResourceInfo):
        logger.debug("could not read the plans of %s before the restart: %s", target, info.message)
        return frozenset()
    return frozenset(a.attempt_id for a in info.plans.attempts() if a.attempt_id)


async def _settle_from_plans(
    client: EceClient, target: RestartTarget, policy: RetryPolicy, requested_at: datetime | None,
    earlier: frozenset[str],
) -> tuple[PlanAttempt | None, str]:
    """Like the operator after a lost answer: read the plans (retrying only transient failures) and look for an
    attempt that started after the request."""
    info: ResourceInfo | RequestFailed | None = None
    for reads in range(1, policy.max_attempts + 1):
        info = await client.get_resource(target)
        if isinstance(info, ResourceInfo) or info.classification is not Classification.RETRYABLE:
            break
        if reads < policy.max_attempts:
            await asyncio.sleep(policy.delay(reads, info.retry_after))
    if not isinstance(info, ResourceInfo):
        reason = info.message if info is not None else "not read"
        return None, f"ECE's plan information could not be read ({reason})"
    attempt = find_our_attempt(_without(info.plans, earlier), None, requested_at, PLAN_SKEW)
    if attempt is None:
        return None, "ECE shows no plan attempt since the request, so it was probably not applied"
    return attempt, ""


async def follow_plan(
    client: EceClient,
    target: RestartTarget,
    console: Console,
    *,
    requested_at: datetime | None,
    attempt_id: str | None,
    earlier: frozenset[str],
    completion_timeout: float,
    poll_interval: float,
) -> int:
    """Poll the resource's plans until the restart's attempt ends or the timeout passes; print step changes."""
    started = time.monotonic()
    deadline = started + completion_timeout
    last_step: str | None = None
    last_problem: str | None = None
    attempt: PlanAttempt | None = None
    while True:
        info = await client.get_resource(target)
        if isinstance(info, RequestFailed):
            problem = describe_failure(info)
            if problem != last_problem:
                console.line(f"reading the plan failed: {problem}; still waiting")
            last_problem = problem
        else:
            last_problem = None
            attempt = find_our_attempt(_without(info.plans, earlier), attempt_id, requested_at, PLAN_SKEW)
            if attempt is not None:
                if attempt_id is None and attempt.attempt_id:
                    attempt_id = attempt.attempt_id
                    console.line(f"following plan attempt {attempt_id}"
                                 + (f" (started {attempt.start_time.isoformat()})" if attempt.start_time else ""))
                if attempt.last_step is not None and attempt.last_step != last_step:
                    last_step = attempt.last_step
                    console.line(f"step {last_step}" + (f" ({attempt.last_step_status})"
                                                        if attempt.last_step_status else ""))
                if attempt.state is AttemptState.SUCCEEDED:
                    console.line(f"ECE completed the restart plan of {target}{_duration(attempt)}")
                    return EXIT_OK
                if attempt.state is AttemptState.FAILED:
                    console.error(
                        f"error: {Outcome.PLAN_FAILED.value}"
                        + (f" ({attempt.failure_type})" if attempt.failure_type else "")
                        + f": ECE's restart plan of {target} failed"
                        + (f": {attempt.error_message}" if attempt.error_message else ""))
                    return EXIT_PLAN_FAILED
        now = time.monotonic()
        if now >= deadline:
            where = (f"last step {attempt.last_step}" if attempt is not None and attempt.last_step
                     else "ECE shows no plan attempt for it")
            console.error(f"error: {Outcome.COMPLETION_TIMEOUT.value}: the restart plan of {target} did not end "
                          f"within {completion_timeout:g} s ({where}); it may still be running: check ECE")
            return EXIT_PLAN_FAILED
        console.status(f"waiting for the plan: {last_step or 'not visible yet'} ({now - started:.0f} s)")
        await asyncio.sleep(min(poll_interval, deadline - now))


def _duration(attempt: PlanAttempt) -> str:
    if attempt.start_time is None or attempt.end_time is None:
        return ""
    return f" in {max(0.0, (attempt.end_time - attempt.start_time).total_seconds()):.1f} s"
