"""Which resources the sandbox serves: the built-in core types Kopf and kubectl need, plus installed CRDs.

A `ResourceType` is one group/version/plural. CRDs are installed by creating a CustomResourceDefinition object
(in-process or over HTTP, like `kubectl apply -f crd.yaml`); the registry turns each served version into a type.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ece_restart.sandbox.errors import ApiError, bad_request
from ece_restart.sandbox.rules import RuleSet

ALL_VERBS: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")
CRD_GROUP = "apiextensions.k8s.io"

# Field selectors every type supports, as in the apiserver's generic registry.
GENERIC_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True)
class PrinterColumn:
    """One `additionalPrinterColumns` entry (or a built-in type's column)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    """One served group/version/resource and everything the server needs to know about it."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status_subresource: bool = False
    schema: Mapping[str, Any] | None = None
    rules: RuleSet | None = None
    columns: tuple[PrinterColumn, ...] = ()
    field_selectors: frozenset[str] = GENERIC_FIELDS
    custom: bool = False
    # Several types can share one storage (events and events.k8s.io events): the stored form is the core one.
    storage_group: str | None = None
    storage_plural: str | None = None
    has_generation: bool = False
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def storage(self) -> tuple[str, str]:
        """The key of the shared object collection."""
        group = self.storage_group if self.storage_group is not None else self.group
        return (group, self.storage_plural or self.plural)

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _event_columns(*, message: str) -> tuple[PrinterColumn, ...]:
    """kubectl's columns for Events; core/v1 keeps the text in `message`, events.k8s.io/v1 in `note`."""
    return (
        PrinterColumn("Last Seen", "string", "#lastseen", "Time since the event was last seen"),
        PrinterColumn("Type", "string", ".type", "Type of the event"),
        PrinterColumn("Reason", "string", ".reason", "Reason of the event"),
        PrinterColumn("Object", "string", "#object", "The object the event is about"),
        PrinterColumn("Message", "string", message, "The message of the event"),
    )


def _age(name: str = "Age") -> PrinterColumn:
    return PrinterColumn(name, "date", ".metadata.creationTimestamp", "CreationTimestamp is a timestamp")


EVENT_FIELDS = GENERIC_FIELDS | {
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
}

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        status_subresource=True,
        columns=(
            PrinterColumn("Status", "string", ".status.phase", "The status of the namespace"),
            _age(),
        ),
        field_selectors=GENERIC_FIELDS | {"status.phase"},
    ),
    ResourceType(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        namespaced=True,
        short_names=("cm",),
        columns=(PrinterColumn("Data", "string", "#data", "Number of data entries"), _age()),
    ),
    ResourceType(
        "",
        "v1",
        "secrets",
        "secret",
        "Secret",
        namespaced=True,
        columns=(
            PrinterColumn("Type", "string", ".type", "The type of the secret"),
            PrinterColumn("Data", "string", "#data", "Number of data entries"),
            _age(),
        ),
        field_selectors=GENERIC_FIELDS | {"type"},
    ),
    ResourceType(
        "",
        "v1",
        "events",
        "event",
        "Event",
        namespaced=True,
        short_names=("ev",),
        columns=_event_columns(message=".message"),
        field_selectors=EVENT_FIELDS,
    ),
    ResourceType(
        "events.k8s.io",
        "v1",
        "events",
        "event",
        "Event",
        namespaced=True,
        short_names=("ev",),
        columns=_event_columns(message=".note"),
        field_selectors=GENERIC_FIELDS | {"reason", "type", "regarding.kind", "regarding.name", "regarding.namespace"},
        storage_group="",
        storage_plural="events",
    ),
    ResourceType(
        "coordination.k8s.io",
        "v1",
        "leases",
        "lease",
        "Lease",
        namespaced=True,
        columns=(PrinterColumn("Holder", "string", ".spec.holderIdentity", "The holder of the lease"), _age()),
    ),
    ResourceType(
        CRD_GROUP,
        "v1",
        "customresourcedefinitions",
        "customresourcedefinition",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        status_subresource=True,
        columns=(PrinterColumn("Created At", "date", ".metadata.creationTimestamp", "Creation time"),),
        has_generation=True,
    ),
)


def _columns(version: Mapping[str, Any]) -> tuple[PrinterColumn, ...]:
    columns = []
    for column in version.get("additionalPrinterColumns") or ():
        columns.append(
            PrinterColumn(
                name=str(column["name"]),
                type=str(column.get("type", "string")),
                json_path=str(column["jsonPath"]),
                description=str(column.get("description", "")),
                priority=int(column.get("priority", 0)),
                format=str(column.get("format", "")),
            )
        )
    if not columns:
        columns.append(_age())
    return tuple(columns)


def types_from_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """One `ResourceType` per served version of a CRD; raises 422-worthy errors for unusable CRDs."""
    spec = crd.get("spec")
    if not isinstance(spec, Mapping):
        raise bad_request("CustomResourceDefinition has no spec")
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (isinstance(group, str) and isinstance(plural, str) and isinstance(kind, str)):
        raise bad_request("CustomResourceDefinition needs spec.group, spec.names.plural and spec.names.kind")
    expected_name = f"{plural}.{group}"
    if (crd.get("metadata") or {}).get("name") != expected_name:
        message = f'metadata.name: Invalid value: must be spec.names.plural+"."+spec.group: "{expected_name}"'
        raise ApiError(422, "Invalid", message)
    types = []
    for version in spec.get("versions") or ():
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        subresources = version.get("subresources") or {}
        types.append(
            ResourceType(
                group=group,
                version=str(version["name"]),
                plural=plural,
                singular=str(names.get("singular") or kind.lower()),
                kind=kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in subresources,
                schema=schema,
                rules=RuleSet.compile(schema) if schema else None,
                columns=_columns(version),
                custom=True,
                has_generation=True,
                description=str((schema or {}).get("description", "")),
            )
        )
    return types


class Registry:
    """The served types, by (group, version, plural); thread-safe because CRDs can be installed at any time."""

    def __init__(self, builtin: Iterable[ResourceType] = BUILTIN_TYPES) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for resource_type in builtin:
            self._types[(resource_type.group, resource_type.version, resource_type.plural)] = resource_type

    def install(self, types: Iterable[ResourceType]) -> None:
        with self._lock:
            for resource_type in types:
                self._types[(resource_type.group, resource_type.version, resource_type.plural)] = resource_type

    def uninstall(self, group: str, plural: str) -> None:
        with self._lock:
            for key in [key for key in self._types if key[0] == group and key[2] == plural]:
                del self._types[key]

    def find(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def find_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for resource_type in self._types.values():
                if (resource_type.group, resource_type.version, resource_type.kind) == (group, version, kind):
                    return resource_type
        return None

    def find_plural(self, plural: str, group: str | None = None) -> ResourceType | None:
        """The first type with this plural (and group, if given): for test helpers that do not name a version."""
        with self._lock:
            for resource_type in self._types.values():
                if resource_type.plural == plural and (group is None or resource_type.group == group):
                    return resource_type
        return None

    def find_storage(self, key: tuple[str, str]) -> ResourceType | None:
        """The type that owns a storage collection (not a second view of it)."""
        with self._lock:
            for resource_type in self._types.values():
                if resource_type.storage == key == (resource_type.group, resource_type.plural):
                    return resource_type
        return None

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """Group name -> served versions, core group ("") included, in a stable order."""
        result: dict[str, list[str]] = {}
        for resource_type in self.all():
            versions = result.setdefault(resource_type.group, [])
            if resource_type.version not in versions:
                versions.append(resource_type.version)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self.all() if t.group == group and t.version == version]
