"""values.schema.json matches values.yaml key for key, is closed at every level, and refuses bad values clearly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.chart.chartlib import CHART_DIR, chart, render_templates

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())

# Kubernetes types passed through verbatim (validated by kubernetes-validate on the rendered Deployment instead).
PASS_THROUGH = {"affinity", "extraEnv[].valueFrom"}


def walk_schema(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for key, sub in node.get("properties", {}).items():
        yield from walk_schema(sub, f"{path}.{key}" if path else key)
    if isinstance(node.get("items"), dict):
        yield from walk_schema(node["items"], f"{path}[]")


def test_schema_is_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_values_yaml_and_schema_have_the_same_keys() -> None:
    def compare(values: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
        problems = []
        properties = schema.get("properties", {})
        for key in values.keys() - properties.keys():
            problems.append(f"{path}{key} is in values.yaml but not in values.schema.json")
        for key in properties.keys() - values.keys():
            problems.append(f"{path}{key} is in values.schema.json but not in values.yaml")
        for key in values.keys() & properties.keys():
            if "properties" in properties[key]:
                assert isinstance(values[key], dict), f"{path}{key} must be a mapping in values.yaml"
                problems += compare(values[key], properties[key], f"{path}{key}.")
        return problems

    assert compare(VALUES, SCHEMA, "") == []


def test_every_object_in_the_schema_is_closed_or_an_explicit_map() -> None:
    open_objects = set()
    for path, node in walk_schema(SCHEMA):
        if node.get("type") != "object":
            continue
        if "properties" in node:
            assert node.get("additionalProperties") is False, f"{path or '<root>'} must set additionalProperties: false"
        elif node.get("additionalProperties") is True:
            open_objects.add(path)
        else:
            assert isinstance(node.get("additionalProperties"), dict), f"{path} must type its map values"
    assert open_objects == PASS_THROUGH


def test_values_yaml_defaults_are_valid() -> None:
    chart().validate_schema(VALUES)


# (values, the error message): the schema names the offending value by its path and says which rule it breaks.
BAD_VALUES = [
    ({"unknownKey": 1}, "at '': additional properties 'unknownKey' not allowed"),
    ({"image": {"digest": "sha256:abc"}}, "at '/image/digest': 'sha256:abc' does not match pattern"),
    ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent'"),
    ({"image": {"repository": "Upper/Case"}}, "at '/image/repository': 'Upper/Case' does not match pattern"),
    ({"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0': 'Team_A' does not match pattern"),
    ({"watchNamespaces": "team-a"}, "at '/watchNamespaces': got string, want array"),
    ({"clusterWide": "yes"}, "at '/clusterWide': got string, want boolean"),
    ({"rbac": {"connectionSecrets": {"names": ["UPPER"]}}},
     "at '/rbac/connectionSecrets/names/0': 'UPPER' does not match pattern"),
    ({"ece": {"url": "ftp://ece.example.com"}}, "at '/ece/url': 'ftp://ece.example.com' does not match pattern"),
    ({"ece": {"auth": {"type": "token"}}}, "at '/ece/auth/type': value must be one of 'apiKey', 'basic'"),
    ({"ece": {"auth": {"existingSecret": "Not_A_Name"}}},
     "at '/ece/auth/existingSecret': 'Not_A_Name' does not match pattern"),
    ({"ece": {"caBundle": {"secret": {"key": "a/b"}}}}, "at '/ece/caBundle/secret/key': 'a/b' does not match pattern"),
    ({"ece": {"insecureSkipVerify": "true"}}, "at '/ece/insecureSkipVerify': got string, want boolean"),
    ({"maxConcurrent": 0}, "at '/maxConcurrent': minimum: got 0, want 1"),
    ({"maxConcurrent": "4"}, "at '/maxConcurrent': got string, want integer"),
    ({"logLevel": "verbose"}, "at '/logLevel': value must be one of 'debug', 'info', 'warning', 'error'"),
    ({"logFormat": "xml"}, "at '/logFormat': value must be one of 'json', 'text'"),
    ({"healthPort": 70000}, "at '/healthPort': maximum: got 70,000, want 65,535"),
    ({"metrics": {"port": 0}}, "at '/metrics/port': minimum: got 0, want 1"),
    ({"metrics": {"serviceMonitor": {"interval": "30 seconds"}}},
     "at '/metrics/serviceMonitor/interval': '30 seconds' does not match pattern"),
    ({"networkPolicy": {"apiServerCIDRs": ["10.0.0.1"]}},
     "at '/networkPolicy/apiServerCIDRs/0': '10.0.0.1' does not match pattern"),
    ({"networkPolicy": {"ecePorts": []}}, "at '/networkPolicy/ecePorts': minItems: got 0, want 1"),
    ({"extraEnv": [{"value": "no name"}]}, "at '/extraEnv/0': missing property 'name'"),
    ({"tolerations": [{"operator": "Maybe"}]}, "at '/tolerations/0/operator': value must be one of 'Exists', 'Equal'"),
    ({"nodeSelector": {"disk": 1}}, "at '/nodeSelector/disk': got number, want string"),
    ({"resources": {"limits": {"cpu": "lots", "memory": "1Gi"}}},
     "at '/resources/limits/cpu': 'lots' does not match pattern"),
    ({"securityContext": {"runAsUser": 0}}, "at '/securityContext/runAsUser': minimum: got 0, want 1"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m.split("'")[1] or "root" for _, m in BAD_VALUES])
def test_schema_rejects_bad_values_with_a_message_naming_the_value(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as error:
        chart().validate_schema(values)
    assert message in str(error.value)
    # `helm install/upgrade/template` run the same validation before rendering anything.
    with pytest.raises(helm.HelmValuesError) as error:
        render_templates(values)
    assert message in str(error.value)


# Combinations the schema cannot express fail the rendering with a message that says what to change.
BAD_COMBINATIONS = [
    ({"image": {"tag": "latest"}}, "image.tag=latest is refused: pin a release version"),
    ({"clusterWide": True, "watchNamespaces": ["a"]}, "clusterWide=true and watchNamespaces are mutually exclusive"),
    ({"ece": {"url": "https://ece.example.com"}}, "ece.url is set but ece.auth.existingSecret is empty"),
    ({"ece": {"auth": {"existingSecret": "creds"}}}, "ece.auth.existingSecret is set but ece.url is empty"),
    ({"ece": {"caBundle": {"secret": {"name": "a"}, "configMap": {"name": "b"}}}},
     "ece.caBundle.secret.name and ece.caBundle.configMap.name are mutually exclusive"),
    ({"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
     "metrics.serviceMonitor.enabled=true requires metrics.enabled=true"),
    ({"networkPolicy": {"enabled": True, "eceCIDRs": ["192.0.2.1/32"]}},
     "networkPolicy.enabled=true requires networkPolicy.apiServerCIDRs"),
    ({"networkPolicy": {"enabled": True, "apiServerCIDRs": ["10.0.0.1/32"]}},
     "networkPolicy.enabled=true requires networkPolicy.eceCIDRs"),
    ({"serviceAccount": {"create": False}}, "serviceAccount.create=false requires serviceAccount.name"),
]


@pytest.mark.parametrize(("values", "message"), BAD_COMBINATIONS, ids=[m.split(":")[0] for _, m in BAD_COMBINATIONS])
def test_inconsistent_values_fail_the_rendering_with_a_clear_message(values: dict[str, Any], message: str) -> None:
    chart().validate_schema(values)  # each value is fine on its own
    with pytest.raises(helm.HelmRenderError) as error:
        render_templates(values)
    assert message in str(error.value)
