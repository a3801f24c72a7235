"""The CRD's openAPIV3Schema on create and update: pruning, defaults, apiserver-shaped 422s with field paths."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.sandbox_fixtures import MERGE, RR_PATH, resource_restart

RR = RR_PATH.format(namespace="default")


async def test_defaults_are_applied_including_nested_ones(kube: httpx.AsyncClient) -> None:
    spec = (await kube.post(RR, json=resource_restart("d"))).json()["spec"]
    assert spec["cancelPending"] is False
    assert spec["retry"] == {"maxAttempts": 5, "initialDelaySeconds": 2, "maxDelaySeconds": 60}
    partial = (await kube.post(RR, json=resource_restart("e", retry={"maxAttempts": 3}))).json()["spec"]["retry"]
    assert partial == {"maxAttempts": 3, "initialDelaySeconds": 2, "maxDelaySeconds": 60}


async def test_unknown_fields_are_pruned_with_a_warning(kube: httpx.AsyncClient) -> None:
    body = resource_restart("p", strategyy="typo")
    body["status"] = {"whatever": 1}
    response = await kube.post(RR, json=body)
    assert response.status_code == 201 and "strategyy" not in response.json()["spec"]
    assert 'unknown field \\"spec.strategyy\\"' in response.headers["Warning"]
    status = await kube.patch(f"{RR}/p/status", json={"status": {"phase": "Pending", "bogus": 1}}, headers=MERGE)
    assert status.json()["status"] == {"phase": "Pending"}


async def test_strict_field_validation_refuses_unknown_fields(kube: httpx.AsyncClient) -> None:
    response = await kube.post(RR, json=resource_restart("s", strategyy="typo"), params={"fieldValidation": "Strict"})
    assert response.status_code == 400
    assert response.json()["message"] == 'strict decoding error: unknown field "spec.strategyy"'


INVALID: list[tuple[dict[str, Any], str, str, str]] = [
    ({"deploymentId": "XYZ"}, "spec.deploymentId", "FieldValueInvalid", "should match '^[0-9a-f]{32}$'"),
    ({"resourceKind": "pods"}, "spec.resourceKind", "FieldValueNotSupported", 'supported values: "kibana"'),
    ({"refId": None}, "spec.refId", "FieldValueRequired", "Required value"),
    ({"refId": ""}, "spec.refId", "FieldValueInvalid", "should be at least 1 chars long"),
    ({"refId": "x" * 65}, "spec.refId", "FieldValueTooLong", "may not be more than 64"),
    ({"retry": {"maxAttempts": 0}}, "spec.retry.maxAttempts", "FieldValueInvalid", "greater than or equal to 1"),
    ({"retry": {"maxAttempts": 21}}, "spec.retry.maxAttempts", "FieldValueInvalid", "less than or equal to 20"),
    ({"retry": {"maxAttempts": "3"}}, "spec.retry.maxAttempts", "FieldValueTypeInvalid", "must be of type integer"),
    ({"cancelPending": "yes"}, "spec.cancelPending", "FieldValueTypeInvalid", "must be of type boolean"),
    ({"connection": {}}, "spec.connection.secretRef", "FieldValueRequired", "Required value"),
    ({"connection": {"secretRef": {"name": "Bad_Name"}}}, "spec.connection.secretRef.name", "FieldValueInvalid",
     "should match"),
]


@pytest.mark.parametrize(("spec", "field", "reason", "text"), INVALID)
async def test_invalid_specs_are_422_with_field_paths(
    kube: httpx.AsyncClient, spec: dict[str, Any], field: str, reason: str, text: str
) -> None:
    response = await kube.post(RR, json=resource_restart("bad", **spec))
    assert response.status_code == 422
    status = response.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid"
    assert status["details"]["kind"] == "ResourceRestart" and status["details"]["group"] == "eceops.io"
    causes = [(cause["field"], cause["reason"]) for cause in status["details"]["causes"]]
    assert (field, reason) in causes
    assert text in status["message"] and status["message"].startswith('ResourceRestart.eceops.io "bad" is invalid: ')


async def test_missing_spec_is_required(kube: httpx.AsyncClient) -> None:
    body = resource_restart("nospec")
    del body["spec"]
    response = await kube.post(RR, json=body)
    assert response.status_code == 422 and response.json()["details"]["causes"][0]["field"] == "spec"


async def test_status_is_validated_too(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("st"))
    bad = await kube.patch(f"{RR}/st/status", json={"status": {"phase": "Done"}}, headers=MERGE)
    assert bad.status_code == 422 and bad.json()["details"]["causes"][0]["field"] == "status.phase"
    timestamp = await kube.patch(f"{RR}/st/status", json={"status": {"startTime": "yesterday"}}, headers=MERGE)
    assert timestamp.status_code == 422 and "date-time" in timestamp.text


async def test_condition_list_map_keys_must_be_unique(kube: httpx.AsyncClient) -> None:
    await kube.post(RR, json=resource_restart("c"))
    condition = {"type": "Ready", "status": "True", "reason": "Done", "message": "",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}
    duplicate = {"status": {"conditions": [condition, dict(condition, status="False")]}}
    response = await kube.patch(f"{RR}/c/status", json=duplicate, headers=MERGE)
    assert response.status_code == 422
    cause = response.json()["details"]["causes"][0]
    assert cause == {"reason": "FieldValueDuplicate", "message": 'Duplicate value: {"type":"Ready"}',
                     "field": "status.conditions[1]"}
    missing = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    response = await kube.patch(f"{RR}/c/status", json=missing, headers=MERGE)
    fields = {cause["field"] for cause in response.json()["details"]["causes"]}
    assert {"status.conditions[0].reason", "status.conditions[0].lastTransitionTime"} <= fields


async def test_bad_names_are_invalid(kube: httpx.AsyncClient) -> None:
    response = await kube.post(RR, json=resource_restart("Not_A_Name"))
    assert response.status_code == 422 and response.json()["details"]["causes"][0]["field"] == "metadata.name"
    nameless = resource_restart("x")
    nameless["metadata"] = {}
    assert (await kube.post(RR, json=nameless)).status_code == 422
