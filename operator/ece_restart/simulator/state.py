"""The simulated ECE world: deployments, their resources, and each resource's plan attempts.

Everything here is plain data plus small mutators; the plan lifecycle (start, settle, cancel) lives in `plans.py` and
the JSON shapes in `views.py`. State can be built in Python or loaded from YAML (`SimulatorState.from_yaml`); the
YAML format is documented in the packaged `example_state.yaml` (identical to `examples/simulator/state.yaml`).
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any, Literal, cast

import yaml

ELASTICSEARCH = "elasticsearch"
STATELESS_KINDS: tuple[str, ...] = ("kibana", "apm", "appsearch", "enterprise_search", "integrations_server")
KINDS: tuple[str, ...] = (ELASTICSEARCH, *STATELESS_KINDS)

Status = Literal["started", "stopped"]
Outcome = Literal["success", "error"]
Result = Literal["success", "error", "cancelled"]

DEPLOYMENT_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_FAILURE_TYPE = "InfrastructureFailure:TimeoutExceeded"
DEFAULT_FAILURE_MESSAGE = "Plan change failed: Timeout exceeded. Please adjust plan timeout and/or retry plan."
DEFAULT_VERSION = "8.15.3"

_EXAMPLE_RESOURCE = "example_state.yaml"


class StateError(ValueError):
    """Invalid simulator state (bad YAML, unknown kind, duplicate ids, ...)."""


def derived_id(*parts: str) -> str:
    """A stable 32-char lowercase hex id derived from `parts` (used for resource ids not given explicitly)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


@dataclass
class PlanAttempt:
    """One plan attempt of a resource: pending while `result is None`, then success, error or cancelled.

    Times are clock readings (see `clock.py`); `views.py` renders them as ISO timestamps.
    """

    attempt_id: str
    plan: dict[str, Any]
    action: str
    started_at: float
    duration: float
    outcome: Outcome
    steps: tuple[str, ...]
    visible_at: float
    failure_type: str = DEFAULT_FAILURE_TYPE
    failure_message: str = DEFAULT_FAILURE_MESSAGE
    user_id: str | None = None
    remote_address: str | None = None
    ended_at: float | None = None
    result: Result | None = None
    superseded_at: float | None = None  # plan_end_time: when this attempt stopped being current
    cancel_message: str | None = None
    from_stopped: bool = False  # a start of an inactive resource rather than a reboot of an active one

    @property
    def pending(self) -> bool:
        return self.result is None

    @property
    def due_at(self) -> float:
        return self.started_at + self.duration


@dataclass
class Resource:
    """One deployment resource (`kind` + `ref_id`) and its plan history.

    Knobs a test may change at any time (all per resource):
      - `status`: `started` or `stopped` (a restart of a stopped resource starts it with the last successful plan);
      - `vanished`: the record is gone: restart/GET/DELETE answer 500 `deployments.deployment_resource_no_longer_exists`
        and the resource is left out of `GET /deployments/{id}`;
      - `plan_seconds`: duration of the next plans (None = the simulator default);
      - `plan_outcome`: `success` or `error` for every future plan; `fail_next_plans`: the next N plans fail;
      - `failure_type` / `failure_message`: what a failed plan reports;
      - `restart_status`: the status shown while a restart plan runs (`restarting`, or `rebooting`);
      - `pending_visibility_delay`: seconds after a 202 before the pending plan shows in GETs (None = default).
    """

    kind: str
    ref_id: str
    id: str = ""
    name: str = ""
    status: Status = "started"
    version: str = DEFAULT_VERSION
    region: str = "ece-region"
    elasticsearch_cluster_ref_id: str = "main-elasticsearch"
    instances: int = 1
    zones: int = 1
    plan_seconds: float | None = None
    plan_outcome: Outcome = "success"
    fail_next_plans: int = 0
    failure_type: str = DEFAULT_FAILURE_TYPE
    failure_message: str = DEFAULT_FAILURE_MESSAGE
    restart_status: Literal["restarting", "rebooting"] = "restarting"
    pending_visibility_delay: float | None = None
    vanished: bool = False
    initial_plan: Literal["success", "error", "none"] = "success"
    history: list[PlanAttempt] = field(default_factory=list)
    current: PlanAttempt | None = None
    pending: PlanAttempt | None = None
    metadata_version: int = 1
    restart_count: int = 0  # restart plans accepted (each 202 from a `_restart` call counts once)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StateError(f"unknown resource kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if not self.ref_id or "/" in self.ref_id:
            raise StateError(f"invalid ref_id {self.ref_id!r}")
        if self.status not in ("started", "stopped"):
            raise StateError(f"status must be started or stopped, not {self.status!r}")
        if self.plan_outcome not in ("success", "error"):
            raise StateError(f"plan_outcome must be success or error, not {self.plan_outcome!r}")
        if self.restart_status not in ("restarting", "rebooting"):
            raise StateError(f"restart_status must be restarting or rebooting, not {self.restart_status!r}")
        if self.initial_plan not in ("success", "error", "none"):
            raise StateError(f"initial_plan must be success, error or none, not {self.initial_plan!r}")
        if self.instances < 0 or self.zones < 1:
            raise StateError("instances must be >= 0 and zones >= 1")

    # -- mutators (tests call these directly) ---------------------------------------------------------------------

    def mark_vanished(self, vanished: bool = True) -> Resource:
        """The resource record disappears (500 `deployments.deployment_resource_no_longer_exists`)."""
        self.vanished = vanished
        return self

    def set_stopped(self, stopped: bool = True) -> Resource:
        """Make the resource inactive (`stopped`) or active (`started`)."""
        self.status = "stopped" if stopped else "started"
        return self

    def set_plan_duration(self, seconds: float) -> Resource:
        """Future plans of this resource take `seconds` on the simulator clock."""
        if seconds < 0:
            raise ValueError("plan duration must be >= 0")
        self.plan_seconds = float(seconds)
        return self

    def fail_next_plan(
        self, count: int = 1, *, failure_type: str | None = None, message: str | None = None
    ) -> Resource:
        """The next `count` plans of this resource end in error (`plan-completed` with status `error`)."""
        self.fail_next_plans += count
        if failure_type is not None:
            self.failure_type = failure_type
        if message is not None:
            self.failure_message = message
        return self

    # -- queries ----------------------------------------------------------------------------------------------------

    @property
    def last_successful(self) -> PlanAttempt | None:
        for attempt in reversed(self.history):
            if attempt.result == "success":
                return attempt
        return None


