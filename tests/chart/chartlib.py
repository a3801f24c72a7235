"""Shared helpers of the chart tests: render the chart with the real Helm engine, the values matrix, file paths.

helm-python-sdk bundles the Helm v4 SDK (through ctypes), so no helm binary or cluster is needed. Rendering is
like `helm template` in install mode; the CRD is a regular template (templates/crd.yaml), so it is included.
"""

from __future__ import annotations

import copy
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "charts" / "ece-restart-operator"
CRD_FILE = CHART_DIR / "files" / "crd.yaml"

# The chart's kubeVersion floor (Chart.yaml) and the newest Kubernetes the validators know.
MIN_KUBE_VERSION = "1.29.0"

RELEASE_NAMESPACE = "ece-ops"
ECE_URL = "https://ece.example.com:12443"


@dataclass(frozen=True, eq=False)  # hashed by identity, so renderings can be cached per case
class Case:
    """One entry of the values matrix, rendered in `namespace` (release name: see release_name)."""

    id: str
    values: dict[str, Any] = field(default_factory=dict)
    namespace: str = RELEASE_NAMESPACE


MATRIX: tuple[Case, ...] = (
    Case("defaults"),
    Case(
        "namespaced-apikey-ca-secret",
        {
            "watchNamespaces": ["team-a", "team-b"],
            "ece": {"url": ECE_URL, "auth": {"type": "apiKey", "existingSecret": "ece-credentials"},
                    "caBundle": {"secret": {"name": "ece-ca", "key": "bundle.pem"}}},
        },
    ),
    Case(
        "clusterwide-basic-ca-configmap",
        {
            "clusterWide": True,
            "ece": {"url": ECE_URL, "auth": {"type": "basic", "existingSecret": "ece-user"},
                    "caBundle": {"configMap": {"name": "ece-ca"}}},
        },
    ),
    Case(
        "metrics-servicemonitor-networkpolicy-digest",
        {
            "image": {"digest": "sha256:" + "0123456789abcdef" * 4},
            "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
            "networkPolicy": {
                "enabled": True,
                "apiServerCIDRs": ["10.0.0.10/32"],
                "eceCIDRs": ["192.0.2.10/32", "2001:db8::10/128"],
                "metricsNamespaceSelector": {"kubernetes.io/metadata.name": "monitoring"},
            },
            "rbac": {"connectionSecrets": {"names": ["ece-team-a"]}},
        },
    ),
    Case(
        "everything-else",
        {
            "crds": {"install": False},
            "ece": {"url": ECE_URL, "auth": {"existingSecret": "ece-credentials"}, "insecureSkipVerify": True},
            "metrics": {"enabled": False},
            "rbac": {"connectionSecrets": {"enabled": False}},
            "serviceAccount": {"name": "custom-sa", "annotations": {"example.com/role": "ece"}},
            "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
                         {"name": "EXTRA", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
            "imagePullSecrets": [{"name": "registry"}],
            "podAnnotations": {"example.com/a": "b"},
            "podLabels": {"team": "ops"},
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
            "priorityClassName": "system-cluster-critical",
            "securityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
            "logLevel": "debug",
            "logFormat": "text",
            "maxConcurrent": 8,
        },
        namespace="other-ns",
    ),
)


@cache
def chart() -> helm.Chart:
    return helm.Chart.load(str(CHART_DIR))


def render_templates(values: Mapping[str, Any] | None = None, *, name: str = "rr", namespace: str = RELEASE_NAMESPACE
                     ) -> dict[str, str]:
    """Template path -> rendered text (NOTES.txt included). Raises HelmValuesError/HelmRenderError on bad values."""
    return chart().render(copy.deepcopy(dict(values or {})), name=name, namespace=namespace, is_install=True)


def objects_of(rendered: Mapping[str, str]) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(rendered):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(rendered[path]) if doc)
    return objects


def render(values: Mapping[str, Any] | None = None, *, name: str = "rr", namespace: str = RELEASE_NAMESPACE
           ) -> list[dict[str, Any]]:
    """The rendered Kubernetes objects."""
    return objects_of(render_templates(values, name=name, namespace=namespace))


def release_name(case: Case) -> str:
    return f"rr-{MATRIX.index(case)}"


@cache
def render_case(case: Case) -> dict[str, str]:
    return render_templates(case.values, name=release_name(case), namespace=case.namespace)


def case_objects(case: Case) -> list[dict[str, Any]]:
    return copy.deepcopy(objects_of(render_case(case)))


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [obj for obj in objects if obj["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


@cache
def generator() -> ModuleType:
    """scripts/generate-manifests.py as a module (its file name is not importable)."""
    spec = importlib.util.spec_from_file_location("generate_manifests", ROOT / "scripts" / "generate-manifests.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
