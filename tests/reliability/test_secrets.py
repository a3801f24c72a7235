"""Secrets: a canary API key and a canary password, given through Secrets and through the operator's environment,
never show in the operator's logs (debug level, text and JSON), in Events, in any status, in exception text, or in
any object the API server stores other than the Secrets themselves. Driven through a success, a 401 and a
connection failure with each credential."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ece_restart.simulator import Simulator, SimulatorState
from tests.support.kube_http import spec
from tests.support.stack import operator_stack

CANARY_KEY = "CANARYKEY-6c1f0b9e4d7a2e58"
CANARY_PASSWORD = "CANARYPASSWORD-93b7e0d1a4c6f2"
CANARY_WRONG_KEY = "CANARYWRONGKEY-1e5d8c3b7a90"  # sent, refused with 401
CANARY_WRONG_PASSWORD = "CANARYWRONGPW-5a2f7c9d0e1b"
USER = "canary-user"
CLOSED_PORT_URL = "http://127.0.0.1:9"


def forms(secret: str, user: str | None = None) -> list[str]:
    """The ways a credential can leak: verbatim, base64 (Secret data, a Basic header), in an Authorization value."""
    found = [secret, base64.b64encode(secret.encode()).decode(), f"ApiKey {secret}"]
    if user is not None:
        found.append(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return found


CANARIES = [*forms(CANARY_KEY), *forms(CANARY_WRONG_KEY), *forms(CANARY_PASSWORD, USER),
            *forms(CANARY_WRONG_PASSWORD, USER)]


def leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


@pytest.mark.parametrize(("log_format", "env_credentials"), [
    ("text", {"ECE_API_KEY": CANARY_KEY}),
    ("json", {"ECE_USERNAME": USER, "ECE_PASSWORD": CANARY_PASSWORD}),
])
def test_canary_credentials_never_leak(tmp_path: Path, log_format: str, env_credentials: dict[str, str]) -> None:
    simulator = Simulator(state=SimulatorState(), api_keys={CANARY_KEY}, users={USER: CANARY_PASSWORD},
                          plan_seconds=0.0)
    with operator_stack(tmp_path, simulator=simulator, start=False,
                           operator_args=("--all-namespaces", "--log-format", log_format)) as stack:
        stack.operator.extra_env = {"ECE_URL": stack.ece_url, **env_credentials}
        stack.operator.start()
        stack.wait_watching()
        ns = stack.new_namespace()
        secrets = {
            "key-ok": {"url": stack.ece_url, "apiKey": CANARY_KEY},
            "basic-ok": {"url": stack.ece_url, "username": USER, "password": CANARY_PASSWORD},
            "key-401": {"url": stack.ece_url, "apiKey": CANARY_WRONG_KEY},
            "basic-401": {"url": stack.ece_url, "username": USER, "password": CANARY_WRONG_PASSWORD},
            "key-down": {"url": CLOSED_PORT_URL, "apiKey": CANARY_KEY},
            "basic-down": {"url": CLOSED_PORT_URL, "username": USER, "password": CANARY_PASSWORD},
            "key-bad-ca": {"url": stack.ece_url, "apiKey": CANARY_KEY, "ca.crt": "not a certificate"},
        }
        for name, data in secrets.items():
            stack.kube.create_secret(ns, name, data)
        fast = {"maxAttempts": 2, "initialDelaySeconds": 0, "maxDelaySeconds": 1}
        expected = {"default": "RestartAccepted", "key-ok": "RestartAccepted", "basic-ok": "RestartAccepted",
                    "key-401": "Unauthorized", "basic-401": "Unauthorized", "key-down": "ConnectionFailed",
                    "basic-down": "ConnectionFailed", "key-bad-ca": "InvalidConnection"}
        results: dict[str, dict[str, Any]] = {}
        for name, outcome in expected.items():
            body = spec(stack.new_deployment(), retry=fast)
            if name != "default":
                body["connection"] = {"secretRef": {"name": name}}
            results[name] = stack.run(ns, f"rr-{name}", body)
            assert results[name]["status"]["outcome"] == outcome, results[name]["status"]
        # A default-connection run that ECE refuses (401) and one that cannot connect, with the env credentials.
        stack.operator.stop()
        stack.operator.extra_env = {"ECE_URL": CLOSED_PORT_URL, **env_credentials}
        stack.operator.start()
        stack.wait_watching()
        down = stack.run(ns, "rr-default-down", spec(stack.new_deployment(), retry=fast))
        assert down["status"]["outcome"] == "ConnectionFailed"
        stack.operator.stop()
        assert "DEBUG" in stack.operator.log() or '"level": "DEBUG"' in stack.operator.log()

        found: dict[str, list[str]] = {}
        log = stack.operator.log_path.read_text(errors="replace")
        found["operator log"] = leaks(log)
        found["events"] = leaks(json.dumps(stack.kube.list_events(ns)))
        found["statuses"] = leaks(json.dumps([obj.get("status") for obj in
                                              stack.sandbox.list("resourcerestarts", None, "eceops.io")]))
        stored = 0
        for resource_type in stack.sandbox.registry.all():
            if resource_type.plural == "secrets" or "list" not in resource_type.verbs:
                continue
            objects = stack.sandbox.list(resource_type.plural, None, resource_type.group)
            stored += len(objects)
            hits = leaks(json.dumps(objects))
            if hits:
                found[f"stored {resource_type.qualified}"] = hits
        found["simulator call log"] = leaks(repr(simulator.calls))
        found["api request log"] = leaks(repr(stack.sandbox.requests))
        assert stored > 0
        # The Secrets themselves do hold the canaries (the check would be empty otherwise).
        assert leaks(json.dumps(stack.sandbox.list("secrets", ns)))
    assert {where: hits for where, hits in found.items() if hits} == {}, found