@dataclass
class Deployment:
    id: str
    name: str
    resources: list[Resource] = field(default_factory=list)
    alias: str | None = None

    def __post_init__(self) -> None:
        if not DEPLOYMENT_ID_PATTERN.match(self.id):
            raise StateError(f"deployment id {self.id!r} is not 32 lowercase hex characters")

    def find(self, kind: str, ref_id: str) -> Resource | None:
        """The resource of `kind` with `ref_id`; `_main` means the only resource of that kind (None if 0 or 2+)."""
        of_kind = [resource for resource in self.resources if resource.kind == kind]
        if ref_id == "_main":
            return of_kind[0] if len(of_kind) == 1 else None
        return next((resource for resource in of_kind if resource.ref_id == ref_id), None)

    def add_resource(self, kind: str, ref_id: str, **options: Any) -> Resource:
        if any(r.kind == kind and r.ref_id == ref_id for r in self.resources):
            raise StateError(f"deployment {self.id} already has a {kind} resource {ref_id!r}")
        options.setdefault("id", derived_id(self.id, kind, ref_id))
        options.setdefault("name", self.name)
        if kind != ELASTICSEARCH and "elasticsearch_cluster_ref_id" not in options:
            es = next((r for r in self.resources if r.kind == ELASTICSEARCH), None)
            if es is not None:
                options["elasticsearch_cluster_ref_id"] = es.ref_id
        resource = Resource(kind=kind, ref_id=ref_id, **options)
        self.resources.append(resource)
        return resource

    @property
    def elasticsearch(self) -> Resource | None:
        return next((r for r in self.resources if r.kind == ELASTICSEARCH), None)


