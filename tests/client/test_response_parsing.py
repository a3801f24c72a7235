"""Any HTTP answer becomes a clean typed result: JSON errors, proxy HTML pages, garbage and hostile bodies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ece_restart.results import (
    Classification,
    Outcome,
    RequestFailed,
    accepted_from_response,
    classify_status,
    failure_from_response,
    parse_retry_after,
)


def reply(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


@pytest.mark.parametrize(
    ("status", "code", "outcome", "classification"),
    [
        (404, "deployments.deployment_not_found", Outcome.DEPLOYMENT_NOT_FOUND, Classification.PERMANENT),
        (404, "deployments.deployment_resource_not_found", Outcome.RESOURCE_NOT_FOUND, Classification.PERMANENT),
        (422, "deployments.deployment_resource_plan_change_error", Outcome.PLAN_CHANGE_CONFLICT,
         Classification.PERMANENT),
        (449, "root.unauthorized.rbac.elevated_permissions_required", Outcome.ELEVATED_PERMISSIONS_REQUIRED,
         Classification.PERMANENT),
        (401, "root.unauthenticated", Outcome.UNAUTHORIZED, Classification.PERMANENT),
        (403, "root.permission_denied", Outcome.FORBIDDEN, Classification.PERMANENT),
        (500, "deployments.deployment_resource_no_longer_exists", Outcome.RESOURCE_GONE, Classification.RETRYABLE),
        (429, "root.rate_limited", Outcome.RATE_LIMITED, Classification.RETRYABLE),
        (400, "root.invalid_query_params", Outcome.REQUEST_REJECTED, Classification.PERMANENT),
    ],
)
def test_ece_errors_map_to_outcome_and_classification(
    status: int, code: str, outcome: Outcome, classification: Classification
) -> None:
    result = failure_from_response(status, {"x-cloud-error-codes": code}, reply(code, "details here"))
    assert (result.http_status, result.error_code, result.outcome, result.classification) == (
        status, code, outcome, classification,
    )
    assert "details here" in result.message and str(status) in result.message


def test_proxy_html_page_gives_a_clean_retryable_result() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    result = failure_from_response(502, {"content-type": "text/html"}, page)
    assert result.classification is Classification.RETRYABLE
    assert result.error_codes == ()
    assert result.message.startswith("HTTP 502 Bad Gateway without an ECE error body")
    assert "<html>" not in result.message


def test_error_codes_come_from_header_and_body_once_each() -> None:
    body = json.dumps({"errors": [{"code": "a.b", "message": "m1"}, {"code": "c.d", "message": "m2"}]}).encode()
    result = failure_from_response(500, {"X-Cloud-Error-Codes": "a.b, e.f"}, body)
    assert result.error_codes == ("a.b", "e.f", "c.d")


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), ("0", 0.0), ("1.5", 1.5), ("-3", None),
                                                 ("soon", None), ("nan", None), ("inf", None), ("", None)])
def test_retry_after_accepts_only_sane_delta_seconds(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_accepted_keeps_warnings() -> None:
    body = json.dumps({"warnings": [{"code": "w.one", "message": "careful"}, {"message": "no code"}]}).encode()
    result = accepted_from_response(202, body)
    assert [(w.code, w.message) for w in result.warnings] == [("w.one", "careful")]
    assert accepted_from_response(202, b"{}").warnings == ()


@given(
    status=st.integers(min_value=100, max_value=999),
    headers=st.dictionaries(st.text(max_size=30), st.text(max_size=200), max_size=5),
    body=st.one_of(
        st.binary(max_size=500),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
            lambda children: st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    ),
)
def test_any_answer_parses_into_a_bounded_typed_failure(status: int, headers: dict[str, str], body: bytes) -> None:
    result = failure_from_response(status, headers, body)
    assert isinstance(result, RequestFailed)
    assert result.http_status == status
    assert result.classification is classify_status(status)
    assert isinstance(result.message, str) and 0 < len(result.message) <= 1024
    assert all(isinstance(code, str) and code for code in result.error_codes)
    assert result.retry_after is None or result.retry_after >= 0


@given(body=st.binary(max_size=300))
def test_accepted_never_fails_on_a_strange_body(body: bytes) -> None:
    assert accepted_from_response(202, body).http_status == 202
