"""Ids are validated before any request and every path segment is URL-encoded."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ece_restart.targets import (
    ElasticsearchRestartOptions,
    InvalidTargetError,
    ResourceKind,
    RestartTarget,
    restart_query,
)

DEPLOYMENT = "0123456789abcdef0123456789abcdef"
hex_ids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@given(deployment_id=st.text(max_size=40))
def test_only_32_lowercase_hex_deployment_ids_pass(deployment_id: str) -> None:
    valid = len(deployment_id) == 32 and all(c in "0123456789abcdef" for c in deployment_id)
    if valid:
        assert RestartTarget.of(deployment_id, "kibana", "main-kibana").deployment_id == deployment_id
    else:
        with pytest.raises(InvalidTargetError, match="32 lowercase hexadecimal"):
            RestartTarget.of(deployment_id, "kibana", "main-kibana")


@given(deployment_id=hex_ids, ref_id=st.text(min_size=1, max_size=80))
def test_an_accepted_ref_id_is_exactly_one_encoded_path_segment(deployment_id: str, ref_id: str) -> None:
    try:
        target = RestartTarget.of(deployment_id, ResourceKind.KIBANA, ref_id)
    except InvalidTargetError:
        assume(False)
        return
    segments = target.restart_path.split("/")
    assert segments[:4] == ["", "api", "v1", "deployments"]
    assert len(segments) == 8 and segments[-1] == "_restart"
    assert unquote(segments[6]) == ref_id
    assert not any(c in segments[6] for c in "?#/ ")


@pytest.mark.parametrize("ref_id", ["", ".", "..", "../x", "a/b", "a\\b", "x\x00", "line\nbreak", "a" * 257])
def test_path_changing_ref_ids_are_refused(ref_id: str) -> None:
    with pytest.raises(InvalidTargetError):
        RestartTarget.of(DEPLOYMENT, "kibana", ref_id)


def test_unknown_kind_names_the_allowed_ones() -> None:
    with pytest.raises(InvalidTargetError, match="kibana, apm, appsearch, enterprise_search"):
        RestartTarget.of(DEPLOYMENT, "logstash", "main")


def test_elasticsearch_options_become_query_parameters() -> None:
    target = RestartTarget.of(DEPLOYMENT, "elasticsearch", "main-elasticsearch")
    options = ElasticsearchRestartOptions(
        restore_snapshot=False, skip_snapshot=True, group_attribute="__name__", shard_init_wait_time=120
    )
    assert restart_query(target, cancel_pending=True, elasticsearch=options) == {
        "cancel_pending": "true",
        "restore_snapshot": "false",
        "skip_snapshot": "true",
        "group_attribute": "__name__",
        "shard_init_wait_time": "120",
    }
    assert target.restart_path == f"/api/v1/deployments/{DEPLOYMENT}/elasticsearch/main-elasticsearch/_restart"


def test_elasticsearch_options_are_refused_for_stateless_kinds() -> None:
    target = RestartTarget.of(DEPLOYMENT, "apm", "main-apm")
    with pytest.raises(InvalidTargetError, match="not allowed for kind apm"):
        restart_query(target, elasticsearch=ElasticsearchRestartOptions(skip_snapshot=True))


def test_stateless_restart_sends_cancel_pending_explicitly() -> None:
    target = RestartTarget.of(DEPLOYMENT, "integrations_server", "main-integrations_server")
    assert restart_query(target) == {"cancel_pending": "false"}
