"""`ece-restart-operator status`: the ResourceRestarts of a namespace (or all) and their status, as a table."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

import kubernetes
from kubernetes.client.exceptions import ApiException

from ece_restart.crd import GROUP, PLURAL, VERSION
from ece_restart.kube import load_configuration
from ece_restart.plans import parse_time

MESSAGE_WIDTH: Final = 60
REQUEST_TIMEOUT: Final = (10, 30)  # connect, read (seconds)
_SERVICE_ACCOUNT_NAMESPACE: Final = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = ("List ResourceRestarts and their status through the Kubernetes API (the same columns as\n"
                          "`kubectl get rr`, plus the status message).")
    parser.epilog = ("exit codes:\n"
                     "  0  listed (also when there is no ResourceRestart)\n"
                     "  1  no usable kubeconfig, the Kubernetes API cannot be reached, or it refused the list\n")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", default=None, metavar="NS",
                       help="namespace to list (default: the kubeconfig context's namespace, else default)")
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="list ResourceRestarts of every namespace")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: in-cluster, KUBECONFIG, ~/.kube)")
    parser.add_argument("--output", "-o", default="table", choices=["table", "json"],
                        help="a table (default) or the list as JSON")


def default_namespace(kubeconfig: str | None) -> str:
    """The namespace `kubectl` would use: the in-cluster pod's, else the current context's, else `default`."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and os.path.isfile(_SERVICE_ACCOUNT_NAMESPACE):
        try:
            with open(_SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as stream:
                namespace = stream.read().strip()
            if namespace:
                return namespace
        except OSError:
            pass
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        _contexts, active = kubernetes.config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
        namespace = (active or {}).get("context", {}).get("namespace")
    except Exception:  # no kubeconfig, or no current context: fall back like kubectl
        return "default"
    return namespace if isinstance(namespace, str) and namespace else "default"


def list_restarts(configuration: kubernetes.client.Configuration, namespace: str | None) -> dict[str, Any]:
    """The API's list of ResourceRestarts (of one namespace, or all with None); items sorted by namespace, name."""
    api_client = kubernetes.client.ApiClient(configuration)
    try:
        api = kubernetes.client.CustomObjectsApi(api_client)
        if namespace is None:
            listed = api.list_cluster_custom_object(GROUP, VERSION, PLURAL, _request_timeout=REQUEST_TIMEOUT)
        else:
            listed = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                       _request_timeout=REQUEST_TIMEOUT)
    finally:
        api_client.close()  # type: ignore[no-untyped-call]
    result = cast(dict[str, Any], listed)
    items = [item for item in result.get("items", []) if isinstance(item, dict)]
    items.sort(key=lambda item: (str(item.get("metadata", {}).get("namespace", "")),
                                 str(item.get("metadata", {}).get("name", ""))))
    result["items"] = items
    return result


def age(created: Any, now: datetime) -> str:
    """kubectl-style short age: 42s, 5m12s, 37m, 3h4m, 20h, 3d4h, 12d, 2y."""
    moment = parse_time(created)
    if moment is None:
        return "<unknown>"
    seconds = max(0, int((now - moment).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())  # one line per row, whatever the message holds
    return text if len(text) <= width else text[: width - 1] + "…"


def rows(items: Sequence[Mapping[str, Any]], *, with_namespace: bool, now: datetime) -> list[tuple[str, ...]]:
    header = ("NAME", "DEPLOYMENT", "KIND", "REFID", "PHASE", "OUTCOME", "HTTP", "ATTEMPTS", "AGE", "MESSAGE")
    table: list[tuple[str, ...]] = [(("NAMESPACE",) if with_namespace else ()) + header]
    for item in items:
        metadata, spec, status = (item.get(key) or {} for key in ("metadata", "spec", "status"))
        http, attempts = status.get("httpStatus"), status.get("attempts")
        row = (
            str(metadata.get("name", "")), str(spec.get("deploymentId", "")), str(spec.get("resourceKind", "")),
            str(spec.get("refId", "")), str(status.get("phase", "")), str(status.get("outcome", "")),
            "" if http is None else str(http), "" if attempts is None else str(attempts),
            age(metadata.get("creationTimestamp"), now), _clip(str(status.get("message", "")), MESSAGE_WIDTH),
        )
        table.append(((str(metadata.get("namespace", "")),) if with_namespace else ()) + row)
    return table


def render(table: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in table)


def _reason(error: BaseException) -> str:
    """The innermost useful cause: `[Errno 111] Connection refused` rather than urllib3's retry wrapper."""
    reason = getattr(error, "reason", None)  # urllib3's MaxRetryError wraps the last connection error
    if isinstance(reason, BaseException):
        error = reason
    text = str(error)
    match = re.search(r"\[Errno -?\d+\][^\"')]*", text)
    return match.group(0).strip() if match else f"{type(error).__name__}: {text}"


def main(args: argparse.Namespace) -> int:
    namespace = None if args.all_namespaces else (args.namespace or default_namespace(args.kubeconfig))
    try:
        configuration = load_configuration(args.kubeconfig)
    except (kubernetes.config.ConfigException, OSError) as error:
        print(f"error: no usable Kubernetes configuration: {error}", file=sys.stderr)
        return 1
    try:
        listed = list_restarts(configuration, namespace)
    except ApiException as error:
        reason = f"HTTP {error.status} {error.reason}"
        if error.status == 404:
            reason += " (is the ResourceRestart CRD installed?)"
        print(f"error: listing ResourceRestarts at {configuration.host} failed: {reason}", file=sys.stderr)
        return 1
    except Exception as error:  # urllib3 connection errors, TLS, DNS: the API server cannot be reached
        print(f"error: the Kubernetes API at {configuration.host} cannot be reached: {_reason(error)}",
              file=sys.stderr)
        return 1
    if args.output == "json":
        print(json.dumps(listed, indent=2, sort_keys=True))
        return 0
    items = listed["items"]
    if not items:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        print(f"No ResourceRestarts found in {where}.", file=sys.stderr)
        return 0
    print(render(rows(items, with_namespace=namespace is None, now=datetime.now(UTC))))
    return 0
