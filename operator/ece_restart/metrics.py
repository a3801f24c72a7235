"""Prometheus metrics of the operator (prometheus-client), served on /metrics.

Labels are bounded: outcome, kind, route, HTTP code, phase and operation, never CR names or deployment ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

NAMESPACE = "ece_restart"
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


@dataclass(frozen=True)
class OperatorMetrics:
    registry: CollectorRegistry
    runs: Counter
    ece_requests: Counter
    retries: Counter
    attempts: Histogram
    run_duration: Histogram
    runs_in_flight: Gauge
    plans_tracked: Gauge
    plan_duration: Histogram
    kubernetes_api_errors: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> OperatorMetrics:
        registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            runs=Counter("runs", "Finished restart runs by outcome and resource kind.", ["outcome", "kind"],
                         namespace=NAMESPACE, registry=registry),
            ece_requests=Counter("ece_requests", "Requests to the ECE API by route and HTTP status code "
                                 "(code is 'none' when no answer arrived).", ["route", "code"],
                                 namespace=NAMESPACE, registry=registry),
            retries=Counter("retries", "Restart requests retried after a retryable failure.", ["kind"],
                            namespace=NAMESPACE, registry=registry),
            attempts=Histogram("run_attempts", "Restart requests sent per finished run.",
                               buckets=(1, 2, 3, 4, 5, 7, 10, 15, 20), namespace=NAMESPACE, registry=registry),
            run_duration=Histogram("run_duration_seconds", "Time from a run's first request to its end.", ["kind"],
                                   buckets=_DURATION_BUCKETS, namespace=NAMESPACE, registry=registry),
            runs_in_flight=Gauge("runs_in_flight", "Runs being driven now (requesting or waiting to retry).",
                                 namespace=NAMESPACE, registry=registry),
            plans_tracked=Gauge("plans_tracked", "Runs in phase InProgress whose ECE plan is being followed.",
                                namespace=NAMESPACE, registry=registry),
            plan_duration=Histogram("plan_tracking_duration_seconds",
                                    "Time from ECE accepting a restart to its plan's end, by result.", ["result"],
                                    buckets=_DURATION_BUCKETS, namespace=NAMESPACE, registry=registry),
            kubernetes_api_errors=Counter("kubernetes_api_errors", "Failed Kubernetes API calls of the operator's "
                                          "own client by operation.", ["operation"], namespace=NAMESPACE,
                                          registry=registry),
        )


METRIC_NAMES = (
    "ece_restart_runs_total",
    "ece_restart_ece_requests_total",
    "ece_restart_retries_total",
    "ece_restart_run_attempts",
    "ece_restart_run_duration_seconds",
    "ece_restart_runs_in_flight",
    "ece_restart_plans_tracked",
    "ece_restart_plan_tracking_duration_seconds",
    "ece_restart_kubernetes_api_errors_total",
)