class SimulatorState:
    """All deployments the simulator knows. Use the mutators; the server holds `lock` while answering."""

    def __init__(self, deployments: Iterable[Deployment] = ()) -> None:
        self.lock = threading.RLock()
        self.deployments: dict[str, Deployment] = {}
        for deployment in deployments:
            self._insert(deployment)

    def _insert(self, deployment: Deployment) -> None:
        if deployment.id in self.deployments:
            raise StateError(f"duplicate deployment id {deployment.id}")
        self.deployments[deployment.id] = deployment

    # -- building ---------------------------------------------------------------------------------------------------

    def add_deployment(
        self,
        deployment_id: str | None = None,
        name: str = "deployment",
        *,
        alias: str | None = None,
        resources: Iterable[Mapping[str, Any]] = (),
    ) -> Deployment:
        """Add a deployment; `resources` are dicts with at least `kind` and `ref_id` (other `Resource` fields optional).

        Without an id, one is derived from the name. Returns the new `Deployment` (use `add_resource` to extend it).
        """
        with self.lock:
            deployment = Deployment(id=deployment_id or derived_id("deployment", name), name=name, alias=alias)
            # Elasticsearch first, so stateless resources default their elasticsearch_cluster_ref_id to it.
            ordered = sorted(resources, key=lambda spec: spec.get("kind") != ELASTICSEARCH)
            for spec in ordered:
                options = dict(spec)
                kind, ref_id = str(options.pop("kind")), str(options.pop("ref_id"))
                deployment.add_resource(kind, ref_id, **options)
            self._insert(deployment)
            return deployment

    def deployment(self, deployment_id: str) -> Deployment:
        """The deployment with this id (KeyError if unknown)."""
        return self.deployments[deployment_id]

    def resource(self, deployment_id: str, kind: str, ref_id: str) -> Resource:
        """The resource (KeyError if unknown); `_main` resolves like the API does."""
        found = self.deployments[deployment_id].find(kind, ref_id)
        if found is None:
            raise KeyError(f"{deployment_id}/{kind}/{ref_id}")
        return found

    def remove_deployment(self, deployment_id: str) -> None:
        with self.lock:
            del self.deployments[deployment_id]

    def copy(self) -> SimulatorState:
        """A deep, independent copy (used to reset the simulator to its initial state)."""
        with self.lock:
            return SimulatorState(copy.deepcopy(list(self.deployments.values())))

    def all_resources(self) -> Iterator[tuple[Deployment, Resource]]:
        for deployment in self.deployments.values():
            for resource in deployment.resources:
                yield deployment, resource

    # -- loading ----------------------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any) -> SimulatorState:
        """Build a state from the YAML document structure (`{"deployments": [...]}`)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("deployments"), list):
            raise StateError("simulator state must be a mapping with a 'deployments' list")
        unknown_top = set(data) - {"deployments"}
        if unknown_top:
            raise StateError(f"unknown top-level keys: {', '.join(sorted(map(str, unknown_top)))}")
        state = cls()
        allowed = set(Resource.__dataclass_fields__) - {
            "history",
            "current",
            "pending",
            "metadata_version",
            "restart_count",
        }
        for index, entry in enumerate(cast(list[Any], data["deployments"])):
            if not isinstance(entry, Mapping):
                raise StateError(f"deployments[{index}] must be a mapping")
            unknown = set(entry) - {"id", "name", "alias", "resources"}
            if unknown:
                raise StateError(f"deployments[{index}]: unknown keys {', '.join(sorted(map(str, unknown)))}")
            specs = entry.get("resources") or []
            if not isinstance(specs, list):
                raise StateError(f"deployments[{index}].resources must be a list")
            for position, spec in enumerate(specs):
                if not isinstance(spec, Mapping) or "kind" not in spec or "ref_id" not in spec:
                    raise StateError(f"deployments[{index}].resources[{position}] needs kind and ref_id")
                bad = set(spec) - allowed
                if bad:
                    raise StateError(
                        f"deployments[{index}].resources[{position}]: unknown keys {', '.join(sorted(map(str, bad)))}"
                    )
            try:
                state.add_deployment(
                    str(entry["id"]) if "id" in entry else None,
                    str(entry.get("name", f"deployment-{index}")),
                    alias=entry.get("alias"),
                    resources=specs,
                )
            except TypeError as error:  # wrong value types reach the dataclass
                raise StateError(f"deployments[{index}]: {error}") from error
        return state

    @classmethod
    def from_yaml(cls, text: str) -> SimulatorState:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise StateError(f"invalid YAML: {error}") from error
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | Path) -> SimulatorState:
        return cls.from_yaml(Path(path).read_text(encoding="utf-8"))

    @staticmethod
    def example_yaml() -> str:
        """The packaged example state (the same text as `examples/simulator/state.yaml`)."""
        return (importlib_resources.files(__package__ or "ece_restart.simulator") / _EXAMPLE_RESOURCE).read_text(
            encoding="utf-8"
        )

    @classmethod
    def example(cls) -> SimulatorState:
        """Two deployments: `EXAMPLE_DEPLOYMENT_ID` (elasticsearch, kibana, apm, integrations_server,
        enterprise_search, appsearch) and `EXAMPLE_STOPPED_DEPLOYMENT_ID` (elasticsearch + a stopped kibana)."""
        return cls.from_yaml(cls.example_yaml())


# Ids of the packaged example state (kept in sync with example_state.yaml by a test).
EXAMPLE_DEPLOYMENT_ID = "3f2a6c1e9b7d4a5c8e0f1a2b3c4d5e6f"
EXAMPLE_STOPPED_DEPLOYMENT_ID = "9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49"
