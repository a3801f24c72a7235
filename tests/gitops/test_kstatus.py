"""kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status) as Flux and kpt compute it, for every ResourceRestart phase."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ece_restart.kstatus import KStatus, KStatusResult, compute
from ece_restart.resource_restart import Phase
from tests.gitops.phases import Scenario, condition_status, new_object, scenarios, token_changed_mid_run

# What the status contract promises a kstatus consumer (Flux wait/healthChecks) sees in each phase.
EXPECTED = {
    Phase.PENDING: KStatus.IN_PROGRESS,
    Phase.REQUESTING: KStatus.IN_PROGRESS,
    Phase.RETRYING: KStatus.IN_PROGRESS,
    Phase.IN_PROGRESS: KStatus.IN_PROGRESS,
    Phase.SUCCEEDED: KStatus.CURRENT,
    Phase.FAILED: KStatus.FAILED,
    Phase.UNKNOWN: KStatus.FAILED,
}
SCENARIOS = scenarios()


def test_every_phase_has_an_expectation_and_a_scenario() -> None:
    assert set(EXPECTED) == set(Phase)
    assert {s.phase for s in SCENARIOS} == set(Phase)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_builder_status_of_each_phase_reads_as_the_contract_says(scenario: Scenario) -> None:
    result = compute(scenario.obj)
    assert result.status is EXPECTED[scenario.phase], (result, scenario.obj["status"])
    if result.status is not KStatus.CURRENT:
        assert result.message == scenario.obj["status"]["message"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_conditions_of_each_phase_carry_the_generation(scenario: Scenario) -> None:
    obj = scenario.obj
    generation = obj["metadata"]["generation"]
    assert obj["status"]["observedGeneration"] == generation
    assert all(c["observedGeneration"] == generation for c in obj["status"]["conditions"])
    conditions = condition_status(obj)
    if scenario.phase.is_terminal:
        assert conditions["Reconciling"] == "False"
        assert conditions["Stalled"] == ("False" if scenario.phase is Phase.SUCCEEDED else "True")
    else:
        assert (conditions["Reconciling"], conditions["Stalled"], conditions["Ready"]) == ("True", "False", "False")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_new_generation_not_yet_observed_is_in_progress(scenario: Scenario) -> None:
    obj = copy.deepcopy(scenario.obj)
    obj["metadata"]["generation"] += 1  # the user changed spec.restartToken; the operator has not seen it yet
    result = compute(obj)
    assert result == KStatusResult(
        KStatus.IN_PROGRESS, "ResourceRestart generation is 2, but latest observed generation is 1",
        ("Reconciling", "LatestGenerationNotObserved"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_deletion_timestamp_is_terminating(scenario: Scenario) -> None:
    obj = copy.deepcopy(scenario.obj)
    obj["metadata"]["deletionTimestamp"] = "2026-11-30T12:05:00Z"
    obj["metadata"]["generation"] += 1  # deletion is checked before the generation
    assert compute(obj) == KStatusResult(KStatus.TERMINATING, "Resource scheduled for deletion")


def test_an_object_without_status_reads_current() -> None:
    # kstatus's documented blind spot, which docs/gitops.md explains: nothing says the object is not done yet.
    assert compute(new_object()) == KStatusResult(KStatus.CURRENT, "Resource is current")


def test_a_missing_object_is_not_found() -> None:
    assert compute(None).status is KStatus.NOT_FOUND


# ---- the generic rules themselves, on hand-written objects ------------------------------------------------------


def obj_with(conditions: list[dict[str, Any]] | None = None, *, generation: Any = 1, observed: Any = None,
             **status: Any) -> dict[str, Any]:
    obj = new_object()
    if generation is None:
        del obj["metadata"]["generation"]
    else:
        obj["metadata"]["generation"] = generation
    body: dict[str, Any] = dict(status)
    if observed is not None:
        body["observedGeneration"] = observed
    if conditions is not None:
        body["conditions"] = conditions
    obj["status"] = body
    return obj


def cond(type_: str, status: str, reason: str = "R", message: str = "m") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([cond("Reconciling", "True", message="working")], KStatusResult(KStatus.IN_PROGRESS, "working",
                                                                          ("Reconciling", "R"))),
        ([cond("Stalled", "True", message="stuck")], KStatusResult(KStatus.FAILED, "stuck", ("Stalled", "R"))),
        # Both true: the first one in list order decides, as kstatus loops once over the list.
        ([cond("Stalled", "True", message="a"), cond("Reconciling", "True", message="b")],
         KStatusResult(KStatus.FAILED, "a", ("Stalled", "R"))),
        ([cond("Reconciling", "True", message="b"), cond("Stalled", "True", message="a")],
         KStatusResult(KStatus.IN_PROGRESS, "b", ("Reconciling", "R"))),
        # Stalled/Reconciling beat Ready wherever they are in the list.
        ([cond("Ready", "True"), cond("Stalled", "True", message="x")],
         KStatusResult(KStatus.FAILED, "x", ("Stalled", "R"))),
        ([cond("Ready", "True")], KStatusResult(KStatus.CURRENT, "Resource is Ready")),
        ([cond("Ready", "False", "Waiting", "not yet")], KStatusResult(KStatus.IN_PROGRESS, "not yet",
                                                                       ("Reconciling", "Waiting"))),
        ([cond("Ready", "Unknown", "Hm", "?")], KStatusResult(KStatus.IN_PROGRESS, "?", ("Reconciling", "Hm"))),
        # A Ready status outside True/False/Unknown is skipped; the next Ready condition counts.
        ([cond("Ready", "maybe"), cond("Ready", "True")], KStatusResult(KStatus.CURRENT, "Resource is Ready")),
        ([cond("Ready", "maybe")], KStatusResult(KStatus.CURRENT, "Resource is current")),
        # False Reconciling/Stalled and unrelated conditions mean nothing; Succeeded is not a kstatus condition.
        ([cond("Reconciling", "False"), cond("Stalled", "False"), cond("Succeeded", "False")],
         KStatusResult(KStatus.CURRENT, "Resource is current")),
        ([cond("Stalled", "true")], KStatusResult(KStatus.CURRENT, "Resource is current")),  # case-sensitive
        ([], KStatusResult(KStatus.CURRENT, "Resource is current")),
    ],
)
def test_condition_rules(conditions: list[dict[str, Any]], expected: KStatusResult) -> None:
    assert compute(obj_with(conditions, observed=1)) == expected


def test_observed_generation_is_checked_only_when_both_are_present() -> None:
    ready = [cond("Ready", "True")]
    assert compute(obj_with(ready, observed=None)).status is KStatus.CURRENT  # absent: check skipped
    assert compute(obj_with(ready, generation=None, observed=5)).status is KStatus.CURRENT  # no generation
    assert compute(obj_with(ready, generation=3, observed=2)).status is KStatus.IN_PROGRESS
    assert compute(obj_with(ready, generation=3, observed=4)).status is KStatus.IN_PROGRESS  # any difference


def test_an_empty_deletion_timestamp_is_ignored() -> None:
    obj = obj_with([cond("Ready", "True")])
    obj["metadata"]["deletionTimestamp"] = ""
    assert compute(obj).status is KStatus.CURRENT


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["metadata"].update(generation="1"),
        lambda o: o["metadata"].update(generation=True),
        lambda o: o["status"].update(observedGeneration=1.5),
        lambda o: o["metadata"].update(deletionTimestamp=5),
        lambda o: o.update(status="Succeeded"),
        lambda o: o["status"].update(conditions={"type": "Ready"}),
        lambda o: o["status"].update(conditions=["Ready"]),
        lambda o: o["status"]["conditions"][0].update(status=True),
    ],
    ids=["generation-string", "generation-bool", "observed-float", "deletion-number", "status-string",
         "conditions-map", "condition-string", "condition-status-bool"],
)
def test_fields_kstatus_cannot_read_give_unknown(mutate: Any) -> None:
    obj = obj_with([cond("Ready", "True")], observed=1)
    mutate(obj)
    assert compute(obj).status is KStatus.UNKNOWN


def test_a_token_changed_during_a_run_is_not_current_before_its_own_run() -> None:
    """Otherwise Flux would pass its health check, and `kubectl wait --for=condition=Succeeded` return, for a token
    that has not run yet."""
    obj = token_changed_mid_run()
    assert obj["status"]["lastHandledToken"] == "t1" and obj["spec"]["restartToken"] == "t2"
    result = compute(obj)
    assert result.status is KStatus.IN_PROGRESS
    assert result.condition == ("Reconciling", "LatestGenerationNotObserved")
