"""Every `x-kubernetes-validations` rule of the shipped CRD, both ways, plus the CEL machinery on its own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ece_restart.crd import load_crd
from ece_restart.sandbox.errors import ApiError
from ece_restart.sandbox.rules import RuleSet
from tests.support.sandbox_fixtures import MERGE, RR_PATH, resource_restart

RR = RR_PATH.format(namespace="default")
ES = {"resourceKind": "elasticsearch", "refId": "main-elasticsearch"}
IMMUTABLE_IDS = "deploymentId, resourceKind and refId are immutable; create a new ResourceRestart instead"
IMMUTABLE_OPTIONS = "cancelPending and retry are immutable; only restartToken may change"
IMMUTABLE_COMPLETION = "waitForCompletion and completionTimeoutSeconds are immutable; only restartToken may change"
IMMUTABLE_ES = "elasticsearch is immutable; only restartToken may change"
IMMUTABLE_CONNECTION = "connection is immutable; only restartToken may change"
ES_ONLY = "elasticsearch options are only allowed when resourceKind is elasticsearch"
DELAYS = "initialDelaySeconds must not exceed maxDelaySeconds"


def test_the_crd_has_exactly_the_rules_tested_here() -> None:
    schema = load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert RuleSet.compile(schema).count == 7  # a new rule needs a test below


async def _messages(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    return [(cause["field"], cause["message"]) for cause in response.json()["details"]["causes"]]


CREATE_CASES: list[tuple[dict[str, Any], str | None, str | None]] = [
    ({}, None, None),
    ({"elasticsearch": {"skipSnapshot": True}}, "spec", ES_ONLY),
    ({**ES, "elasticsearch": {"skipSnapshot": True}}, None, None),
    ({"retry": {"initialDelaySeconds": 100, "maxDelaySeconds": 10}}, "spec.retry", DELAYS),
    ({"retry": {"initialDelaySeconds": 10, "maxDelaySeconds": 10}}, None, None),
]


@pytest.mark.parametrize(("spec", "field", "message"), CREATE_CASES)
async def test_rules_on_create(
    kube: httpx.AsyncClient, spec: dict[str, Any], field: str | None, message: str | None
) -> None:
    response = await kube.post(RR, json=resource_restart("c", **spec))
    if message is None:
        assert response.status_code == 201, response.text
    else:
        assert (field, f'Invalid value: "object": {message}') in await _messages(response)


UPDATE_CASES: list[tuple[dict[str, Any], dict[str, Any], str | None]] = [
    ({}, {"restartToken": "again"}, None),
    ({}, {"deploymentId": "f" * 32}, IMMUTABLE_IDS),
    ({}, {"resourceKind": "apm"}, IMMUTABLE_IDS),
    ({}, {"refId": "other"}, IMMUTABLE_IDS),
    ({}, {"cancelPending": True}, IMMUTABLE_OPTIONS),
    ({}, {"retry": {"maxAttempts": 9}}, IMMUTABLE_OPTIONS),
    ({}, {"waitForCompletion": True}, IMMUTABLE_COMPLETION),
    ({}, {"completionTimeoutSeconds": 60}, IMMUTABLE_COMPLETION),
    ({"waitForCompletion": True, "completionTimeoutSeconds": 60}, {"restartToken": "1"}, None),
    (ES, {"elasticsearch": {"skipSnapshot": True}}, IMMUTABLE_ES),
    ({**ES, "elasticsearch": {"skipSnapshot": True}}, {"elasticsearch": {"skipSnapshot": False}}, IMMUTABLE_ES),
    ({**ES, "elasticsearch": {"skipSnapshot": True}}, {"elasticsearch": None}, IMMUTABLE_ES),
    ({**ES, "elasticsearch": {"skipSnapshot": True}}, {"restartToken": "1"}, None),
    ({}, {"connection": {"secretRef": {"name": "ece"}}}, IMMUTABLE_CONNECTION),
    ({"connection": {"secretRef": {"name": "ece"}}}, {"connection": {"secretRef": {"name": "other"}}},
     IMMUTABLE_CONNECTION),
    ({"connection": {"secretRef": {"name": "ece"}}}, {"connection": None}, IMMUTABLE_CONNECTION),
    ({"connection": {"secretRef": {"name": "ece"}}}, {"restartToken": "1"}, None),
]


@pytest.mark.parametrize(("initial", "change", "message"), UPDATE_CASES)
async def test_transition_rules_on_update(
    kube: httpx.AsyncClient, initial: dict[str, Any], change: dict[str, Any], message: str | None
) -> None:
    assert (await kube.post(RR, json=resource_restart("u", **initial))).status_code == 201
    response = await kube.patch(f"{RR}/u", json={"spec": change}, headers=MERGE)
    if message is None:
        assert response.status_code == 200, response.text
    else:
        assert ("spec", f'Invalid value: "object": {message}') in await _messages(response)


async def test_status_writes_do_not_trip_spec_transition_rules(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("s"))
    response = await kube.patch(f"{RR}/s/status", json={"status": {"phase": "Succeeded"}}, headers=MERGE)
    assert response.status_code == 200


def test_message_expression_field_path_reason_and_list_map_correlation() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
                    "x-kubernetes-validations": [
                        {"rule": "self.size >= oldSelf.size", "messageExpression": "'shrunk to ' + string(self.size)"},
                        {"rule": "self.size < 100", "fieldPath": ".size", "reason": "FieldValueForbidden",
                         "message": "too big"},
                    ],
                },
            }
        },
    }
    rules = RuleSet.compile(schema)
    old = {"items": [{"name": "a", "size": 5}, {"name": "b", "size": 5}]}
    new = {"items": [{"name": "b", "size": 4}, {"name": "a", "size": 500}, {"name": "c", "size": 1}]}
    causes = [(cause.field, cause.message, cause.reason) for cause in rules.check(new, old)]
    assert causes == [
        ("items[0]", 'Invalid value: "object": shrunk to 4', "FieldValueInvalid"),
        ("items[1].size", "Forbidden: too big", "FieldValueForbidden"),
    ]
    assert rules.check(new, None) == [rules.check(new, old)[1]]  # no oldSelf on create


def test_remembered_outcomes_follow_the_values_not_the_call_order() -> None:
    """Outcomes are remembered per (self, oldSelf, path): a second check of the same values gives the same
    causes, and a changed value (or a changed old value) is evaluated afresh."""
    rules = RuleSet.compile(load_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    spec = {"deploymentId": "a" * 32, "resourceKind": "kibana", "refId": "main-kibana", "cancelPending": False,
            "retry": {"maxAttempts": 3, "initialDelaySeconds": 1, "maxDelaySeconds": 5}, "waitForCompletion": False,
            "completionTimeoutSeconds": 1800}
    moved = {**spec, "deploymentId": "b" * 32}
    for _ in range(2):
        assert rules.check({"spec": spec}, {"spec": spec}) == []
        assert [c.message for c in rules.check({"spec": moved}, {"spec": spec})] == [
            f'Invalid value: "object": {IMMUTABLE_IDS}']
        assert rules.check({"spec": moved}, {"spec": moved}) == []
        assert rules.check({"spec": moved}, None) == []


def test_rules_that_do_not_compile_refuse_the_crd() -> None:
    with pytest.raises(ApiError, match="compilation failed"):
        RuleSet.compile({"type": "object", "x-kubernetes-validations": [{"rule": "self.x ==", "message": "m"}]})
