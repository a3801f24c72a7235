"""Simulator state: the example file, YAML loading and its errors, the Python mutators."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from ece_restart.simulator import (
    EXAMPLE_DEPLOYMENT_ID,
    EXAMPLE_STOPPED_DEPLOYMENT_ID,
    KINDS,
    ManualClock,
    Simulator,
    SimulatorState,
    StateError,
)
from tests.support.simulator_fixtures import AUTH_HEADERS, MakeSimulator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILE = ROOT / "examples" / "simulator" / "state.yaml"
PACKAGED_FILE = ROOT / "operator" / "ece_restart" / "simulator" / "example_state.yaml"


def test_examples_file_is_identical_to_the_packaged_default() -> None:
    assert EXAMPLE_FILE.read_bytes() == PACKAGED_FILE.read_bytes()
    assert SimulatorState.example_yaml() == EXAMPLE_FILE.read_text(encoding="utf-8")


def test_example_state_contents() -> None:
    state = SimulatorState.example()
    assert set(state.deployments) == {EXAMPLE_DEPLOYMENT_ID, EXAMPLE_STOPPED_DEPLOYMENT_ID}
    for deployment_id, deployment in state.deployments.items():
        assert re.fullmatch(r"[0-9a-f]{32}", deployment_id)
        for resource in deployment.resources:
            assert re.fullmatch(r"[0-9a-f]{32}", resource.id)
    production = state.deployment(EXAMPLE_DEPLOYMENT_ID)
    assert {r.kind for r in production.resources} == set(KINDS)
    assert state.resource(EXAMPLE_DEPLOYMENT_ID, "elasticsearch", "main-elasticsearch").instances == 3
    assert state.resource(EXAMPLE_STOPPED_DEPLOYMENT_ID, "kibana", "main-kibana").status == "stopped"
    assert state.resource(EXAMPLE_DEPLOYMENT_ID, "kibana", "_main").ref_id == "main-kibana"


def test_from_file_and_every_documented_key(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    path.write_text(
        """
deployments:
  - id: 0123456789abcdef0123456789abcdef
    name: custom
    resources:
      - kind: integrations_server
        ref_id: apm-and-fleet
        id: fedcba9876543210fedcba9876543210
        name: fleet
        status: started
        version: 8.17.0
        region: us-east-1
        elasticsearch_cluster_ref_id: es
        instances: 2
        zones: 2
        plan_seconds: 4
        plan_outcome: error
        fail_next_plans: 1
        failure_type: ClusterFailure:InstanceDidNotStartWhileWaitingForRunning
        failure_message: did not start
        restart_status: rebooting
        pending_visibility_delay: 1.5
        vanished: false
        initial_plan: success
      - kind: elasticsearch
        ref_id: es
  - name: derived-id
    resources: []
""",
        encoding="utf-8",
    )
    state = SimulatorState.from_file(path)
    resource = state.resource("0123456789abcdef0123456789abcdef", "integrations_server", "apm-and-fleet")
    assert (resource.id, resource.region, resource.plan_seconds, resource.restart_status) == (
        "fedcba9876543210fedcba9876543210",
        "us-east-1",
        4,
        "rebooting",
    )
    derived = next(d for d in state.deployments.values() if d.name == "derived-id")
    assert re.fullmatch(r"[0-9a-f]{32}", derived.id)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list", "mapping"),
        ("deployments: {}", "deployments"),
        ("deployments: []\nextra: 1", "unknown top-level"),
        ("deployments: [{id: NOT-HEX, name: x}]", "32 lowercase hex"),
        ("deployments: [{id: " + "A" * 32 + "}]", "32 lowercase hex"),
        ("deployments: [{name: x, colour: red}]", "unknown keys"),
        ("deployments: [{name: x, resources: [{kind: kibana}]}]", "kind and ref_id"),
        ("deployments: [{name: x, resources: [{kind: agent, ref_id: a}]}]", "unknown resource kind"),
        ("deployments: [{name: x, resources: [{kind: kibana, ref_id: a, status: melting}]}]", "status"),
        ("deployments: [{name: x, resources: [{kind: kibana, ref_id: a, colour: red}]}]", "unknown keys"),
        ("deployments: [{name: x, resources: [{kind: kibana, ref_id: a}, {kind: kibana, ref_id: a}]}]", "already"),
        ("deployments: [{name: x}, {name: x}]", "duplicate"),
        ("deployments: [{name: x, resources: [{kind: kibana, ref_id: a/b}]}]", "ref_id"),
        ("deployments: [\n  - {", "invalid YAML"),
    ],
)
def test_invalid_state_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(StateError, match=message):
        SimulatorState.from_yaml(text)


def test_python_api_builds_and_mutates_state() -> None:
    state = SimulatorState()
    deployment = state.add_deployment(
        "b" * 32,
        "built",
        resources=[{"kind": "kibana", "ref_id": "k"}, {"kind": "elasticsearch", "ref_id": "es"}],
    )
    assert deployment.find("kibana", "k") is not None
    assert state.resource("b" * 32, "kibana", "k").elasticsearch_cluster_ref_id == "es"
    resource = state.resource("b" * 32, "kibana", "k")
    resource.mark_vanished().set_stopped().set_plan_duration(7).fail_next_plan(2, failure_type="X:Y")
    assert (resource.vanished, resource.status, resource.plan_seconds, resource.fail_next_plans) == (
        True,
        "stopped",
        7.0,
        2,
    )
    with pytest.raises(KeyError):
        state.resource("b" * 32, "kibana", "nope")
    with pytest.raises(ValueError):
        resource.set_plan_duration(-1)
    state.remove_deployment("b" * 32)
    assert state.deployments == {}


async def test_state_added_after_start_is_served(make_simulator: MakeSimulator) -> None:
    sim = await make_simulator(state=SimulatorState())
    sim.state.add_deployment("c" * 32, "late", resources=[{"kind": "apm", "ref_id": "main-apm"}])
    async with httpx.AsyncClient(base_url=sim.url, headers=AUTH_HEADERS) as http:
        body = (await http.get(f"/api/v1/deployments/{'c' * 32}", params={"show_plan_history": "true"})).json()
        restart = await http.post(f"/api/v1/deployments/{'c' * 32}/apm/main-apm/_restart")
    assert body["resources"]["apm"][0]["info"]["plan_info"]["current"]["healthy"] is True
    assert restart.status_code == 202


def test_simulator_repr_and_url_when_not_serving() -> None:
    sim = Simulator(api_keys={"secret-key-xyz"}, users={"u": "secret-pw-xyz"}, clock=ManualClock())
    assert "secret" not in repr(sim)
    with pytest.raises(RuntimeError):
        _ = sim.url
    with pytest.raises(TypeError):
        Simulator(api_keys={"k"}).advance(1)
    with pytest.raises(ValueError):
        Simulator(api_keys={"k"}, users={"u": "p"}, elevated_users={"other"})
