"""Property test: any sequence of restarts, cancels, deletes and clock moves keeps the plan model consistent.

Runs over real loopback HTTP (the simulator in a thread, a sync httpx client); every response is contract-checked.
"""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ece_restart.simulator import EXAMPLE_DEPLOYMENT_ID, ManualClock, Simulator, SimulatorState
from tests.support.simulator_fixtures import API_KEY, AUTH_HEADERS, contract_problems

DEP = EXAMPLE_DEPLOYMENT_ID
TARGETS = [("kibana", "main-kibana"), ("elasticsearch", "main-elasticsearch")]

operation = st.one_of(
    st.tuples(st.just("restart"), st.sampled_from(TARGETS), st.booleans()),
    st.tuples(st.just("delete"), st.sampled_from(TARGETS), st.booleans()),
    st.tuples(st.just("advance"), st.sampled_from([0.0, 1.0, 4.9, 5.0, 12.0]), st.just(False)),
    st.tuples(st.just("fail_next"), st.sampled_from(TARGETS), st.just(False)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=12))
def test_plan_model_invariants(operations: list[tuple[object, object, bool]]) -> None:
    clock = ManualClock()
    sim = Simulator(SimulatorState.example(), api_keys={API_KEY}, clock=clock, plan_seconds=5.0)
    accepted = dict.fromkeys(TARGETS, 0)
    with sim.serving_in_thread() as url, httpx.Client(base_url=url, headers=AUTH_HEADERS) as http:
        for name, argument, flag in operations:
            if name == "advance":
                assert isinstance(argument, float)
                clock.advance(argument)
                continue
            assert isinstance(argument, tuple)
            kind, ref_id = argument
            path = f"/api/v1/deployments/{DEP}/{kind}/{ref_id}"
            if name == "fail_next":
                sim.resource(DEP, kind, ref_id).fail_next_plan()
                continue
            pending = sim.resource(DEP, kind, ref_id).pending
            pending_before = pending is not None and clock() < pending.due_at
            if name == "restart":
                response = http.post(path + "/_restart", params={"cancel_pending": "true" if flag else "false"})
                if pending_before and not flag:
                    assert response.status_code == 422
                else:
                    assert response.status_code == 202
                    accepted[(kind, ref_id)] += 1
            else:
                response = http.delete(path + "/plan/pending", params={"ignore_missing": "true" if flag else "false"})
                assert response.status_code == (200 if pending_before or flag else 400)
            info = http.get(path, params={"show_plan_history": "true", "show_plan_logs": "true"}).json()["info"]
            plan_info = info["plan_info"]
            resource = sim.resource(DEP, kind, ref_id)
            # At most one pending plan; status follows it; history is ordered and ends with what ended last.
            assert ("pending" in plan_info) == (resource.pending is not None)
            assert info["status"] == ("restarting" if "pending" in plan_info else "started")
            ids = [attempt["plan_attempt_id"] for attempt in plan_info["history"]]
            assert len(ids) == len(set(ids))
            assert plan_info["current"]["plan_attempt_id"] in ids
            assert plan_info["healthy"] == plan_info["history"][-1]["healthy"]
            for attempt in plan_info["history"]:
                assert attempt["plan_attempt_log"][-1]["step_id"] == "plan-completed"
                assert (attempt["plan_attempt_log"][-1]["status"] == "success") == attempt["healthy"]
            if "pending" in plan_info:
                assert plan_info["pending"]["plan_attempt_log"][0]["step_id"] == "plan-validator"
    for (kind, ref_id), count in accepted.items():
        assert sim.accepted_restarts(DEP, kind, ref_id) == count
    assert contract_problems(sim.calls) == []
