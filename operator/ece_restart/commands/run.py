"""`ece-restart-operator run`: the controller, against the current kubeconfig or the in-cluster service account."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import threading
from datetime import timedelta

import kopf

from ece_restart.connection import ConnectionConfig, InvalidConnectionError, Timeouts
from ece_restart.connections import ConnectionResolver
from ece_restart.controller import Controller, ControllerSettings
from ece_restart.handlers import build_registry, operator_settings, post_event
from ece_restart.health import HealthServer, Readiness
from ece_restart.kube import KubeApi
from ece_restart.ledger import Ledger
from ece_restart.logs import configure_logging
from ece_restart.metrics import OperatorMetrics
from ece_restart.plan_tracking import TrackingSettings

logger = logging.getLogger(__name__)
_DEFAULT_TIMEOUTS = Timeouts()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", default=[], metavar="NS",
                       help="watch this namespace (repeatable); default: the namespace of WATCH_NAMESPACE, else all")
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch ResourceRestarts in every namespace")
    parser.add_argument("--max-concurrent", type=int, default=int(os.environ.get("MAX_CONCURRENT", "10")),
                        metavar="N", help="restart requests in flight at once, across all CRs (default 10)")
    parser.add_argument("--health-port", type=int, default=8080, metavar="P",
                        help="serve /healthz (liveness) and /readyz (readiness) on 0.0.0.0:P (-1 disables; 0 picks a "
                             "free port; default 8080)")
    parser.add_argument("--metrics-port", type=int, default=None, metavar="P",
                        help="serve Prometheus /metrics on 0.0.0.0:P (default: on the health port)")
    parser.add_argument("--plan-poll-interval", type=float, default=2.0, metavar="S",
                        help="first interval between plan polls for waitForCompletion (default 2 s)")
    parser.add_argument("--plan-poll-max-interval", type=float, default=30.0, metavar="S",
                        help="the interval grows by half each poll up to this cap (default 30 s)")
    parser.add_argument("--ledger-namespace", default=os.environ.get("POD_NAMESPACE", ""), metavar="NS",
                        help="namespace of the ledger ConfigMaps that remember executed restartTokens across CR "
                             "deletion (default: $POD_NAMESPACE; empty disables the ledger)")
    parser.add_argument("--ledger-retention-days", type=int, default=90, metavar="D",
                        help="forget ledger entries older than this (default 90)")
    parser.add_argument("--ece-connect-timeout", type=float, default=_DEFAULT_TIMEOUTS.connect, metavar="S",
                        help=f"seconds to establish a connection to ECE (default {_DEFAULT_TIMEOUTS.connect:g})")
    parser.add_argument("--ece-read-timeout", type=float, default=_DEFAULT_TIMEOUTS.read, metavar="S",
                        help=f"seconds to wait for ECE's answer once a request is sent (default "
                             f"{_DEFAULT_TIMEOUTS.read:g}); a restart request without an answer is settled from ECE's "
                             "plan information")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: in-cluster, KUBECONFIG, ~/.kube)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info"),
                        choices=["debug", "info", "warning", "error"], help="log verbosity (default info)")
    parser.add_argument("--log-format", default=os.environ.get("LOG_FORMAT", "text"), choices=["text", "json"],
                        help="human text or one JSON object per line (default text)")


def watched_namespaces(args: argparse.Namespace) -> tuple[bool, list[str]]:
    if args.all_namespaces:
        return True, []
    namespaces = [ns for value in args.namespace for ns in value.split(",") if ns]
    if not namespaces:
        namespaces = [ns for ns in os.environ.get("WATCH_NAMESPACE", "").split(",") if ns]
    return (not namespaces), namespaces


def main(args: argparse.Namespace) -> int:
    if args.max_concurrent < 1:
        raise SystemExit("--max-concurrent must be at least 1")
    configure_logging(level=args.log_level, fmt=args.log_format)
    if not (args.ece_connect_timeout > 0 and args.ece_read_timeout > 0):
        raise SystemExit("--ece-connect-timeout and --ece-read-timeout must be positive")
    timeouts = Timeouts(connect=args.ece_connect_timeout, read=args.ece_read_timeout,
                        total=max(_DEFAULT_TIMEOUTS.total, args.ece_connect_timeout + args.ece_read_timeout))
    try:
        default_connection = ConnectionConfig.from_env(timeouts=timeouts)
    except InvalidConnectionError as error:
        raise SystemExit(f"invalid default ECE connection: {error}") from None
    if default_connection is None:
        logger.warning("ECE_URL is unset: only ResourceRestarts with spec.connection.secretRef can be handled")
    clusterwide, namespaces = watched_namespaces(args)
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig
    if not 0 < args.plan_poll_interval <= args.plan_poll_max_interval:
        raise SystemExit("need 0 < --plan-poll-interval <= --plan-poll-max-interval")
    tracking = TrackingSettings(initial_interval=args.plan_poll_interval, max_interval=args.plan_poll_max_interval)
    if not args.ledger_namespace:
        logger.warning("no ledger namespace (--ledger-namespace / POD_NAMESPACE): a ResourceRestart deleted and "
                       "re-created with a token that already ran will restart again")
    asyncio.run(serve(default_connection, clusterwide=clusterwide, namespaces=namespaces,
                      max_concurrent=args.max_concurrent, health_port=args.health_port,
                      metrics_port=args.metrics_port, kubeconfig=args.kubeconfig,
                      tracking=tracking, ledger_namespace=args.ledger_namespace or None,
                      ledger_retention=timedelta(days=args.ledger_retention_days), ece_timeouts=timeouts))
    return 0


async def serve(
    default_connection: ConnectionConfig | None,
    *,
    clusterwide: bool,
    namespaces: list[str],
    max_concurrent: int,
    health_port: int,
    metrics_port: int | None = None,
    kubeconfig: str | None = None,
    tracking: TrackingSettings | None = None,
    ledger_namespace: str | None = None,
    ledger_retention: timedelta = timedelta(days=90),
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
    ece_timeouts: Timeouts | None = None,
) -> None:
    metrics = OperatorMetrics.create()
    kube = KubeApi.from_environment(
        kubeconfig, on_error=lambda operation: metrics.kubernetes_api_errors.labels(operation=operation).inc())
    connections = ConnectionResolver(
        kube, default_connection, max_connections=max(max_concurrent, 10),
        observe=lambda route, code: metrics.ece_requests.labels(route=route, code=code).inc(),
        timeouts=ece_timeouts)
    controller = Controller(
        kube,
        connections,
        notify=post_event,
        settings=ControllerSettings(max_concurrent=max_concurrent, tracking=tracking or TrackingSettings()),
        ledger=Ledger(kube, ledger_namespace, retention=ledger_retention) if ledger_namespace else None,
        metrics=metrics,
    )
    kopf_ready = ready_flag if ready_flag is not None else threading.Event()
    operator_task: asyncio.Task[None] | None = None

    def alive() -> bool:
        return operator_task is not None and not operator_task.done()

    async def api_reachable() -> tuple[bool, str]:
        await kube.list_restarts_probe()
        return True, "watching ResourceRestarts"

    readiness = Readiness(
        started=lambda: _is_set(kopf_ready),
        api_check=api_reachable,
        details=lambda: {"defaultConnection": default_connection.url if default_connection else None,
                         "runsInFlight": controller.active_runs, "plansTracked": controller.tracked_plans},
    )
    server = HealthServer(alive=alive, readiness=readiness, registry=metrics.registry)
    await server.start(host="0.0.0.0", health_port=None if health_port < 0 else health_port,  # noqa: S104
                       metrics_port=metrics_port if metrics_port is not None else
                       (None if health_port < 0 else health_port))
    if server.ports:
        logger.info("serving %s", ", ".join(f"{name} on port {port}" for name, port in server.ports.items()))
    if default_connection is not None:
        await connections.client(default_connection)  # its TLS context now, not during the first run
    # Everything imported and built so far lives as long as the process: move it out of the collector's sight,
    # so the full collections a burst of runs triggers do not scan it again each time (bench/README.md: garbage
    # collection 0.30 s -> 0.06 s of CPU over a 700-CR run).
    gc.collect()
    gc.freeze()
    try:
        operator_task = asyncio.create_task(kopf.operator(
            registry=build_registry(controller, kubeconfig=kubeconfig),
            settings=operator_settings(),
            standalone=True,
            clusterwide=clusterwide,
            namespaces=namespaces,
            stop_flag=stop_flag,
            ready_flag=kopf_ready,
        ))
        await operator_task
    finally:
        await server.stop()
        await kube.aclose()


def _is_set(flag: object) -> bool:
    is_set = getattr(flag, "is_set", None)
    return bool(is_set()) if callable(is_set) else bool(getattr(flag, "done", lambda: False)())
