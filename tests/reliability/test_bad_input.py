"""Bad input: malformed ResourceRestarts are refused by the API server with a message naming the field; malformed
connection Secrets end in a clear terminal status naming the Secret and the key; nothing is sent to ECE for either;
and the operator keeps serving: a good CR created after the whole table still succeeds."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from ece_restart.simulator import Simulator, SimulatorState
from tests.support.kube_http import spec
from tests.support.stack import API_KEY, Stack, operator_stack

DEP = "0123456789abcdef0123456789abcdef"
GOOD = {"deploymentId": DEP, "resourceKind": "kibana", "refId": "main-kibana"}


def with_(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# (case id, spec, text that must appear in the 422 message: the field)
SCHEMA_CASES: list[tuple[str, Any, str]] = [
    ("no-deployment-id", with_(deploymentId=None), "spec.deploymentId"),
    ("no-resource-kind", with_(resourceKind=None), "spec.resourceKind"),
    ("no-ref-id", with_(refId=None), "spec.refId"),
    ("deployment-id-number", with_(deploymentId=1234), "spec.deploymentId"),
    ("deployment-id-upper-hex", with_(deploymentId=DEP.upper()), "spec.deploymentId"),
    ("deployment-id-short", with_(deploymentId="abc"), "spec.deploymentId"),
    ("deployment-id-traversal", with_(deploymentId="../../../../etc/passwd"), "spec.deploymentId"),
    ("kind-unknown", with_(resourceKind="logstash"), "spec.resourceKind"),
    ("kind-wrong-case", with_(resourceKind="Kibana"), "spec.resourceKind"),
    ("ref-id-traversal", with_(refId="../main-kibana"), "spec.refId"),
    ("ref-id-slash", with_(refId="main/kibana"), "spec.refId"),
    ("ref-id-encoded-slash", with_(refId="main%2Fkibana"), "spec.refId"),
    ("ref-id-unicode", with_(refId="main-kibanä"), "spec.refId"),
    ("ref-id-emoji", with_(refId="🔥"), "spec.refId"),
    ("ref-id-empty", with_(refId=""), "spec.refId"),
    ("ref-id-oversized", with_(refId="a" * 65), "spec.refId"),
    ("ref-id-huge", with_(refId="a" * 100_000), "spec.refId"),
    ("ref-id-newline", with_(refId="main\nkibana"), "spec.refId"),
    ("cancel-pending-string", with_(cancelPending="yes"), "spec.cancelPending"),
    ("retry-not-object", with_(retry="fast"), "spec.retry"),
    ("retry-zero-attempts", with_(retry={"maxAttempts": 0}), "spec.retry.maxAttempts"),
    ("retry-too-many-attempts", with_(retry={"maxAttempts": 21}), "spec.retry.maxAttempts"),
    ("retry-float-attempts", with_(retry={"maxAttempts": 2.5}), "spec.retry.maxAttempts"),
    ("retry-negative-delay", with_(retry={"initialDelaySeconds": -1}), "spec.retry.initialDelaySeconds"),
    ("retry-initial-above-max", with_(retry={"initialDelaySeconds": 30, "maxDelaySeconds": 10}), "spec.retry"),
    ("es-options-on-kibana", with_(elasticsearch={"skipSnapshot": True}), "elasticsearch"),
    ("es-group-attribute-spaces", with_(resourceKind="elasticsearch", refId="main-elasticsearch",
                                        elasticsearch={"groupAttribute": "__zone__; rm -rf"}),
     "spec.elasticsearch.groupAttribute"),
    ("es-shard-wait-negative", with_(resourceKind="elasticsearch", refId="main-elasticsearch",
                                     elasticsearch={"shardInitWaitTimeSeconds": -5}),
     "spec.elasticsearch.shardInitWaitTimeSeconds"),
    ("connection-without-secret-ref", with_(connection={}), "spec.connection.secretRef"),
    ("secret-name-invalid", with_(connection={"secretRef": {"name": "../Secret"}}), "spec.connection.secretRef.name"),
    ("completion-timeout-too-small", with_(waitForCompletion=True, completionTimeoutSeconds=1),
     "spec.completionTimeoutSeconds"),
    ("ttl-negative", with_(ttlSecondsAfterFinished=-1), "spec.ttlSecondsAfterFinished"),
    ("spec-not-object", "restart please", "spec"),
]

# (case id, Secret data as bytes, text the terminal message must contain besides the Secret's name)
SECRET_CASES: list[tuple[str, dict[str, bytes], str]] = [
    ("no-url", {"apiKey": b"k"}, "no key 'url'"),
    ("empty-url", {"url": b"  ", "apiKey": b"k"}, "key 'url' is empty"),
    ("empty-api-key", {"url": b"https://ece.invalid", "apiKey": b"  "}, "key 'apiKey' is empty"),
    ("ftp-scheme", {"url": b"ftp://ece.invalid/", "apiKey": b"k"}, "scheme 'ftp' is not supported"),
    ("file-scheme", {"url": b"file:///etc/passwd", "apiKey": b"k"}, "scheme 'file' is not supported"),
    ("no-scheme", {"url": b"ece.invalid:12443", "apiKey": b"k"}, "is not supported"),
    ("no-host", {"url": b"https://", "apiKey": b"k"}, "has no host"),
    ("credentials-in-url", {"url": b"https://admin:pw@ece.invalid", "apiKey": b"k"}, "must not carry credentials"),
    ("query-in-url", {"url": b"https://ece.invalid/?x=1", "apiKey": b"k"}, "must not have a query"),
    ("bad-port", {"url": b"https://ece.invalid:99999", "apiKey": b"k"}, "invalid port"),
    ("plain-http-remote", {"url": b"http://ece.invalid:12400", "apiKey": b"k"}, "plain http"),
    ("ca-not-a-certificate", {"url": b"https://ece.invalid", "apiKey": b"k", "ca.crt": b"-----BEGIN CERTIFICATE-----\n"
                              b"bm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"}, "not a PEM certificate"),
    ("ca-garbage", {"url": b"https://ece.invalid", "apiKey": b"k", "ca.crt": b"hello"}, "not a PEM certificate"),
    ("username-without-password", {"url": b"https://ece.invalid", "username": b"admin"},
     "username and password must be given together"),
    ("password-without-username", {"url": b"https://ece.invalid", "password": b"pw"},
     "username and password must be given together"),
    ("api-key-and-username", {"url": b"https://ece.invalid", "apiKey": b"k", "username": b"u", "password": b"p"},
     "not both"),
    ("no-credentials", {"url": b"https://ece.invalid"}, "no credentials"),
    ("api-key-not-utf8", {"url": b"https://ece.invalid", "apiKey": b"\xff\xfe\xfd"}, "key 'apiKey' is not UTF-8"),
    ("url-not-utf8", {"url": b"https://\xc3\x28.invalid", "apiKey": b"k"}, "key 'url' is not UTF-8"),
    ("insecure-flag-not-boolean", {"url": b"https://ece.invalid", "apiKey": b"k", "insecureSkipVerify": b"maybe"},
     "insecureSkipVerify"),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    simulator = Simulator(state=SimulatorState(), api_keys={API_KEY}, plan_seconds=0.0)
    simulator.state.add_deployment(DEP, "bad-input", resources=[
        {"kind": "kibana", "ref_id": "main-kibana"}, {"kind": "elasticsearch", "ref_id": "main-elasticsearch"}])
    with operator_stack(tmp_path_factory.mktemp("bad"), simulator=simulator) as built:
        yield built


@pytest.fixture(scope="module")
def namespace(stack: Stack) -> str:
    return stack.new_namespace()


def test_the_table_has_at_least_30_cases() -> None:
    assert len(SCHEMA_CASES) + len(SECRET_CASES) >= 30


@pytest.mark.parametrize(("case", "body", "field"), SCHEMA_CASES, ids=[c[0] for c in SCHEMA_CASES])
def test_schema_violations_are_refused_naming_the_field(stack: Stack, namespace: str, case: str, body: Any,
                                                        field: str) -> None:
    response = stack.kube.http.post(f"/apis/eceops.io/v1alpha1/namespaces/{namespace}/resourcerestarts", json={
        "apiVersion": "eceops.io/v1alpha1", "kind": "ResourceRestart", "metadata": {"name": f"bad-{case}"},
        "spec": body})
    assert response.status_code == 422, response.text[:500]
    message = response.json()["message"]
    assert field in message, message[:500]
    assert stack.kube.get_restart(namespace, f"bad-{case}") is None


@pytest.mark.parametrize(("case", "data", "expected"), SECRET_CASES, ids=[c[0] for c in SECRET_CASES])
def test_bad_secrets_end_failed_naming_the_secret_and_key(stack: Stack, namespace: str, case: str,
                                                          data: dict[str, bytes], expected: str) -> None:
    name = f"secret-{case}"
    response = stack.kube.http.post(f"/api/v1/namespaces/{namespace}/secrets", json={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque",
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()}})
    assert response.status_code == 201, response.text
    before = len([c for c in stack.simulator.calls if c.route == "restart"])
    obj = stack.run(namespace, f"rr-{case}", spec(DEP, connection={"secretRef": {"name": name}}))
    status = obj["status"]
    assert (status["phase"], status["outcome"]) == ("Failed", "InvalidConnection"), status
    assert f"Secret {namespace}/{name}" in status["message"] and expected in status["message"], status["message"]
    assert len([c for c in stack.simulator.calls if c.route == "restart"]) == before  # nothing was sent


def test_missing_secret_names_it(stack: Stack, namespace: str) -> None:
    status = stack.run(namespace, "rr-missing", spec(DEP, connection={"secretRef": {"name": "absent"}}))["status"]
    assert (status["phase"], status["outcome"]) == ("Failed", "InvalidConnection")
    assert f"Secret {namespace}/absent not found" in status["message"]


def test_unknown_fields_are_pruned_and_the_cr_runs(stack: Stack, namespace: str) -> None:
    body = {**GOOD, "bogus": {"nested": True}, "refID": "typo"}
    obj = stack.run(namespace, "rr-pruned", body)
    assert "bogus" not in obj["spec"] and "refID" not in obj["spec"]
    assert (obj["status"]["phase"], obj["status"]["outcome"]) == ("Succeeded", "RestartAccepted")


def test_the_operator_keeps_serving_after_the_table(stack: Stack, namespace: str) -> None:
    stack.simulator.state.add_deployment("fedcba9876543210fedcba9876543210", "after", resources=[
        {"kind": "kibana", "ref_id": "main-kibana"}])
    obj = stack.run(namespace, "rr-good", spec("fedcba9876543210fedcba9876543210"))
    assert (obj["status"]["phase"], obj["status"]["outcome"], obj["status"]["httpStatus"]) == (
        "Succeeded", "RestartAccepted", 202)
    assert stack.simulator.accepted_restarts("fedcba9876543210fedcba9876543210") == 1
    assert stack.operator.process is not None and stack.operator.process.poll() is None  # never crashed
    assert "Traceback" not in stack.operator.log()
